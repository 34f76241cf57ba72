"""The audit entries of forwarded queries a 逻辑集中 provider did not answer, indexed alone (partial index):
the 告警 page and /metrics read them, not a week of the log

Revision ID: 0032
Revises: 0031
"""

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

UNAVAILABLE = sa.text(r"result = 'fault\:ProviderUnavailable'")  # (the colon escaped: not a parameter of text())


def upgrade() -> None:
    op.create_index("ix_audit_entry_provider_unavailable", "audit_entry", ["recorded_at"],
                    postgresql_where=UNAVAILABLE, sqlite_where=UNAVAILABLE)


def downgrade() -> None:
    op.drop_index("ix_audit_entry_provider_unavailable", table_name="audit_entry")
