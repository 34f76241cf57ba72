"""security: sharing governance (使用申请, grants, masking rules) and correction reports (纠错) (S3, S5)

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sharing_application",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("consumer_id", sa.Integer, sa.ForeignKey("department.id"), nullable=False),
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("catalogue_entry.id"), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("fields", sa.JSON, nullable=True),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("applicant", sa.String(64), nullable=False),
        sa.Column("submitted_at", sa.DateTime, nullable=False),
        sa.Column("deadline", sa.DateTime, nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("decided_at", sa.DateTime, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("ix_sharing_application_entry_status", "sharing_application", ["entry_id", "status"])
    op.create_index("ix_sharing_application_consumer", "sharing_application", ["consumer_id"])
    op.create_table(
        "sharing_grant",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("consumer_id", sa.Integer, sa.ForeignKey("department.id"), nullable=False),
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("catalogue_entry.id"), nullable=False),
        sa.Column("fields", sa.JSON, nullable=True),
        sa.Column("clear_fields", sa.JSON, nullable=False),
        sa.Column("valid_from", sa.DateTime, nullable=False),
        sa.Column("valid_to", sa.DateTime, nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("application_id", sa.Integer, sa.ForeignKey("sharing_application.id"), nullable=True),
        sa.Column("granted_by", sa.String(64), nullable=False),
        sa.Column("granted_at", sa.DateTime, nullable=False),
        sa.Column("revoked_at", sa.DateTime, nullable=True),
        sa.Column("revoked_by", sa.String(64), nullable=False),
        sa.Column("revoke_reason", sa.Text, nullable=False),
    )
    op.create_index("ix_sharing_grant_consumer_entry", "sharing_grant", ["consumer_id", "entry_id"])
    op.create_table(
        "masking_rule",
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("catalogue_entry.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("field", sa.String(100), primary_key=True),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("set_by", sa.String(64), nullable=False),
        sa.Column("set_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "correction_report",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("catalogue_entry.id"), nullable=False),
        sa.Column("reporter_id", sa.Integer, sa.ForeignKey("department.id"), nullable=False),
        sa.Column("reported_by", sa.String(64), nullable=False),
        sa.Column("record_key", sa.String(255), nullable=False),
        sa.Column("field", sa.String(100), nullable=False),
        sa.Column("problem", sa.Text, nullable=False),
        sa.Column("proposed_value", sa.Text, nullable=False),
        sa.Column("filed_at", sa.DateTime, nullable=False),
        sa.Column("deadline", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("answered_by", sa.String(64), nullable=False),
        sa.Column("answered_at", sa.DateTime, nullable=True),
        sa.Column("answer", sa.Text, nullable=False),
    )
    op.create_index("ix_correction_report_entry_status", "correction_report", ["entry_id", "status"])
    op.create_index("ix_correction_report_reporter", "correction_report", ["reporter_id"])


def downgrade() -> None:
    op.drop_index("ix_correction_report_reporter", table_name="correction_report")
    op.drop_index("ix_correction_report_entry_status", table_name="correction_report")
    op.drop_table("correction_report")
    op.drop_table("masking_rule")
    op.drop_index("ix_sharing_grant_consumer_entry", table_name="sharing_grant")
    op.drop_table("sharing_grant")
    op.drop_index("ix_sharing_application_consumer", table_name="sharing_application")
    op.drop_index("ix_sharing_application_entry_status", table_name="sharing_application")
    op.drop_table("sharing_application")
