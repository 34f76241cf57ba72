"""accounts: signing out of the portal ends the account's sessions on the server side

A portal session is a signed cookie; before this revision a cookie copied before sign-out stayed
valid until it idled out.  Sign-out now sets ``app_user.sessions_valid_from`` and the portal
refuses every session begun before it.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("sessions_valid_from", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("sessions_valid_from")
