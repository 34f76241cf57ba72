"""The output tier (输出库): what a consumer sees of a resource.

Every read of records — QueryRecords, GetChanges and the portal's unified query, the
actions of :mod:`exchange.queries` and :mod:`exchange.unified` — goes through ``read_view``,
which asks ``governance.sharing.authorize`` what the requester may see (S3): the provider its
own resource as stored; other departments a 无条件共享 resource, or a 有条件共享 one they hold
a grant for, limited to the granted fields with sensitive ones masked (``governance.masking``:
330102********1235); a 不予共享 resource nobody else.  A refusal is an ExchangeError
(NotShared, NotAuthorized).

A resource shows the records its provider contributed, as the core holds them now:
integrated, so a newer value from another department (with its lineage) is what the
consumer reads, and a change by any source is a change of the resource.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, literal_column, or_, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.util import identity_key

from directory.lookups import base_of_class
from governance.masking import Masking
from governance.sharing import Decision, authorize
from registry.db import inline, like_prefix
from registry.errors import ExchangeError
from registry.models import CatalogueEntry, CoreContribution, CoreLineage, CoreRecord, Department, SharingGrant
from xsd.registry import find

MAX_PAGE = 1000
DEFAULT_PAGE = 100


@dataclass(frozen=True)
class View:
    """What one requester may read of one resource."""

    entry: CatalogueEntry
    requester: Department
    fields: frozenset[str] | None  # None: every field
    masking: Masking | None = None  # None: values as stored
    decision: Decision | None = None

    def shape(self, fields: dict[str, Any]) -> dict[str, Any]:
        """A record's fields as the requester sees them: visible ones only, masked."""
        shown = fields if self.fields is None else {k: v for k, v in fields.items() if k in self.fields}
        return self.masking.record(shown) if self.masking is not None else dict(shown)

    def key(self, record_type: str, key: str) -> str:
        """A record key as the requester sees it: masked like its field when the key is one masked field."""
        if self.masking is None:
            return key
        fmt = find(record_type)
        if fmt is None or len(fmt.key_fields) != 1:
            return key
        return str(self.masking.value(fmt.key_fields[0], key))


@dataclass(frozen=True)
class Row:
    """One record as the requester sees it: a version of the core (``sequence``, its id, the
    GetChanges watermark), or a record the provider answered live (逻辑集中: no sequence)."""

    sequence: int | None
    key: str
    record_type: str
    fields: dict[str, Any]
    deleted: bool = False
    effective_from: datetime | None = None
    #: with provenance: field -> the department whose value it is (比对)
    origin: dict[str, str] | None = None
    #: with provenance: field -> [(another value a source gave, that department)] (血缘)
    lineage: dict[str, list[tuple[str, str]]] | None = None


def read_view(session: Session, requester: Department, entry: CatalogueEntry, *, purpose: str | None = None,
              at: datetime | None = None, system_id: int | None = None,
              rules: Mapping[str, str] | None = None, grants: Sequence[SharingGrant] | None = None) -> View:
    """The view ``requester`` (acting as its application system ``system_id``, if any) has of ``entry``;
    refuses what may not be served (NotShared, NotAuthorized).  ``rules`` and ``grants``: the entry's
    masking rules and the requester's grants in force, when the caller read them with the entry."""
    decision = authorize(session, requester, entry, purpose=purpose, at=at, system_id=system_id, rules=rules,
                         grants=grants)
    return View(entry=entry, requester=requester, fields=decision.fields, masking=decision.masking,
                decision=decision)


