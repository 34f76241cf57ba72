"""The open catalogue (开放目录): the catalogue as anyone sees it, signed in or not.

    open_search(ctx, text="企业", chosen={"provider": "scjgj"}, page=1, page_size=20)
    -> SearchResult(total=1, entries=(Entry(resource_code="102002001/000001", ...),), facets={...})
    open_show(ctx, resource_code="102002001/000001") -> Entry(...)

Its entries are those of the open catalogue's rule (``trust.auth.open_catalogue``): published and
open to the public (是否向社会开放).  A code outside it - a draft, a withdrawn entry, one shared
within government only, or no entry at all - is the same :class:`~registry.errors.EntryNotFound`,
so the open catalogue says nothing of what it does not show; an entry's 关联资源代码 keep only the
codes it shows.  The portal's 开放目录 pages and the DCAT-AP files (:mod:`.dcat`) are its front ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from registry.errors import EntryNotFound
from registry.models import CatalogueEntry
from trust import audit
from trust.actions import Context, action
from trust.auth import open_catalogue

from .search import SearchResult, find
from .workflow import Entry

#: the facets of the open catalogue: its entries are all published and open, so status and 开放属性 tell nothing
OPEN_FACETS = ("classification", "provider", "sharing_type", "format", "update_cycle")


@action("catalogue.open_search")
def open_search(ctx: Context, *, text: str = "", chosen: Mapping[str, str] | None = None, page: int = 1,
                page_size: int | None = None, sort: str = "code") -> SearchResult:
    """The open entries that match ``text`` and every chosen facet (see ``search.find``), in the order
    ``sort`` names (by resource code unless told)."""
    result = find(ctx.session, open_catalogue(), OPEN_FACETS, text=text, chosen=chosen, page=page,
                  page_size=page_size, sort=sort)
    ctx.note(record_count=len(result.entries),
             query_digest=audit.query_digest({"text": text, "chosen": chosen, "page": page}))
    return result


@action("catalogue.open_show")
def open_show(ctx: Context, *, resource_code: str) -> Entry:
    """The open entry with this 资源代码, its related codes limited to open ones; else EntryNotFound."""
    code = (resource_code or "").strip()
    row = ctx.session.scalar(select(CatalogueEntry).where(CatalogueEntry.resource_code == code, *open_catalogue())
                             .options(selectinload(CatalogueEntry.provider), selectinload(CatalogueEntry.items)))
    if row is None:
        raise EntryNotFound(code)
    entry = Entry.of(row)
    ctx.note(resource_code=entry.resource_code)
    shown = open_codes(ctx.session, entry.related_codes)
    return replace(entry, related_codes=tuple(code for code in entry.related_codes if code in shown))


def open_codes(session: Session, codes: Iterable[str]) -> set[str]:
    """Those of ``codes`` that are in the open catalogue."""
    wanted = set(codes)
    if not wanted:
        return set()
    return set(session.scalars(select(CatalogueEntry.resource_code)
                               .where(CatalogueEntry.resource_code.in_(wanted), *open_catalogue())))
