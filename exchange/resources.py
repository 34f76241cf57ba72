"""Who and what an exchange call is about: departments by credit code, published
resources by resource code, and which base database a record type belongs to."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.catalogue.classification import ancestors
from registry.models import CatalogueEntry, Department
from xsd.registry import Format

from .errors import ExchangeError

#: base class of the classification -> the base database its resources feed
BASE_OF_CLASS = {"101": "population", "102": "legal_entity", "106": "macro_economy", "103": "spatial"}


def department(session: Session, credit_code: str) -> Department:
    dept = session.scalar(select(Department).where(Department.credit_code == credit_code.strip()))
    if dept is None:
        raise ExchangeError("UnknownDepartment", f"no registered department has the 统一社会信用代码 {credit_code}")
    return dept


def published_resource(session: Session, resource_code: str) -> CatalogueEntry:
    entry = session.scalar(select(CatalogueEntry).where(CatalogueEntry.resource_code == resource_code.strip()))
    if entry is None or entry.status != "published":
        raise ExchangeError("UnknownResource", f"no published resource has the 资源代码 {resource_code}")
    return entry


def base_for(entry: CatalogueEntry, fmt: Format) -> str:
    """The base database (基础数据库) records of ``fmt`` under ``entry`` go to; refuses a mismatch.

    A resource under a base class (人口, 法人单位, ...) holds that base's records; one under a
    主题 or 部门 class holds records of whichever format its provider sends.
    """
    base = fmt.name
    expected = next((BASE_OF_CLASS[c] for c in [entry.class_code, *ancestors(entry.class_code)]
                     if c in BASE_OF_CLASS), None)
    if expected is not None and expected != base:
        raise ExchangeError("InvalidBatch", f"resource {entry.resource_code} ({entry.name}) holds {expected} "
                            f"records, not {fmt.qname}")
    return base
