"""The UDDI v3 subscription API (spec 5.5) at /uddi/subscription, and notification of subscription
listeners - driven over real HTTP by an ordinary UDDI client: zeep, built from the node's own
``/uddi/subscription?wsdl`` (the unchanged OASIS binding), its authInfo from ``/uddi/security``."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest
import requests
import zeep
from lxml import etree
from zeep.exceptions import Fault

from directory.uddi.listener import Notifier, listeners, notify
from registry.clock import utcnow
from registry.db import unit_of_work
from registry.models import UddiNotification
from tests.conftest import LiveServer, free_port
from trust.actions import Context
from trust.auth import Caller
from wsdl.oasis import OASIS_DIR

from .conftest import NS, UDDI_NS

SUB_NS = "urn:uddi-org:sub_v3"
LISTENER_TMODEL = "uddi:uddi.org:v3_subscriptionlistener"


@pytest.fixture
def settings(settings):
    """Notification intervals down to a second, so that a test need not wait minutes."""
    return replace(settings, uddi_min_interval=1)


@pytest.fixture
def subscription(live_server):
    """The subscription API through zeep, from the node's own WSDL."""
    client = zeep.Client(f"{live_server.url}/uddi/subscription?wsdl",
                         settings=zeep.Settings(forbid_entities=False))
    return client.service


def _service(business_key: str, name: str, key: str | None = None) -> dict:
    service = {"businessKey": business_key, "name": [{"_value_1": name, "lang": "zh-CN"}]}
    if key:
        service["serviceKey"] = key
    return service


def _save(uddi, token, business_key, name, key=None) -> str:
    saved = uddi.publication.save_service(authInfo=token, businessService=[_service(business_key, name, key)])
    return saved.businessService[0].serviceKey


def _tick() -> None:
    """Wait for the next whole second: the platform's times are whole seconds, and a test must know which
    side of a period's start or end its changes fall."""
    time.sleep(1.05 - time.time() % 1)


def _period(start, end=None) -> dict:
    period = {"startPoint": start}
    if end is not None:
        period["endPoint"] = end
    return period


def _listed(result) -> list[str]:
    services = result.serviceList.serviceInfos
    return [] if services is None else [info.serviceKey for info in services.serviceInfo]


def _deleted(result) -> list[str]:
    return [key for bag in result.keyBag if bag.deleted for key in bag.serviceKey]


def test_a_zeep_client_follows_services_it_finds_changed_and_deleted(uddi, subscription, gaj):
    token = uddi.token(gaj.username)
    kept = _save(uddi, token, gaj.business_key, "人口基础信息查询")
    doomed = _save(uddi, token, gaj.business_key, "人口迁移信息查询")
    other = _save(uddi, token, gaj.business_key, "企业登记信息")
    _tick()
    start = utcnow()
    saved = subscription.save_subscription(authInfo=token, subscription=[{
        "subscriptionFilter": {"find_service": {
            "findQualifiers": {"findQualifier": ["approximateMatch"]}, "name": [{"_value_1": "人口%"}]}},
    }])[0]
    key = saved.subscriptionKey
    assert key.startswith("uddi:govshare.local:")
    assert saved.maxEntities == 1000 and saved.expiresAfter is not None
    uddi.publication.save_service(authInfo=token, businessService=[
        _service(gaj.business_key, "人口基础信息查询(新版)", kept), _service(gaj.business_key, "企业登记信息", other)])
    added = _save(uddi, token, gaj.business_key, "人口出生信息")
    unrelated = _save(uddi, token, gaj.business_key, "法人单位信息")
    uddi.publication.delete_service(authInfo=token, serviceKey=[doomed, unrelated])

    result = subscription.get_subscriptionResults(authInfo=token, subscriptionKey=key, coveragePeriod=_period(start))
    assert sorted(_listed(result)) == sorted([kept, added])  # the 企业 service changed too: not in the filter
    assert _deleted(result) == [doomed]  # the 法人 service went too: the filter never found it
    assert result.subscription.subscriptionKey == key and result.chunkToken is None
    assert result.coveragePeriod.startPoint.replace(tzinfo=None) == start

    before = subscription.get_subscriptionResults(authInfo=token, subscriptionKey=key, coveragePeriod=_period(
        start - timedelta(days=1), start - timedelta(seconds=1)))
    assert _listed(before) == [] and before.keyBag == []


