"""WSDL validation (D3): what is refused, and that each refusal says what and where."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import zeep

from wsdl.validation import FetchError, InvalidWsdl, QName, fetch_url, validate_wsdl

CONTRACTS = Path(__file__).resolve().parent.parent / "wsdl" / "contracts"
TNS = "http://govshare.local/interfaces/echo"

# A minimal valid WS-I BP document/literal WSDL; tests break one thing at a time.
ECHO = """<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions name="Echo" targetNamespace="http://govshare.local/interfaces/echo"
    xmlns:tns="http://govshare.local/interfaces/echo"
    xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <wsdl:types>
    <xsd:schema targetNamespace="http://govshare.local/interfaces/echo" elementFormDefault="qualified">
      <xsd:element name="Echo"><xsd:complexType><xsd:sequence>
        <xsd:element name="text" type="xsd:string" minOccurs="1" nillable="false"/>
      </xsd:sequence></xsd:complexType></xsd:element>
      <xsd:element name="EchoResponse"><xsd:complexType><xsd:sequence>
        <xsd:element name="text" type="xsd:string" minOccurs="1" nillable="false"/>
      </xsd:sequence></xsd:complexType></xsd:element>
    </xsd:schema>
  </wsdl:types>
  <wsdl:message name="EchoRequest"><wsdl:part name="parameters" element="tns:Echo"/></wsdl:message>
  <wsdl:message name="EchoResponse"><wsdl:part name="parameters" element="tns:EchoResponse"/></wsdl:message>
  <wsdl:portType name="EchoPortType">
    <wsdl:operation name="Echo">
      <wsdl:input message="tns:EchoRequest"/>
      <wsdl:output message="tns:EchoResponse"/>
    </wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="EchoBinding" type="tns:EchoPortType">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="Echo">
      <soap:operation soapAction="urn:echo"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="EchoService">
    <wsdl:port name="EchoPort" binding="tns:EchoBinding">
      <soap:address location="http://127.0.0.1:8080/services/echo"/>
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"""


def echo(*replacements: tuple[str, str]) -> bytes:
    text = ECHO
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text.encode()


def problems_of(content: bytes, **kwargs) -> list:
    with pytest.raises(InvalidWsdl) as caught:
        validate_wsdl(content, **kwargs)
    return caught.value.problems


def line_of(content: bytes, fragment: str) -> int:
    text = content.decode()
    return text[: text.index(fragment)].count("\n") + 1


# --------------------------------------------------------------------------- valid documents


@pytest.mark.parametrize("name", ["population-query", "legal-entity-query", "macro-economy-query", "spatial-query"])
def test_sample_contract_is_valid(name):
    info = validate_wsdl((CONTRACTS / f"{name}.wsdl").read_bytes())
    assert info.target_namespace.startswith("http://govshare.local/interfaces/")
    assert len(info.port_types) == len(info.bindings) == len(info.services) == 1


@pytest.mark.parametrize("name", ["population-query", "legal-entity-query", "macro-economy-query", "spatial-query"])
def test_sample_contract_loads_in_zeep_with_required_fields(name):
    client = zeep.Client(str(CONTRACTS / f"{name}.wsdl"))
    service = next(iter(client.wsdl.services.values()))
    port = next(iter(service.ports.values()))
    for operation in port.binding._operations.values():
        request = operation.input.body.type
        purpose = dict(request.elements)["purpose"]
        assert purpose.min_occurs == 1 and not purpose.nillable


def test_valid_wsdl_is_described():
    info = validate_wsdl(echo())
    assert info.target_namespace == TNS
    [port_type] = info.port_types
    assert port_type.name == QName(TNS, "EchoPortType")
    assert port_type.operations == ("Echo",)
    [binding] = info.bindings
    assert binding.name == QName(TNS, "EchoBinding")
    assert binding.port_type == QName(TNS, "EchoPortType")
    assert binding.protocol == "http://schemas.xmlsoap.org/wsdl/soap/"
    assert binding.transport == "http://schemas.xmlsoap.org/soap/http"
    assert binding.style == "document"
    [service] = info.services
    assert service.name == QName(TNS, "EchoService")
    [port] = service.ports
    assert (port.name, port.binding, port.location) == (
        "EchoPort", QName(TNS, "EchoBinding"), "http://127.0.0.1:8080/services/echo")


def test_soap_body_without_use_counts_as_literal():
    validate_wsdl(echo(('<wsdl:input><soap:body use="literal"/>', "<wsdl:input><soap:body/>")))


# --------------------------------------------------------------------------- XML level


def test_malformed_xml_is_refused_with_its_line():
    content = echo(("<wsdl:portType name=\"EchoPortType\">", "<wsdl:portType name=\"EchoPortType\" <oops>"))
    [problem] = problems_of(content)
    assert "not well-formed XML" in problem.message
    assert problem.line == line_of(content, "<oops>")


def test_dtd_is_refused():
    content = b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x "boom">]>\n' + echo().split(b"\n", 1)[1]
    [problem] = problems_of(content)
    assert "DTD" in problem.message
    assert problem.line == 2


def test_external_entity_is_never_resolved():
    content = (b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
               + echo(("<wsdl:types>", "<wsdl:documentation>&x;</wsdl:documentation><wsdl:types>")).split(b"\n", 1)[1])
    [problem] = problems_of(content)
    assert "DTD" in problem.message
    assert "root:" not in str(problem)


def test_document_that_is_not_wsdl_is_refused():
    [problem] = problems_of(b'<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema"/>')
    assert "not wsdl:definitions" in problem.message


# --------------------------------------------------------------------------- document/literal, SOAP 1.1


def test_rpc_binding_style_is_refused():
    content = echo(('<soap:binding style="document"', '<soap:binding style="rpc"'))
    [problem] = problems_of(content)
    assert 'style="rpc"' in problem.message and "document/literal" in problem.message
    assert problem.line == line_of(content, '<soap:binding style="rpc"')
    assert problem.where == "/wsdl:definitions[@name='Echo']/wsdl:binding[@name='EchoBinding']/soap:binding"


def test_rpc_operation_style_is_refused():
    content = echo(('<soap:operation soapAction="urn:echo"/>', '<soap:operation soapAction="urn:echo" style="rpc"/>'))
    [problem] = problems_of(content)
    assert "operation 'Echo'" in problem.message and 'style="rpc"' in problem.message


def test_encoded_body_is_refused():
    content = echo(('<wsdl:input><soap:body use="literal"/>',
                    '<wsdl:input><soap:body use="encoded" '
                    'encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"/>'))
    found = problems_of(content)
    assert any('use="encoded"' in p.message for p in found)
    assert any("encodingStyle" in p.message for p in found)
    assert {p.where for p in found} == {
        "/wsdl:definitions[@name='Echo']/wsdl:binding[@name='EchoBinding']/wsdl:operation[@name='Echo']/wsdl:input/soap:body"}


def test_part_with_type_is_refused():
    content = echo(('<wsdl:part name="parameters" element="tns:Echo"/>', '<wsdl:part name="text" type="xsd:string"/>'))
    [problem] = problems_of(content)
    assert "part 'text'" in problem.message and "element=" in problem.message and "R2204" in problem.message
    assert problem.where == "/wsdl:definitions[@name='Echo']/wsdl:message[@name='EchoRequest']/wsdl:part[@name='text']"


def test_soap12_binding_is_refused():
    content = echo(
        ('xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"',
         'xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/"'),
        ('<soap:binding style="document"', '<soap12:binding style="document"'),
    )
    found = problems_of(content)
    assert any("SOAP 1.2 element soap12:binding" in p.message for p in found)
    assert any("has no soap:binding" in p.message for p in found)


def test_soap12_namespace_declaration_alone_is_refused():
    content = echo(('xmlns:xsd="http://www.w3.org/2001/XMLSchema"',
                    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:env="http://www.w3.org/2003/05/soap-envelope"'))
    [problem] = problems_of(content)
    assert "http://www.w3.org/2003/05/soap-envelope" in problem.message
    assert problem.where == "/wsdl:definitions[@name='Echo']"


def test_non_http_transport_is_refused():
    content = echo(('transport="http://schemas.xmlsoap.org/soap/http"', 'transport="http://example.org/jms"'))
    [problem] = problems_of(content)
    assert "http://example.org/jms" in problem.message


def test_port_without_address_is_refused():
    content = echo(('<soap:address location="http://127.0.0.1:8080/services/echo"/>', ""))
    [problem] = problems_of(content)
    assert "port 'EchoPort' has no soap:address" in problem.message


# --------------------------------------------------------------------------- schema and references


def test_binding_to_unknown_port_type_is_refused_at_the_binding():
    content = echo(('type="tns:EchoPortType"', 'type="tns:NoSuchPortType"'))
    found = problems_of(content)
    assert len(found) == 1
    [problem] = found
    assert "{http://govshare.local/interfaces/echo}NoSuchPortType" in problem.message
    assert problem.line == line_of(content, "tns:NoSuchPortType")
    assert problem.where == "/wsdl:definitions[@name='Echo']/wsdl:binding[@name='EchoBinding']"


def test_part_naming_unknown_element_is_refused():
    content = echo(('element="tns:EchoResponse"', 'element="tns:Missing"'))
    [problem] = problems_of(content)
    assert "{http://govshare.local/interfaces/echo}Missing" in problem.message
    assert problem.line == line_of(content, "tns:Missing")


def test_wsdl_schema_violation_is_refused_with_its_line():
    content = echo(('<wsdl:message name="EchoRequest">', '<wsdl:message>'))
    found = problems_of(content)
    assert any("name" in p.message and p.line == line_of(content, "<wsdl:message>") for p in found)


# --------------------------------------------------------------------------- imports


TYPES_XSD = b"""<?xml version="1.0" encoding="UTF-8"?>
<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" targetNamespace="http://govshare.local/types/echo"
    elementFormDefault="qualified">
  <xsd:element name="Echo" type="xsd:string"/>
