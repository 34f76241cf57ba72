"""The exchange's two bulk operations on the wire, without zeep's object model: SubmitBatch (a
batch built as bytes from its records' canonical forms) and GetChanges (the answer read with
lxml).  zeep builds and reads every other operation; these two carry the volume - a million
records through zeep's objects cost more than the platform's own work on them.

The messages are exactly those zeep writes from the WSDL (document/literal, elements qualified
in the exchange's namespace, the batch as ``batch:Batch``), signed by the same
:class:`client.wss.PlatformSignature` and checked by it; a fault becomes the same typed exception.
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from xml.sax.saxutils import escape

import requests
from lxml import etree

from .faults import EXCHANGE_NS, PlatformError, Unavailable, UntrustedAnswer, from_fault
from .wss import PlatformSignature, ResponseNotTrusted

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
BATCH_NS = "http://govshare.local/xsd/batch/1.0"
_EX = f"{{{EXCHANGE_NS}}}"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_blank_text=False)


class Wire:
    """SOAP 1.1 calls to the exchange at ``url``, signed with ``wsse`` when it is given."""

    def __init__(self, url: str, wsse: PlatformSignature | None, timeout: float):
        self.url, self.wsse, self.timeout = url, wsse, timeout
        self.http = requests.Session()

    def call(self, action: str, body: bytes) -> tuple[etree._Element, bytes]:
        """The answer's Body payload to the operation element ``body``, and the answer as received."""
        return self.post(action, self.envelope(body))

    def envelope(self, body: bytes) -> bytes:
        """The request envelope of the operation element ``body``, signed now (a fresh Timestamp)."""
        envelope = (f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Header/><soap:Body>'.encode() + body
                    + b"</soap:Body></soap:Envelope>")
        if self.wsse is not None:
            tree = etree.fromstring(envelope, _PARSER)
            self.wsse.apply(tree, {})
            envelope = etree.tostring(tree)
        return envelope

    def post(self, action: str, envelope: bytes) -> tuple[etree._Element, bytes]:
        """Send a request envelope made by :meth:`envelope`; as :meth:`call`."""
        answer = self.http.post(self.url, data=envelope, timeout=self.timeout,
                                headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'})
        if not answer.content:
            raise Unavailable("Unavailable", f"{action}: the platform answered HTTP {answer.status_code} with nothing",
                              f"平台无应答内容 (HTTP {answer.status_code}), 请稍后重试。")
        try:
            tree = etree.fromstring(answer.content, _PARSER)
        except etree.XMLSyntaxError as exc:
            raise Unavailable("Unavailable", f"{action}: the platform's answer (HTTP {answer.status_code}) is not "
                              f"XML: {exc}", "平台应答无法解析, 请稍后重试。") from None
        if self.wsse is not None:
            try:
                self.wsse.verify(tree)
            except ResponseNotTrusted as exc:
                raise UntrustedAnswer("ResponseNotTrusted", f"{action}: {exc.message}; check the platform's address "
                                      "and the CA file, and whether something between rewrites the answers",
                                      f"平台应答未通过签名验证 ({action}), 请核对平台地址和CA证书。") from None
        payload = tree.find(f"{{{SOAP_ENV}}}Body")
        first = payload[0] if payload is not None and len(payload) else None
        if first is None:
            raise Unavailable("Unavailable", f"{action}: the platform's answer has an empty Body", "平台应答为空。")
        if first.tag == f"{{{SOAP_ENV}}}Fault":
            raise from_fault(SimpleNamespace(code=first.findtext("faultcode") or "",
                                             message=first.findtext("faultstring") or "",
                                             detail=first.find("detail")))
        return first, answer.content


def submit_body(header: dict, records: list[bytes]) -> bytes:
    """The SubmitBatch element around a batch of ``records`` (canonical bytes), its header as given."""
    head = "".join(f"<b:{name}>{escape(str(value))}</b:{name}>" for name, value in header.items())
    return b"".join([f'<ex:SubmitBatch xmlns:ex="{EXCHANGE_NS}"><b:Batch xmlns:b="{BATCH_NS}"><b:header>'.encode(),
                     head.encode(), b"</b:header><b:records>", *records,
                     b"</b:records></b:Batch></ex:SubmitBatch>"])


def receipt_of(answer: etree._Element) -> dict:
    receipt = answer.find(f"{_EX}receipt")
    if receipt is None:
        raise PlatformError("InvalidAnswer", "SubmitBatch: the answer holds no receipt", "平台回执缺失。")
    return {child.tag.rpartition("}")[2]: child.text for child in receipt}


def changes_body(requester: str, resource: str, watermark: int, max_records: int, purpose: str | None) -> bytes:
    parts = [f'<ex:GetChanges xmlns:ex="{EXCHANGE_NS}"><ex:requester>{escape(requester)}</ex:requester>'
             f"<ex:resourceCode>{escape(resource)}</ex:resourceCode><ex:watermark>{int(watermark)}</ex:watermark>"
             f"<ex:maxRecords>{int(max_records)}</ex:maxRecords>"]
    if purpose:
        parts.append(f"<ex:purpose>{escape(purpose)}</ex:purpose>")
    parts.append("</ex:GetChanges>")
    return "".join(parts).encode()


def changes_of(answer: etree._Element) -> tuple[list[tuple[int, str, str, datetime | None, etree._Element | None]],
                                                 int, bool]:
    """The changes of a GetChangesResponse (sequence, key, operation, effective from, record), the
    next watermark and whether there are more."""
    found = []
    for change in answer.iterfind(f"{_EX}change"):
        record = change.find(f"{_EX}record")
        element = next((e for e in record if isinstance(e.tag, str)), None) if record is not None else None
        when = change.findtext(f"{_EX}effectiveFrom")
        found.append((int(change.findtext(f"{_EX}sequence")), change.findtext(f"{_EX}key") or "",
                      change.findtext(f"{_EX}operation") or "", _datetime(when) if when else None, element))
    return found, int(answer.findtext(f"{_EX}nextWatermark") or 0), answer.findtext(f"{_EX}more") == "true"


def _datetime(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
