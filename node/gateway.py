"""The node's local gateway: plain SOAP 1.1 on the department's network for legacy systems that
cannot sign, as X-Road's security server serves its local clients.

    legacy system ──unsigned──▶ gateway ──signed (the system's key)──▶ centre /exchange
                  ◀──answer──── (answer verified: the platform's own signature, fresh, over the Body)

- ``GET`` of any path (``/exchange?wsdl``, ``/uddi/inquiry?wsdl``, ``/xsd/…``, ``/wsdl/…``) is the
  centre's document with the centre's address replaced by the gateway's, so a client generated
  from it calls the gateway and fetches the schemas through it;
- ``POST /exchange`` is taken from a configured local system only (known by the address it calls
  from), signed with that system's key and certificate, sent on, and the centre's answer - its
  signature checked as :class:`client.wss.PlatformSignature` checks it - handed back without the
  Security header; an answer that fails the check is a fault, never passed on;
- ``POST /uddi/inquiry`` goes through as it is (the directory asks no signature);
- ``/services/<name>`` is the other direction: the centre's calls of the department's own service
  (逻辑集中), taken from the centre's addresses only and passed on to the service inside the
  department's network; its ``?wsdl`` comes back with the gateway's address, so the department
  publishes that one and the centre never reaches into the department's network itself.

Every exchange through the gateway is recorded in the node's store (``gateway_log``): the system,
the operation, the sizes, the outcome and the time taken.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from lxml import etree
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from client.wss import PlatformSignature, ResponseNotTrusted

from .store import gateway_log, now

log = logging.getLogger(__name__)
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
#: what a request may be: the exchange's largest batches fit
MAX_REQUEST = 256 * 1024 * 1024


@dataclass(frozen=True)
class LocalSystem:
    """A legacy system the gateway signs for: its code, where it calls from, its key and certificate."""

    code: str
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    key: Path
    cert: Path

    def calls_from(self, address: str) -> bool:
        return _within(address, self.networks)


@dataclass(frozen=True)
class Service:
    """A department's service the centre calls through the gateway: ``/services/<name>`` -> ``target``."""

    name: str
    target: str
    callers: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    def called_by(self, address: str) -> bool:
        return _within(address, self.callers)


