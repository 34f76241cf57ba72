"""security: department certificates issued by the platform CA (S1)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificate",
        sa.Column("serial", sa.String(40), primary_key=True),
        sa.Column("department_id", sa.Integer, sa.ForeignKey("department.id"), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
        sa.Column("pem", sa.Text, nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("not_before", sa.DateTime, nullable=False),
        sa.Column("not_after", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("issued", sa.DateTime, nullable=False),
        sa.Column("revoked", sa.DateTime, nullable=True),
        sa.Column("revocation_reason", sa.String(32), nullable=False),
    )
    op.create_index("ix_certificate_department_id", "certificate", ["department_id"])


def downgrade() -> None:
    op.drop_index("ix_certificate_department_id", table_name="certificate")
    op.drop_table("certificate")
