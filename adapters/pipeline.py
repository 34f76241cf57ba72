"""One run of a department adapter (同步): extract → map → clean → compare → load.

    source rows ──map/clean──▶ records ──dedupe (比对)──▶ batches ──SubmitBatch path──▶ input + core
         │                        │                          │
         └──── problems ──────────┴──▶ adapter quarantine    └──▶ validation quarantine (exchange)

Records reach the core only through the input tier: each chunk becomes a batch with a
deterministic id (adapter, run, chunk) and is submitted through the exchange service's
own streaming path, so validation, versioning and lineage are the exchange's.  A chunk
and its checkpoint commit together; running again after a crash resubmits the same batch
ids and gets the first receipts back.

Everything short of storing - reading, mapping, comparing, validating, rendering the batch
- is :mod:`adapters.reading`'s, and a source of ``READ_APART_FROM`` rows or more is read in a
process of its own: while this process stores one chunk, that one prepares the next.

Every run ends with a reconciliation (对账), stored with the run::

    read = loaded + unchanged + quarantined + filtered

where *filtered* counts rows dropped as duplicates of a row already read in this run.  A
mismatch fails the run loudly.

Synchronisation (同步, E5):

* One run of an adapter at a time, across processes: :mod:`adapters.locks`.
* Each chunk commits with its checkpoint (``sync_checkpoint``: run, chunk, last source key,
  watermark).  A failed or killed run leaves it; the next incremental run reads from its
  watermark (the source orders rows by timestamp, then key) and a succeeded run clears it.
* A source error (``OperationalError``) is retried ``ATTEMPTS`` times with doubling backoff;
  a retry forgets the uncommitted part of the chunk and reads on after the committed rows.
* A full run ends with delete detection by key-set comparison: keys this adapter's
  resource holds current in the core that no source row has any more get a deleted
  version (logical delete, counted in ``deleted``, outside the reconciliation).  Rows in
  quarantine are not gone and are never deleted.
* The adapter quarantine holds one open entry per source row (:mod:`adapters.quarantine`):
  a run refreshes the entry of a row it rejects again and closes the entries of rows that
  map now; a full run closes those of rows the source no longer has.
* :func:`consistency` compares source and core on demand (``govshare sync check``): what
  this source contributes, under the priorities of the comparison across sources (比对).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from exchange import core, integration, resources
from exchange.submit import submit_prepared
from registry.clock import utcnow
from registry.db import unit_of_work
from registry.errors import SyncError
from registry.models import (
    AdapterQuarantine,
    CatalogueEntry,
    CoreRecord,
    Department,
    SourceRowHash,
    SyncCheckpoint,
    SyncRun,
)
from registry.settings import Settings
from xsd.prepared import jsonable
from xsd.validation import validate_fields

from . import sources
from .config import AdapterConfig
from .locks import AlreadyRunning, run_lock
from .mapping import mapper_for
from .reading import (
    Fingerprints,
    Plan,
    Prepared,
    Reader,
    ReadingProcess,
    batch_id,
    core_key,
    fingerprint,
    key_mapper,
)
from .sources import SourceError, open_source

#: records per chunk (one batch, one transaction, one checkpoint); larger chunks write each
#: random-key index page for more records at once, and hold more in memory: up to three chunks
#: are in flight, and each costs about 5 KiB a record in the run's process (see BENCHMARKS.md)
CHUNK = 7_500
#: a source with at least this many rows to read is read in a process of its own (None: never)
READ_APART_FROM: int | None = 50_000
ATTEMPTS = 3  # reads of the source before a run gives up
BACKOFF = 2.0  # seconds before the second attempt; doubled before each further one
log = logging.getLogger(__name__)


@dataclass
class Tally:
    read: int = 0
    loaded: int = 0
    unchanged: int = 0
    quarantined: int = 0
    filtered: int = 0

    @property
    def balanced(self) -> bool:
        return self.read == self.loaded + self.unchanged + self.quarantined + self.filtered


def _resolve(session: Session, config: AdapterConfig) -> tuple[Department, CatalogueEntry]:
    provider = session.scalar(select(Department).where(Department.credit_code == config.department))
    if provider is None:
        raise SyncError(f"{config.path}: department {config.department} is not registered")
    query = select(CatalogueEntry).where(CatalogueEntry.provider_id == provider.id,
                                         CatalogueEntry.status == "published")
    if config.resource_name is not None:
        query = query.where(CatalogueEntry.name == config.resource_name)
    else:
        query = query.where(CatalogueEntry.resource_code == config.resource)
    entry = session.scalar(query)
    if entry is None:
        raise SyncError(f"{config.path}: {provider.name} has no published resource {config.resource}")
    return provider, entry


Progress = Callable[["Tally"], None]


def run_adapter(sessions: sessionmaker[Session], settings: Settings, config: AdapterConfig, *,
                full: bool = False, progress: Progress | None = None) -> SyncRun:
    """Run ``config`` once (incrementally unless ``full``) and return its finished run.

    Holds the adapter's run lock for the whole run: a second run of the same adapter, in
    this process or another, raises :class:`AlreadyRunning` at once.  ``progress``, if
    given, is called with the committed tally after every chunk (for progress bars).
    """
    with ExitStack() as held:
        try:
            held.enter_context(run_lock(sessions.kw["bind"], settings, config.name))
        except AlreadyRunning:
            raise AlreadyRunning(config.name, _holder(sessions, config.name)) from None
        return _run(sessions, settings, config, full, progress)


def _holder(sessions: sessionmaker[Session], name: str) -> str:
    """Which run holds the lock, as ``run #N since ...``, for the error message."""
    with sessions() as session:
        run = session.scalar(select(SyncRun).where(SyncRun.adapter == name, SyncRun.status == "running")
                             .order_by(SyncRun.id.desc()).limit(1))
    return "" if run is None else f"run #{run.id} since {run.started.isoformat(sep=' ', timespec='seconds')} UTC"


