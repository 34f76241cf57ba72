"""Sharing governance (共享为原则、不共享为例外, S3): who may read which resource, which fields.

``authorize`` is the one decision every read goes through (``exchange.output.read_view``
calls it for SOAP; the portal and the command line call the same)::

    共享类型      the provider       another registered department
    无条件共享    everything, clear  every field, sensitive ones masked (governance.masking)
    有条件共享    everything, clear  only with an unexpired, unrevoked grant: its fields, masked
    不予共享      everything, clear  never (NotShared)

A grant (授权) comes from a 使用申请 the provider approved, or is given directly by the
provider ('policy').  The application life cycle, with who acts::

    apply     (consumer department)  -> submitted, deadline = now + GOVSHARE_APPLICATION_DAYS
    approve   (provider department)  submitted -> approved, and a grant for the requested
                                     period (the provider may narrow fields and period)
    refuse    (provider, reason)     submitted -> refused
    withdraw  (consumer)             submitted -> withdrawn
              (nobody)               submitted whose requested period ended -> expired
    revoke    (provider, reason)     ends a grant at once

A submitted application past its deadline is *overdue* (computed, not stored).  Deadlines
count calendar days, not working days: the platform keeps no holiday calendar.  Requested
periods are China dates (UTC+8), both ends inclusive; grants store them as UTC instants.

Provider staff are users of the provider department with the provider or cataloguer role;
admins act for any department.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from directory.lookups import base_of_class, department_by_code, published_resource
from registry.clock import utcnow
from registry.errors import ExchangeError, GovernanceError
from registry.models import CatalogueEntry, CoreRecord, Department, MaskingRule, SharingApplication, SharingGrant, User
from trust.actions import Context, action
from xsd.registry import Format, find, formats

from . import masking
from .masking import Masking

UNCONDITIONAL, CONDITIONAL, NOT_SHARED = "无条件共享", "有条件共享", "不予共享"
SUBMITTED, APPROVED, REFUSED, WITHDRAWN, EXPIRED = "submitted", "approved", "refused", "withdrawn", "expired"
APPLICATION_STATUSES = (SUBMITTED, APPROVED, REFUSED, WITHDRAWN, EXPIRED)
PROVIDER_ROLES = {"provider", "cataloguer"}
#: the longest 用途 accepted (the exchange contract's purpose element has the same limit)
PURPOSE_LENGTH = 200
CHINA = timedelta(hours=8)


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
              at: datetime | None = None) -> Decision:
    """What ``requester`` may read of ``entry`` at ``at``; raises ExchangeError NotShared / NotAuthorized."""
    at = at or utcnow()
    if entry.provider_id == requester.id:
        return Decision(requester, entry, "provider", None, None, purpose=purpose)
    if entry.sharing_type == NOT_SHARED:
        raise ExchangeError("NotShared", f"resource {entry.resource_code} ({entry.name}) is 不予共享 and is never "
                            f"served to other departments: {entry.not_shared_basis or 'not shared'}")
    grants = active_grants(session, requester.id, entry.id, at)
    rules = masking.rules_of(session, entry.id)
    clear = frozenset(f for g in grants for f in g.clear_fields or ())
    ids = tuple(g.id for g in grants)
    if entry.sharing_type == UNCONDITIONAL:
        return Decision(requester, entry, "unconditional", None, Masking(rules, clear), ids, purpose)
    if not grants:
        raise ExchangeError("NotAuthorized", _why_not(session, requester, entry, at))
    fields = None if any(g.fields is None for g in grants) else frozenset(f for g in grants for f in g.fields)
    return Decision(requester, entry, "grant", fields, Masking(rules, clear), ids, purpose)


def active_grants(session: Session, consumer_id: int, entry_id: int, at: datetime) -> list[SharingGrant]:
    return list(session.scalars(
        select(SharingGrant).where(
            SharingGrant.consumer_id == consumer_id, SharingGrant.entry_id == entry_id,
            SharingGrant.valid_from <= at, or_(SharingGrant.valid_to.is_(None), SharingGrant.valid_to > at),
            or_(SharingGrant.revoked_at.is_(None), SharingGrant.revoked_at > at),
        ).order_by(SharingGrant.id)
    ))


def _why_not(session: Session, requester: Department, entry: CatalogueEntry, at: datetime) -> str:
    head = (f"{requester.name} has no grant for resource {entry.resource_code} ({entry.name}), which is 有条件共享"
            f" ({entry.sharing_condition or 'conditional'})")
    last = session.scalar(select(SharingGrant).where(SharingGrant.consumer_id == requester.id,
                                                     SharingGrant.entry_id == entry.id)
                          .order_by(SharingGrant.id.desc()).limit(1))
    if last is not None and last.revoked_at is not None and last.revoked_at <= at:
        head += f"; grant #{last.id} was revoked on {_day(last.revoked_at)}: {last.revoke_reason}"
    elif last is not None and last.valid_to is not None and last.valid_to <= at:
        head += f"; grant #{last.id} expired after {_day(last.valid_to - timedelta(seconds=1))}"
    elif last is not None and last.valid_from > at:
        return head + f"; grant #{last.id} starts on {_day(last.valid_from)}"
    pending = session.scalar(select(SharingApplication).where(
        SharingApplication.consumer_id == requester.id, SharingApplication.entry_id == entry.id,
        SharingApplication.status == SUBMITTED).order_by(SharingApplication.id.desc()).limit(1))
    if pending is not None:
        return head + (f"; application #{pending.id} awaits the provider's answer (due by "
                       f"{_day(pending.deadline)})")
    return head + (f"; apply with: govshare sharing apply --user USER --resource {entry.resource_code} "
                   "--purpose PURPOSE --until YYYY-MM-DD [--fields a,b]")


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

    @classmethod
    def of(cls, row: SharingApplication) -> Application:
        return cls(row.id, row.entry.resource_code, row.entry.name, row.entry.provider.code, row.entry.provider.name,
                   row.consumer.code, row.consumer.name, row.purpose, row.fields, row.valid_from, row.valid_to,
                   row.status, row.applicant, row.submitted_at, row.deadline, row.decided_by, row.decided_at,
                   row.reason)


@action("sharing.apply")
def apply(ctx: Context, *, resource_code: str, purpose: str, valid_to: date | None, valid_from: date | None = None,
          fields: Sequence[str] | None = None) -> Application:
    """File a 使用申请 for the caller's department; the provider answers by the deadline."""
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
    pending = session.scalar(select(SharingApplication.id).where(
        SharingApplication.consumer_id == consumer.id, SharingApplication.entry_id == entry.id,
        SharingApplication.status == SUBMITTED))
    if pending is not None:
        raise GovernanceError(f"application #{pending} for {entry.resource_code} already awaits an answer; "
                              "withdraw it first to apply differently", "resource",
                              zh=f"本部门对该资源的使用申请 #{pending} 尚待答复, 如需改变申请内容请先撤回。")
    application = SharingApplication(
        consumer_id=consumer.id, entry_id=entry.id, purpose=purpose.strip(),
        fields=_checked_fields(session, entry, fields), valid_from=valid_from, valid_to=valid_to,
        status=SUBMITTED, applicant=ctx.caller.who, submitted_at=now,
        deadline=now + timedelta(days=ctx.settings.application_days), decided_by="", reason="",
    )
    session.add(application)
    session.flush()
    return Application.of(application)


