"""The look-ups every package makes, written once: a department by its code or 统一社会信用代码,
a published resource by its 资源代码, and the base database (基础数据库) a catalogue class feeds.

    department_by_code(session, "mzj")                  -> 临江市民政局
    department_by_code(session, "11330100002501037P")   -> 临江市民政局 (by its credit code)
    published_resource(session, "101001002/000001")     -> 户籍人口基础信息
    base_of_class("101001002")                          -> "population"
"""

from __future__ import annotations

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from registry.errors import NotFound
from registry.models import CatalogueEntry, Department

from .catalogue.classification import ancestors

#: base class of the classification -> the base database its resources feed
BASE_OF_CLASS = {"101": "population", "102": "legal_entity", "106": "macro_economy", "103": "spatial"}


# Built once: the statements of the look-ups every request makes (building one and its cache key
# cost more than running it).
_DEPARTMENT_BY_CODE = select(Department).where(or_(Department.code == bindparam("code"),
                                                   Department.credit_code == bindparam("credit_code")))
_ENTRY_BY_CODE = select(CatalogueEntry).where(CatalogueEntry.resource_code == bindparam("resource_code"))


def department_by_code(session: Session, code: str) -> Department:
    """The registered department with this code (``mzj``) or 统一社会信用代码."""
    wanted = (code or "").strip()
    dept = session.scalar(_DEPARTMENT_BY_CODE, {"code": wanted.lower(), "credit_code": wanted.upper()})
    if dept is None:
        raise NotFound(f"no registered department has the code or 统一社会信用代码 {wanted!r}",
                       code="UnknownDepartment", zh=f"没有代码或统一社会信用代码为 {wanted} 的已登记部门。",
                       field="department")
    return dept


def published_resource(session: Session, resource_code: str) -> CatalogueEntry:
    """The published catalogue entry with this 资源代码."""
    wanted = (resource_code or "").strip()
    entry = session.scalar(_ENTRY_BY_CODE, {"resource_code": wanted})
    if entry is None or entry.status != "published":
        raise NotFound(f"no published resource has the 资源代码 {wanted}", code="UnknownResource",
                       zh=f"没有资源代码为 {wanted} 的已发布资源。", field="resource")
    return entry


def base_of_class(class_code: str) -> str | None:
    """The base database a resource under ``class_code`` holds: its own class's or an ancestor's
    (人口 101, 法人单位 102, 空间地理 103, 宏观经济 106); None under a 主题 or 部门 class."""
    return next((BASE_OF_CLASS[c] for c in [class_code, *ancestors(class_code)] if c in BASE_OF_CLASS), None)
