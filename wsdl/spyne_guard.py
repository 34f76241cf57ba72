"""A guard around Spyne WSGI applications for two known traps.

1. Spyne answers HTTP 200 with an Envelope that has no Body, or an empty one, when a
   response fails to serialise (DESIGN.md, known traps).  Legacy clients then see "no
   result" instead of an error.  The guard buffers each POST response and turns such
   an empty success into a SOAP 1.1 Server fault with HTTP 500.
2. Spyne's WSDL declares the SOAP 1.2 namespaces even for a SOAP 1.1 service; some
   toolkits (gSOAP) then speak SOAP 1.2.  The guard removes those unused declarations
   from the ``?wsdl`` document.
"""

from __future__ import annotations

import logging

from lxml import etree

from trust.xml import safe_parser

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


SOAP12_NAMESPACES = {
    "http://schemas.xmlsoap.org/wsdl/soap12/",
    "http://www.w3.org/2003/05/soap-envelope",
    "http://www.w3.org/2003/05/soap-encoding",
}


def empty_body(payload: bytes) -> bool:
    """True when ``payload`` is a SOAP Envelope without a Body or with an empty one."""
    try:
        root = etree.fromstring(payload, safe_parser())
    except etree.XMLSyntaxError:
        return False
    if root.tag != "{%s}Envelope" % SOAP_ENV_NS:
        return False
    body = root.find("{%s}Body" % SOAP_ENV_NS)
    return body is None or not any(isinstance(child.tag, str) for child in body)


def without_soap12(wsdl: bytes) -> bytes:
    """The WSDL with its unused SOAP 1.2 namespace declarations removed."""
    root = etree.fromstring(wsdl, safe_parser())
    used = {p for el in root.iter(etree.Element) for p, ns in el.nsmap.items() if ns not in SOAP12_NAMESPACES}
    etree.cleanup_namespaces(root, keep_ns_prefixes=sorted(p for p in used if p))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


class SpyneGuard:
    """WSGI middleware: an empty 200 SOAP response becomes a Server fault."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        is_wsdl = method == "GET" and environ.get("QUERY_STRING", "").lower().startswith("wsdl")
        if method != "POST" and not is_wsdl:
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
        if is_wsdl and status.startswith("200"):
            payload = without_soap12(payload)
        elif status.startswith("200") and empty_body(payload):
            log.error("Spyne returned an empty Body for %s; answering with a fault", environ.get("PATH_INFO"))
            status, payload = "500 Internal Server Error", EMPTY_RESPONSE_FAULT
            headers = [("Content-Type", "text/xml; charset=utf-8")]
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(payload))))
        start_response(status, headers)
        return [payload]
