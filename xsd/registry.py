"""The format registry: which schema a record follows, keyed by its root element's QName.

A record's type is the QName of its root element (DESIGN.md, wire contracts)::

    <p:Person xmlns:p="http://govshare.local/xsd/population/1.0">...</p:Person>
    -> lookup("{http://govshare.local/xsd/population/1.0}Person") -> Format "population" 1.0

Each ``Format`` compiles its schema once (lxml for the fast path, xmlschema for readable
errors; imports resolve to the files beside it, never to the network), knows its natural key,
and converts between a record element and a flat field dict whose keys are the child
elements' local names::

    {"idNumber": "33010219900102123X", "name": "张伟", "sex": "1", "ethnicity": "01",
     "birthDate": date(1990, 1, 2), ...}

The fields are read from the schema itself, so the XSD stays the one description of a
format. Values are ``str``, ``date``, ``datetime``, ``Decimal``, ``int`` or ``bool`` after their
XSD types; three complex types have their own shape:

- ``c:Money`` -> the amount as ``Decimal`` under the element's name and the currency under
  ``<name>Currency`` (``registeredCapital``, ``registeredCapitalCurrency``);
- ``s:Geometry`` -> a GeoJSON-like dict, ``{"type": "Point", "coordinates": [lon, lat]}`` or
  ``{"type": "Polygon", "coordinates": [[[lon, lat], ...], ...]}`` (exterior ring first),
  longitude first as in GeoJSON while GML in EPSG:4490 writes latitude first;
- ``s:Attributes`` -> ``dict[str, str]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

import xmlschema
from lxml import etree

HERE = Path(__file__).resolve().parent
COMMON_NS = "http://govshare.local/xsd/common/1.0"
POPULATION_NS = "http://govshare.local/xsd/population/1.0"
LEGAL_ENTITY_NS = "http://govshare.local/xsd/legal_entity/1.0"
MACRO_ECONOMY_NS = "http://govshare.local/xsd/macro_economy/1.0"
SPATIAL_NS = "http://govshare.local/xsd/spatial/1.0"
GML_NS = "http://www.opengis.net/gml/3.2"
#: CGCS2000 geographic 2D, the only CRS the spatial format accepts (latitude, longitude)
EPSG_4490 = "urn:ogc:def:crs:EPSG::4490"


class UnknownFormat(LookupError):
    """No format is registered for a record type (and version)."""


class DecodeError(ValueError):
    """A schema-valid record that still cannot be read, e.g. a posList of odd length."""


@dataclass(frozen=True)
class Field:
    """One child element of a record: its local name, Chinese label, whether required, and codec."""

    name: str
    tag: str
    label: str
    required: bool
    decode: Callable[[etree._Element, dict[str, Any]], None]
    encode: Callable[[etree._Element, str, Mapping[str, Any]], None]
    extra_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Format:
    """One registered record format: ``name`` is the base database it feeds (``population``)."""

    name: str
    title: str
    qname: str
    version: str
    schema_path: Path
    key_fields: tuple[str, ...]

    @property
    def namespace(self) -> str:
        return etree.QName(self.qname).namespace

    @cached_property
    def schema(self) -> etree.XMLSchema:
        """The compiled lxml schema (libxml2): the fast path for every record."""
        parser = etree.XMLParser(no_network=True, resolve_entities=False)
        return etree.XMLSchema(etree.parse(str(self.schema_path), parser))

    @cached_property
    def xmlschema(self) -> xmlschema.XMLSchema:
        """The xmlschema view of the same file: introspection and readable errors."""
        return xmlschema.XMLSchema(str(self.schema_path), allow="sandbox")

    @cached_property
    def fields(self) -> tuple[Field, ...]:
        """The record's child elements in schema order, read from the XSD."""
        root = self.xmlschema.elements[etree.QName(self.qname).localname]
        return tuple(_field(e) for e in root.type.content.iter_elements())

    @cached_property
    def _by_tag(self) -> dict[str, Field]:
        return {f.tag: f for f in self.fields}

    @cached_property
    def _keys(self) -> frozenset[str]:
        return frozenset(k for f in self.fields for k in (f.name, *f.extra_keys))

    @cached_property
    def _labels(self) -> dict[str, str]:
        return {f.name: f.label for f in self.fields}

    def label(self, field: str) -> str:
        """The Chinese name of a field as the schema documents it (``birthDate`` -> 出生日期)."""
        return self._labels.get(field, field)

    def decode(self, element: etree._Element) -> dict[str, object]:
        """A schema-valid record element -> its flat field dict (absent optional fields are left out)."""
        fields: dict[str, Any] = {}
        for child in element:
            field = self._by_tag.get(child.tag)
            if field is None:
                if isinstance(child.tag, str):
                    raise DecodeError(f"{child.tag} is not a field of {self.qname}")
                continue  # comments and processing instructions carry no data
            field.decode(child, fields)
        return fields

    def encode(self, fields: Mapping[str, object]) -> etree._Element:
        """A field dict -> a record element in schema order; ``None`` values are left out.

        Unknown keys raise ``ValueError`` (a typo must not silently drop data); missing
        required fields do not - validation reports them with the rest.
        """
        unknown = set(fields) - self._keys
        if unknown:
            raise ValueError(f"{self.name} has no field {', '.join(sorted(unknown))}")
        element = etree.Element(self.qname, nsmap={None: self.namespace})
        for field in self.fields:
            if fields.get(field.name) is not None:
                field.encode(element, field.tag, fields)
        return element

    def key(self, fields: Mapping[str, object]) -> tuple[str, ...]:
        """The natural key of a decoded record, e.g. ``("33010219900102123X",)``."""
        return tuple(str(fields[k]) for k in self.key_fields)

    def key_from_element(self, element: etree._Element) -> tuple[str, ...] | None:
        """The natural key read straight from the element, for records that failed validation."""
        texts = [element.findtext("{%s}%s" % (self.namespace, k)) for k in self.key_fields]
        return None if any(t is None for t in texts) else tuple(t.strip() for t in texts)


