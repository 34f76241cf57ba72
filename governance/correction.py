"""Data correction (纠错, S5): consumers report wrong values, providers answer by a deadline.

    correction.file    (a department that may read the resource)  -> open, deadline = now + GOVSHARE_CORRECTION_DAYS
    correction.answer  (the provider department's staff)           open -> accepted: what they will change
                                                                   open -> rejected: why the value stands
    correction.inbox   reports on the department's resources;  correction.list  the reports it filed

An open report past its deadline is *overdue* (computed, not stored).  The report names
the record by its key (公民身份号码, 统一社会信用代码, ...) and one field of the resource's
format; the reporter must be able to read the resource (``sharing.authorize``) and the
field must be visible to it.  Accepting records the provider's commitment; the corrected
value reaches the core tier the usual way, in the provider's next batch.

Free text has limits: the problem and the answer at most 500 characters (a paragraph: what is
wrong and why, what will change - longer belongs in a letter, not a table cell), a proposed
value and a record key at most 255 (the exchange contract's longest key and filter value).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory import lookups
from registry.clock import china_date
from registry.errors import Conflict, ExchangeError, GovernanceError, NotFound
from registry.models import CatalogueEntry, CoreRecord, CorrectionReport, Department
from trust.actions import Context, action
from trust.notices import notify

from .sharing import authorize, departments_seen, record_format

OPEN, ACCEPTED, REJECTED = "open", "accepted", "rejected"
STATUSES = (OPEN, ACCEPTED, REJECTED)
#: a report's status as the portal names it
STATUS_LABELS = {OPEN: "待答复", ACCEPTED: "已采纳", REJECTED: "未采纳"}
PROBLEM_LENGTH = ANSWER_LENGTH = 500
VALUE_LENGTH = KEY_LENGTH = 255


@dataclass(frozen=True)
class Report:
    """A 纠错 report as its readers see it."""

    id: int
    resource_code: str
    resource_name: str
    provider_code: str
    provider_name: str
    reporter_code: str
    reporter_name: str
    reported_by: str
    record_key: str
    field: str
    field_label: str  # the field's Chinese name in the resource's format
    problem: str
    proposed_value: str
    filed_at: datetime
    deadline: datetime
    status: str
    answered_by: str
    answered_at: datetime | None
    answer: str

    @classmethod
    def of(cls, session: Session, row: CorrectionReport) -> Report:
        fmt = record_format(session, row.entry)
        return cls(row.id, row.entry.resource_code, row.entry.name, row.entry.provider.code, row.entry.provider.name,
                   row.reporter.code, row.reporter.name, row.reported_by, row.record_key, row.field,
                   fmt.label(row.field) if fmt else row.field, row.problem, row.proposed_value, row.filed_at,
                   row.deadline, row.status, row.answered_by, row.answered_at, row.answer)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


@action("correction.file")
def file(ctx: Context, *, resource_code: str, record_key: str, field: str, problem: str,
         proposed_value: str = "") -> Report:
    """The caller's department reports that ``field`` of record ``record_key`` is wrong."""
    session, now = ctx.session, ctx.now
    reporter = session.get(Department, ctx.caller.department_id)
    entry = lookups.published_resource(session, resource_code)
    if entry.provider_id == reporter.id:
        raise GovernanceError(f"{reporter.name} provides {entry.resource_code}: correct it at the source and send "
                              "the record again", "resource",
                              zh=f"资源「{entry.name}」由本部门提供: 请在本部门的源数据中更正, 再重新报送该记录。")
    try:
        decision = authorize(session, reporter, entry, at=now)
    except ExchangeError as exc:
        raise GovernanceError(f"resource: {reporter.name} cannot read {entry.resource_code}, so it cannot report on "
                              f"it ({exc.message})", "resource",
                              zh=f"本部门不能读取资源「{entry.name}」, 因此不能对它纠错: {exc.user_message}") from exc
    problem = _text(problem, PROBLEM_LENGTH, "problem", "say what is wrong with the value", "问题描述")
    name = _field(session, entry, field, decision.fields)
    key = (record_key or "").strip()
    if not key:
        raise GovernanceError("key: required - the record's key (e.g. its 公民身份号码)", "key",
                              zh="请填写记录主键, 如公民身份号码或统一社会信用代码。")
    if len(key) > KEY_LENGTH:
        raise GovernanceError(f"key: at most {KEY_LENGTH} characters (it has {len(key)})", "key",
                              zh=f"记录主键最多 {KEY_LENGTH} 个字符。")
    if not entry.logical and session.scalar(select(CoreRecord.id).where(
            CoreRecord.resource_code == entry.resource_code, CoreRecord.record_key == key).limit(1)) is None:
        raise GovernanceError(f"key: resource {entry.resource_code} has no record {key}", "key",
                              zh=f"资源「{entry.name}」中没有主键为 {key} 的记录。")
    proposed = (proposed_value or "").strip()
    if len(proposed) > VALUE_LENGTH:
        raise GovernanceError(f"proposed: at most {VALUE_LENGTH} characters (it has {len(proposed)})", "proposed",
                              zh=f"建议值最多 {VALUE_LENGTH} 个字 (现有 {len(proposed)} 个)。")
    report = CorrectionReport(
        entry_id=entry.id, reporter_id=reporter.id, reported_by=ctx.caller.who, record_key=key, field=name,
        problem=problem, proposed_value=proposed, filed_at=now,
        deadline=now + timedelta(days=ctx.settings.correction_days), status=OPEN, answered_by="", answer="",
    )
    session.add(report)
    session.flush()
    ctx.note(detail=f"report #{report.id}: {name} of {key}")
    notify(ctx, department_id=entry.provider_id, capability="correction_answer", subject="correction", ref=report.id,
           text=f"{reporter.name}对「{entry.name}」中主键为 {key} 的记录提交了纠错 #{report.id}, "
                f"请于 {china_date(report.deadline)} 前答复。")
    return Report.of(session, report)