def test_a_get_detail_filter_reports_its_entities_changed_in_full(uddi, subscription, gaj):
    token = uddi.token(gaj.username)
    watched = _save(uddi, token, gaj.business_key, "户籍人口信息")
    unwatched = _save(uddi, token, gaj.business_key, "流动人口信息")
    _tick()
    start = utcnow()
    key = subscription.save_subscription(authInfo=token, subscription=[{
        "subscriptionFilter": {"get_serviceDetail": {"serviceKey": [watched]}}}])[0].subscriptionKey
    _save(uddi, token, gaj.business_key, "户籍人口信息(2026版)", watched)
    _save(uddi, token, gaj.business_key, "流动人口信息(2026版)", unwatched)
    result = subscription.get_subscriptionResults(authInfo=token, subscriptionKey=key, coveragePeriod=_period(start))
    assert [s.serviceKey for s in result.serviceDetail.businessService] == [watched]
    assert result.serviceDetail.businessService[0].name[0]._value_1 == "户籍人口信息(2026版)"

    uddi.publication.delete_service(authInfo=token, serviceKey=[watched, unwatched])
    result = subscription.get_subscriptionResults(authInfo=token, subscriptionKey=key, coveragePeriod=_period(start))
    assert not (result.serviceDetail and result.serviceDetail.businessService) and _deleted(result) == [watched]


def test_results_come_in_chunks_of_max_entities(uddi, subscription, gaj):
    token = uddi.token(gaj.username)
    start = utcnow()
    saved = subscription.save_subscription(authInfo=token, subscription=[{
        "subscriptionFilter": {"find_service": {"businessKey": gaj.business_key}}, "maxEntities": 2}])
    key = saved[0].subscriptionKey
    made = [_save(uddi, token, gaj.business_key, f"资源{i}") for i in range(4)]
    uddi.publication.delete_service(authInfo=token, serviceKey=made[:1])
    seen, deleted, token_, period, chunks = [], [], None, _period(start), 0
    while True:
        result = subscription.get_subscriptionResults(authInfo=token, subscriptionKey=key, coveragePeriod=period,
                                                      chunkToken=token_)
        chunks += 1
        seen += _listed(result)
        deleted += _deleted(result)
        assert len(_listed(result)) + len(_deleted(result)) <= 2
        period = {"startPoint": result.coveragePeriod.startPoint, "endPoint": result.coveragePeriod.endPoint}
        token_ = result.chunkToken
        if token_ is None:
            break
    assert sorted(seen) == sorted(made[1:]) and deleted == made[:1] and chunks == 2


def test_the_node_grants_limits_and_an_expired_subscription_gives_no_results(uddi, subscription, gaj):
    token = uddi.token(gaj.username)
    asked = utcnow() + timedelta(days=400)
    saved = subscription.save_subscription(authInfo=token, subscription=[{
        "subscriptionFilter": {"find_tModel": {"name": {"_value_1": "uddi-org:%"},
                                               "findQualifiers": {"findQualifier": ["approximateMatch"]}}},
        "expiresAfter": asked, "maxEntities": 50000}])[0]
    granted = saved.expiresAfter.replace(tzinfo=None)
    assert timedelta(days=29) < granted - utcnow() <= timedelta(days=30) and saved.maxEntities == 1000

    soon = subscription.save_subscription(authInfo=token, subscription=[{
        "subscriptionFilter": {"find_tModel": {"name": {"_value_1": "x"}}},
        "expiresAfter": utcnow() + timedelta(seconds=5)}])[0]
    assert sorted(s.subscriptionKey for s in subscription.get_subscriptions(authInfo=token)) == \
        sorted([saved.subscriptionKey, soon.subscriptionKey])
    while utcnow() <= soon.expiresAfter.replace(tzinfo=None):
        time.sleep(0.2)
    assert [s.subscriptionKey for s in subscription.get_subscriptions(authInfo=token)] == [saved.subscriptionKey]
    with pytest.raises(Fault) as expired:
        subscription.get_subscriptionResults(authInfo=token, subscriptionKey=soon.subscriptionKey,
                                             coveragePeriod=_period(utcnow() - timedelta(hours=1)))
    assert "E_invalidKeyPassed" in expired.value.message and "expired" in expired.value.message