def _start(session: Session, config: AdapterConfig, mode: str) -> tuple[datetime | None, str]:
    """Close runs a dead process left ``running``; the watermark to read from, and a note."""
    # the lock is ours, so any run still marked running belongs to a process that died
    for stale in session.scalars(select(SyncRun).where(SyncRun.adapter == config.name,
                                                       SyncRun.status == "running")):
        stale.status, stale.finished = "failed", utcnow()
        stale.message = "interrupted: the process ended before the run finished"
    if mode != "incremental":
        return None, ""
    previous = session.scalar(select(SyncRun).where(SyncRun.adapter == config.name, SyncRun.status == "succeeded")
                              .order_by(SyncRun.id.desc()).limit(1))
    since = previous.watermark_to if previous is not None else None
    checkpoint = session.get(SyncCheckpoint, config.name)
    if checkpoint is not None and checkpoint.watermark is not None and (since is None
                                                                        or checkpoint.watermark > since):
        return checkpoint.watermark, f"resumed from run #{checkpoint.run_id}, chunk {checkpoint.chunk}"
    return since, ""


def _run(sessions: sessionmaker[Session], settings: Settings, config: AdapterConfig, full: bool,
         progress: Progress | None) -> SyncRun:
    mode = "full" if full else ("incremental" if config.change.timestamp else "rowhash")
    try:
        with unit_of_work(sessions) as session:
            provider, entry = _resolve(session, config)
    except SyncError as exc:  # a run that cannot start is a failed run all the same: monitoring lists it
        with unit_of_work(sessions) as session:
            now = utcnow()
            session.add(SyncRun(adapter=config.name, mode=mode, status="failed", started=now, finished=now,
                                message=str(exc)))
        raise
    with unit_of_work(sessions) as session:
        provider, entry = _resolve(session, config)
        since, note = _start(session, config, mode)
        run = SyncRun(adapter=config.name, mode=mode, status="running", started=utcnow(), watermark_from=since,
                      message=note)
        session.add(run)
        session.flush()
        run_id, provider_id, resource_code = run.id, provider.id, entry.resource_code
        open_rows = frozenset(session.scalars(select(AdapterQuarantine.row_identity).where(
            AdapterQuarantine.adapter == config.name, AdapterQuarantine.status == "open")))
        plan = Plan(config, mode, since, run_id, provider.credit_code, resource_code, CHUNK, settings.max_batch_bytes,
                    ATTEMPTS, BACKOFF, open_rows)
        base = resources.base_for(entry, config.format)
        integration.set_priority(session, base, provider_id, config.priority)  # 比对: the file's priority
        known_hashes = ({} if mode != "rowhash" else dict(session.execute(  # (a Result has keys(): take its rows)
            select(SourceRowHash.source_key, SourceRowHash.row_hash).where(SourceRowHash.adapter == config.name))
            .all()))

    tally, newest, deleted = Tally(), since, 0
    reader = None
    try:
        reader = _reader(plan, known_hashes)
        for chunk in reader.chunks():
            tally = _store(sessions, config, run_id, chunk, tally)
            newest = chunk.newest
            if progress is not None:
                progress(replace(tally))
        if full and tally.balanced:
            with unit_of_work(sessions) as session:
                core.take_turn(session, base)
                gone = reader.gone(core.current_keys(session, base=base, source_id=provider_id,
                                                     resource_code=resource_code))
                deleted = core.delete_keys(session, base, gone, provider_id, resource_code,
                                           str(batch_id(config.name, run_id, "deletes")), utcnow())
                _resolve_unseen(session, config.name, run_id)
    except Exception as exc:
        _finish(sessions, run_id, tally, "failed", f"{exc.__class__.__name__}: {exc}", None)
        raise
    finally:
        if reader is not None:
            reader.close()
    if not tally.balanced:
        message = (f"reconciliation failed: read {tally.read} != loaded {tally.loaded} + unchanged "
                   f"{tally.unchanged} + quarantined {tally.quarantined} + filtered {tally.filtered}")
        _finish(sessions, run_id, tally, "failed", message, None)
        raise SyncError(message)
    return _finish(sessions, run_id, tally, "succeeded", note, newest, deleted=deleted)


