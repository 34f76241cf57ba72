"""Catalogue federation (目录管理节点) between two installations, each a real ``govshare serve`` process on
loopback with its own database: the district's platform is registered at the city's as a catalogue node
(its 登记申请 with the 接入方式 目录管理节点 approved by the city's administrator; its own key, whose CSR
the city's security administrator approved), and its published catalogue flows up, signed.

What is asserted: a published entry is at the city within 5 s, with its metadata, provider, code and
history; a withdrawal follows it up; nobody at the city may change it; the city down (SIGKILL) while
the district publishes delays and loses nothing; a drift at the city is repaired by the periodic
reconciliation; the district killed mid-transfer, restarted, sends the rest and duplicates nothing."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import func, select, update

from bench.federation.platforms import Platform, fill
from directory import federation
from directory.accounts import create_user, register_department
from directory.catalogue import workflow
from directory.demo import credit_code_for
from governance import onboarding
from registry.db import make_engine, session_factory, unit_of_work
from registry.errors import Conflict
from registry.models import CatalogueEntry, CatalogueVersion, Department, User
from trust import certificates, pki
from trust.actions import Context
from trust.auth import Caller

from ..conftest import free_port
from ..portal.conftest import PASSWORD, Browser

DISTRICT = {"code": "lhq", "name": "临江市临湖区人民政府", "credit_code": credit_code_for("00260100")}


def _metadata(n: int, name: str | None = None) -> dict:
    return {"classification": "101002", "name": name or f"临湖区出生医学证明信息 {n}", "provider_unit": "妇幼健康科",
            "abstract": f"临湖区出生医学证明签发信息, 第 {n} 类。", "format_class": "接口", "format_type": "WebService",
            "items": [{"name": "新生儿姓名", "data_type": "C", "length": 50}, {"name": "出生日期", "data_type": "D"}],
            "sharing_type": "有条件共享", "sharing_condition": "仅限办理户籍业务使用", "sharing_method": "接口",
            "open_to_public": False, "update_cycle": "每日", "access_point": "http://10.20.1.5/birth/service"}


class District:
    """The district's platform, its 卫生健康局 cataloguing and its reviewer publishing."""

    def __init__(self, platform: Platform):
        self.platform = platform
        with unit_of_work(platform.sessions) as session:
            wjw = register_department(session, platform.settings, code="wjw", name="临湖区卫生健康局",
                                      credit_code=credit_code_for("00260101"))
            create_user(session, username="li.na", password="Secret-123", department=wjw, roles=("cataloguer",))
            create_user(session, username="shen.li", password="Secret-123", department=None, roles=("reviewer",))

    def add_department(self, code: str, name: str, serial: str) -> None:
        """A department of the district with a cataloguer of its own (username: the code)."""
        with unit_of_work(self.platform.sessions) as session:
            made = register_department(session, self.platform.settings, code=code, name=name,
                                       credit_code=credit_code_for(serial))
            create_user(session, username=code, password="Secret-123", department=made, roles=("cataloguer",))

    def _as(self, username: str) -> Context:
        from registry.models import User

        with unit_of_work(self.platform.sessions) as session:
            user = session.scalar(select(User).where(User.username == username))
            caller = Caller.of_user(user, "cli")
        return Context(caller, self.platform.sessions, replace(self.platform.settings, audit=False))

    def publish(self, n: int, name: str | None = None) -> str:
        return self.publish_as("li.na", _metadata(n, name))

    def publish_as(self, cataloguer: str, metadata: dict) -> str:
        """Catalogue ``metadata`` as ``cataloguer``, and review and publish it as the district's reviewer."""
        code = workflow.create(self._as(cataloguer), metadata=metadata).resource_code
        workflow.submit(self._as(cataloguer), resource_code=code)
        workflow.approve(self._as("shen.li"), resource_code=code)
        workflow.publish(self._as("shen.li"), resource_code=code)
        return code

    def withdraw(self, code: str) -> None:
        workflow.withdraw(self._as("li.na"), resource_code=code, reason="该资源已停止更新")


def _city_entries(city: Platform) -> dict[str, CatalogueEntry]:
    with unit_of_work(city.sessions) as session:
        rows = session.scalars(select(CatalogueEntry).where(CatalogueEntry.origin_code.is_not(None))).all()
        for row in rows:
            session.expunge(row)
        return {row.origin_code: row for row in rows}


