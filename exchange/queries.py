"""The exchange's read actions: QueryRecords and GetChanges, whatever the front end.

    query_records(ctx, resource_code="101001002/000001", keys=["330102199001021235"], purpose="低保资格核查")
    -> Records(resource_code="101001002/000001", total=1, offset=0, more=False, source="central",
               basis="grant", records=(Row(sequence=57, key="330102199001021235", fields={...}),))
    get_changes(ctx, resource_code="101001002/000001", watermark=0, max_records=100)
    -> Changes(resource_code="101001002/000001", next_watermark=57, more=False, changes=(Row(...), ...))

Each reads for one department - the caller's, or the one the request names as ``requester``
(a code or 统一社会信用代码), which must be the caller's (``trust.auth.speaks_for``) - through
``exchange.output.read_view``: governance decides what that department may see.  A resource the
centre holds (物理集中) is read from the core; a 逻辑集中 one is asked live of its provider
(``exchange.logical``), by key only.  Each call is one audit entry with the resource, the
purpose (用途), a digest of the query and how many records went out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, bindparam, case, func, or_, select

from directory import lookups
from directory.catalogue import codes
from directory.catalogue.classification import UnknownClassification
from directory.lookups import base_of_class
from governance.sharing import authorize, held_in_force
from registry.errors import ExchangeError, InvalidInput, NotPermitted
from registry.models import CatalogueEntry, CatalogueWatch, Department, InputBatch, MaskingRule, SharingGrant
from trust import audit
from trust.actions import Context, action
from trust.auth import refuse_suspended

from . import output
from .logical import forward_query
from .output import DEFAULT_PAGE, Row, View


@dataclass(frozen=True)
class Records:
    """A page of a resource's current records as the requester sees them.  ``source``: ``central``
    (the core) or ``provider`` (asked live); ``basis``: why the requester may read them
    (``provider``, ``unconditional``, ``grant``)."""

    resource_code: str
    total: int
    offset: int
    more: bool
    source: str
    basis: str
    records: tuple[Row, ...]


@dataclass(frozen=True)
class Changes:
    """The versions of a resource after a watermark, oldest first; ``next_watermark`` continues."""

    resource_code: str
    next_watermark: int
    more: bool
    changes: tuple[Row, ...]


def reader(ctx: Context, requester: str | None, named: Department | None = None) -> Department:
    """The department a read is for: the one the request names (``named``, if the caller looked
    it up already), else the caller's (the check made sure that there is one, and that a named
    one may be asked for)."""
    if named is not None:
        department = named
    elif (requester or "").strip():
        department = lookups.department_by_code(ctx.session, requester)
    elif ctx.caller.department_id is not None:
        department = ctx.session.get(Department, ctx.caller.department_id)
    else:  # an unsigned request that names no department
        raise InvalidInput("the request names no requester: give the 统一社会信用代码 of the department it is for",
                           field="requester", zh="请求未注明查询部门。")
    if ctx.caller.department_id is None:  # an unsigned request, or the platform: the entry names the department
        ctx.note(department_id=department.id, department_code=department.code)
    refuse_suspended(department)  # a signed caller's was refused by WS-Security; an unsigned one's is here
    return department


#: keys up to which a read by key reads its records with the department and the resource (one round trip
#: less): that statement has a row for each masking rule, grant and record, so it serves a few keys only
KEYS_READ_WITH_RESOURCE = 5


def _named_read_of(department, *, with_records: bool):
    """The department ``department`` picks (a condition on ``Department``), the resource, its masking
    rules and the grants in force the department holds of it, in one statement: a row for each rule and
    grant (the look-ups of ``lookups``, ``masking.rules_of`` and ``sharing.active_grants``).  A grant of
    an application system counts only when the caller is that system of the department (``system_id``
    and ``caller_department``).  ``with_records``: and the current records of the keys asked for
    (``output.ROW_COLUMNS``, in key order), read before anything is decided: a refusal discards
    them unseen."""
    statement = (
        select(Department, CatalogueEntry, MaskingRule.field, MaskingRule.method, SharingGrant)
        .select_from(Department)
        .join(CatalogueEntry, CatalogueEntry.resource_code == bindparam("resource_code"))
        .outerjoin(MaskingRule, MaskingRule.entry_id == CatalogueEntry.id)
        .outerjoin(SharingGrant, held_in_force(
            Department.id, CatalogueEntry.id, bindparam("at", type_=SharingGrant.valid_from.type),
            case((Department.id == bindparam("caller_department"), bindparam("system_id", type_=Integer))),
        ))
        .where(department)
    )
    return output.with_records(statement) if with_records else statement


#: the statements of ``_named_read`` (built once: building one cost more than running it), by whether the
#: request names its department (by code or 统一社会信用代码; else the caller's) and whether records are read
_NAMED_READS = {
    (named, with_records): _named_read_of(
        or_(Department.code == bindparam("code"), Department.credit_code == bindparam("credit_code")) if named
        else Department.id == bindparam("caller_department"), with_records=with_records)
    for named in (True, False) for with_records in (False, True)
}


@dataclass(frozen=True)
class _Named:
    """What ``_named_read`` found: the department, the published resource, its masking rules (field ->
    method), the department's grants of it in force (by id) and, when they were read with them, the
    current records of the keys asked for (rows of ``output.ROW_COLUMNS``, in key order)."""

    department: Department
    entry: CatalogueEntry
    rules: dict[str, str]
    grants: tuple[SharingGrant, ...]
    records: list | None = None


def _named_read(ctx: Context, requester: str | None, resource_code: str, keys: Sequence[str] = ()) -> _Named | None:
    """What a read needs to be decided, for the department the request names or else the caller's, and
    the records of ``keys`` when there are at most ``KEYS_READ_WITH_RESOURCE`` of them and the resource
    code's class names a base database (checked against the entry's class once it is read).  None when
    there is no department, or either is not found as one (the look-ups then say why)."""
    wanted, code = (requester or "").strip(), (resource_code or "").strip()
    if not wanted and ctx.caller.department_id is None:
        return None
    parameters = {"code": wanted.lower(), "credit_code": wanted.upper(), "resource_code": code, "at": ctx.now,
                  "caller_department": ctx.caller.department_id, "system_id": ctx.caller.system_id}
    base = _base_of_code(code) if 0 < len(keys) <= KEYS_READ_WITH_RESOURCE else None
    if base is not None:
        parameters.update(base=base, keys=list(keys))
    rows = ctx.session.execute(_NAMED_READS[bool(wanted), base is not None], parameters).all()
    if not rows or len({row.Department.id for row in rows}) != 1 or rows[0].CatalogueEntry.status != "published":
        return None
    entry = rows[0].CatalogueEntry
    rules = {row.field: row.method for row in rows if row.field is not None}
    grants = {row.SharingGrant.id: row.SharingGrant for row in rows if row.SharingGrant is not None}
    records = None
    if base is not None and entry.class_code and base == base_of_class(entry.class_code):  # else output.query
        records = list({row.record_id: row for row in rows if row.record_id is not None}.values())
    return _Named(rows[0].Department, entry, rules, tuple(grants[key] for key in sorted(grants)), records)


def _base_of_code(resource_code: str) -> str | None:
    """The base database a resource code's class (its front segment, 前段码) names, if any."""
    try:
        return base_of_class(codes.parse_code(resource_code)[0])
    except (ValueError, UnknownClassification):
        return None


