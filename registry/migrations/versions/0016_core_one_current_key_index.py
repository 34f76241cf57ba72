"""core: one index for looking current versions up by key

``ix_core_current`` (base, record_key, effective_to) serves the lookup of a chunk's current
versions as well as ``ix_core_key_current`` (record_key, base, current versions only) did;
the second index dates from before the loader kept PostgreSQL's statistics up to date
(``exchange.core.keep_statistics``), and each random key it held was one more b-tree page
written per version stored: at a million records about a third of an adapter run's writes.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

CURRENT = sa.text("effective_to IS NULL")


def upgrade() -> None:
    op.drop_index("ix_core_key_current", table_name="core_record")


def downgrade() -> None:
    op.create_index("ix_core_key_current", "core_record", ["record_key", "base"], postgresql_where=CURRENT,
                    sqlite_where=CURRENT)
