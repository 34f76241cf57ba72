"""SubmitBatch: a batch streamed into the input tier, validated record by record, its good
records loaded into the core tier and its bad ones quarantined with their reasons.

For every batch, ``received = accepted + quarantined``: a record is either in the core
(as a new version, or unchanged) or in quarantine, never dropped.  The batch is kept in
the input tier exactly as received (the request bytes, compressed) with its digests.

The same batch id again is answered with the first receipt when the records are the same
(their digest), and refused with BatchIdConflict when they are not.  A batch whose
header does not match its records (count, digest) is refused whole and stores nothing,
so the sender can correct and resend it under the same id.
"""

from __future__ import annotations

import copy
import io
import uuid
from dataclasses import dataclass
from datetime import datetime

from lxml import etree
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry.clock import utcnow
from registry.models import InputBatch, QuarantineReason, QuarantineRecord
from xsd.batch import BATCH, BATCH_NS, HEADER, RECORDS, BatchHeader, RecordsDigest, read_header
from xsd.batch import schema as batch_schema
from xsd.registry import UnknownFormat, lookup
from xsd.validation import validate_record

from . import core, resources
from .errors import ExchangeError
from .transport import EXCHANGE_NS, SOAP_ENV_NS, Events, spool

CHUNK = 1000


def parse_header(el: etree._Element) -> BatchHeader:
    """The batch header, or InvalidBatch saying which field is wrong and why."""
    # The header type is not global: check it inside an empty batch that declares the same
    # prefixes (recordType is a QName whose prefix the batch root usually declares).
    probe = etree.Element(BATCH, nsmap=el.nsmap)
    probe.append(copy.deepcopy(el))
    etree.SubElement(probe, RECORDS)
    schema = batch_schema()
    if not schema.validate(probe):
        error = schema.error_log.last_error
        raise ExchangeError("InvalidBatch", f"the batch header does not conform to xsd/batch.xsd: {error.message}")
    try:
        return read_header(el)
    except (TypeError, ValueError) as exc:
        raise ExchangeError("InvalidBatch", f"the batch header has a malformed value: {exc}") from None


@dataclass
class Tally:
    received: int = 0
    accepted: int = 0
    unchanged: int = 0
    quarantined: int = 0


def _records(events: Events) -> tuple[BatchHeader, etree._Element]:
    """Advance to the end of the header; returns it and the Batch element."""
    batch = None
    for event, el in events:
        if event == "start" and el.tag == BATCH:
            batch = el
        elif event == "end" and el.tag == HEADER:
            if batch is None:
                break
            return parse_header(el), batch
    raise ExchangeError("InvalidRequest", f"SubmitBatch must hold a {{{BATCH_NS}}}Batch with a header first")


def _each_record(events: Events, batch: etree._Element):
    """Yield each record element of the batch as it ends, then free it.

    The parser reports only registered record types; a record of any other type raises
    no event of its own and is yielded, complete, when the next reported element ends.
    """
    records = done = None
    for event, el in events:
        if event == "start" and el.tag == RECORDS:
            records = el
        elif event == "end" and records is not None and (el is records or el.getparent() is records):
            while len(records) and records[0] is not el:
                if records[0] is not done:
                    yield records[0]
                del records[0]
            if el is records:
                continue
            yield el
            el.clear(keep_tail=False)
            done = el
        elif event == "end" and el is batch:
            return
    raise ExchangeError("InvalidRequest", "the batch has no records element")


