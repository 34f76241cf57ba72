"""One run of a department adapter (同步): extract → map → clean → compare → load.

    source rows ──map/clean──▶ records ──dedupe (比对)──▶ batches ──SubmitBatch path──▶ input + core
         │                        │                          │
         └──── problems ──────────┴──▶ adapter quarantine    └──▶ validation quarantine (exchange)

Records reach the core only through the input tier: each chunk becomes a batch with a
deterministic id (adapter, run, chunk) and is submitted through the exchange service's
own streaming path, so validation, versioning and lineage are the exchange's.  A chunk
and its checkpoint commit together; running again after a crash resubmits the same batch
ids and gets the first receipts back.

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
* :func:`consistency` compares source and core on demand (``govshare sync check``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from exchange import core, integration, resources
from exchange.submit import EXCHANGE_NS, submit_records
from registry.clock import utcnow
from registry.db import unit_of_work
from registry.models import (
    AdapterQuarantine,
    CatalogueEntry,
    CoreRecord,
    Department,
    InputBatch,
    SourceRowHash,
    SyncCheckpoint,
    SyncRun,
)
from registry.settings import Settings
from xsd.validation import validate_fields

from .config import AdapterConfig
from .locks import AlreadyRunning, run_lock
from .mapping import Mapper, mapper_for
from .sources import SourceError, open_source

CHUNK = 5000
ATTEMPTS = 3  # reads of the source before a run gives up
BACKOFF = 2.0  # seconds before the second attempt; doubled before each further one
log = logging.getLogger(__name__)
_RUN_NAMESPACE = uuid.UUID("6f0c51f4-6a0e-4b8e-9a57-2f4a1c0d0b77")


class SyncError(RuntimeError):
    """A run that could not complete; the run row says why."""


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


@dataclass
class _Chunk:
    records: list[dict] = field(default_factory=list)  # mapped field dicts
    problems: list[AdapterQuarantine] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)


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


def _timestamp(value: object) -> datetime | None:
    """A change-tracking value as a naive datetime (drivers hand back datetimes or ISO text)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=None)


def fingerprint(key: str) -> int:
    """A key as 96 bits: the run's key sets hold these, so a million keys take tens of MB.

    Two of a million keys share one with a chance of about 1 in 10^16.
    """
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=12).digest(), "little")


def _row_hash(row: dict) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()


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


def _key_mapper(config: AdapterConfig) -> Mapper:
    """A mapper of the key fields alone: the core key of a row whose other fields fail."""
    key_fields = set(config.format.key_fields)
    return Mapper(replace(config, fields=tuple(f for f in config.fields if f.target in key_fields)))


def core_key(config: AdapterConfig, fields: dict | None) -> str | None:
    """The core tier's key (``record_key``) of mapped ``fields``, or None if a key field is missing."""
    if fields is None:
        return None
    parts = [fields.get(name) for name in config.format.key_fields]
    return None if any(p is None for p in parts) else "|".join(str(p) for p in parts)


@dataclass
class _Committed:
    """What the last committed chunk had reached: where a retry starts again."""

    tally: Tally
    newest: datetime | None


class _Keys:
    """The keys a run has read, as fingerprints: source keys (to drop duplicates) and, in
    full runs, core keys (what delete detection must keep).  A key that is both - the
    common case - is held once.  Keys added since the last commit can be forgotten."""

    def __init__(self) -> None:
        self.source: set[int] = set()
        self.core: set[int] = set()
        self.both: set[int] = set()
        self._since: list[tuple[set[int], int]] = []

    def seen(self, mark: int) -> bool:
        return mark in self.both or mark in self.source

    def present(self, mark: int) -> bool:
        return mark in self.both or mark in self.core

    def add(self, where: set[int], mark: int) -> None:
        where.add(mark)
        self._since.append((where, mark))

    def commit(self) -> None:
        self._since = []

    def roll_back(self) -> None:
        for where, mark in self._since:
            where.discard(mark)
        self._since = []