def _view(ctx: Context, requester: str | None, resource_code: str, purpose: str | None,
          keys: Sequence[str] = ()) -> tuple[View, list | None]:
    """The requester's view of the resource, and the records of ``keys`` when they were read with it."""
    named = _named_read(ctx, requester, resource_code, keys)
    department = reader(ctx, requester, named.department if named else None)
    entry = named.entry if named else lookups.published_resource(ctx.session, resource_code)
    view = output.read_view(ctx.session, department, entry, purpose=purpose, at=ctx.now,
                            system_id=ctx.caller.system_id if ctx.caller.department_id == department.id else None,
                            rules=named.rules if named else None, grants=named.grants if named else None)
    return view, named.records if named else None


@action("exchange.query_records", read_only=True)
def query_records(ctx: Context, *, resource_code: str, keys: Sequence[str] = (),
                  filters: Sequence[tuple[str, str, str]] = (), offset: int = 0, page_size: int = DEFAULT_PAGE,
                  purpose: str | None = None, requester: str | None = None, provenance: bool = False) -> Records:
    """Current records of a resource by key, or by (field, ``eq`` | ``prefix``, value) filters; with
    ``provenance`` each central record names each field's department and the other values given."""
    keys = [key.strip() for key in keys if key and key.strip()]
    filters = [tuple(f) for f in filters]
    ctx.note(query_digest=audit.query_digest({"keys": sorted(keys), "filters": sorted(filters), "offset": offset,
                                              "pageSize": page_size}))
    view, found = _view(ctx, requester, resource_code, purpose, keys if not filters else ())
    entry, basis = view.entry, view.decision.basis if view.decision else ""
    if entry.logical:
        if filters:
            raise ExchangeError("InvalidRequest", f"resource {entry.resource_code} is 逻辑集中 and answered live by "
                                "its provider, by key only; filters need a resource the centre holds (物理集中)",
                                zh=f"{entry.name} 为逻辑集中资源, 由提供部门实时应答, 只能按主键查询。")
        rows = forward_query(ctx.session, ctx.settings, view, keys)
        found = Records(entry.resource_code, len(rows), offset, False, "provider", basis, tuple(rows))
    else:
        total, rows = output.query(ctx.session, view, keys=keys, filters=filters, offset=offset,
                                   page_size=page_size, found=found)
        if provenance and rows:
            rows = output.with_provenance(ctx.session, view, rows)
        found = Records(entry.resource_code, total, offset, offset + len(rows) < total, "central", basis, tuple(rows))
    ctx.note(record_count=len(found.records))
    return found


