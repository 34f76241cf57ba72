"""A database that cannot serve costs a request a clear fault within a stated bound, never a
hung thread: it does not answer at all (accepts TCP, says nothing), refuses connections, or
keeps a statement waiting on a lock or running past the statement timeout (PostgreSQL)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import requests
from lxml import etree
from sqlalchemy import text

import server
from registry.db import make_engine, serving_engine, session_factory
from registry.settings import Settings
from tests.conftest import LiveServer, free_port
from tests.portal.conftest import Browser

CONNECT_TIMEOUT = 2
#: what the README promises: a connection attempt for the request, another for its audit entry
BOUND = 2 * CONNECT_TIMEOUT
MARGIN = 3.0  # seconds for a slow, shared test machine
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
UDDI = "urn:uddi-org:api_v3"
EX = "http://govshare.local/xsd/exchange/1.0"
BATCH_STATUS = f'<ex:GetBatchStatus xmlns:ex="{EX}"><ex:batchId>{uuid.uuid4()}</ex:batchId></ex:GetBatchStatus>'
FIND_BUSINESS = f'<find_business xmlns="{UDDI}"><name>%</name></find_business>'
SAVE_BUSINESS = (f'<save_business xmlns="{UDDI}"><authInfo>no-such-token</authInfo>'
                 f'<businessEntity businessKey=""><name>临江市</name></businessEntity></save_business>')


@pytest.fixture(params=["silent", "refusing"])
def unavailable_platform(request, tmp_path) -> Iterator[LiveServer]:
    """The platform served over HTTP on a database that never answers, or that refuses."""
    url = (request.getfixturevalue("silent_database") if request.param == "silent"
           else f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/govshare")
    settings = Settings.from_env(db_url=url, var_dir=tmp_path, wss_policy="optional",
                                 db_connect_timeout=CONNECT_TIMEOUT)
    engine = serving_engine(settings)
    srv = LiveServer(server.build_app(settings, session_factory(engine)), free_port()).start()
    yield srv
    srv.stop()
    engine.dispose()


def _post(url: str, body: str) -> tuple[requests.Response, float]:
    started = time.monotonic()
    reply = requests.post(url, data=f'<s:Envelope xmlns:s="{SOAP_ENV}"><s:Body>{body}</s:Body></s:Envelope>'.encode(),
                          headers={"Content-Type": "text/xml"}, timeout=BOUND + 30)
    return reply, time.monotonic() - started


def _uddi_error(reply: requests.Response) -> tuple[str | None, str]:
    info = etree.fromstring(reply.content).find(f".//{{{UDDI}}}errInfo")
    return (info.get("errCode"), info.text) if info is not None else (None, reply.text[:300])


def test_an_exchange_request_gets_database_unavailable_in_time(unavailable_platform):
    reply, took = _post(f"{unavailable_platform.url}/exchange", BATCH_STATUS)
    root = etree.fromstring(reply.content)
    assert reply.status_code == 500 and root.findtext(".//faultcode") == "soap:Server"
    assert root.findtext(f".//{{{EX}}}code") == "DatabaseUnavailable"
    assert "try again later" in root.findtext(f".//{{{EX}}}message")
    assert took < BOUND + MARGIN


def test_a_uddi_inquiry_gets_e_busy_in_time(unavailable_platform):
    reply, took = _post(f"{unavailable_platform.url}/uddi/inquiry", FIND_BUSINESS)
    code, message = _uddi_error(reply)
    assert (reply.status_code, code) == (500, "E_busy") and "database" in message
    assert took < BOUND + MARGIN


def test_a_uddi_publication_gets_e_busy_in_time(unavailable_platform):
    reply, took = _post(f"{unavailable_platform.url}/uddi/publication", SAVE_BUSINESS)
    code, message = _uddi_error(reply)
    assert (reply.status_code, code) == (500, "E_busy") and "database" in message
    assert took < BOUND + MARGIN


def test_a_portal_sign_in_gets_a_page_that_says_so_in_time(unavailable_platform):
    browser = Browser(unavailable_platform.url)
    browser.get("/login")
    started = time.monotonic()
    page = browser.post("/login", {"username": "wang.fang", "password": "secret"})
    assert page.status_code == 503 and "平台数据库暂时无法提供服务" in page.text
    assert time.monotonic() - started < BOUND + MARGIN


def test_a_stored_wsdl_gets_a_503_that_says_so_in_time(unavailable_platform):
    started = time.monotonic()
    reply = requests.get(f"{unavailable_platform.url}/wsdl/platform/exchange.wsdl", timeout=BOUND + 30)
    assert reply.status_code == 503 and "database cannot serve the request now" in reply.text
    assert time.monotonic() - started < BOUND + MARGIN


# --------------------------------------------------------------- PostgreSQL: locks and long statements


@pytest.fixture
def locked(pg_database) -> Iterator[Callable[..., None]]:
    """Hold an exclusive lock on tables of the PostgreSQL test database, as a long migration or
    a stuck transaction would, until the test ends."""
    engine = make_engine(pg_database)
    conn = engine.connect()

    def lock(*tables: str) -> None:
        conn.execute(text(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE"))

    yield lock
    conn.rollback()
    conn.close()
    engine.dispose()


def _platform_on_postgresql(pg_database, tmp_path, **limits) -> LiveServer:
    settings = Settings.from_env(db_url=pg_database, var_dir=tmp_path, wss_policy="optional", **limits)
    return LiveServer(server.build_app(settings, session_factory(serving_engine(settings))), free_port()).start()


def test_a_request_kept_waiting_on_a_lock_gets_e_busy_after_the_lock_timeout(pg_database, tmp_path, locked):
    locked("uddi_entity")
    srv = _platform_on_postgresql(pg_database, tmp_path, db_lock_timeout=1, db_statement_timeout=0)
    try:
        reply, took = _post(f"{srv.url}/uddi/inquiry", FIND_BUSINESS)
    finally:
        srv.stop()
    code, message = _uddi_error(reply)
    assert code == "E_busy" and "a lock it needed was not free in time" in message
    assert took < 1 + MARGIN


def test_a_statement_running_past_the_statement_timeout_gets_database_unavailable(pg_database, tmp_path, locked):
    locked("input_batch")  # the statement waits, and no lock timeout ends the wait
    srv = _platform_on_postgresql(pg_database, tmp_path, db_lock_timeout=0, db_statement_timeout=1)
    try:
        reply, took = _post(f"{srv.url}/exchange", BATCH_STATUS)
    finally:
        srv.stop()
    root = etree.fromstring(reply.content)
    assert root.findtext(f".//{{{EX}}}code") == "DatabaseUnavailable"
    assert "a statement ran out of time" in root.findtext(f".//{{{EX}}}message")
    assert took < 1 + MARGIN


def test_only_requests_have_statement_and_lock_limits(pg_database):
    settings = Settings.from_env(db_url=pg_database, db_statement_timeout=60, db_lock_timeout=30)
    serving, commands = serving_engine(settings), make_engine(pg_database)
    try:
        with serving.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "1min"
            assert conn.execute(text("SHOW lock_timeout")).scalar() == "30s"
        with commands.connect() as conn:  # adapter runs, migrations and commands may run for hours
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "0"
            assert conn.execute(text("SHOW lock_timeout")).scalar() == "0"
    finally:
        serving.dispose()
        commands.dispose()
