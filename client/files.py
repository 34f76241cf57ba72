"""The records of a department's export file, read as a stream: XML (a root holding the records),
CSV or XLSX (a header row naming the fields of one standard exchange format, a record per row).

A table's columns are the format's field names (``idNumber``, ``name``, ``birthDate`` …, as the
format's XSD names its elements) or their Chinese names (公民身份号码, 姓名, 出生日期 …, as its
documentation gives them); they may come in any order, and the records are built in the
order the XSD's sequence gives.  Which format a table holds comes from its header: the one standard
format (人口 ``Person``, 法人单位 ``LegalEntity``, 宏观经济 ``Indicator``, 空间地理 ``Feature``)
that has every column and whose required fields are all there, read from the platform's own
schemas under ``/xsd/``.  An empty cell leaves its field out.  A field with parts (an amount
with its currency, a geometry) cannot be one cell: such a format is sent as XML.

Nothing is held whole: a multi-GB file is read a record at a time, and :attr:`RecordFile.done`
says how far the reading has got, for a progress line with an ETA.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
from lxml import etree

XSD = "http://www.w3.org/2001/XMLSchema"
#: the standard exchange formats' schemas, as the platform serves them under /xsd/
FORMAT_SCHEMAS = ("population.xsd", "legal_entity.xsd", "macro_economy.xsd", "spatial.xsd")
#: the schemas the formats' field types come from (a complex type there is a field with parts)
TYPE_SCHEMAS = ("common.xsd", "gml32-subset.xsd")
SUFFIXES = (".xml", ".csv", ".xlsx")
#: characters XML 1.0 cannot hold
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: a field's Chinese name: the first word of its documentation in the XSD
_LABEL = re.compile(r"[^\s,(]+")


class FileError(ValueError):
    """An export file the client cannot read as records: its message says which row or column."""


@dataclass(frozen=True)
class Shape:
    """One standard format's record: its element and its fields in the XSD's order."""

    tag: str  # Clark notation, {http://govshare.local/xsd/population/1.0}Person
    fields: tuple[str, ...]
    labels: tuple[str, ...]  # each field's Chinese name (公民身份号码), from the XSD's documentation
    required: frozenset[str]
    structured: frozenset[str]  # fields with parts: not a table's cell

    @property
    def name(self) -> str:
        return etree.QName(self.tag).localname

    def named(self, columns: list[str]) -> list[str]:
        """The header's columns as field names: each a field's name or its Chinese name."""
        by_label = dict(zip(self.labels, self.fields, strict=True))
        return [column if column in self.fields else by_label.get(column, column) for column in columns]

    def fits(self, columns: list[str]) -> bool:
        named = self.named(columns)
        return set(named) <= set(self.fields) and self.required <= set(named)


def shapes_from(schemas: dict[str, bytes]) -> list[Shape]:
    """The record shapes of the format schemas among ``schemas`` (file name -> bytes)."""
    parsed = {name: etree.fromstring(data) for name, data in schemas.items()}
    complex_types = {(root.get("targetNamespace"), t.get("name"))
                     for root in parsed.values() for t in root.iterfind(f"{{{XSD}}}complexType")}
    found = []
    for name in FORMAT_SCHEMAS:
        root = parsed.get(name)
        if root is None:
            continue
        namespace = root.get("targetNamespace")
        types = {t.get("name"): t for t in root.iterfind(f"{{{XSD}}}complexType")}
        for element in root.iterfind(f"{{{XSD}}}element"):
            kind = types.get(element.get("type", "").rpartition(":")[2])
            if kind is None:
                continue
            fields, labels, required, structured = [], [], set(), set()
            for child in kind.iterfind(f"{{{XSD}}}sequence/{{{XSD}}}element"):
                field = child.get("name")
                fields.append(field)
                label = _LABEL.match(child.findtext(f"{{{XSD}}}annotation/{{{XSD}}}documentation", "").strip())
                labels.append(label.group() if label else field)
                if child.get("minOccurs", "1") != "0":
                    required.add(field)
                prefix, _, local = child.get("type", "").rpartition(":")
                if child.find(f"{{{XSD}}}complexType") is not None or (child.nsmap.get(prefix or None), local) in \
                        complex_types:
                    structured.add(field)
            found.append(Shape(f"{{{namespace}}}{element.get('name')}", tuple(fields), tuple(labels),
                               frozenset(required), frozenset(structured)))
    return found


def platform_schemas(base_url: str, *, timeout: float = 60) -> dict[str, bytes]:
    """The standard formats' schemas (and those of their field types) as the platform at ``base_url`` serves them."""
    schemas = {}
    for name in FORMAT_SCHEMAS + TYPE_SCHEMAS:
        answer = requests.get(f"{base_url}/xsd/{name}", timeout=timeout)
        answer.raise_for_status()
        schemas[name] = answer.content
    return schemas


