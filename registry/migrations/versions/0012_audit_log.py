"""security: the tamper-evident audit log (审计日志) and its signed checkpoints (S4)

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
        sa.Column("department_id", sa.Integer, nullable=True),
        sa.Column("department_code", sa.String(32), nullable=True),
        sa.Column("user", sa.String(100), nullable=True),
        sa.Column("certificate_serial", sa.String(40), nullable=True),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("resource_code", sa.String(64), nullable=True),
        sa.Column("query_digest", sa.String(64), nullable=True),
        sa.Column("purpose", sa.Text, nullable=True),
        sa.Column("result", sa.String(80), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("record_count", sa.Integer, nullable=False),
        sa.Column("request_digest", sa.String(64), nullable=True),
        sa.Column("response_digest", sa.String(64), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
    )
    for column in ("recorded_at", "department_code", "certificate_serial", "resource_code", "entry_hash"):
        op.create_index(f"ix_audit_entry_{column}", "audit_entry", [column])
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("certificate", sa.Text, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_checkpoint_seq", "audit_checkpoint", ["seq"])


def downgrade() -> None:
    op.drop_index("ix_audit_checkpoint_seq", table_name="audit_checkpoint")
    op.drop_table("audit_checkpoint")
    for column in ("recorded_at", "department_code", "certificate_serial", "resource_code", "entry_hash"):
        op.drop_index(f"ix_audit_entry_{column}", table_name="audit_entry")
    op.drop_table("audit_entry")
