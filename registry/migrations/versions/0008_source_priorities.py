"""core: source priorities and per-field provenance for comparison across sources (比对)

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_priority",
        sa.Column("base", sa.String(16), primary_key=True),
        sa.Column("source_id", sa.Integer, sa.ForeignKey("department.id"), primary_key=True),
        sa.Column("field", sa.String(100), primary_key=True),
        sa.Column("priority", sa.Integer, nullable=False),
    )
    with op.batch_alter_table("core_record") as batch:
        batch.add_column(sa.Column("field_sources", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("core_record") as batch:
        batch.drop_column("field_sources")
    op.drop_table("source_priority")