class Gateway:
    """The WSGI application of the gateway, in front of the centre at ``centre``."""

    def __init__(self, centre: str, ca: Path, systems: tuple[LocalSystem, ...], engine: Engine | None = None,
                 timeout: float = 120, services: tuple[Service, ...] = ()):
        self.centre, self.systems, self.engine, self.timeout = centre.rstrip("/"), systems, engine, timeout
        self.services = {s.name: s for s in services}
        ca_pem = ca.read_bytes()
        self.signers = {s.code: PlatformSignature(str(s.key), str(s.cert), ca_pem=ca_pem) for s in systems}
        self.http = requests.Session()

    def __call__(self, environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        if path.startswith("/services/"):
            return self._service(environ, method, path, query, start_response)
        if method == "GET":
            return self._document(environ, path, query, start_response)
        if method == "POST" and path == "/exchange":
            return self._exchange(environ, start_response)
        if method == "POST" and path == "/uddi/inquiry":
            return self._inquiry(environ, start_response)
        return _reply(start_response, "404 Not Found", _fault("soap:Client", f"the gateway serves /exchange and "
                                                              f"/uddi/inquiry, not {method} {path}"))

    def _here(self, environ) -> str:
        return f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST') or environ['SERVER_NAME']}"

    def _document(self, environ, path: str, query: str, start_response):
        try:
            answer = self.http.get(f"{self.centre}{path}" + (f"?{query}" if query else ""), timeout=self.timeout)
        except requests.RequestException as exc:
            return _reply(start_response, "502 Bad Gateway", f"the centre cannot be reached: {exc}".encode(),
                          "text/plain; charset=utf-8")
        body = answer.content.replace(self.centre.encode(), self._here(environ).encode())
        return _reply(start_response, f"{answer.status_code} {answer.reason}", body,
                      answer.headers.get("Content-Type", "text/xml"))

    def _service(self, environ, method: str, path: str, query: str, start_response):
        """The centre's call of a department's own service (逻辑集中), passed on as it is; the
        service's documents (``?wsdl``) with its address replaced by the gateway's."""
        started, address = time.monotonic(), environ.get("REMOTE_ADDR", "")
        name, _, rest = path.removeprefix("/services/").partition("/")
        service = self.services.get(name)
        operation = f"service {name}"
        if service is None:
            relayed = ", ".join(sorted(self.services)) or "(none)"
            return _reply(start_response, "404 Not Found", _fault(
                "soap:Client", f"NotFound: this gateway relays the services {relayed}, not {name!r}"))
        if not service.called_by(address):
            self._record("centre", operation, 0, 0, f"refused: caller {address}", started)
            return _reply(start_response, "500 Internal Server Error", _fault(
                "soap:Client", f"NotPermitted: the service {name} is relayed for the centre only, not for {address}"))
        here = f"{self._here(environ)}/services/{name}"
        target = service.target.rstrip("/")
        url = f"{target}/{rest}" if rest else service.target
        data = _body(environ) if method == "POST" else None
        try:
            answer = self.http.request(method, url + (f"?{query}" if query else ""), data=data, timeout=self.timeout,
                                       headers={k: v for k, v in (
                                           ("Content-Type", environ.get("CONTENT_TYPE")),
                                           ("SOAPAction", environ.get("HTTP_SOAPACTION"))) if v})
        except requests.RequestException as exc:
            self._record("centre", operation, len(data or b""), 0, f"unavailable: {type(exc).__name__}", started)
            return _reply(start_response, "500 Internal Server Error", _fault(
                "soap:Server", f"Unavailable: the department's service {name} cannot be reached at the node "
                f"({type(exc).__name__})"))
        body = answer.content
        if method == "GET":
            body = body.replace(target.encode(), here.encode())
        self._record("centre", operation + (f" {environ.get('HTTP_SOAPACTION', '').strip(chr(34))}" if data else ""),
                     len(data or b""), len(body), "ok" if answer.status_code == 200 else f"HTTP {answer.status_code}",
                     started)
        return _reply(start_response, f"{answer.status_code} {answer.reason}", body,
                      answer.headers.get("Content-Type", "text/xml; charset=utf-8"))

    def _inquiry(self, environ, start_response):
        data = _body(environ)
        try:
            answer = self.http.post(f"{self.centre}/uddi/inquiry", data=data, timeout=self.timeout, headers={
                "Content-Type": environ.get("CONTENT_TYPE", "text/xml; charset=utf-8"),
                "SOAPAction": environ.get("HTTP_SOAPACTION", '""')})
        except requests.RequestException as exc:
            return _reply(start_response, "500 Internal Server Error",
                          _fault("soap:Server", f"Unavailable: the centre cannot be reached ({type(exc).__name__})"))
        return _reply(start_response, f"{answer.status_code} {answer.reason}", answer.content,
                      answer.headers.get("Content-Type", "text/xml; charset=utf-8"))

    def _exchange(self, environ, start_response):
        started, address = time.monotonic(), environ.get("REMOTE_ADDR", "")
        system = next((s for s in self.systems if s.calls_from(address)), None)
        if system is None:
            self._record(None, "", 0, 0, "refused: unknown caller", started)
            return _reply(start_response, "500 Internal Server Error", _fault(
                "soap:Client", f"NotPermitted: this gateway signs for its configured systems only, and none calls "
                f"from {address}; ask the node's operator to add yours"))
        data = _body(environ)
        try:
            envelope = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True,
                                                              huge_tree=True))
            body = envelope.find(f"{{{SOAP_ENV}}}Body")
            operation = etree.QName(body[0]).localname if body is not None and len(body) else ""
            if not operation:
                raise ValueError("no soap:Envelope/soap:Body with an operation in it")
        except (etree.XMLSyntaxError, ValueError) as exc:
            self._record(system.code, "", len(data), 0, "refused: not SOAP", started)
            return _reply(start_response, "500 Internal Server Error",
                          _fault("soap:Client", f"InvalidRequest: not a SOAP 1.1 request ({exc})"))
        if envelope.find(f"{{{SOAP_ENV}}}Header/{{{WSSE}}}Security") is not None:
            self._record(system.code, operation, len(data), 0, "refused: already signed", started)
            return _reply(start_response, "500 Internal Server Error", _fault(
                "soap:Client", "InvalidRequest: the request carries a wsse:Security header; a system that signs "
                "calls the centre itself"))
        signer = self.signers[system.code]
        signer.apply(envelope, {})
        try:
            answer = self.http.post(f"{self.centre}/exchange", data=etree.tostring(envelope), timeout=self.timeout,
                                    headers={"Content-Type": "text/xml; charset=utf-8",
                                             "SOAPAction": environ.get("HTTP_SOAPACTION", '""')})
        except requests.RequestException as exc:
            self._record(system.code, operation, len(data), 0, f"unavailable: {type(exc).__name__}", started)
            return _reply(start_response, "500 Internal Server Error",
                          _fault("soap:Server", f"Unavailable: the centre cannot be reached ({type(exc).__name__}); "
                                 "try again later"))
        try:
            reply = etree.fromstring(answer.content)
            signer.verify(reply)
        except (etree.XMLSyntaxError, ResponseNotTrusted) as exc:
            reason = getattr(exc, "message", str(exc))
            self._record(system.code, operation, len(data), len(answer.content), f"untrusted: {reason}", started)
            log.error("an answer to %s for %s failed the check: %s", operation, system.code, reason)
            return _reply(start_response, "500 Internal Server Error", _fault(
                "soap:Server", f"ResponseNotTrusted: the centre's answer failed the gateway's check ({reason})"))
        header = reply.find(f"{{{SOAP_ENV}}}Header")
        if header is not None:
            for security in header.findall(f"{{{WSSE}}}Security"):
                header.remove(security)
        out = etree.tostring(reply, xml_declaration=True, encoding="UTF-8")
        outcome = "fault" if reply.find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault") is not None else "ok"
        self._record(system.code, operation, len(data), len(out), outcome, started)
        return _reply(start_response, f"{answer.status_code} {answer.reason}", out)

    def _record(self, system: str | None, operation: str, size_in: int, size_out: int, outcome: str,
                started: float) -> None:
        if self.engine is None:
            return
        with self.engine.begin() as conn:
            conn.execute(insert(gateway_log).values(at=now(), system=system, operation=operation, request_size=size_in,
                                                    response_size=size_out, outcome=outcome[:200],
                                                    milliseconds=round((time.monotonic() - started) * 1000)))


def _within(address: str, networks: tuple) -> bool:
    """Whether ``address`` (REMOTE_ADDR) is in one of ``networks``."""
    try:
        found = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(found in network for network in networks)


def _body(environ) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > MAX_REQUEST:
        raise ValueError(f"a request of {length} bytes is over the gateway's {MAX_REQUEST}")
    return environ["wsgi.input"].read(length) if length else b""


def _fault(code: str, text: str) -> bytes:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    fault = etree.SubElement(etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body"), f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = code
    etree.SubElement(fault, "faultstring").text = text
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _reply(start_response, status: str, body: bytes, content_type: str = "text/xml; charset=utf-8"):
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]
