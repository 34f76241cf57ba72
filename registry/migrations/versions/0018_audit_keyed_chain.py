"""audit: a keyed chain after the last signed checkpoint

``audit_entry.entry_mac``: HMAC-SHA256 of the entry's hash under the platform's audit key,
which is kept outside the database, so a writer with database access alone can no longer
append or rewrite entries after the last signed checkpoint with a correct chain.  Entries
written before this revision keep a null ``entry_mac``: the first keyed entry after them (its
MAC covers their hashes through ``prev_hash``) or a signed checkpoint vouches for them.  A
column added, no table rewritten: the audit log can be large.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_entry", sa.Column("entry_mac", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_entry") as batch:
        batch.drop_column("entry_mac")
