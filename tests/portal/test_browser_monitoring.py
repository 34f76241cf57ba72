"""运行监测 and 告警 in a real browser (Chromium, headless, as in test_browser.py): the auditor sees the
alert count on the 工作台, the figures per service and consumer, a service's page, and an alert that
leads to where it is acted on."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from registry.clock import utcnow
from registry.db import unit_of_work
from registry.models import RequestRecord, SyncRun

from . import test_browser

chromium, signed_in, shot = test_browser.chromium, test_browser.signed_in, test_browser.shot  # its fixtures

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _requests(sessions) -> None:
    """Four exchange queries by 民政局 (one refused) and two anonymous inquiries, ten minutes ago."""
    at = int((utcnow() - timedelta(minutes=10)).replace(tzinfo=UTC).timestamp() * 1000)
    rows = [("/exchange", "QueryRecords", "mzj", "101001002/000001", d, "ok" if d != 40 else "NotPermitted")
            for d in (10, 20, 30, 40)] + [("/uddi/inquiry", "find_service", None, None, d, "ok") for d in (5, 7)]
    with unit_of_work(sessions) as session:
        session.add_all([RequestRecord(started_ms=at + n, ended_ms=at + n + d, duration_ms=d, service=service,
                                       operation=operation, department_code=consumer, resource_code=resource,
                                       request_bytes=500, response_bytes=2000, result=result, client="10.0.0.9")
                         for n, (service, operation, consumer, resource, d, result) in enumerate(rows)])
        when = utcnow() - timedelta(hours=2)
        session.add(SyncRun(adapter="gaj-household", mode="full", status="failed", started=when, finished=when,
                            message="SourceError: unable to open database file"))


def test_the_auditor_reads_the_figures_a_service_and_the_alerts(signed_in, city, sessions, live_server):
    _requests(sessions)
    auditor = signed_in("auditor")
    assert auditor.inner_text("#alerts-tile strong") == "1"
    auditor.click("nav >> text=运行监测")
    assert auditor.inner_text("#total-requests") == "6" and auditor.inner_text("#total-errors") == "1"
    exchange = auditor.inner_text("#services tbody tr:has-text('/exchange')").split("\t")
    # percentile_cont of 10, 20, 30, 40 ms: 25.0, 38.5, 39.7; bytes 4 × 500 in, 4 × 2000 out
    assert [cell.strip() for cell in exchange] == ["/exchange", "4", "1", "25.0", "38.5", "39.7", "2000", "8000"]
    assert "民政局" in auditor.inner_text("#consumers tbody tr:has-text('mzj')")
    assert auditor.locator("svg.chart").count() == 1
    shot(auditor, "auditor-operations")
    auditor.click("#services >> text=/exchange")
    assert "服务 /exchange" in auditor.inner_text("h1")
    operation = auditor.inner_text("#operations tbody tr").split("\t")
    assert [cell.strip() for cell in operation][:3] == ["QueryRecords", "4", "1"]
    auditor.click("nav >> text=告警")
    row = auditor.inner_text("#alerts tbody tr.alert-adapter")
    assert "适配器同步失败" in row and "gaj-household" in row and "unable to open database file" in row
    shot(auditor, "auditor-alerts")
    auditor.click("#alerts >> text=前往处理")
    assert auditor.inner_text("h1") == "交换监控"


def test_the_screen_reads_on_a_wall_and_on_a_phone(signed_in, city, sessions, live_server):
    from operations import overview

    overview.forget()  # this test's database is new to what the server process counted before
    _requests(sessions)
    for width, height in ((1920, 1080), (390, 844)):
        auditor = signed_in("auditor", width=width, height=height)
        auditor.goto(f"{live_server.url}/portal/operations")
        auditor.click("#screen-link")
        auditor.wait_for_selector("h1:has-text('运行总览')")
        kpis = auditor.locator("#screen-kpis .kpi")
        assert kpis.count() == 5 and kpis.nth(1).inner_text().split()[:2] == ["已发布资源", "4"]
        assert "适配器同步失败" in auditor.inner_text("#screen-alerts")
        # nothing wider than the screen: the panels and charts fit it
        assert auditor.evaluate("document.documentElement.scrollWidth") <= width
        shot(auditor, f"screen-{width}")


def test_the_auditor_finds_the_failed_request_of_a_consumer_on_a_phone_too(signed_in, city, sessions, live_server):
    _requests(sessions)
    for width, height in ((1280, 900), (390, 844)):
        auditor = signed_in("auditor", width=width, height=height)
        auditor.goto(f"{live_server.url}/portal/operations")
        auditor.click("#requests-link")
        auditor.wait_for_selector("h1:has-text('请求明细')")
        assert auditor.inner_text("#request-total") == "6"
        auditor.fill("input[name=consumer]", "mzj")
        auditor.check("input[name=errors]")
        auditor.click("#request-filters button")
        auditor.wait_for_selector("#request-total:text('1')")
        row = auditor.inner_text("#requests tbody tr.failed")
        assert "临江市民政局" in row and "NotPermitted" in row and "40" in row
        # the page fits the screen; a wide table scrolls inside its own box
        assert auditor.evaluate("document.documentElement.scrollWidth") <= width
        shot(auditor, f"auditor-requests-{width}")
