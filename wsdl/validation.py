"""Validation of a WSDL 1.1 document before the repository stores it (D3).

A document passes when any WS-I Basic Profile SOAP 1.1 toolkit can consume it::

    <wsdl:binding name="PopulationQueryBinding" type="tns:PopulationQueryPortType">
      <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
      <wsdl:operation name="QueryPerson">
        <soap:operation soapAction="http://govshare.local/interfaces/population/QueryPerson"/>
        <wsdl:input><soap:body use="literal"/></wsdl:input>
        <wsdl:output><soap:body use="literal"/></wsdl:output>
      </wsdl:operation>
    </wsdl:binding>

Checks, each reported with what is wrong and where (document, line, element path):

- well-formed XML, parsed with no DTD, no entity and no network access;
- every ``wsdl:import`` / ``xsd:import`` / ``xsd:include`` location resolvable: relative
  locations are resolved against ``base_url`` and every document is read through the
  caller's ``fetch`` -- nothing else ever touches the network;
- the WSDL 1.1 schema and every reference (message, portType, binding, schema
  element) -- ``xmlschema.extras.wsdl.Wsdl11Document`` in lax mode;
- document/literal only: no ``style="rpc"``, no ``use="encoded"``, no ``encodingStyle``;
  message parts use ``element=`` (WS-I BP R2204), never ``type=``;
- SOAP 1.1 over HTTP: every binding has ``soap:binding`` with the HTTP transport, every
  port of a binding a ``soap:address``, and no SOAP 1.2 namespace anywhere (gSOAP and
  others switch to SOAP 1.2 when they see one).
"""

from __future__ import annotations

import email.message
import io
import re
import urllib.error
import urllib.request
import urllib.response
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urljoin, urlsplit

import requests
import xmlschema
from lxml import etree
from xmlschema.extras.wsdl import Wsdl11Document
from xmlschema.locations import SCHEMAS_DIR
from xmlschema.utils.urls import normalize_url

from trust.xml import safe_parser

from .oasis import W3C_SCHEMAS

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
SOAP11_BINDING_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
SOAP12_BINDING_NS = "http://schemas.xmlsoap.org/wsdl/soap12/"
SOAP12_ENVELOPE_NS = "http://www.w3.org/2003/05/soap-envelope"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
HTTP_TRANSPORT = "http://schemas.xmlsoap.org/soap/http"

_SOAP12 = (SOAP12_BINDING_NS, SOAP12_ENVELOPE_NS)
_W = f"{{{WSDL_NS}}}"
_S = f"{{{SOAP11_BINDING_NS}}}"
_X = f"{{{XSD_NS}}}"

# A document uploaded without a URL still needs one for xmlschema to open it by; the
# .invalid top-level domain (RFC 2606) can never be fetched from.
_UPLOADED = "http://uploaded.invalid/document.wsdl"
_MAX_DOCUMENTS = 50  # a WSDL and everything it imports, transitively


@dataclass(frozen=True)
class WsdlProblem:
    """One reason a WSDL is refused: what is wrong, and where."""

    message: str
    line: int | None = None
    where: str = ""  # element path or QName
    document: str = ""  # URL of an imported document; "" for the document itself

    def __str__(self) -> str:
        place = [p for p in (self.document, f"line {self.line}" if self.line else "", self.where) if p]
        return f"{', '.join(place)}: {self.message}" if place else self.message


class InvalidWsdl(ValueError):
    """The WSDL was refused; ``problems`` lists every reason found."""

    def __init__(self, problems: list[WsdlProblem]):
        self.problems = problems
        listed = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid WSDL ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n{listed}")


class FetchError(OSError):
    """A document could not be fetched from its URL."""


class QName(NamedTuple):
    """A qualified name; ``str()`` gives Clark notation, ``{namespace}localname``."""

    namespace: str
    localname: str

    @classmethod
    def from_clark(cls, clark: str) -> QName:
        namespace, _, local = clark[1:].partition("}") if clark.startswith("{") else ("", "", clark)
        return cls(namespace, local)

    def __str__(self) -> str:
        return f"{{{self.namespace}}}{self.localname}" if self.namespace else self.localname


@dataclass(frozen=True)
class PortTypeInfo:
    name: QName
    operations: tuple[str, ...]


