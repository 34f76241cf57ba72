"""Catalogue search (目录检索) with facets, for the portal.

Full text is substring matching (``LIKE '%词%'``) on the resource name and abstract, each
whitespace-separated word required: correct for Chinese on SQLite and PostgreSQL alike (no
word segmentation is needed to find 户籍 in 户籍登记信息), and case-insensitive for Latin
letters through ``lower()`` on both sides.  Facets: classification (the 项 under which an
entry is catalogued, e.g. 101 人口), provider, sharing type, format, update cycle and open
attribute; each facet counts the entries matching every *other* chosen facet, so a choice
can always be widened.

Visibility is the catalogue workflow's: published entries, plus a department's own entries
of any status, plus everything for reviewers, admins and auditors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from directory.catalogue import classification
from directory.catalogue.workflow import PUBLISHED, SEE_ALL_ROLES
from registry.db import escape_like
from registry.models import CatalogueEntry, Department, User

FACETS = ("classification", "provider", "sharing_type", "format", "update_cycle", "open")
FACET_LABELS = {"classification": "资源分类", "provider": "提供方", "sharing_type": "共享类型",
                "format": "资源格式", "update_cycle": "更新周期", "open": "开放属性", "status": "状态"}
STATUS_LABELS = {"draft": "草稿", "submitted": "待审核", "approved": "已审核", "published": "已发布",
                 "refused": "已退回", "withdrawn": "已下架"}


@dataclass
class SearchResult:
    total: int
    entries: list[CatalogueEntry]
    facets: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)  # facet -> (value, label, count)


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


def _visible(viewer: User):
    if viewer.role_set & SEE_ALL_ROLES:
        return []
    own = CatalogueEntry.provider_id == viewer.department_id if viewer.department_id else false()
    return [or_(CatalogueEntry.status == PUBLISHED, own)]


def _text(words: list[str]):
    conditions = []
    for word in words:
        pattern = "%" + escape_like(word.lower()) + "%"
        conditions.append(or_(func.lower(CatalogueEntry.name).like(pattern, escape="\\"),
                              func.lower(CatalogueEntry.abstract).like(pattern, escape="\\")))
    return conditions


def search(session: Session, viewer: User, *, text: str = "", chosen: dict[str, str] | None = None,
           page: int = 1, page_size: int = 20) -> SearchResult:
    """One page of the entries ``viewer`` may see that match ``text`` and every chosen facet."""
    chosen = {k: v for k, v in (chosen or {}).items() if v and (k in FACETS or k == "status")}
    base = [*_visible(viewer), *_text(text.split())]
    where = base + [_condition(k, v) for k, v in chosen.items()]
    total = session.scalar(select(func.count()).select_from(CatalogueEntry).where(*where)) or 0
    entries = list(session.scalars(
        select(CatalogueEntry).where(*where).options(selectinload(CatalogueEntry.provider))
        .order_by(CatalogueEntry.resource_code).offset((max(page, 1) - 1) * page_size).limit(page_size)))
    result = SearchResult(total, entries)
    for name in (*FACETS, "status"):
        others = base + [_condition(k, v) for k, v in chosen.items() if k != name]
        result.facets[name] = _facet(session, name, others)
    return result


def _facet(session: Session, name: str, where: list) -> list[tuple[str, str, int]]:
    count = func.count().label("n")
    if name == "classification":
        rows = session.execute(select(CatalogueEntry.class_code, count).where(*where)
                               .group_by(CatalogueEntry.class_code)).all()
        totals: dict[str, int] = {}
        for code, n in rows:
            key = code[:3]
            totals[key] = totals.get(key, 0) + n
        return [(k, f"{k} {_class_name(k)}", n) for k, n in sorted(totals.items())]
    if name == "provider":
        rows = session.execute(select(Department.code, Department.name, count).select_from(CatalogueEntry)
                               .join(Department, CatalogueEntry.provider_id == Department.id).where(*where)
                               .group_by(Department.code, Department.name).order_by(Department.code)).all()
        return [(code, label, n) for code, label, n in rows]
    column = {"sharing_type": CatalogueEntry.sharing_type, "format": CatalogueEntry.format_class,
              "update_cycle": CatalogueEntry.update_cycle, "open": CatalogueEntry.open_to_public,
              "status": CatalogueEntry.status}[name]
    rows = session.execute(select(column, count).where(*where).group_by(column).order_by(column)).all()
    if name == "open":
        return [("1" if value else "0", "向社会开放" if value else "不向社会开放", n) for value, n in rows]
    if name == "status":
        return [(value, STATUS_LABELS.get(value, value), n) for value, n in rows]
    return [(value, value, n) for value, n in rows]


def _class_name(code: str) -> str:
    try:
        return classification.node(code).name
    except KeyError:
        return ""
