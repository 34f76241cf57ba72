"""federation (目录管理节点): catalogue entries that came from a lower platform keep the code, provider
and digest they have there; each lower platform's federation state (its pushes, its reconciliations)

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("catalogue_entry") as batch:
        batch.add_column(sa.Column("origin_code", sa.String(64), nullable=True))
        batch.add_column(sa.Column("origin_provider", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("origin_provider_code", sa.String(18), nullable=False, server_default=""))
        batch.add_column(sa.Column("origin_digest", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_catalogue_origin", ["provider_id", "origin_code"])
    op.create_table(
        "federation_node",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("department_id", sa.Integer(), sa.ForeignKey("department.id"), nullable=False, unique=True),
        sa.Column("first_contact", sa.DateTime(), nullable=False),
        sa.Column("last_contact", sa.DateTime(), nullable=False),
        sa.Column("last_push", sa.DateTime(), nullable=True),
        sa.Column("last_reconcile", sa.DateTime(), nullable=True),
        sa.Column("pushes", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("entries_received", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("federation_node")
    with op.batch_alter_table("catalogue_entry") as batch:
        batch.drop_constraint("uq_catalogue_origin", type_="unique")
        for column in ("origin_digest", "origin_provider_code", "origin_provider", "origin_code"):
            batch.drop_column(column)