@dataclass(frozen=True)
class BindingInfo:
    name: QName
    port_type: QName
    protocol: str  # namespace of the binding extension: SOAP11_BINDING_NS
    transport: str  # soap:binding/@transport
    style: str  # document


@dataclass(frozen=True)
class PortInfo:
    name: str
    binding: QName
    location: str  # soap:address/@location


@dataclass(frozen=True)
class ServiceInfo:
    name: QName
    ports: tuple[PortInfo, ...]


@dataclass(frozen=True)
class WsdlInfo:
    """What a valid WSDL describes, imported documents included."""

    target_namespace: str
    port_types: tuple[PortTypeInfo, ...]
    bindings: tuple[BindingInfo, ...]
    services: tuple[ServiceInfo, ...]


Fetch = Callable[[str], bytes]


def validate_wsdl(content: bytes, *, base_url: str | None = None, fetch: Fetch | None = None) -> WsdlInfo:
    """Describe the WSDL in ``content``, or raise InvalidWsdl listing every problem found.

    ``base_url`` is the URL the document was read from (relative import locations are
    resolved against it); ``fetch`` reads an imported document's bytes from its URL.
    """
    main_url = base_url or _UPLOADED
    docs, raw, problems = _load_all(content, main_url, has_base=base_url is not None, fetch=fetch)
    if main_url not in docs:
        raise InvalidWsdl(problems)
    wsdl_docs = {url: root for url, root in docs.items() if root.tag == f"{_W}definitions"}
    if main_url not in wsdl_docs:
        problems.append(WsdlProblem(
            f"the root element is {_pretty_tag(docs[main_url])}, not wsdl:definitions "
            f"(namespace {WSDL_NS})", docs[main_url].sourceline, _path(docs[main_url])))
        raise InvalidWsdl(problems)
    for url, root in wsdl_docs.items():
        document = "" if url == main_url else url
        problems.extend(_check_soap11_document_literal(root, document))
    info = None
    if not problems:  # references can only be checked once every import is in hand
        info, schema_problems = _check_schema_and_references(docs, raw, main_url)
        problems.extend(schema_problems)
    if problems or info is None:
        raise InvalidWsdl(problems)
    return info


