"""部门目录 (the departments' directory): every member department with what it shares, for anyone signed in -
the list (``department.directory``) and one department's page (``department.profile``).

    directory(ctx, text="公安")
    -> [Listed(code="gaj", name="临江市公安局", resources=6, by_type={"有条件共享": 4, "无条件共享": 2},
               provides_to=3, uses_from=1, ...)]
    profile(ctx, department="gaj")
    -> Profile(..., facets={"classification": (("101", "101 人口", 4), ...)}, recent=(Entry(...), ...),
               systems=(("gaj.hukou", "户籍管理系统"), ...), partners=Partners(...) or None)

A department's resources are its published catalogue entries, the ones any department may apply for
(drafts stay on 本部门编目 and 审核发布). Its sharing (共享往来) is counted from the grants in force now:
how many departments read its resources, and how many departments' resources it reads. Which departments
those are, and through which resources, is shown only to the department's own people, to administrators
and to auditors - the same people ``sharing.grants`` shows the grants to.

A department's contact (联系人) is the one its businessEntity publishes in the UDDI directory.

Its page's 部门动态 (``Profile.activity``) are the latest steps of its catalogue - for anyone, those that
change what others see (发布, 下架, 来源节点更新); for its own people and the reviewers, every step - and, for
those who see its partners, the grants it gave and received and their revocations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from directory.catalogue.search import SearchResult, find
from directory.catalogue.watch import CHANGE_LABELS, PUBLIC_CHANGES
from directory.catalogue.workflow import PUBLISHED
from directory.lookups import department_by_code
from registry.db import escape_like
from registry.models import AppSystem, CatalogueEntry, CatalogueVersion, Department, SharingGrant
from trust.actions import Context, action
from trust.auth import Caller, may_read_catalogue_history
from xsd import codes

from .onboarding import ACTIVE, Labelled
from .sharing import in_force

#: the facets of a department's page, each a link into 资源目录
FACETS = ("classification", "sharing_type", "format", "update_cycle")
#: how many of its latest changed resources a department's page lists
RECENT = 5
#: how many events a department's page lists under 部门动态
ACTIVITY = 12


@dataclass(frozen=True)
class Listed(Labelled):
    """A department as the directory lists it."""

    code: str
    name: str
    division_code: str
    division_name: str
    connection_mode: str
    status: str
    resources: int  # published catalogue entries
    by_type: dict[str, int]  # 共享类型 -> how many of them
    modified: datetime | None  # the last change to one of them (UTC)
    provides_to: int  # departments holding a grant in force of one of its resources
    uses_from: int  # departments one of whose resources it holds a grant in force of

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


@dataclass(frozen=True)
class Partner:
    """A department on the other side of some of this one's grants, and the resources they cover."""

    code: str
    name: str
    resources: tuple[tuple[str, str], ...]  # (资源代码, 资源名称)


@dataclass(frozen=True)
class Partners:
    """Whom a department shares with (its own people, administrators and auditors see this)."""

    consumers: tuple[Partner, ...]  # read its resources
    providers: tuple[Partner, ...]  # whose resources it reads


@dataclass(frozen=True)
class Event:
    """One line of a department's 部门动态: a step of its catalogue, or a grant given, received or revoked."""

    at: datetime
    label: str  # 发布, 下架, 授权, 撤销授权, ...
    resource_code: str
    resource_name: str
    linked: bool  # the reader may open the resource's page
    reason: str = ""  # of a 下架, 退回 or revocation
    other_code: str | None = None  # a grant's other department
    other_name: str | None = None
    gave: bool = True  # a grant: this department gave it (else received it)


@dataclass(frozen=True)
class Profile(Listed):
    """One department's page."""

    credit_code: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    created: datetime | None = None
    suspended_at: datetime | None = None
    systems: tuple[tuple[str, str], ...] = ()  # its application systems in service: (code, name)
    found: SearchResult | None = None  # its latest changed resources and the facets of all of them
    partners: Partners | None = None  # None: the caller may not see them
    own: bool = False  # the caller's own department
    activity: tuple[Event, ...] = ()  # 部门动态, newest first

    @property
    def facets(self) -> dict[str, tuple[tuple[str, str, int], ...]]:
        return self.found.facets if self.found is not None else {}

    @property
    def recent(self) -> tuple:
        return self.found.entries if self.found is not None else ()


