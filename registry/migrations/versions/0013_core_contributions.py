"""core: which resource contributed which key, also when its record changed nothing

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "core_contribution",
        sa.Column("resource_code", sa.String(64), primary_key=True),
        sa.Column("record_key", sa.String(255), primary_key=True),
        sa.Column("base", sa.String(16), nullable=False),
        sa.Column("source_id", sa.Integer, sa.ForeignKey("department.id"), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("core_contribution")
