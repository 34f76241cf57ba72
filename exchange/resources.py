"""Which base database a batch's records go to (the exchange's own rule over the shared look-ups
of ``directory.lookups``)."""

from __future__ import annotations

from directory.lookups import base_of_class
from registry.errors import ExchangeError
from registry.models import CatalogueEntry
from xsd.registry import Format


def base_for(entry: CatalogueEntry, fmt: Format) -> str:
    """The base database (基础数据库) records of ``fmt`` under ``entry`` go to; refuses a mismatch.

    A resource under a base class (人口, 法人单位, ...) holds that base's records; one under a
    主题 or 部门 class holds records of whichever format its provider sends.
    """
    base = fmt.name
    expected = base_of_class(entry.class_code)
    if expected is not None and expected != base:
        raise ExchangeError("InvalidBatch", f"resource {entry.resource_code} ({entry.name}) holds {expected} "
                            f"records, not {fmt.qname}")
    return base
