"""directory: the entity's sort name beside its index rows, and covering probe indexes

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("uddi_name", "uddi_keyed_reference"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("sort_name", sa.String(255), nullable=False, server_default=""))
        op.execute(f"UPDATE {table} SET sort_name = (SELECT e.sort_name FROM uddi_entity e "
                   f"WHERE e.key = {table}.entity_key)")
    op.drop_index("ix_uddi_kr_lookup", table_name="uddi_keyed_reference")
    op.drop_index("ix_uddi_kr_entity", table_name="uddi_keyed_reference")
    op.create_index("ix_uddi_kr_lookup", "uddi_keyed_reference",
                    ["kind", "bag", "tmodel_key", "key_value", "sort_name", "entity_key"])
    op.create_index("ix_uddi_kr_entity", "uddi_keyed_reference",
                    ["entity_key", "tmodel_key", "key_value", "bag", "kind"])


def downgrade() -> None:
    op.drop_index("ix_uddi_kr_entity", table_name="uddi_keyed_reference")
    op.drop_index("ix_uddi_kr_lookup", table_name="uddi_keyed_reference")
    op.create_index("ix_uddi_kr_entity", "uddi_keyed_reference", ["entity_key"])
    op.create_index("ix_uddi_kr_lookup", "uddi_keyed_reference",
                    ["kind", "bag", "tmodel_key", "key_value", "entity_key"])
    for table in ("uddi_name", "uddi_keyed_reference"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("sort_name")
