"""SubmitBatch: a batch streamed into the input tier, validated record by record, its good
records loaded into the core tier and its bad ones quarantined with their reasons.

For every batch, ``received = accepted + quarantined``: a record is either in the core
(as a new version, or unchanged) or in quarantine, never dropped.  The batch is kept in
the input tier exactly as received (the request bytes, compressed) with its digests.

The same batch id again is answered with the first receipt when the records are the same
(their digest), and refused with BatchIdConflict when they are not.  A batch whose
header does not match its records (count, digest) is refused whole and stores nothing,
so the sender can correct and resend it under the same id.

Two actions (:mod:`trust.actions`), whatever the front end (SOAP, the node, the command line):

    submit_batch(ctx, batch=<a batch document, a PreparedBatch, or a SubmitBatch request streaming in>)
    -> Receipt(receipt_id="…", batch_id="…", received=25, accepted=24, unchanged=0, quarantined=1, ...)
    batch_status(ctx, batch_id="…") -> BatchStatus(state="processed", ..., reasons=(Reason(...), ...))

The batch's header names its provider (``providerCode``): it must be the caller's department
(``trust.auth.speaks_for``), and the provider of the resource the batch is for.  An adapter run
stores its chunks, prepared by its reading side (``xsd.prepared.prepare_records``), with
``submit_prepared`` inside its own unit of work (with its checkpoint); it is authorised as the run
(``sync.run``).
"""

from __future__ import annotations

import copy
import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from directory import lookups
from registry.clock import utcnow
from registry.errors import ExchangeError, NotPermitted
from registry.models import Department, InputBatch, QuarantineReason, QuarantineRecord
from trust import audit
from trust.actions import Context, action
from trust.auth import UNSIGNED, refuse_suspended, speaks_for
from xsd.batch import BATCH, BATCH_NS, HEADER, RECORDS, BatchHeader, RecordsDigest, read_header
from xsd.batch import schema as batch_schema
from xsd.prepared import ENVELOPE_CLOSE, ENVELOPE_OPEN, EXCHANGE_NS, PackedRequest, PreparedBatch, prepare_records
from xsd.registry import UnknownFormat, lookup
from xsd.validation import RecordResult, validate_record

from . import core, resources
from .transport import Events, SpooledRequest, spool

__all__ = ["EXCHANGE_NS", "BatchStatus", "PreparedBatch", "Receipt", "Reason", "batch_status", "prepare_records",
           "submit_batch", "submit_document", "submit_prepared", "submit_stream"]

CHUNK = 1000

#: what a front end learns of a batch as its header is read (before anything is stored): the action
#: checks there who speaks for whom
Admit = Callable[[BatchHeader], None]


@dataclass(frozen=True)
class Receipt:
    """What the centre answers a batch with (回执): ``received == accepted + quarantined``; of the
    accepted, ``unchanged`` changed nothing in the core.  ``duplicate``: the batch id was received
    before with the same records, and this is that first receipt."""

    receipt_id: str
    batch_id: str
    resource_code: str
    received_at: datetime
    received: int
    accepted: int
    unchanged: int
    quarantined: int
    duplicate: bool

    @classmethod
    def of(cls, row: InputBatch, *, duplicate: bool) -> Receipt:
        return cls(row.receipt_id, row.batch_id, row.resource_code, row.received_at, row.received, row.accepted,
                   row.unchanged, row.quarantined, duplicate)


@dataclass(frozen=True)
class Reason:
    """One rule that quarantined records of a batch: how many, and the first one's message."""

    rule: str
    count: int
    example: str


@dataclass(frozen=True)
class BatchStatus:
    """A received batch: its counts and why its quarantined records were refused, the commonest first."""

    batch_id: str
    resource_code: str
    state: str
    received_at: datetime
    received: int
    accepted: int
    unchanged: int
    quarantined: int
    reasons: tuple[Reason, ...]


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
            # the first child, not len(records): lxml counts children one by one, and a signed
            # request's records are all in the tree already (n records: n^2/2 steps)
            while (first := next(iter(records), None)) is not None and first is not el:
                if first is not done:
                    yield first
                records.remove(first)
            if el is records:
                continue
            yield el
            el.clear(keep_tail=False)
            done = el
        elif event == "end" and el is batch:
            return
    raise ExchangeError("InvalidRequest", "the batch has no records element")


def submit_stream(session: Session, events: Events, admit: Admit | None = None) -> Receipt:
    """Store one SubmitBatch request whose operation element has started, reading it as it streams."""
    header, batch = _records(events)
    if admit is not None:
        admit(header)
    existing = session.get(InputBatch, str(header.batch_id))
    if existing is not None:
        return _resubmitted(existing, header, events, batch)
    intake = _Intake(session, header, events.request)
    digest = RecordsDigest()
    for record in _each_record(events, batch):
        digest.update(record)
        intake.add(validate_record(record, record_type=header.record_type, version=header.format_version), record)
    if intake.tally.received != header.record_count:
        raise ExchangeError("InvalidBatch", f"the header says {header.record_count} records, the batch holds "
                            f"{intake.tally.received}; nothing was stored — correct the header and resend")
    if digest.hexdigest() != header.digest:
        raise ExchangeError("InvalidBatch", f"the records' SHA-256 is {digest.hexdigest()}, the header says "
                            f"{header.digest}; nothing was stored — the batch was altered or truncated")
    return intake.finish()


