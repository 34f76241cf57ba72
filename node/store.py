"""The node's own database: the outbox (each batch as it will be sent, and the centre's signed
receipt beside it once delivered) and the files taken in from the drop folders.

SQLite file by default, PostgreSQL by URL; the tables are made on first use.  A batch is
written here, in the same transaction as the record of the file it came from, before anything
is sent: whatever is killed when, a file is either taken whole or not at all, and a batch taken
stays until its receipt is stored.

Retention (``[store] keep_days``, :func:`prune`): a delivered batch older than that keeps its
row - its sequence, its counts and the centre's signed receipt, the proof of delivery - but
not its records; the gateway's log and the problems of finished adapter runs older than that
are deleted.  Batches waiting or refused are never touched, nor the files taken.
"""

from __future__ import annotations

import ctypes
import os
import time
import uuid
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from io import BytesIO

from lxml import etree
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

metadata = MetaData()

outbox = Table(
    "outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", String(36), nullable=False, unique=True),
    Column("stream", String(40), nullable=False),
    Column("sequence", Integer, nullable=False),  # per stream: the order of delivery
    Column("resource", String(20), nullable=False),
    Column("record_count", Integer, nullable=False),
    Column("records", LargeBinary, nullable=False),  # zlib of <records>…</records>
    Column("source", Text, nullable=False),  # the file (and its part) the batch came from
    Column("created", DateTime(timezone=True), nullable=False),
    Column("state", String(10), nullable=False, default="pending"),  # pending, delivered, refused
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("delivered_at", DateTime(timezone=True)),
    Column("accepted", Integer),
    Column("quarantined", Integer),
    Column("duplicate", Boolean),
    Column("receipt", LargeBinary),  # the centre's answer as received: signed, verified against the CA
    UniqueConstraint("stream", "sequence"),
    # the courier's look-up of each stream's lowest pending batch, and retention's of old delivered ones: an
    # outbox of months of delivered batches is not read whole at every turn
    Index("ix_outbox_state_stream", "state", "stream", "sequence"),
    Index("ix_outbox_state_delivered", "state", "delivered_at"),
)