def _reader(plan: Plan, known_hashes: dict[str, str]) -> _Here | ReadingProcess:
    """A reader in a process of its own when the source's database counts at least
    ``READ_APART_FROM`` rows to read (0: always), else in this process.

    Reading, mapping and validating a row costs more than storing it, and both are Python:
    in one process a run used one core; apart, the two halves overlap.  A small run is not
    worth the second process's start (about a second).
    """
    if READ_APART_FROM == 0:
        return ReadingProcess(plan, known_hashes)
    if READ_APART_FROM is not None:
        rows = _rows_to_read(plan)
        if rows is not None and rows >= READ_APART_FROM:
            return ReadingProcess(plan, known_hashes)
    return _Here(Reader(plan, known_hashes, opener=open_source))


def _rows_to_read(plan: Plan) -> int | None:
    """How many rows the source's database counts for this run; None for a file, or a source
    that cannot say now (the reader in this process then retries it, and fails clearly)."""
    try:
        source = sources.open_source(plan.config)
    except SourceError:
        return None
    try:
        return source.count(since=plan.since)
    except (OperationalError, SourceError):
        return None
    finally:
        source.close()


class _Here:
    """A reader in this process, with a reading process's interface."""

    def __init__(self, reader: Reader) -> None:
        self.chunks, self.gone = reader.chunks, reader.gone

    def close(self) -> None:
        pass


def _store(sessions: sessionmaker[Session], config: AdapterConfig, run_id: int, chunk: Prepared,
           tally: Tally) -> Tally:
    """Commit one chunk with its checkpoint - its batch, its refused rows, its row hashes and
    the run's counts - and return the tally after it."""
    after = replace(tally)
    after.read += chunk.read
    after.filtered += chunk.filtered
    after.quarantined += chunk.quarantined
    after.unchanged += chunk.unchanged
    with unit_of_work(sessions) as session:
        if chunk.batch is not None:
            receipt = submit_prepared(session, chunk.batch)
            after.loaded += receipt.accepted - receipt.unchanged
            after.unchanged += receipt.unchanged
            after.quarantined += receipt.quarantined
        if chunk.problems:
            _keep_rejected(session, config.name, run_id, chunk.problems)
        if chunk.mapped_now:
            _resolve_mapped(session, config.name, run_id, chunk.mapped_now)
        _remember_hashes(session, config.name, chunk.hashes, run_id)
        _count(session.get(SyncRun, run_id), after)
        session.merge(SyncCheckpoint(adapter=config.name, run_id=run_id, chunk=chunk.number,
                                     position=chunk.position[:255], watermark=chunk.newest, updated=utcnow()))
    return after


