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
