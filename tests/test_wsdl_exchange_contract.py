"""The exchange contract as served - /exchange?wsdl and every schema it reaches by xsd:import
or xsd:include - is one that client generators take as it is.

Generators (wsimport, Axis 1.4's WSDL2Java, svcutil) make a class for every global type in that
closure and, in the wrapped document/literal style, a method parameter for every field of an
operation's request and response. So the closure holds only what the operations use, and no
operation names a response field like a request field.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
WSDL = "http://schemas.xmlsoap.org/wsdl/"
XS = "http://www.w3.org/2001/XMLSchema"
NS = {"wsdl": WSDL, "xs": XS}
#: the symbol space of each kind of global schema component (simple and complex types share one)
SPACES = {"element": "element", "complexType": "type", "simpleType": "type", "attribute": "attribute",
          "group": "group", "attributeGroup": "attributeGroup"}
#: the attributes whose value names another component, and the symbol space it is named in
REFERENCES = {"type": "type", "base": "type", "itemType": "type", "memberTypes": "type",
              "substitutionGroup": "element"}

Component = tuple[str, str]  # (symbol space, Clark name)


def _parse(url: str) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.fromstring(requests.get(url, timeout=10).content, parser, base_url=url)


def _closure(wsdl: etree._Element) -> list[etree._Element]:
    """The WSDL's own schemas and every schema they import or include, fetched as a client would."""
    schemas, seen = [], set()
    todo = deque(wsdl.iterfind("wsdl:types/xs:schema", NS))
    while todo:
        schema = todo.popleft()
        schemas.append(schema)
        for ref in schema.xpath("xs:import | xs:include", namespaces=NS):
            url = urljoin(schema.base, ref.get("schemaLocation"))
            if url not in seen:
                seen.add(url)
                todo.append(_parse(url))
    return schemas


def _name(node: etree._Element, qname: str) -> str:
    prefix, _, local = qname.rpartition(":")
    return f"{{{node.nsmap.get(prefix or None, '')}}}{local}"


def _references(node: etree._Element) -> set[Component]:
    """The global components ``node`` and its descendants name, XSD's built-in types left out."""
    found = set()
    for el in node.iter(etree.Element):
        for attribute, space in REFERENCES.items():
            found |= {(space, _name(el, q)) for q in (el.get(attribute) or "").split()}
        if el.get("ref"):
            found.add((SPACES[etree.QName(el).localname], _name(el, el.get("ref"))))
    return {(space, name) for space, name in found if not name.startswith(f"{{{XS}}}")}


def _parts(wsdl: etree._Element) -> dict[str, str]:
    """Message (Clark name) -> the element of its one part."""
    tns = wsdl.get("targetNamespace")
    return {f"{{{tns}}}{m.get('name')}": _name(p, p.get("element"))
            for m in wsdl.iterfind("wsdl:message", NS) for p in m.iterfind("wsdl:part", NS)}


def _operation_elements(wsdl: etree._Element, direction: str) -> dict[str, str]:
    """Operation name -> the Clark name of its ``input`` or ``output`` wrapper element."""
    parts = _parts(wsdl)
    return {op.get("name"): parts[_name(op, op.find(f"wsdl:{direction}", NS).get("message"))]
            for op in wsdl.iterfind("wsdl:portType/wsdl:operation", NS)}


@pytest.fixture
def contract(live_server) -> tuple[etree._Element, dict[Component, etree._Element]]:
    """The served WSDL and the global components of its schema closure."""
    wsdl = _parse(f"{live_server.url}/exchange?wsdl")
    components = {}
    for schema in _closure(wsdl):
        tns = schema.get("targetNamespace")
        for node in schema:
            if isinstance(node.tag, str) and etree.QName(node).localname in SPACES:
                components[(SPACES[etree.QName(node).localname], f"{{{tns}}}{node.get('name')}")] = node
    return wsdl, components


def test_every_type_in_the_exchange_schema_closure_is_used_by_an_operation(contract):
    wsdl, components = contract
    parts = _parts(wsdl)
    roots = {("element", parts[_name(m, m.get("message"))])  # inputs, outputs and faults
             for m in wsdl.xpath("wsdl:portType/wsdl:operation/*[@message]", namespaces=NS)}
    reached, todo = set(), deque(roots)
    while todo:
        component = todo.popleft()
        if component not in reached:
            reached.add(component)
            assert component in components, f"{component} is named but not defined in the closure"
            todo.extend(_references(components[component]))
    assert sorted(set(components) - reached) == []


def test_no_exchange_operation_names_a_response_field_like_a_request_field(contract):
    wsdl, components = contract

    def fields(element: str) -> set[str]:
        sequence = components[("element", element)].find("xs:complexType/xs:sequence", NS)
        return {el.get("name") or etree.QName(_name(el, el.get("ref"))).localname
                for el in sequence.iterfind("xs:element", NS)}

    requests_, responses = _operation_elements(wsdl, "input"), _operation_elements(wsdl, "output")
    shared = {op: fields(requests_[op]) & fields(responses[op]) for op in requests_}
    assert shared == {op: set() for op in requests_}


@pytest.mark.parametrize(("name", "copies"), [
    ("CreditCode", ("xsd/common.xsd", "xsd/batch.xsd", "wsdl/exchange.wsdl")),
    ("ResourceCode", ("xsd/batch.xsd", "wsdl/exchange.wsdl")),
])
def test_the_exchange_contracts_own_copies_of_a_code_type_keep_one_pattern(name, copies):
    patterns = {path: etree.parse(str(ROOT / path)).xpath(
        f"//xs:simpleType[@name='{name}']/xs:restriction/xs:pattern/@value", namespaces=NS) for path in copies}
    assert len({tuple(p) for p in patterns.values()}) == 1 and all(patterns.values()), patterns
