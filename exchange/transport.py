"""SOAP 1.1 transport of the exchange service that never holds a large request as one tree.

The request body is spooled to a temporary file (hashed on the way, with a size limit)
and read back with ``lxml.etree.iterparse``.  Small operations get their Body element
whole; a streaming operation (SubmitBatch) gets the parse events and clears each record
after use, so a 100,000-record batch is never one DOM::

    <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
      <soap:Body>
        <ex:SubmitBatch xmlns:ex="http://govshare.local/xsd/exchange/1.0">
          <b:Batch xmlns:b="http://govshare.local/xsd/batch/1.0"> header, then records </b:Batch>
        </ex:SubmitBatch>
      </soap:Body>
    </soap:Envelope>

Faults carry ``<ex:ExchangeFault><code/><message/><userMessage/></ex:ExchangeFault>`` in their
detail: the error's stable code, the developer's message (English) and the message for people
(Chinese).

Every POSTed request is one entry of the audit log (S4, :mod:`trust.audit`), recorded once it
is answered: the action the operation runs fills it (who, the action, its resource, purpose,
query digest, result and record count: :mod:`trust.actions`), and the transport adds the
SHA-256 of the request bytes as read and of the response bytes as sent.  A request refused
before its operation is known (malformed, too large, badly signed) is recorded as
``exchange.request``; one refused once it is known but before its action ran (it breaks the
contract) under the action's name.  When the entry cannot be written the caller gets a fault
instead of the answer: no unrecorded access.

A signed request whose signature verified, and the platform's signed answer to it (a fault
too), are kept whole in the evidence log (消息日志, :mod:`trust.evidence`) once the entry is
written, linked to it by its ``seq``: the transport is the one place that holds both the bytes
that came and the bytes that go.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from lxml import etree

from registry import request_log
from registry.db import DatabaseUnavailable
from registry.errors import ExchangeError, GovshareError
from trust import audit, evidence
from trust.actions import audited
from trust.xml import release_memory, safe_parser
from wsdl import soap
from xsd import prepared

log = logging.getLogger(__name__)

SOAP_ENV_NS = soap.SOAP_ENV_NS
EXCHANGE_NS = prepared.EXCHANGE_NS
#: a request larger than this has its memory given back to the system once it is answered
LARGE_REQUEST = 1024 * 1024
#: a signed request up to this size is read whole at once and its Security header checked with the rest
#: (once); a larger one has its header checked first, before it costs its size in memory
HEADER_FIRST = 64 * 1024
#: the WSGI environ key under which ``handle`` notes whether the request carried a wsse:Security header
SIGNED_REQUEST = "govshare.signed_request"


@dataclass
class SpooledRequest:
    """The request body on disk (or in memory when small), with its SHA-256, its size and
    a zlib-compressed copy (what the input tier keeps)."""

    file: IO[bytes]
    sha256: str
    size: int
    compressed: bytes

    def raw(self) -> bytes:
        self.file.seek(0)
        return self.file.read()


def spool(stream: IO[bytes], length: int | None, limit: int) -> SpooledRequest:
    """Copy the request body aside, refusing more than ``limit`` bytes."""
    if length is not None and length > limit:
        raise ExchangeError("RequestTooLarge", f"the request is {length} bytes; this node accepts at most {limit}")
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    digest = hashlib.sha256()
    packer = zlib.compressobj(1)
    packed: list[bytes] = []
    remaining = length if length is not None else limit + 1
    size = 0
    while remaining > 0:
        chunk = stream.read(min(1024 * 1024, remaining))
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise ExchangeError("RequestTooLarge", f"the request exceeds the {limit} bytes this node accepts")
        digest.update(chunk)
        packed.append(packer.compress(chunk))
        out.write(chunk)
        remaining -= len(chunk)
    out.seek(0)
    packed.append(packer.flush())
    return SpooledRequest(out, digest.hexdigest(), size, b"".join(packed))


class Events:
    """iterparse events of one request, positioned after the operation element's start."""

    def __init__(self, request: SpooledRequest, tags: tuple[str, ...] | None = None,
                 understood: frozenset[str] = frozenset(), tree: etree._Element | None = None,
                 contract: Contract | None = None):
        self.request = request
        self.understood = understood
        self.contract = contract
        self.caller: Any = None  # who signed the request (trust.auth.Caller), when it was signed
        refuse_dtd(request)
        if tree is not None:  # parsed whole already (a signed request): walk it, do not parse again
            self._it = etree.iterwalk(tree, events=("start", "end"), tag=tags)
        else:
            self._it = etree.iterparse(
                request.file, events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False,
                huge_tree=False, remove_comments=True, remove_pis=True, tag=tags,
            )
        self.operation: etree._Element | None = None
        self._complete = False

    def __iter__(self) -> Iterator[tuple[str, etree._Element]]:
        try:
            yield from self._it
        except etree.XMLSyntaxError as exc:
            raise ExchangeError("MalformedXml", f"the request is not well-formed XML: {exc}") from None

    def open(self) -> etree._Element:
        """Read up to the start of the Body's operation element, checking the envelope.

        An operation element outside the reported namespaces raises no events of its own:
        it is found, complete, when the Body ends.
        """
        checked = False
        for event, el in self:
            if not checked:
                soap.check_envelope(el.getroottree().getroot())
                checked = True
            parent = el.getparent()
            if event == "start" and parent is not None and parent.tag == soap.BODY:
                self.operation = el
                return el
            if event == "end" and el.tag == soap.HEADER:
                soap.check_headers(el, self.understood)
            elif event == "end" and el.tag == soap.BODY:
                payload = [child for child in el if isinstance(child.tag, str)]
                if payload:
                    self.operation, self._complete = payload[0], True
                    return payload[0]
                break
        root = getattr(self._it, "root", None)
        if not checked and root is not None:
            soap.check_envelope(root)
        raise ExchangeError("MalformedSoap", "the Envelope has no Body with an operation element")

    def finish(self, el: etree._Element) -> etree._Element:
        """Read to the end of ``el`` (which must have started) and return it whole.  The
        operation element is held to the contract: refused as soon as it has more children than
        its operation allows, and checked against the schema once complete."""
        name = etree.QName(el).localname
        most = self.contract.most_children.get(name) if self.contract and el is self.operation else None
        if not (self._complete and el is self.operation):
            children = 0
            for event, node in self:
                if event == "end" and node is el:
                    break
                if most is not None and event == "end" and node.getparent() is el:
                    children += 1
                    if children > most:
                        raise ExchangeError("InvalidRequest", f"{name} holds more than the {most} child elements "
                                            "its contract allows (see the WSDL's maxOccurs)")
            else:
                raise ExchangeError("MalformedXml", f"the request ended inside {el.tag}")
        if self.contract is not None and el is self.operation:
            self.contract.check(el)
        return el