def platform_shapes(base_url: str, *, timeout: float = 60) -> list[Shape]:
    """The record shapes of the standard formats the platform at ``base_url`` serves."""
    return shapes_from(platform_schemas(base_url, timeout=timeout))


def shape_for(columns: list[str], shapes: list[Shape], where: str) -> Shape:
    """The one format whose fields the header ``columns`` name."""
    if len(set(columns)) != len(columns):
        twice = sorted({c for c in columns if columns.count(c) > 1})
        raise FileError(f"{where}: the header names {', '.join(twice)} twice")
    fitting = [s for s in shapes if s.fits(columns)]
    if len(fitting) == 1:
        shape = fitting[0]
        structured = sorted(shape.structured & set(shape.named(columns)))
        if structured:
            raise FileError(f"{where}: {', '.join(structured)} of {shape.name} has parts and cannot be a cell; "
                            f"send {shape.name} records as XML")
        return shape
    if len(fitting) > 1:
        raise FileError(f"{where}: the header fits {', '.join(s.name for s in fitting)}; name more fields")
    best = max(shapes, key=lambda s: len(set(s.named(columns)) & set(s.fields)))
    unknown = [c for c, n in zip(columns, best.named(columns), strict=True) if n not in best.fields]
    missing = [f for f in best.fields if f in best.required - set(best.named(columns))]
    problems = ([f"no field {', '.join(unknown)}"] if unknown else []) + (
        [f"required {', '.join(missing)} missing"] if missing else [])
    raise FileError(f"{where}: the header is no standard format's; nearest is {best.name} "
                    f"({'; '.join(problems)}); its fields are "
                    f"{', '.join(f'{f} ({label})' for f, label in zip(best.fields, best.labels, strict=True))}")


class _Counted(io.RawIOBase):
    """A binary file that counts the bytes read from it, for the progress line."""

    def __init__(self, handle):
        self.handle, self.read_bytes = handle, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self.handle.readinto(buffer)
        self.read_bytes += count or 0
        return count

    def close(self) -> None:
        self.handle.close()
        super().close()


