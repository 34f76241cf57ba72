"""directory: a generation counter bumped by every change to the UDDI tables

Revision ID: 0007
Revises: 0006

Inquiry answers depend only on the four UDDI tables, so a node may keep answers for as
long as this counter stays the same.  Triggers bump it, so every write path (the
publication API, the catalogue's publishing, bulk loads, a hand-written UPDATE) is seen,
in every process sharing the database.  PostgreSQL bumps it once per statement, SQLite
(row triggers only) once per row.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("uddi_entity", "uddi_name", "uddi_keyed_reference", "uddi_tmodel_instance")
BUMP = "UPDATE directory_generation SET value = value + 1 WHERE id = 1"


def upgrade() -> None:
    table = op.create_table(
        "directory_generation",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(table, [{"id": 1, "value": 0}])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE FUNCTION bump_directory_generation() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN {BUMP}; RETURN NULL; END $$")
        for name in TABLES:
            op.execute(f"CREATE TRIGGER {name}_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                       f"ON {name} FOR EACH STATEMENT EXECUTE FUNCTION bump_directory_generation()")
        return
    for name in TABLES:
        for event in ("INSERT", "UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {name}_generation_{event.lower()} AFTER {event} ON {name} "
                       f"FOR EACH ROW BEGIN {BUMP}; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in TABLES:
            op.execute(f"DROP TRIGGER {name}_generation ON {name}")
        op.execute("DROP FUNCTION bump_directory_generation()")
    else:
        for name in TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {name}_generation_{event}")
    op.drop_table("directory_generation")