def _keep_rejected(session: Session, adapter: str, run_id: int, problems: list[dict]) -> None:
    """Keep a chunk's rejected rows in the adapter quarantine, one open entry per source row.

    A row with an open entry refreshes it: the row as read now, its problem, the run that saw it
    last (a person's correction stays).  A row a person replayed or discarded as it reads now
    stays closed.  Any other row opens an entry.  A row read twice in one run (the same key
    twice in the source) keeps what its first read found, as the core keeps its first record.
    """
    first: dict[str, dict] = {}
    for problem in problems:
        first.setdefault(problem["row_identity"], problem)
    opened, closed = set(), {}
    for identity, status, row in session.execute(
            select(AdapterQuarantine.row_identity, AdapterQuarantine.status, AdapterQuarantine.row)
            .where(AdapterQuarantine.adapter == adapter, AdapterQuarantine.row_identity.in_(list(first)),
                   AdapterQuarantine.status.in_(("open", "replayed", "discarded")))):
        if status == "open":
            opened.add(identity)
        else:
            closed.setdefault(identity, []).append(row)
    rows = [{**problem, "run_id": run_id, "status": "open", "seen_run": run_id, "seen": problem["created"]}
            for identity, problem in first.items()
            if identity in opened or problem["row"] not in closed.get(identity, ())]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    upsert = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(AdapterQuarantine)
    session.execute(upsert.on_conflict_do_update(
        index_elements=[AdapterQuarantine.adapter, AdapterQuarantine.row_identity], index_where=_OPEN,
        set_={name: upsert.excluded[name] for name in ("row", "stage", "rule", "field", "message", "seen_run", "seen")},
        where=AdapterQuarantine.seen_run != upsert.excluded.seen_run), rows)


_OPEN = text("status = 'open'")  # the open entries, as the unique index names them (a literal, not a parameter)


def _resolve_mapped(session: Session, adapter: str, run_id: int, identities: list[str]) -> None:
    """Close the open entries of rows that map now: the source corrected them (unless this run
    rejected the same row already: a key the source holds twice)."""
    session.execute(update(AdapterQuarantine).where(
        AdapterQuarantine.adapter == adapter, AdapterQuarantine.status == "open",
        AdapterQuarantine.row_identity.in_(identities), AdapterQuarantine.seen_run != run_id)
        .values(status="resolved", message=AdapterQuarantine.message + f"\nresolved: run #{run_id} read the row "
                                                                       "and it maps now"))


def _resolve_unseen(session: Session, adapter: str, run_id: int) -> None:
    """After a full read, close the open entries of rows it did not reject: the source no longer
    has them (rows that map now were closed as they were read)."""
    session.execute(update(AdapterQuarantine).where(
        AdapterQuarantine.adapter == adapter, AdapterQuarantine.status == "open", AdapterQuarantine.seen_run != run_id)
        .values(status="resolved", message=AdapterQuarantine.message + f"\nresolved: full run #{run_id} did not "
                                                                       "find the row in the source"))


def _remember_hashes(session: Session, adapter: str, hashes: dict[str, str], run_id: int) -> None:
    """Upsert the row hashes of a chunk (rowhash runs) in one statement where the centre can."""
    if not hashes:
        return
    rows = [{"adapter": adapter, "source_key": key, "row_hash": digest, "seen_run": run_id}
            for key, digest in hashes.items()]
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        upsert = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(SourceRowHash)
        session.execute(upsert.on_conflict_do_update(
            index_elements=[SourceRowHash.adapter, SourceRowHash.source_key],
            set_={"row_hash": upsert.excluded.row_hash, "seen_run": upsert.excluded.seen_run}), rows)
        return
    for row in rows:
        session.merge(SourceRowHash(**row))


def _count(run: SyncRun, tally: Tally) -> None:
    run.read, run.loaded, run.unchanged = tally.read, tally.loaded, tally.unchanged
    run.quarantined, run.filtered = tally.quarantined, tally.filtered


def _finish(sessions: sessionmaker[Session], run_id: int, tally: Tally, status: str, message: str,
            watermark: datetime | None, *, deleted: int = 0) -> SyncRun:
    """Record the outcome; a succeeded run clears the checkpoint, a failed one leaves it to resume from."""
    with unit_of_work(sessions) as session:
        run = session.get(SyncRun, run_id)
        _count(run, tally)
        run.deleted = deleted
        run.status, run.message, run.finished = status, message, utcnow()
        run.watermark_to = watermark.replace(tzinfo=None) if isinstance(watermark, datetime) else None
        if status == "succeeded":
            session.execute(delete(SyncCheckpoint).where(SyncCheckpoint.adapter == run.adapter))
        return run


