"""SOAP 1.1 document/literal transport of the UDDI APIs, over lxml.

The UDDI messages are bare document/literal: the Body holds the API element itself::

    <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
      <soap:Body>
        <find_service xmlns="urn:uddi-org:api_v3" maxRows="10">
          <name>人口基础信息查询</name>
        </find_service>
      </soap:Body>
    </soap:Envelope>

Every request is parsed without DTDs or entities and within a size limit, checked
against ``uddi_v3.xsd`` (the subscription API's against ``uddi_v3subscription.xsd``, which
imports it) and dispatched by the Body element's name.  Every response is
checked against the schema too, so a response that cannot be produced correctly is a
SOAP Fault (E_fatalError), never HTTP 200 with an empty or invalid Envelope.

An endpoint whose calls are ``audited`` (publication, subscription) records each operation in the audit
log: the action the operation runs fills the entry (``trust.actions.audited``), the transport
adds the SHA-256 of the request and of the response as they travelled, or the refusal when none
ran (a bad authInfo); with the evidence log on, a signed call is kept whole with its signed answer.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree
from sqlalchemy.orm import Session, sessionmaker

from registry import request_log
from registry.clock import utcnow
from registry.db import DatabaseUnavailable, unit_of_work
from registry.errors import GovshareError, SoapFault, UddiError
from registry.settings import Settings
from trust import audit, evidence
from trust.actions import audited
from trust.xml import release_memory, safe_parser
from wsdl import soap
from wsdl.oasis import uddi_schema

from . import UDDI_NS
from .answers import AnswerCache, generation
from .context import Call

log = logging.getLogger(__name__)

Handler = Callable[[Call, etree._Element], etree._Element | None]
#: a request larger than this has its memory given back to the system once it is answered
LARGE_REQUEST = 1024 * 1024


@dataclass
class UddiEndpoint:
    """One UDDI API endpoint (inquiry, publication, security or subscription) as a WSGI app."""

    name: str
    operations: dict[str, Handler]
    wsdl: Callable[[str, str], bytes]  # (base_url, endpoint_url) -> WSDL document
    sessions: sessionmaker[Session]
    settings: Settings
    checked_values: Callable[[], dict[str, dict[str, str]]] = dict
    cacheable: bool = False  # answers depend on the request and the directory alone (inquiry)
    answers: AnswerCache = field(init=False)
    # WS-Security (S2, publication): the caller of a request's envelope, or None for an unsigned
    # request the policy lets through; and the signer of responses to signed requests.
    verify: Callable[[etree._Element], object] | None = None
    sign: Callable[[etree._Element], etree._Element] | None = None
    understood: frozenset[str] = frozenset()
    audited: bool = False  # every call is recorded in the audit log (the publication API)
    # the evidence log (消息日志): the row of a signed call and its signed answer (from the capture and the
    # operation), written with the call's audit entry
    keep: Callable[[evidence.Capture, str], dict] | None = None
    # the API's namespace and the schema its messages conform to (the subscription API has its own)
    namespace: str = UDDI_NS
    schema: Callable[[], etree.XMLSchema] = uddi_schema
    schema_file: str = "uddi_v3.xsd"

    def __post_init__(self) -> None:
        self.answers = AnswerCache(self.settings.inquiry_cache_mb * 1024 * 1024 if self.cacheable else 0)

    def __call__(self, environ, start_response):
        base_url = _base_url(environ)
        endpoint_url = base_url + environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "GET":
            if environ.get("QUERY_STRING", "").lower() in ("wsdl", "wsdl=", "wsdl=1"):
                body = self.wsdl(base_url, endpoint_url)
                return _respond(start_response, "200 OK", body, "text/xml; charset=utf-8")
            body = f"UDDI v3 {self.name} API: POST SOAP 1.1 messages here; the WSDL is at ?wsdl\n".encode()
            return _respond(start_response, "200 OK", body, "text/plain; charset=utf-8")
        if method != "POST":
            return _respond(start_response, "405 Method Not Allowed", b"POST a SOAP message\n", "text/plain")
        raw = _read_body(environ, self.settings.max_request_bytes)
        status, body, cached = self.answer(raw, base_url)
        if raw is not None and len(raw) > LARGE_REQUEST:
            release_memory()
        headers = [("X-Govshare-Cache", cached)] if cached else []
        return _respond(start_response, status, body, "text/xml; charset=utf-8", headers)

    def handle(self, raw: bytes | None, base_url: str = "") -> tuple[str, bytes]:
        """(HTTP status, response envelope) for one request body."""
        status, body, _cached = self.answer(raw, base_url)
        return status, body

    def answer(self, raw: bytes | None, base_url: str = "") -> tuple[str, bytes, str]:
        """(HTTP status, response envelope, ``hit``/``miss``/``""`` for the answer cache)."""
        signed = False  # a signed request is answered signed, its faults too (zeep verifies before it reads a fault)
        try:
            request = self._parse(raw)
            signed = self.sign is not None and request.getroottree().getroot().find(
                f"{soap.HEADER}/{soap.WSSE_SECURITY}") is not None
            handler = self._operation(request)
            request_log.note(operation=etree.QName(request).localname)
            _validate_request(request, self.schema(), self.schema_file)
            caller = self._verified(request, raw) if self.verify is not None else None
            request_log.note_from(caller)
            with unit_of_work(self.sessions) as session:
                gen = generation(session) if self.answers.enabled else None
                if gen is not None:
                    asked = etree.tostring(request)
                    envelope = self.answers.get(gen, asked)
                    if envelope is not None:
                        return "200 OK", envelope, "hit"
                call = Call(session=session, settings=self.settings, now=utcnow(), base_url=base_url,
                            checked_values=self.checked_values(), caller=caller, sessions=self.sessions)

                def finish(response: etree._Element | None) -> bytes:
                    if response is not None:
                        _validate_response(response, self.schema(), self.schema_file)
                    return soap.serialise(soap.envelope(response), self.sign if caller is not None else None)

                envelope = (self._audited(handler, call, request, raw, finish) if self.audited
                            else finish(handler(call, request)))
            if gen is None:
                return "200 OK", envelope, ""
            self.answers.put(gen, asked, envelope)
            return "200 OK", envelope, "miss"
        except _Answered as answered:  # a signed call's fault, kept with its audit entry as it is sent
            return "500 Internal Server Error", answered.body, ""
        except Exception as exc:  # the caller must get a fault, whatever went wrong
            return "500 Internal Server Error", self._fault_response(self._fault_of(exc), signed), ""

    def _fault_of(self, exc: Exception) -> etree._Element:
        """The SOAP Fault that answers ``exc``: a UDDI error's dispositionReport, a SOAP fault as it
        is, E_busy when the database cannot serve now, else E_fatalError (logged)."""
        if isinstance(exc, UddiError):
            return _uddi_fault(exc)
        if isinstance(exc, SoapFault):
            return soap.fault(exc.fault_code, exc.message)
        if isinstance(exc, DatabaseUnavailable):  # E_busy: "cannot be processed at the current time"
            log.warning("UDDI %s operation failed: %s", self.name, exc)
            return _uddi_fault(UddiError("E_busy", exc.for_caller))
        log.error("UDDI %s operation failed", self.name, exc_info=exc)
        return _uddi_fault(UddiError("E_fatalError", "the node could not complete the request; it has been logged"))

    def _audited(self, handler: Handler, call: Call, request: etree._Element, raw: bytes,
                 finish: Callable[[etree._Element | None], bytes]) -> bytes:
        """``handler``'s answer as sent (``finish`` makes its envelope), the call recorded in the audit
        log with the SHA-256 of the request and of the answer as they travelled; a signed call is kept
        whole with its signed answer beside its entry (``keep``: the evidence log, 消息日志).  A call
        refused is recorded with why; a signed one's signed fault is kept as its answer, as the
        exchange keeps its refusals."""
        event = audit.AuditEvent(f"uddi.{etree.QName(request).localname}", channel="soap",
                                 request_digest=audit.digest(raw))
        capture = None
        if call.caller is not None:
            event.identify(call.caller)
            if self.keep is not None:  # a signed request, its signature verified
                capture = evidence.Capture()
                capture.received(zlib.compress(raw, 1), event.request_digest, request.getroottree().getroot())
        try:
            with audited(event):
                response = handler(call, request)
            envelope = finish(response)
        except GovshareError as err:
            if event.result == "ok":  # refused before its action ran
                event.result, event.detail = f"refused:{err.code}", err.message
            self._failed(event, capture, err)
            raise
        except Exception as exc:
            if event.result == "ok":
                event.result, event.detail = "fault:E_fatalError", f"{exc.__class__.__name__}: {exc}"
            self._failed(event, capture, exc)
            raise
        event.response_digest = audit.digest(envelope)
        kept = self.keep(capture.answered(envelope, event.response_digest), event.operation) if capture else None
        audit.record(self.sessions, self.settings, event, evidence=kept)
        return envelope

    def _failed(self, event: audit.AuditEvent, capture: evidence.Capture | None, exc: Exception) -> None:
        """Record the call that ``exc`` ended; a signed one's fault is signed now, kept whole with the
        entry and answered as it was kept (``_Answered``)."""
        if capture is None:
            audit.record(self.sessions, self.settings, event)
            return
        body = self._fault_response(self._fault_of(exc), True)
        event.response_digest = audit.digest(body)
        kept = self.keep(capture.answered(body, event.response_digest), event.operation)
        audit.record(self.sessions, self.settings, event, evidence=kept)
        raise _Answered(body) from exc

    def _fault_response(self, envelope: etree._Element, signed: bool) -> bytes:
        """A fault envelope as sent: signed by the platform when it answers a signed request."""
        if signed:
            try:
                return soap.serialise(envelope, self.sign)
            except Exception:  # noqa: BLE001 - the fault still goes out, unsigned, rather than none at all
                log.exception("a fault to a signed request could not be signed")
        return soap.serialise(envelope)

    def _parse(self, raw: bytes | None) -> etree._Element:
        if raw is None:
            raise UddiError(
                "E_messageTooLarge",
                f"the request is larger than the {self.settings.max_request_bytes} bytes this node accepts",
            )
        if not raw.strip():
            raise SoapFault("Client", "the request body is empty: POST a SOAP 1.1 Envelope")
        try:
            root = etree.fromstring(raw, safe_parser())
        except etree.XMLSyntaxError as exc:
            raise SoapFault("Client", f"the request is not well-formed XML: {exc}") from None
        if root.getroottree().docinfo.doctype:
            raise SoapFault("Client", "DTDs are not allowed in SOAP messages (SOAP 1.1 section 3)")
        soap.check_envelope(root)
        header = root.find(soap.HEADER)
        if header is not None:
            soap.check_headers(header, self.understood)
        body = root.find(soap.BODY)
        if body is None:
            raise SoapFault("Client", "the Envelope has no Body")
        payload = [child for child in body if isinstance(child.tag, str)]
        if len(payload) != 1:
            raise SoapFault("Client", f"the Body must hold exactly one UDDI API element, it holds {len(payload)}")
        return payload[0]

    def _operation(self, request: etree._Element) -> Handler:
        qname = etree.QName(request)
        if qname.namespace != self.namespace:
            raise UddiError("E_unsupported", f"{request.tag} is not an element of the UDDI v3 {self.name} API "
                            f"(namespace {self.namespace})")
        handler = self.operations.get(qname.localname)
        if handler is None:
            raise UddiError(
                "E_unsupported",
                f"{qname.localname} is not an operation of the {self.name} API; "
                f"this endpoint offers {', '.join(sorted(self.operations))}",
            )
        return handler


    def _verified(self, request: etree._Element, raw: bytes) -> object:
        """The verified caller; a WS-Security refusal is a ``wsse:`` fault, recorded in the audit log
        when the endpoint's calls are (an attempt on the publication API is an access refused)."""
        from trust.wsse import WsSecurityError

        try:
            return self.verify(request.getroottree().getroot())
        except WsSecurityError as err:
            if self.audited:
                audit.record(self.sessions, self.settings, audit.AuditEvent(
                    f"uddi.{etree.QName(request).localname}", result=f"refused:{err.code}", detail=err.message,
                    channel="soap", request_digest=audit.digest(raw)))
            raise SoapFault(f"wsse:{err.code}", err.message) from None