def submit(session: Session, events: Events) -> etree._Element:
    """Process one SubmitBatch request whose operation element has started."""
    header, batch = _records(events)
    batch_id = str(header.batch_id)
    existing = session.get(InputBatch, batch_id)
    if existing is not None:
        return _resubmitted(existing, header, events, batch)
    provider = resources.department(session, header.provider_code)
    entry = resources.published_resource(session, header.resource_code)
    if entry.provider_id != provider.id:
        raise ExchangeError("NotProvider", f"resource {entry.resource_code} ({entry.name}) is provided by "
                            f"{entry.provider.name}, not by {provider.name}")
    try:
        fmt = lookup(header.record_type, header.format_version)
    except UnknownFormat as exc:
        raise ExchangeError("UnknownFormat", str(exc)) from None
    base = resources.base_for(entry, fmt)
    core.take_turn(session, base)
    now = utcnow()
    row = InputBatch(
        batch_id=batch_id, provider_id=provider.id, resource_code=entry.resource_code,
        record_type=header.record_type, format_version=header.format_version, sequence=header.sequence_number,
        created=header.created.replace(tzinfo=None), declared_count=header.record_count,
        declared_digest=header.digest, payload_sha256=events.request.sha256, payload=events.request.compressed,
        payload_size=events.request.size, received_at=now, receipt_id=str(uuid.uuid4()), status="processed",
    )
    session.add(row)
    try:
        session.flush()  # a concurrent submission of the same id waits here, then conflicts
    except IntegrityError:
        raise ExchangeError("BatchIdConflict", f"batch {batch_id} is being received by another request; "
                            "ask GetBatchStatus for its outcome") from None

    tally, digest, chunk = Tally(), RecordsDigest(), {}
    quarantine: list[tuple[int, str, bytes, list]] = []

    def flush() -> None:
        counts = core.load(session, base=base, records=list(chunk.values()), source_id=provider.id,
                           resource_code=entry.resource_code, batch_id=batch_id, now=now)
        tally.unchanged += counts.unchanged
        chunk.clear()

    for record in _each_record(events, batch):
        tally.received += 1
        digest.update(record)
        result = validate_record(record, record_type=header.record_type, version=header.format_version)
        key = "|".join(result.key) if result.key else ""
        if result.violations:
            quarantine.append((tally.received, key, etree.tostring(record),
                               [(v.rule, v.field or "", v.message) for v in result.violations]))
            continue
        if key in chunk:
            flush()
        chunk[key] = core.Accepted(key, header.record_type, result.fields)
        tally.accepted += 1
        if len(chunk) >= CHUNK:
            flush()
    flush()

    if tally.received != header.record_count:
        raise ExchangeError("InvalidBatch", f"the header says {header.record_count} records, the batch holds "
                            f"{tally.received}; nothing was stored — correct the header and resend")
    if digest.hexdigest() != header.digest:
        raise ExchangeError("InvalidBatch", f"the records' SHA-256 is {digest.hexdigest()}, the header says "
                            f"{header.digest}; nothing was stored — the batch was altered or truncated")
    _quarantine(session, batch_id, quarantine, now)
    tally.quarantined = len(quarantine)
    row.received, row.accepted, row.unchanged, row.quarantined = (
        tally.received, tally.accepted, tally.unchanged, tally.quarantined)
    return receipt(row, duplicate=False)


def _resubmitted(existing: InputBatch, header: BatchHeader, events: Events, batch: etree._Element) -> etree._Element:
    digest = RecordsDigest()
    for record in _each_record(events, batch):
        digest.update(record)
    same = (digest.hexdigest() == existing.declared_digest and header.digest == existing.declared_digest
            and header.resource_code == existing.resource_code and header.record_type == existing.record_type)
    if not same:
        raise ExchangeError("BatchIdConflict", f"batch {existing.batch_id} was received on "
                            f"{existing.received_at.isoformat()}Z with different content; a new batch needs a new id")
    return receipt(existing, duplicate=True)


def _quarantine(session: Session, batch_id: str, items: list, now: datetime) -> None:
    for position, key, xml, reasons in items:
        record = QuarantineRecord(batch_id=batch_id, position=position, record_key=key[:255],
                                  record_xml=xml.decode("utf-8"), status="open", created=now)
        session.add(record)
        session.flush()
        session.add_all(QuarantineReason(record_id=record.id, batch_id=batch_id, rule=rule, field=field,
                                         message=message) for rule, field, message in reasons)


def receipt(row: InputBatch, *, duplicate: bool) -> etree._Element:
    ex = "{%s}" % EXCHANGE_NS
    out = etree.Element(ex + "SubmitBatchResponse", nsmap={"ex": EXCHANGE_NS})
    r = etree.SubElement(out, ex + "receipt")
    for name, value in (("receiptId", row.receipt_id), ("batchId", row.batch_id),
                        ("receivedAt", row.received_at.isoformat() + "Z"), ("received", row.received),
                        ("accepted", row.accepted), ("quarantined", row.quarantined),
                        ("duplicate", "true" if duplicate else "false")):
        etree.SubElement(r, ex + name).text = str(value)
    return out


def submit_document(session: Session, batch: bytes, limit: int) -> etree._Element:
    """Submit a batch document from inside the platform (demo, files) through the same
    streaming path as a SOAP request; returns the receipt."""
    body = batch.split(b"?>", 1)[-1] if batch.lstrip().startswith(b"<?xml") else batch
    envelope = (f'<soap:Envelope xmlns:soap="{SOAP_ENV_NS}"><soap:Body><ex:SubmitBatch xmlns:ex="{EXCHANGE_NS}">'
                .encode() + body + b"</ex:SubmitBatch></soap:Body></soap:Envelope>")
    events = Events(spool(io.BytesIO(envelope), len(envelope), limit))
    events.open()
    return submit(session, events)
