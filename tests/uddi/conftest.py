"""Fixtures for the UDDI tests: publishers and zeep clients built from the OASIS WSDL."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import requests
import zeep
from stdnum.cn import uscc
from zeep.transports import Transport

from directory.accounts import create_user, register_department
from registry.db import unit_of_work
from wsdl.oasis import BINDING_WSDL, W3C_SCHEMAS

BINDING = "{urn:uddi-org:api_v3_binding}UDDI_%s_SoapBinding"
PASSWORD = "Secret-123"


def credit_code(body: str) -> str:
    """A valid 统一社会信用代码 from its first 17 characters."""
    return body + uscc.calc_check_digit(body)


@dataclass
class Publisher:
    username: str
    department_code: str
    business_key: str
    partition: str


@pytest.fixture
def make_publisher(sessions, settings):
    def make(code: str, name: str, body17: str, roles=("provider",)) -> Publisher:
        with unit_of_work(sessions) as session:
            dept = register_department(session, settings, code=code, name=name, credit_code=credit_code(body17))
            create_user(session, username=f"{code}-publisher", password=PASSWORD, department=dept, roles=roles)
            return Publisher(f"{code}-publisher", code, dept.business_key, f"uddi:{code}.{settings.node_domain}")

    return make


@pytest.fixture
def gaj(make_publisher) -> Publisher:
    return make_publisher("gaj", "市公安局", "11330100MB1234567")


@pytest.fixture
def mzj(make_publisher) -> Publisher:
    return make_publisher("mzj", "市民政局", "11330100MB2345678")


class OfflineTransport(Transport):
    """Serves the two W3C schemas that uddi_v3.xsd imports from local copies."""

    def load(self, url):
        local = W3C_SCHEMAS.get(url)
        if local is not None:
            return local[0].read_bytes()
        return super().load(url)


@pytest.fixture(scope="session")
def oasis_client() -> zeep.Client:
    """A zeep client built from the unchanged OASIS uddi_api_v3_binding.wsdl."""
    transport = OfflineTransport(session=requests.Session(), timeout=10, operation_timeout=30)
    return zeep.Client(str(BINDING_WSDL), transport=transport, settings=zeep.Settings(forbid_entities=False))


@dataclass
class Uddi:
    inquiry: object
    publication: object
    security: object
    client: zeep.Client

    def token(self, username: str, password: str = PASSWORD) -> str:
        return self.security.get_authToken(userID=username, cred=password)  # zeep unwraps authToken/authInfo


@pytest.fixture
def uddi(oasis_client, live_server) -> Uddi:
    return Uddi(
        inquiry=oasis_client.create_service(BINDING % "Inquiry", f"{live_server.url}/uddi/inquiry"),
        publication=oasis_client.create_service(BINDING % "Publication", f"{live_server.url}/uddi/publication"),
        security=oasis_client.create_service(BINDING % "Security", f"{live_server.url}/uddi/security"),
        client=oasis_client,
    )


SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
UDDI_NS = "urn:uddi-org:api_v3"
NS = {"soap": SOAP_ENV, "u": UDDI_NS}


@dataclass
class SoapReply:
    status: int
    root: object  # lxml element of the Envelope

    @property
    def payload(self):
        return self.root.find(f"{{{SOAP_ENV}}}Body")[0]

    @property
    def err_code(self) -> str | None:
        info = self.root.find(".//u:dispositionReport/u:result/u:errInfo", NS)
        return None if info is None else info.get("errCode")

    @property
    def errno(self) -> str | None:
        result = self.root.find(".//u:dispositionReport/u:result", NS)
        return None if result is None else result.get("errno")

    @property
    def fault_string(self) -> str:
        return self.root.findtext(".//faultstring") or ""


@pytest.fixture
def post(live_server):
    """POST a raw SOAP 1.1 message to a UDDI endpoint; the inner XML goes in the Body."""
    from lxml import etree

    def send(api: str, inner: str, *, envelope: str | None = None, token: str | None = None) -> SoapReply:
        if token is not None:
            inner = inner.replace("AUTH", f"<authInfo>{token}</authInfo>")
        data = envelope if envelope is not None else (
            f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>{inner}</soap:Body></soap:Envelope>'
        )
        r = requests.post(f"{live_server.url}/uddi/{api}", data=data.encode(),
                          headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}, timeout=30)
        return SoapReply(r.status_code, etree.fromstring(r.content))

    return send


@pytest.fixture
def token(post):
    def get(username: str, password: str = PASSWORD) -> str:
        reply = post("security", f'<get_authToken xmlns="{UDDI_NS}" userID="{username}" cred="{password}"/>')
        return reply.payload.findtext("u:authInfo", namespaces=NS)

    return get