def approve(session: Session, user: User, application_id: int, *, fields: Sequence[str] | None = None,
            valid_to: date | None = None, clear: Sequence[str] = (), now: datetime | None = None) -> SharingGrant:
    """Approve a submitted application: a grant for its fields and period, or narrower ones."""
    now = now or utcnow()
    application = _pending(session, user, application_id, "approve", now)
    entry = application.entry
    granted = application.fields
    if fields:
        narrowed = _checked_fields(session, entry, fields)
        wider = sorted(set(narrowed) - set(granted)) if granted is not None else []
        if wider:
            raise GovernanceError(f"fields: {', '.join(wider)} were not applied for; a grant may narrow the "
                                  f"application's fields ({', '.join(granted)}), not widen them", "fields")
        granted = narrowed
    until = application.valid_to
    if valid_to is not None:
        if valid_to > application.valid_to:
            raise GovernanceError(f"until: {valid_to} is after the applied period's end {application.valid_to}",
                                  "until")
        if valid_to < application.valid_from:
            raise GovernanceError(f"until: {valid_to} is before the applied period's start "
                                  f"{application.valid_from}", "until")
        until = valid_to
    application.status, application.decided_by, application.decided_at = APPROVED, user.username, now
    grant = SharingGrant(
        consumer_id=application.consumer_id, entry_id=entry.id, fields=granted,
        clear_fields=_checked_fields(session, entry, clear) or [], valid_from=china_midnight(application.valid_from),
        valid_to=china_midnight(until + timedelta(days=1)), source="application", application_id=application.id,
        granted_by=user.username, granted_at=now, revoked_by="", revoke_reason="",
    )
    session.add(grant)
    session.flush()
    return grant


