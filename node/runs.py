"""Adapter runs at the node: the department's own adapter files (the same as the centre's, see
adapters/departments/) run next to its databases, their batches written to the outbox.

A run reads the source through the adapters' reading side (:class:`adapters.reading.Reader`:
mapping, cleaning, code tables, duplicate keys), encodes each chunk's records in the standard
format and writes it to the outbox as one batch of the adapter's stream, one transaction a
chunk.  The watermark (the newest change timestamp read, for an adapter with ``[change]
timestamp``) is kept when the run has read its source to the end: a source that fails is read
again ``attempts`` times with back-off, then the run fails and the next run starts from the
watermark the last complete run kept, as does a run after the node was killed - nothing is
lost; the chunks the broken run had kept are delivered, and what it reads again reaches the
centre as records it finds unchanged.  Rows the mapping
refuses are kept in the node's ``adapter_problems`` with their reason.

An adapter file whose ``resource`` is ``name:<资源名称>`` is resolved through the directory, among
the department's own published resources, once; ``resource`` in the node's ``[[adapter]]``
overrides it.  Delete detection (a full run's missing keys) stays at the centre's adapters.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy import update as sql_update
from sqlalchemy.engine import Engine

from adapters.config import AdapterConfig
from adapters.reading import Plan, Reader
from client.directory import Directory

from .config import NodeAdapter, NodeConfig
from .store import adapter_problems, adapter_runs, adapter_state, aware, now, outbox, pack

log = logging.getLogger(__name__)
NODE_RUNS = uuid.UUID("4b5f8a2e-0d61-4c3b-8e7a-93c2f1d6a0b4")
#: the largest batch request, in bytes (the centre's limit for SubmitBatch)
LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True)
class RunResult:
    adapter: str
    status: str  # done | failed
    read: int
    records: int
    batches: int
    quarantined: int
    error: str | None = None


def run_adapter(engine: Engine, config: NodeConfig, adapter: NodeAdapter) -> RunResult:
    """One run of ``adapter``: its changed rows (all of them, the first time) into the outbox."""
    spec: AdapterConfig = adapter.config
    with engine.begin() as conn:
        state = conn.execute(select(adapter_state).where(adapter_state.c.adapter == spec.name)).first()
        run_id = conn.execute(insert(adapter_runs).values(adapter=spec.name, started=now(), status="running")
                              ).inserted_primary_key[0]
    totals = {"read": 0, "records": 0, "batches": 0, "quarantined": 0}
    try:
        resource = adapter.resource or (state.resource if state is not None and state.resource else None) \
            or resolve(config, spec)
        since = aware(state.since) if state is not None and state.since is not None else None
        incremental = spec.change.timestamp is not None and since is not None
        plan = Plan(config=spec, mode="incremental" if incremental else "full",
                    since=since - spec.change.overlap if incremental else None, run_id=run_id,
                    provider_code=config.credit_code, resource_code=resource, chunk=config.batch_size, limit=LIMIT,
                    attempts=adapter.attempts, backoff=adapter.backoff)
        fmt, newest = spec.format, since
        for chunk in Reader(plan, unsealed=lambda: True).chunks():
            records = [fmt.encode(fields) for fields in chunk.records or ()]
            with engine.begin() as conn:
                if records:
                    last = conn.scalar(select(func.max(outbox.c.sequence)).where(outbox.c.stream == spec.name)) or 0
                    created = now()
                    conn.execute(insert(outbox).values(
                        batch_id=str(uuid.uuid5(NODE_RUNS, f"{config.credit_code}:{spec.name}:{run_id}:"
                                                          f"{chunk.number}")),
                        stream=spec.name, sequence=last + 1, resource=resource, record_count=len(records),
                        records=pack(records), source=f"{spec.name} run {run_id} chunk {chunk.number}",
                        created=created, state="pending", attempts=0, next_attempt=created))
                for problem in chunk.problems:
                    conn.execute(insert(adapter_problems).values(
                        adapter=spec.name, run_id=run_id, source_key=problem["source_key"], stage=problem["stage"],
                        rule=problem["rule"], field=problem["field"], message=problem["message"][:2000],
                        row=json.dumps(problem["row"], ensure_ascii=False, default=str), created=now()))
            newest = chunk.newest if newest is None or (chunk.newest is not None and chunk.newest > newest) \
                else newest
            totals["read"] += chunk.read
            totals["records"] += len(records)
            totals["batches"] += 1 if records else 0
            totals["quarantined"] += chunk.quarantined
        with engine.begin() as conn:
            _keep(conn, spec.name, resource, newest)
        result = RunResult(spec.name, "done", **totals)
    except Exception as exc:  # noqa: BLE001 - the run fails whole; the next one starts from the kept watermark
        result = RunResult(spec.name, "failed", **totals, error=f"{type(exc).__name__}: {exc}".splitlines()[0][:500])
        log.error("%s: run %d failed after %d records: %s", spec.name, run_id, totals["records"], result.error)
    with engine.begin() as conn:
        conn.execute(sql_update(adapter_runs).where(adapter_runs.c.id == run_id).values(
            finished=now(), status=result.status, read=result.read, records=result.records, batches=result.batches,
            quarantined=result.quarantined, error=result.error))
    if result.status == "done":
        log.info("%s: run %d read %d rows: %d records in %d batches, %d refused by the mapping", spec.name, run_id,
                 result.read, result.records, result.batches, result.quarantined)
    return result


def _keep(conn, adapter: str, resource: str, newest) -> None:
    found = conn.execute(sql_update(adapter_state).where(adapter_state.c.adapter == adapter).values(
        since=newest, resource=resource, updated=now())).rowcount
    if not found:
        conn.execute(insert(adapter_state).values(adapter=adapter, resource=resource, since=newest, updated=now()))


def resolve(config: NodeConfig, spec: AdapterConfig) -> str:
    """The 资源代码 of the adapter's resource: as written, or found by name among the department's own."""
    name = spec.resource_name
    if name is None:
        return spec.resource
    found = [r.code for r in Directory(config.centre, timeout=30).find(keyword=name, provider=config.credit_code)
             if r.name == name]
    if len(found) != 1:
        raise LookupError(f"{spec.name}: the directory has {len(found)} published resources of "
                          f"{config.credit_code} named {name!r}; give resource = \"<资源代码>\" in [[adapter]]")
    return found[0]
