"""The ``/exchange`` endpoint: the operations of ``wsdl/exchange.wsdl`` over the
streaming SOAP transport.

    <ex:GetChanges xmlns:ex="http://govshare.local/xsd/exchange/1.0">
      <ex:requester>11330100MB0000000X</ex:requester>
      <ex:resourceCode>101001/000002</ex:resourceCode>
      <ex:watermark>0</ex:watermark>
    </ex:GetChanges>
    ->
    <ex:GetChangesResponse>
      <ex:nextWatermark>57</ex:nextWatermark><ex:more>false</ex:more>
      <ex:change><ex:sequence>57</ex:sequence><ex:key>330102...</ex:key>
        <ex:operation>upsert</ex:operation><ex:effectiveFrom>...</ex:effectiveFrom>
        <ex:record><p:Person>...</p:Person></ex:record></ex:change>
    </ex:GetChangesResponse>

Every request is recorded in the audit log (S4, :mod:`trust.audit`) once it is answered:
who (the requester or batch provider, the certificate that signed it), the operation, the
resource, a digest of the query parameters, the result (``ok``, ``refused:<code>`` or
``fault:<code>``, from the answer itself), how many records went out or came in, and the
SHA-256 of the request bytes as read and of the response bytes as sent.  Requests refused
before any operation (malformed, too large, badly signed) are recorded as
``exchange.request``.  When the entry cannot be written the caller gets a fault instead of
the answer: no unrecorded access.
"""

from __future__ import annotations

import hashlib
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from directory import lookups
from registry.db import DatabaseUnavailable, unit_of_work
from registry.errors import ExchangeError
from registry.models import Department, InputBatch, QuarantineReason
from registry.settings import Settings
from trust import audit
from wsdl.exchange import contract_schema, exchange_wsdl, most_children
from xsd.batch import BATCH, BATCH_NS, HEADER
from xsd.registry import formats, lookup

from . import output
from .logical import forward_query
from .submit import submit
from .transport import EXCHANGE_NS, SIGNED_REQUEST, SOAP_ENV_NS, Contract, Events, StreamingSoapEndpoint

EX = "{%s}" % EXCHANGE_NS
log = logging.getLogger(__name__)

#: the audit entry of the request being handled on this thread, filled in as it is learnt
_EVENT: ContextVar[audit.AuditEvent | None] = ContextVar("exchange_audit_event", default=None)


def _note(**fields: Any) -> None:
    event = _EVENT.get()
    if event is not None:
        for name, value in fields.items():
            setattr(event, name, value)


def _note_query(el: etree._Element, parameters: dict[str, Any]) -> None:
    _note(resource_code=(el.findtext(EX + "resourceCode") or "").strip() or None,
          query_digest=audit.query_digest(parameters))


def _el(parent: etree._Element, name: str, value) -> etree._Element:
    child = etree.SubElement(parent, EX + name)
    if value is not None:
        child.text = "true" if value is True else "false" if value is False else str(value)
    return child


def _text(el: etree._Element, name: str, required: bool = True) -> str:
    value = el.findtext(EX + name)
    if required and (value is None or not value.strip()):
        raise ExchangeError("InvalidRequest", f"{etree.QName(el).localname} needs a {name} element")
    return (value or "").strip()


def _int(el: etree._Element, name: str, default: int) -> int:
    value = _text(el, name, required=False)
    try:
        return int(value) if value else default
    except ValueError:
        raise ExchangeError("InvalidRequest", f"{name} must be an integer, not {value!r}") from None


def _record_element(row: output.Row) -> etree._Element:
    return lookup(row.record_type).encode(row.fields)


