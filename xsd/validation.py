"""Record validation in two layers: structure (the XSD), then semantics (xsd/rules.py).

``validate_record`` takes one record element - standalone or still inside its batch - and
never raises on bad input::

    <p:Person xmlns:p="http://govshare.local/xsd/population/1.0">
      <p:idNumber>330102199001021235</p:idNumber> ...
    </p:Person>

    -> RecordResult(format=<population 1.0>, key=("330102199001021235",), fields={...},
                    violations=[Violation("id_number.checksum", "idNumber",
                                          "公民身份号码 330102199001021235: check digit should be X")])

Layer 1, rule ``structure``: the lxml (libxml2) schema of the record's format, compiled once;
only when it fails does xmlschema validate again, to say where and why in words
(``/Person/sex: value must be one of ['0', '1', '2', '9']``). A record whose root QName has
no registered format fails rule ``format.unregistered``; one whose type differs from the
batch's declared type, ``format.mismatch``.
Layer 2 runs only on structurally valid records, on their decoded fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import xmlschema
from lxml import etree

from . import registry
from .registry import DecodeError, Format
from .rules import RuleSettings, Violation, check

#: At most this many structure errors are reported per record; the first ones explain the rest.
MAX_STRUCTURE_ERRORS = 5


@dataclass(frozen=True)
class RecordResult:
    """The outcome for one record: ``fields`` is None when the structure is invalid."""

    format: Format | None
    key: tuple[str, ...] | None
    fields: dict[str, object] | None
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def validate_record(element: etree._Element, *, record_type: str | None = None, version: str | None = None,
                    today: date | None = None, settings: RuleSettings | None = None) -> RecordResult:
    """Validate one record; ``record_type`` and ``version`` are what the batch header declares."""
    tag = element.tag
    if not isinstance(tag, str):
        return RecordResult(None, None, None, [Violation("structure", None, "a record must be an element")])
    fmt = registry.find(tag, version)
    if fmt is None:
        return RecordResult(None, None, None, [
            Violation("format.unregistered", None, registry.unregistered_message(tag, version))])
    if record_type is not None and tag != record_type:
        return RecordResult(fmt, fmt.key_from_element(element), None, [
            Violation("format.mismatch", None, f"the batch declares {record_type} records, this one is {tag}")])
    if not fmt.schema.validate(element):
        return RecordResult(fmt, fmt.key_from_element(element), None, structure_violations(fmt, element))
    try:
        fields = fmt.decode(element)
    except DecodeError as exc:
        return RecordResult(fmt, fmt.key_from_element(element), None, [Violation("structure", None, str(exc))])
    return RecordResult(fmt, fmt.key(fields), fields, check(fmt, fields, today=today, settings=settings))


def structure_violations(fmt: Format, element: etree._Element) -> list[Violation]:
    """Readable reasons why ``element`` is not valid against its format's XSD."""
    violations = []
    # an explicit resource: the schema's sandbox setting would refuse an in-memory element
    for error in fmt.xmlschema.iter_errors(xmlschema.XMLResource(element)):
        field, path = _located(element, error.elem)
        violations.append(Violation("structure", field, f"{path}: {error.reason}"))
        if len(violations) == MAX_STRUCTURE_ERRORS:
            break
    if not violations:
        # the two validators disagree (rare: regular-expression dialects); libxml2's words then
        log = fmt.schema.error_log
        violations = [Violation("structure", None, e.message) for e in list(log)[:MAX_STRUCTURE_ERRORS]] or [
            Violation("structure", None, "not valid against " + fmt.schema_path.name)]
    return violations


def _located(record: etree._Element, elem: object) -> tuple[str | None, str]:
    """(the record field containing ``elem``, its path by local names such as /Person/sex)."""
    names = []
    node = elem if isinstance(elem, etree._Element) else record
    while node is not None and node is not record:
        names.append(etree.QName(node).localname)
        node = node.getparent()
    names.append(etree.QName(record).localname)
    names.reverse()
    return (names[1] if len(names) > 1 else None), "/" + "/".join(names)