# -- field codecs: each makes (decode(child, out), encode(parent, tag, fields)) for one field ----

def _simple_codec(name: str, convert: Callable[[str], object], render: Callable[[Any], str]):
    def decode(child: etree._Element, out: dict[str, Any]) -> None:
        out[name] = convert(child.text or "")

    def encode(parent: etree._Element, tag: str, fields: Mapping[str, Any]) -> None:
        etree.SubElement(parent, tag).text = render(fields[name])

    return decode, encode


def _decimal_text(value: object) -> str:
    # format "f": str(Decimal("1E+3")) is "1E+3", which is not an xsd:decimal
    return format(value if isinstance(value, Decimal) else Decimal(str(value)), "f")


def _iso_text(value: object) -> str:
    # stored records keep dates as their ISO 8601 text (JSON has no date type); both encode
    return value if isinstance(value, str) else value.isoformat()


_SIMPLE: dict[str, tuple[Callable[[str], object], Callable[[Any], str]]] = {
    "string": (str, str),
    "date": (lambda t: date.fromisoformat(t.strip()), _iso_text),
    "dateTime": (lambda t: datetime.fromisoformat(t.strip()), _iso_text),
    "decimal": (lambda t: Decimal(t.strip()), _decimal_text),
}


def _money_codec(name: str):
    currency = name + "Currency"

    def decode(child: etree._Element, out: dict[str, Any]) -> None:
        out[name] = Decimal((child.text or "").strip())
        out[currency] = child.get("currency", "CNY")

    def encode(parent: etree._Element, tag: str, fields: Mapping[str, Any]) -> None:
        amount = etree.SubElement(parent, tag, currency=fields.get(currency) or "CNY")
        amount.text = _decimal_text(fields[name])

    return decode, encode


def _attributes_codec(name: str):
    attr_tag = "{%s}attribute" % SPATIAL_NS

    def decode(child: etree._Element, out: dict[str, Any]) -> None:
        out[name] = {a.get("name"): a.text or "" for a in child.iterchildren(attr_tag)}

    def encode(parent: etree._Element, tag: str, fields: Mapping[str, Any]) -> None:
        container = etree.SubElement(parent, tag)
        for key, value in fields[name].items():
            etree.SubElement(container, attr_tag, name=key).text = str(value)

    return decode, encode


_POINT = "{%s}Point" % GML_NS
_POS = "{%s}pos" % GML_NS
_RING_PATHS = tuple("{%s}%s/{%s}LinearRing/{%s}posList" % (GML_NS, side, GML_NS, GML_NS)
                    for side in ("exterior", "interior"))


def _positions(text: str) -> list[list[float]]:
    """GML "lat lon lat lon ..." -> GeoJSON-order [[lon, lat], ...]."""
    numbers = [float(n) for n in text.split()]
    if len(numbers) % 2:
        raise DecodeError(f"gml:posList has {len(numbers)} numbers; positions are latitude-longitude pairs")
    return [[numbers[i + 1], numbers[i]] for i in range(0, len(numbers), 2)]


def _pos_text(positions: list[list[float]]) -> str:
    # repr() round-trips a float exactly
    return " ".join(f"{lat!r} {lon!r}" for lon, lat in positions)


