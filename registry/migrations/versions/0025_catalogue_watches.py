"""catalogue watches (订阅目录变更): a person follows a resource's catalogue entry and is shown its changes
in the portal's 我的订阅 until they have seen them

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalogue_watch",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False),
        sa.Column("entry_id", sa.Integer(), sa.ForeignKey("catalogue_entry.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("seen_version", sa.Integer(), nullable=False, server_default="0"),
        sa.UniqueConstraint("user_id", "entry_id", name="uq_catalogue_watch"),
    )


def downgrade() -> None:
    op.drop_table("catalogue_watch")
