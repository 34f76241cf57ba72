"""The audit log's actions (审计日志, S4): search it, verify it, export it, sign its head.

    audit.search      search(ctx, department="mzj", operation="exchange.", since=datetime(2026, 12, 1))
                      -> Found(total=2, offset=0, entries=[Entry(seq=3, ...), Entry(seq=1, ...)])
    audit.verify      verify(ctx)                                -> audit.Report (problems by seq, warnings)
    audit.export      export(ctx, out=file, format="csv", ...)   -> 4 (entries written, in chain order)
    audit.checkpoint  checkpoint(ctx)                            -> Checkpoint(id=2, seq=1000, entry_hash=...)

Criteria are all optional and all must hold: a department by its code, name or 统一社会信用代码;
an operation exactly or by a prefix (``exchange.``, ``sharing.``); a resource code; a result
exactly or by a prefix (``refused``); a time window (naive UTC, ``since`` inclusive, ``until``
exclusive); a certificate serial.  Searching, verifying and exporting are the auditor's
(``audit``); signing a checkpoint uses the platform key, the operator's (``operate``).  Each is
recorded in the log it reads, after it has read it.

An export carries every hashed column and the keyed hash (and, as JSON, every checkpoint with
its certificate, signature and signed text), so an auditor can re-verify it without govshare:
see :mod:`trust.audit` for the canonical form.  In CSV an empty cell is null (except in
``detail``, which is never null) and ``seq``, ``department_id``, ``record_count`` are integers.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from typing import IO, Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from registry.errors import InvalidInput
from registry.models import AuditCheckpoint, AuditEntry, Department

from . import audit
from .actions import Context, action

FORMATS = ("csv", "json")


@dataclass(frozen=True)
class Entry:
    """One audit entry, every column of it, with the name of its department."""

    seq: int
    recorded_at: datetime
    department_id: int | None
    department_code: str | None
    department_name: str | None
    user: str | None
    certificate_serial: str | None
    channel: str | None
    system_code: str | None
    operation: str
    resource_code: str | None
    query_digest: str | None
    purpose: str | None
    result: str
    detail: str
    record_count: int
    request_digest: str | None
    response_digest: str | None
    prev_hash: str
    entry_hash: str
    entry_mac: str | None


@dataclass(frozen=True)
class Found:
    """How many entries match, and the page of them from ``offset``, newest first."""

    total: int
    offset: int
    entries: list[Entry]


@dataclass(frozen=True)
class Checkpoint:
    """A signed checkpoint: the head of the chain it signed."""

    id: int
    seq: int
    entry_hash: str
    created: datetime


def _criteria(department: str | None, operation: str | None, resource: str | None, result: str | None,
              since: datetime | None, until: datetime | None, certificate: str | None) -> list:
    """The conditions of the criteria given (see the module)."""
    conditions = []
    if department and department.strip():
        value = department.strip()
        ids = select(Department.id).where(or_(Department.code == value.lower(), Department.name == value,
                                              Department.credit_code == value.upper()))
        conditions.append(or_(AuditEntry.department_code == value.lower(), AuditEntry.department_id.in_(ids)))
    if operation:
        conditions.append(or_(AuditEntry.operation == operation,
                              AuditEntry.operation.startswith(operation, autoescape=True)))
    if resource:
        conditions.append(AuditEntry.resource_code == resource)
    if result:
        conditions.append(AuditEntry.result.startswith(result, autoescape=True))
    if since is not None and until is not None and until <= since:
        raise InvalidInput(f"until: {until:%Y-%m-%d %H:%M} is not after since {since:%Y-%m-%d %H:%M}",
                           code="InvalidDate", field="until", zh="截止日期早于起始日期, 请调整检索的时间范围。")
    if since is not None:
        conditions.append(AuditEntry.recorded_at >= since)
    if until is not None:
        conditions.append(AuditEntry.recorded_at < until)
    if certificate:
        conditions.append(AuditEntry.certificate_serial == certificate.lower().lstrip("0"))
    return conditions


def _entries(session: Session, rows: list[AuditEntry]) -> list[Entry]:
    ids = {row.department_id for row in rows if row.department_id is not None}
    codes = {row.department_code for row in rows if row.department_code}
    known = session.execute(select(Department.id, Department.code, Department.name).where(
        or_(Department.id.in_(ids), Department.code.in_(codes)))).all() if ids or codes else []
    by_id, by_code = {d.id: d.name for d in known}, {d.code: d.name for d in known}
    names = [f.name for f in fields(Entry) if f.name != "department_name"]
    return [Entry(**{name: getattr(row, name) for name in names},
                  department_name=by_id.get(row.department_id) or by_code.get(row.department_code or ""))
            for row in rows]


@action("audit.search")
def search(ctx: Context, *, department: str | None = None, operation: str | None = None, resource: str | None = None,
           result: str | None = None, since: datetime | None = None, until: datetime | None = None,
           certificate: str | None = None, offset: int = 0, limit: int = 50, clamp: bool = False) -> Found:
    """The entries matching every criterion given, newest first, ``limit`` from ``offset``; with
    ``clamp``, an offset past the last entry gives the last page (the portal's pages)."""
    session = ctx.session
    conditions = _criteria(department, operation, resource, result, since, until, certificate)
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions)) or 0
    limit, offset = max(limit, 1), max(offset, 0)
    if clamp and total and offset >= total:
        offset = (total - 1) // limit * limit
    rows = list(session.scalars(select(AuditEntry).where(*conditions).order_by(AuditEntry.seq.desc())
                                .offset(offset).limit(limit)))
    asked = {"department": department, "operation": operation, "resource": resource, "result": result,
             "since": since, "until": until, "certificate": certificate}
    ctx.note(record_count=len(rows), query_digest=audit.query_digest({k: v for k, v in asked.items() if v}))
    return Found(total, offset, _entries(session, rows))


