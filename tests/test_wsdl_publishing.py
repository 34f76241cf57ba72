"""WSDL → UDDI per the OASIS technical note "Using WSDL in a UDDI Registry" v2.0.2 (D3), through the
action ``wsdl.publish`` (a department's cataloguer publishes its department's WSDL)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import stdnum.cn.uscc
from lxml import etree
from sqlalchemy import func, select

from directory import taxonomies as tax
from directory import wsdl_publishing
from directory.accounts import create_user, register_department
from directory.uddi import store
from directory.wsdl_publishing import binding_templates_for
from registry.db import unit_of_work
from registry.errors import InvalidInput, NotPermitted
from registry.models import AuditEntry, UddiEntity
from tests.conftest import as_user
from wsdl.oasis import uddi_schema
from wsdl.repository import get_wsdl
from wsdl.validation import QName

CONTRACTS = Path(__file__).resolve().parent.parent / "wsdl" / "contracts"
POPULATION = (CONTRACTS / "population-query.wsdl").read_bytes()
TNS = "http://govshare.local/interfaces/population"
PATH = "gaj/population-query.wsdl"
BASE = "http://share.example.gov.cn"
PREFIX = "uddi:gaj.govshare.local:wsdl:gaj~population-query"
PORTTYPE_KEY = f"{PREFIX}:porttype:populationqueryporttype"
BINDING_KEY = f"{PREFIX}:binding:populationquerybinding"
SERVICE_KEY = f"{PREFIX}:service:populationqueryservice"


def credit_code(n: int) -> str:
    body = f"113301000{n:08d}"
    return body + stdnum.cn.uscc.calc_check_digit(body)


@pytest.fixture
def gaj(sessions, settings) -> str:
    """市公安局's cataloguer (and a consumer of it, who may not publish)."""
    with unit_of_work(sessions) as session:
        dept = register_department(session, settings, code="gaj", name="市公安局", credit_code=credit_code(1))
        create_user(session, username="gaj", password="pw", department=dept, roles=("cataloguer",))
        create_user(session, username="gaj-consumer", password="pw", department=dept, roles=("consumer",))
    return "gaj"


def publish(sessions, settings, username: str, content: bytes = POPULATION, **kwargs):
    return wsdl_publishing.publish(as_user(sessions, settings, username), path=PATH, content=content,
                                   **{"base_url": BASE, **kwargs})


def stored(sessions, key: str) -> etree._Element:
    with sessions() as session:
        row = store.get(session, key)
        assert row is not None, key
        return store.compose(session, [row])[0]


def refs(el: etree._Element) -> set[tuple[str, str, str]]:
    return {(kr.get("tModelKey"), kr.get("keyName"), kr.get("keyValue"))
            for kr in el.iterfind(f"{store.q('categoryBag')}/{store.q('keyedReference')}")}


def test_port_type_becomes_a_tmodel_with_the_tn_categories(sessions, settings, gaj):
    published = publish(sessions, settings, gaj)
    assert published.port_type_keys == {QName(TNS, "PopulationQueryPortType"): PORTTYPE_KEY}
    tmodel = stored(sessions, PORTTYPE_KEY)
    assert tmodel.findtext(store.q("name")) == "PopulationQueryPortType"
    assert refs(tmodel) == {
        (tax.WSDL_TYPES, "WSDL type", "portType"),
        (tax.XML_NAMESPACE, "portType namespace", TNS),
    }


def test_binding_becomes_a_tmodel_referring_to_its_port_type(sessions, settings, gaj):
    published = publish(sessions, settings, gaj)
    assert published.binding_keys == {QName(TNS, "PopulationQueryBinding"): BINDING_KEY}
    tmodel = stored(sessions, BINDING_KEY)
    assert tmodel.findtext(store.q("name")) == "PopulationQueryBinding"
    assert refs(tmodel) == {
        (tax.WSDL_TYPES, "WSDL type", "binding"),
        (tax.XML_NAMESPACE, "binding namespace", TNS),
        (tax.PORTTYPE_REFERENCE, "portType reference", PORTTYPE_KEY),
        (tax.WSDL_PROTOCOL, "SOAP protocol", tax.PROTOCOL_SOAP),
        (tax.WSDL_TRANSPORT, "HTTP transport", tax.TRANSPORT_HTTP),
        (tax.UDDI_TYPES, "uddi-org:types", "wsdlSpec"),
    }


def test_service_becomes_a_business_service_of_the_department(sessions, settings, gaj):
    published = publish(sessions, settings, gaj)
    assert published.service_keys == {QName(TNS, "PopulationQueryService"): SERVICE_KEY}
    service = stored(sessions, SERVICE_KEY)
    assert service.get("businessKey") == "uddi:gaj.govshare.local:business"
    assert service.findtext(store.q("name")) == "PopulationQueryService"
    assert refs(service) == {
        (tax.WSDL_TYPES, "WSDL type", "service"),
        (tax.XML_NAMESPACE, "service namespace", TNS),
        (tax.XML_LOCALNAME, "service local name", "PopulationQueryService"),
    }