def _wait(test, what: str, timeout: float = 30) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if test():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


@pytest.fixture
def pair(tmp_path):
    """The city's platform with the district registered as a catalogue node, and the district's
    platform configured to federate into it (neither server started)."""
    city = Platform(tmp_path, "city")
    pki.init_ca(city.settings)
    ctx = city.context()
    filed = onboarding.apply(ctx, **DISTRICT, division_code="330102", connection_mode="catalogue_node",
                             contact_name="王晓明", contact_phone="0571-87001234",
                             description="临湖区政务信息资源目录, 作为目录管理节点接入市平台")
    member = onboarding.approve(city.context(), application_id=filed.id)
    assert member.code == "lhq"
    with unit_of_work(city.sessions) as session:
        create_user(session, username="admin", password=PASSWORD, department=None, roles=("admin",))
    node_folder = tmp_path / "node-credentials"
    node_folder.mkdir()
    # the district makes its key and sends the CSR (the CSR flow); the city's security administrator approves
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (node_folder / "lhq.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                            serialization.PrivateFormat.PKCS8,
                                                            serialization.NoEncryption()))
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lhq federation")]))
           .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    with unit_of_work(city.sessions) as session:
        node = session.scalar(select(Department).where(Department.code == "lhq"))
        engineer = create_user(session, username="lhq.engineer", password=PASSWORD, department=node,
                               roles=("cataloguer",))
        engineer_caller = Caller.of_user(engineer, "portal")
    asked = certificates.request(Context(engineer_caller, city.sessions, city.settings), csr=csr)
    approved = certificates.approve(city.context(), request_id=asked.id)
    (node_folder / "lhq.pem").write_text(approved.pem)
    district = Platform(tmp_path, "district", GOVSHARE_UPPER_URL=city.url,
                        GOVSHARE_UPPER_KEY=str(node_folder / "lhq.key"),
                        GOVSHARE_UPPER_CERT=str(node_folder / "lhq.pem"),
                        GOVSHARE_UPPER_CA=str(city.folder / "pki" / "ca.pem"), GOVSHARE_UPPER_RECONCILE="3")
    yield city, District(district)
    district.stop()
    city.stop()


def test_published_entries_flow_up_within_seconds_and_are_the_nodes_at_the_city(pair):
    city, district = pair
    first = district.publish(1)
    district.publish(2)
    city.start()
    district.platform.start()
    _wait(lambda: len(_city_entries(city)) == 2, "the district's two published entries at the city")

    started = time.monotonic()
    third = district.publish(3, name="临湖区死亡医学证明信息")
    published_in = time.monotonic() - started
    seen_in = _wait(lambda: third in _city_entries(city), "a newly published entry at the city", timeout=10)
    assert seen_in <= 5.0, f"visible at the city {seen_in:.1f} s after publishing ({published_in:.1f} s to publish)"

    at_city = _city_entries(city)[third]
    assert at_city.status == "published" and at_city.name == "临湖区死亡医学证明信息"
    assert at_city.origin_provider == "临湖区卫生健康局" and at_city.origin_provider_code == credit_code_for("00260101")
    assert at_city.service_key is not None  # a businessService of the node's businessEntity at the city
    with unit_of_work(city.sessions) as session:
        assert session.get(Department, at_city.provider_id).code == "lhq"
        version = session.scalar(select(CatalogueVersion).where(CatalogueVersion.entry_id == at_city.id)
                                 .order_by(CatalogueVersion.version.desc()))
        assert version.changed_by == "node:lhq" and version.action == "federate"
        assert [h["action"] for h in version.snapshot["origin"]["history"]] == ["create", "submit", "approve",
                                                                                "publish"]
    # nobody at the city changes it: its node does
    with pytest.raises(Conflict) as refused:
        workflow.withdraw(city.context(), resource_code=at_city.resource_code, reason="市级复核")
    assert refused.value.code == "FederatedEntry" and "临湖区" in refused.value.user_message

    district.withdraw(first)
    _wait(lambda: _city_entries(city)[first].status == "withdrawn", "the withdrawal at the city", timeout=10)
    assert _city_entries(city)[first].service_key is None

    # the city's portal: where each entry comes from, and the node with its federation state
    portal = Browser(city.url)
    assert "退出" in portal.login("admin").text
    page = portal.get(f"/resource?code={at_city.resource_code}").text
    assert f"原资源代码 <span class=\"code\">{third}</span>" in page and "只能在来源节点修改" in page
    assert "action-withdraw" not in page  # the city's admin is offered no withdrawal of it (see the refusal above)
    nodes = portal.get("/nodes").text.split('id="platform-nodes"')[1]
    assert "临江市临湖区人民政府" in nodes and "目录管理节点" in nodes and "3 条 (已发布 2 条)" in nodes

    status = district.platform.federation("status")
    assert status.returncode == 0, status.stderr
    assert "3 entries here, 3 held there, 0 differ" in status.stdout


