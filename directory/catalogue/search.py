"""Catalogue search (目录检索) with facets: the portal's search page and the command line's list.

    search(ctx, text="户籍 登记", chosen={"sharing_type": "有条件共享", "status": "published"}, page=1,
           page_size=20)
    -> SearchResult(total=3, entries=(Entry(...), ...), facets={"provider": (("gaj", "临江市公安局", 2), ...)},
                    page=1, pages=1)

Full text is substring matching (``LIKE '%词%'``) on the resource name and abstract, each
whitespace-separated word required: correct for Chinese on SQLite and PostgreSQL alike (no
word segmentation is needed to find 户籍 in 户籍登记信息), and case-insensitive for Latin
letters through ``lower()`` on both sides.  Ordered by 相关度 (``relevance``, the portal's order
when words are given), the entries whose name is the text come first, then by how each word is
found: at the start of the name (3), inside it (2), in the abstract (1); ties by resource code.

Facets: classification (the 项 under which an entry is catalogued, e.g. 101 人口), provider, sharing
type, format, update cycle, open attribute and status; each facet counts the entries matching every
*other* chosen facet, so a choice can always be widened.

What the caller sees is the catalogue's one visibility rule (``trust.auth.catalogue_visibility``):
published entries, the caller's department's own of any status, and everything for reviewers,
admins and auditors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import case, false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from registry.db import escape_like
from registry.errors import InvalidInput
from registry.models import CatalogueEntry, Department
from trust import audit
from trust.actions import Context, action
from trust.auth import Caller, catalogue_visibility

from . import classification
from .workflow import STATUS_LABELS, Entry

FACETS = ("classification", "provider", "sharing_type", "format", "update_cycle", "open", "status")
#: the orders a search may list its entries in: name -> (its label, the ORDER BY); ties by resource code.  (Not
#: by name: the databases order Chinese by code point, not by 拼音, which a reader would take for no order.)
SORTS = {"relevance": ("相关度", (CatalogueEntry.resource_code,)),  # by the words' places first (_relevance)
         "code": ("资源代码", (CatalogueEntry.resource_code,)),
         "modified": ("最近更新", (CatalogueEntry.modified.desc(), CatalogueEntry.resource_code))}
FACET_LABELS = {"classification": "资源分类", "provider": "提供方", "sharing_type": "共享类型",
                "format": "资源格式", "update_cycle": "更新周期", "open": "开放属性", "status": "状态"}


@dataclass(frozen=True)
class SearchResult:
    """One page of the entries found, how many there are, and the facets' values with their counts."""

    total: int
    entries: tuple[Entry, ...]
    facets: dict[str, tuple[tuple[str, str, int], ...]] = field(default_factory=dict)  # (value, label, count)
    page: int = 1
    pages: int = 1


@action("catalogue.search")
def search(ctx: Context, *, text: str = "", chosen: Mapping[str, str] | None = None, mine: bool = False,
           page: int = 1, page_size: int | None = None, counts: bool = True, sort: str = "code") -> SearchResult:
    """The entries the caller may see that match ``text`` and every chosen facet, in the order ``sort``
    names (``SORTS``; by resource code unless told): page ``page`` of ``page_size`` (the last page when
    there are fewer), or all of them without one.  ``mine`` keeps the caller's department's own;
    ``counts`` False leaves the facets out."""
    result = find(ctx.session, visible_to(ctx.caller, mine), FACETS, text=text, chosen=chosen, page=page,
                  page_size=page_size, counts=counts, sort=sort)
    ctx.note(record_count=len(result.entries),
             query_digest=audit.query_digest({"text": text, "chosen": chosen, "mine": mine, "page": page}))
    return result


def visible_to(caller: Caller, mine: bool = False) -> list:
    """The conditions of the entries ``caller`` sees (``catalogue_visibility``); with ``mine``, of its
    department's own only."""
    visible = catalogue_visibility(caller)
    if mine:
        visible.append(CatalogueEntry.provider_id == caller.department_id
                       if caller.department_id is not None else false())
    return visible