def refuse_dtd(request: SpooledRequest) -> None:
    request.file.seek(0)
    head = request.file.read(4096)
    request.file.seek(0)
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise ExchangeError("XmlRefused", "DTDs and entity declarations are not allowed in SOAP messages")




Operation = Callable[[Events, etree._Element], etree._Element]


@dataclass(frozen=True)
class Contract:
    """What the WSDL declares of a request's operation element: its schema, and the most child
    elements each operation may hold (read while the request streams in)."""

    schema: etree.XMLSchema
    most_children: dict[str, int]

    def check(self, el: etree._Element) -> None:
        if not self.schema.validate(el):
            error = self.schema.error_log.last_error
            raise ExchangeError("InvalidRequest", f"{etree.QName(el).localname} does not conform to the exchange "
                                f"contract (the WSDL at ?wsdl): {error.message}")


@dataclass(frozen=True)
class Head:
    """What precedes the operation element: whether a wsse:Security header came (and, when it
    came, that header) and which operation the Body holds."""

    security: etree._Element | None
    operation: str | None

    @property
    def signed(self) -> bool:
        return self.security is not None


#: one large signed request verified at a time per process: it is held whole, tens of times its size
_LARGE_DOCUMENT = threading.BoundedSemaphore(1)


@dataclass
class StreamingSoapEndpoint:
    """A SOAP 1.1 endpoint whose operations read the request as parse events."""

    operations: dict[str, Operation]
    wsdl: Callable[[str, str], bytes]
    max_request_bytes: int
    # Only these elements raise parse events (the rest are still parsed and kept in the
    # tree): a record's 20-odd fields then cost no Python at all while reading.
    event_tags: tuple[str, ...] | None = None
    # WS-Security (S2): verifies a request's envelope and returns its caller (or None for an
    # unsigned request the policy lets through); signs the response of a signed request.
    verify: Callable[[etree._Element], Any] | None = None
    sign: Callable[[etree._Element], etree._Element] | None = None
    signed_dom_limit: int = 32 * 1024 * 1024
    understood: frozenset[str] = field(default=frozenset())
    # What the contract declares of each operation's request (checked before work starts); the
    # operations that stream their request, and the largest request any other operation takes.
    contract: Contract | None = None
    streaming_operations: frozenset[str] = frozenset()
    small_request_bytes: int | None = None
    # WS-Security: what can be checked of a Security header before the message is read whole
    check_header: Callable[[etree._Element], Any] | None = None
    large_document_wait: float = 60.0
    # The audit log (S4): appends an answered request's entry, with the evidence row it is given if any
    # (None: requests are not recorded); and the action each operation runs, the entry's operation once the
    # request reached it.
    record: Callable[..., Any] | None = None
    actions: dict[str, str] = field(default_factory=dict)
    # The evidence log: the row of a signed exchange and its operation, that ``record`` writes with the
    # exchange's entry (None: not kept)
    keep: Callable[[evidence.Capture, str], dict[str, Any]] | None = None

    def __call__(self, environ, start_response):
        scheme = environ.get("wsgi.url_scheme", "http")
        base_url = f"{scheme}://{environ.get('HTTP_HOST', 'localhost')}"
        endpoint_url = base_url + environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "GET":
            if environ.get("QUERY_STRING", "").lower().startswith("wsdl"):
                return _respond(start_response, "200 OK", self.wsdl(base_url, endpoint_url))
            text = b"govshare exchange service: POST SOAP 1.1 messages here; the WSDL is at ?wsdl\n"
            return _respond(start_response, "200 OK", text, "text/plain; charset=utf-8")
        if method != "POST":
            return _respond(start_response, "405 Method Not Allowed", b"POST a SOAP message\n", "text/plain")
        status, body = self.handle(environ)
        return _respond(start_response, status, body)

    def handle(self, environ) -> tuple[str, bytes]:
        """The answer to one POSTed request, recorded in the audit log when ``record`` is set."""
        if self.record is None:
            return self._answer(environ, None)
        reader = _DigestingReader(environ["wsgi.input"])
        environ["wsgi.input"] = reader
        event = audit.AuditEvent("exchange.request", channel="soap")
        capture = evidence.Capture() if self.keep is not None else None
        with audited(event):
            status, body = self._answer(environ, event, capture)
        event.request_digest, event.response_digest = reader.hexdigest(), audit.digest(body)
        if not status.startswith("200"):
            event.result, event.detail = _outcome(body)
        try:
            if capture is not None and capture.signer is not None:  # its evidence row, with its audit entry
                self.record(event, self.keep(capture.answered(body, event.response_digest), event.operation))
            else:
                self.record(event)
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

    def _answer(self, environ, event: audit.AuditEvent | None,
                capture: evidence.Capture | None = None) -> tuple[str, bytes]:
        signed = False  # a signed request is answered signed, its faults too (zeep verifies before it reads a fault)
        request = None
        try:
            with contextlib.ExitStack() as held:
                length = int(environ["CONTENT_LENGTH"]) if environ.get("CONTENT_LENGTH") else None
                request = spool(environ["wsgi.input"], length, self.max_request_bytes)
                if request.size == 0:
                    raise ExchangeError("MalformedSoap", "the request body is empty: POST a SOAP 1.1 Envelope")
                head = _head(request)
                if self.verify is not None:
                    signed = environ[SIGNED_REQUEST] = head.signed
                self._within_limits(request, head)
                if signed and self.small_request_bytes is not None and request.size > self.small_request_bytes:
                    held.enter_context(self._large_document())
                caller, tree = self._verified(request, head) if self.verify is not None else (None, None)
                if event is not None and caller is not None:
                    event.identify(caller)
                if capture is not None and caller is not None:
                    capture.received(request.compressed, request.sha256, tree)
                request_log.note_from(caller)
                events = Events(request, self.event_tags, self.understood, tree, self.contract)
                events.caller = caller
                op_el = events.open()
                qname = etree.QName(op_el)
                request_log.note(operation=qname.localname)
                operation = self.operations.get(qname.localname) if qname.namespace == EXCHANGE_NS else None
                if event is not None and operation is not None:
                    event.operation = self.actions.get(qname.localname, event.operation)
                if operation is None:
                    for _event in events:  # a malformed request is reported as such, not as an unknown operation
                        pass
                    raise ExchangeError("UnknownOperation", f"{op_el.tag} is not an operation of this service; it "
                                        f"offers {', '.join(sorted(self.operations))} in namespace {EXCHANGE_NS}")
                answer = soap.envelope(operation(events, op_el))
                if caller is not None and self.sign is not None:
                    answer = self.sign(answer)
                return "200 OK", soap.serialise(answer)
        except GovshareError as err:
            return "500 Internal Server Error", self.fault_response(err, signed)
        except DatabaseUnavailable as err:
            log.warning("exchange operation failed: %s", err)
            unavailable = ExchangeError("DatabaseUnavailable", err.for_caller, fault_code="Server")
            return "500 Internal Server Error", self.fault_response(unavailable, signed)
        except Exception:  # the caller must get a fault, whatever went wrong
            log.exception("exchange operation failed")
            err = ExchangeError("InternalError", "the centre could not complete the request; it has been logged",
                                fault_code="Server")
            return "500 Internal Server Error", self.fault_response(err, signed)
        finally:
            if request is not None and request.size > LARGE_REQUEST:
                release_memory()

    def _within_limits(self, request: SpooledRequest, head: Head) -> None:
        """Refuse, before anything is held whole, a request larger than its operation takes."""
        streams = head.operation is not None and etree.QName(head.operation).localname in self.streaming_operations
        if self.small_request_bytes is not None and not streams and request.size > self.small_request_bytes:
            raise ExchangeError("RequestTooLarge", f"a {etree.QName(head.operation or 'request').localname} "
                                f"request is at most {self.small_request_bytes} bytes; this one is {request.size}")
        if head.signed and request.size > self.signed_dom_limit:
            raise ExchangeError("RequestTooLarge", f"a signed request is verified whole, up to "
                                f"{self.signed_dom_limit} bytes; this one is {request.size}: send smaller batches")

    @contextlib.contextmanager
    def _large_document(self):
        if not _LARGE_DOCUMENT.acquire(timeout=self.large_document_wait):
            raise ExchangeError("ServerBusy", f"another large signed request has been verified for "
                                f"{self.large_document_wait:.0f} s; send this one again later, or in smaller batches",
                                fault_code="Server")
        try:
            yield
        finally:
            _LARGE_DOCUMENT.release()

    def fault_response(self, err: GovshareError, signed: bool) -> bytes:
        """The fault envelope of ``err``, signed by the platform when it answers a signed request."""
        env = fault_envelope(err)
        if signed and self.sign is not None:
            try:
                env = self.sign(env)
            except Exception:  # noqa: BLE001 - the fault still goes out, unsigned, rather than none at all
                log.exception("a fault to a signed request could not be signed")
        return soap.serialise(env)

    def _verified(self, request: SpooledRequest, head: Head) -> tuple[Any, etree._Element | None]:
        """The verified caller of a signed request and its parsed envelope; (None, None) for an
        unsigned one the policy allows; a WS-Security fault otherwise.  (Whether the request
        speaks for the caller's department is its action's to check.)  The Security header is
        checked before a large message is read whole (``HEADER_FIRST``), so a request nobody could
        have signed is refused before it costs its size in memory; a small one is read at once and
        its header checked with the rest, not twice."""
        from trust.wsse import WsSecurityError

        refuse_dtd(request)
        try:
            if not head.signed:  # the policy decides about unsigned requests
                return self.verify(etree.Element(soap.ENV + "Envelope")), None
            if self.check_header is not None and request.size > HEADER_FIRST:
                self.check_header(head.security)
            request.file.seek(0)
            try:
                tree = etree.parse(request.file, safe_parser(remove_comments=True, remove_pis=True)).getroot()
            except etree.XMLSyntaxError as exc:
                raise ExchangeError("MalformedXml", f"the request is not well-formed XML: {exc}") from None
            finally:
                request.file.seek(0)
            return self.verify(tree), tree
        except WsSecurityError as err:
            raise ExchangeError(err.code, err.message, fault_code=f"wsse:{err.code}", zh=err.zh) from None


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
    ex = "{%s}" % EXCHANGE_NS
    code = root.findtext(f".//{ex}code") or (root.findtext(".//faultcode") or "").split(":")[-1] or "Unknown"
    faultcode = root.findtext(".//faultcode") or ""
    message = root.findtext(f".//{ex}message") or root.findtext(".//faultstring") or ""
    return ("fault:" if faultcode.endswith(":Server") else "refused:") + code, message