class ExchangeOperations:
    def __init__(self, sessions: sessionmaker[Session], settings: Settings):
        self.sessions = sessions
        self.settings = settings

    def submit_batch(self, events: Events, op_el: etree._Element) -> etree._Element:
        try:
            with unit_of_work(self.sessions) as session:
                out = submit(session, events)
            _note(record_count=int(out.findtext(f"{EX}receipt/{EX}received") or 0))
            return out
        finally:
            self._note_batch(op_el)

    def _note_batch(self, op_el: etree._Element) -> None:
        """Who sent the batch and for which resource, as its header says (refused or not)."""
        header = op_el.find(f"{BATCH}/{HEADER}")
        if header is None or _EVENT.get() is None:
            return
        fields = {child.tag.split("}")[-1]: (child.text or "").strip() for child in header
                  if isinstance(child.tag, str)}
        _note(resource_code=fields.get("resourceCode") or None, query_digest=audit.query_digest(fields))
        if fields.get("providerCode"):
            with self.sessions() as session:
                dept = session.execute(select(Department.id, Department.code)
                                       .where(Department.credit_code == fields["providerCode"].upper())).first()
            if dept is not None:
                _note(department_id=dept.id, department_code=dept.code)

    def get_batch_status(self, events: Events, op_el: etree._Element) -> etree._Element:
        el = events.finish(op_el)
        batch_id = _text(el, "batchId")
        _note(query_digest=audit.query_digest({"batchId": batch_id}))
        with unit_of_work(self.sessions) as session:
            row = session.get(InputBatch, batch_id)
            if row is None:
                raise ExchangeError("UnknownBatch", f"no batch {batch_id} was received")
            caller = events.caller  # a signed request: only the department that sent the batch may ask
            if caller is not None and row.provider_id != caller.department_id:
                raise ExchangeError("NotAuthorized", f"batch {batch_id} was sent by another department; "
                                    f"{caller.department_name} may ask only about its own batches")
            _note(resource_code=row.resource_code)
            reasons = session.execute(
                select(QuarantineReason.rule, func.count(), func.min(QuarantineReason.message))
                .where(QuarantineReason.batch_id == batch_id)
                .group_by(QuarantineReason.rule).order_by(func.count().desc(), QuarantineReason.rule)
            ).all()
        out = etree.Element(EX + "GetBatchStatusResponse", nsmap={"ex": EXCHANGE_NS})
        status = _el(out, "status", None)
        for name, value in (("batchId", row.batch_id), ("resourceCode", row.resource_code), ("state", row.status),
                            ("receivedAt", row.received_at.isoformat() + "Z"), ("received", row.received),
                            ("accepted", row.accepted), ("unchanged", row.unchanged),
                            ("quarantined", row.quarantined)):
            _el(status, name, value)
        for rule, count, example in reasons:
            reason = _el(status, "reason", None)
            _el(reason, "rule", rule)
            _el(reason, "count", count)
            _el(reason, "example", example)
        return out

    def _view(self, session: Session, el: etree._Element) -> output.View:
        requester = lookups.department_by_code(session, _text(el, "requester"))
        purpose = _text(el, "purpose", required=False)[:200] or None  # 用途, recorded with the access
        _note(department_id=requester.id, department_code=requester.code, purpose=purpose)
        entry = lookups.published_resource(session, _text(el, "resourceCode"))
        return output.read_view(session, requester, entry, purpose=purpose)

    def query_records(self, events: Events, op_el: etree._Element) -> etree._Element:
        el = events.finish(op_el)
        keys = [k.text.strip() for k in el.findall(EX + "key") if k.text and k.text.strip()]
        filters = [(_text(f, "field"), _text(f, "operator"), _text(f, "value")) for f in el.findall(EX + "filter")]
        offset, page_size = _int(el, "offset", 0), _int(el, "pageSize", output.DEFAULT_PAGE)
        _note_query(el, {"keys": sorted(keys), "filters": sorted(filters), "offset": offset, "pageSize": page_size})
        with unit_of_work(self.sessions) as session:
            view = self._view(session, el)
            if view.entry.logical:
                if filters:
                    raise ExchangeError("InvalidRequest", f"resource {view.entry.resource_code} is 逻辑集中 and "
                                        "answered live by its provider, by key only; filters need a resource "
                                        "the centre holds (物理集中)")
            else:
                total, rows = output.query(session, view, keys=keys, filters=filters, offset=offset,
                                           page_size=page_size)
                records, source = [_record_element(r) for r in rows], "central"
                more = offset + len(rows) < total
        if view.entry.logical:
            # A session of its own, outside the unit of work above: nothing is written while the
            # provider is asked, however long it takes.
            with self.sessions() as session:
                total, records = forward_query(session, self.settings, self._view(session, el), keys)
            source, more = "provider", False
        out = etree.Element(EX + "QueryRecordsResponse", nsmap={"ex": EXCHANGE_NS})
        _el(out, "total", total)
        _el(out, "pageOffset", offset)
        _el(out, "more", more)
        _el(out, "source", source)
        container = _el(out, "records", None)
        for record in records:
            container.append(record)
        _note(record_count=len(records))
        return out

    def get_changes(self, events: Events, op_el: etree._Element) -> etree._Element:
        el = events.finish(op_el)
        watermark, limit = _int(el, "watermark", 0), _int(el, "maxRecords", output.DEFAULT_PAGE)
        _note_query(el, {"watermark": watermark, "maxRecords": limit})
        with unit_of_work(self.sessions) as session:
            view = self._view(session, el)
            if view.entry.logical:
                raise ExchangeError("InvalidRequest", f"resource {view.entry.resource_code} is 逻辑集中: the centre "
                                    "keeps no copy, so it has no changes to follow; query it by key")
            rows, more = output.changes(session, view, watermark=watermark, limit=limit)
        out = etree.Element(EX + "GetChangesResponse", nsmap={"ex": EXCHANGE_NS})
        _el(out, "nextWatermark", rows[-1].sequence if rows else watermark)
        _el(out, "more", more)
        for row in rows:
            change = _el(out, "change", None)
            _el(change, "sequence", row.sequence)
            _el(change, "key", row.key)
            _el(change, "operation", "delete" if row.deleted else "upsert")
            _el(change, "effectiveFrom", row.effective_from.isoformat() + "Z")
            _el(change, "record", None).append(_record_element(row))
        _note(record_count=len(rows))
        return out


