"""The audit entries of forwarded queries a 逻辑集中 provider did not answer, indexed alone (partial index):
the 告警 page and /metrics read them, not a week of the log

On PostgreSQL the index is built ``CONCURRENTLY``, outside the migration's transaction: a plain build
would hold a lock that stops every audit append - every request - for as long as it reads the log,
minutes on a large platform.  A concurrent build that fails leaves an invalid index behind; it is
dropped first, so running the upgrade again builds it anew.

Revision ID: 0032
Revises: 0031
"""

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

NAME = "ix_audit_entry_provider_unavailable"
UNAVAILABLE = sa.text(r"result = 'fault\:ProviderUnavailable'")  # (the colon escaped: not a parameter of text())


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")
            op.create_index(NAME, "audit_entry", ["recorded_at"], postgresql_where=UNAVAILABLE,
                            postgresql_concurrently=True)
    else:
        op.create_index(NAME, "audit_entry", ["recorded_at"], sqlite_where=UNAVAILABLE)


def downgrade() -> None:
    op.drop_index(NAME, table_name="audit_entry")
