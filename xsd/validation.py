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

``validate_fields`` validates a field dict (an adapter's mapped record) without building a
tree: where every field of the format is a simple type, the schema's facets (patterns,
enumerations, lengths) are compiled once into checks on each field's text, which is also
rendered straight to its exclusive canonical form (what a batch holds and its digest covers)::

    validate_fields(fmt, {"idNumber": "33010219900102123X", "name": "张伟", ...})
    -> Checked(result=RecordResult(..., fields={...}, violations=[]),
               canonical=b'<Person xmlns="http://govshare.local/xsd/population/1.0"><idNumber>...')

Anything the compiled checks cannot vouch for (a facet they do not know, a complex field, a
value that is not of its field's Python type, a failed facet, a missing required field) takes
the tree path: ``Format.encode`` and ``validate_record``, so a record the XSD refuses is
refused with rule ``structure`` and the same words as a submitted one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache

import xmlschema
from lxml import etree
from xmlschema.validators import XsdAtomicBuiltin

from . import registry
from .batch import canonical
from .registry import DecodeError, Format
from .rules import RuleSettings, Violation, check

#: At most this many structure errors are reported per record; the first ones explain the rest.
MAX_STRUCTURE_ERRORS = 5


@dataclass(slots=True)  # made for every record validated: a frozen dataclass's __init__ costs several times more
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


@dataclass(slots=True)
class Checked:
    """A validated field dict: its result, the record's exclusive canonical XML and, where the
    compiled checks rendered it, each field's XML text - also its JSON form (``prepared.jsonable``)."""

    result: RecordResult
    canonical: bytes
    texts: dict[str, str] | None = None


def validate_fields(fmt: Format, fields: Mapping[str, object], *, today: date | None = None,
                    settings: RuleSettings | None = None) -> Checked:
    """Validate a field dict as ``validate_record`` would validate ``fmt.encode(fields)``.

    Raises what ``Format.encode`` raises (an unknown field, a string XML cannot hold).
    """
    compiled = _compiled(fmt)
    rendered = compiled(fields) if compiled is not None else None
    if rendered is None:
        element = fmt.encode(fields)
        return Checked(validate_record(element, record_type=fmt.qname, version=fmt.version, today=today,
                                       settings=settings), canonical(element))
    text, decoded, texts = rendered
    result = RecordResult(fmt, fmt.key(decoded), decoded, check(fmt, decoded, today=today, settings=settings))
    return Checked(result, text.encode(), texts)


# -- the schema's facets, compiled -------------------------------------------------------------------

_XSD = "{http://www.w3.org/2001/XMLSchema}"
# needs escaping in character data, or cannot be in an XML document at all: left to the tree path
_SPECIAL = re.compile("[&<>\r]|[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]").search
_DATE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d)?").fullmatch
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)").fullmatch
_PRIMITIVES = {"string": str, "date": date, "dateTime": datetime, "decimal": Decimal}


@dataclass(frozen=True)
class _Facets:
    """One field's simple type, compiled: its primitive and the facets of every restriction step."""

    name: str
    required: bool
    primitive: type
    opening: str
    closing: str
    patterns: tuple[Callable[[str], object], ...] = ()
    allowed: frozenset[str] | None = None
    shortest: int = 0
    longest: int | None = None


def _facets(declared: xmlschema.XsdElement, name: str) -> _Facets | None:
    """The compiled facets of an element declaration, or None when one is beyond these checks."""
    xsd_type = declared.type
    if not xsd_type.is_simple() or not xsd_type.is_atomic():
        return None
    primitive = _PRIMITIVES.get(xsd_type.primitive_type.local_name)
    if primitive is None:
        return None
    tag = declared.local_name
    patterns, allowed, shortest, longest = [], None, 0, None
    step = xsd_type
    while not isinstance(step, XsdAtomicBuiltin):
        for facet_name, facet in step.facets.items():
            if facet_name == _XSD + "pattern":
                patterns.extend(p.match for p in facet.patterns)  # anchored by xmlschema
            elif facet_name == _XSD + "whiteSpace" and (primitive is not str or facet.value == "preserve"):
                continue
            elif primitive is not str:  # enumerations and lengths of dates or numbers: not compiled
                return None
            elif facet_name == _XSD + "enumeration":
                allowed = frozenset(facet.enumeration) & (allowed if allowed is not None else frozenset(
                    facet.enumeration))
            elif facet_name in (_XSD + "length", _XSD + "minLength"):
                shortest = max(shortest, facet.value)
                if facet_name == _XSD + "length":
                    longest = facet.value if longest is None else min(longest, facet.value)
            elif facet_name == _XSD + "maxLength":
                longest = facet.value if longest is None else min(longest, facet.value)
            else:
                return None
        step = step.base_type
    return _Facets(name, declared.min_occurs > 0, primitive, f"<{tag}>", f"</{tag}>", tuple(patterns), allowed,
                   shortest, longest)