def refuse(session: Session, user: User, application_id: int, reason: str | None, *,
           now: datetime | None = None) -> SharingApplication:
    """Refuse a submitted application; the reason is required and told to the consumer."""
    now = now or utcnow()
    reason = _reason(reason, "refuse an application")
    application = _pending(session, user, application_id, "refuse", now)
    application.status, application.decided_by, application.decided_at = REFUSED, user.username, now
    application.reason = reason
    session.flush()
    return application


def withdraw(session: Session, user: User, application_id: int, *, now: datetime | None = None) -> SharingApplication:
    """The consumer takes back its own submitted application."""
    now = now or utcnow()
    application = _application(session, application_id)
    consumer = department_of(user)
    if application.consumer_id != consumer.id and "admin" not in user.role_set:
        raise GovernanceError(f"application #{application.id} is {application.consumer.name}'s; "
                              f"{user.username} may not withdraw it", "application")
    expire_applications(session, now)
    if application.status != SUBMITTED:
        raise GovernanceError(f"application #{application.id} is {application.status}; only a submitted one can be "
                              "withdrawn", "application")
    application.status, application.decided_by, application.decided_at = WITHDRAWN, user.username, now
    session.flush()
    return application


def is_overdue(application: SharingApplication, now: datetime) -> bool:
    """Submitted and not answered by its deadline (逾期)."""
    return application.status == SUBMITTED and now > application.deadline


def inbox(session: Session, user: User, *, now: datetime | None = None, status: str | None = None,
          department: str | None = None) -> list[SharingApplication]:
    """Applications to the resources of the user's department (an admin: of ``department`` or all)."""
    now = now or utcnow()
    expire_applications(session, now)
    stmt = select(SharingApplication).join(CatalogueEntry, SharingApplication.entry_id == CatalogueEntry.id)
    stmt = stmt.where(CatalogueEntry.provider_id.in_(departments_seen(session, user, department)))
    if status:
        stmt = stmt.where(SharingApplication.status == status)
    return list(session.scalars(stmt.order_by(SharingApplication.deadline, SharingApplication.id)))


def outbox(session: Session, user: User, *, now: datetime | None = None,
           department: str | None = None) -> list[SharingApplication]:
    """Applications the user's department filed (an admin: ``department``'s or all)."""
    expire_applications(session, now or utcnow())
    return list(session.scalars(
        select(SharingApplication).where(SharingApplication.consumer_id.in_(departments_seen(session, user,
                                                                                                department)))
        .order_by(SharingApplication.id)))


# --------------------------------------------------------------------------- grants (授权)


