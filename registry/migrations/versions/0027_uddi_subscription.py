"""UDDI v3 subscriptions (5.5): the subscriptions, the notifications sent to their listeners, and the
deletion log that lets them report deleted entities

Revision ID: 0027
Revises: 0026
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "uddi_subscription",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False),
        sa.Column("filter_xml", sa.Text(), nullable=False),
        sa.Column("binding_key", sa.String(255), nullable=True),
        sa.Column("notification_seconds", sa.Integer(), nullable=True),
        sa.Column("max_entities", sa.Integer(), nullable=False),
        sa.Column("brief", sa.Boolean(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("expires", sa.DateTime(), nullable=False),
        sa.Column("notified_through", sa.DateTime(), nullable=True),
        sa.Column("next_notification", sa.DateTime(), nullable=True),
        sa.Column("failing", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_uddi_subscription_user_id", "uddi_subscription", ["user_id"])
    op.create_table(
        "uddi_deletion",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("parent_key", sa.String(255), nullable=True),
        sa.Column("deleted", sa.DateTime(), nullable=False),
        sa.Column("subscription_key", sa.String(255),
                  sa.ForeignKey("uddi_subscription.key", ondelete="CASCADE"), nullable=True),
    )
    op.create_index("ix_uddi_deletion_kind_deleted", "uddi_deletion", ["kind", "deleted"])
    op.create_index("ix_uddi_deletion_subscription", "uddi_deletion", ["subscription_key", "deleted"])
    op.create_table(
        "uddi_notification",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subscription_key", sa.String(255),
                  sa.ForeignKey("uddi_subscription.key", ondelete="CASCADE"), nullable=False),
        sa.Column("sent", sa.DateTime(), nullable=False),
        sa.Column("period_start", sa.DateTime(), nullable=False),
        sa.Column("period_end", sa.DateTime(), nullable=False),
        sa.Column("address", sa.String(4096), nullable=False),
        sa.Column("entities", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index("ix_uddi_notification_subscription", "uddi_notification", ["subscription_key", "sent"])


def downgrade() -> None:
    op.drop_table("uddi_notification")
    op.drop_table("uddi_deletion")
    op.drop_table("uddi_subscription")
