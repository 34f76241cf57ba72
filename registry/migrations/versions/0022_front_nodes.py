"""front-end nodes (前置交换节点): each node's last heartbeat - its outbox, its subscriptions'
watermarks, its adapters' last runs, its certificate - for the centre's list of nodes and its alerts

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "front_node",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("node_id", sa.String(36), nullable=False, unique=True),
        sa.Column("department_id", sa.Integer(), sa.ForeignKey("department.id"), nullable=False, index=True),
        sa.Column("system_code", sa.String(64), nullable=True),
        sa.Column("version", sa.String(32), nullable=False, server_default=""),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("reported_at", sa.DateTime(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("pending_batches", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("pending_records", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("refused_batches", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("oldest_pending", sa.DateTime(), nullable=True),
        sa.Column("last_receipt", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
        sa.Column("certificate_not_after", sa.DateTime(), nullable=True),
        sa.Column("subscriptions", sa.JSON(), nullable=False),
        sa.Column("adapters", sa.JSON(), nullable=False),
        sa.Column("backlog_since", sa.DateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("front_node")
