"""The ``/exchange`` endpoint: the operations of ``wsdl/exchange.wsdl`` over the
streaming SOAP transport, each one action of :mod:`exchange.submit` or :mod:`exchange.queries`.

    <ex:GetChanges xmlns:ex="http://govshare.local/xsd/exchange/1.0">
      <ex:requester>11330100MB0000000X</ex:requester>
      <ex:resourceCode>101001/000002</ex:resourceCode>
      <ex:watermark>0</ex:watermark>
    </ex:GetChanges>
    ->  get_changes(ctx, requester="11330100MB0000000X", resource_code="101001/000002", watermark=0, ...)
    ->
    <ex:GetChangesResponse>
      <ex:nextWatermark>57</ex:nextWatermark><ex:more>false</ex:more>
      <ex:change><ex:sequence>57</ex:sequence><ex:key>330102...</ex:key>
        <ex:operation>upsert</ex:operation><ex:effectiveFrom>...</ex:effectiveFrom>
        <ex:record><p:Person>...</p:Person></ex:record></ex:change>
    </ex:GetChangesResponse>

An operation reads its request into plain inputs, runs the action for the caller WS-Security
verified (the certificate's department) and renders the action's result.  An unsigned request,
which only ``GOVSHARE_WSS=optional`` (or ``off``) lets through - for development and tests,
never in production - acts as the department it names (``trust.auth.unsigned_request``).
Every request is recorded in the audit log (:mod:`exchange.transport`).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from lxml import etree
from sqlalchemy.orm import Session, sessionmaker

from directory import federation
from governance import correction, nodes, sharing
from registry.errors import ExchangeError
from registry.settings import Settings
from trust import audit, certificates, evidence
from trust.actions import Context
from trust.auth import unsigned_request
from wsdl.exchange import contract_schema, exchange_wsdl, most_children
from xsd.batch import BATCH_NS
from xsd.registry import formats, lookup

from . import output, queries, submit
from .transport import EXCHANGE_NS, SOAP_ENV_NS, Contract, Events, StreamingSoapEndpoint

EX = "{%s}" % EXCHANGE_NS

#: each operation of the exchange WSDL, and the action it runs
ACTIONS = {"SubmitBatch": "exchange.submit_batch", "GetBatchStatus": "exchange.batch_status",
           "QueryRecords": "exchange.query_records", "GetChanges": "exchange.get_changes",
           "ApplyForResource": "sharing.apply", "GetApplications": "sharing.applications",
           "GetGrants": "sharing.grants", "FileCorrection": "correction.file", "GetCorrections": "correction.list",
           "RequestCertificate": "pki.request", "GetCertificateRequests": "pki.requests",
           "GetCertificate": "pki.certificate", "ReportNodeStatus": "nodes.report",
           "FederateEntries": "federation.receive", "GetFederatedDigests": "federation.digests"}


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


def _date(el: etree._Element, name: str) -> date | None:
    value = _text(el, name, required=False)
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise ExchangeError("InvalidRequest", f"{name} must be a date (YYYY-MM-DD), not {value!r}") from None


def _datetime(el: etree._Element, name: str) -> datetime | None:
    value = _text(el, name, required=False)
    try:
        found = datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except ValueError:
        raise ExchangeError("InvalidRequest", f"{name} must be an xsd:dateTime (2026-12-05T08:30:00Z), "
                            f"not {value!r}") from None
    return found if found is None or found.tzinfo is not None else found.replace(tzinfo=UTC)


def _application(parent: etree._Element, name: str, a: sharing.Application) -> None:
    el = _el(parent, name, None)
    for child, value in (("applicationId", a.id), ("resourceCode", a.resource_code), ("resourceName", a.resource_name),
                         ("providerName", a.provider_name), ("purpose", a.purpose)):
        _el(el, child, value)
    for field_name in a.fields or ():
        _el(el, "field", field_name)
    _el(el, "validFrom", a.valid_from.isoformat())
    _el(el, "validTo", a.valid_to.isoformat())
    if a.system_code:
        _el(el, "system", a.system_code)
    _el(el, "status", a.status)
    _el(el, "submittedAt", _instant(a.submitted_at))
    _el(el, "deadline", _instant(a.deadline))
    if a.decided_at is not None:
        _el(el, "decidedAt", _instant(a.decided_at))
    if a.reason:
        _el(el, "reason", a.reason)


def _report(parent: etree._Element, name: str, r: correction.Report) -> None:
    el = _el(parent, name, None)
    for child, value in (("reportId", r.id), ("resourceCode", r.resource_code), ("recordKey", r.record_key),
                         ("field", r.field), ("problem", r.problem), ("status", r.status),
                         ("filedAt", _instant(r.filed_at))):
        _el(el, child, value)
    if r.answer:
        _el(el, "answer", r.answer)


def _certificate_request(parent: etree._Element, r: certificates.Requested) -> None:
    el = _el(parent, "request", None)
    for child, value in (("requestId", r.id), ("holder", r.holder), ("key", r.key)):
        _el(el, child, value)
    if r.renews:
        _el(el, "renews", r.renews)
    _el(el, "status", r.status)
    _el(el, "submittedAt", _instant(r.submitted_at))
    if r.certificate_serial:
        _el(el, "certificateSerial", r.certificate_serial)
    if r.reason:
        _el(el, "reason", r.reason)


def _record_element(row: output.Row) -> etree._Element:
    return lookup(row.record_type).encode(row.fields)


def _instant(value) -> str:
    return value.isoformat() + "Z"


class ExchangeOperations:
    def __init__(self, sessions: sessionmaker[Session], settings: Settings):
        self.sessions = sessions
        self.settings = settings

    def _context(self, events: Events) -> Context:
        """The action context of the request's verified caller (an unsigned request: development only)."""
        return Context(events.caller or unsigned_request("soap"), self.sessions, self.settings)

    def _signed(self, events: Events) -> Context:
        """The context of a governance operation: it acts for the certificate's department (or its
        application system), so it needs a signed request whatever the WS-Security policy."""
        if events.caller is None:
            raise ExchangeError("InvalidSecurity", "this operation acts for the department whose certificate signs "
                                "the request: sign it (WS-Security, X.509)", fault_code="wsse:InvalidSecurity")
        return Context(events.caller, self.sessions, self.settings)

    def submit_batch(self, events: Events, op_el: etree._Element) -> etree._Element:
        receipt = submit.submit_batch(self._context(events), batch=events)
        out = etree.Element(EX + "SubmitBatchResponse", nsmap={"ex": EXCHANGE_NS})
        r = _el(out, "receipt", None)
        for name, value in (("receiptId", receipt.receipt_id), ("batchId", receipt.batch_id),
                            ("receivedAt", _instant(receipt.received_at)), ("received", receipt.received),
                            ("accepted", receipt.accepted), ("quarantined", receipt.quarantined),
                            ("duplicate", receipt.duplicate)):
            _el(r, name, value)
        return out

    def get_batch_status(self, events: Events, op_el: etree._Element) -> etree._Element:
        el = events.finish(op_el)
        found = submit.batch_status(self._context(events), batch_id=_text(el, "batchId"))
        out = etree.Element(EX + "GetBatchStatusResponse", nsmap={"ex": EXCHANGE_NS})
        status = _el(out, "status", None)
        for name, value in (("batchId", found.batch_id), ("resourceCode", found.resource_code),
                            ("state", found.state), ("receivedAt", _instant(found.received_at)),
                            ("received", found.received), ("accepted", found.accepted),
                            ("unchanged", found.unchanged), ("quarantined", found.quarantined)):
            _el(status, name, value)
        for reason in found.reasons:
            el = _el(status, "reason", None)
            _el(el, "rule", reason.rule)
            _el(el, "count", reason.count)
            _el(el, "example", reason.example)
        return out

    def query_records(self, events: Events, op_el: etree._Element) -> etree._Element:
        el = events.finish(op_el)
        found = queries.query_records(
            self._context(events), requester=_text(el, "requester"), resource_code=_text(el, "resourceCode"),
            purpose=_text(el, "purpose", required=False) or None,
            keys=[k.text.strip() for k in el.findall(EX + "key") if k.text and k.text.strip()],
            filters=[(_text(f, "field"), _text(f, "operator"), _text(f, "value")) for f in el.findall(EX + "filter")],
            offset=_int(el, "offset", 0), page_size=_int(el, "pageSize", output.DEFAULT_PAGE))
        out = etree.Element(EX + "QueryRecordsResponse", nsmap={"ex": EXCHANGE_NS})
        _el(out, "total", found.total)
        _el(out, "pageOffset", found.offset)
        _el(out, "more", found.more)
        _el(out, "source", found.source)
        container = _el(out, "records", None)
        for row in found.records:
            container.append(_record_element(row))
        return out

    def get_changes(self, events: Events, op_el: etree._Element) -> etree._Element:
        el = events.finish(op_el)
        found = queries.get_changes(
            self._context(events), requester=_text(el, "requester"), resource_code=_text(el, "resourceCode"),
            purpose=_text(el, "purpose", required=False) or None, watermark=_int(el, "watermark", 0),
            max_records=_int(el, "maxRecords", output.DEFAULT_PAGE))
        out = etree.Element(EX + "GetChangesResponse", nsmap={"ex": EXCHANGE_NS})
        _el(out, "nextWatermark", found.next_watermark)
        _el(out, "more", found.more)
        for row in found.changes:
            change = _el(out, "change", None)
            _el(change, "sequence", row.sequence)
            _el(change, "key", row.key)
            _el(change, "operation", "delete" if row.deleted else "upsert")
            _el(change, "effectiveFrom", _instant(row.effective_from))
            _el(change, "record", None).append(_record_element(row))
        return out


    # ---------------------------------------------------------------- governance (使用申请, 授权, 纠错)

    def apply_for_resource(self, events: Events, op_el: etree._Element) -> etree._Element:
        el = events.finish(op_el)
        ctx = self._signed(events)
        filed = sharing.apply(ctx, resource_code=_text(el, "resourceCode"), purpose=_text(el, "purpose"),
                              valid_from=_date(el, "validFrom"), valid_to=_date(el, "validTo"),
                              fields=[f.text.strip() for f in el.findall(EX + "field") if f.text and f.text.strip()]
                              or None,
                              system=_text(el, "system", required=False) or events.caller.system_code)
        out = etree.Element(EX + "ApplyForResourceResponse", nsmap={"ex": EXCHANGE_NS})
        _application(out, "application", filed)
        return out

    def get_applications(self, events: Events, op_el: etree._Element) -> etree._Element:
        events.finish(op_el)
        out = etree.Element(EX + "GetApplicationsResponse", nsmap={"ex": EXCHANGE_NS})
        for application in sharing.applications(self._signed(events)):
            _application(out, "application", application)
        return out

    def get_grants(self, events: Events, op_el: etree._Element) -> etree._Element:
        events.finish(op_el)
        ctx = self._signed(events)
        out = etree.Element(EX + "GetGrantsResponse", nsmap={"ex": EXCHANGE_NS})
        for g in sharing.grants(ctx):
            if g.consumer_code != events.caller.department_code:
                continue  # one it gave as a provider: not what it may read
            el = _el(out, "grant", None)
            for child, value in (("grantId", g.id), ("resourceCode", g.resource_code),
                                 ("resourceName", g.resource_name)):
                _el(el, child, value)
            for field_name in g.fields or ():
                _el(el, "field", field_name)
            for field_name in g.clear_fields:
                _el(el, "clearField", field_name)
            _el(el, "validFrom", g.valid_from.isoformat())
            if g.last_day is not None:
                _el(el, "lastDay", g.last_day.isoformat())
            if g.system_code:
                _el(el, "system", g.system_code)
            _el(el, "source", g.source)
            if g.application_id is not None:
                _el(el, "applicationId", g.application_id)
            _el(el, "state", g.state)
        return out

    def file_correction(self, events: Events, op_el: etree._Element) -> etree._Element:
        el = events.finish(op_el)
        filed = correction.file(self._signed(events), resource_code=_text(el, "resourceCode"),
                                record_key=_text(el, "recordKey"), field=_text(el, "field"),
                                problem=_text(el, "problem"))
        out = etree.Element(EX + "FileCorrectionResponse", nsmap={"ex": EXCHANGE_NS})
        _report(out, "report", filed)
        return out

    def get_corrections(self, events: Events, op_el: etree._Element) -> etree._Element:
        events.finish(op_el)
        out = etree.Element(EX + "GetCorrectionsResponse", nsmap={"ex": EXCHANGE_NS})
        for report in correction.filed(self._signed(events)):
            _report(out, "report", report)
        return out

    # ---------------------------------------------------------------- front-end nodes (前置交换节点)

    def report_node_status(self, events: Events, op_el: etree._Element) -> etree._Element:
        el = events.finish(op_el)
        subscriptions = [(_text(s, "name"), _text(s, "resourceCode"), _int(s, "watermark", 0))
                         for s in el.findall(EX + "subscription")]
        kept = nodes.report(self._signed(events), node_id=_text(el, "nodeId"),
                            version=_text(el, "version", required=False) or "",
                            pending_batches=_int(el, "pendingBatches", 0),
                            pending_records=_int(el, "pendingRecords", 0),
                            refused_batches=_int(el, "refusedBatches", 0),
                            oldest_pending=_datetime(el, "oldestPending"), last_receipt=_datetime(el, "lastReceipt"),
                            last_error=_text(el, "lastError", required=False) or "",
                            certificate_not_after=_datetime(el, "certificateNotAfter"), subscriptions=subscriptions,
                            adapters=[nodes.Adapter(_text(a, "name"), _text(a, "resourceCode", required=False) or "",
                                                    _text(a, "status", required=False) or "",
                                                    _datetime(a, "lastRun"), _int(a, "records", 0),
                                                    _text(a, "error", required=False) or "")
                                      for a in el.findall(EX + "adapter")])
        out = etree.Element(EX + "ReportNodeStatusResponse", nsmap={"ex": EXCHANGE_NS})
        _el(out, "state", kept.state)
        _el(out, "receivedAt", _instant(kept.reported_at))
        return out

    # ---------------------------------------------------------------- federation (目录管理节点)

    def federate_entries(self, events: Events, op_el: etree._Element) -> etree._Element:
        el = events.finish(op_el)
        documents, refused = [], []
        for entry in el.findall(EX + "entry"):
            code, declared = _text(entry, "code"), _text(entry, "digest").lower()
            try:
                doc = json.loads(_text(entry, "document"))
            except ValueError as exc:
                refused.append(federation.Received(code, "refused", reason=f"the document is not JSON: {exc}",
                                                   reason_zh="目录文档不是有效的 JSON"))
                continue
            if not isinstance(doc, dict) or doc.get("code") != code or federation.digest(doc) != declared:
                refused.append(federation.Received(code, "refused", reason="the document is not the one its code and "
                                                   "digest name (SHA-256 of its canonical JSON)",
                                                   reason_zh="目录文档与其资源代码或摘要不符"))
                continue
            documents.append(doc)
        received = federation.receive(self._signed(events), documents=documents,
                                      reconcile=_text(el, "reconcile", required=False) == "true")
        out = etree.Element(EX + "FederateEntriesResponse", nsmap={"ex": EXCHANGE_NS})
        for r in [*refused, *received]:
            result = _el(out, "result", None)
            _el(result, "code", r.code)
            _el(result, "outcome", r.outcome)
            for child, value in (("resourceCode", r.resource_code), ("reason", r.reason), ("reasonZh", r.reason_zh)):
                if value:
                    _el(result, child, value)
        return out

    def get_federated_digests(self, events: Events, op_el: etree._Element) -> etree._Element:
        events.finish(op_el)
        out = etree.Element(EX + "GetFederatedDigestsResponse", nsmap={"ex": EXCHANGE_NS})
        for code, (fingerprint, resource_code) in sorted(federation.digests(self._signed(events)).items()):
            entry = _el(out, "entry", None)
            _el(entry, "code", code)
            _el(entry, "digest", fingerprint)
            _el(entry, "resourceCode", resource_code)
        return out

    # ---------------------------------------------------------------- certificates (the CSR path)

    def request_certificate(self, events: Events, op_el: etree._Element) -> etree._Element:
        el = events.finish(op_el)
        made = certificates.request(self._signed(events), csr=_text(el, "csr"),
                                    system=_text(el, "system", required=False) or None,
                                    renews=_text(el, "renews", required=False) or None)
        out = etree.Element(EX + "RequestCertificateResponse", nsmap={"ex": EXCHANGE_NS})
        _certificate_request(out, made)
        return out

    def get_certificate_requests(self, events: Events, op_el: etree._Element) -> etree._Element:
        events.finish(op_el)
        out = etree.Element(EX + "GetCertificateRequestsResponse", nsmap={"ex": EXCHANGE_NS})
        for made in certificates.requests(self._signed(events)):
            _certificate_request(out, made)
        return out

    def get_certificate(self, events: Events, op_el: etree._Element) -> etree._Element:
        el = events.finish(op_el)
        found = certificates.certificate(self._signed(events), serial=_text(el, "serial"))
        out = etree.Element(EX + "GetCertificateResponse", nsmap={"ex": EXCHANGE_NS})
        for child, value in (("certificateSerial", found.held.serial), ("subject", found.held.subject),
                             ("notAfter", _instant(found.held.not_after)), ("status", found.held.status),
                             ("pem", found.pem)):
            _el(out, child, value)
        return out