def test_a_subscription_is_its_publishers_alone(uddi, subscription, gaj, mzj):
    mine = uddi.token(gaj.username)
    theirs = uddi.token(mzj.username)
    key = subscription.save_subscription(authInfo=mine, subscription=[{
        "subscriptionFilter": {"find_business": {"name": [{"_value_1": "市公安局"}]}}}])[0].subscriptionKey
    assert subscription.get_subscriptions(authInfo=theirs) == []
    for call in (lambda: subscription.delete_subscription(authInfo=theirs, subscriptionKey=[key]),
                 lambda: subscription.get_subscriptionResults(authInfo=theirs, subscriptionKey=key,
                                                              coveragePeriod=_period(utcnow())),
                 lambda: subscription.save_subscription(authInfo=theirs, subscription=[{
                     "subscriptionKey": key, "subscriptionFilter": {"find_business": {"name": [{"_value_1": "x"}]}}}])):
        with pytest.raises(Fault) as refused:
            call()
        assert "E_userMismatch" in refused.value.message
    subscription.delete_subscription(authInfo=mine, subscriptionKey=[key])
    assert subscription.get_subscriptions(authInfo=mine) == []
    with pytest.raises(Fault) as gone:
        subscription.delete_subscription(authInfo=mine, subscriptionKey=[key])
    assert "E_invalidKeyPassed" in gone.value.message


def test_a_publisher_names_its_subscription_key_in_its_own_partition(uddi, subscription, gaj):
    token = uddi.token(gaj.username)
    key = f"{gaj.partition}:subscription:population"
    saved = subscription.save_subscription(authInfo=token, subscription=[{
        "subscriptionKey": key.upper(), "subscriptionFilter": {"find_service": {"name": [{"_value_1": "x"}]}}}])
    assert saved[0].subscriptionKey == key
    with pytest.raises(Fault) as refused:
        subscription.save_subscription(authInfo=token, subscription=[{
            "subscriptionKey": "uddi:mzj.govshare.local:mine",
            "subscriptionFilter": {"find_service": {"name": [{"_value_1": "x"}]}}}])
    assert "E_keyUnavailable" in refused.value.message


def _auth(request_xml: str, token: str) -> str:
    return request_xml.replace("AUTH", f"<uddi:authInfo>{token}</uddi:authInfo>")


def _sub(inner: str) -> str:
    return f'<save_subscription xmlns="{SUB_NS}" xmlns:uddi="{UDDI_NS}">AUTH{inner}</save_subscription>'


@pytest.mark.parametrize(("request_xml", "err_code"), [
    (_sub("<subscription><subscriptionFilter><uddi:find_relatedBusinesses><uddi:businessKey>uddi:a:b"
          "</uddi:businessKey></uddi:find_relatedBusinesses></subscriptionFilter></subscription>"), "E_unsupported"),
    (_sub("<subscription><subscriptionFilter><uddi:get_assertionStatusReport/></subscriptionFilter></subscription>"),
     "E_unsupported"),
    (_sub("<subscription><subscriptionFilter><uddi:find_service><uddi:name>x</uddi:name></uddi:find_service>"
          "</subscriptionFilter><uddi:bindingKey>uddi:govshare.local:nobody</uddi:bindingKey></subscription>"),
     "E_invalidKeyPassed"),
    (_sub("<subscription><subscriptionFilter><uddi:find_service><uddi:name>x</uddi:name></uddi:find_service>"
          "</subscriptionFilter><maxEntities>0</maxEntities></subscription>"), "E_invalidValue"),
    (_sub("<subscription><subscriptionFilter><uddi:find_service><uddi:name>x</uddi:name></uddi:find_service>"
          "</subscriptionFilter><expiresAfter>2001-01-01T00:00:00Z</expiresAfter></subscription>"), "E_invalidValue"),
    (_sub("<subscription><subscriptionFilter><uddi:find_service><uddi:tModelBag><uddi:tModelKey>not a key"
          "</uddi:tModelKey></uddi:tModelBag></uddi:find_service></subscriptionFilter></subscription>"),
     "E_invalidKeyPassed"),
    (_sub("<subscription/>"), "E_invalidValue"),
    (_sub("<subscription><subscriptionFilter><uddi:find_service/></subscriptionFilter>"
          "<notificationInterval>five minutes</notificationInterval></subscription>"), "E_invalidValue"),
    (f'<get_subscriptionResults xmlns="{SUB_NS}" xmlns:uddi="{UDDI_NS}">AUTH<subscriptionKey>uddi:govshare.local:no'
     "</subscriptionKey><coveragePeriod/></get_subscriptionResults>", "E_invalidKeyPassed"),
    (f'<get_subscriptions xmlns="{SUB_NS}"/>', "E_authTokenRequired"),
    (f'<find_service xmlns="{UDDI_NS}"><name>x</name></find_service>', "E_unsupported"),
])
def test_bad_requests_get_the_specifications_faults(post, token, gaj, request_xml, err_code):
    reply = post("subscription", _auth(request_xml, token(gaj.username)))
    assert reply.status == 500 and reply.err_code == err_code, reply.fault_string
    assert "could not complete" not in reply.fault_string


