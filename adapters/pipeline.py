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
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from exchange.submit import EXCHANGE_NS, submit_document
from registry.clock import utcnow
from registry.db import unit_of_work
from registry.models import AdapterQuarantine, CatalogueEntry, Department, InputBatch, SourceRowHash, SyncRun
from registry.settings import Settings
from xsd.batch import build_batch

from .config import AdapterConfig
from .mapping import mapper_for
from .sources import open_source

CHUNK = 5000
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
    records: list = field(default_factory=list)
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


def _row_hash(row: dict) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()


def run_adapter(sessions: sessionmaker[Session], settings: Settings, config: AdapterConfig, *,
                full: bool = False) -> SyncRun:
    """Run ``config`` once (incrementally unless ``full``) and return its finished run."""
    mode = "full" if full else ("incremental" if config.change.timestamp else "rowhash")
    with unit_of_work(sessions) as session:
        provider, entry = _resolve(session, config)
        previous = session.scalar(select(SyncRun).where(SyncRun.adapter == config.name,
                                                        SyncRun.status == "succeeded")
                                  .order_by(SyncRun.id.desc()).limit(1))
        since = previous.watermark_to if previous is not None and mode == "incremental" else None
        run = SyncRun(adapter=config.name, mode=mode, status="running", started=utcnow(), watermark_from=since)
        session.add(run)
        session.flush()
        run_id, provider_code, resource_code = run.id, provider.credit_code, entry.resource_code
        known_hashes = ({} if mode != "rowhash" else dict(session.execute(
            select(SourceRowHash.source_key, SourceRowHash.row_hash).where(SourceRowHash.adapter == config.name))))

    tally, seen, newest = Tally(), set(), since
    mapper, stamp = mapper_for(config), config.change.timestamp
    chunk, number = _Chunk(), 0

    def flush() -> None:
        nonlocal chunk, number
        if not chunk.records and not chunk.problems:
            return
        number += 1
        with unit_of_work(sessions) as session:
            if chunk.records:
                batch_id = uuid.uuid5(_RUN_NAMESPACE, f"{config.name}/{run_id}/{number}")
                batch = build_batch(chunk.records, provider_code=provider_code, resource_code=resource_code,
                                    created=datetime.now(UTC), batch_id=batch_id, sequence_number=number)
                receipt = submit_document(session, batch, settings.max_batch_bytes)
                ex = "{%s}" % EXCHANGE_NS
                accepted = int(receipt.findtext(f"{ex}receipt/{ex}accepted"))
                unchanged = session.get(InputBatch, str(batch_id)).unchanged
                tally.loaded += accepted - unchanged
                tally.unchanged += unchanged
                tally.quarantined += int(receipt.findtext(f"{ex}receipt/{ex}quarantined"))
            for problem in chunk.problems:
                problem.run_id = run_id
            session.add_all(chunk.problems)
            for key, digest in chunk.hashes.items():
                session.merge(SourceRowHash(adapter=config.name, source_key=key, row_hash=digest, seen_run=run_id))
            run = session.get(SyncRun, run_id)
            run.read, run.loaded, run.unchanged = tally.read, tally.loaded, tally.unchanged
            run.quarantined, run.filtered = tally.quarantined, tally.filtered
        chunk = _Chunk()

    source = open_source(config)
    try:
        for row in source.rows(since=since):
            tally.read += 1
            changed = _timestamp(row.get(stamp)) if stamp is not None else None
            if changed is not None:
                newest = max(newest, changed) if newest else changed
            mapped = mapper.map(row)
            key = mapped.key or ""
            if mapped.problems:
                tally.quarantined += 1
                first = mapped.problems[0]
                chunk.problems.append(AdapterQuarantine(
                    adapter=config.name, source_key=key[:255], stage=first.stage, rule=first.rule,
                    field=first.field or "", message="; ".join(p.message for p in mapped.problems),
                    row=json.loads(json.dumps(row, default=str, ensure_ascii=False)), status="open",
                    created=utcnow()))
                continue
            if key in seen:  # the same natural key twice in one run: the first read wins (比对)
                tally.filtered += 1
                continue
            seen.add(key)
            if mode == "rowhash":
                digest = _row_hash(row)
                if known_hashes.get(key) == digest:
                    tally.unchanged += 1
                    continue
                chunk.hashes[key] = digest
            chunk.records.append(config.format.encode(mapped.fields))
            if len(chunk.records) >= CHUNK:
                flush()
        flush()
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
    return _finish(sessions, run_id, tally, "succeeded", "", newest)


def _finish(sessions, run_id: int, tally: Tally, status: str, message: str, watermark) -> SyncRun:
    with unit_of_work(sessions) as session:
        run = session.get(SyncRun, run_id)
        run.read, run.loaded, run.unchanged = tally.read, tally.loaded, tally.unchanged
        run.quarantined, run.filtered = tally.quarantined, tally.filtered
        run.status, run.message, run.finished = status, message, utcnow()
        run.watermark_to = watermark.replace(tzinfo=None) if isinstance(watermark, datetime) else None
        return run
