"""The batch envelope (batch.xsd): build one, read its header, compute its records digest.

    <b:Batch xmlns:b="http://govshare.local/xsd/batch/1.0">
      <b:header>
        <b:batchId>0f8fad5b-d9cb-469f-a165-70867728950e</b:batchId>
        <b:providerCode>113301000024821461</b:providerCode>
        <b:resourceCode>101001/000002</b:resourceCode>
        <b:recordType>{http://govshare.local/xsd/population/1.0}Person</b:recordType>
        <b:formatVersion>1.0</b:formatVersion>
        <b:sequenceNumber>1</b:sequenceNumber>
        <b:created>2024-10-08T09:30:00+08:00</b:created>
        <b:recordCount>2</b:recordCount>
        <b:digest>…64 hex digits…</b:digest>
      </b:header>
      <b:records><Person xmlns="http://govshare.local/xsd/population/1.0">…</Person>…</b:records>
    </b:Batch>

The digest is the SHA-256 of the exclusive canonical form (exc-c14n 1.0, no comments) of each
record element, concatenated in document order - see the comment in batch.xsd for exactly
what it does and does not cover. ``RecordsDigest`` computes it one record at a time, so a
receiver can check it while streaming (lxml iterparse) without building the whole document.
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from lxml import etree

from . import registry

BATCH_NS = "http://govshare.local/xsd/batch/1.0"
BATCH = "{%s}Batch" % BATCH_NS
HEADER = "{%s}header" % BATCH_NS
RECORDS = "{%s}records" % BATCH_NS
SCHEMA_PATH = Path(__file__).resolve().parent / "batch.xsd"


def canonical(record: etree._Element) -> bytes:
    """The bytes a record contributes to the digest: its exclusive c14n, without comments."""
    return etree.tostring(record, method="c14n", exclusive=True, with_comments=False, with_tail=False)


class RecordsDigest:
    """Incremental digest of a batch's records: ``update`` each record in order, then ``hexdigest``."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self.count = 0

    def update(self, record: etree._Element) -> None:
        self._sha.update(canonical(record))
        self.count += 1

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def records_digest(records: Iterable[etree._Element]) -> str:
    digest = RecordsDigest()
    for record in records:
        digest.update(record)
    return digest.hexdigest()


@dataclass(frozen=True)
class BatchHeader:
    """批次头: ``record_type`` in Clark notation, ``{namespace}local``."""

    batch_id: uuid.UUID
    provider_code: str
    resource_code: str
    record_type: str
    format_version: str
    sequence_number: int
    created: datetime
    record_count: int
    digest: str


def read_header(header: etree._Element) -> BatchHeader:
    """A ``b:header`` element (schema-valid) -> ``BatchHeader``."""
    def text(name: str) -> str:
        return (header.findtext("{%s}%s" % (BATCH_NS, name)) or "").strip()

    return BatchHeader(
        batch_id=uuid.UUID(text("batchId")),
        provider_code=text("providerCode"),
        resource_code=text("resourceCode"),
        record_type=text("recordType"),
        format_version=text("formatVersion"),
        sequence_number=int(text("sequenceNumber")),
        created=datetime.fromisoformat(text("created")),
        record_count=int(text("recordCount")),
        digest=text("digest"),
    )


@cache
def schema() -> etree.XMLSchema:
    """The lxml schema of the envelope; records inside are skipped (lax, not declared here)."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH), parser))


def build_batch(records: Iterable[etree._Element], *, provider_code: str, resource_code: str,
                created: datetime, batch_id: uuid.UUID | None = None, sequence_number: int = 1,
                record_type: str | None = None, format_version: str | None = None) -> bytes:
    """A batch document (UTF-8 bytes) holding ``records``, with their count and digest.

    ``record_type`` defaults to the root QName of the first record and ``format_version`` to
    the registered version of that type. The records are copied, not moved.
    """
    records = list(records)
    if record_type is None:
        if not records:
            raise ValueError("an empty batch needs an explicit record_type")
        record_type = records[0].tag
    if format_version is None:
        format_version = registry.lookup(record_type).version
    root = etree.Element(BATCH, nsmap={"b": BATCH_NS})
    head = etree.SubElement(root, HEADER)
    container = etree.SubElement(root, RECORDS)
    for record in records:
        container.append(copy.deepcopy(record))
    header = BatchHeader(
        batch_id=batch_id or uuid.uuid4(), provider_code=provider_code, resource_code=resource_code,
        record_type=etree.QName(record_type).text, format_version=format_version, sequence_number=sequence_number,
        created=created, record_count=len(container),
        # over the records as placed in the batch: that is what the receiver canonicalises
        digest=records_digest(container))
    _fill(head, header)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _fill(element: etree._Element, header: BatchHeader) -> None:
    values = [
        ("batchId", str(header.batch_id)),
        ("providerCode", header.provider_code),
        ("resourceCode", header.resource_code),
        ("recordType", header.record_type),
        ("formatVersion", header.format_version),
        ("sequenceNumber", str(header.sequence_number)),
        ("created", header.created.isoformat()),
        ("recordCount", str(header.record_count)),
        ("digest", header.digest),
    ]
    for name, value in values:
        etree.SubElement(element, "{%s}%s" % (BATCH_NS, name)).text = value


def batch_document(header: BatchHeader, records: Iterable[bytes]) -> bytes:
    """A batch document (no XML declaration) from its header and its records' canonical bytes,
    which ``header.digest`` covers (``validation.validate_fields`` renders them)."""
    return b"".join(batch_parts(header, records))


def batch_parts(header: BatchHeader, records: Iterable[bytes]) -> list[bytes]:
    """``batch_document`` in the pieces it joins (a large batch need not be copied whole)."""
    element = etree.Element(HEADER, nsmap={"b": BATCH_NS})
    _fill(element, header)
    # serialised alone the header declares b: again; inside the Batch that is redundant, not wrong
    head = etree.tostring(element, encoding="UTF-8")
    return [f'<b:Batch xmlns:b="{BATCH_NS}">'.encode(), head, b"<b:records>", *records, b"</b:records></b:Batch>"]
