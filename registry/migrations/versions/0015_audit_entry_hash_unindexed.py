"""security: no index on audit_entry.entry_hash

Nothing looks an entry up by its hash (verification reads the chain in ``seq`` order, the
append guard finds the head by ``seq``), and a hash is random: its index took one random
b-tree page per entry, on SQLite one more page written to the WAL with every access recorded.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_audit_entry_entry_hash", table_name="audit_entry")


def downgrade() -> None:
    op.create_index("ix_audit_entry_entry_hash", "audit_entry", ["entry_hash"])