taken = Table(
    "taken", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("stream", String(40), nullable=False),
    Column("name", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("batches", Integer, nullable=False),
    Column("records", Integer, nullable=False),
    Column("taken_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("stream", "sha256"),
)


gateway_log = Table(
    "gateway_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("system", String(40)),  # the local system the gateway signed for; none when it refused the caller
    Column("operation", String(64), nullable=False),
    Column("request_size", Integer, nullable=False),
    Column("response_size", Integer, nullable=False),
    Column("outcome", String(200), nullable=False),  # ok, fault, refused: …, unavailable: …, untrusted: …
    Column("milliseconds", Integer, nullable=False),
    Index("ix_gateway_log_at", "at"),
)


watermarks = Table(
    "watermarks", metadata,
    Column("subscription", String(40), primary_key=True),
    Column("resource", String(20), nullable=False),
    Column("watermark", Integer, nullable=False),  # the last change delivered (GetChanges' sequence)
    Column("updated", DateTime(timezone=True), nullable=False),
)


adapter_state = Table(
    "adapter_state", metadata,
    Column("adapter", String(64), primary_key=True),
    Column("resource", String(20)),
    Column("since", DateTime(timezone=True)),  # the newest change timestamp the last complete run read
    Column("updated", DateTime(timezone=True), nullable=False),
)

adapter_runs = Table(
    "adapter_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("adapter", String(64), nullable=False),
    Column("started", DateTime(timezone=True), nullable=False),
    Column("finished", DateTime(timezone=True)),
    Column("status", String(12), nullable=False),  # running, done, failed, interrupted (the node was killed)
    Column("read", Integer, nullable=False, default=0),
    Column("records", Integer, nullable=False, default=0),
    Column("batches", Integer, nullable=False, default=0),
    Column("quarantined", Integer, nullable=False, default=0),
    Column("error", Text),
)

adapter_problems = Table(
    "adapter_problems", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("adapter", String(64), nullable=False),
    Column("run_id", Integer, nullable=False),
    Column("source_key", String(255), nullable=False),
    Column("stage", String(20), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("field", String(64), nullable=False),
    Column("message", Text, nullable=False),
    Column("row", Text, nullable=False),  # the source row as read, JSON
    Column("created", DateTime(timezone=True), nullable=False),
    Index("ix_adapter_problems_created", "created"),
    Index("ix_adapter_problems_run", "run_id"),
)


node_meta = Table(
    "node_meta", metadata,
    Column("name", String(40), primary_key=True),
    Column("value", Text, nullable=False),
)


def node_id(engine: Engine) -> str:
    """The node's own id (its store's), made on first use: the centre knows the node by it."""
    with engine.begin() as conn:
        found = conn.scalar(select(node_meta.c.value).where(node_meta.c.name == "node_id"))
        if found is None:
            found = str(uuid.uuid4())
            conn.execute(node_meta.insert().values(name="node_id", value=found))
    return found


def now() -> datetime:
    return datetime.now(UTC)


def engine_for(url: str) -> Engine:
    """The store's engine, its tables made if they are not there."""
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _pragmas(connection, _record):
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")  # a committed batch survives a power cut
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
    for attempt in range(10):
        try:
            metadata.create_all(engine)
            for table in metadata.tables.values():  # a store made before an index was: it is added now
                for index in table.indexes:
                    index.create(engine, checkfirst=True)
            return engine
        except (OperationalError, ProgrammingError, IntegrityError):  # another of the node's processes is making them
            if attempt == 9:
                raise
            time.sleep(0.1 * (attempt + 1))
    return engine


def tune_allocator() -> None:
    """glibc's allocator for the node's long run, unless the environment says otherwise
    (``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_THRESHOLD_``): two arenas rather than one per thread
    (the courier's helper, the adapters' and the gateway's threads each keep the pages of the
    large batches they met), and blocks of 256 KiB and more mapped and given back when freed.
    Called before the node's threads start; elsewhere than glibc nothing is done."""
    if _LIBC is None:
        return
    if "MALLOC_ARENA_MAX" not in os.environ:
        _LIBC.mallopt(-8, 2)  # M_ARENA_MAX
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        _LIBC.mallopt(-3, 256 << 10)  # M_MMAP_THRESHOLD


def release_memory() -> None:
    """The C heap's free pages back to the system after a batch (a signed batch's tree costs
    several times its size in libxml2 nodes)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _glibc():
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


_LIBC = _glibc()


def canonical(record: etree._Element) -> bytes:
    """A record's exclusive canonical form: the bytes its batch's digest is taken over."""
    return etree.tostring(record, method="c14n", exclusive=True, with_comments=False, with_tail=False)


def pack(records: Iterable[etree._Element | bytes]) -> bytes:
    """Records as the outbox keeps them: each one's canonical form, length-prefixed, compressed -
    sent later as they are, with no tree of them ever built again at the node."""
    squeeze, parts = zlib.compressobj(6), []
    for record in records:
        data = record if isinstance(record, bytes) else canonical(record)
        parts.append(squeeze.compress(len(data).to_bytes(4, "big") + data))
    parts.append(squeeze.flush())
    return b"".join(parts)


def unpack(data: bytes) -> list[bytes]:
    """The canonical records :func:`pack` kept."""
    plain, records, at = zlib.decompress(data), [], 0
    while at < len(plain):
        size = int.from_bytes(plain[at:at + 4], "big")
        records.append(plain[at + 4:at + 4 + size])
        at += 4 + size
    return records


def record_type(record: bytes) -> str:
    """The record type (``{namespace}local``) of a canonical record: its root's name."""
    events = etree.iterparse(BytesIO(record), events=("start",), resolve_entities=False, no_network=True)
    return next(events)[1].tag


@dataclass(frozen=True)
class Status:
    pending: int
    pending_records: int
    delivered: int
    refused: int
    oldest_pending: datetime | None
    last_receipt: datetime | None
    last_error: str | None
    streams: dict[str, dict[str, int]]
    watermarks: dict[str, tuple[str, int, datetime]]  # subscription -> (resource, watermark, when kept)
    runs: dict[str, dict] = field(default_factory=dict)  # adapter -> its last run (adapter_runs' columns)


@dataclass(frozen=True)
class Pruned:
    """What :func:`prune` did."""

    batches: int = 0  # delivered batches whose records were emptied
    gateway_calls: int = 0  # gateway_log rows deleted
    adapter_problems: int = 0  # adapter_problems rows deleted
    adapter_runs: int = 0  # adapter_runs rows deleted

    def __bool__(self) -> bool:
        return bool(self.batches or self.gateway_calls or self.adapter_problems or self.adapter_runs)


def prune(engine: Engine, keep_days: int, chunk: int = 1000) -> Pruned:
    """Forget what is older than ``keep_days`` (0: nothing): the records of batches delivered
    before then (their rows and receipts stay), the gateway's calls, the problems of finished
    adapter runs, then the runs that finished before then and have no problem left - but never
    an adapter's last run, which ``govshare node status`` shows.  ``chunk`` rows a transaction,
    so that the node's courier and gateway are never kept waiting long for SQLite's write lock.
    (SQLite reuses the pages freed; the file does not shrink, nor grow while the node keeps to
    its keep_days.)"""
    if keep_days <= 0:
        return Pruned()
    cutoff = now() - timedelta(days=keep_days)
    finished = select(adapter_runs.c.id).where(adapter_runs.c.finished.is_not(None))
    batches = _in_chunks(engine, outbox, outbox.c.state == "delivered", outbox.c.delivered_at < cutoff,
                         func.length(outbox.c.records) > 0, chunk=chunk, values={"records": b""})
    calls = _in_chunks(engine, gateway_log, gateway_log.c.at < cutoff, chunk=chunk)
    problems = _in_chunks(engine, adapter_problems, adapter_problems.c.created < cutoff,
                          adapter_problems.c.run_id.in_(finished), chunk=chunk)
    latest = adapter_runs.alias("latest")
    runs = _in_chunks(engine, adapter_runs, adapter_runs.c.finished < cutoff,
                      adapter_runs.c.id.not_in(select(func.max(latest.c.id)).group_by(latest.c.adapter)),
                      ~exists().where(adapter_problems.c.run_id == adapter_runs.c.id), chunk=chunk)
    return Pruned(batches, calls, problems, runs)


def _in_chunks(engine: Engine, table: Table, *where, chunk: int, values: dict | None = None) -> int:
    """Update the rows of ``table`` that match ``where`` to ``values`` - or delete them, without
    ``values`` - ``chunk`` at a time, one transaction each; how many."""
    done = 0
    while True:
        with engine.begin() as conn:
            ids = conn.scalars(select(table.c.id).where(*where).order_by(table.c.id).limit(chunk)).all()
            if ids:
                change = update(table).values(**values) if values is not None else delete(table)
                conn.execute(change.where(table.c.id.in_(ids)))
        done += len(ids)
        if len(ids) < chunk:
            return done


def status(engine: Engine) -> Status:
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.stream, outbox.c.state, func.count(), func.sum(outbox.c.record_count))
                            .group_by(outbox.c.stream, outbox.c.state)).all()
        oldest = conn.scalar(select(func.min(outbox.c.created)).where(outbox.c.state == "pending"))
        last = conn.scalar(select(func.max(outbox.c.delivered_at)))
        kept = {row.subscription: (row.resource, row.watermark, aware(row.updated))
                for row in conn.execute(select(watermarks)).all()}
        last_runs = select(func.max(adapter_runs.c.id)).group_by(adapter_runs.c.adapter)
        runs = {row.adapter: dict(row._mapping) | {"started": aware(row.started), "finished": aware(row.finished)}
                for row in conn.execute(select(adapter_runs).where(adapter_runs.c.id.in_(last_runs))).all()}
        error = conn.scalar(select(outbox.c.last_error).where(outbox.c.state != "delivered",
                                                               outbox.c.last_error.is_not(None))
                            .order_by(outbox.c.id.desc()).limit(1))
    streams: dict[str, dict[str, int]] = {}
    totals = {"pending": 0, "delivered": 0, "refused": 0}
    pending_records = 0
    for stream, state, count, records in rows:
        streams.setdefault(stream, {"pending": 0, "delivered": 0, "refused": 0})[state] = count
        totals[state] += count
        if state == "pending":
            pending_records += records or 0
    return Status(totals["pending"], pending_records, totals["delivered"], totals["refused"], aware(oldest),
                  aware(last), error, streams, kept, runs)


def aware(value: datetime | None) -> datetime | None:
    """SQLite gives times back without their zone: they were written in UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value