def find(session: Session, visible: list, facets: tuple[str, ...], *, text: str = "",
         chosen: Mapping[str, str] | None = None, page: int = 1, page_size: int | None = None,
         counts: bool = True, sort: str = "code") -> SearchResult:
    """The search itself, within the entries the conditions ``visible`` let through, counting ``facets``:
    for the actions that each apply their visibility rule (this one, and the open catalogue's)."""
    if sort not in SORTS:
        raise InvalidInput(f"sort: {sort!r} is not one of {', '.join(SORTS)}", field="sort",
                           zh=f"排序方式只能是{'、'.join(label for label, _order in SORTS.values())}。")
    chosen = {k: v for k, v in (chosen or {}).items() if v and k in facets}
    words = text.split()
    base = [*visible, *_text(words)]
    where = base + [_condition(k, v) for k, v in chosen.items()]
    total = session.scalar(select(func.count()).select_from(CatalogueEntry).where(*where)) or 0
    order = SORTS[sort][1]
    if sort == "relevance" and words:
        order = (_relevance(words).desc(), *order)
    query = (select(CatalogueEntry).where(*where)
             .options(selectinload(CatalogueEntry.provider), selectinload(CatalogueEntry.items))
             .order_by(*order))
    pages = 1
    if page_size is not None:
        pages = max((total + page_size - 1) // page_size, 1) if page_size > 0 else 1
        page = min(max(page, 1), pages)
        query = query.offset((page - 1) * page_size).limit(page_size)
    entries = tuple(Entry.of(row) for row in session.scalars(query))
    counted = {name: _facet(session, name, base + [_condition(k, v) for k, v in chosen.items() if k != name])
               for name in facets} if counts else {}
    return SearchResult(total, entries, counted, page if page_size is not None else 1, pages)


def _condition(name: str, value: str):
    if name == "classification":
        return CatalogueEntry.class_code.startswith(value, autoescape=True)
    if name == "provider":
        return CatalogueEntry.provider_id == select(Department.id).where(Department.code == value).scalar_subquery()
    if name == "sharing_type":
        return CatalogueEntry.sharing_type == value
    if name == "format":
        return CatalogueEntry.format_class == value
    if name == "update_cycle":
        return CatalogueEntry.update_cycle == value
    if name == "open":
        return CatalogueEntry.open_to_public.is_(value == "1")
    if name == "status":
        return CatalogueEntry.status == value
    raise KeyError(name)


def _text(words: list[str]):
    conditions = []
    for word in words:
        pattern = "%" + escape_like(word.lower()) + "%"
        conditions.append(or_(func.lower(CatalogueEntry.name).like(pattern, escape="\\"),
                              func.lower(CatalogueEntry.abstract).like(pattern, escape="\\")))
    return conditions


def _relevance(words: list[str]):
    """How well an entry matches the search: 10 when its name is the text, and for each word 3 at the start
    of the name, 2 inside it, 1 in the abstract (an entry matches every word somewhere)."""
    name, abstract = func.lower(CatalogueEntry.name), func.lower(CatalogueEntry.abstract)
    score = case((name == " ".join(words).lower(), 10), else_=0)
    for word in words:
        escaped = escape_like(word.lower())
        score = score + case((name.like(escaped + "%", escape="\\"), 3),
                             (name.like("%" + escaped + "%", escape="\\"), 2),
                             (abstract.like("%" + escaped + "%", escape="\\"), 1), else_=0)
    return score


def _facet(session: Session, name: str, where: list) -> tuple[tuple[str, str, int], ...]:
    count = func.count().label("n")
    if name == "classification":
        rows = session.execute(select(CatalogueEntry.class_code, count).where(*where)
                               .group_by(CatalogueEntry.class_code)).all()
        totals: dict[str, int] = {}
        for code, n in rows:
            key = code[:3]
            totals[key] = totals.get(key, 0) + n
        return tuple((k, f"{k} {_class_name(k)}", n) for k, n in sorted(totals.items()))
    if name == "provider":
        rows = session.execute(select(Department.code, Department.name, count).select_from(CatalogueEntry)
                               .join(Department, CatalogueEntry.provider_id == Department.id).where(*where)
                               .group_by(Department.code, Department.name).order_by(Department.code)).all()
        return tuple((code, label, n) for code, label, n in rows)
    column = {"sharing_type": CatalogueEntry.sharing_type, "format": CatalogueEntry.format_class,
              "update_cycle": CatalogueEntry.update_cycle, "open": CatalogueEntry.open_to_public,
              "status": CatalogueEntry.status}[name]
    rows = session.execute(select(column, count).where(*where).group_by(column).order_by(column)).all()
    if name == "open":
        return tuple(("1" if value else "0", "向社会开放" if value else "不向社会开放", n) for value, n in rows)
    if name == "status":
        return tuple((value, STATUS_LABELS.get(value, value), n) for value, n in rows)
    return tuple((value, value, n) for value, n in rows)


def _class_name(code: str) -> str:
    try:
        return classification.node(code).name
    except KeyError:
        return ""
