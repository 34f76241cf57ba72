"""Operational monitoring (运行监测): one row per SOAP request - caller, system, resource, service and
operation, start and end (ms), bytes in and out, result, client address

Revision ID: 0030
Revises: 0029
"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("started_ms", sa.BigInteger(), nullable=False),
        sa.Column("ended_ms", sa.BigInteger(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("operation", sa.String(100), nullable=False),
        sa.Column("department_code", sa.String(32), nullable=True),
        sa.Column("user", sa.String(100), nullable=True),
        sa.Column("certificate_serial", sa.String(40), nullable=True),
        sa.Column("system_code", sa.String(64), nullable=True),
        sa.Column("resource_code", sa.String(64), nullable=True),
        sa.Column("request_bytes", sa.BigInteger(), nullable=False),
        sa.Column("response_bytes", sa.BigInteger(), nullable=False),
        sa.Column("result", sa.String(80), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
    )
    op.create_index("ix_request_log_started", "request_log", ["started_ms"])
    op.create_index("ix_request_log_service_started", "request_log", ["service", "started_ms"])
    op.create_index("ix_request_log_consumer_started", "request_log", ["department_code", "started_ms"])


def downgrade() -> None:
    op.drop_table("request_log")