def grant(session: Session, user: User, resource_code: str, consumer_code: str, *,
          fields: Sequence[str] | None = None, clear: Sequence[str] = (), valid_to: date | None = None,
          valid_from: date | None = None, now: datetime | None = None) -> SharingGrant:
    """The provider grants a department access directly ('policy'), without an application."""
    now = now or utcnow()
    entry = published_resource(session, resource_code)
    require_provider_staff(user, entry, "grant")
    consumer = department_by_code(session, consumer_code)
    if consumer.id == entry.provider_id:
        raise GovernanceError(f"{consumer.name} provides {entry.resource_code}: it needs no grant", "consumer")
    if entry.sharing_type == NOT_SHARED:
        raise GovernanceError(f"resource {entry.resource_code} is 不予共享: it is never served, not even by grant",
                              "resource")
    start = valid_from or china_date(now)
    if valid_to is not None and valid_to < start:
        raise GovernanceError(f"until: {valid_to} is before the start {start}", "until")
    record = SharingGrant(
        consumer_id=consumer.id, entry_id=entry.id, fields=_checked_fields(session, entry, fields),
        clear_fields=_checked_fields(session, entry, clear) or [], valid_from=china_midnight(start),
        valid_to=china_midnight(valid_to + timedelta(days=1)) if valid_to else None, source="policy",
        granted_by=user.username, granted_at=now, revoked_by="", revoke_reason="",
    )
    session.add(record)
    session.flush()
    return record


def revoke(session: Session, user: User, grant_id: int, reason: str | None, *,
           now: datetime | None = None) -> SharingGrant:
    """End a grant at once (the provider or an admin); the reason is required."""
    now = now or utcnow()
    reason = _reason(reason, "revoke a grant")
    record = session.get(SharingGrant, grant_id)
    if record is None:
        raise GovernanceError(f"no grant #{grant_id}", "grant")
    require_provider_staff(user, record.entry, "revoke")
    if record.revoked_at is not None:
        raise GovernanceError(f"grant #{grant_id} was already revoked on {_day(record.revoked_at)}", "grant")
    record.revoked_at, record.revoked_by, record.revoke_reason = now, user.username, reason
    session.flush()
    return record


def grants(session: Session, user: User, *, department: str | None = None) -> list[SharingGrant]:
    """Grants the user's department gave or holds (an admin: ``department``'s or all)."""
    seen = departments_seen(session, user, department)
    return list(session.scalars(
        select(SharingGrant).join(CatalogueEntry, SharingGrant.entry_id == CatalogueEntry.id)
        .where(or_(SharingGrant.consumer_id.in_(seen), CatalogueEntry.provider_id.in_(seen)))
        .order_by(SharingGrant.id)))


def grant_state(record: SharingGrant, now: datetime) -> str:
    """active | pending (starts later) | expired | revoked, at ``now``."""
    if record.revoked_at is not None and record.revoked_at <= now:
        return "revoked"
    if record.valid_to is not None and record.valid_to <= now:
        return "expired"
    return "pending" if record.valid_from > now else "active"


# --------------------------------------------------------------------------- masking policy (脱敏)


def set_masking(session: Session, user: User, resource_code: str, field: str, method: str, *,
                now: datetime | None = None) -> MaskingRule:
    """The provider sets how ``field`` of its resource is masked for consumers."""
    if method not in masking.METHODS:
        raise GovernanceError(f"method: {method!r} is not one of {', '.join(masking.METHODS)}", "method")
    entry = published_resource(session, resource_code)
    require_provider_staff(user, entry, "set the masking of")
    [name] = _checked_fields(session, entry, [field])
    rule = session.get(MaskingRule, (entry.id, name))
    if rule is None:
        rule = MaskingRule(entry_id=entry.id, field=name)
        session.add(rule)
    rule.method, rule.set_by, rule.set_at = method, user.username, now or utcnow()
    session.flush()
    return rule


