"""运行监测按日汇总: each ended China day's requests counted per service, operation, consumer, resource
and duration bin (``request_day``), and the days so summarised (``request_day_mark``)

Revision ID: 0034
Revises: 0033
"""

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_day",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("day_ms", sa.BigInteger(), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("operation", sa.String(100), nullable=False),
        sa.Column("department_code", sa.String(32), nullable=True),
        sa.Column("resource_code", sa.String(64), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("bytes_in", sa.BigInteger(), nullable=False),
        sa.Column("bytes_out", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_request_day_day", "request_day", ["day_ms"])
    op.create_index("ix_request_day_service_day", "request_day", ["service", "day_ms"])
    op.create_index("ix_request_day_consumer_day", "request_day", ["department_code", "day_ms"])
    op.create_table(
        "request_day_mark",
        sa.Column("day_ms", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("summarised_at", sa.DateTime(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("request_day_mark")
    op.drop_table("request_day")
