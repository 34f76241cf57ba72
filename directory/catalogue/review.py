"""审核发布's queue: the entries waiting for a reviewer - submitted (to approve or refuse), then
approved (to publish) - each with who submitted it and when, and what it changes against the
version last published, or that it was never published (the action ``catalogue.review_queue``).

A reviewer approves an edit of a published resource by what it changes: ``changes`` compares the
metadata of two snapshots (``workflow.snapshot``, kept with every version) field by field, in the
portal's words (``FIELD_LABELS``), information items as one field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from registry.models import CatalogueEntry, CatalogueVersion
from trust.actions import Context, action

from .metadata import FIELD_LABELS
from .workflow import APPROVED, SUBMITTED, Entry, Version

#: the metadata a reviewer weighs, in the form's order (the platform's own fields - status, version,
#: times, the UDDI key - change with every step and are left out)
COMPARED = ("name", "provider_unit", "abstract", "format_class", "format_type", "items", "sharing_type",
            "sharing_condition", "not_shared_basis", "sharing_method", "open_to_public", "open_condition",
            "update_cycle", "publish_date", "related_codes", "wsdl_path", "access_point", "logical")


@dataclass(frozen=True)
class Change:
    """One field that differs from the version last published, both values as the portal shows them."""

    field: str
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class Pending:
    """An entry waiting for a reviewer."""

    entry: Entry
    submitted_by: str
    submitted_at: datetime | None
    published_version: int | None  # the version last published; None: never published
    changes: tuple[Change, ...]  # against that version (none when never published)


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> tuple[Change, ...]:
    """The fields of ``COMPARED`` whose values differ between two snapshots (none without ``before``)."""
    if before is None:
        return ()
    return tuple(Change(name, FIELD_LABELS[name], _text(name, before.get(name)), _text(name, after.get(name)))
                 for name in COMPARED if _same(before.get(name)) != _same(after.get(name)))


def last_published(history: tuple[Version, ...]) -> Version | None:
    """The latest version of an entry's history that published it."""
    return next((v for v in reversed(history) if v.action == "publish"), None)


@action("catalogue.review_queue")
def review_queue(ctx: Context) -> dict[str, list[Pending]]:
    """The entries submitted (to approve or refuse) and approved (to publish), each status by 资源代码."""
    session = ctx.session
    rows = session.scalars(select(CatalogueEntry).where(CatalogueEntry.status.in_((SUBMITTED, APPROVED)))
                           .options(joinedload(CatalogueEntry.provider), selectinload(CatalogueEntry.items))
                           .order_by(CatalogueEntry.resource_code)).all()
    submitted: dict[int, CatalogueVersion] = {}
    published: dict[int, CatalogueVersion] = {}
    for version in session.scalars(select(CatalogueVersion).where(
            CatalogueVersion.entry_id.in_([r.id for r in rows]), CatalogueVersion.action.in_(("submit", "publish")))
            .order_by(CatalogueVersion.version)):
        (submitted if version.action == "submit" else published)[version.entry_id] = version  # the latest wins
    queue: dict[str, list[Pending]] = {SUBMITTED: [], APPROVED: []}
    for row in rows:
        entry, sent, last = Entry.of(row), submitted.get(row.id), published.get(row.id)
        queue[row.status].append(Pending(
            entry, sent.changed_by if sent else "", sent.changed_at if sent else None,
            last.version if last else None, changes(last.snapshot if last else None, entry.as_dict())))
    ctx.note(record_count=len(rows))
    return queue


def _same(value: Any) -> Any:
    """A value as compared: no value, an empty text and an empty list are alike."""
    return None if value in (None, "", []) else value


def _text(name: str, value: Any) -> str:
    value = _same(value)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if name == "items":
        return "; ".join(f"{i['name']} ({i['data_type']}" + (f", {i['length']})" if i.get("length") else ")")
                         for i in value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