def test_the_city_down_delays_and_loses_nothing_and_reconciliation_repairs_drift(pair):
    city, district = pair
    codes = [district.publish(n) for n in range(1, 4)]
    city.start()
    district.platform.start()
    _wait(lambda: len(_city_entries(city)) == 3, "the first three at the city")

    city.kill()
    codes += [district.publish(n) for n in range(4, 7)]
    district.withdraw(codes[0])
    time.sleep(2)  # the district tries, fails and waits
    city.start()
    _wait(lambda: len(_city_entries(city)) == 6 and _city_entries(city)[codes[0]].status == "withdrawn",
          "what was published and withdrawn while the city was down", timeout=60)

    # drift: the city's copy changed behind the federation's back; the periodic reconciliation mends it
    with unit_of_work(city.sessions) as session:
        session.execute(update(CatalogueEntry).where(CatalogueEntry.origin_code == codes[1])
                        .values(name="被改动的名称", origin_digest="0" * 64))
    _wait(lambda: _city_entries(city)[codes[1]].name == "临湖区出生医学证明信息 2", "the drift repaired", timeout=30)
    with unit_of_work(city.sessions) as session:
        assert session.scalar(select(func.count()).select_from(CatalogueEntry)
                              .where(CatalogueEntry.origin_code.is_not(None))) == 6


def test_the_district_killed_mid_transfer_sends_the_rest_and_duplicates_nothing(pair):
    city, district = pair
    codes = fill(district.platform.sessions, 1500)  # three FederateEntries of 500
    city.start()
    district.platform.start()
    _wait(lambda: len(_city_entries(city)) > 0, "the first 500 at the city", timeout=60)
    district.platform.kill()
    partial = len(_city_entries(city))
    district.platform.start()
    _wait(lambda: len(_city_entries(city)) == 1500, "all 1,500 at the city", timeout=120)
    with unit_of_work(city.sessions) as session:
        assert session.scalar(select(func.count()).select_from(CatalogueEntry)
                              .where(CatalogueEntry.origin_code.is_not(None))) == 1500
        assert session.scalar(select(func.count(func.distinct(CatalogueEntry.origin_code)))) == 1500
    assert set(_city_entries(city)) == set(codes)
    assert 0 < partial < 1500, f"the district was killed after the transfer ended ({partial} at the city)"
    reconciled = district.platform.federation("reconcile")
    assert reconciled.returncode == 0, reconciled.stderr
    assert "1500 compared, 0 sent" in reconciled.stdout


def test_a_department_not_registered_as_a_node_is_refused(pair, tmp_path):
    city, _district = pair
    with unit_of_work(city.sessions) as session:
        plain = register_department(session, city.settings, code="gaj", name="临江市公安局",
                                    credit_code=credit_code_for("00250102"))
        issued = pki.issue(session, city.settings, plain)
        (tmp_path / "gaj.key").write_bytes(issued.key_pem())
        (tmp_path / "gaj.pem").write_bytes(issued.cert_pem())
    city.start()
    from client.exchange import Exchange
    from client.faults import AccessRefused

    upper = Exchange(city.url, key=str(tmp_path / "gaj.key"), cert=str(tmp_path / "gaj.pem"),
                     ca=str(city.folder / "pki" / "ca.pem"))
    with pytest.raises(AccessRefused) as refused:
        upper.federated_digests()
    assert "目录管理节点" in str(refused.value) or "catalogue node" in str(refused.value)
    engine = make_engine(city.settings.db_url)
    with unit_of_work(session_factory(engine)) as session:
        assert session.scalar(select(func.count()).select_from(CatalogueEntry)) == 0
    engine.dispose()