def test_a_chunk_token_of_another_period_or_made_up_is_refused(post, token, gaj):
    auth = token(gaj.username)
    saved = post("subscription", _auth(_sub("<subscription><subscriptionFilter><uddi:find_tModel/>"
                                            "</subscriptionFilter><maxEntities>1</maxEntities></subscription>"), auth))
    key = saved.payload.findtext(f"{{{SUB_NS}}}subscription/{{{SUB_NS}}}subscriptionKey")
    for chunk in ("1|2026-01-01T00:00:00|0000", "garbage"):
        reply = post("subscription", _auth(f'<get_subscriptionResults xmlns="{SUB_NS}" xmlns:uddi="{UDDI_NS}">AUTH'
                     f"<subscriptionKey>{key}</subscriptionKey><coveragePeriod/><chunkToken>{chunk}</chunkToken>"
                     "</get_subscriptionResults>", auth))
        assert reply.err_code == "E_invalidValue", reply.fault_string


def test_the_wsdl_imports_the_unchanged_oasis_subscription_binding(live_server):
    from pathlib import Path

    from wsdl.validation import fetch_url, validate_wsdl

    content = requests.get(f"{live_server.url}/uddi/subscription?wsdl", timeout=10).content
    info = validate_wsdl(content, base_url=f"{live_server.url}/uddi/subscription?wsdl",
                         fetch=lambda url: fetch_url(url, 10 * 1024 * 1024))
    assert sorted(op for port_type in info.port_types for op in port_type.operations) == [
        "delete_subscription", "get_subscriptionResults", "get_subscriptions", "save_subscription"]
    wsdl = etree.fromstring(content)
    imported = wsdl.find("{http://schemas.xmlsoap.org/wsdl/}import").get("location")
    assert imported == f"{live_server.url}/wsdl/uddi/uddi_sub_v3_binding.wsdl"
    address = wsdl.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address").get("location")
    assert address == f"{live_server.url}/uddi/subscription"
    shared = Path(__file__).parents[3] / "shared" / "specs" / "uddi-v3" / "oasis-original"
    for name in ("uddi_sub_v3_binding.wsdl", "uddi_sub_v3_portType.wsdl", "uddi_v3subscription.xsd",
                 "uddi_subr_v3_binding.wsdl", "uddi_subr_v3_portType.wsdl", "uddi_v3subscriptionListener.xsd"):
        served = requests.get(f"{live_server.url}/wsdl/uddi/{name}", timeout=10).content
        assert served == (OASIS_DIR / name).read_bytes(), name
        if shared.exists():
            assert served == (shared / name).read_bytes(), name


# ------------------------------------------------------------------------------------------- the listener


class Listener:
    """A subscription listener on loopback: a WSGI app that keeps every notify_subscriptionListener."""

    def __init__(self, port: int):
        self.port, self.url, self.received = port, f"http://127.0.0.1:{port}/listener", []
        self.server: LiveServer | None = None

    def app(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        self.received.append(etree.fromstring(body))
        answer = (b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
                  b'<dispositionReport xmlns="urn:uddi-org:api_v3"><result errno="0"/></dispositionReport>'
                  b"</soap:Body></soap:Envelope>")
        start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(answer)))])
        return [answer]

    def start(self) -> Listener:
        self.server = LiveServer(self.app, self.port).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def services(self, index: int = -1) -> tuple[list[str], list[str]]:
        """The serviceKeys listed and deleted in a notification received."""
        results = self.received[index].find(f".//{{{SUB_NS}}}subscriptionResultsList")
        listed = [info.get("serviceKey") for info in results.iterfind(".//u:serviceInfo", NS)]
        deleted = [k.text for bag in results.iterfind(f"{{{SUB_NS}}}keyBag")
                   if bag.findtext(f"{{{SUB_NS}}}deleted") == "true" for k in bag.iterfind("u:serviceKey", NS)]
        return listed, deleted


@pytest.fixture
def listener():
    made = Listener(free_port())
    yield made
    made.stop()