@action("audit.verify")
def verify(ctx: Context) -> audit.Report:
    """Check the whole chain, its signed checkpoints and the keyed chain after them (see :func:`trust.audit.verify`)."""
    report = audit.verify(ctx.sessions, ctx.settings)
    ctx.note(record_count=report.entries, detail=f"{report.entries} entries, {len(report.problems)} problems, "
                                                 f"{report.unsigned} after the last signed checkpoint")
    return report


@action("audit.checkpoint")
def checkpoint(ctx: Context) -> Checkpoint:
    """Sign the head of the chain with the platform key now."""
    row = audit.checkpoint(ctx.sessions, ctx.settings)
    ctx.note(detail=f"checkpoint #{row.id} at seq {row.seq}")
    return Checkpoint(row.id, row.seq, row.entry_hash, row.created)


@action("audit.export")
def export(ctx: Context, *, out: IO[str], format: str = "json", department: str | None = None,
           operation: str | None = None, resource: str | None = None, result: str | None = None,
           since: datetime | None = None, until: datetime | None = None, certificate: str | None = None) -> int:
    """Write the matching entries to ``out`` in chain order, as CSV or JSON; how many were written."""
    if format not in FORMATS:
        raise InvalidInput(f"format: {format!r} is not one of {', '.join(FORMATS)}", field="format",
                           zh="导出格式只能是 CSV 或 JSON。")
    conditions = _criteria(department, operation, resource, result, since, until, certificate)
    rows = _chain_order(ctx.session, conditions)
    count = _csv(out, rows) if format == "csv" else _json(ctx.session, out, rows)
    ctx.note(record_count=count)
    return count


def _chain_order(session: Session, conditions: list) -> Iterator[AuditEntry]:
    query = select(AuditEntry).where(*conditions).order_by(AuditEntry.seq)
    yield from session.scalars(query.execution_options(yield_per=2000))


def _exported(row: Any) -> dict[str, Any]:
    out = {}
    for name in audit.COLUMNS:
        value = getattr(row, name)
        out[name] = audit._timestamp(value) if isinstance(value, datetime) else value
    return out


def _csv(out: IO[str], rows: Iterator[AuditEntry]) -> int:
    """Every hashed column and the keyed hash; an empty cell is null, except in ``detail``."""
    writer = csv.writer(out)
    writer.writerow(audit.COLUMNS)
    count = 0
    for row in rows:
        values = _exported(row)
        writer.writerow(["" if values[name] is None else values[name] for name in audit.COLUMNS])
        count += 1
    return count


def _json(session: Session, out: IO[str], rows: Iterator[AuditEntry]) -> int:
    """``{"chain", "entries": [...], "checkpoints": [...]}`` - entries in chain order with every
    hashed column, and every checkpoint with its certificate and signature."""
    out.write(f'{{"chain": {json.dumps(audit.CHAIN)}, "genesis": {json.dumps(audit.GENESIS)},\n"entries": [\n')
    count = 0
    for row in rows:
        out.write((",\n" if count else "") + json.dumps(_exported(row), ensure_ascii=False, sort_keys=True))
        count += 1
    out.write('\n],\n"checkpoints": [\n')
    for i, row in enumerate(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq))):
        doc = {"id": row.id, "seq": row.seq, "entry_hash": row.entry_hash, "created": audit._timestamp(row.created),
               "reason": row.reason, "certificate": row.certificate, "signature": row.signature,
               "signed_text": audit._signed_text(row.seq, row.entry_hash, row.created, row.reason).decode()}
        out.write((",\n" if i else "") + json.dumps(doc, ensure_ascii=False, sort_keys=True))
    out.write("\n]}\n")
    return count