def _city_reader(city: Platform) -> Caller:
    """临江市民政局 at the city, as its signed system calls."""
    with unit_of_work(city.sessions) as session:
        mzj = register_department(session, city.settings, code="mzj", name="临江市民政局",
                                  credit_code=credit_code_for("00250103"))
        return Caller.of_department(mzj, "soap")


def _population_entry(settings) -> dict:
    return {"classification": "101001002", "name": "临湖区户籍人口基础信息", "provider_unit": "户政科",
            "abstract": "临湖区户籍人口基础信息, 按公民身份号码共享。", "format_class": "接口",
            "format_type": "WebService",
            "items": [{"name": "公民身份号码", "data_type": "C", "length": 18}, {"name": "姓名", "data_type": "C",
                                                                            "length": 50}],
            "sharing_type": "无条件共享", "sharing_method": "接口", "update_cycle": "每日", "open_to_public": False,
            "access_point": f"{settings.base_url}/exchange"}


def test_a_physically_centralised_resource_is_read_at_the_city_from_the_records_the_district_delivered(pair):
    """部门平台节点, 物理集中: the district's records of its published resource reach the city as batches of
    the city's entry, signed by the district; a city department reads them there with the city's sharing
    rules and audit, and a change at the district follows."""
    from exchange import queries
    from exchange.submit import submit_document
    from registry.models import AuditEntry, CoreRecord
    from xsd import samples
    from xsd.batch import build_batch
    from xsd.registry import POPULATION_NS
    from xsd.registry import lookup as format_of

    city, district = pair
    platform = district.platform
    district.add_department("gafj", "临湖区公安分局", "00260103")
    code = district.publish_as("gafj", _population_entry(platform.settings))
    person = format_of("{%s}Person" % POPULATION_NS)
    people = list(samples.population_fields(3, seed=619))

    def load(rows) -> None:
        with unit_of_work(platform.sessions) as session:
            batch = build_batch([person.encode(p) for p in rows], provider_code=credit_code_for("00260103"),
                                resource_code=code, created=datetime.now(UTC), batch_id=uuid.uuid4())
            submit_document(session, batch, platform.settings.max_batch_bytes)

    load(people)
    reader = _city_reader(city)
    city.start()
    platform.start()
    _wait(lambda: code in _city_entries(city), "the resource at the city")
    there = _city_entries(city)[code].resource_code

    def at_city() -> int:
        with unit_of_work(city.sessions) as session:
            return session.scalar(select(func.count()).select_from(CoreRecord).where(CoreRecord.resource_code == there))

    _wait(lambda: at_city() >= 3, "the district's three people in the city's core", timeout=30)
    found = queries.query_records(Context(reader, city.sessions, city.settings), resource_code=there,
                                  keys=[people[0]["idNumber"]], purpose="低保资格核查")
    assert found.total == 1 and found.records[0].fields["name"] == people[0]["name"]
    with unit_of_work(city.sessions) as session:
        audited = session.scalars(select(AuditEntry).where(AuditEntry.operation == "exchange.query_records",
                                                           AuditEntry.resource_code == there)).all()
        assert [a.department_code for a in audited] == ["mzj"]

    moved = {**people[1], "domicileAddress": "临江市临湖区湖滨路88号"}
    load([moved])

    def address() -> str:
        rows = queries.query_records(Context(reader, city.sessions, replace(city.settings, audit=False)),
                                     resource_code=there, keys=[moved["idNumber"]]).records
        return rows[0].fields.get("domicileAddress", "") if rows else ""

    _wait(lambda: address() == "临江市临湖区湖滨路88号", "the district's change at the city", timeout=30)
    from registry.models import FederationFeed

    def feed() -> FederationFeed:
        with unit_of_work(platform.sessions) as session:
            found = session.get(FederationFeed, code)
            session.expunge(found)
            return found

    # the district counts the batch once the city's receipt is in, a moment after the city committed it
    _wait(lambda: feed().delivered == 4, "the district's count of the records delivered", timeout=10)
    assert feed().upper_code == there and feed().last_error == ""
    status = platform.federation("status")
    assert f"records of {code} -> {there} there: 4 delivered" in status.stdout, status.stdout


