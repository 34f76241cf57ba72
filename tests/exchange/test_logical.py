"""Logical centralisation (逻辑集中, E7): a query forwarded live to the provider's own service.

临江市公安局's household registry (adapters/demo_services.py) runs on its own port; a logical
resource whose bindingTemplate points at it is queried through ``forward_query``.  The second
half specifies the department service itself.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from datetime import date, datetime
from pathlib import Path

import pytest
import requests
import stdnum.cn.uscc
import zeep
from lxml import etree
from stdnum.cn import ric

from adapters.demo_services import PQ_NS, check_digit, contract_wsdl, household_service_app, seed_people
from directory import wsdl_publishing
from directory.accounts import create_user, find_user, register_department
from exchange import output
from exchange.logical import forward_query, provider_endpoint
from governance.sharing import grant
from registry.db import unit_of_work
from registry.errors import ExchangeError
from registry.models import CatalogueEntry, Department
from tests.conftest import LiveServer, as_user, free_port
from tests.exchange.conftest import catalogued
from wsdl.validation import validate_wsdl
from xsd.registry import POPULATION_NS, lookup

CONTRACTS = Path(__file__).resolve().parent.parent.parent / "wsdl" / "contracts"
PERSON = lookup("{%s}Person" % POPULATION_NS)
PQ = "{%s}" % PQ_NS
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP = "{%s}" % SOAP_NS
UNKNOWN_ID = "11010120000101001" + check_digit("11010120000101001")  # valid, born in Beijing: not registered


def credit_code(n: int) -> str:
    body = f"113301000{n:08d}"
    return body + stdnum.cn.uscc.calc_check_digit(body)


@pytest.fixture
def people(tmp_path) -> list[dict]:
    return seed_people(tmp_path / "hjgl.db", n=50, seed=7)


@pytest.fixture
def household(tmp_path, people):
    """临江市公安局's household registry over real HTTP."""
    server = LiveServer(household_service_app(tmp_path / "hjgl.db"), free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def city(sessions, settings):
    """The provider (公安局, with a cataloguer), a consumer department (民政局) and a reviewer."""
    with unit_of_work(sessions) as s:
        police = register_department(s, settings, code="gaj", name="临江市公安局", credit_code=credit_code(2))
        register_department(s, settings, code="mzj", name="临江市民政局", credit_code=credit_code(3))
        create_user(s, username="gaj", password="pw", department=police, roles=("cataloguer",))
        create_user(s, username="reviewer", password="pw", department=None, roles=("reviewer",))
    return sessions


def publish_logical(sessions, settings, slug: str, wsdl: bytes, name: str = "户籍登记信息") -> str:
    """Publish a logical resource of 公安局 described by ``wsdl``; returns its resource code."""
    path = f"gaj/{slug}.wsdl"
    wsdl_publishing.publish(as_user(sessions, settings, "gaj"), path=path, content=wsdl, map_services=False)
    with unit_of_work(sessions) as s:
        cataloguer, reviewer = find_user(s, "gaj"), find_user(s, "reviewer")
        code = catalogued(s, settings, cataloguer, reviewer, {
            "classification": "101001002", "name": name, "provider_unit": "人口管理支队",
            "abstract": "本市户籍人口登记信息, 由公安局户籍管理系统实时提供。", "format_class": "接口",
            "format_type": "WebService", "items": [{"name": "公民身份号码", "data_type": "C", "length": 18}],
            "sharing_type": "有条件共享", "sharing_condition": "仅限依法履职使用", "sharing_method": "接口",
            "open_to_public": False, "update_cycle": "实时", "wsdl_path": path, "logical": True,
        })
    # 有条件共享: 民政局 reads it by a grant that shows ID numbers unmasked (S3: tests/security)
    grant(as_user(sessions, settings, "gaj"), resource_code=code, consumer_code="mzj", clear=["idNumber"])
    return code


def forward(sessions, settings, code: str, keys: list[str], fields: frozenset[str] | None = None):
    with sessions() as s:
        entry = s.query(CatalogueEntry).filter_by(resource_code=code).one()
        requester = s.query(Department).filter_by(code="mzj").one()
        view = dataclasses.replace(output.read_view(s, requester, entry), fields=fields)
        return forward_query(s, settings, view, keys)


@pytest.fixture
def registry_code(city, settings, household) -> str:
    """户籍登记信息, logical, answered by the running household registry (its own ?wsdl published)."""
    wsdl = requests.get(f"{household.url}/?wsdl", timeout=5).content
    return publish_logical(city, settings, "household-registration", wsdl)


def refusal(call) -> ExchangeError:
    with pytest.raises(ExchangeError) as caught:
        call()
    return caught.value


# --------------------------------------------------------------------------- forwarding


def test_the_provider_is_found_at_its_binding_templates_access_point(city, settings, household, registry_code):
    with city() as s:
        entry = s.query(CatalogueEntry).filter_by(resource_code=registry_code).one()
        assert provider_endpoint(s, entry) == f"{household.url}/"


def test_a_known_id_number_returns_the_providers_record_as_a_standard_person(city, settings, registry_code, people):
    person = next(p for p in people if not p["deceased"] and p["educationLevel"])
    [record] = forward(city, settings, registry_code, [person["idNumber"]])
    assert (record.sequence, record.key, record.record_type) == (None, person["idNumber"], PERSON.qname)
    assert PERSON.schema.validate(PERSON.encode(record.fields)), PERSON.schema.error_log
    fields = record.fields
    assert fields["idNumber"] == person["idNumber"]
    assert fields["name"] == person["name"]
    assert fields["birthDate"] == date.fromisoformat(person["birthDate"])
    assert fields["domicileAddress"] == person["domicileAddress"]
    assert fields["education"] == person["educationLevel"]
    assert fields["status"] == "正常"
    assert fields["updated"] == datetime.fromisoformat(person["updated"])


def test_a_deceased_person_has_the_status_死亡(city, settings, registry_code, people):
    person = next(p for p in people if p["deceased"])
    [record] = forward(city, settings, registry_code, [person["idNumber"]])
    assert record.fields["status"] == "死亡"


def test_an_unknown_id_number_returns_no_records(city, settings, registry_code):
    assert forward(city, settings, registry_code, [UNKNOWN_ID]) == []


def test_several_keys_return_the_found_records_in_key_order(city, settings, registry_code, people):
    keys = [people[3]["idNumber"], UNKNOWN_ID, people[1]["idNumber"], people[3]["idNumber"]]
    records = forward(city, settings, registry_code, keys)
    assert [r.fields["idNumber"] for r in records] == [people[3]["idNumber"], people[1]["idNumber"]]


def test_the_requesters_view_shapes_the_forwarded_record(city, settings, registry_code, people):
    [record] = forward(city, settings, registry_code, [people[0]["idNumber"]], fields=frozenset({"idNumber", "name"}))
    assert list(record.fields) == ["idNumber", "name"]


def test_a_query_without_keys_is_refused(city, settings, registry_code):
    error = refusal(lambda: forward(city, settings, registry_code, []))
    assert (error.code, error.fault_code) == ("InvalidRequest", "Client")
    assert error.message.startswith("a logical resource is queried by key: ")


def test_a_key_with_a_wrong_check_digit_is_refused_before_forwarding(city, settings, registry_code, people):
    good = people[0]["idNumber"]
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    error = refusal(lambda: forward(city, settings, registry_code, [wrong]))
    assert (error.code, error.fault_code) == ("InvalidRequest", "Client")
    assert f"check digit should be {good[17]}" in error.message


def test_a_provider_that_is_down_is_unavailable(city, settings):
    address = f"http://127.0.0.1:{free_port()}/"
    code = publish_logical(city, settings, "household-registration", contract_wsdl(address))
    started = time.monotonic()
    error = refusal(lambda: forward(city, settings, code, [UNKNOWN_ID]))
    assert time.monotonic() - started < settings.provider_timeout + 2
    assert (error.code, error.fault_code) == ("ProviderUnavailable", "Server")
    assert error.message == f"临江市公安局's service at {address} could not be reached: Connection refused"


def test_a_provider_that_does_not_answer_is_given_up_after_the_timeout(city, settings):
    silent = socket.socket()  # accepts connections (the kernel's backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    address = f"http://127.0.0.1:{silent.getsockname()[1]}/"
    code = publish_logical(city, settings, "household-registration", contract_wsdl(address))
    impatient = dataclasses.replace(settings, provider_timeout=1.0)
    started = time.monotonic()
    try:
        error = refusal(lambda: forward(city, impatient, code, [UNKNOWN_ID]))
    finally:
        silent.close()
    assert 1.0 <= time.monotonic() - started < 1.0 + 2
    assert (error.code, error.fault_code) == ("ProviderUnavailable", "Server")
    assert error.message == f"临江市公安局's service at {address} did not answer within 1 s"


def test_a_provider_fault_is_reported_with_its_faultstring(city, settings, tmp_path):
    broken = LiveServer(household_service_app(tmp_path / "no-such.db"), free_port()).start()
    try:
        wsdl = requests.get(f"{broken.url}/?wsdl", timeout=5).content
        code = publish_logical(city, settings, "household-registration", wsdl)
        error = refusal(lambda: forward(city, settings, code, [UNKNOWN_ID]))
    finally:
        broken.stop()
    assert (error.code, error.fault_code) == ("ProviderUnavailable", "Server")
    assert error.message.startswith(f"临江市公安局's service at {broken.url}/ answered with a SOAP Fault "
                                    "(soap:Server): 户籍数据库不可用: ")


def test_a_resource_of_another_contract_is_not_forwarded_yet(city, settings):
    wsdl = (CONTRACTS / "legal-entity-query.wsdl").read_bytes()
    code = publish_logical(city, settings, "legal-entities", wsdl, name="单位户籍信息")
    error = refusal(lambda: forward(city, settings, code, ["91330100MA27XXXX0X"]))
    assert (error.code, error.fault_code) == ("InvalidRequest", "Client")
    assert error.message.startswith("logical forwarding of http://govshare.local/interfaces/legal-entity resources "
                                    "is not supported yet")


# --------------------------------------------------------------------------- the department service


def soap(url: str, body: bytes | str) -> requests.Response:
    return requests.post(url, data=body.encode() if isinstance(body, str) else body, timeout=5,
                         headers={"Content-Type": "text/xml; charset=utf-8",
                                  "SOAPAction": '"http://govshare.local/interfaces/population/QueryPerson"'})


def query_person(id_number: str, extra: str = "", purpose: str = "<pq:purpose>测试查询</pq:purpose>") -> str:
    return (f'<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body><pq:QueryPerson xmlns:pq="{PQ_NS}">'
            f"<pq:idNumber>{id_number}</pq:idNumber>{extra}{purpose}</pq:QueryPerson></soap:Body></soap:Envelope>")


def payload(reply: requests.Response) -> etree._Element:
    return etree.fromstring(reply.content).find(SOAP + "Body")[0]


def fault(reply: requests.Response) -> tuple[int, str, str]:
    """HTTP status, faultcode and the ServiceFault code of a fault reply."""
    el = payload(reply)
    assert el.tag == SOAP + "Fault"
    return reply.status_code, el.findtext("faultcode"), el.findtext(f"detail/{PQ}ServiceFault/{PQ}code")


def test_seeded_people_are_the_same_for_the_same_seed_with_valid_id_numbers(tmp_path):
    people = seed_people(tmp_path / "a.db", n=200, seed=11)
    assert people == seed_people(tmp_path / "b.db", n=200, seed=11)
    assert len({p["idNumber"] for p in people}) == 200
    # strict: stdnum also wants the address code in force in the birth year
    assert all(ric.is_valid(p["idNumber"]) for p in people)


def test_the_service_serves_the_contract_at_its_own_address(household):
    reply = requests.get(f"{household.url}/?wsdl", timeout=5)
    info = validate_wsdl(reply.content)
    assert [port.location for service in info.services for port in service.ports] == [f"{household.url}/"]


def test_query_person_returns_a_registered_person(household, people):
    response = payload(soap(f"{household.url}/", query_person(people[0]["idNumber"])))
    assert response.tag == PQ + "QueryPersonResponse"
    assert response.findtext(PQ + "found") == "true"
    assert response.findtext(f"{PQ}person/{PQ}name") == people[0]["name"]


def test_query_person_reports_an_unknown_person_as_not_found(household):
    response = payload(soap(f"{household.url}/", query_person(UNKNOWN_ID)))
    assert response.findtext(PQ + "found") == "false"
    assert response.find(PQ + "person") is None


def test_query_person_compares_a_given_name(household, people):
    asked = query_person(people[0]["idNumber"], extra="<pq:name>不是此人</pq:name>")
    assert payload(soap(f"{household.url}/", asked)).findtext(PQ + "nameMatches") == "false"


def test_a_soap_toolkit_calls_the_service_from_its_wsdl(household, people):
    client = zeep.Client(f"{household.url}/?wsdl")
    answer = client.service.QueryPerson(idNumber=people[0]["idNumber"], purpose="测试查询")
    assert answer.found is True
    assert answer.person.idNumber == people[0]["idNumber"]


def test_malformed_xml_is_a_client_fault(household):
    assert fault(soap(f"{household.url}/", "<soap:Envelope")) == (500, "soap:Client", "MalformedRequest")


def test_a_dtd_is_a_client_fault(household):
    body = '<!DOCTYPE x [<!ENTITY e "boom">]>' + query_person(UNKNOWN_ID).replace("测试查询", "&e;")
    assert fault(soap(f"{household.url}/", body)) == (500, "soap:Client", "MalformedRequest")


def test_a_request_breaking_the_contract_is_a_client_fault(household):
    assert fault(soap(f"{household.url}/", query_person(UNKNOWN_ID, purpose=""))) == (
        500, "soap:Client", "InvalidRequest")


def test_an_id_number_with_a_wrong_check_digit_is_a_client_fault(household):
    wrong = UNKNOWN_ID[:17] + ("0" if check_digit(UNKNOWN_ID[:17]) != "0" else "1")
    reply = soap(f"{household.url}/", query_person(wrong))
    assert fault(reply) == (500, "soap:Client", "InvalidIdNumber")
    assert payload(reply).findtext("faultstring") == f"公民身份号码 {wrong} 校验位错误 (应为 {UNKNOWN_ID[17]})"


def test_an_unknown_operation_is_a_client_fault(household):
    body = query_person(UNKNOWN_ID).replace("QueryPerson", "DeletePerson")
    assert fault(soap(f"{household.url}/", body)) == (500, "soap:Client", "UnknownOperation")


def test_a_soap_12_envelope_is_a_version_mismatch(household):
    body = query_person(UNKNOWN_ID).replace(SOAP_NS, "http://www.w3.org/2003/05/soap-envelope")
    assert fault(soap(f"{household.url}/", body)) == (500, "soap:VersionMismatch", "VersionMismatch")


def test_a_missing_database_is_a_server_fault(tmp_path):
    broken = LiveServer(household_service_app(tmp_path / "no-such.db"), free_port()).start()
    try:
        reply = soap(f"{broken.url}/", query_person(UNKNOWN_ID))
    finally:
        broken.stop()
    assert fault(reply) == (500, "soap:Server", "ServiceUnavailable")
    assert not (tmp_path / "no-such.db").exists()


# --------------------------------------------------------------------------- through /exchange


def _exchange(live_server, body: str) -> etree._Element:
    ex = "http://govshare.local/xsd/exchange/1.0"
    envelope = (f'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
                f'<ex:{body.replace("EX", ex)}</soap:Body></soap:Envelope>')
    return etree.fromstring(requests.post(f"{live_server.url}/exchange", data=envelope.encode(),
                                          headers={"Content-Type": "text/xml"}, timeout=30).content)


def test_query_records_on_a_logical_resource_is_answered_by_the_provider(city, registry_code, people,
                                                                         live_server):
    person = people[0]
    with city() as s:
        consumer = s.query(Department).filter_by(code="mzj").one().credit_code
    reply = _exchange(live_server, f'QueryRecords xmlns:ex="EX"><ex:requester>{consumer}</ex:requester>'
                                   f"<ex:resourceCode>{registry_code}</ex:resourceCode>"
                                   f"<ex:key>{person['idNumber']}</ex:key></ex:QueryRecords>")
    ex = "{http://govshare.local/xsd/exchange/1.0}"
    assert reply.findtext(f".//{ex}source") == "provider"
    [record] = reply.find(f".//{ex}records")
    assert record.findtext("{http://govshare.local/xsd/population/1.0}name") == person["name"]


def test_get_changes_on_a_logical_resource_is_refused_with_the_reason(city, registry_code, live_server):
    with city() as s:
        consumer = s.query(Department).filter_by(code="mzj").one().credit_code
    reply = _exchange(live_server, f'GetChanges xmlns:ex="EX"><ex:requester>{consumer}</ex:requester>'
                                   f"<ex:resourceCode>{registry_code}</ex:resourceCode></ex:GetChanges>")
    assert reply.findtext(".//{http://govshare.local/xsd/exchange/1.0}code") == "InvalidRequest"
    assert "逻辑集中" in reply.findtext(".//faultstring")
