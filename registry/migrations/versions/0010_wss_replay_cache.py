"""security: the WS-Security replay cache shared by every server process (S2)

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wss_seen",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("certificate_serial", sa.String(40), nullable=False),
        sa.Column("received", sa.DateTime, nullable=False),
        sa.Column("expires", sa.DateTime, nullable=False),
    )
    op.create_index("ix_wss_seen_expires", "wss_seen", ["expires"])


def downgrade() -> None:
    op.drop_index("ix_wss_seen_expires", table_name="wss_seen")
    op.drop_table("wss_seen")