def exchange_app(sessions: sessionmaker[Session], settings: Settings) -> StreamingSoapEndpoint:
    """The /exchange endpoint; every request recorded in the audit log unless ``GOVSHARE_AUDIT=0``
    (benchmarks only), and every signed exchange kept in the evidence log unless ``GOVSHARE_EVIDENCE=0``."""
    ops = ExchangeOperations(sessions, settings)
    return StreamingSoapEndpoint(
        operations={"SubmitBatch": ops.submit_batch, "GetBatchStatus": ops.get_batch_status,
                    "QueryRecords": ops.query_records, "GetChanges": ops.get_changes,
                    "ApplyForResource": ops.apply_for_resource, "GetApplications": ops.get_applications,
                    "GetGrants": ops.get_grants, "FileCorrection": ops.file_correction,
                    "GetCorrections": ops.get_corrections, "RequestCertificate": ops.request_certificate,
                    "GetCertificateRequests": ops.get_certificate_requests, "GetCertificate": ops.get_certificate,
                    "ReportNodeStatus": ops.report_node_status, "FederateEntries": ops.federate_entries,
                    "GetFederatedDigests": ops.get_federated_digests},
        actions=ACTIONS,
        record=(lambda event, kept=None: audit.record(sessions, settings, event, evidence=kept)) if settings.audit
        else None,
        keep=evidence.row if evidence.kept(settings) else None,
        wsdl=exchange_wsdl,
        max_request_bytes=settings.max_batch_bytes,
        contract=Contract(contract_schema(), most_children()),
        streaming_operations=frozenset({"SubmitBatch"}),
        small_request_bytes=settings.max_request_bytes,
        event_tags=(f"{{{SOAP_ENV_NS}}}*", f"{{{EXCHANGE_NS}}}*", f"{{{BATCH_NS}}}*", *(f.qname for f in formats())),
    )