def submit_prepared(session: Session, batch: PreparedBatch, admit: Admit | None = None) -> Receipt:
    """Store a prepared batch as its document would be stored; the same batch id again gets the first receipt."""
    header = batch.header
    if admit is not None:
        admit(header)
    existing = session.get(InputBatch, str(header.batch_id))
    if existing is not None:
        return _compare(existing, header, header.digest)
    intake = _Intake(session, header, batch.request)
    intake.take(batch)
    return intake.finish()


class _Intake:
    """One batch being received: its input-tier row, the core loads of its good records in
    chunks of distinct keys, and the quarantine of its bad ones."""

    def __init__(self, session: Session, header: BatchHeader, request: SpooledRequest | PackedRequest) -> None:
        provider = lookups.department_by_code(session, header.provider_code)
        entry = lookups.published_resource(session, header.resource_code)
        if entry.provider_id != provider.id:
            raise ExchangeError("NotProvider", f"resource {entry.resource_code} ({entry.name}) is provided by "
                                f"{entry.provider.name}, not by {provider.name}")
        try:
            fmt = lookup(header.record_type, header.format_version)
        except UnknownFormat as exc:
            raise ExchangeError("UnknownFormat", str(exc)) from None
        self.base = resources.base_for(entry, fmt)
        core.take_turn(session, self.base)
        core.keep_statistics(session)
        self.session, self.record_type, self.now = session, header.record_type, utcnow()
        self.provider_id, self.resource_code, self.batch_id = provider.id, entry.resource_code, str(header.batch_id)
        self.row = InputBatch(
            batch_id=self.batch_id, provider_id=provider.id, resource_code=entry.resource_code,
            record_type=header.record_type, format_version=header.format_version, sequence=header.sequence_number,
            created=header.created.replace(tzinfo=None), declared_count=header.record_count,
            declared_digest=header.digest, payload_sha256=request.sha256, payload=request.compressed,
            payload_size=request.size, received_at=self.now, receipt_id=str(uuid.uuid4()), status="processed",
        )
        session.add(self.row)
        try:
            session.flush()  # a concurrent submission of the same id waits here, then conflicts
        except IntegrityError:
            raise ExchangeError("BatchIdConflict", f"batch {self.batch_id} is being received by another request; "
                                "ask GetBatchStatus for its outcome") from None
        self.tally = Tally()
        self.chunk: dict[str, core.Accepted] = {}
        self.quarantine: list[tuple[int, str, bytes, list]] = []

    def add(self, result: RecordResult, record: etree._Element | bytes, stored: dict | None = None) -> None:
        """The next record of the batch, validated; ``record`` is what quarantine keeps of it,
        ``stored`` its fields as the core stores them if known."""
        self.tally.received += 1
        key = "|".join(result.key) if result.key else ""
        if result.violations:
            self.quarantine.append((self.tally.received, key,
                                    record if isinstance(record, bytes) else etree.tostring(record),
                                    [(v.rule, v.field or "", v.message) for v in result.violations]))
            return
        if key in self.chunk:
            self._load()
        self.chunk[key] = core.Accepted(key, self.record_type, result.fields, stored)
        self.tally.accepted += 1
        if len(self.chunk) >= CHUNK:
            self._load()

    def take(self, batch: PreparedBatch) -> None:
        """Every record of a prepared batch (``add`` for each, without the validation results)."""
        chunk, record_type = self.chunk, self.record_type
        for key, text in batch.accepted:
            if key in chunk:
                self._load()
            chunk[key] = core.Accepted(key, record_type, None, text=text)
            if len(chunk) >= CHUNK:
                self._load()
        self.quarantine.extend(batch.quarantined)
        self.tally.received += len(batch.accepted) + len(batch.quarantined)
        self.tally.accepted += len(batch.accepted)

    def _load(self) -> None:
        counts = core.load(self.session, base=self.base, records=list(self.chunk.values()),
                           source_id=self.provider_id, resource_code=self.resource_code, batch_id=self.batch_id,
                           now=self.now)
        self.tally.unchanged += counts.unchanged
        self.chunk.clear()

    def finish(self) -> Receipt:
        """Load the last chunk, store the quarantine and the counts; the receipt."""
        self._load()
        _quarantine(self.session, self.batch_id, self.quarantine, self.now)
        tally, row = self.tally, self.row
        tally.quarantined = len(self.quarantine)
        row.received, row.accepted, row.unchanged, row.quarantined = (
            tally.received, tally.accepted, tally.unchanged, tally.quarantined)
        return Receipt.of(row, duplicate=False)


