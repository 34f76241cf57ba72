"""In-process background work's last passes (后台作业 on the embedded SQLite default): one row per task

Revision ID: 0031
Revises: 0030
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "background_pass",
        sa.Column("task", sa.String(128), primary_key=True),
        sa.Column("runner", sa.String(128), nullable=False),
        sa.Column("period_seconds", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started", sa.DateTime(), nullable=False),
        sa.Column("ended", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("failing_since", sa.DateTime(), nullable=True),
        sa.Column("succeeded", sa.DateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("background_pass")