@action("exchange.get_changes", read_only=True)
def get_changes(ctx: Context, *, resource_code: str, watermark: int = 0, max_records: int = DEFAULT_PAGE,
                purpose: str | None = None, requester: str | None = None) -> Changes:
    """The versions of a resource after ``watermark`` (a sequence), oldest first."""
    ctx.note(query_digest=audit.query_digest({"watermark": watermark, "maxRecords": max_records}))
    view, _ = _view(ctx, requester, resource_code, purpose)
    if view.entry.logical:
        raise ExchangeError("InvalidRequest", f"resource {view.entry.resource_code} is 逻辑集中: the centre keeps no "
                            "copy, so it has no changes to follow; query it by key",
                            zh=f"{view.entry.name} 为逻辑集中资源, 中心不保存副本, 没有变更可供订阅; 请按主键查询。")
    rows, more = output.changes(ctx.session, view, watermark=watermark, limit=max_records)
    ctx.note(record_count=len(rows))
    return Changes(view.entry.resource_code, rows[-1].sequence if rows else watermark, more, tuple(rows))


@dataclass(frozen=True)
class DataNews:
    """What a followed resource's records did since its follower last marked it read (我的订阅).
    ``readable``: the follower's department may read the records (else nothing more is told);
    ``logical``: 逻辑集中, the centre keeps no records to report on; ``records``: the records the
    batches changed (new versions and deletions, not those received unchanged)."""

    resource_code: str
    readable: bool
    logical: bool
    batches: int = 0
    records: int = 0
    latest: datetime | None = None


@action("exchange.data_news")
def data_news(ctx: Context) -> dict[str, DataNews]:
    """For each catalogue entry the caller (a person) follows, by 资源代码: the batches of its records
    the centre received since the follower last marked it read - only where the follower's
    department may read the resource now (governance's decision, as a query would get it)."""
    if ctx.caller.user_id is None:
        raise NotPermitted(f"{ctx.caller.who} is not a person: following resources is a person's",
                           zh="只有登录用户可以订阅资源变更。")
    department = ctx.session.get(Department, ctx.caller.department_id) if ctx.caller.department_id else None
    followed = ctx.session.execute(select(CatalogueWatch, CatalogueEntry).join(CatalogueEntry)
                                   .where(CatalogueWatch.user_id == ctx.caller.user_id)).all()
    news = {}
    for watch, entry in followed:
        code = entry.resource_code
        if department is None or entry.status != "published" or not _may_read(ctx, department, entry):
            news[code] = DataNews(code, readable=False, logical=entry.logical)
        elif entry.logical:
            news[code] = DataNews(code, readable=True, logical=True)
        else:
            batches, records, latest = ctx.session.execute(
                select(func.count(), func.coalesce(func.sum(InputBatch.accepted - InputBatch.unchanged), 0),
                       func.max(InputBatch.received_at))
                .where(InputBatch.provider_id == entry.provider_id, InputBatch.resource_code == code,
                       InputBatch.status == "processed", _since(watch))).one()
            news[code] = DataNews(code, True, False, batches, int(records), latest)
    return news


def _since(watch: CatalogueWatch):
    """The batches that are news: the clock has whole seconds, so one received in the second the entry
    was marked read is told again rather than never; following starts with the next second."""
    if watch.data_seen_at is None:
        return InputBatch.received_at > watch.created
    return InputBatch.received_at >= watch.data_seen_at


def _may_read(ctx: Context, department: Department, entry: CatalogueEntry) -> bool:
    try:
        authorize(ctx.session, department, entry, at=ctx.now)
    except ExchangeError:
        return False
    return True