@cache
def _compiled(fmt: Format) -> Callable[[Mapping[str, object]], tuple[str, dict, dict] | None] | None:
    """The compiled checks and canonical rendering of ``fmt``, or None when its schema needs the tree."""
    local = etree.QName(fmt.qname).localname
    root_type = fmt.xmlschema.elements[local].type
    content = getattr(root_type, "content", None)
    if root_type.attributes or getattr(content, "model", None) != "sequence" or not all(
            isinstance(item, xmlschema.XsdElement) and item.max_occurs == 1 for item in content):
        return None
    plan = tuple(_facets(declared, known.name) for declared, known in zip(content, fmt.fields, strict=True))
    if any(f is None for f in plan) or any(known.extra_keys for known in fmt.fields):
        return None
    return _generate(plan, f'<{local} xmlns="{fmt.namespace}">', f"</{local}>")


def _generate(plan: tuple[_Facets, ...], opening: str, closing: str) -> Callable:
    """``render`` for ``plan``, written out field by field as Python source and compiled.

    It runs for every field of every record an adapter reads, and a loop over the plan spends
    more on looking its facets up than on checking them: here each field's checks are only
    the ones its type has, with its facets as constants.  ``render(fields)`` returns (the
    canonical XML, the decoded fields, their texts), or None: the tree path must decide.
    """
    constants: dict[str, object] = {"_SPECIAL": _SPECIAL, "_DATE_TIME": _DATE_TIME, "_DECIMAL": _DECIMAL,
                                    "date": date, "datetime": datetime, "Decimal": Decimal,
                                    "NAMES": frozenset(f.name for f in plan)}
    lines = ["def render(fields):",
             "    if not NAMES.issuperset(fields):",
             "        return None",
             "    get = fields.get",
             f"    parts, decoded, texts = [{opening!r}], {{}}, {{}}"]
    for n, f in enumerate(plan):
        lines += [f"    value = get({f.name!r})",
                  "    if value is None:",
                  "        return None" if f.required else "        pass",
                  "    else:"]
        body = []
        if f.primitive is str:
            refused = ["_SPECIAL(text)"]
            if f.shortest:
                refused.append(f"len(text) < {f.shortest}")
            if f.longest is not None:
                refused.append(f"len(text) > {f.longest}")
            if f.allowed is not None:
                constants[f"ALLOWED_{n}"] = f.allowed
                refused.append(f"text not in ALLOWED_{n}")
            body += ["text = typed = value if value.__class__ is str else str(value)",
                     f"if {' or '.join(refused)}:", "    return None"]
        else:
            body += [f"if value.__class__ is not {f.primitive.__name__}:", "    return None"]
            if f.primitive is date:
                body += ["text, typed = value.isoformat(), value"]
            elif f.primitive is datetime:
                body += ["text = value.isoformat()", "if not _DATE_TIME(text):", "    return None",
                         "typed = datetime.fromisoformat(text)"]
            else:
                body += ["text = format(value, 'f')", "if not _DECIMAL(text):", "    return None",
                         "typed = Decimal(text)"]
        for m, matches in enumerate(f.patterns):
            constants[f"PATTERN_{n}_{m}"] = matches
            body += [f"if PATTERN_{n}_{m}(text) is None:", "    return None"]
        body += [f"parts.append({f.opening!r} + text + {f.closing!r})",
                 f"decoded[{f.name!r}] = typed", f"texts[{f.name!r}] = text"]
        lines += ["        " + line for line in body]
    lines += [f"    parts.append({closing!r})", "    return ''.join(parts), decoded, texts"]
    exec(compile("\n".join(lines), f"<render {opening}>", "exec"), constants)  # noqa: S102 - our own source
    return constants["render"]
