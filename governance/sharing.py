"""Sharing governance (共享为原则、不共享为例外, S3): who may read which resource, which fields.

``authorize`` is the one decision every read goes through (``exchange.output.read_view``
calls it for SOAP; the portal and the command line ask it through ``sharing.view``)::

    共享类型      the provider       another registered department
    无条件共享    everything, clear  every field, sensitive ones masked (governance.masking)
    有条件共享    everything, clear  only with an unexpired, unrevoked grant: its fields, masked
    不予共享      everything, clear  never (NotShared)

A grant (授权) comes from a 使用申请 the provider approved, or is given directly by the
provider ('policy').  A grant is the consumer department's, or one of its application systems'
(应用系统, ``SharingGrant.system_id``): a system's grant lets only a caller acting as that system read
(one signing with the system's certificate); a department's grant lets the department's every system,
its own certificate and its people read.  The application life cycle, as actions (``trust.actions``; who may run
each is its check in ``trust.auth``)::

    sharing.apply     (consumer department)  -> submitted, deadline = now + GOVSHARE_APPLICATION_DAYS
    sharing.approve   (provider department)  submitted -> approved, and a grant for the requested
                                             period (the provider may narrow fields and period)
    sharing.refuse    (provider, reason)     submitted -> refused
    sharing.withdraw  (consumer)             submitted -> withdrawn
                      (nobody)               submitted whose requested period ended -> expired
    sharing.grant     (provider)             a grant without an application
    sharing.revoke    (provider, reason)     ends a grant at once
    sharing.inbox, sharing.applications, sharing.grants   the department's lists (an admin: any's)
    sharing.mask, sharing.masking            set / read how a resource's fields are masked (脱敏)
    sharing.view      (any department)       what it may read of a resource, and why

A submitted application past its deadline is *overdue* (computed, not stored).  Deadlines
count calendar days, not working days: the platform keeps no holiday calendar.  Requested
periods are China dates (UTC+8), both ends inclusive; grants store them as UTC instants.

Free text has limits: a 用途 and a reason (refusal, revocation) at most 200 characters - the
exchange contract's ``purpose`` element has that limit, and both are a sentence or two shown
in one cell of the portal's tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.orm import Session, object_session

from directory.lookups import base_of_class, department_by_code, published_resource
from registry.clock import china_date, china_midnight, utcnow
from registry.errors import Conflict, ExchangeError, GovernanceError, NotFound
from registry.models import (
    AppSystem,
    CatalogueEntry,
    CoreRecord,
    Department,
    MaskingRule,
    SharingApplication,
    SharingGrant,
)
from trust.actions import Context, action
from trust.notices import notify, tell
from xsd.registry import Format, find, formats

from . import masking
from .masking import Masking
from .onboarding import system_by_code

UNCONDITIONAL, CONDITIONAL, NOT_SHARED = "无条件共享", "有条件共享", "不予共享"
SUBMITTED, APPROVED, REFUSED, WITHDRAWN, EXPIRED = "submitted", "approved", "refused", "withdrawn", "expired"
APPLICATION_STATUSES = (SUBMITTED, APPROVED, REFUSED, WITHDRAWN, EXPIRED)
#: an application's status as the portal names it
APPLICATION_LABELS = {SUBMITTED: "待答复", APPROVED: "已同意", REFUSED: "已拒绝", WITHDRAWN: "已撤回",
                      EXPIRED: "已过期"}
#: the longest 用途 accepted (the exchange contract's purpose element has the same limit)
PURPOSE_LENGTH = 200
#: the longest reason of a refusal or a revocation (told to the consumer beside its 用途)
REASON_LENGTH = 200


@dataclass(frozen=True)
class Decision:
    """Why ``requester`` may read ``entry``, and what of it."""

    requester: Department
    entry: CatalogueEntry
    basis: str  # provider | unconditional | grant
    fields: frozenset[str] | None  # None: every field
    masking: Masking | None  # None: shown as stored
    grant_ids: tuple[int, ...] = ()
    purpose: str | None = None


# --------------------------------------------------------------------------- the decision


def authorize(session: Session, requester: Department, entry: CatalogueEntry, *, purpose: str | None = None,
              at: datetime | None = None, system_id: int | None = None,
              rules: Mapping[str, str] | None = None, grants: Sequence[SharingGrant] | None = None) -> Decision:
    """What ``requester`` - acting as its application system ``system_id``, or as the department itself
    (None) - may read of ``entry`` at ``at``; raises ExchangeError NotShared / NotAuthorized.  ``rules``:
    the entry's masking rules (``masking.rules_of``), and ``grants``: its ``active_grants`` (by id), when
    the caller read them already (in the statement that found the requester and the entry)."""
    at = at or utcnow()
    if entry.provider_id == requester.id:
        return Decision(requester, entry, "provider", None, None, purpose=purpose)
    if entry.sharing_type == NOT_SHARED:
        raise ExchangeError("NotShared", f"resource {entry.resource_code} ({entry.name}) is 不予共享 and is never "
                            f"served to other departments: {entry.not_shared_basis or 'not shared'}",
                            zh=f"资源「{entry.name}」为不予共享资源 (依据: {entry.not_shared_basis or '未注明'}), "
                               "只向提供部门开放。")
    grants = active_grants(session, requester.id, entry.id, at, system_id) if grants is None else list(grants)
    if entry.sharing_type != UNCONDITIONAL and not grants:  # refused before the masking rules are read
        english, chinese = _why_not(session, requester, entry, at, system_id)
        raise ExchangeError("NotAuthorized", english, zh=chinese)
    rules = masking.rules_of(session, entry.id) if rules is None else rules
    clear = frozenset(f for g in grants for f in g.clear_fields or ())
    ids = tuple(g.id for g in grants)
    if entry.sharing_type == UNCONDITIONAL:
        return Decision(requester, entry, "unconditional", None, Masking(rules, clear), ids, purpose)
    fields = None if any(g.fields is None for g in grants) else frozenset(f for g in grants for f in g.fields)
    return Decision(requester, entry, "grant", fields, Masking(rules, clear), ids, purpose)


def active_grants(session: Session, consumer_id: int, entry_id: int, at: datetime,
                  system_id: int | None = None) -> list[SharingGrant]:
    """The consumer's grants of a resource in force at ``at``: the department's, and those of the
    application system ``system_id`` it acts as (a system's grant is no other caller's)."""
    statement = _ACTIVE_GRANTS if system_id is None else _ACTIVE_GRANTS_OF_SYSTEM
    return list(session.scalars(statement, {"consumer_id": consumer_id, "entry_id": entry_id, "at": at,
                                            "system_id": system_id}))


def held_in_force(consumer_id, entry_id, at, system_id=None):
    """The condition a grant of ``active_grants`` meets, for statements of its own or that read the grants
    beside other rows (each argument a value or a SQL expression; ``system_id`` None: the department's
    grants only)."""
    return and_(SharingGrant.consumer_id == consumer_id, SharingGrant.entry_id == entry_id, _held_by(system_id),
                *in_force(at))


def _active_grants(system: bool):
    """The statement of ``active_grants``, built once (its parameters: consumer_id, entry_id, at, system_id)."""
    return select(SharingGrant).where(held_in_force(
        bindparam("consumer_id"), bindparam("entry_id"), bindparam("at", type_=SharingGrant.valid_from.type),
        bindparam("system_id") if system else None,
    )).order_by(SharingGrant.id)


def _held_by(system_id):
    """The grants a caller acting as ``system_id`` holds: its department's, and its system's own."""
    department = SharingGrant.system_id.is_(None)
    return department if system_id is None else or_(department, SharingGrant.system_id == system_id)


def in_force(at: datetime) -> tuple:
    """The conditions of a grant in force at ``at``: begun, not ended, not revoked."""
    return (SharingGrant.valid_from <= at, or_(SharingGrant.valid_to.is_(None), SharingGrant.valid_to > at),
            or_(SharingGrant.revoked_at.is_(None), SharingGrant.revoked_at > at))


_ACTIVE_GRANTS, _ACTIVE_GRANTS_OF_SYSTEM = _active_grants(False), _active_grants(True)


def _why_not(session: Session, requester: Department, entry: CatalogueEntry, at: datetime,
             system_id: int | None) -> tuple[str, str]:
    """Why ``requester`` has no grant, and what it can do: in English for SOAP and the command line (with
    the command to run), in Chinese for the portal (with the portal's page)."""
    facts = _refusal_facts(session, requester, [entry.id], at, system_id)
    return _why_not_said(requester, entry, at, *(facts[kind].get(entry.id) for kind in _FACTS))


def refusals(session: Session, requester: Department, entries: Sequence[CatalogueEntry], at: datetime,
             system_id: int | None = None) -> dict[int, ExchangeError]:
    """Of ``entries``, those ``requester`` (as its system ``system_id``) may not read for want of a grant -
    有条件共享 resources of another department with no grant in force - by entry id, each with the
    refusal ``authorize`` would raise: four statements however many entries (the unified query asks
    every resource of a base database).  The others are for ``authorize`` to decide."""
    conditional = [e for e in entries if e.sharing_type == CONDITIONAL and e.provider_id != requester.id]
    if not conditional:
        return {}
    ids = [e.id for e in conditional]
    held = set(session.scalars(select(SharingGrant.entry_id).where(
        SharingGrant.consumer_id == requester.id, SharingGrant.entry_id.in_(ids), _held_by(system_id),
        *in_force(at))))
    refused = [e for e in conditional if e.id not in held]
    facts = _refusal_facts(session, requester, [e.id for e in refused], at, system_id) if refused else {}
    said = {e.id: _why_not_said(requester, e, at, *(facts[kind].get(e.id) for kind in _FACTS)) for e in refused}
    return {entry_id: ExchangeError("NotAuthorized", english, zh=chinese)
            for entry_id, (english, chinese) in said.items()}


_FACTS = ("others", "last", "pending")


def _refusal_facts(session: Session, requester: Department, entry_ids: Sequence[int], at: datetime,
                   system_id: int | None) -> dict[str, dict[int, object]]:
    """What tells why each of ``entry_ids`` is refused, by entry id: ``others``, the code of an
    application system of the requester's holding a grant in force (another caller's); ``last``, the
    requester's newest grant; ``pending``, its newest 使用申请 awaiting an answer."""
    others: dict[int, object] = {}
    for entry_id, code in session.execute(
            select(SharingGrant.entry_id, AppSystem.code).join(AppSystem, SharingGrant.system_id == AppSystem.id)
            .where(SharingGrant.consumer_id == requester.id, SharingGrant.entry_id.in_(entry_ids), *in_force(at))
            .order_by(AppSystem.code.desc())):
        others[entry_id] = code  # (ordered descending: the first code is kept last)
    last = {grant.entry_id: grant for grant in session.scalars(
        select(SharingGrant).where(SharingGrant.consumer_id == requester.id, SharingGrant.entry_id.in_(entry_ids),
                                   _held_by(system_id)).order_by(SharingGrant.id))}
    pending = {application.entry_id: application for application in session.scalars(
        select(SharingApplication).where(SharingApplication.consumer_id == requester.id,
                                         SharingApplication.entry_id.in_(entry_ids),
                                         SharingApplication.status == SUBMITTED).order_by(SharingApplication.id))}
    return {"others": others, "last": last, "pending": pending}


def _why_not_said(requester: Department, entry: CatalogueEntry, at: datetime, others: str | None,
                  last: SharingGrant | None, pending: SharingApplication | None) -> tuple[str, str]:
    """The refusal's English and Chinese, from its facts (``_refusal_facts``)."""
    head = (f"{requester.name} has no grant for resource {entry.resource_code} ({entry.name}), which is 有条件共享"
            f" ({entry.sharing_condition or 'conditional'})")
    zh = f"{requester.name}尚无读取资源「{entry.name}」({entry.resource_code}, 有条件共享) 的有效授权"
    # the caller holds none in force (else it would read): one in force is another system's
    if others is not None:
        return (head + f"; its grant is for its application system {others} only, and this request is not that "
                "system's (sign with the system's certificate)",
                zh + f"; 现有授权仅限本部门的应用系统 {others} 使用, 请以该系统的证书调用。")
    if last is not None and last.revoked_at is not None and last.revoked_at <= at:
        head += f"; grant #{last.id} was revoked on {_day(last.revoked_at)}: {last.revoke_reason}"
        zh += f"; 授权 #{last.id} 已于 {_day(last.revoked_at)} 撤销 (理由: {last.revoke_reason})"
    elif last is not None and last.valid_to is not None and last.valid_to <= at:
        head += f"; grant #{last.id} expired after {_day(last.valid_to - timedelta(seconds=1))}"
        zh += f"; 授权 #{last.id} 已于 {_day(last.valid_to - timedelta(seconds=1))} 到期"
    elif last is not None and last.valid_from > at:
        return (head + f"; grant #{last.id} starts on {_day(last.valid_from)}",
                zh + f"; 授权 #{last.id} 自 {_day(last.valid_from)} 起生效。")
    if pending is not None:
        return (head + (f"; application #{pending.id} awaits the provider's answer (due by "
                        f"{_day(pending.deadline)})"),
                zh + (f"; 本部门的使用申请 #{pending.id} 正等待提供方答复 (答复期限 {_day(pending.deadline)}), "
                      "可在「我的申请」页查看。"))
    return (head + (f"; apply with: govshare sharing apply --user USER --resource {entry.resource_code} "
                    "--purpose PURPOSE --until YYYY-MM-DD [--fields a,b]"),
            zh + "。如需使用, 请在资源目录中打开该资源, 点击「申请使用」提交使用申请。")


# --------------------------------------------------------------------------- applications (使用申请)


@dataclass(frozen=True)
class Application:
    """A 使用申请 as its readers see it (a plain result: it needs no session)."""

    id: int
    resource_code: str
    resource_name: str
    provider_code: str
    provider_name: str
    consumer_code: str
    consumer_name: str
    purpose: str
    fields: list[str] | None
    valid_from: date
    valid_to: date
    status: str
    applicant: str
    submitted_at: datetime
    deadline: datetime
    decided_by: str
    decided_at: datetime | None
    reason: str
    field_labels: list[str] | None = None  # the fields by their Chinese names; None: every field
    system_code: str | None = None  # the application system (应用系统) that will read; None: the department

    @classmethod
    def of(cls, session: Session, row: SharingApplication) -> Application:
        return cls(row.id, row.entry.resource_code, row.entry.name, row.entry.provider.code, row.entry.provider.name,
                   row.consumer.code, row.consumer.name, row.purpose, row.fields, row.valid_from, row.valid_to,
                   row.status, row.applicant, row.submitted_at, row.deadline, row.decided_by, row.decided_at,
                   row.reason, _labels(session, row.entry, row.fields).split("、") if row.fields else None,
                   _system_code(session, row.system_id))

    @property
    def status_label(self) -> str:
        return APPLICATION_LABELS.get(self.status, self.status)


@action("sharing.apply")
def apply(ctx: Context, *, resource_code: str, purpose: str, valid_to: date | None, valid_from: date | None = None,
          fields: Sequence[str] | None = None, system: str | None = None) -> Application:
    """File a 使用申请 for the caller's department - for one of its active application systems (应用系统,
    ``system``: its code, e.g. ``mzj.dibao``) or the whole department; the provider answers by the deadline."""
    session, now = ctx.session, ctx.now
    consumer = session.get(Department, ctx.caller.department_id)
    entry = published_resource(session, resource_code)
    if entry.provider_id == consumer.id:
        raise GovernanceError(f"resource {entry.resource_code} is {consumer.name}'s own: no application needed",
                              "resource", zh=f"{entry.name} 是本部门的资源, 无需申请。")
    if entry.sharing_type == NOT_SHARED:
        raise GovernanceError(f"resource {entry.resource_code} is 不予共享: it is never served, so it cannot be "
                              f"applied for ({entry.not_shared_basis})", "resource",
                              zh=f"{entry.name} 为不予共享资源 (依据: {entry.not_shared_basis}), 不能申请。")
    if entry.sharing_type == UNCONDITIONAL:
        raise GovernanceError(f"resource {entry.resource_code} is 无条件共享: every registered department reads it "
                              "without an application", "resource",
                              zh=f"{entry.name} 为无条件共享资源, 各部门无需申请即可使用。")
    if not (purpose or "").strip():
        raise GovernanceError("purpose: required - say what the data will be used for (用途)", "purpose",
                              zh="请填写用途: 说明数据将用于哪项业务。")
    if len(purpose.strip()) > PURPOSE_LENGTH:
        raise GovernanceError(f"purpose: at most {PURPOSE_LENGTH} characters (it has {len(purpose.strip())})",
                              "purpose", zh=f"用途最多 {PURPOSE_LENGTH} 个字 (现有 {len(purpose.strip())} 个)。")
    valid_from = valid_from or china_date(now)
    if valid_to is None:
        raise GovernanceError("until: required - the last day the data is needed (申请期限)", "until",
                              zh="请填写申请期限: 需要使用数据的最后一天。")
    if valid_to < valid_from:
        raise GovernanceError(f"until: {valid_to} is before the start {valid_from}", "until",
                              zh=f"申请期限 {valid_to} 早于开始日期 {valid_from}。")
    if valid_to < china_date(now):
        raise GovernanceError(f"until: {valid_to} has already passed", "until", zh=f"申请期限 {valid_to} 已经过去。")
    reader = consumer_system(session, consumer, system)
    system_id = reader.id if reader is not None else None
    pending = session.scalar(select(SharingApplication.id).where(
        SharingApplication.consumer_id == consumer.id, SharingApplication.entry_id == entry.id,
        SharingApplication.system_id.is_(None) if system_id is None else SharingApplication.system_id == system_id,
        SharingApplication.status == SUBMITTED))
    if pending is not None:
        raise GovernanceError(f"application #{pending} for {entry.resource_code} already awaits an answer; "
                              "withdraw it first to apply differently", "resource",
                              zh=f"本部门对该资源的使用申请 #{pending} 尚待答复, "
                                 "如需改变申请内容请先在「我的申请」页撤回。")
    application = SharingApplication(
        consumer_id=consumer.id, system_id=system_id, entry_id=entry.id, purpose=purpose.strip(),
        fields=_checked_fields(session, entry, fields), valid_from=valid_from, valid_to=valid_to,
        status=SUBMITTED, applicant=ctx.caller.who, submitted_at=now,
        deadline=now + timedelta(days=ctx.settings.application_days), decided_by="", reason="",
    )
    session.add(application)
    session.flush()
    notify(ctx, department_id=entry.provider_id, capability="inbox", subject="application", ref=application.id,
           text=f"{consumer.name}申请使用「{entry.name}」(使用申请 #{application.id}), "
                f"请于 {_day(application.deadline)} 前答复。")
    return Application.of(session, application)


@action("sharing.approve")
def approve(ctx: Context, *, application_id: int, fields: Sequence[str] | None = None, valid_to: date | None = None,
            clear: Sequence[str] = ()) -> Grant:
    """Approve a submitted application: a grant for its fields and period, or narrower ones."""
    session, now = ctx.session, ctx.now
    application = _pending(session, application_id, "approve", now)
    entry = application.entry
    ctx.note(resource_code=entry.resource_code)
    granted = application.fields
    if fields:
        narrowed = _checked_fields(session, entry, fields)
        wider = sorted(set(narrowed) - set(granted)) if granted is not None else []
        if wider:
            raise GovernanceError(f"fields: {', '.join(wider)} were not applied for; a grant may narrow the "
                                  f"application's fields ({', '.join(granted)}), not widen them", "fields",
                                  zh=f"字段 {_labels(session, entry, wider)} 不在申请范围内: 授权只能缩小申请的字段 "
                                     f"({_labels(session, entry, granted)}), 不能扩大。")
        granted = narrowed
    until = application.valid_to
    if valid_to is not None:
        if valid_to > application.valid_to:
            raise GovernanceError(f"until: {valid_to} is after the applied period's end {application.valid_to}",
                                  "until", zh=f"授权期限 {valid_to} 晚于申请的期限 {application.valid_to}。")
        if valid_to < application.valid_from:
            raise GovernanceError(f"until: {valid_to} is before the applied period's start "
                                  f"{application.valid_from}", "until",
                                  zh=f"授权期限 {valid_to} 早于申请的开始日期 {application.valid_from}。")
        until = valid_to
    application.status, application.decided_by, application.decided_at = APPROVED, ctx.caller.who, now
    grant = SharingGrant(
        consumer_id=application.consumer_id, system_id=application.system_id, entry_id=entry.id, fields=granted,
        clear_fields=_checked_fields(session, entry, clear) or [], valid_from=china_midnight(application.valid_from),
        valid_to=china_midnight(until + timedelta(days=1)), source="application", application_id=application.id,
        granted_by=ctx.caller.who, granted_at=now, revoked_by="", revoke_reason="",
    )
    session.add(grant)
    session.flush()
    ctx.note(detail=f"application #{application.id}: grant #{grant.id} to {application.consumer.code}")
    narrowed = "部分字段, " if granted != application.fields else ""
    _tell_applicant(ctx, application, f"{entry.provider.name}已同意本部门对「{entry.name}」的使用申请 "
                                      f"#{application.id} ({narrowed}授权至 {until})。")
    return Grant.of(grant, now)


def _tell_applicant(ctx: Context, application: SharingApplication, text: str) -> None:
    """Tell the applicant, and their department's other consumers, of the answer to their application."""
    notify(ctx, department_id=application.consumer_id, capability="apply", usernames=[application.applicant],
           subject="application", ref=application.id, text=text, clears=("application",))


@action("sharing.refuse")
def refuse(ctx: Context, *, application_id: int, reason: str | None) -> Application:
    """Refuse a submitted application; the reason is required and told to the consumer."""
    session = ctx.session
    reason = _reason(reason, "refuse an application", "拒绝理由")
    application = _pending(session, application_id, "refuse", ctx.now)
    ctx.note(resource_code=application.entry.resource_code, detail=f"application #{application.id}: {reason}")
    application.status, application.decided_by, application.decided_at = REFUSED, ctx.caller.who, ctx.now
    application.reason = reason
    session.flush()
    entry = application.entry
    _tell_applicant(ctx, application, f"{entry.provider.name}拒绝了本部门对「{entry.name}」的使用申请 "
                                      f"#{application.id}: {reason}")
    return Application.of(session, application)


@action("sharing.withdraw")
def withdraw(ctx: Context, *, application_id: int) -> Application:
    """The consumer takes back its own submitted application."""
    session = ctx.session
    application = _application(session, application_id)
    ctx.note(resource_code=application.entry.resource_code, detail=f"application #{application.id}")
    expire_applications(session, ctx.now)
    if application.status != SUBMITTED:
        raise Conflict(f"application #{application.id} is {application.status}; only a submitted one can be "
                       "withdrawn", code="AlreadyAnswered", field="application",
                       zh=f"使用申请 #{application.id} {_label(application)}, 只有待答复的申请可以撤回。")
    application.status, application.decided_by, application.decided_at = WITHDRAWN, ctx.caller.who, ctx.now
    session.flush()
    entry = application.entry
    notify(ctx, department_id=entry.provider_id, capability="inbox", subject="application", ref=application.id,
           text=f"{application.consumer.name}撤回了对「{entry.name}」的使用申请 #{application.id}, 无需再答复。",
           clears=("application",))
    return Application.of(session, application)


def is_overdue(application: Application | SharingApplication, now: datetime) -> bool:
    """Submitted and not answered by its deadline (逾期)."""
    return application.status == SUBMITTED and now > application.deadline


@action("sharing.inbox")
def inbox(ctx: Context, *, status: str | None = None, department: str | None = None) -> list[Application]:
    """Applications to the resources of the caller's department (an admin: of ``department`` or all), soonest
    due first."""
    session = ctx.session
    expire_applications(session, ctx.now)
    stmt = select(SharingApplication).join(CatalogueEntry, SharingApplication.entry_id == CatalogueEntry.id)
    stmt = stmt.where(CatalogueEntry.provider_id.in_(departments_seen(ctx, department)))
    if status:
        stmt = stmt.where(SharingApplication.status == status)
    rows = [Application.of(session, a) for a in session.scalars(stmt.order_by(SharingApplication.deadline,
                                                                      SharingApplication.id))]
    ctx.note(record_count=len(rows))
    return rows


@dataclass(frozen=True)
class Review:
    """One 使用申请 as its page shows it: the application, and the fields it asks for with how each is masked
    for consumers (every field of the resource's format when it asks for all) - what the provider narrows
    and what it may show in clear (明文) when it approves."""

    application: Application
    fields: tuple[FieldMasking, ...]

    @property
    def masked(self) -> list[FieldMasking]:
        return [f for f in self.fields if f.method != masking.NONE]


@action("sharing.application")
def application(ctx: Context, *, application_id: int) -> Review:
    """One application, to the staff of the department that provides the resource or of the one that
    applied (an admin: any)."""
    session = ctx.session
    expire_applications(session, ctx.now)
    row = _application(session, application_id)
    ctx.note(resource_code=row.entry.resource_code, detail=f"application #{row.id}")
    methods = {n: (m, o) for n, m, o in masking_table(session, row.entry)}
    fmt = record_format(session, row.entry)
    names = row.fields if row.fields is not None else list(methods)
    fields = (FieldMasking(n, fmt.label(n) if fmt else n, *methods.get(n, (masking.default_method(n), "default")))
              for n in names)
    return Review(Application.of(session, row), tuple(fields))


@action("sharing.applications")
def applications(ctx: Context, *, department: str | None = None) -> list[Application]:
    """Applications the caller's department filed (an admin: ``department``'s or all)."""
    session = ctx.session
    expire_applications(session, ctx.now)
    rows = [Application.of(session, a) for a in session.scalars(
        select(SharingApplication).where(SharingApplication.consumer_id.in_(departments_seen(ctx, department)))
        .order_by(SharingApplication.id))]
    ctx.note(record_count=len(rows))
    return rows


# --------------------------------------------------------------------------- grants (授权)


@dataclass(frozen=True)
class Grant:
    """A grant (授权) as its readers see it; ``state`` at the time the action ran."""

    id: int
    resource_code: str
    resource_name: str
    provider_code: str
    consumer_code: str
    consumer_name: str
    fields: list[str] | None  # None: every field
    clear_fields: list[str]
    valid_from: date  # China dates, both inclusive
    last_day: date | None  # None: no end
    source: str  # application | policy
    application_id: int | None
    granted_by: str
    granted_at: datetime
    state: str  # active | pending | expired | revoked
    revoked_at: datetime | None
    revoked_by: str
    revoke_reason: str
    system_code: str | None = None  # the application system (应用系统) it is for; None: the whole department

    @classmethod
    def of(cls, row: SharingGrant, now: datetime) -> Grant:
        last_day = china_date(row.valid_to - timedelta(seconds=1)) if row.valid_to is not None else None
        return cls(row.id, row.entry.resource_code, row.entry.name, row.entry.provider.code, row.consumer.code,
                   row.consumer.name, row.fields, list(row.clear_fields or ()), china_date(row.valid_from), last_day,
                   row.source, row.application_id, row.granted_by, row.granted_at, grant_state(row, now),
                   row.revoked_at, row.revoked_by, row.revoke_reason, _system_code(object_session(row), row.system_id))


@action("sharing.grant")
def grant(ctx: Context, *, resource_code: str, consumer_code: str, fields: Sequence[str] | None = None,
          clear: Sequence[str] = (), valid_to: date | None = None, valid_from: date | None = None,
          system: str | None = None) -> Grant:
    """The provider grants a department - or only one of its active application systems (``system``) - access
    directly ('policy'), without an application."""
    session, now = ctx.session, ctx.now
    entry = published_resource(session, resource_code)
    consumer = department_by_code(session, consumer_code)
    if consumer.id == entry.provider_id:
        raise GovernanceError(f"{consumer.name} provides {entry.resource_code}: it needs no grant", "consumer",
                              zh=f"{consumer.name}是资源「{entry.name}」的提供部门, 无需授权。")
    if entry.sharing_type == NOT_SHARED:
        raise GovernanceError(f"resource {entry.resource_code} is 不予共享: it is never served, not even by grant",
                              "resource", zh=f"{entry.name} 为不予共享资源, 不能授权给其他部门。")
    start = valid_from or china_date(now)
    if valid_to is not None and valid_to < start:
        raise GovernanceError(f"until: {valid_to} is before the start {start}", "until",
                              zh=f"授权期限 {valid_to} 早于开始日期 {start}。")
    reader = consumer_system(session, consumer, system)
    record = SharingGrant(
        consumer_id=consumer.id, system_id=reader.id if reader is not None else None, entry_id=entry.id,
        fields=_checked_fields(session, entry, fields),
        clear_fields=_checked_fields(session, entry, clear) or [], valid_from=china_midnight(start),
        valid_to=china_midnight(valid_to + timedelta(days=1)) if valid_to else None, source="policy",
        granted_by=ctx.caller.who, granted_at=now, revoked_by="", revoke_reason="",
    )
    session.add(record)
    session.flush()
    ctx.note(detail=f"grant #{record.id} to {reader.code if reader is not None else consumer.code}")
    until = f"至 {valid_to}" if valid_to else "长期有效"
    notify(ctx, department_id=consumer.id, capability="apply", subject="grant", ref=entry.resource_code,
           text=f"{entry.provider.name}授权{reader.name if reader is not None else '本部门'}读取「{entry.name}」"
                f"(授权 #{record.id}, {until})。")
    return Grant.of(record, now)


@action("sharing.revoke")
def revoke(ctx: Context, *, grant_id: int, reason: str | None) -> Grant:
    """End a grant at once (the provider or an admin); the reason is required."""
    reason = _reason(reason, "revoke a grant", "撤销理由")
    record = _grant(ctx.session, grant_id)
    ctx.note(resource_code=record.entry.resource_code, detail=f"grant #{record.id}: {reason}")
    if record.revoked_at is not None:
        raise Conflict(f"grant #{grant_id} was already revoked on {_day(record.revoked_at)}", code="AlreadyAnswered",
                       field="grant", zh=f"授权 #{grant_id} 已于 {_day(record.revoked_at)} 撤销。")
    record.revoked_at, record.revoked_by, record.revoke_reason = ctx.now, ctx.caller.who, reason
    ctx.session.flush()
    entry = record.entry
    notify(ctx, department_id=record.consumer_id, capability="apply", subject="grant", ref=entry.resource_code,
           text=f"{entry.provider.name}撤销了本部门读取「{entry.name}」的授权 #{record.id}: {reason}")
    return Grant.of(record, ctx.now)


@action("sharing.grants")
def grants(ctx: Context, *, department: str | None = None) -> list[Grant]:
    """Grants the caller's department gave or holds (an admin: ``department``'s or all)."""
    seen = departments_seen(ctx, department)
    rows = [Grant.of(g, ctx.now) for g in ctx.session.scalars(
        select(SharingGrant).join(CatalogueEntry, SharingGrant.entry_id == CatalogueEntry.id)
        .where(or_(SharingGrant.consumer_id.in_(seen), CatalogueEntry.provider_id.in_(seen)))
        .order_by(SharingGrant.id))]
    ctx.note(record_count=len(rows))
    return rows


def grant_state(record: SharingGrant, now: datetime) -> str:
    """active | pending (starts later) | expired | revoked, at ``now``."""
    if record.revoked_at is not None and record.revoked_at <= now:
        return "revoked"
    if record.valid_to is not None and record.valid_to <= now:
        return "expired"
    return "pending" if record.valid_from > now else "active"


# --------------------------------------------------------------------------- masking policy (脱敏)


@dataclass(frozen=True)
class FieldMasking:
    """How one field of a resource is masked for consumers, and where the method comes from."""

    field: str
    label: str  # the field's Chinese name in the standard format
    method: str  # governance.masking.METHODS
    origin: str  # rule (the provider set it) | default (by the field's name)


@action("sharing.mask")
def mask(ctx: Context, *, resource_code: str, field: str, method: str | None) -> FieldMasking:
    """The provider sets how ``field`` of its resource is masked for consumers."""
    if not method:
        raise GovernanceError(f"method: required with a field ({', '.join(masking.METHODS)})", "method",
                              zh="请选择脱敏方式。")
    if method not in masking.METHODS:
        raise GovernanceError(f"method: {method!r} is not one of {', '.join(masking.METHODS)}", "method",
                              zh=f"没有名为 {method} 的脱敏方式。")
    session = ctx.session
    entry = published_resource(session, resource_code)
    [name] = _checked_fields(session, entry, [field])
    rule = session.get(MaskingRule, (entry.id, name))
    if rule is None:
        rule = MaskingRule(entry_id=entry.id, field=name)
        session.add(rule)
    rule.method, rule.set_by, rule.set_at = method, ctx.caller.who, ctx.now
    session.flush()
    ctx.note(detail=f"{name}: {method}")
    fmt = record_format(session, entry)
    return FieldMasking(name, fmt.label(name) if fmt else name, method, "rule")


@action("sharing.masking")
def masking_of(ctx: Context, *, resource_code: str) -> list[FieldMasking]:
    """How every known field of a published resource is masked for consumers."""
    session = ctx.session
    entry = published_resource(session, resource_code)
    fmt = record_format(session, entry)
    return [FieldMasking(n, fmt.label(n) if fmt else n, m, o) for n, m, o in masking_table(session, entry)]


def masking_table(session: Session, entry: CatalogueEntry) -> list[tuple[str, str, str]]:
    """(field, method, 'rule' | 'default') for every known field of the resource."""
    rules = masking.rules_of(session, entry.id)
    fmt = record_format(session, entry)
    names = [f.name for f in fmt.fields] if fmt else sorted(rules)
    return [(n, rules.get(n) or masking.default_method(n), "rule" if n in rules else "default") for n in names]


# --------------------------------------------------------------------------- what a department may read


@dataclass(frozen=True)
class FieldView:
    """One field of a resource as a department reads it."""

    field: str
    label: str
    visible: bool
    method: str  # how it is masked for the department ('none' for the provider)
    origin: str  # rule | default


@dataclass(frozen=True)
class View:
    """``authorize``'s decision for one department and resource: on what basis it reads it, which
    fields, how masked."""

    department_code: str
    department_name: str
    resource_code: str
    resource_name: str
    sharing_type: str
    basis: str  # provider | unconditional | grant
    grant_ids: tuple[int, ...]
    all_fields: bool
    fields: tuple[FieldView, ...]

    @property
    def visible(self) -> list[str]:
        return [f.field for f in self.fields if f.visible]

    @property
    def masked(self) -> list[FieldView]:
        return [f for f in self.fields if f.visible and f.method != masking.NONE]


@action("sharing.view")
def view(ctx: Context, *, resource_code: str, department: str | None = None) -> View:
    """What ``department`` (the caller's own by default) may read of a published resource, and why; a
    department that may read nothing of it gets the refusal a read would get (NotShared, NotAuthorized),
    saying what it can do."""
    session = ctx.session
    entry = published_resource(session, resource_code)
    if department:
        reader = department_by_code(session, department)
    elif ctx.caller.department_id is not None:
        reader = session.get(Department, ctx.caller.department_id)
    else:
        raise GovernanceError("department: required - whose view of the resource", "department",
                              zh="请指定部门。")
    decision = authorize(session, reader, entry, at=ctx.now)
    fmt = record_format(session, entry)
    fields = tuple(
        FieldView(name, fmt.label(name) if fmt else name, decision.fields is None or name in decision.fields,
                  decision.masking.method(name) if decision.masking is not None else masking.NONE, origin)
        for name, _method, origin in masking_table(session, entry))
    return View(reader.code, reader.name, entry.resource_code, entry.name, entry.sharing_type, decision.basis,
                decision.grant_ids, decision.fields is None, fields)


# --------------------------------------------------------------------------- shared helpers


def record_format(session: Session, entry: CatalogueEntry) -> Format | None:
    """The standard format of a resource's records: of its first record, else of its base class."""
    record_type = session.scalar(select(CoreRecord.record_type).where(CoreRecord.resource_code == entry.resource_code)
                                 .limit(1))
    if record_type is not None:
        return find(record_type)
    base = base_of_class(entry.class_code)
    return next((f for f in formats() if f.name == base), None)


def _checked_fields(session: Session, entry: CatalogueEntry, fields: Iterable[str] | None) -> list[str] | None:
    """Field names of the resource's format (its Chinese labels accepted too); None stays None (all fields)."""
    if fields is None:
        return None
    wanted = [f.strip() for f in fields if f and f.strip()]
    if not wanted:
        return None
    fmt = record_format(session, entry)
    if fmt is None:
        return sorted(set(wanted))
    by_label = {fmt.label(f.name): f.name for f in fmt.fields}
    names = {f.name for f in fmt.fields} | {k for f in fmt.fields for k in f.extra_keys}
    resolved, unknown = set(), []
    for name in wanted:
        if name in names:
            resolved.add(name)
        elif name in by_label:
            resolved.add(by_label[name])
        else:
            unknown.append(name)
    if unknown:
        raise GovernanceError(f"fields: {', '.join(unknown)} not in {entry.resource_code}'s format {fmt.qname}; "
                              f"its fields: {', '.join(f.name for f in fmt.fields)}", "fields",
                              zh=f"{'、'.join(unknown)} 不是资源「{entry.name}」的字段; 可选字段: "
                                 f"{'、'.join(fmt.label(f.name) for f in fmt.fields)}。")
    return sorted(resolved)


def consumer_system(session: Session, consumer: Department, code: str | None) -> AppSystem | None:
    """The active application system ``code`` of ``consumer`` that an application or a grant is for; None
    for none (the whole department)."""
    if not (code or "").strip():
        return None
    row = system_by_code(session, code)
    if row.department_id != consumer.id:
        raise GovernanceError(f"system: {row.code} is not one of {consumer.code}'s application systems", "system",
                              zh=f"应用系统 {row.code} 不属于{consumer.name}。")
    if row.status != "active":
        raise GovernanceError(f"system: {row.code} is suspended ({row.suspension_reason})", "system",
                              zh=f"应用系统 {row.code} 已暂停接入, 不能为其申请或授权。")
    return row


def _system_code(session: Session, system_id: int | None) -> str | None:
    return session.get(AppSystem, system_id).code if system_id is not None else None


def _labels(session: Session, entry: CatalogueEntry, names: Iterable[str] | None) -> str:
    """Field names as the portal says them (their Chinese labels)."""
    if names is None:
        return "全部字段"
    fmt = record_format(session, entry)
    return "、".join(fmt.label(n) if fmt else n for n in names)


def departments_seen(ctx: Context, department: str | None):
    """The department ids a listing shows: the caller's own, or for an admin the named one or all (the
    action's check refused a non-admin naming another department)."""
    if department:
        return [department_by_code(ctx.session, department).id]
    if ctx.caller.is_admin:
        return select(Department.id)
    return [ctx.caller.department_id]


def _application(session: Session, application_id: int) -> SharingApplication:
    application = session.get(SharingApplication, application_id)
    if application is None:
        raise NotFound(f"no application #{application_id}", code="ApplicationNotFound", field="application")
    return application


def _grant(session: Session, grant_id: int) -> SharingGrant:
    record = session.get(SharingGrant, grant_id)
    if record is None:
        raise NotFound(f"no grant #{grant_id}", code="GrantNotFound", field="grant")
    return record


def _pending(session: Session, application_id: int, verb: str, now: datetime) -> SharingApplication:
    """A submitted application, locked against a concurrent decision."""
    application = _application(session, application_id)
    session.execute(select(SharingApplication.id).where(SharingApplication.id == application.id).with_for_update())
    session.refresh(application)
    expire_applications(session, now)
    if application.status != SUBMITTED:
        ended = f" (its period ended on {application.valid_to})" if application.status == EXPIRED else ""
        raise Conflict(f"application #{application.id} is {application.status}{ended}; only a submitted one can be "
                       f"{verb}d", code="AlreadyAnswered", field="application",
                       zh=f"使用申请 #{application.id} {_label(application)}"
                          + (f" (申请期限 {application.valid_to} 已过)" if application.status == EXPIRED else "")
                          + ", 只有待答复的申请可以答复。")
    return application


def _label(application: SharingApplication) -> str:
    return APPLICATION_LABELS.get(application.status, application.status)


def expire_applications(session: Session, now: datetime) -> None:
    """Submitted applications whose whole requested period has passed unanswered become expired; the
    applicant and their department's consumers are told, and the provider's notice to answer is cleared."""
    for application in session.scalars(select(SharingApplication).where(
            SharingApplication.status == SUBMITTED, SharingApplication.valid_to < china_date(now))):
        application.status, application.decided_at = EXPIRED, now
        entry = application.entry
        tell(session, now, [(application.consumer_id, "apply")], usernames=[application.applicant],
             subject="application", ref=application.id, clears=("application",),
             text=f"本部门对「{entry.name}」的使用申请 #{application.id} 已过期: 申请的使用期限至 "
                  f"{application.valid_to}, {entry.provider.name}在此之前未作答复。如仍需使用, 请重新提交申请。")
    session.flush()


def _reason(reason: str | None, action_en: str, zh_name: str) -> str:
    """A required reason, stripped and at most REASON_LENGTH characters."""
    if reason is None or not reason.strip():
        raise GovernanceError(f"reason: required to {action_en}", "reason", zh=f"请填写{zh_name}。")
    reason = reason.strip()
    if len(reason) > REASON_LENGTH:
        raise GovernanceError(f"reason: at most {REASON_LENGTH} characters (it has {len(reason)})", "reason",
                              zh=f"{zh_name}最多 {REASON_LENGTH} 个字 (现有 {len(reason)} 个)。")
    return reason


def _day(at: datetime) -> str:
    return china_date(at).isoformat()
