"""A guard around Spyne WSGI applications for one known trap.

Spyne answers HTTP 200 with an empty ``<soap:Body/>`` when a response fails to
serialise (DESIGN.md, known traps).  Legacy clients then see "no result" instead of an
error.  The guard buffers each POST response and turns such an empty success into a
SOAP 1.1 Server fault with HTTP 500.
"""

from __future__ import annotations

import logging

from lxml import etree

from .oasis import safe_parser

log = logging.getLogger(__name__)

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"

EMPTY_RESPONSE_FAULT = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soap:Envelope xmlns:soap="{SOAP_ENV_NS}"><soap:Body><soap:Fault>'
    "<faultcode>soap:Server</faultcode>"
    "<faultstring>the service produced no response for this request (it could not be serialised); "
    "the error has been logged</faultstring>"
    "</soap:Fault></soap:Body></soap:Envelope>"
).encode()


def empty_body(payload: bytes) -> bool:
    """True when ``payload`` is a SOAP Envelope whose Body holds no element."""
    try:
        root = etree.fromstring(payload, safe_parser())
    except etree.XMLSyntaxError:
        return False
    body = root.find("{%s}Body" % SOAP_ENV_NS)
    return body is not None and not any(isinstance(child.tag, str) for child in body)


class SpyneGuard:
    """WSGI middleware: an empty 200 SOAP response becomes a Server fault."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        captured: dict = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        chunks = self.app(environ, capture)
        try:
            payload = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        status, headers = captured["status"], captured["headers"]
        if status.startswith("200") and empty_body(payload):
            log.error("Spyne returned an empty Body for %s; answering with a fault", environ.get("PATH_INFO"))
            status, payload = "500 Internal Server Error", EMPTY_RESPONSE_FAULT
            headers = [("Content-Type", "text/xml; charset=utf-8")]
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(payload))))
        start_response(status, headers)
        return [payload]
