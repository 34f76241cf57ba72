"""Inbound subscriptions: the changes of a resource the department may read, pulled from the
centre (GetChanges) from a watermark the node keeps, delivered into a local database table
(库表) or into files per period (文件) - the catalogue's 共享方式 as a department receives them.

**库表.** A table of the department's own database (any SQLAlchemy URL), made if it is not
there: a column per mapped field (``columns``: field -> column; every field under its own name
when none is given) and two of the node's (``gs_sequence``, ``gs_updated``).  An upsert writes
the record's fields, a delete removes the row, keyed by the resource's natural key (its first
field, e.g. ``idNumber``, or ``key_column``).  Each page of changes is one transaction of the
target database; the watermark is stored in the node's store after it commits, so a target
down or a node killed repeats at most the page it was in (upserts and deletes repeat harmlessly)
and skips nothing.

**文件.** A CSV per period (``day`` or ``month``, in China time, named ``YYYY-MM-DD.csv`` or
``YYYY-MM.csv``): ``sequence,operation,key`` and the fields, a line per change.  Before a page is
written the file's last sequence is read, so a page written again after a crash is not
written twice.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, create_engine, delete, insert, select
from sqlalchemy import update as sql_update
from sqlalchemy.engine import Engine

from client.exchange import Change, Exchange
from xsd.rules import CHINA

from .config import Subscription
from .store import now, watermarks

log = logging.getLogger(__name__)
PAGE = 500


class Subscriber:
    """Pulls one subscription's changes and delivers them; :meth:`pull` until there are none."""

    def __init__(self, store: Engine, exchange: Exchange, subscription: Subscription,
                 fields_of: Callable[[str], list[str]]):
        """``fields_of``: a record type's fields in its XSD's order (the columns when none are mapped)."""
        self.store, self.exchange, self.subscription, self.fields_of = store, exchange, subscription, fields_of
        self._target: Engine | None = None
        self._table: Table | None = None

    def watermark(self) -> int:
        with self.store.connect() as conn:
            return conn.scalar(select(watermarks.c.watermark).where(
                watermarks.c.subscription == self.subscription.name)) or 0

    def _keep(self, watermark: int) -> None:
        with self.store.begin() as conn:
            found = conn.execute(sql_update(watermarks).where(watermarks.c.subscription == self.subscription.name)
                                 .values(watermark=watermark, updated=now())).rowcount
            if not found:
                conn.execute(insert(watermarks).values(subscription=self.subscription.name,
                                                       resource=self.subscription.resource, watermark=watermark,
                                                       updated=now()))

    def pull(self) -> int:
        """Deliver every change after the kept watermark, a page at a time; the number delivered."""
        delivered = 0
        changes = self.exchange.changes(self.subscription.resource, watermark=self.watermark(), max_records=PAGE)
        for page in _pages(changes, PAGE):
            if self.subscription.target == "table":
                self._into_table(page)
            else:
                self._into_files(page)
            self._keep(page[-1].sequence)
            delivered += len(page)
        if delivered:
            log.info("%s: %d changes delivered, watermark %d", self.subscription.name, delivered, self.watermark())
        return delivered

    # ------------------------------------------------------------------------------------------ 库表

    def _into_table(self, page: list[Change]) -> None:
        table = self._target_table(page)
        key_column = self.subscription.key_column or self._column(self._key_field(page))
        with self._target.begin() as conn:
            for change in page:
                if change.operation == "delete":
                    conn.execute(delete(table).where(table.c[key_column] == change.key))
                    continue
                values = {self._column(f): v for f, v in change.record.fields.items() if self._column(f) in table.c}
                values.update(gs_sequence=change.sequence, gs_updated=datetime.now(UTC))
                done = conn.execute(sql_update(table).where(table.c[key_column] == values[key_column])
                                    .values(**values)).rowcount
                if not done:
                    conn.execute(insert(table).values(**values))

    def _column(self, field: str) -> str:
        return (self.subscription.columns or {}).get(field, field)

    def _fields(self, page: list[Change]) -> list[str]:
        """The fields delivered: those mapped, or all of the record type's, in its XSD's order."""
        if self.subscription.columns:
            return list(self.subscription.columns)
        record = next((c.record for c in page if c.record is not None), None)
        return self.fields_of(record.type) if record is not None else []

    def _key_field(self, page: list[Change]) -> str:
        fields = self._fields(page)
        return fields[0] if fields else "key"

    def _target_table(self, page: list[Change]) -> Table:
        if self._table is not None:
            return self._table
        self._target = self._target or create_engine(self.subscription.database, future=True)
        metadata = MetaData()
        fields = self._fields(page)
        mapped = fields
        key_column = self.subscription.key_column or self._column(fields[0] if fields else "key")
        columns = [Column(self._column(f), String(255) if self._column(f) == key_column else Text,
                          primary_key=self._column(f) == key_column) for f in mapped]
        if key_column not in {c.name for c in columns}:
            columns.insert(0, Column(key_column, String(255), primary_key=True))
        self._table = Table(self.subscription.table, metadata, *columns, Column("gs_sequence", Integer),
                            Column("gs_updated", DateTime(timezone=True)))
        metadata.create_all(self._target)
        return self._table

    # ------------------------------------------------------------------------------------------ 文件

    def _into_files(self, page: list[Change]) -> None:
        folder = self.subscription.folder
        folder.mkdir(parents=True, exist_ok=True)
        by_file: dict[Path, list[Change]] = {}
        for change in page:
            when = change.effective_from.astimezone(CHINA) if change.effective_from else datetime.now(CHINA)
            name = f"{when:%Y-%m-%d}.csv" if self.subscription.period == "day" else f"{when:%Y-%m}.csv"
            by_file.setdefault(folder / name, []).append(change)
        for path, changes in by_file.items():
            last = _last_sequence(path)
            fresh = [c for c in changes if c.sequence > last]
            if not fresh:
                continue
            new = not path.exists()
            with path.open("a", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                names = self._fields(fresh)
                if new:
                    writer.writerow(["sequence", "operation", "key", *(self._column(n) for n in names)])
                for change in fresh:
                    values = change.record.fields if change.record is not None else {}
                    writer.writerow([change.sequence, change.operation, change.key,
                                     *(values.get(n, "") for n in names)])
                handle.flush()


def _pages(changes: Iterator[Change], size: int) -> Iterator[list[Change]]:
    page: list[Change] = []
    for change in changes:
        page.append(change)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


def _last_sequence(path: Path) -> int:
    """The sequence of the last line of a delivery file (0 when it has none)."""
    if not path.exists():
        return 0
    with path.open("rb") as handle:
        handle.seek(0, io.SEEK_END)
        size = handle.tell()
        handle.seek(max(size - 65536, 0))
        lines = [line for line in handle.read().splitlines() if line.strip()]
    if not lines:
        return 0
    first = lines[-1].split(b",", 1)[0]
    return int(first) if first.isdigit() else 0
