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
"""

from __future__ import annotations

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from registry.db import unit_of_work
from registry.models import InputBatch, QuarantineReason
from registry.settings import Settings
from wsdl.exchange import exchange_wsdl
from xsd.batch import BATCH_NS
from xsd.registry import formats, lookup

from . import output, resources
from .errors import ExchangeError
from .logical import forward_query
from .submit import submit
from .transport import EXCHANGE_NS, SOAP_ENV_NS, Events, StreamingSoapEndpoint

EX = "{%s}" % EXCHANGE_NS


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
        with unit_of_work(self.sessions) as session:
            return submit(session, events)

    def get_batch_status(self, events: Events, op_el: etree._Element) -> etree._Element:
        el = events.finish(op_el)
        batch_id = _text(el, "batchId")
        with unit_of_work(self.sessions) as session:
            row = session.get(InputBatch, batch_id)
            if row is None:
                raise ExchangeError("UnknownBatch", f"no batch {batch_id} was received")
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
        requester = resources.department(session, _text(el, "requester"))
        entry = resources.published_resource(session, _text(el, "resourceCode"))
        return output.read_view(session, requester, entry)

    def query_records(self, events: Events, op_el: etree._Element) -> etree._Element:
        el = events.finish(op_el)
        keys = [k.text.strip() for k in el.findall(EX + "key") if k.text and k.text.strip()]
        filters = [(_text(f, "field"), _text(f, "operator"), _text(f, "value")) for f in el.findall(EX + "filter")]
        offset, page_size = _int(el, "offset", 0), _int(el, "pageSize", output.DEFAULT_PAGE)
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
        _el(out, "offset", offset)
        _el(out, "more", more)
        _el(out, "source", source)
        container = _el(out, "records", None)
        for record in records:
            container.append(record)
        return out

    def get_changes(self, events: Events, op_el: etree._Element) -> etree._Element:
        el = events.finish(op_el)
        watermark, limit = _int(el, "watermark", 0), _int(el, "maxRecords", output.DEFAULT_PAGE)
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
        return out


def exchange_app(sessions: sessionmaker[Session], settings: Settings) -> StreamingSoapEndpoint:
    ops = ExchangeOperations(sessions, settings)
    return StreamingSoapEndpoint(
        operations={"SubmitBatch": ops.submit_batch, "GetBatchStatus": ops.get_batch_status,
                    "QueryRecords": ops.query_records, "GetChanges": ops.get_changes},
        wsdl=exchange_wsdl,
        max_request_bytes=settings.max_batch_bytes,
        event_tags=(f"{{{SOAP_ENV_NS}}}*", f"{{{EXCHANGE_NS}}}*", f"{{{BATCH_NS}}}*", *(f.qname for f in formats())),
    )