def _run(sessions: sessionmaker[Session], settings: Settings, config: AdapterConfig, full: bool,
         progress: Progress | None) -> SyncRun:
    mode = "full" if full else ("incremental" if config.change.timestamp else "rowhash")
    with unit_of_work(sessions) as session:
        provider, entry = _resolve(session, config)
        since, note = _start(session, config, mode)
        run = SyncRun(adapter=config.name, mode=mode, status="running", started=utcnow(), watermark_from=since,
                      message=note)
        session.add(run)
        session.flush()
        run_id, provider_id, provider_code, resource_code = run.id, provider.id, provider.credit_code, \
            entry.resource_code
        base = resources.base_for(entry, config.format)
        integration.set_priority(session, base, provider_id, config.priority)  # 比对: the file's priority
        known_hashes = ({} if mode != "rowhash" else dict(session.execute(  # (a Result has keys(): take its rows)
            select(SourceRowHash.source_key, SourceRowHash.row_hash).where(SourceRowHash.adapter == config.name))
            .all()))

    tally, newest = Tally(), since
    keys = _Keys()
    mapper, stamp = mapper_for(config), config.change.timestamp
    keys_only = _key_mapper(config) if full else None
    chunk, number, last_key = _Chunk(), 0, ""
    committed = _Committed(replace(tally), newest)

    def flush() -> None:
        nonlocal chunk, number
        if not chunk.records and not chunk.problems:
            return
        after = replace(tally)
        with unit_of_work(sessions) as session:
            if chunk.records:
                batch_id = uuid.uuid5(_RUN_NAMESPACE, f"{config.name}/{run_id}/{number + 1}")
                receipt = submit_records(session, chunk.records, fmt=config.format, provider_code=provider_code,
                                         resource_code=resource_code, batch_id=batch_id, sequence_number=number + 1,
                                         created=datetime.now(UTC), limit=settings.max_batch_bytes)
                ex = "{%s}" % EXCHANGE_NS
                accepted = int(receipt.findtext(f"{ex}receipt/{ex}accepted"))
                unchanged = session.get(InputBatch, str(batch_id)).unchanged
                after.loaded += accepted - unchanged
                after.unchanged += unchanged
                after.quarantined += int(receipt.findtext(f"{ex}receipt/{ex}quarantined"))
            for problem in chunk.problems:
                problem.run_id = run_id
            session.add_all(chunk.problems)
            _remember_hashes(session, config.name, chunk.hashes, run_id)
            run = session.get(SyncRun, run_id)
            _count(run, after)
            session.merge(SyncCheckpoint(adapter=config.name, run_id=run_id, chunk=number + 1,
                                         position=last_key[:255], watermark=newest, updated=utcnow()))
        number += 1
        tally.__dict__.update(after.__dict__)
        committed.tally, committed.newest = replace(tally), newest
        keys.commit()
        chunk = _Chunk()
        if progress is not None:
            progress(replace(tally))

    def take(row: dict) -> None:
        nonlocal newest, last_key
        tally.read += 1
        changed = _timestamp(row.get(stamp)) if stamp is not None else None
        if changed is not None:
            newest = max(newest, changed) if newest else changed
        mapped = mapper.map(row)
        key = last_key = mapped.key or ""
        mark, kept = fingerprint(key), None  # kept: the core key's fingerprint, in full runs
        if keys_only is not None:
            in_core = core_key(config, mapped.fields if not mapped.problems else keys_only.map(row).fields)
            kept = None if in_core is None else mark if in_core == key else fingerprint(in_core)
        fresh = not mapped.problems and not keys.seen(mark)
        if fresh and kept == mark and not keys.present(mark):
            keys.add(keys.both, mark)
        else:
            if fresh:
                keys.add(keys.source, mark)
            if kept is not None and not keys.present(kept):
                keys.add(keys.core, kept)
        if mapped.problems:
            tally.quarantined += 1
            first = mapped.problems[0]
            chunk.problems.append(AdapterQuarantine(
                adapter=config.name, source_key=key[:255], stage=first.stage, rule=first.rule,
                field=first.field or "", message="; ".join(p.message for p in mapped.problems),
                row=json.loads(json.dumps(row, default=str, ensure_ascii=False)), status="open",
                created=utcnow()))
            return
        if not fresh:  # the same natural key twice in one run: the first read wins (比对)
            tally.filtered += 1
            return
        if mode == "rowhash":
            digest = _row_hash(row)
            if known_hashes.get(key) == digest:
                tally.unchanged += 1
                return
            chunk.hashes[key] = digest
        chunk.records.append(mapped.fields)
        if len(chunk.records) >= CHUNK:
            flush()

    def roll_back() -> int:
        """Forget what was read after the last committed chunk; how many rows that chunk had reached."""
        nonlocal chunk, newest
        keys.roll_back()
        tally.__dict__.update(replace(committed.tally).__dict__)
        newest, chunk = committed.newest, _Chunk()
        return tally.read

    deleted = 0
    source = open_source(config)
    try:
        for attempt in range(1, ATTEMPTS + 1):
            done = roll_back()
            try:
                for row in source.rows(since=since):
                    if done:  # read and committed before the source failed
                        done -= 1
                        continue
                    take(row)
                flush()
                break
            except (OperationalError, SourceError) as exc:
                if attempt == ATTEMPTS:
                    roll_back()  # the run reports what it committed; the checkpoint says where that ends
                    raise SourceError(f"the source failed {ATTEMPTS} times; last: {_first_line(exc)}") from exc
                log.warning("%s: source error (attempt %d of %d), retrying: %s", config.name, attempt, ATTEMPTS,
                            _first_line(exc))
                source.close()
                time.sleep(BACKOFF * 2 ** (attempt - 1))
                source = open_source(config)
        if full and tally.balanced:
            deleted = _delete_missing(sessions, config, run_id, base, provider_id, resource_code, keys)
    except Exception as exc:
        _finish(sessions, run_id, tally, "failed", f"{exc.__class__.__name__}: {exc}", None)
        raise
    finally:
        source.close()
    if not tally.balanced:
        message = (f"reconciliation failed: read {tally.read} != loaded {tally.loaded} + unchanged "
                   f"{tally.unchanged} + quarantined {tally.quarantined} + filtered {tally.filtered}")
        _finish(sessions, run_id, tally, "failed", message, None)
        raise SyncError(message)
    return _finish(sessions, run_id, tally, "succeeded", note, newest, deleted=deleted)


