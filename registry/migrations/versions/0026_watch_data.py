"""data changes in 我的订阅: a follower also learns of the batches of a resource's records received since
they last marked it read

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("catalogue_watch") as table:
        table.add_column(sa.Column("data_seen_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("catalogue_watch") as table:
        table.drop_column("data_seen_at")