# ----------------------------------------------------------------------------- audit (S4)


class _DigestingReader:
    """The request stream, hashed as the transport reads it."""

    def __init__(self, stream):
        self._stream = stream
        self._sha = hashlib.sha256()
        self.size = 0

    def _seen(self, data: bytes) -> bytes:
        self._sha.update(data)
        self.size += len(data)
        return data

    def read(self, size: int | None = -1) -> bytes:
        return self._seen(self._stream.read(size if size is not None else -1))

    def readline(self, size: int | None = -1) -> bytes:
        return self._seen(self._stream.readline(size if size is not None else -1))

    def hexdigest(self) -> str | None:
        return self._sha.hexdigest() if self.size else None


def _outcome(body: bytes) -> tuple[str, str]:
    """(``refused:<code>`` or ``fault:<code>``, message) of a fault the transport answered."""
    try:
        root = etree.fromstring(body)
    except etree.XMLSyntaxError:
        return "fault:Unreadable", ""
    code = root.findtext(f".//{EX}code") or (root.findtext(".//faultcode") or "").split(":")[-1] or "Unknown"
    faultcode = root.findtext(".//faultcode") or ""
    message = root.findtext(f".//{EX}message") or root.findtext(".//faultstring") or ""
    return ("fault:" if faultcode.endswith(":Server") else "refused:") + code, message


def _audited(name: str, operation):
    def run(events: Events, op_el: etree._Element) -> etree._Element:
        event = _EVENT.get()
        if event is not None:
            event.operation = f"exchange.{name}"
            caller = getattr(events, "caller", None)  # the signer, when WS-Security verified one
            if caller is not None:
                event.identify(caller)
        return operation(events, op_el)

    return run


@dataclass
class AuditedEndpoint(StreamingSoapEndpoint):
    """The exchange endpoint that records every POSTed request in the audit log once answered."""

    sessions: sessionmaker[Session] | None = None
    settings: Settings | None = None

    def handle(self, environ) -> tuple[str, bytes]:
        reader = _DigestingReader(environ["wsgi.input"])
        environ["wsgi.input"] = reader
        event = audit.AuditEvent("exchange.request")
        token = _EVENT.set(event)
        try:
            status, body = super().handle(environ)
        finally:
            _EVENT.reset(token)
        event.request_digest, event.response_digest = reader.hexdigest(), audit.digest(body)
        if not status.startswith("200"):
            event.result, event.detail = _outcome(body)
        try:
            audit.record(self.sessions, self.settings, event)
        except DatabaseUnavailable as err:  # no unrecorded access; the fault says why
            log.warning("audit entry of %s not recorded: %s", event.operation, err)
            unavailable = ExchangeError("DatabaseUnavailable", err.for_caller, fault_code="Server")
            return "500 Internal Server Error", self.fault_response(unavailable, environ.get(SIGNED_REQUEST, False))
        except Exception:  # no unrecorded access: the caller gets a fault, not the answer
            log.exception("audit entry of %s not recorded", event.operation)
            err = ExchangeError("AuditUnavailable", "the centre could not record this access in its audit log; "
                                "nothing was served - try again later", fault_code="Server")
            return "500 Internal Server Error", self.fault_response(err, environ.get(SIGNED_REQUEST, False))
        return status, body


def exchange_app(sessions: sessionmaker[Session], settings: Settings) -> StreamingSoapEndpoint:
    """The /exchange endpoint; audited unless ``GOVSHARE_AUDIT=0`` (benchmarks only)."""
    ops = ExchangeOperations(sessions, settings)
    operations = {"SubmitBatch": ops.submit_batch, "GetBatchStatus": ops.get_batch_status,
                  "QueryRecords": ops.query_records, "GetChanges": ops.get_changes}
    common = dict(
        wsdl=exchange_wsdl,
        max_request_bytes=settings.max_batch_bytes,
        contract=Contract(contract_schema(), most_children()),
        streaming_operations=frozenset({"SubmitBatch"}),
        small_request_bytes=settings.max_request_bytes,
        event_tags=(f"{{{SOAP_ENV_NS}}}*", f"{{{EXCHANGE_NS}}}*", f"{{{BATCH_NS}}}*", *(f.qname for f in formats())),
    )
    if not settings.audit:
        return StreamingSoapEndpoint(operations=operations, **common)
    return AuditedEndpoint(operations={name: _audited(name, op) for name, op in operations.items()},
                           sessions=sessions, settings=settings, **common)