def _first_line(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def _delete_missing(sessions: sessionmaker[Session], config: AdapterConfig, run_id: int, base: str,
                    provider_id: int, resource_code: str, keys: _Keys) -> int:
    """Delete detection (删除识别): keys this adapter put in the core that the source no longer has.

    ``keys`` holds the fingerprint of the core key of every row of a full read, whatever became
    of the row: rows that failed mapping or validation are in quarantine, not gone, and stay.
    """
    with unit_of_work(sessions) as session:
        core.take_turn(session, base)
        gone = [key for key in core.current_keys(session, base=base, source_id=provider_id,
                                                  resource_code=resource_code)
                if not keys.present(fingerprint(key))]
        batch_id = str(uuid.uuid5(_RUN_NAMESPACE, f"{config.name}/{run_id}/deletes"))
        return core.delete_keys(session, base, gone, provider_id, resource_code, batch_id, utcnow())


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
    ``differing``: present in both with other field values; ``same``: equal.  Rows that fail
    mapping or validation are counted as ``quarantined`` and compared no further.
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
    """Compare every source row, mapped and validated as a run would, with the core's current version."""
    with sessions() as session:
        provider, entry = _resolve(session, config)
        provider_id, resource_code = provider.id, entry.resource_code
        base = resources.base_for(entry, config.format)
    report, present, pending = Report(), set(), {}
    mapper, keys_only, fmt = mapper_for(config), _key_mapper(config), config.format

    def compare() -> None:
        with sessions() as session:
            current = dict(session.execute(
                select(CoreRecord.record_key, CoreRecord.fields)
                .where(CoreRecord.base == base, CoreRecord.record_key.in_(list(pending)),
                       CoreRecord.effective_to.is_(None), CoreRecord.deleted.is_(False))).all())
        for key, fields in pending.items():
            if key not in current:
                report.note("source_only", key)
            else:
                report.note("same" if current[key] == fields else "differing", key)
        pending.clear()

    source = open_source(config)
    try:
        for row in source.rows():
            mapped = mapper.map(row)
            if mapped.problems:  # in quarantine, not gone: its core record is not "core only"
                report.quarantined += 1
                kept = core_key(config, keys_only.map(row).fields)
                if kept is not None:
                    present.add(fingerprint(kept))
                continue
            result = validate_fields(fmt, mapped.fields).result
            key = "|".join(result.key) if result.key else ""
            mark = fingerprint(key)
            if mark in present:  # a duplicate: the first read is the one a run loads
                continue
            present.add(mark)
            if result.violations:
                report.quarantined += 1
                continue
            pending[key] = core.jsonable(result.fields)
            if len(pending) >= CHUNK:
                compare()
        compare()
    finally:
        source.close()
    with sessions() as session:
        for key in core.current_keys(session, base=base, source_id=provider_id, resource_code=resource_code):
            if fingerprint(key) not in present:
                report.note("core_only", key)
    return report