def test_port_becomes_a_binding_template_with_both_tmodels(sessions, settings, gaj):
    publish(sessions, settings, gaj)
    [template] = stored(sessions, SERVICE_KEY).iterfind(f"{store.q('bindingTemplates')}/{store.q('bindingTemplate')}")
    assert template.get("bindingKey") == f"{SERVICE_KEY}:port:populationqueryport"
    access = template.find(store.q("accessPoint"))
    assert (access.get("useType"), access.text) == ("endPoint", "http://127.0.0.1:8080/services/population-query")
    infos = template.findall(f"{store.q('tModelInstanceDetails')}/{store.q('tModelInstanceInfo')}")
    assert [i.get("tModelKey") for i in infos] == [BINDING_KEY, PORTTYPE_KEY]
    assert infos[0].findtext(f"{store.q('instanceDetails')}/{store.q('instanceParms')}") == "PopulationQueryPort"


def test_overview_url_points_at_the_stored_wsdl(sessions, settings, gaj):
    published = publish(sessions, settings, gaj)
    assert published.overview_url == f"{BASE}/wsdl/{PATH}"
    for key in (PORTTYPE_KEY, BINDING_KEY):
        url = stored(sessions, key).find(f"{store.q('overviewDoc')}/{store.q('overviewURL')}")
        assert (url.get("useType"), url.text) == ("wsdlInterface", f"{BASE}/wsdl/{PATH}")
    with sessions() as session:
        assert get_wsdl(session, PATH).content.encode("utf-8") == POPULATION


def test_overview_url_defaults_to_the_platform_address(sessions, settings, gaj):
    published = publish(sessions, settings, gaj, base_url=None)
    assert published.overview_url == f"{settings.base_url}/wsdl/{PATH}"


def test_published_entities_are_valid_uddi_v3(sessions, settings, gaj):
    publish(sessions, settings, gaj)
    for key in (PORTTYPE_KEY, BINDING_KEY, SERVICE_KEY):
        uddi_schema().assertValid(stored(sessions, key))


def test_republishing_the_same_wsdl_is_idempotent(sessions, settings, gaj):
    first = publish(sessions, settings, gaj)
    with sessions() as session:
        count = session.scalar(select(func.count()).select_from(UddiEntity))
    second = publish(sessions, settings, gaj)
    assert second == first
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(UddiEntity)) == count


def test_republishing_a_changed_wsdl_retires_what_it_dropped(sessions, settings, gaj):
    publish(sessions, settings, gaj)
    renamed = (POPULATION.replace(b"PopulationQueryPortType", b"PersonQueryPortType")
               .replace(b"PopulationQueryService", b"PersonQueryService"))
    publish(sessions, settings, gaj, content=renamed)
    with sessions() as session:
        assert store.get(session, PORTTYPE_KEY).deleted  # tModels are hidden, never removed
        assert store.get(session, SERVICE_KEY) is None
        assert not store.get(session, f"{PREFIX}:porttype:personqueryporttype").deleted
        assert store.get(session, f"{PREFIX}:service:personqueryservice") is not None
    assert refs(stored(sessions, BINDING_KEY)) >= {
        (tax.PORTTYPE_REFERENCE, "portType reference", f"{PREFIX}:porttype:personqueryporttype")}


def test_publishing_without_services_saves_only_tmodels(sessions, settings, gaj):
    published = publish(sessions, settings, gaj, map_services=False)
    assert published.service_keys == {}
    with sessions() as session:
        assert store.get(session, SERVICE_KEY) is None
        assert store.get(session, BINDING_KEY) is not None


def test_invalid_wsdl_is_neither_stored_nor_published(sessions, settings, gaj):
    with pytest.raises(InvalidInput, match="invalid WSDL") as refused:
        publish(sessions, settings, gaj, content=POPULATION.replace(b'style="document"', b'style="rpc"'))
    assert refused.value.code == "InvalidWsdl" and "WSDL 文档不符合要求" in refused.value.user_message
    with sessions() as session:
        assert get_wsdl(session, PATH) is None
        assert store.get(session, PORTTYPE_KEY) is None


def test_a_consumer_may_not_publish_a_wsdl(sessions, settings, gaj):
    with pytest.raises(NotPermitted):
        publish(sessions, settings, "gaj-consumer")
    with sessions() as session:
        assert get_wsdl(session, PATH) is None


def test_publishing_is_recorded_with_the_keys_saved(sessions, settings, gaj):
    publish(sessions, settings, gaj)
    with sessions() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.operation == "wsdl.publish"))
    assert (entry.user, entry.department_code, entry.channel, entry.result) == ("gaj", "gaj", "cli", "ok")
    assert entry.record_count == 3 and PORTTYPE_KEY in entry.detail


def test_binding_templates_attach_the_ports_to_another_service(sessions, settings, gaj):
    publish(sessions, settings, gaj, map_services=False)
    catalogue_service = "uddi:gaj.govshare.local:resource:101001-000001"
    with sessions() as session:
        [template] = binding_templates_for(session, settings, PATH, catalogue_service)
    assert template.get("serviceKey") == catalogue_service
    assert template.get("bindingKey") == f"{catalogue_service}:port:populationqueryport"
    infos = template.findall(f"{store.q('tModelInstanceDetails')}/{store.q('tModelInstanceInfo')}")
    assert [i.get("tModelKey") for i in infos] == [BINDING_KEY, PORTTYPE_KEY]
    uddi_schema().assertValid(template)


def test_binding_templates_need_the_wsdl_published_first(sessions, settings, gaj):
    with sessions() as session, pytest.raises(LookupError, match="no WSDL is stored"):
        binding_templates_for(session, settings, PATH, "uddi:gaj.govshare.local:resource:x")


def test_stored_wsdl_is_served_at_its_overview_url(settings, sessions, gaj, live_server):
    published = publish(sessions, settings, gaj, base_url=live_server.url)
    response = requests.get(published.overview_url, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content == POPULATION