def test_a_suspended_node_is_refused_and_catches_up_once_reinstated(pair):
    city, district = pair
    first = district.publish(1)
    city.start()
    district.platform.start()
    _wait(lambda: first in _city_entries(city), "the first entry at the city")

    onboarding.suspend(city.context(), department="lhq", reason="目录上报数据质量整改")
    second = district.publish(2)
    time.sleep(4)  # the district pushes within a second; the city refuses it
    assert second not in _city_entries(city)
    status = district.platform.federation("status")
    assert status.returncode == 2 and "suspended" in status.stderr and "目录上报数据质量整改" in status.stderr, status
    assert "lhq\tcatalogue_node\tsuspended" in city.federation("nodes").stdout

    onboarding.reinstate(city.context(), department="lhq")
    _wait(lambda: second in _city_entries(city), "the entry published during the suspension, after it", timeout=90)


def test_a_logically_centralised_resource_is_answered_at_the_city_by_the_districts_service(pair, tmp_path):
    """部门平台节点, 逻辑集中: the district's resource answered live by its department's own service; its WSDL
    travels in the entry's document, the city stores it in its repository under the node's code and
    publishes its ports as the entry's bindingTemplates, so a city department's QueryRecords is forwarded
    to the service, with the city's sharing rules and audit."""
    from adapters.demo_services import household_service_app, seed_people
    from directory import wsdl_publishing
    from exchange import queries
    from registry.models import AuditEntry, WsdlDocument

    from ..conftest import LiveServer

    city, district = pair
    platform = district.platform
    people = seed_people(tmp_path / "hjgl.db", n=5, seed=11)
    service = LiveServer(household_service_app(tmp_path / "hjgl.db"), free_port()).start()
    try:
        district.add_department("gafj", "临湖区公安分局", "00260103")
        wsdl = requests.get(f"{service.url}/?wsdl", timeout=5).content
        wsdl_publishing.publish(district._as("gafj"), path="gafj/household.wsdl", content=wsdl, map_services=False)
        metadata = {**_population_entry(platform.settings), "name": "临湖区户籍登记信息(实时)",
                    "wsdl_path": "gafj/household.wsdl", "logical": True, "update_cycle": "实时"}
        metadata.pop("access_point")
        code = district.publish_as("gafj", metadata)
        reader = _city_reader(city)
        city.start()
        platform.start()
        _wait(lambda: code in _city_entries(city), "the logical resource at the city")
        there = _city_entries(city)[code]
        assert there.logical and there.wsdl_path == "lhq/gafj/household.wsdl"
        with unit_of_work(city.sessions) as session:
            stored = session.scalar(select(WsdlDocument).where(WsdlDocument.path == there.wsdl_path))
            assert stored is not None and stored.content == wsdl.decode()

        person = people[0]
        found = queries.query_records(Context(reader, city.sessions, city.settings), resource_code=there.resource_code,
                                      keys=[person["idNumber"]], purpose="低保资格核查")
        assert found.source == "provider" and found.total == 1
        assert found.records[0].fields["name"] == person["name"]
        with unit_of_work(city.sessions) as session:
            assert session.scalar(select(AuditEntry.department_code).where(
                AuditEntry.operation == "exchange.query_records",
                AuditEntry.resource_code == there.resource_code)) == "mzj"
    finally:
        service.stop()