def _head(request: SpooledRequest) -> Head:
    """The Header's wsse:Security block, if any, and the Body's operation element's name, read
    up to the start of that element only."""
    request.file.seek(0)
    security = None
    try:
        for event, el in etree.iterparse(request.file, events=("start", "end"), resolve_entities=False,
                                         no_network=True, load_dtd=False, huge_tree=False):
            in_header = el.getparent() is not None and el.getparent().tag == soap.HEADER
            if event == "end" and el.tag == soap.WSSE_SECURITY and security is None and in_header:
                security = el
            elif event == "start" and (parent := el.getparent()) is not None and parent.tag == soap.BODY:
                return Head(security, el.tag)
    except etree.XMLSyntaxError:
        pass  # the streaming parse reports it with its position
    finally:
        request.file.seek(0)
    return Head(security, None)


def fault_envelope(err: GovshareError) -> etree._Element:
    """The Fault of ``err``, its code and message also in an ``ExchangeFault`` detail, with the
    Chinese message for people (``userMessage``)."""
    detail = etree.Element("{%s}ExchangeFault" % EXCHANGE_NS, nsmap={"ex": EXCHANGE_NS})
    etree.SubElement(detail, "{%s}code" % EXCHANGE_NS).text = err.code
    etree.SubElement(detail, "{%s}message" % EXCHANGE_NS).text = err.message
    etree.SubElement(detail, "{%s}userMessage" % EXCHANGE_NS).text = err.user_message
    return soap.fault(err.fault_code, f"{err.code}: {err.message}", detail)


def _respond(start_response, status: str, body: bytes, content_type: str = "text/xml; charset=utf-8"):
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]