class RecordFile:
    """The records of ``path`` (by its suffix: .xml, .csv or .xlsx), one element at a time; for a
    table, ``shapes`` (or a callable giving them) are the formats its header is matched against."""

    def __init__(self, path: str | os.PathLike, shapes: list[Shape] | Callable[[], list[Shape]] = ()):
        self.path = Path(path)
        self.kind = self.path.suffix.lower()
        if self.kind not in SUFFIXES:
            raise FileError(f"{self.path}: an export file is .xml, .csv or .xlsx, not {self.path.suffix or 'none'}")
        self._shapes = shapes
        self.size = self.path.stat().st_size
        self._done = 0.0
        self.record_type: str | None = None  # the records' QName (Clark notation), once reading began

    @property
    def done(self) -> float:
        """The part of the file read so far, 0 to 1."""
        return self._done

    def __iter__(self) -> Iterator[etree._Element]:
        if self.kind == ".xml":
            yield from self._xml()
        elif self.kind == ".csv":
            yield from self._csv(False)
        else:
            yield from self._xlsx(False)
        self._done = 1.0

    def canonical(self) -> Iterator[bytes]:
        """The records as their exclusive canonical forms (what a batch carries and its digest
        covers): a table's rows written straight to them, an XML file's records canonicalised."""
        if self.kind == ".xml":
            for record in self._xml():
                yield etree.tostring(record, method="c14n", exclusive=True, with_comments=False, with_tail=False)
        elif self.kind == ".csv":
            yield from self._csv(True)
        else:
            yield from self._xlsx(True)
        self._done = 1.0

    def _shape(self, columns: list[str], where: str) -> Shape:
        shapes = self._shapes() if callable(self._shapes) else self._shapes
        return shape_for(columns, list(shapes), where)

    def _xml(self) -> Iterator[etree._Element]:
        """The root's child elements: each a copy, the parsed one then dropped."""
        with self.path.open("rb") as raw:
            counted = _Counted(raw)
            depth = 0
            for event, element in etree.iterparse(counted, events=("start", "end"), resolve_entities=False,
                                                  no_network=True, huge_tree=True, remove_comments=True):
                if event == "start":
                    depth += 1
                    continue
                depth -= 1
                if depth == 1 and isinstance(element.tag, str):
                    self.record_type = self.record_type or element.tag
                    record = copy.deepcopy(element)
                    element.clear()
                    parent = element.getparent()
                    while parent is not None and element.getprevious() is not None:
                        del parent[0]
                    self._done = counted.read_bytes / max(self.size, 1)
                    yield record

    def _csv(self, as_bytes: bool) -> Iterator:
        with self.path.open("rb") as raw:
            counted = _Counted(raw)
            text = io.TextIOWrapper(io.BufferedReader(counted, 1 << 16), encoding="utf-8-sig", newline="")
            rows = csv.reader(text)
            header = [c.strip() for c in next(rows, [])]
            if not header:
                raise FileError(f"{self.path}: empty; a CSV export starts with a header row of field names")
            shape = self._shape(header, f"{self.path}, row 1")
            yield from self._build(shape, header, rows, lambda: counted.read_bytes / max(self.size, 1), as_bytes)

    def _xlsx(self, as_bytes: bool) -> Iterator:
        try:
            import openpyxl
        except ImportError:  # pragma: no cover - a declared dependency
            raise FileError("reading .xlsx needs openpyxl (pip install openpyxl)") from None
        book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0]
            rows = sheet.iter_rows(values_only=True)
            header = [str(c).strip() if c is not None else "" for c in next(rows, ())]
            while header and not header[-1]:
                header.pop()
            if not header:
                raise FileError(f"{self.path}: the first sheet is empty; it starts with a header row of field names")
            shape = self._shape(header, f"{self.path}, sheet {sheet.title}, row 1")
            total = max((sheet.max_row or 1) - 1, 1)
            seen = iter(range(1, 1 << 62))
            cells = ([_cell(v) for v in row[:len(header)]] for row in rows)
            yield from self._build(shape, header, cells, lambda: min(next(seen) / total, 1.0), as_bytes)
        finally:
            book.close()

    def _build(self, shape: Shape, header: list[str], rows, progress: Callable[[], float],
               as_bytes: bool) -> Iterator:
        """A record per row, its fields in the XSD's order - an element, or its canonical bytes; a
        row with more cells than the header, or a character XML cannot hold, is refused."""
        self.record_type = shape.tag
        namespace, local = etree.QName(shape.tag).namespace, etree.QName(shape.tag).localname
        named = shape.named(header)
        order = [(field, named.index(field)) for field in shape.fields if field in named]
        width, opening, closing = len(header), f'<{local} xmlns="{namespace}">', f"</{local}>"
        for number, row in enumerate(rows, start=2):
            if len(row) > width and any(c.strip() for c in row[width:]):
                raise FileError(f"{self.path}, row {number}: {len(row)} cells under a header of {width}")
            if not any(c.strip() for c in row):
                continue  # a blank line
            parts = [opening]
            for field, column in order:
                value = row[column].strip() if column < len(row) else ""
                if value:
                    if _NOT_XML.search(value):
                        raise FileError(f"{self.path}, row {number}, column {header[column]}: a control character "
                                        "XML cannot hold")
                    parts.append(f"<{field}>{_c14n_text(value)}</{field}>")
            parts.append(closing)
            self._done = progress()
            text = "".join(parts).encode()
            yield text if as_bytes else etree.fromstring(text)


def _c14n_text(value: str) -> str:
    """Text as exclusive canonicalisation writes it."""
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if "\r" in value:
        value = value.replace("\r", "&#xD;")
    return value


def file_digest(path: str | os.PathLike) -> str:
    """The SHA-256 of a file, read in blocks: a run's id, so sending a file again sends the same batches."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _cell(value) -> str:
    """A spreadsheet cell as the text of a field: dates as ISO dates, whole numbers without ``.0``."""
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return text[:10] if text.endswith("T00:00:00") else text
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
