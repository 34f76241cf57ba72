"""The demo data looks real and is complete: departments with valid credit codes, and
published resources that each have an interface, a WSDL and an access point."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from lxml import etree
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import sessionmaker
from stdnum.cn import uscc

import server
from bench.databases import throwaway_database
from directory import demo
from directory.bootstrap import bootstrap_node
from directory.catalogue.classification import ancestors
from directory.taxonomies import CLASSIFICATION, SHARING_TYPE
from governance import demo as members
from registry.db import make_engine, migrate, session_factory, unit_of_work
from registry.models import CatalogueEntry, Department, WsdlDocument
from registry.settings import Settings
from tests.conftest import (
    PG_ADMIN_URL,
    LiveServer,
    _pg_reachable,
    free_port,
    service_unavailable,
    without_flush_wait,
)

UDDI = "urn:uddi-org:api_v3"


@dataclass
class World:
    """The demo seeded once, served over HTTP: what this module's tests read."""

    counts: dict[str, int]
    server: LiveServer
    sessions: sessionmaker
    settings: Settings  # with the server's address as the public one, as seeding had it


@pytest.fixture(scope="module")
def worlds(tmp_path_factory, sqlite_template) -> Iterator[Callable[[str], World]]:
    """One seeded platform per database for the module, made when first asked for (seeding
    takes 13-25 s on a slow machine), whatever order the tests run in; each in a database of
    its own, so no other test's truncation reaches it."""
    made: dict[str, World] = {}
    with ExitStack() as stack:
        def world_on(backend: str) -> World:
            if backend not in made:
                made[backend] = _seeded(stack, backend, tmp_path_factory.mktemp("demo"), sqlite_template)
            return made[backend]

        yield world_on


def _seeded(stack: ExitStack, backend: str, folder: Path, sqlite_template: Path) -> World:
    if backend == "sqlite":
        shutil.copy(sqlite_template, folder / "govshare.db")
        url = f"sqlite:///{folder / 'govshare.db'}"
    else:
        reason = _pg_reachable()
        if reason:
            service_unavailable(reason)
        name = f"govshare_test_demo_{uuid.uuid4().hex[:8]}"
        url = stack.enter_context(throwaway_database(PG_ADMIN_URL, name, wait=False))
        with create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT").connect() as admin:
            admin.execute(text(without_flush_wait(name)))
        migrate(url)
    settings = Settings.from_env(db_url=url, var_dir=folder, wss_policy="optional")
    engine = make_engine(url)
    stack.callback(engine.dispose)
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        bootstrap_node(session, settings)
    served = LiveServer(server.build_app(settings, sessions), free_port()).start()
    stack.callback(served.stop)
    public = Settings.from_env(db_url=url, var_dir=folder, public_url=served.url)
    return World(members.seed(sessions, public), served, sessions, public)


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request, worlds) -> World:
    return worlds(request.param)


@pytest.fixture
def seeded(world):
    return world.counts, world.server


@pytest.fixture
def sessions(world):
    return world.sessions


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


def test_seeding_twice_changes_nothing(world):
    assert members.seed(world.sessions, world.settings) == world.counts


def test_demo_records_reach_the_core_and_dirty_ones_quarantine(world):
    from exchange.demo import DEMO_RECORDS, DIRTY_EVERY, seed_records

    sessions, settings = world.sessions, world.settings  # the only test here that adds records
    outcome = seed_records(sessions, settings)
    assert set(outcome) == set(DEMO_RECORDS)
    population_total = DEMO_RECORDS["户籍登记信息"][1]
    assert outcome["户籍登记信息"] == (population_total - population_total // DIRTY_EVERY,
                                       population_total // DIRTY_EVERY)
    for name, (_generate, count) in DEMO_RECORDS.items():
        assert sum(outcome[name]) == count
    assert seed_records(sessions, settings) == outcome  # the same batches again: the first receipts
