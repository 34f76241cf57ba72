"""quarantine: one open entry per source row and rule

Every run used to add a new open ``adapter_quarantine`` entry for each row it rejected, so a
row rejected by five runs had five open entries, and a replay of them all replayed it five
times.  Now an entry names its source row (``row_identity``: a digest of the row's key, or of
the row when it has no key) and the run that rejected it last (``seen_run``, ``seen``), a later
run refreshes the open entry of a row it rejects again, and a unique index keeps it one.

The open entries of one source row that databases hold today are merged into the newest,
which keeps its row and problem, takes the earliest run and time it was quarantined and,
when it has no correction of its own, the newest correction a person made to one of the
others.  The others stay, as history of their runs, closed as ``resolved`` with a note naming
the entry that carries on.

Revision ID: 0017
Revises: 0016
"""

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

OPEN = sa.text("status = 'open'")
quarantine = sa.table(
    "adapter_quarantine", sa.column("id", sa.Integer), sa.column("run_id", sa.Integer),
    sa.column("adapter", sa.String), sa.column("source_key", sa.String), sa.column("message", sa.Text),
    sa.column("row", sa.JSON), sa.column("correction", sa.JSON), sa.column("status", sa.String),
    sa.column("created", sa.DateTime), sa.column("row_identity", sa.String), sa.column("seen_run", sa.Integer),
    sa.column("seen", sa.DateTime))


def row_identity(source_key: str, row: dict) -> str:
    """As ``adapters.reading.row_identity`` computes it (kept here as it was written)."""
    text = f"key\0{source_key}" if source_key else "row\0" + json.dumps(row, sort_keys=True, ensure_ascii=False,
                                                                         default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("adapter_quarantine") as batch:
        batch.add_column(sa.Column("row_identity", sa.String(64), nullable=True))
        batch.add_column(sa.Column("seen_run", sa.Integer, nullable=True))
        batch.add_column(sa.Column("seen", sa.DateTime, nullable=True))
    connection = op.get_bind()
    c = quarantine.c
    entries = connection.execute(sa.select(c.id, c.run_id, c.adapter, c.source_key, c.status, c.created)
                                 .order_by(c.id)).all()
    open_rows: dict[tuple[str, str], list] = {}
    for entry in entries:
        row = {} if entry.source_key else connection.scalar(sa.select(c.row).where(c.id == entry.id))
        identity = row_identity(entry.source_key or "", row)
        connection.execute(quarantine.update().where(c.id == entry.id).values(
            row_identity=identity, seen_run=entry.run_id, seen=entry.created))
        if entry.status == "open":
            open_rows.setdefault((entry.adapter, identity), []).append(entry)
    for group in open_rows.values():
        if len(group) > 1:
            _merge(connection, group)
    with op.batch_alter_table("adapter_quarantine") as batch:
        for name in ("row_identity", "seen_run", "seen"):
            batch.alter_column(name, nullable=False)
        batch.create_index("ix_adapter_quarantine_row", ["adapter", "row_identity"])
    op.create_index("uq_adapter_quarantine_open_row", "adapter_quarantine", ["adapter", "row_identity"],
                    unique=True, postgresql_where=OPEN, sqlite_where=OPEN)


def _merge(connection, group: list) -> None:
    """Merge the open entries of one source row (oldest first) into the newest."""
    c = quarantine.c
    *older, newest = group
    corrections = dict(connection.execute(sa.select(c.id, c.correction).where(c.id.in_([e.id for e in group]))).all())
    made = [corrections[entry.id] for entry in group if corrections[entry.id]]
    connection.execute(quarantine.update().where(c.id == newest.id).values(
        run_id=older[0].run_id, created=older[0].created, seen_run=newest.run_id, seen=newest.created,
        correction=made[-1] if made else None))
    connection.execute(quarantine.update().where(c.id.in_([entry.id for entry in older])).values(
        status="resolved", message=c.message + f"\nresolved: the same source row is open as #{newest.id}"))


def downgrade() -> None:
    op.drop_index("uq_adapter_quarantine_open_row", table_name="adapter_quarantine")
    with op.batch_alter_table("adapter_quarantine") as batch:
        batch.drop_index("ix_adapter_quarantine_row")
        batch.drop_column("seen")
        batch.drop_column("seen_run")
        batch.drop_column("row_identity")