def fetch_url(url: str, max_bytes: int, *, timeout: float = 10.0) -> bytes:
    """The body of ``url`` (http or https), refused beyond ``max_bytes``; raises FetchError."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise FetchError(f"only http and https URLs are fetched, not {url}")
    try:
        with requests.get(url, stream=True, timeout=timeout) as response:
            if response.status_code != 200:
                raise FetchError(f"GET {url} answered HTTP {response.status_code}")
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"{url} is {declared} bytes, more than the {max_bytes} allowed")
            body = bytearray()
            for chunk in response.iter_content(64 * 1024):
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise FetchError(f"{url} is more than the {max_bytes} bytes allowed")
            return bytes(body)
    except requests.RequestException as exc:
        raise FetchError(f"GET {url} failed: {exc.__class__.__name__}: {exc}") from exc


def utf8_text(content: bytes) -> str:
    """A well-formed document as text whose XML declaration, if any, says UTF-8
    (legacy systems send GBK; xmlschema's expat and our HTTP answers want UTF-8)."""
    tree = etree.parse(io.BytesIO(content), safe_parser())
    if (tree.docinfo.encoding or "UTF-8").upper() in ("UTF-8", "UTF8"):
        return content.decode("utf-8-sig")
    return etree.tostring(tree, encoding="UTF-8", xml_declaration=True).decode("utf-8")


# --------------------------------------------------------------------------- loading


def _parse(content: bytes, document: str) -> tuple[etree._Element | None, list[WsdlProblem]]:
    try:
        tree = etree.parse(io.BytesIO(content), safe_parser())
    except etree.XMLSyntaxError as exc:
        return None, [WsdlProblem(f"not well-formed XML: {exc.msg}", exc.lineno, document=document)]
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        line = content[: content.find(b"<!DOCTYPE")].count(b"\n") + 1 if b"<!DOCTYPE" in content else None
        return None, [WsdlProblem(
            "a DTD (<!DOCTYPE ...>) is present: DTDs and entity declarations are refused "
            "(WS-I BP R1008, and a defence against XXE and entity expansion)", line, document=document)]
    return tree.getroot(), []


def _load_all(
    content: bytes, main_url: str, *, has_base: bool, fetch: Fetch | None
) -> tuple[dict[str, etree._Element], dict[str, bytes], list[WsdlProblem]]:
    """The document and everything it imports, by URL: parsed safely, and as read."""
    root, problems = _parse(content, "")
    if root is None:
        return {}, {}, problems
    docs: dict[str, etree._Element] = {main_url: root}
    raw = {main_url: content}
    pending = [main_url]
    while pending:
        url = pending.pop(0)
        document = "" if url == main_url else url
        for el, location in _import_locations(docs[url]):
            where = dict(line=el.sourceline, where=_path(el), document=document)
            if urlsplit(location).scheme:
                target = location
            elif url != main_url or has_base:
                target = urljoin(url, location)
            else:
                problems.append(WsdlProblem(
                    f"import location '{location}' is relative and the document has no base URL to resolve "
                    "it against: publish it from its URL, or make the location absolute", **where))
                continue
            if target in docs or target in W3C_SCHEMAS:
                continue
            if fetch is None:
                problems.append(WsdlProblem(f"import location '{location}' cannot be resolved: "
                                            "imported documents are not fetched for this publication", **where))
                continue
            if len(docs) >= _MAX_DOCUMENTS:
                problems.append(WsdlProblem(f"import location '{location}' not followed: more than "
                                            f"{_MAX_DOCUMENTS} documents are imported", **where))
                continue
            try:
                data = fetch(target)
            except Exception as exc:  # noqa: BLE001 - whatever fetch raises, the import is unresolvable
                problems.append(WsdlProblem(f"import location '{location}' is unresolvable: {exc}", **where))
                continue
            imported, parse_problems = _parse(data, target)
            problems.extend(parse_problems)
            if imported is not None:
                docs[target] = imported
                raw[target] = data
                pending.append(target)
    return docs, raw, problems


def _import_locations(root: etree._Element) -> list[tuple[etree._Element, str]]:
    found = []
    if root.tag == f"{_W}definitions":
        found += [(el, el.get("location", "")) for el in root.iterfind(f"{_W}import")]
        schemas = root.iterfind(f"{_W}types/{_X}schema")
    else:
        schemas = [root] if root.tag == f"{_X}schema" else []
    for schema in schemas:
        for tag in ("import", "include", "redefine"):
            found += [(el, el.get("schemaLocation", "")) for el in schema.iterfind(f"{_X}{tag}")]
    return [(el, loc.strip()) for el, loc in found if loc.strip()]


# --------------------------------------------------------------------------- our own rules


def _check_soap11_document_literal(root: etree._Element, document: str) -> list[WsdlProblem]:
    problems: list[WsdlProblem] = []

    def report(message: str, el: etree._Element) -> None:
        problems.append(WsdlProblem(message, el.sourceline, _path(el), document))

    soap12_elements = [el for el in root.iter(etree.Element) if etree.QName(el).namespace in _SOAP12]
    for el in soap12_elements:
        report(f"SOAP 1.2 element {_pretty_tag(el)} ({etree.QName(el).namespace}): only SOAP 1.1 bindings "
               "are published, and toolkits switch to SOAP 1.2 when they see it", el)
    if not soap12_elements:
        for el in root.iter(etree.Element):
            parent_ns = set(el.getparent().nsmap.values()) if el.getparent() is not None else set()
            for ns in set(el.nsmap.values()) - parent_ns:
                if ns in _SOAP12:
                    report(f"declares the SOAP 1.2 namespace {ns}: a SOAP 1.1 WSDL must not mention it "
                           "(toolkits such as gSOAP then send SOAP 1.2)", el)

    for part in root.iterfind(f"{_W}message/{_W}part"):
        if part.get("type") is not None:
            report(f"part '{part.get('name')}' uses type=\"{part.get('type')}\": document/literal parts must "
                   "name a schema element with element= (WS-I BP R2204)", part)

    for binding in root.iterfind(f"{_W}binding"):
        soap_binding = binding.find(f"{_S}binding")
        if soap_binding is None:
            report(f"binding '{binding.get('name')}' has no soap:binding ({SOAP11_BINDING_NS}): only SOAP 1.1 "
                   "over HTTP bindings are accepted", binding)
        else:
            if soap_binding.get("transport") != HTTP_TRANSPORT:
                report(f"soap:binding transport is '{soap_binding.get('transport', '')}', expected "
                       f"{HTTP_TRANSPORT}", soap_binding)
            if soap_binding.get("style", "document") != "document":
                report(f"binding '{binding.get('name')}' has style=\"{soap_binding.get('style')}\": only "
                       "document/literal is accepted (WS-I BP)", soap_binding)
        for op in binding.iterfind(f"{_W}operation/{_S}operation"):
            if op.get("style", "document") != "document":
                report(f"operation '{op.getparent().get('name')}' has style=\"{op.get('style')}\": only "
                       "document/literal is accepted (WS-I BP)", op)
        for el in binding.iter(f"{_S}body", f"{_S}header", f"{_S}headerfault", f"{_S}fault"):
            # WS-I BP R2707: a missing use means literal
            if el.get("use", "literal") != "literal":
                report(f"{_pretty_tag(el)} has use=\"{el.get('use')}\": only use=\"literal\" is accepted "
                       "(WS-I BP R2706)", el)
            if el.get("encodingStyle") is not None:
                report(f"{_pretty_tag(el)} has encodingStyle: SOAP encoding is not allowed (WS-I BP R1005)", el)

    soap_bindings = {b.get("name") for b in root.iterfind(f"{_W}binding") if b.find(f"{_S}binding") is not None}
    for port in root.iterfind(f"{_W}service/{_W}port"):
        binding_local = (port.get("binding") or "").rpartition(":")[2]
        if binding_local in soap_bindings and port.find(f"{_S}address") is None:
            report(f"port '{port.get('name')}' has no soap:address location", port)
    return problems


# --------------------------------------------------------------------------- xmlschema


class _Wsdl11(Wsdl11Document):
    """Wsdl11Document whose imported WSDL documents are opened the way the importing
    one was: upstream does not pass ``opener`` on, so an imported WSDL would be read
    straight from the network."""

    def import_namespace(self, namespace, location, base_url=None):
        if namespace == self.target_namespace or namespace in self.maps.imports:
            return super().import_namespace(namespace, location, base_url)
        document = self.__class__(
            source=normalize_url(location, base_url or self.base_url or self.url),
            maps=self.maps,
            namespaces=self._init_namespaces,
            validation=self._validation,
            opener=self.opener,
            defuse="never",  # every document was parsed with the safe parser already
        )
        if document.target_namespace != namespace:
            self.parse_error(f"imported {document.url!r} has the namespace {document.target_namespace!r}, "
                             f"not {namespace!r}")
        self.maps.imports[namespace] = document
        return document


class _FetchedOnly(urllib.request.BaseHandler):
    """Opens only documents already fetched (and xmlschema's own bundled schemas)."""

    def __init__(self, documents: dict[str, bytes]):
        self.documents = documents

    def default_open(self, req):
        url = req.full_url
        data = self.documents.get(url)
        if data is None and url.startswith(SCHEMAS_DIR.as_uri() + "/"):
            with open(urllib.request.url2pathname(urlsplit(url).path), "rb") as f:
                data = f.read()
        if data is None:
            raise urllib.error.URLError(f"{url} was not among the fetched documents")
        return urllib.response.addinfourl(io.BytesIO(data), email.message.Message(), url, 200)


def _check_schema_and_references(
    docs: dict[str, etree._Element], raw: dict[str, bytes], main_url: str
) -> tuple[WsdlInfo | None, list[WsdlProblem]]:
    documents = {url: utf8_text(data).encode("utf-8") for url, data in raw.items()}
    documents.update({url: path.read_bytes() for url, (path, _name) in W3C_SCHEMAS.items()})
    opener = urllib.request.OpenerDirector()
    opener.add_handler(_FetchedOnly(documents))
    problems: list[WsdlProblem] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            wsdl = _Wsdl11(main_url, opener=opener, validation="lax", defuse="never")
        except (xmlschema.XMLSchemaException, SyntaxError, OSError) as exc:
            problems.append(_from_xmlschema(exc, docs, main_url))
            wsdl = None
    problems.extend(_from_xmlschema(w.message, docs, main_url) for w in caught
                    if isinstance(w.message, xmlschema.XMLSchemaException))
    if wsdl is None:
        return None, problems
    for document in [wsdl, *(d for d in wsdl.maps.imports.values() if d is not None)]:
        for error in document.errors:
            if str(error).startswith("missing soap:binding element"):
                continue  # our own check says the same, with the element's line
            problem = _from_xmlschema(error, docs, main_url, document.url)
            # One schema problem per element: identity constraints repeat a missing
            # attribute in less readable words.
            if not any((p.where, p.line, p.document) == (problem.where, problem.line, problem.document)
                       for p in problems):
                problems.append(problem)
    if problems:
        return None, problems
    return _describe(wsdl), []


_CLARK = re.compile(r"'\{([^}]*)\}([^']+)'")


def _from_xmlschema(error, docs: dict[str, etree._Element], main_url: str, url: str | None = None) -> WsdlProblem:
    """A problem from an xmlschema error, located in the document when xmlschema did not."""
    def doc_name(u: str | None) -> str:
        return "" if u in (None, main_url) else u

    reason = getattr(error, "reason", None)
    path = getattr(error, "path", None)
    if reason and path:
        el = _element_at(docs.get(url or main_url), path)
        if el is None:
            return WsdlProblem(reason, None, path, doc_name(url))
        return WsdlProblem(reason, el.sourceline, _path(el), doc_name(url))
    message = str(error).replace(_UPLOADED, "the uploaded document")
    # A reference error names the missing QName; point at the element that uses it.
    for ns, local in _CLARK.findall(str(error)):
        for doc_url, root in docs.items():
            for el in root.iter(etree.Element):
                for attr in ("type", "binding", "message", "element"):
                    value = el.get(attr)
                    if value and _resolve(el, value) == (ns, local):
                        return WsdlProblem(message, el.sourceline, _path(el), doc_name(doc_url))
    return WsdlProblem(message, document=doc_name(url))


_STEP = re.compile(r"/(?:\{([^}]*)\}|[\w.-]+:)?([^/\[{:]+)(?:\[(\d+)\])?")


def _element_at(root: etree._Element | None, path: str) -> etree._Element | None:
    """The element at an xmlschema error path (``/wsdl:definitions/wsdl:message[2]``,
    steps prefixed, in Clark notation or bare), so that the problem can give its line."""
    steps = _STEP.findall(path)
    if root is None or not steps or etree.QName(root).localname != steps[0][1]:
        return None
    el = root
    for ns, local, index in steps[1:]:
        same = [c for c in el.iterchildren(etree.Element) if etree.QName(c).localname == local
                and (not ns or etree.QName(c).namespace == ns)]
        position = int(index or 1) - 1
        if position >= len(same):
            return None
        el = same[position]
    return el


def _resolve(el: etree._Element, prefixed: str) -> tuple[str, str]:
    prefix, _, local = prefixed.rpartition(":")
    return el.nsmap.get(prefix or None, ""), local


def _describe(wsdl: Wsdl11Document) -> WsdlInfo:
    qname = QName.from_clark
    port_types = tuple(
        PortTypeInfo(qname(name), tuple(dict.fromkeys(key[0] for key in pt.operations)))
        for name, pt in wsdl.maps.port_types.items()
    )
    bindings = tuple(
        BindingInfo(qname(name), qname(b.port_type.name), SOAP11_BINDING_NS, b.soap_transport or "",
                    b.soap_style or "document")
        for name, b in wsdl.maps.bindings.items()
    )
    services = tuple(
        ServiceInfo(qname(name), tuple(
            PortInfo(port_name, qname(port.binding.name), port.soap_location or "")
            for port_name, port in service.ports.items()
        ))
        for name, service in wsdl.maps.services.items()
    )
    return WsdlInfo(wsdl.target_namespace, port_types, bindings, services)


# --------------------------------------------------------------------------- where


def _pretty_tag(el: etree._Element) -> str:
    qname = etree.QName(el)
    return f"{el.prefix}:{qname.localname}" if el.prefix else qname.localname


def _path(el: etree._Element | None) -> str:
    """``/wsdl:definitions/wsdl:binding[@name='B']/soap:binding`` -- readable, and names the element."""
    steps = []
    while el is not None and isinstance(el.tag, str):
        step = _pretty_tag(el)
        if el.get("name") is not None:
            step += f"[@name='{el.get('name')}']"
        steps.append(step)
        el = el.getparent()
    return "/" + "/".join(reversed(steps))