def test_a_node_touches_only_its_own_entries_and_a_document_must_match_its_digest(pair, tmp_path):
    """Attacks on FederateEntries: an unsigned request; a document altered after its digest was taken;
    a node sending the code of an entry the city catalogued itself, or another node's: each refused or
    kept apart, nothing of anyone else's changed."""
    import json

    from client.exchange import Exchange

    city, district = pair
    code = district.publish(1)
    entries, _ = federation.outgoing(district.platform.context())
    [entry] = entries
    with unit_of_work(city.sessions) as session:  # an entry the city catalogued itself, with the same code
        own = register_department(session, city.settings, code="wjw", name="临江市卫生健康委员会",
                                  credit_code=credit_code_for("00250105"))
        create_user(session, username="wjw", password=PASSWORD, department=own, roles=("cataloguer",))
        city_user = Caller.of_user(session.scalar(select(User).where(User.username == "wjw")), "cli")
    city_code = workflow.create(Context(city_user, city.sessions, city.settings), metadata=_metadata(9)).resource_code
    assert city_code == code  # both numberings start at 000001
    city.start()
    env = district.platform.env
    upper = Exchange(city.url, key=env["GOVSHARE_UPPER_KEY"], cert=env["GOVSHARE_UPPER_CERT"],
                     ca=env["GOVSHARE_UPPER_CA"])

    unsigned = requests.post(f"{city.url}/exchange", timeout=30, headers={"Content-Type": "text/xml; charset=utf-8"},
                             data=(b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
                                   b'<ex:GetFederatedDigests xmlns:ex="http://govshare.local/xsd/exchange/1.0"/>'
                                   b"</soap:Body></soap:Envelope>"))
    assert unsigned.status_code == 500 and "wsse:" in unsigned.text

    altered = {**entry.document, "metadata": {**entry.document["metadata"], "name": "被篡改的名称"}}
    [result] = upper.federate([(code, entry.digest, json.dumps(altered, ensure_ascii=False))])
    assert result.outcome == "refused" and "digest" in result.reason
    assert upper.federated_digests() == {}

    [result] = upper.federate([(code, entry.digest, json.dumps(entry.document, ensure_ascii=False))])
    assert result.outcome == "created" and result.resource_code != city_code
    with unit_of_work(city.sessions) as session:
        mine = session.scalar(select(CatalogueEntry).where(CatalogueEntry.resource_code == city_code))
        assert mine.origin_code is None and mine.name == "临湖区出生医学证明信息 9" and mine.status == "draft"
        assert session.scalar(select(func.count()).select_from(CatalogueEntry)) == 2


def test_the_city_killed_mid_transfer_takes_the_rest_once_it_is_back(pair):
    city, district = pair
    codes = fill(district.platform.sessions, 1500)
    city.start()
    district.platform.start()
    _wait(lambda: len(_city_entries(city)) > 0, "the first 500 at the city", timeout=60)
    city.kill()  # within the next FederateEntries, most likely: its unit of work is lost whole
    partial = len(_city_entries(city))
    assert 0 < partial < 1500 and partial % 500 == 0, partial
    city.start()
    _wait(lambda: len(_city_entries(city)) == 1500, "all 1,500 at the city", timeout=120)
    with unit_of_work(city.sessions) as session:
        assert session.scalar(select(func.count(func.distinct(CatalogueEntry.origin_code)))) == 1500
        assert session.scalar(select(func.count()).select_from(CatalogueEntry)) == 1500
    assert set(_city_entries(city)) == set(codes)


def test_a_uddi_subscriber_at_the_city_follows_the_districts_entries(pair):
    """A UDDI subscription at the city (find_service in the node's businessEntity) reports what the district
    publishes, and - from the city's deletion log - what it withdraws again."""
    from lxml import etree

    from directory.uddi import store, subscription

    city, district = pair
    with unit_of_work(city.sessions) as session:
        mzj = register_department(session, city.settings, code="mzj", name="临江市民政局",
                                  credit_code=credit_code_for("00250103"))
        follower = Caller.of_user(create_user(session, username="mzj.follower", password=PASSWORD, department=mzj,
                                              roles=("consumer",)), "cli")
        node_business = session.scalar(select(Department.business_key).where(Department.code == "lhq"))
    saved = etree.Element(f"{{{subscription.SUB_NS}}}subscription")
    find = store.sub(etree.SubElement(saved, f"{{{subscription.SUB_NS}}}subscriptionFilter"), "find_service")
    find.set("businessKey", node_business)
    key = subscription.save_subscription(Context(follower, city.sessions, city.settings), subscriptions=[saved])[0] \
        .findtext(f"{{{subscription.SUB_NS}}}subscriptionKey")

    def changes() -> tuple[list[str], list[str]]:
        results = subscription.get_subscription_results(Context(follower, city.sessions, city.settings), key=key)
        listed = [info.get("serviceKey") for info in results.iter(store.q("serviceInfo"))]
        deleted = [k.text for bag in results.iter(f"{{{subscription.SUB_NS}}}keyBag")
                   if bag.findtext(f"{{{subscription.SUB_NS}}}deleted") == "true"
                   for k in bag.iter(store.q("serviceKey"))]
        return listed, deleted

    city.start()
    district.platform.start()
    code = district.publish(1)
    _wait(lambda: code in _city_entries(city) and _city_entries(city)[code].service_key, "the entry at the city")
    service_key = _city_entries(city)[code].service_key
    assert changes() == ([service_key], [])
    district.withdraw(code)
    _wait(lambda: _city_entries(city)[code].status == "withdrawn", "the withdrawal at the city", timeout=10)
    assert changes() == ([], [service_key])