def _listener_binding(uddi, token, publisher, url: str) -> str:
    saved = uddi.publication.save_service(authInfo=token, businessService=[{
        "businessKey": publisher.business_key, "name": [{"_value_1": "目录变更接收"}],
        "bindingTemplates": {"bindingTemplate": [{
            "accessPoint": {"_value_1": url, "useType": "endPoint"},
            "tModelInstanceDetails": {"tModelInstanceInfo": [{"tModelKey": LISTENER_TMODEL}]}}]}}])
    return saved.businessService[0].bindingTemplates.bindingTemplate[0].bindingKey


def _notified_subscription(uddi, subscription, publisher, watched_business, listener) -> tuple[str, str]:
    token = uddi.token(publisher.username)
    binding = _listener_binding(uddi, token, publisher, listener.url)
    saved = subscription.save_subscription(authInfo=token, subscription=[{
        "subscriptionFilter": {"find_service": {"businessKey": watched_business}},
        "bindingKey": binding, "notificationInterval": "PT1S"}])[0]
    assert saved.notificationInterval is not None
    return saved.subscriptionKey, token


def _pass(sessions, settings) -> list:
    """A notification pass now, of everything changed until now (the server's passes leave out the last
    2 s, listener.SETTLE, for saves still committing); then the next second, so that what the test
    changes next falls in the next period."""
    outcomes = notify(sessions, settings, settle=timedelta(0))
    _tick()
    return outcomes


def test_a_listener_is_notified_of_a_change_once_and_not_when_nothing_changed(
        uddi, subscription, gaj, mzj, listener, sessions, settings):
    listener.start()
    key, _ = _notified_subscription(uddi, subscription, mzj, gaj.business_key, listener)
    gaj_token = uddi.token(gaj.username)
    service = _save(uddi, gaj_token, gaj.business_key, "户籍人口信息")
    outcomes = _pass(sessions, settings)
    assert [(o.key, o.outcome, o.entities) for o in outcomes] == [(key, "delivered", 1)]
    assert len(listener.received) == 1 and listener.services() == ([service], [])
    body = listener.received[0].find("{http://schemas.xmlsoap.org/soap/envelope/}Body")[0]
    assert etree.QName(body).text == "{urn:uddi-org:subr_v3}notify_subscriptionListener"

    assert [o.outcome for o in _pass(sessions, settings)] == ["unchanged"]
    assert len(listener.received) == 1  # nothing changed: nothing sent
    uddi.publication.delete_service(authInfo=gaj_token, serviceKey=[service])
    _pass(sessions, settings)
    assert len(listener.received) == 2 and listener.services() == ([], [service])
    with sessions() as session:
        assert [(n.outcome, n.entities) for n in session.query(UddiNotification).order_by(UddiNotification.id)] == \
            [("delivered", 1), ("delivered", 1)]


def test_a_listener_that_was_down_gets_the_whole_period_once_it_is_back(
        uddi, subscription, gaj, mzj, listener, sessions, settings, caplog):
    key, _ = _notified_subscription(uddi, subscription, mzj, gaj.business_key, listener)  # nothing listens yet
    gaj_token = uddi.token(gaj.username)
    first = _save(uddi, gaj_token, gaj.business_key, "户籍人口信息")
    with caplog.at_level("WARNING", logger="directory.uddi.listener"):
        assert [o.outcome for o in _pass(sessions, settings)] == ["failed"]
        second = _save(uddi, gaj_token, gaj.business_key, "流动人口信息")
        assert [o.outcome for o in _pass(sessions, settings)] == ["failed"]
    assert len([r for r in caplog.records if key in r.getMessage()]) == 1  # once per change of state
    operator = Context(Caller.platform("cli"), sessions, settings)
    [state] = listeners(operator, failing_only=True)
    assert state.key == key and state.last_outcome == "failed" and "ConnectionError" in state.last_detail
    listener.start()
    assert [o.outcome for o in _pass(sessions, settings)] == ["delivered"]
    assert len(listener.received) == 1 and sorted(listener.services()[0]) == sorted([first, second])
    with sessions() as session:
        outcomes = [n.outcome for n in session.query(UddiNotification).order_by(UddiNotification.id)]
    assert outcomes == ["failed", "failed", "delivered"]
    assert listeners(operator, failing_only=True) == [] and listeners(operator)[0].last_outcome == "delivered"


def test_the_servers_notifier_thread_delivers_on_its_own(uddi, subscription, gaj, mzj, listener, sessions, settings):
    listener.start()
    _notified_subscription(uddi, subscription, mzj, gaj.business_key, listener)
    notifier = Notifier(sessions, replace(settings, uddi_notify_seconds=1)).start()
    try:
        service = _save(uddi, uddi.token(gaj.username), gaj.business_key, "户籍人口信息")
        deadline = time.monotonic() + 15
        while not listener.received and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        notifier.stop()
    assert listener.received and listener.services(0) == ([service], [])


