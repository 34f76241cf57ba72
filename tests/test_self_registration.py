"""The platform's own SOAP services are in its own directory, with live access points."""

from __future__ import annotations

import requests
from lxml import etree

from directory.self_registration import UDDI_APIS, platform_business_key, register_platform_services
from registry.db import unit_of_work

UDDI = "urn:uddi-org:api_v3"


def _soap(url: str, inner: str) -> etree._Element:
    env = (f'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>{inner}</s:Body></s:Envelope>')
    r = requests.post(url, data=env.encode(), headers={"Content-Type": "text/xml"}, timeout=10)
    assert r.status_code == 200, r.text
    return etree.fromstring(r.content)


def test_uddi_services_are_found_by_their_specification_tmodel(live_server, sessions, settings):
    settings = type(settings).from_env(db_url=settings.db_url, public_url=live_server.url)
    with unit_of_work(sessions) as session:
        register_platform_services(session, settings)
    reply = _soap(f"{live_server.url}/uddi/inquiry",
                  f'<find_binding xmlns="{UDDI}"><tModelBag><tModelKey>uddi:uddi.org:v3_inquiry</tModelKey>'
                  "</tModelBag></find_binding>")
    points = [a.text for a in reply.iter(f"{{{UDDI}}}accessPoint")]
    assert points == [f"{live_server.url}/uddi/inquiry"]
    wsdl = requests.get(points[0] + "?wsdl", timeout=10)
    assert wsdl.status_code == 200 and b"UDDI_Inquiry_SoapBinding" in wsdl.content


def test_registering_again_updates_in_place(sessions, settings):
    with unit_of_work(sessions) as session:
        first = register_platform_services(session, settings)
    moved = type(settings).from_env(db_url=settings.db_url, public_url="http://gateway.example.cn:9000")
    with unit_of_work(sessions) as session:
        second = register_platform_services(session, moved)
    assert first == second and len(first) == len(UDDI_APIS) + 2  # and the diagnostics and exchange services
    from directory.uddi import store

    with sessions() as session:
        services = store.children(session, [platform_business_key(settings)], "service")
        bindings = store.children(session, first, "binding")
    assert len(services[platform_business_key(settings)]) == len(UDDI_APIS) + 2
    points = [etree.fromstring(b.xml).findtext(f"{{{UDDI}}}accessPoint") for group in bindings.values() for b in group]
    assert len(points) == len(UDDI_APIS) + 2
    assert all(p.startswith("http://gateway.example.cn:9000/") for p in points), points


def test_the_diagnostics_service_is_published_from_its_own_wsdl(live_server, sessions, settings):
    settings = type(settings).from_env(db_url=settings.db_url, public_url=live_server.url)
    with unit_of_work(sessions) as session:
        register_platform_services(session, settings)
    reply = _soap(f"{live_server.url}/uddi/inquiry",
                  f'<find_tModel xmlns="{UDDI}"><categoryBag>'
                  '<keyedReference tModelKey="uddi:uddi.org:xml:namespace" keyValue="urn:govshare:diagnostics"/>'
                  '<keyedReference tModelKey="uddi:uddi.org:wsdl:types" keyValue="binding"/>'
                  "</categoryBag></find_tModel>")
    binding_keys = [i.get("tModelKey") for i in reply.iter(f"{{{UDDI}}}tModelInfo")]
    assert len(binding_keys) == 1
    bindings = _soap(f"{live_server.url}/uddi/inquiry",
                     f'<find_binding xmlns="{UDDI}"><tModelBag><tModelKey>{binding_keys[0]}</tModelKey>'
                     "</tModelBag></find_binding>")
    endpoint = bindings.findtext(f".//{{{UDDI}}}accessPoint")
    assert endpoint == f"{live_server.url}/diagnostics"
    import zeep

    assert zeep.Client(endpoint + "?wsdl").service.Echo(text="自注册") == "自注册"


def test_the_exchange_service_is_registered_with_its_contract(live_server, sessions, settings):
    settings = type(settings).from_env(db_url=settings.db_url, public_url=live_server.url)
    with unit_of_work(sessions) as session:
        register_platform_services(session, settings)
    reply = _soap(f"{live_server.url}/uddi/inquiry",
                  f'<find_service xmlns="{UDDI}"><categoryBag>'
                  '<keyedReference tModelKey="uddi:uddi.org:xml:namespace" keyValue="http://govshare.local/exchange/1.0"/>'
                  "</categoryBag></find_service>")
    [service_key] = [i.get("serviceKey") for i in reply.iter(f"{{{UDDI}}}serviceInfo")]
    detail = _soap(f"{live_server.url}/uddi/inquiry",
                   f'<get_serviceDetail xmlns="{UDDI}"><serviceKey>{service_key}</serviceKey></get_serviceDetail>')
    assert detail.findtext(f".//{{{UDDI}}}accessPoint") == f"{live_server.url}/exchange"
