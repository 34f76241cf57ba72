"""federation feeds (部门平台节点, 物理集中): for each of this platform's published resources whose records it
holds, the code the higher platform gave it and how far its records have been delivered there

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "federation_feed",
        sa.Column("resource_code", sa.String(64), primary_key=True),
        sa.Column("upper_code", sa.String(64), nullable=False),
        sa.Column("watermark", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("delivered", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("last_delivery", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_table("federation_feed")
