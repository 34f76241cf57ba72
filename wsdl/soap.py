"""SOAP 1.1 envelopes as the platform's transports read and write them (the UDDI APIs' and the
exchange's), WS-I Basic Profile 1.1::

    <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
      <soap:Header> blocks; one marked soap:mustUnderstand="1" that the endpoint does not
                    process is a MustUnderstand fault </soap:Header>
      <soap:Body> the operation element, or a soap:Fault </soap:Body>
    </soap:Envelope>

    <soap:Fault>
      <faultcode>soap:Client</faultcode>          (soap:Server, soap:VersionMismatch,
                                                    soap:MustUnderstand, wsse:FailedCheck, ...)
      <faultstring>what went wrong and what to do</faultstring>
      <detail> the API's own: a UDDI dispositionReport, an exchange ExchangeFault </detail>
    </soap:Fault>

A SOAP 1.2 envelope is a VersionMismatch fault (SOAP 1.1 section 4.4.1).
"""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from registry.errors import SoapFault

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV_NS = "http://www.w3.org/2003/05/soap-envelope"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
ENV = "{%s}" % SOAP_ENV_NS
HEADER, BODY = ENV + "Header", ENV + "Body"
WSSE_SECURITY = "{%s}Security" % WSSE_NS


def check_envelope(root: etree._Element) -> None:
    """Refuse anything but a SOAP 1.1 Envelope."""
    if root.tag == "{%s}Envelope" % SOAP12_ENV_NS:
        raise SoapFault("VersionMismatch", "this endpoint speaks SOAP 1.1; the Envelope is SOAP 1.2")
    if root.tag != ENV + "Envelope":
        raise SoapFault("VersionMismatch", f"expected a SOAP 1.1 Envelope, got {root.tag}")


def check_headers(header: etree._Element, understood: frozenset[str] = frozenset()) -> None:
    """Refuse a header block marked mustUnderstand that is not among ``understood``."""
    for block in header:
        if not isinstance(block.tag, str) or block.tag in understood:
            continue
        if block.get(ENV + "mustUnderstand") in ("1", "true"):
            raise SoapFault("MustUnderstand", f"header {block.tag} is marked mustUnderstand and this endpoint "
                            "does not process it")


def envelope(payload: etree._Element | None = None) -> etree._Element:
    """An Envelope whose Body holds ``payload``."""
    env = etree.Element(ENV + "Envelope", nsmap={"soap": SOAP_ENV_NS})
    body = etree.SubElement(env, BODY)
    if payload is not None:
        body.append(payload)
    return env


def fault(faultcode: str, faultstring: str, detail: etree._Element | None = None) -> etree._Element:
    """An Envelope holding a Fault; ``faultcode`` is ``Client``, ``Server``, ... or ``wsse:...``
    (WS-Security faults are QNames in the wsse namespace, declared here)."""
    nsmap = {"soap": SOAP_ENV_NS}
    code = faultcode if ":" in faultcode else f"soap:{faultcode}"
    if code.startswith("wsse:"):
        nsmap["wsse"] = WSSE_NS
    env = etree.Element(ENV + "Envelope", nsmap=nsmap)
    element = etree.SubElement(etree.SubElement(env, BODY), ENV + "Fault")
    etree.SubElement(element, "faultcode").text = code
    etree.SubElement(element, "faultstring").text = faultstring
    if detail is not None:
        etree.SubElement(element, "detail").append(detail)
    return env


def serialise(env: etree._Element, sign: Callable[[etree._Element], etree._Element] | None = None) -> bytes:
    """The bytes sent: the Envelope, signed by ``sign`` when it answers a signed request."""
    if sign is not None:
        env = sign(env)
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")