def query(
    session: Session,
    view: View,
    *,
    keys: list[str],
    filters: list[tuple[str, str, str]],
    offset: int,
    page_size: int,
    found: Sequence | None = None,
) -> tuple[int, list[Row]]:
    """Current records of the view's resource by key or by (field, operator, value) filters.  ``found``:
    the records of ``keys`` (rows of ``ROW_COLUMNS``, in key order) when the caller read them with
    the resource, from the view's base."""
    page_size = max(1, min(page_size or DEFAULT_PAGE, MAX_PAGE))
    base = _base(session, view)
    if base is None:
        return 0, []
    if keys and not filters and len(keys) <= MAX_PAGE:
        # by key: at most a version per key and record type, so all of them in one statement, the
        # total counted here rather than by a second statement (one round trip less a query)
        if found is None:
            found = session.connection().execute(_BY_KEYS, {"base": base, "resource_code": view.entry.resource_code,
                                                            "keys": keys}).all()
        start = max(offset, 0)
        return len(found), [_row(view, r) for r in found[start:start + page_size]]
    # read-only actions may run on generic plans (registry.db.autocommit_sessions): the base (a
    # million people beside a few hundred parcels) and a prefix are written into the statement
    stmt = select(*ROW_COLUMNS).where(
        CoreRecord.base == inline(base), _contributed(view), CoreRecord.effective_to.is_(None),
        CoreRecord.deleted.is_(False),
    )
    if keys:
        stmt = stmt.where(CoreRecord.record_key.in_(keys))
    for name, operator, value in filters:
        if view.fields is not None and name not in view.fields:
            raise ExchangeError("InvalidRequest", f"field {name} is not visible in resource {view.entry.resource_code}")
        if operator != "eq" and view.masking is not None and view.masking.masks(name):
            # a prefix search would read a masked value back a character at a time
            raise ExchangeError("InvalidRequest", f"field {name} is masked for you in resource "
                                f"{view.entry.resource_code}: filter it by eq only")
        column = CoreRecord.fields[name].as_string()
        stmt = stmt.where(column == value if operator == "eq" else like_prefix(column, value))
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.execute(stmt.order_by(CoreRecord.record_key).offset(max(offset, 0)).limit(page_size))
    return total, [_row(view, r) for r in rows]


def changes(session: Session, view: View, *, watermark: int, limit: int) -> tuple[list[Row], bool]:
    """Versions of the view's resource after ``watermark``, oldest first; and whether more follow."""
    limit = max(1, min(limit or DEFAULT_PAGE, MAX_PAGE))
    base = _base(session, view)
    if base is None:
        return [], False
    # the columns a change needs, not ORM objects (as the query's): a page is a thousand versions
    rows = session.execute(
        select(*ROW_COLUMNS)
        .where(CoreRecord.base == inline(base), CoreRecord.id > watermark, _contributed(view))
        .order_by(CoreRecord.id).limit(limit + 1)
    ).all()
    return [_row(view, r) for r in rows[:limit]], len(rows) > limit


def _base(session: Session, view: View) -> str | None:
    """The base database the resource's records are in; None before its first batch.  A resource
    under a base class (人口, 法人单位, ...) holds only that base's records (``resources.base_for``
    refuses any other), so its base needs no query; a 主题 or 部门 one's is read from its records."""
    known = base_of_class(view.entry.class_code) if view.entry.class_code else None
    if known is not None:
        return known
    code = view.entry.resource_code
    return (session.scalar(select(CoreRecord.base).where(CoreRecord.resource_code == code).limit(1))
            or session.scalar(select(CoreContribution.base).where(CoreContribution.resource_code == code).limit(1)))


#: the versions a resource sent, beside the version read: one alias for every query (the ORM adapts an
#: alias's columns once, on its first use - about 1.5 ms of every query when each made its own)
_SENT = aliased(CoreRecord, name="sent")


def _contributed(view: View):
    """Whether the view's resource contributed the row's key to the core: it sent a version of it,
    or sent it and changed nothing (another resource's version holds it).  Correlated EXISTS
    probes of (resource_code, record_key) indexes: no list of the resource's keys is built."""
    return _contributed_by(view.entry.resource_code)


def _contributed_by(code):
    """``_contributed`` for the resource ``code`` (a 资源代码, or a bound parameter that will be one)."""
    sent = _SENT
    return or_(
        select(literal_column("1")).where(sent.resource_code == code, sent.record_key == CoreRecord.record_key)
        .exists(),
        select(literal_column("1")).where(CoreContribution.resource_code == code,
                                          CoreContribution.record_key == CoreRecord.record_key).exists(),
    )


#: the columns of a record a ``Row`` shows (labelled: they are read beside other tables' too)
ROW_COLUMNS = (CoreRecord.id.label("record_id"), CoreRecord.record_key, CoreRecord.record_type,
               CoreRecord.fields.label("record_fields"), CoreRecord.deleted.label("record_deleted"),
               CoreRecord.effective_from.label("record_effective_from"))


