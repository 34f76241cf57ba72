"""运行总览 (大屏) over real HTTP: the platform's departments, resources, grants, base databases, the
exchange's and the services' days, the departments publishing most, the latest resources and the alerts -
one audited read for the monitoring roles, refreshing itself."""

from __future__ import annotations

import re
from datetime import UTC, timedelta

import pytest
from sqlalchemy import func, select, update

from governance import sharing
from operations import overview
from registry.clock import utcnow
from registry.db import unit_of_work
from registry.models import AuditEntry, CoreRecord, RequestRecord
from tests.conftest import as_user


@pytest.fixture(autouse=True)
def _counted_afresh():
    """Each test's database is new to the counts a process keeps (the days ended, the base databases)."""
    overview.forget()


def _calls(sessions, ago: timedelta, results: tuple[str, ...]) -> None:
    at = int((utcnow() - ago).replace(tzinfo=UTC).timestamp() * 1000)
    with unit_of_work(sessions) as session:
        session.add_all([RequestRecord(started_ms=at + n, ended_ms=at + n + 5, duration_ms=5, service="/exchange",
                                       operation="QueryRecords", department_code="mzj",
                                       resource_code="101001002/000001", request_bytes=500, response_bytes=900,
                                       result=result, client="10.0.0.9") for n, result in enumerate(results)])


def test_the_overview_counts_what_the_platform_holds_and_did(city, sessions, settings):
    sharing.grant(as_user(sessions, settings, "gaj"), resource_code=city.conditional, consumer_code="mzj")
    _calls(sessions, timedelta(minutes=5), ("ok", "ok", "NotPermitted"))
    _calls(sessions, timedelta(days=1), ("ok",))
    seen = overview.overview(as_user(sessions, settings, "auditor"))
    assert (seen.departments, seen.by_mode) == (4, {"应用系统节点": 4})
    assert (seen.resources, seen.by_type) == (4, {"有条件共享": 2, "无条件共享": 2})
    assert seen.grants == 1
    # gaj's 3 people and 2 public ones (民政局's 3 are the same people, integrated), 市场监管局's 2 companies
    assert seen.records == {"人口基础信息": 5, "法人单位基础信息": 2}
    assert seen.top[:2] == [("gaj", "临江市公安局", 2), ("mzj", "临江市民政局", 1)]
    assert sorted(e.resource_code for e in seen.latest) == sorted(
        [city.conditional, city.unconditional, city.marriage, city.enterprise])
    assert len(seen.calls) == overview.DAYS and seen.calls_today == (3, 1)
    assert seen.calls[-2][1] + seen.calls[-1][1] == 4  # yesterday's (or, just after midnight, today's) one too
    assert sum(day["入库"] for _day, day in seen.received) == 10  # the fixture's five batches' records
    with sessions() as s:
        [entry] = s.execute(select(AuditEntry.user, AuditEntry.result, AuditEntry.record_count)
                            .where(AuditEntry.operation == "operations.overview")).all()
    assert tuple(entry) == ("auditor", "ok", 7)


def test_the_screen_is_the_monitoring_roles_and_refreshes_itself(browser, city, sessions):
    _calls(sessions, timedelta(minutes=5), ("ok", "Timeout"))
    page = browser("admin").get("/screen")
    assert page.status_code == 200
    text = page.text
    assert '<meta http-equiv="refresh" content="60">' in text and "运行总览" in text
    kpis = re.sub(r"<[^>]+>", " ", text.split('id="screen-kpis"')[1].split("</section>")[0])
    assert "已发布资源 4" in " ".join(kpis.split()) and "今日服务调用 2 失败 1" in " ".join(kpis.split())
    assert "人口基础信息" in text and ">5<" in text
    assert text.count("<svg") == 2  # received and calls
    auditor = browser("auditor")
    assert 'id="screen-link" href="/portal/screen"' in auditor.get("/operations").text
    assert 'id="screen-tile" href="/portal/screen"' in auditor.get("/").text
    assert 'id="screen-tile"' not in browser("gaj").get("/").text
    assert browser("gaj").get("/screen").status_code == 403


def test_what_is_costly_is_counted_again_only_after_a_while_and_today_at_every_read(city, sessions, settings):
    auditor = as_user(sessions, settings, "auditor")
    _calls(sessions, timedelta(days=2), ("ok",))
    first = overview.overview(auditor)
    _calls(sessions, timedelta(days=2), ("ok", "ok"))  # a late record of a day that has ended
    _calls(sessions, timedelta(seconds=30), ("ok",))
    with unit_of_work(sessions) as session:  # a person who moved away: no longer a current record
        session.execute(update(CoreRecord).where(CoreRecord.id == session.scalar(
            select(func.min(CoreRecord.id)).where(CoreRecord.effective_to.is_(None)))).values(effective_to=utcnow()))
    second = overview.overview(auditor.again())
    assert second.calls[:-1] == first.calls[:-1] and second.calls_today == (first.calls_today[0] + 1, 0)
    assert (second.records, second.records_counted) == (first.records, first.records_counted)
    overview.forget()
    third = overview.overview(auditor.again())
    assert sum(n for _day, n, _failed in third.calls) == sum(n for _day, n, _failed in first.calls) + 3
    assert third.records["人口基础信息"] == first.records["人口基础信息"] - 1
