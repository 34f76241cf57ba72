"""The evidence log (消息日志): signed requests and signed answers as they travelled, linked to
their audit entries

Revision ID: 0028
Revises: 0027
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence_message",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("certificate_serial", sa.String(40), nullable=False),
        sa.Column("signer_subject", sa.String(500), nullable=False),
        sa.Column("compression", sa.String(8), nullable=False),
        sa.Column("request", sa.LargeBinary(), nullable=False),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=False),
        sa.Column("response_sha256", sa.String(64), nullable=False),
        sa.Column("archive", sa.String(200), nullable=True),
    )
    op.create_index("ix_evidence_message_audit_seq", "evidence_message", ["audit_seq"])


def downgrade() -> None:
    op.drop_index("ix_evidence_message_audit_seq", table_name="evidence_message")
    op.drop_table("evidence_message")