@dataclass
class Report:
    """A consistency check (一致性核查) of one adapter: its source, mapped, against the core now.

    ``source_only``: source records the core lacks (or holds as deleted); ``core_only``: keys
    the adapter's resource holds current in the core that the source no longer has;
    ``differing``: present in both, and the core does not hold what this source contributes
    under the comparison's rules (比对, :func:`exchange.integration.departures`): a value it
    gives that the core lacks or holds otherwise, unless a source of higher priority keeps
    that field; ``same``: no such field.  Rows that fail mapping or validation are counted as
    ``quarantined`` and compared no further.
    """

    source_only: int = 0
    core_only: int = 0
    differing: int = 0
    same: int = 0
    quarantined: int = 0
    examples: dict[str, list[str]] = field(default_factory=lambda: {"source_only": [], "core_only": [],
                                                                    "differing": []})

    @property
    def consistent(self) -> bool:
        return not (self.source_only or self.core_only or self.differing)

    def note(self, kind: str, key: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if kind in self.examples and len(self.examples[kind]) < EXAMPLES:
            self.examples[kind].append(key)


EXAMPLES = 5


def consistency(sessions: sessionmaker[Session], settings: Settings, config: AdapterConfig) -> Report:
    """Compare every source row, mapped and validated as a run would, with the core's current
    version: the fields this source contributes, under the priorities a run of it would set."""
    with sessions() as session:
        provider, entry = _resolve(session, config)
        provider_id, resource_code = provider.id, entry.resource_code
        base = resources.base_for(entry, config.format)
        configured = integration.priorities(session, base)
    report, present, pending = Report(), Fingerprints(), {}
    mapper, keys_only, fmt = mapper_for(config), key_mapper(config), config.format

    def priority(source_id: int, name: str) -> int:  # a run sets the file's priority first
        return config.priority if source_id == provider_id else configured(source_id, name)

    def compare() -> None:
        with sessions() as session:
            current = {row.record_key: row for row in session.execute(
                select(CoreRecord.record_key, CoreRecord.fields, CoreRecord.source_id, CoreRecord.field_sources)
                .where(CoreRecord.base == base, CoreRecord.record_key.in_(list(pending)),
                       CoreRecord.effective_to.is_(None), CoreRecord.deleted.is_(False)))}
            found = {key: integration.departures(row.fields, row.source_id, row.field_sources, pending[key],
                                                 provider_id, priority) for key, row in current.items()}
            tied = [key for key, fields in found.items() if any(fields.values())]
            given = integration.last_given(session, base, provider_id, tied) if tied else {}
        for key, fields in pending.items():
            if key not in current:
                report.note("source_only", key)
                continue
            # a field an equally ranked source keeps is settled where this source gave this very
            # value and a newer one won (lineage); else a run of this source would change it
            departs = any(not tie or given.get((key, name)) != str(fields[name]) for name, tie in found[key].items())
            report.note("differing" if departs else "same", key)
        pending.clear()

    source = open_source(config)
    try:
        for row in source.rows():
            mapped = mapper.map(row)
            if mapped.problems:  # in quarantine, not gone: its core record is not "core only"
                report.quarantined += 1
                kept = core_key(config, keys_only.map(row).fields)
                if kept is not None:
                    present.set(fingerprint(kept), 1)
                continue
            result = validate_fields(fmt, mapped.fields).result
            key = "|".join(result.key) if result.key else ""
            mark = fingerprint(key)
            if present.flags(mark):  # a duplicate: the first read is the one a run loads
                continue
            present.set(mark, 1)
            if result.violations:
                report.quarantined += 1
                continue
            pending[key] = jsonable(result.fields)
            if len(pending) >= CHUNK:
                compare()
        compare()
    finally:
        source.close()
    with sessions() as session:
        for key in core.current_keys(session, base=base, source_id=provider_id, resource_code=resource_code):
            if not present.flags(fingerprint(key)):
                report.note("core_only", key)
    return report
