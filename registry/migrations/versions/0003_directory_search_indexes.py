"""directory search indexes: covering, and usable for LIKE 'prefix%' on PostgreSQL

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PATTERN = {"postgresql_ops": {"value": "varchar_pattern_ops"}}
FOLDED = {"postgresql_ops": {"folded": "varchar_pattern_ops"}}


def upgrade() -> None:
    op.drop_index("ix_uddi_name_kind_value", table_name="uddi_name")
    op.drop_index("ix_uddi_name_kind_folded", table_name="uddi_name")
    op.drop_index("ix_uddi_kr_lookup", table_name="uddi_keyed_reference")
    op.create_index("ix_uddi_name_kind_value", "uddi_name", ["kind", "value", "entity_key"], **PATTERN)
    op.create_index("ix_uddi_name_kind_folded", "uddi_name", ["kind", "folded", "entity_key"], **FOLDED)
    op.create_index("ix_uddi_kr_lookup", "uddi_keyed_reference",
                    ["kind", "bag", "tmodel_key", "key_value", "entity_key"])


def downgrade() -> None:
    op.drop_index("ix_uddi_kr_lookup", table_name="uddi_keyed_reference")
    op.drop_index("ix_uddi_name_kind_folded", table_name="uddi_name")
    op.drop_index("ix_uddi_name_kind_value", table_name="uddi_name")
    op.create_index("ix_uddi_kr_lookup", "uddi_keyed_reference", ["kind", "bag", "tmodel_key", "key_value"])
    op.create_index("ix_uddi_name_kind_folded", "uddi_name", ["kind", "folded"])
    op.create_index("ix_uddi_name_kind_value", "uddi_name", ["kind", "value"])