@action("department.directory")
def directory(ctx: Context, *, text: str = "") -> list[Listed]:
    """The member departments by code, or those whose name or code holds every word of ``text``."""
    stmt = select(Department).order_by(Department.code)
    for word in text.split():
        pattern = "%" + escape_like(word.lower()) + "%"
        stmt = stmt.where(or_(func.lower(Department.name).like(pattern, escape="\\"),
                              func.lower(Department.code).like(pattern, escape="\\")))
    departments = ctx.session.scalars(stmt).all()
    counts = _resource_counts(ctx.session)
    provides, uses = _sharing_counts(ctx.session, ctx.now)
    rows = [_listed(d, counts.get(d.id, ({}, None)), provides.get(d.id, 0), uses.get(d.id, 0)) for d in departments]
    ctx.note(record_count=len(rows), detail=text.strip()[:200])
    return rows


@action("department.profile")
def profile(ctx: Context, *, department: str) -> Profile:
    """One department's page: its register entry and contact, its application systems in service, its
    resources (the latest changed, and counts by class, sharing type, format and cycle), and its sharing."""
    row = department_by_code(ctx.session, department)
    ctx.note(department_code=row.code, detail=row.code)
    provides, uses = _sharing_counts(ctx.session, ctx.now, row.id)
    found = find(ctx.session, [CatalogueEntry.status == PUBLISHED, CatalogueEntry.provider_id == row.id], FACETS,
                 page_size=RECENT, sort="modified")
    # the search's own sharing-type facet and its latest entry are the counts the directory reads for all
    counts = ({value: n for value, _label, n in found.facets["sharing_type"]},
              found.entries[0].modified if found.entries else None)
    systems = tuple((code, name) for code, name in ctx.session.execute(
        select(AppSystem.code, AppSystem.name).where(AppSystem.department_id == row.id, AppSystem.status == ACTIVE)
        .order_by(AppSystem.code)))
    listed = _listed(row, counts, provides.get(row.id, 0), uses.get(row.id, 0))
    partners = sees_partners(ctx.caller, row.id)
    return Profile(**vars(listed), credit_code=row.credit_code, contact_name=row.contact_name,
                   contact_phone=row.contact_phone, contact_email=row.contact_email, created=row.created,
                   suspended_at=row.suspended_at, systems=systems, found=found,
                   partners=_partners(ctx.session, row.id, ctx.now) if partners else None,
                   own=ctx.caller.department_id == row.id,
                   activity=_activity(ctx.session, ctx.caller, row.id, grants=partners))


def sees_partners(caller: Caller, department_id: int) -> bool:
    """Whether ``caller`` sees which departments a department shares with: its own people, administrators
    and auditors."""
    return caller.department_id == department_id or caller.is_admin or "auditor" in caller.roles


def _listed(row: Department, counts: tuple[dict[str, int], datetime | None], provides_to: int,
            uses_from: int) -> Listed:
    by_type, modified = counts
    return Listed(row.code, row.name, row.division_code, codes.division_name(row.division_code) or "",
                  row.connection_mode, row.status, sum(by_type.values()), by_type, modified, provides_to, uses_from)


def _resource_counts(session: Session) -> dict[int, tuple[dict[str, int], datetime | None]]:
    """Each department's published entries by sharing type, and the last change to one of them."""
    stmt = (select(CatalogueEntry.provider_id, CatalogueEntry.sharing_type, func.count(),
                   func.max(CatalogueEntry.modified))
            .where(CatalogueEntry.status == PUBLISHED)
            .group_by(CatalogueEntry.provider_id, CatalogueEntry.sharing_type))
    found: dict[int, tuple[dict[str, int], datetime | None]] = {}
    for provider, kind, n, modified in session.execute(stmt):
        by_type, last = found.get(provider, ({}, None))
        by_type[kind] = n
        found[provider] = (by_type, modified if last is None or (modified and modified > last) else last)
    return found