</xsd:schema>
"""


def with_imported_types() -> bytes:
    return echo(
        ('xmlns:tns="http://govshare.local/interfaces/echo"',
         'xmlns:tns="http://govshare.local/interfaces/echo" xmlns:t="http://govshare.local/types/echo"'),
        ('<xsd:schema targetNamespace="http://govshare.local/interfaces/echo" elementFormDefault="qualified">',
         '<xsd:schema targetNamespace="http://govshare.local/interfaces/echo" elementFormDefault="qualified">\n'
         '      <xsd:import namespace="http://govshare.local/types/echo" schemaLocation="types/echo.xsd"/>'),
        ('element="tns:Echo"', 'element="t:Echo"'),
    )


def test_relative_import_is_fetched_against_the_base_url():
    fetched = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return TYPES_XSD

    validate_wsdl(with_imported_types(), base_url="http://dept.example/ws/echo.wsdl", fetch=fetch)
    assert fetched == ["http://dept.example/ws/types/echo.xsd"]


def test_unresolvable_import_names_its_location():
    def fetch(url: str) -> bytes:
        raise FetchError(f"GET {url} answered HTTP 404")

    content = with_imported_types()
    [problem] = problems_of(content, base_url="http://dept.example/ws/echo.wsdl", fetch=fetch)
    assert "'types/echo.xsd'" in problem.message and "HTTP 404" in problem.message
    assert problem.line == line_of(content, "types/echo.xsd")


def test_relative_import_without_base_url_is_refused():
    [problem] = problems_of(with_imported_types(), fetch=lambda url: TYPES_XSD)
    assert "'types/echo.xsd' is relative" in problem.message


def test_imported_document_with_dtd_is_refused():
    def fetch(url: str) -> bytes:
        return b'<!DOCTYPE x [<!ENTITY a "aaaa">]>\n' + TYPES_XSD.split(b"\n", 1)[1]

    [problem] = problems_of(with_imported_types(), base_url="http://dept.example/ws/echo.wsdl", fetch=fetch)
    assert "DTD" in problem.message
    assert problem.document == "http://dept.example/ws/types/echo.xsd"


def test_wsdl_import_supplies_the_port_type():
    abstract = echo(('<wsdl:binding name="EchoBinding"', '<!--'), ('</wsdl:service>', '</wsdl:service>-->'))
    concrete = b"""<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions targetNamespace="http://govshare.local/deploy/echo"
    xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:e="http://govshare.local/interfaces/echo" xmlns:tns="http://govshare.local/deploy/echo">
  <wsdl:import namespace="http://govshare.local/interfaces/echo" location="echo-abstract.wsdl"/>
  <wsdl:binding name="EchoBinding" type="e:EchoPortType">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="Echo">
      <soap:operation soapAction="urn:echo"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="EchoService">
    <wsdl:port name="EchoPort" binding="tns:EchoBinding">
      <soap:address location="http://127.0.0.1:8080/services/echo"/>
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"""
    info = validate_wsdl(concrete, base_url="http://dept.example/ws/echo.wsdl", fetch=lambda url: abstract)
    [binding] = info.bindings
    assert binding.port_type == QName(TNS, "EchoPortType")
    assert [str(p.name) for p in info.port_types] == [f"{{{TNS}}}EchoPortType"]


# --------------------------------------------------------------------------- fetch_url


@pytest.fixture
def http_files():
    files: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield files, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_fetch_url_reads_a_document(http_files):
    files, base = http_files
    files["/echo.wsdl"] = echo()
    assert fetch_url(f"{base}/echo.wsdl", 1_000_000) == echo()


def test_fetch_url_refuses_a_document_over_the_limit(http_files):
    files, base = http_files
    files["/big.wsdl"] = b"x" * 5000
    with pytest.raises(FetchError, match="more than the 1000 bytes"):
        fetch_url(f"{base}/big.wsdl", 1000)


def test_fetch_url_reports_http_errors(http_files):
    _files, base = http_files
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch_url(f"{base}/missing.wsdl", 1000)


def test_fetch_url_refuses_other_schemes():
    with pytest.raises(FetchError, match="only http and https"):
        fetch_url("file:///etc/passwd", 1000)
