"""The output tier (输出库): what a consumer sees of a resource.

Every read of records — QueryRecords, GetChanges, and later the portal's unified
query — goes through ``read_view``, which decides what the requester may see.  Today
the view of a shared resource is all its fields; 不予共享 resources are never served.
Grants, field scopes and masking (the security issue) belong here and nowhere else.

A resource shows the records its provider contributed, as the core holds them now:
integrated, so a newer value from another department (with its lineage) is what the
consumer reads, and a change by any source is a change of the resource.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.models import CatalogueEntry, CoreRecord, Department

from .errors import ExchangeError

MAX_PAGE = 1000
DEFAULT_PAGE = 100


@dataclass(frozen=True)
class View:
    """What one requester may read of one resource."""

    entry: CatalogueEntry
    requester: Department
    fields: frozenset[str] | None  # None: every field

    def shape(self, fields: dict[str, Any]) -> dict[str, Any]:
        if self.fields is None:
            return dict(fields)
        return {k: v for k, v in fields.items() if k in self.fields}


@dataclass
class Row:
    sequence: int
    key: str
    record_type: str
    fields: dict[str, Any]
    deleted: bool
    effective_from: Any


def read_view(session: Session, requester: Department, entry: CatalogueEntry) -> View:
    """The view ``requester`` has of ``entry``; refuses what may not be served."""
    if entry.sharing_type == "不予共享" and entry.provider_id != requester.id:
        raise ExchangeError("NotShared", f"resource {entry.resource_code} ({entry.name}) is 不予共享: "
                            f"{entry.not_shared_basis or 'not shared'}")
    return View(entry=entry, requester=requester, fields=None)


def query(
    session: Session,
    view: View,
    *,
    keys: list[str],
    filters: list[tuple[str, str, str]],
    offset: int,
    page_size: int,
) -> tuple[int, list[Row]]:
    """Current records of the view's resource by key or by (field, operator, value) filters."""
    page_size = max(1, min(page_size or DEFAULT_PAGE, MAX_PAGE))
    base = _base(session, view)
    if base is None:
        return 0, []
    stmt = select(CoreRecord).where(
        CoreRecord.base == base, CoreRecord.record_key.in_(_contributed(view)), CoreRecord.effective_to.is_(None),
        CoreRecord.deleted.is_(False),
    )
    if keys:
        stmt = stmt.where(CoreRecord.record_key.in_(keys))
    for name, operator, value in filters:
        if view.fields is not None and name not in view.fields:
            raise ExchangeError("InvalidRequest", f"field {name} is not visible in resource {view.entry.resource_code}")
        column = CoreRecord.fields[name].as_string()
        stmt = stmt.where(column == value if operator == "eq" else column.like(_escape(value) + "%", escape="\\"))
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(CoreRecord.record_key).offset(max(offset, 0)).limit(page_size))
    return total, [_row(view, r) for r in rows]


def changes(session: Session, view: View, *, watermark: int, limit: int) -> tuple[list[Row], bool]:
    """Versions of the view's resource after ``watermark``, oldest first; and whether more follow."""
    limit = max(1, min(limit or DEFAULT_PAGE, MAX_PAGE))
    base = _base(session, view)
    if base is None:
        return [], False
    rows = list(session.scalars(
        select(CoreRecord)
        .where(CoreRecord.base == base, CoreRecord.id > watermark, CoreRecord.record_key.in_(_contributed(view)))
        .order_by(CoreRecord.id).limit(limit + 1)
    ))
    return [_row(view, r) for r in rows[:limit]], len(rows) > limit


def _base(session: Session, view: View) -> str | None:
    """The base database the resource's records are in; None before its first batch."""
    return session.scalar(select(CoreRecord.base).where(CoreRecord.resource_code == view.entry.resource_code)
                          .limit(1))


def _contributed(view: View):
    """Keys of the records the view's resource has contributed to the core."""
    return select(CoreRecord.record_key).where(CoreRecord.resource_code == view.entry.resource_code)


def _row(view: View, record: CoreRecord) -> Row:
    return Row(sequence=record.id, key=record.record_key, record_type=record.record_type,
               fields=view.shape(record.fields), deleted=record.deleted, effective_from=record.effective_from)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