def _validate_request(request: etree._Element, schema: etree.XMLSchema, schema_file: str) -> None:
    if schema.validate(request):
        return
    error = schema.error_log.last_error
    message = error.message
    if "maxLength" in message and ("name'" in message or "}name'" in message):
        raise UddiError("E_nameTooLong", f"line {error.line}: {message}")
    if "Key'" in message and ("maxLength" in message or "minLength" in message):
        raise UddiError("E_invalidKeyPassed", f"line {error.line}: {message}")
    raise UddiError("E_invalidValue", f"the request does not conform to {schema_file}: line {error.line}: {message}")


def _validate_response(response: etree._Element, schema: etree.XMLSchema, schema_file: str) -> None:
    if not schema.validate(response):
        error = schema.error_log.last_error
        raise RuntimeError(f"response {response.tag} violates {schema_file}: {error.message}")


def disposition_report(err: UddiError) -> etree._Element:
    report = etree.Element("{%s}dispositionReport" % UDDI_NS, nsmap={None: UDDI_NS})
    result = etree.SubElement(report, "{%s}result" % UDDI_NS, errno=str(err.errno))
    info = etree.SubElement(result, "{%s}errInfo" % UDDI_NS, errCode=err.err_code)
    info.text = err.message
    return report


class _Answered(Exception):  # noqa: N818 - not an error: a fault already made, signed and kept
    """A signed call's fault, made and kept with its audit entry: ``body`` is what is sent."""

    def __init__(self, body: bytes):
        super().__init__("answered")
        self.body = body


def _uddi_fault(err: UddiError) -> etree._Element:
    return soap.fault(err.fault_code, f"{err.err_code}: {err.message}", disposition_report(err))


def _read_body(environ, limit: int) -> bytes | None:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ["wsgi.input"]
    if length > limit:
        return None
    if length:
        return stream.read(length)
    data = stream.read(limit + 1)
    return None if len(data) > limit else data


def _base_url(environ) -> str:
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
    return f"{scheme}://{host}"


def _respond(start_response, status: str, body: bytes, content_type: str, extra: list | None = None):
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *(extra or [])])
    return [body]