def test_a_published_catalogue_entry_reaches_a_subscriber(uddi, subscription, mzj, sessions, settings):
    from directory.accounts import create_user, register_department
    from directory.catalogue import workflow
    from directory.demo import credit_code_for
    from registry.models import CatalogueEntry
    from tests.conftest import as_user
    from tests.exchange.conftest import _publish

    with unit_of_work(sessions) as session:
        wjw = register_department(session, settings, code="wjw", name="市卫生健康委员会",
                                  credit_code=credit_code_for("00250110"))
        cataloguer = create_user(session, username="wjw-cataloguer", password="x", department=wjw,
                                 roles=("cataloguer",))
        reviewer = create_user(session, username="reviewer", password="x", department=None, roles=("reviewer",))
        business = wjw.business_key
    token = uddi.token(mzj.username)
    start = utcnow()
    key = subscription.save_subscription(authInfo=token, subscription=[{
        "subscriptionFilter": {"find_service": {"businessKey": business}}}])[0].subscriptionKey
    with unit_of_work(sessions) as session:
        code = _publish(session, settings, wjw, session.merge(cataloguer), session.merge(reviewer), "出生医学证明信息",
                        "101001002")
    with sessions() as session:
        service_key = session.query(CatalogueEntry).filter_by(resource_code=code).one().service_key
    result = subscription.get_subscriptionResults(authInfo=token, subscriptionKey=key, coveragePeriod=_period(start))
    assert _listed(result) == [service_key]

    workflow.withdraw(as_user(sessions, settings, "wjw-cataloguer"), resource_code=code, reason="停用")
    result = subscription.get_subscriptionResults(authInfo=token, subscriptionKey=key, coveragePeriod=_period(start))
    assert _listed(result) == [] and _deleted(result) == [service_key]


def test_several_passes_at_once_send_a_notification_once(uddi, subscription, gaj, mzj, listener, sessions, settings):
    listener.start()
    _notified_subscription(uddi, subscription, mzj, gaj.business_key, listener)
    _save(uddi, uddi.token(gaj.username), gaj.business_key, "户籍人口信息")
    when = utcnow()
    threads = [threading.Thread(target=notify, args=(sessions, settings, when), kwargs={"settle": timedelta(0)})
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(listener.received) == 1


def test_a_brief_subscription_gets_keys_only(uddi, subscription, gaj):
    token = uddi.token(gaj.username)
    start = utcnow()
    key = subscription.save_subscription(authInfo=token, subscription=[{
        "subscriptionFilter": {"find_service": {"businessKey": gaj.business_key}}, "brief": True}])[0].subscriptionKey
    service = _save(uddi, token, gaj.business_key, "户籍人口信息")
    result = subscription.get_subscriptionResults(authInfo=token, subscriptionKey=key, coveragePeriod=_period(start))
    assert result.serviceList is None
    assert [(bag.deleted, bag.serviceKey) for bag in result.keyBag] == [(False, [service])]


def test_a_listener_must_be_reachable_over_http(uddi, subscription, gaj):
    token = uddi.token(gaj.username)
    binding = _listener_binding(uddi, token, gaj, "mailto:uddi@gaj.example.gov.cn")
    with pytest.raises(Fault) as refused:
        subscription.save_subscription(authInfo=token, subscription=[{
            "subscriptionFilter": {"find_service": {"name": [{"_value_1": "x"}]}}, "bindingKey": binding}])
    assert "E_invalidValue" in refused.value.message and "accessPoint" in refused.value.message


def test_govshare_uddi_notify_runs_one_pass(uddi, subscription, gaj, mzj, listener, settings, capsys, monkeypatch,
                                            tmp_path):
    import server

    listener.start()
    _notified_subscription(uddi, subscription, mzj, gaj.business_key, listener)
    _save(uddi, uddi.token(gaj.username), gaj.business_key, "户籍人口信息")
    time.sleep(2.1)  # the command's pass leaves out the last 2 s (listener.SETTLE)
    monkeypatch.setenv("GOVSHARE_VAR", str(tmp_path))
    assert server.main(["--db-url", settings.db_url, "uddi", "notify"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 delivered, 0 failed, 0 unchanged"
    assert len(listener.received) == 1