def _by_keys():
    """The current records of the bound ``keys`` in the bound ``base`` that the resource bound as
    ``resource_code`` contributed."""
    return and_(CoreRecord.base == bindparam("base"), _contributed_by(bindparam("resource_code")),
                CoreRecord.effective_to.is_(None), CoreRecord.deleted.is_(False),
                CoreRecord.record_key.in_(bindparam("keys", expanding=True)))


#: a query by key, built once (building it and its cache key cost more than running it), of the columns
#: a ``Row`` shows, run as Core (the records are answered, not kept in the session)
_BY_KEYS = select(*ROW_COLUMNS).where(_by_keys()).order_by(CoreRecord.record_key)


def with_records(statement):
    """``statement`` with, beside each of its rows, each of ``_BY_KEYS``' records (``ROW_COLUMNS``;
    None when none is found), in key order: a row for each of its rows and each record."""
    return statement.add_columns(*ROW_COLUMNS).outerjoin(CoreRecord, _by_keys()).order_by(CoreRecord.record_key)


def _row(view: View, record) -> Row:
    """The ``Row`` a row of ``ROW_COLUMNS`` shows."""
    return Row(sequence=record.record_id, key=view.key(record.record_type, record.record_key),
               record_type=record.record_type, fields=view.shape(record.record_fields), deleted=record.record_deleted,
               effective_from=record.record_effective_from)


def with_provenance(session: Session, view: View, rows: list[Row]) -> list[Row]:
    """``rows`` (central ones) with each field's department (the version's source, or ``field_sources``
    where another source's value was kept) and the other values other sources gave (``core_lineage``),
    shown under the same field visibility and masking as the value itself.  The versions and their
    lineage in one statement; the departments' names from the session where it holds them (the
    unified query holds the providers and the requester), the others in one more."""
    found: dict[int, tuple[CoreRecord, dict[tuple[str, int], str]]] = {}
    for record, name, value, source in session.execute(_PROVENANCE, {"ids": [row.sequence for row in rows]}):
        latest = found.setdefault(record.id, (record, {}))[1]
        if name is not None:
            latest[(name, source)] = value  # each source's latest value of the field
    named = {source for _, latest in found.values() for _, source in latest}
    for row in rows:
        record = found[row.sequence][0]
        named.update((record.field_sources or {}).get(name, record.source_id) for name in row.fields)
    names = _department_names(session, named)
    return [_provenance(view, row, *found[row.sequence], names) for row in rows]


def _provenance(view: View, row: Row, record: CoreRecord, latest: dict[tuple[str, int], str],
                names: dict[int, str]) -> Row:
    owners = record.field_sources or {}
    origin = {name: names.get(owners.get(name, record.source_id), "") for name in row.fields}
    lineage: dict[str, list[tuple[str, str]]] = {}
    for (name, source), value in latest.items():
        if view.fields is not None and name not in view.fields:
            continue  # lineage never shows a field the value itself may not show
        kept = record.fields.get(name)
        if kept is not None and str(kept) == value:
            continue
        shown = view.masking.value(name, value) if view.masking is not None else value
        lineage.setdefault(name, []).append((str(shown), names.get(source, str(source))))
    return replace(row, origin=origin, lineage=lineage)


#: versions by id, each with its key's lineage, oldest first (a row with no lineage: NULLs)
_PROVENANCE = (
    select(CoreRecord, CoreLineage.field, CoreLineage.value, CoreLineage.source_id)
    .outerjoin(CoreLineage, and_(CoreLineage.base == CoreRecord.base, CoreLineage.record_key == CoreRecord.record_key))
    .where(CoreRecord.id.in_(bindparam("ids", expanding=True))).order_by(CoreRecord.id, CoreLineage.id)
)


def _department_names(session: Session, ids: set[int]) -> dict[int, str]:
    """Department id -> name of ``ids``: those the session holds without a statement, the others in one."""
    held = {i: d for i in ids if (d := session.identity_map.get(identity_key(Department, i))) is not None}
    names = {i: d.name for i, d in held.items()}
    if len(held) < len(ids):
        names.update(session.execute(select(Department.id, Department.name)
                                     .where(Department.id.in_(ids - held.keys()))).all())
    return names