def _geometry_codec(name: str):
    def decode(child: etree._Element, out: dict[str, Any]) -> None:
        geometry = child[0]
        if geometry.tag == _POINT:
            out[name] = {"type": "Point", "coordinates": _positions(geometry.findtext(_POS))[0]}
        else:
            rings = [_positions(p.text or "") for path in _RING_PATHS for p in geometry.iterfind(path)]
            out[name] = {"type": "Polygon", "coordinates": rings}

    def encode(parent: etree._Element, tag: str, fields: Mapping[str, Any]) -> None:
        value = fields[name]
        holder = etree.SubElement(parent, tag)
        # gml:id must be a document-unique NCName; the featureId pattern makes this one both
        attrs = {"{%s}id" % GML_NS: "geom-%s" % fields.get("featureId", ""), "srsName": EPSG_4490}
        if value["type"] == "Point":
            point = etree.SubElement(holder, _POINT, attrs, nsmap={"gml": GML_NS})
            etree.SubElement(point, _POS).text = _pos_text([value["coordinates"]])
            return
        polygon = etree.SubElement(holder, "{%s}Polygon" % GML_NS, attrs, nsmap={"gml": GML_NS})
        for i, ring in enumerate(value["coordinates"]):
            side = etree.SubElement(polygon, "{%s}%s" % (GML_NS, "exterior" if i == 0 else "interior"))
            linear_ring = etree.SubElement(side, "{%s}LinearRing" % GML_NS)
            etree.SubElement(linear_ring, "{%s}posList" % GML_NS).text = _pos_text(ring)

    return decode, encode


_COMPLEX = {
    "{%s}Money" % COMMON_NS: (_money_codec, ("Currency",)),
    "{%s}Geometry" % SPATIAL_NS: (_geometry_codec, ()),
    "{%s}Attributes" % SPATIAL_NS: (_attributes_codec, ()),
}


# the Chinese name that opens an element's documentation: "注册资本 (开办资金), absent ..." -> 注册资本
_LABEL = re.compile(r"[^\s,(]+")


def _field(element: Any) -> Field:
    """A ``Field`` for one xmlschema element declaration."""
    name = element.local_name
    xsd_type = element.type
    suffixes: tuple[str, ...] = ()
    if xsd_type.is_simple():
        kind = xsd_type.primitive_type.local_name
        if kind not in _SIMPLE:
            raise NotImplementedError(f"{element.name}: no codec for XSD type {kind}")
        decode, encode = _simple_codec(name, *_SIMPLE[kind])
    else:
        make, suffixes = _COMPLEX[xsd_type.name]
        decode, encode = make(name)
    docs = element.annotation.documentation if element.annotation else []
    label = _LABEL.match((docs[0].text or "").strip()) if docs else None
    return Field(name, element.name, label.group() if label else name, element.min_occurs > 0, decode, encode,
                 tuple(name + s for s in suffixes))


# -- the registry ---------------------------------------------------------------------------------

_FORMATS: tuple[Format, ...] = (
    Format("population", "人口基础信息", "{%s}Person" % POPULATION_NS, "1.0",
           HERE / "population.xsd", ("idNumber",)),
    Format("legal_entity", "法人单位基础信息", "{%s}LegalEntity" % LEGAL_ENTITY_NS, "1.0",
           HERE / "legal_entity.xsd", ("creditCode",)),
    Format("macro_economy", "宏观经济基础信息", "{%s}Indicator" % MACRO_ECONOMY_NS, "1.0",
           HERE / "macro_economy.xsd", ("indicatorCode", "regionCode", "period")),
    Format("spatial", "自然资源和空间地理基础信息", "{%s}Feature" % SPATIAL_NS, "1.0",
           HERE / "spatial.xsd", ("featureId",)),
)
_BY_QNAME: dict[str, dict[str, Format]] = {}
for _format in _FORMATS:
    _BY_QNAME.setdefault(_format.qname, {})[_format.version] = _format
_NEWEST = {qname: versions[max(versions, key=lambda v: tuple(int(p) for p in v.split(".")))]
           for qname, versions in _BY_QNAME.items()}


def formats() -> tuple[Format, ...]:
    """Every registered format."""
    return _FORMATS


def find(qname: str | etree.QName, version: str | None = None) -> Format | None:
    """The format of a record type, or None; without a version, the newest registered."""
    if version is None:
        return _NEWEST.get(str(qname))
    return _BY_QNAME.get(str(qname), {}).get(version)


def lookup(qname: str | etree.QName, version: str | None = None) -> Format:
    """Like ``find``, but an unregistered type raises ``UnknownFormat`` naming the registered ones."""
    found = find(qname, version)
    if found is None:
        raise UnknownFormat(unregistered_message(str(qname), version))
    return found


def unregistered_message(qname: str, version: str | None = None) -> str:
    wanted = f"{qname} version {version}" if version else qname
    registered = "; ".join(f"{f.qname} {f.version} ({f.title})" for f in _FORMATS)
    return f"record type {wanted} is not registered; registered types: {registered}"