def _resubmitted(existing: InputBatch, header: BatchHeader, events: Events, batch: etree._Element) -> Receipt:
    digest = RecordsDigest()
    for record in _each_record(events, batch):
        digest.update(record)
    return _compare(existing, header, digest.hexdigest())


def _compare(existing: InputBatch, header: BatchHeader, digest: str) -> Receipt:
    """The first receipt for a batch id received again with the same records; else BatchIdConflict."""
    same = (digest == existing.declared_digest and header.digest == existing.declared_digest
            and header.resource_code == existing.resource_code and header.record_type == existing.record_type)
    if not same:
        raise ExchangeError("BatchIdConflict", f"batch {existing.batch_id} was received on "
                            f"{existing.received_at.isoformat()}Z with different content; a new batch needs a new id")
    return Receipt.of(existing, duplicate=True)


def _quarantine(session: Session, batch_id: str, items: list, now: datetime) -> None:
    records = [QuarantineRecord(batch_id=batch_id, position=position, record_key=key[:255],
                                record_xml=xml.decode("utf-8"), status="open", created=now)
               for position, key, xml, _ in items]
    session.add_all(records)
    session.flush()  # one batched INSERT; the reasons need the ids
    session.add_all(QuarantineReason(record_id=record.id, batch_id=batch_id, rule=rule, field=field, message=message)
                    for record, (*_, reasons) in zip(records, items, strict=True)
                    for rule, field, message in reasons)


def submit_document(session: Session, batch: bytes, limit: int, admit: Admit | None = None) -> Receipt:
    """Store a batch document (xsd/batch.xsd) through the same streaming path as a SOAP request."""
    body = batch.split(b"?>", 1)[-1] if batch.lstrip().startswith(b"<?xml") else batch
    envelope = ENVELOPE_OPEN + body + ENVELOPE_CLOSE
    events = Events(spool(io.BytesIO(envelope), len(envelope), limit))
    events.open()
    return submit_stream(session, events, admit)


# ----------------------------------------------------------------------------- the actions


@action("exchange.submit_batch")
def submit_batch(ctx: Context, *, batch: bytes | PreparedBatch | Events) -> Receipt:
    """Receive a batch from the caller's department: a batch document, a prepared batch, or a
    SubmitBatch request streaming in (``Events`` positioned at its operation element)."""
    session = ctx.session

    def admit(header: BatchHeader) -> None:
        ctx.note(resource_code=header.resource_code, query_digest=audit.query_digest(_header_fields(header)))
        speaks_for(ctx.caller, header.provider_code)
        if ctx.caller.department_id is None:  # an unsigned request acts as the department it names
            provider = lookups.department_by_code(session, header.provider_code)
            ctx.note(department_id=provider.id, department_code=provider.code)
            refuse_suspended(provider)

    if isinstance(batch, Events):
        receipt = submit_stream(session, batch, admit)
    elif isinstance(batch, PreparedBatch):
        receipt = submit_prepared(session, batch, admit)
    else:
        receipt = submit_document(session, batch, ctx.settings.max_batch_bytes, admit)
    ctx.note(record_count=receipt.received)
    return receipt


def _header_fields(header: BatchHeader) -> dict[str, str]:
    """The header as the audit log digests it: its elements' names and texts."""
    return {"batchId": str(header.batch_id), "providerCode": header.provider_code,
            "resourceCode": header.resource_code, "recordType": header.record_type,
            "formatVersion": header.format_version, "sequenceNumber": str(header.sequence_number),
            "created": header.created.isoformat(), "recordCount": str(header.record_count),
            "digest": header.digest}


@action("exchange.batch_status")
def batch_status(ctx: Context, *, batch_id: str) -> BatchStatus:
    """What became of a batch the caller's department sent (GetBatchStatus)."""
    session, caller = ctx.session, ctx.caller
    batch_id = (batch_id or "").strip()
    ctx.note(query_digest=audit.query_digest({"batchId": batch_id}))
    row = session.get(InputBatch, batch_id)
    if row is None:
        raise ExchangeError("UnknownBatch", f"no batch {batch_id} was received")
    ctx.note(resource_code=row.resource_code)
    if caller.extra.get(UNSIGNED):  # an unsigned request acts as the department that sent the batch
        ctx.note(department_id=row.provider_id, department_code=session.get(Department, row.provider_id).code)
    elif not caller.is_admin and row.provider_id != caller.department_id:
        raise NotPermitted(f"batch {batch_id} was sent by another department; {caller.who} may ask only about "
                           "its own batches", code="NotAuthorized",
                           zh="该批次由其他部门报送, 只能查询本部门报送的批次。")
    reasons = session.execute(
        select(QuarantineReason.rule, func.count(), func.min(QuarantineReason.message))
        .where(QuarantineReason.batch_id == batch_id)
        .group_by(QuarantineReason.rule).order_by(func.count().desc(), QuarantineReason.rule)
    ).all()
    return BatchStatus(row.batch_id, row.resource_code, row.status, row.received_at, row.received, row.accepted,
                       row.unchanged, row.quarantined, tuple(Reason(rule, count, example)
                                                             for rule, count, example in reasons))