def masking_table(session: Session, entry: CatalogueEntry) -> list[tuple[str, str, str]]:
    """(field, method, 'rule' | 'default') for every known field of the resource."""
    rules = masking.rules_of(session, entry.id)
    fmt = record_format(session, entry)
    names = [f.name for f in fmt.fields] if fmt else sorted(rules)
    return [(n, rules.get(n) or masking.default_method(n), "rule" if n in rules else "default") for n in names]


# --------------------------------------------------------------------------- shared helpers


def record_format(session: Session, entry: CatalogueEntry) -> Format | None:
    """The standard format of a resource's records: of its first record, else of its base class."""
    record_type = session.scalar(select(CoreRecord.record_type).where(CoreRecord.resource_code == entry.resource_code)
                                 .limit(1))
    if record_type is not None:
        return find(record_type)
    base = base_of_class(entry.class_code)
    return next((f for f in formats() if f.name == base), None)


def china_date(at: datetime) -> date:
    """The calendar date in China (UTC+8) at the naive UTC instant ``at``."""
    return (at + CHINA).date()


def china_midnight(day: date) -> datetime:
    """The naive UTC instant at which ``day`` begins in China."""
    return datetime(day.year, day.month, day.day) - CHINA


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
                              f"its fields: {', '.join(f.name for f in fmt.fields)}", "fields")
    return sorted(resolved)


def department_of(user: User) -> Department:
    if not user.active:
        raise GovernanceError(f"{user.username}'s account is disabled", "user")
    if user.department is None:
        raise GovernanceError(f"{user.username} belongs to no department", "user")
    return user.department


def require_provider_staff(user: User, entry: CatalogueEntry, action: str) -> None:
    roles = user.role_set
    if user.active and ("admin" in roles or (user.department_id == entry.provider_id and roles & PROVIDER_ROLES)):
        return
    raise GovernanceError(f"{user.username} may not {action} {entry.resource_code}: only the provider department's "
                          f"provider or cataloguer staff ({entry.provider.name}) or an admin may", "user")


def departments_seen(session: Session, user: User, department: str | None):
    """The department ids a listing shows: the user's own, or for an admin the named one or all."""
    if "admin" in user.role_set:
        if department:
            return [department_by_code(session, department).id]
        return select(Department.id)
    own = department_of(user)
    if department and department_by_code(session, department).id != own.id:
        raise GovernanceError(f"{user.username} sees only {own.code}'s applications and grants", "department")
    return [own.id]


def _application(session: Session, application_id: int) -> SharingApplication:
    application = session.get(SharingApplication, application_id)
    if application is None:
        raise GovernanceError(f"no application #{application_id}", "application")
    return application


def _pending(session: Session, user: User, application_id: int, action: str, now: datetime) -> SharingApplication:
    """A submitted application the user may decide, locked against a concurrent decision."""
    application = _application(session, application_id)
    require_provider_staff(user, application.entry, f"{action} applications for")
    session.execute(select(SharingApplication.id).where(SharingApplication.id == application.id).with_for_update())
    session.refresh(application)
    expire_applications(session, now)
    if application.status != SUBMITTED:
        raise GovernanceError(f"application #{application.id} is {application.status}"
                              + (f" (its period ended on {application.valid_to})" if application.status == EXPIRED
                                 else "") + f"; only a submitted one can be {action}d", "application")
    return application


def expire_applications(session: Session, now: datetime) -> None:
    """Submitted applications whose whole requested period has passed unanswered become expired."""
    for application in session.scalars(select(SharingApplication).where(
            SharingApplication.status == SUBMITTED, SharingApplication.valid_to < china_date(now))):
        application.status, application.decided_at = EXPIRED, now
    session.flush()


def _reason(reason: str | None, action: str) -> str:
    if reason is None or not reason.strip():
        raise GovernanceError(f"reason: required to {action}", "reason")
    return reason.strip()


def _day(at: datetime) -> str:
    return china_date(at).isoformat()