def _sharing_counts(session: Session, now: datetime, department_id: int | None = None
                    ) -> tuple[dict[int, int], dict[int, int]]:
    """For each department: how many other departments hold a grant in force of its resources, and of how
    many other departments' resources it holds one."""
    pairs = (select(CatalogueEntry.provider_id.label("provider"), SharingGrant.consumer_id.label("consumer"))
             .join(CatalogueEntry, SharingGrant.entry_id == CatalogueEntry.id)
             .where(*in_force(now), SharingGrant.consumer_id != CatalogueEntry.provider_id).distinct())
    if department_id is not None:
        pairs = pairs.where(or_(CatalogueEntry.provider_id == department_id,
                                SharingGrant.consumer_id == department_id))
    pairs = pairs.subquery()
    provides = dict(session.execute(select(pairs.c.provider, func.count()).group_by(pairs.c.provider)).all())
    uses = dict(session.execute(select(pairs.c.consumer, func.count()).group_by(pairs.c.consumer)).all())
    return provides, uses


def _partners(session: Session, department_id: int, now: datetime) -> Partners:
    """The departments on the other side of ``department_id``'s grants in force, each with the resources
    they cover, by department code then 资源代码."""
    other = aliased(Department)
    sides = {}
    for side, mine, theirs in (("consumers", CatalogueEntry.provider_id, SharingGrant.consumer_id),
                               ("providers", SharingGrant.consumer_id, CatalogueEntry.provider_id)):
        rows = session.execute(
            select(other.code, other.name, CatalogueEntry.resource_code, CatalogueEntry.name)
            .select_from(SharingGrant).join(CatalogueEntry, SharingGrant.entry_id == CatalogueEntry.id)
            .join(other, other.id == theirs)
            .where(mine == department_id, theirs != department_id, *in_force(now))
            .distinct().order_by(other.code, CatalogueEntry.resource_code)).all()
        grouped: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for code, name, resource_code, resource_name in rows:
            grouped.setdefault((code, name), []).append((resource_code, resource_name))
        sides[side] = tuple(Partner(code, name, tuple(resources)) for (code, name), resources in grouped.items())
    return Partners(**sides)


def _activity(session: Session, caller: Caller, department_id: int, *, grants: bool) -> tuple[Event, ...]:
    """The department's latest ACTIVITY events that ``caller`` may see, newest first (see the module)."""
    every_step = may_read_catalogue_history(caller, department_id)
    steps = (select(CatalogueVersion.id, CatalogueVersion.changed_at, CatalogueVersion.action, CatalogueVersion.reason,
                    CatalogueEntry.resource_code, CatalogueEntry.name, CatalogueEntry.status)
             .join(CatalogueEntry, CatalogueVersion.entry_id == CatalogueEntry.id)
             .where(CatalogueEntry.provider_id == department_id)
             .order_by(CatalogueVersion.changed_at.desc(), CatalogueVersion.id.desc()).limit(ACTIVITY))
    if not every_step:
        steps = steps.where(CatalogueVersion.action.in_(PUBLIC_CHANGES))  # what anyone sees of another's
    # (time, then within one second: catalogue steps before grants, each in the order it was written)
    events = [((at, 0, number), Event(at, CHANGE_LABELS.get(step, step), code, name, every_step or status == PUBLISHED,
                                      reason if step == "withdraw" or every_step else ""))
              for number, at, step, reason, code, name, status in session.execute(steps)]
    if grants:
        other = aliased(Department)
        for gave, mine, theirs in ((True, CatalogueEntry.provider_id, SharingGrant.consumer_id),
                                   (False, SharingGrant.consumer_id, CatalogueEntry.provider_id)):
            for grant, code, name, status, other_code, other_name in session.execute(
                    select(SharingGrant, CatalogueEntry.resource_code, CatalogueEntry.name, CatalogueEntry.status,
                           other.code, other.name)
                    .join(CatalogueEntry, SharingGrant.entry_id == CatalogueEntry.id)
                    .join(other, other.id == theirs)
                    .where(mine == department_id, theirs != department_id)
                    .order_by(func.coalesce(SharingGrant.revoked_at, SharingGrant.granted_at).desc()).limit(ACTIVITY)):
                seen = status == PUBLISHED or every_step
                events.append(((grant.granted_at, 1, 2 * grant.id),
                               Event(grant.granted_at, "授权", code, name, seen, "", other_code, other_name, gave)))
                if grant.revoked_at is not None:
                    events.append(((grant.revoked_at, 1, 2 * grant.id + 1),
                                   Event(grant.revoked_at, "撤销授权", code, name, seen, grant.revoke_reason,
                                         other_code, other_name, gave)))
    return tuple(event for _order, event in sorted(events, key=lambda pair: pair[0], reverse=True)[:ACTIVITY])