def test_the_city_unreachable_is_the_districts_alert_and_job_row_until_a_round_succeeds(pair):
    """The district's federation peer is a loop of its ``govshare serve`` (the embedded default): its
    failing rounds are on the district's 后台作业 page and, after three, an alert; they clear once the city
    answers."""
    city, district = pair
    with unit_of_work(district.platform.sessions) as session:
        create_user(session, username="admin", password=PASSWORD, department=None, roles=("admin",))
    district.publish(1)
    district.platform.start()  # the city is not started: connection refused

    def federate_row() -> str:
        page = portal.get("/jobs").text.split('id="loops"', 1)[1].split("</table>", 1)[0]
        return dict(re.findall(r'<tr data-task="([^"]+)">(.*?)</tr>', page, flags=re.S)).get("govshare.federate", "")

    portal = Browser(district.platform.url)
    assert "退出" in portal.login("admin").text
    _wait(lambda: "后台任务持续失败" in portal.get("/alerts").text, "the alert of a federation failing", timeout=30)
    alerts_page = portal.get("/alerts").text
    assert "后台任务 上级平台目录上报 已连续失败" in alerts_page and 'href="/portal/jobs"' in alerts_page
    row = federate_row()
    assert "上级平台目录上报" in row and '<span class="badge overdue">失败</span>' in row and "ConnectionError" in row

    city.start()
    _wait(lambda: len(_city_entries(city)) == 1, "the district's entry at the city once it is up", timeout=90)
    _wait(lambda: "对账: 比对 1 条, 发送 1 条" in federate_row(), "the successful round on the page", timeout=30)
    assert "后台任务持续失败" not in portal.get("/alerts").text
    assert "<td>0</td>" in federate_row()  # no failures since the last success


def test_the_city_departments_that_use_a_districts_resource_are_told_when_it_goes_and_comes_back(pair):
    """A city department holding a grant of an entry from the district learns, in its 消息, that the district
    withdrew it (with the district's reason) and that it was published again (with the 信息项 changed)."""
    from governance import sharing
    from registry.models import Notice

    city, district = pair
    code = district.publish(1)
    with unit_of_work(city.sessions) as session:
        from registry.models import Certificate

        lhq = session.scalar(select(Department).where(Department.code == "lhq"))
        signed = session.scalar(select(Certificate.serial).where(Certificate.department_id == lhq.id))
        node = Caller.of_department(lhq, "federation", certificate_serial=signed)  # as FederateEntries verifies it
        mzj = register_department(session, city.settings, code="mzj", name="临江市民政局",
                                  credit_code=credit_code_for("00250103"))
        create_user(session, username="mzj", password=PASSWORD, department=mzj, roles=("consumer",))

    def push() -> str:
        documents = [entry.document for entry in federation.outgoing(district.platform.context())[0]]
        [received] = federation.receive(Context(node, city.sessions, city.settings), documents=documents)
        return received.resource_code

    there = push()
    sharing.grant(city.context(), resource_code=there, consumer_code="mzj")

    def told() -> list[str]:
        with unit_of_work(city.sessions) as session:
            return session.scalars(select(Notice.text).join(User, Notice.user_id == User.id).where(
                User.username == "mzj", Notice.subject == "resource").order_by(Notice.id)).all()

    district.withdraw(code)
    assert push() == there
    assert told() == [f"临江市临湖区人民政府已将「临湖区出生医学证明信息 1」({there}) 下架: 该资源已停止更新。"
                      "下架期间不能查询该资源; 重新发布后, 本部门的授权仍然有效。"]
    cataloguer = district._as("li.na")
    items = workflow.show(cataloguer, resource_code=code).entry.as_dict()["items"]
    workflow.edit(cataloguer.again(), resource_code=code,
                  changes={"items": [*items, {"name": "出生地点", "data_type": "C", "length": 100}]})
    workflow.submit(cataloguer.again(), resource_code=code)
    workflow.approve(district._as("shen.li"), resource_code=code)
    workflow.publish(district._as("shen.li"), resource_code=code)
    push()
    *_, again = told()
    assert again.startswith(f"「临湖区出生医学证明信息 1」({there}) 已重新发布 (第 ")
    assert again.endswith("版), 可以继续查询; 信息项有变化: 新增 出生地点, 请核对本部门的调用。")
