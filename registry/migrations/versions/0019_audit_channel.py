"""audit: the channel an action came through (soap, portal, cli, node, federation, job)

An entry's hash covers its channel when it has one; entries written before this revision have
none, and their hashes stay as they were (``trust.audit.canonical`` leaves a null channel out).

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_entry") as batch:
        batch.add_column(sa.Column("channel", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_entry") as batch:
        batch.drop_column("channel")
