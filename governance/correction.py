"""Data correction (纠错, S5): consumers report wrong values, providers answer by a deadline.

    file    (a department that may read the resource)  -> open, deadline = now + GOVSHARE_CORRECTION_DAYS
    answer  (the provider department's staff)           open -> accepted: what they will change
                                                        open -> rejected: why the value stands

An open report past its deadline is *overdue* (computed, not stored).  The report names
the record by its key (公民身份号码, 统一社会信用代码, ...) and one field of the resource's
format; the reporter must be able to read the resource (``sharing.authorize``) and the
field must be visible to it.  Accepting records the provider's commitment; the corrected
value reaches the core tier the usual way, in the provider's next batch.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory import lookups
from registry.clock import utcnow
from registry.errors import ExchangeError
from registry.models import CatalogueEntry, CoreRecord, CorrectionReport, User
from registry.settings import Settings

from .sharing import (
    GovernanceError,
    authorize,
    department_of,
    departments_seen,
    record_format,
    require_provider_staff,
)

OPEN, ACCEPTED, REJECTED = "open", "accepted", "rejected"
STATUSES = (OPEN, ACCEPTED, REJECTED)


def file_report(session: Session, settings: Settings, user: User, resource_code: str, *, record_key: str,
                field: str, problem: str, proposed_value: str = "", now: datetime | None = None) -> CorrectionReport:
    """A consumer department reports that ``field`` of record ``record_key`` is wrong."""
    now = now or utcnow()
    reporter = department_of(user)
    entry = lookups.published_resource(session, resource_code)
    if entry.provider_id == reporter.id:
        raise GovernanceError(f"{reporter.name} provides {entry.resource_code}: correct it at the source and send "
                              "the record again", "resource")
    try:
        decision = authorize(session, reporter, entry, at=now)
    except ExchangeError as exc:
        raise GovernanceError(f"resource: {reporter.name} cannot read {entry.resource_code}, so it cannot report on "
                              f"it ({exc.message})", "resource") from exc
    if not (problem or "").strip():
        raise GovernanceError("problem: required - say what is wrong with the value", "problem")
    name = _field(session, entry, field, decision.fields)
    key = (record_key or "").strip()
    if not key:
        raise GovernanceError("key: required - the record's key (e.g. its 公民身份号码)", "key")
    if not entry.logical and session.scalar(select(CoreRecord.id).where(
            CoreRecord.resource_code == entry.resource_code, CoreRecord.record_key == key).limit(1)) is None:
        raise GovernanceError(f"key: resource {entry.resource_code} has no record {key}", "key")
    report = CorrectionReport(
        entry_id=entry.id, reporter_id=reporter.id, reported_by=user.username, record_key=key, field=name,
        problem=problem.strip(), proposed_value=(proposed_value or "").strip(), filed_at=now,
        deadline=now + timedelta(days=settings.correction_days), status=OPEN, answered_by="", answer="",
    )
    session.add(report)
    session.flush()
    return report


def answer(session: Session, user: User, report_id: int, *, accept: bool, text: str | None,
           now: datetime | None = None) -> CorrectionReport:
    """The provider accepts (saying what it will change) or rejects (saying why) an open report."""
    now = now or utcnow()
    report = session.get(CorrectionReport, report_id)
    if report is None:
        raise GovernanceError(f"no correction report #{report_id}", "report")
    require_provider_staff(user, report.entry, "answer correction reports on")
    if not (text or "").strip():
        if accept:
            raise GovernanceError("change: required to accept - say what will be corrected and how", "change")
        raise GovernanceError("reason: required to reject a correction report", "reason")
    session.execute(select(CorrectionReport.id).where(CorrectionReport.id == report.id).with_for_update())
    session.refresh(report)
    if report.status != OPEN:
        raise GovernanceError(f"correction report #{report.id} was already {report.status} by {report.answered_by}",
                              "report")
    report.status = ACCEPTED if accept else REJECTED
    report.answer, report.answered_by, report.answered_at = text.strip(), user.username, now
    session.flush()
    return report


def is_overdue(report: CorrectionReport, now: datetime) -> bool:
    """Open and not answered by its deadline (逾期)."""
    return report.status == OPEN and now > report.deadline


def inbox(session: Session, user: User, *, status: str | None = None,
          department: str | None = None) -> list[CorrectionReport]:
    """Reports on the resources of the user's department (an admin: ``department``'s or all), soonest due first."""
    stmt = (select(CorrectionReport).join(CatalogueEntry, CorrectionReport.entry_id == CatalogueEntry.id)
            .where(CatalogueEntry.provider_id.in_(departments_seen(session, user, department))))
    if status:
        stmt = stmt.where(CorrectionReport.status == status)
    return list(session.scalars(stmt.order_by(CorrectionReport.deadline, CorrectionReport.id)))


def filed(session: Session, user: User, *, department: str | None = None) -> list[CorrectionReport]:
    """Reports the user's department filed (an admin: ``department``'s or all)."""
    return list(session.scalars(select(CorrectionReport).where(
        CorrectionReport.reporter_id.in_(departments_seen(session, user, department))).order_by(CorrectionReport.id)))


def _field(session: Session, entry: CatalogueEntry, field: str, visible: frozenset[str] | None) -> str:
    name = (field or "").strip()
    if not name:
        raise GovernanceError("field: required - which field of the record is wrong", "field")
    fmt = record_format(session, entry)
    if fmt is not None:
        by_label = {fmt.label(f.name): f.name for f in fmt.fields}
        known = {f.name for f in fmt.fields}
        name = by_label.get(name, name)
        if name not in known:
            raise GovernanceError(f"field: {field} is not a field of {fmt.qname}; its fields: "
                                  f"{', '.join(f.name for f in fmt.fields)}", "field")
    if visible is not None and name not in visible:
        raise GovernanceError(f"field: {name} is not among the fields granted to you in {entry.resource_code}",
                              "field")
    return name