@action("correction.answer")
def answer(ctx: Context, *, report_id: int, accept: bool, text: str | None) -> Report:
    """The provider accepts (saying what it will change) or rejects (saying why) an open report."""
    session = ctx.session
    report = _report(session, report_id)
    ctx.note(resource_code=report.entry.resource_code)
    if not (text or "").strip():
        if accept:
            raise GovernanceError("change: required to accept - say what will be corrected and how", "change",
                                  zh="采纳时请填写将如何更正。")
        raise GovernanceError("reason: required to reject a correction report", "reason",
                              zh="不采纳时请填写理由。")
    text = text.strip()
    if len(text) > ANSWER_LENGTH:
        raise GovernanceError(f"{'change' if accept else 'reason'}: at most {ANSWER_LENGTH} characters "
                              f"(it has {len(text)})", "change" if accept else "reason",
                              zh=f"答复最多 {ANSWER_LENGTH} 个字 (现有 {len(text)} 个)。")
    session.execute(select(CorrectionReport.id).where(CorrectionReport.id == report.id).with_for_update())
    session.refresh(report)
    if report.status != OPEN:
        raise Conflict(f"correction report #{report.id} was already {report.status} by {report.answered_by}",
                       code="AlreadyAnswered", field="report",
                       zh=f"纠错报告 #{report.id} 已由 {report.answered_by} 答复 "
                          f"({STATUS_LABELS.get(report.status, report.status)})。")
    report.status = ACCEPTED if accept else REJECTED
    report.answer, report.answered_by, report.answered_at = text, ctx.caller.who, ctx.now
    session.flush()
    ctx.note(detail=f"report #{report.id} {report.status}")
    entry = report.entry
    notify(ctx, department_id=report.reporter_id, capability="correction_file", usernames=[report.reported_by],
           subject="correction_answer", ref=report.id, clears=("correction",),
           text=f"{entry.provider.name}{'采纳' if accept else '未采纳'}了本部门对「{entry.name}」的纠错 "
                f"#{report.id}: {text}")
    return Report.of(session, report)


def is_overdue(report: Report | CorrectionReport, now: datetime) -> bool:
    """Open and not answered by its deadline (逾期)."""
    return report.status == OPEN and now > report.deadline


@action("correction.inbox")
def inbox(ctx: Context, *, status: str | None = None, department: str | None = None) -> list[Report]:
    """Reports on the resources of the caller's department (an admin: ``department``'s or all), soonest due
    first."""
    stmt = (select(CorrectionReport).join(CatalogueEntry, CorrectionReport.entry_id == CatalogueEntry.id)
            .where(CatalogueEntry.provider_id.in_(departments_seen(ctx, department))))
    if status:
        stmt = stmt.where(CorrectionReport.status == status)
    rows = [Report.of(ctx.session, r) for r in ctx.session.scalars(stmt.order_by(CorrectionReport.deadline,
                                                                                   CorrectionReport.id))]
    ctx.note(record_count=len(rows))
    return rows


@action("correction.list")
def filed(ctx: Context, *, department: str | None = None) -> list[Report]:
    """Reports the caller's department filed (an admin: ``department``'s or all)."""
    rows = [Report.of(ctx.session, r) for r in ctx.session.scalars(select(CorrectionReport).where(
        CorrectionReport.reporter_id.in_(departments_seen(ctx, department))).order_by(CorrectionReport.id))]
    ctx.note(record_count=len(rows))
    return rows


def _report(session: Session, report_id: int) -> CorrectionReport:
    report = session.get(CorrectionReport, report_id)
    if report is None:
        raise NotFound(f"no correction report #{report_id}", code="ReportNotFound", field="report")
    return report


def _text(value: str | None, limit: int, name: str, what: str, zh_name: str) -> str:
    text = (value or "").strip()
    if not text:
        raise GovernanceError(f"{name}: required - {what}", name, zh=f"请填写{zh_name}。")
    if len(text) > limit:
        raise GovernanceError(f"{name}: at most {limit} characters (it has {len(text)})", name,
                              zh=f"{zh_name}最多 {limit} 个字 (现有 {len(text)} 个)。")
    return text


def _field(session: Session, entry: CatalogueEntry, field: str, visible: frozenset[str] | None) -> str:
    name = (field or "").strip()
    if not name:
        raise GovernanceError("field: required - which field of the record is wrong", "field",
                              zh="请选择有误的字段。")
    fmt = record_format(session, entry)
    if fmt is not None:
        by_label = {fmt.label(f.name): f.name for f in fmt.fields}
        known = {f.name for f in fmt.fields}
        name = by_label.get(name, name)
        if name not in known:
            raise GovernanceError(f"field: {field} is not a field of {fmt.qname}; its fields: "
                                  f"{', '.join(f.name for f in fmt.fields)}", "field",
                                  zh=f"{field} 不是资源「{entry.name}」的字段; 可选字段: "
                                     f"{'、'.join(fmt.label(f.name) for f in fmt.fields)}。")
    elif len(name) > 100:
        raise GovernanceError(f"field: at most 100 characters (it has {len(name)})", "field",
                              zh="字段名最多 100 个字符。")
    if visible is not None and name not in visible:
        label = fmt.label(name) if fmt else name
        raise GovernanceError(f"field: {name} is not among the fields granted to you in {entry.resource_code}",
                              "field", zh=f"字段「{label}」不在授权本部门读取的字段之内, 不能对它纠错。")
    return name
