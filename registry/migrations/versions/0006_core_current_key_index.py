"""core: a partial index of current versions led by the record key

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CURRENT = sa.text("effective_to IS NULL")


def upgrade() -> None:
    op.create_index("ix_core_key_current", "core_record", ["record_key", "base"], postgresql_where=CURRENT,
                    sqlite_where=CURRENT)


def downgrade() -> None:
    op.drop_index("ix_core_key_current", table_name="core_record")
