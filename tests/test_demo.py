"""The demo data looks real and is complete: departments with valid credit codes, and
published resources that each have an interface, a WSDL and an access point."""

from __future__ import annotations

import pytest
import requests
from lxml import etree
from sqlalchemy import select
from stdnum.cn import uscc

from directory import demo
from directory.catalogue.classification import ancestors
from directory.taxonomies import CLASSIFICATION, SHARING_TYPE
from registry.models import CatalogueEntry, Department, WsdlDocument
from registry.settings import Settings

UDDI = "urn:uddi-org:api_v3"


@pytest.fixture
def seeded(sessions, settings, live_server):
    settings = type(settings).from_env(db_url=settings.db_url, public_url=live_server.url)
    counts = demo.seed(sessions, settings)
    return counts, live_server


def test_organisation_code_check_character_follows_gb_11714():
    assert demo.organisation_code("D2143569") == "D2143569X"  # the standard's worked example


def test_seed_creates_departments_and_published_resources(seeded, sessions):
    counts, _server = seeded
    assert counts["departments"] >= 12 and counts["published resources"] >= 40
    with sessions() as session:
        depts = session.scalars(select(Department)).all()
        names = {d.name for d in depts}
        for wanted in ("公安局", "民政局", "市场监督管理局", "统计局", "自然资源和规划局", "人力资源和社会保障局",
                       "卫生健康委员会", "教育局", "税务局"):
            assert any(wanted in n for n in names), wanted
        assert all(uscc.is_valid(d.credit_code) for d in depts)


def test_every_resource_has_complete_metadata_an_interface_and_a_wsdl(seeded, sessions):
    _counts, server = seeded
    with sessions() as session:
        entries = session.scalars(select(CatalogueEntry)).all()
        wsdl_paths = set(session.scalars(select(WsdlDocument.path)))
        base_classes = {ancestors(e.class_code)[1] if len(ancestors(e.class_code)) > 1 else e.class_code
                        for e in entries}
        for e in entries:
            assert e.status == "published" and e.service_key and e.publish_date
            assert e.items and e.abstract and e.provider_unit and e.update_cycle and e.format_type
            assert e.wsdl_path in wsdl_paths
            if e.logical:  # 逻辑集中: the department's own service answers
                assert e.access_point == demo.household_address(Settings.from_env())
            else:
                assert e.access_point.startswith(server.url + "/services/")
            assert e.sharing_type != "有条件共享" or e.sharing_condition
            assert e.sharing_type != "不予共享" or e.not_shared_basis
    assert {"101", "102", "103", "106"} <= base_classes  # 人口, 法人单位, 空间地理, 宏观经济
    assert any(e.class_code.startswith("2") for e in entries) and any(e.class_code.startswith("3") for e in entries)


def test_find_service_by_category_bag_returns_every_unconditional_population_resource(seeded, sessions):
    _counts, server = seeded
    with sessions() as session:
        expected = {e.service_key for e in session.scalars(select(CatalogueEntry)) if
                    e.sharing_type == "无条件共享" and e.class_code.startswith("101")}
    body = (f'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            f'<find_service xmlns="{UDDI}"><categoryBag>'
            f'<keyedReference tModelKey="{CLASSIFICATION}" keyValue="101"/>'
            f'<keyedReference tModelKey="{SHARING_TYPE}" keyValue="无条件共享"/>'
            "</categoryBag></find_service></s:Body></s:Envelope>")
    reply = etree.fromstring(requests.post(f"{server.url}/uddi/inquiry", data=body.encode(), timeout=30).content)
    found = {i.get("serviceKey") for i in reply.iter(f"{{{UDDI}}}serviceInfo")}
    assert expected and found == expected


def test_a_published_resource_has_a_binding_whose_wsdl_is_served(seeded, sessions):
    _counts, server = seeded
    with sessions() as session:
        entry = session.scalars(select(CatalogueEntry).where(CatalogueEntry.name == "户籍登记信息")).one()
    body = (f'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            f'<get_serviceDetail xmlns="{UDDI}"><serviceKey>{entry.service_key}</serviceKey></get_serviceDetail>'
            "</s:Body></s:Envelope>")
    reply = etree.fromstring(requests.post(f"{server.url}/uddi/inquiry", data=body.encode(), timeout=30).content)
    assert reply.findtext(f".//{{{UDDI}}}accessPoint") == entry.access_point
    binding_tmodel = reply.find(f".//{{{UDDI}}}tModelInstanceInfo").get("tModelKey")
    detail = (f'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
              f'<get_tModelDetail xmlns="{UDDI}"><tModelKey>{binding_tmodel}</tModelKey></get_tModelDetail>'
              "</s:Body></s:Envelope>")
    tmodel = etree.fromstring(requests.post(f"{server.url}/uddi/inquiry", data=detail.encode(), timeout=30).content)
    overview = tmodel.findtext(f".//{{{UDDI}}}overviewURL")
    assert overview == f"{server.url}/wsdl/{entry.wsdl_path}"
    wsdl = requests.get(overview, timeout=10)
    assert wsdl.status_code == 200 and entry.access_point.encode() in wsdl.content


def test_seeding_twice_changes_nothing(seeded, sessions, settings, live_server):
    counts, _server = seeded
    settings = type(settings).from_env(db_url=settings.db_url, public_url=live_server.url)
    assert demo.seed(sessions, settings) == counts


def test_demo_records_reach_the_core_and_dirty_ones_quarantine(seeded, sessions, settings, live_server):
    from exchange.demo import DEMO_RECORDS, DIRTY_EVERY, seed_records

    settings = type(settings).from_env(db_url=settings.db_url, public_url=live_server.url)
    outcome = seed_records(sessions, settings)
    assert set(outcome) == set(DEMO_RECORDS)
    population_total = DEMO_RECORDS["户籍登记信息"][1]
    assert outcome["户籍登记信息"] == (population_total - population_total // DIRTY_EVERY,
                                       population_total // DIRTY_EVERY)
    for name, (_generate, count) in DEMO_RECORDS.items():
        assert sum(outcome[name]) == count
    assert seed_records(sessions, settings) == outcome  # the same batches again: the first receipts
