"""Helpers for the format tests: sample records with one thing changed, validated on a fixed day.

tests/xsd has no __init__.py on purpose: as a package it would be named ``xsd`` (tests/ is not a
package) and shadow the real ``xsd`` package.
"""

from __future__ import annotations

from datetime import date

from lxml import etree

from xsd import registry, samples
from xsd.validation import RecordResult, validate_record

#: The day the tests validate on: after every sample date (samples.AS_OF).
TODAY = date(2024, 7, 1)

_FIELDS = {
    "population": samples.population_fields,
    "legal_entity": samples.legal_entity_fields,
    "macro_economy": samples.indicator_fields,
    "spatial": samples.spatial_fields,
}


def fmt(name: str) -> registry.Format:
    return next(f for f in registry.formats() if f.name == name)


def fields(name: str, seed: int = 0, **changes: object) -> dict[str, object]:
    """The fields of a valid sample record of format ``name``, with ``changes`` applied."""
    return next(_FIELDS[name](1, seed)) | changes


def record(name: str, seed: int = 0, **changes: object) -> etree._Element:
    return fmt(name).encode(fields(name, seed, **changes))


def validate(element: etree._Element, **kwargs: object) -> RecordResult:
    return validate_record(element, today=TODAY, **kwargs)


def rules(result: RecordResult) -> list[str]:
    return [v.rule for v in result.violations]


def spatial_kind(kind: str) -> dict[str, object]:
    """The fields of the first spatial sample of ``kind`` (地址点, 地块, 行政区划)."""
    return next(f for f in samples.spatial_fields(50, seed=0) if f["featureKind"] == kind)
