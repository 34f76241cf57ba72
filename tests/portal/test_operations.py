"""The operators' pages over real HTTP: signing in and out (recorded, with the address), the
audit log (Chinese form errors, names beside codes, the last page for a page past it, CSV
export, the verify page in Chinese), 交换监控 (failed runs listed with why, days in China
time) and the adapter quarantine (problems in Chinese, the wrong column marked, refusals in
Chinese)."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from registry.clock import china_day_start, utcnow
from registry.db import unit_of_work
from registry.models import AdapterQuarantine, AuditEntry, InputBatch, SyncRun
from trust import audit

from .conftest import Browser


def _entries(sessions, operation: str) -> list[AuditEntry]:
    with sessions() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.operation == operation)
                                    .order_by(AuditEntry.seq)))


# -- signing in and out ------------------------------------------------------------------------------

def test_signing_in_and_out_is_recorded_with_who_and_from_where(browser, city, sessions):
    b = browser("mzj")
    assert b.post("/logout", {}).status_code == 200
    [signed_in] = _entries(sessions, "portal.login")
    assert (signed_in.result, signed_in.user, signed_in.department_code, signed_in.channel) == (
        "ok", "mzj", "mzj", "portal")
    assert signed_in.detail == "from 127.0.0.1"
    [signed_out] = _entries(sessions, "portal.logout")
    assert (signed_out.result, signed_out.user, signed_out.detail) == ("ok", "mzj", "from 127.0.0.1")


def test_a_refused_sign_in_says_so_in_chinese_and_is_recorded_with_the_name_given(browser, city, sessions):
    r = browser().login("nobody", "wrong")
    assert r.status_code == 200 and "用户名或密码错误, 或账户已停用。" in r.text and "退出" not in r.text
    [refused] = _entries(sessions, "portal.login")
    assert (refused.result, refused.user, refused.department_code) == ("refused:BadCredentials", "nobody", None)


# -- the audit log ------------------------------------------------------------------------------------

def test_an_audit_search_with_dates_that_are_not_dates_is_a_chinese_form_error(browser, city):
    r = browser("auditor").get("/audit", params={"since": "2026-13-45", "until": "notadate"})
    assert r.status_code == 422
    assert 'id="err-since"' in r.text and "起始日期 “2026-13-45” 不是有效的日期" in r.text
    assert 'id="err-until"' in r.text and "截止日期 “notadate” 不是有效的日期" in r.text
    assert 'id="audit"' not in r.text  # no entries shown as if nothing had been asked


def test_an_audit_window_that_ends_before_it_starts_is_a_chinese_form_error(browser, city):
    r = browser("auditor").get("/audit", params={"since": "2026-12-05", "until": "2026-12-01"})
    assert r.status_code == 422 and "截止日期早于起始日期" in r.text


def test_audit_entries_name_operations_departments_channels_and_results(browser, city):
    mzj = browser("mzj")
    mzj.post("/apply", {"code": city.conditional, "purpose": "低保资格核查", "until": "2099-12-31"})
    r = browser("auditor").get("/audit", params={"operation": "sharing.apply"})
    row = r.text.split('<tbody>')[1].split("</tr>")[0]
    assert "使用申请" in row and "sharing.apply" in row
    assert "临江市民政局" in row and "门户" in row and "成功" in row


def test_a_page_past_the_last_shows_the_last_page(monkeypatch, request, city):
    monkeypatch.setenv("GOVSHARE_PORTAL_PAGE_SIZE", "2")
    b = Browser(request.getfixturevalue("live_server").url)
    b.login("auditor")
    sessions, settings = request.getfixturevalue("sessions"), request.getfixturevalue("settings")
    for _ in range(5):
        audit.record(sessions, settings, audit.AuditEvent("exchange.QueryRecords", department_code="mzj"))
    r = b.get("/audit", params={"operation": "exchange.", "page": 9999})
    assert "第 3 / 3 页" in r.text and "第 9999" not in r.text
    assert r.text.count("查询记录 (接口)") == 1  # the fifth entry alone on the last page


def test_the_audit_log_exports_what_the_search_finds_as_csv(browser, city):
    b = browser("auditor")
    r = b.get("/audit/export", params={"operation": "portal.login"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["user"] for row in rows] == ["auditor"] and rows[0]["entry_hash"]
    assert {"seq", "entry_hash", "entry_mac", "channel"} <= set(rows[0])


def test_the_verify_page_warns_in_chinese_when_no_checkpoint_is_signed(browser, city):
    r = browser("auditor").post("/audit/verify", {})
    assert "哈希链完整" in r.text and "尚无签名检查点: 日志末尾的记录若被删除将无法发现" in r.text
    assert "no signed checkpoint" not in r.text


def test_a_consumer_may_not_read_the_audit_log(browser, city, sessions):
    assert browser("mzj").get("/audit/export").status_code == 403


# -- monitoring ---------------------------------------------------------------------------------------

def test_monitoring_lists_the_failed_runs_with_why_in_china_time(browser, city, sessions):
    started = china_day_start(utcnow()) - timedelta(days=2) + timedelta(minutes=10)  # 00:10 China time, two days ago
    with unit_of_work(sessions) as session:
        session.add(SyncRun(adapter="gaj-household", mode="full", status="failed", started=started,
                            finished=started + timedelta(seconds=3),
                            message="SourceError: unable to open database file"))
        for _ in range(40):  # more runs after it than the run table shows
            session.add(SyncRun(adapter="mzj-marriage", mode="full", status="succeeded", started=utcnow(),
                                finished=utcnow()))
    r = browser("auditor").get("/monitor")
    failed = r.text.split('id="failed-runs"')[1].split("</table>")[0]
    assert "gaj-household" in failed and "unable to open database file" in failed
    assert (started + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S") in failed
    assert "gaj-household" not in r.text.split('id="runs"')[1]


def test_an_unknown_monitoring_period_is_said_in_chinese_and_the_day_shown(browser, city):
    auditor = browser("auditor")
    for path in ("/operations", "/operations/service"):
        page = auditor.get(path, params={"period": "9y", "name": "/exchange"})
        assert page.status_code == 400
        assert "没有“9y”这个时段, 请选择近 1 小时、近 24 小时、近 7 天、近 30 天。下面是近 24 小时的数据。" in page.text
        assert "<strong>近 24 小时</strong>" in page.text
    page = auditor.get("/operations", params={"period": "7d"})
    assert page.status_code == 200 and "<strong>近 7 天</strong>" in page.text and 'class="error"' not in page.text


def test_the_volume_chart_counts_days_in_china_time(browser, city, sessions):
    today = china_day_start(utcnow())  # 00:00 China time today, as UTC: yesterday 16:00
    with unit_of_work(sessions) as session:
        session.execute(update(InputBatch).values(received_at=today + timedelta(minutes=1)))
    r = browser("admin").get("/monitor")
    chart = r.text.split("<svg")[1].split("</svg>")[0]
    assert f">{(today + timedelta(hours=8)).strftime('%m-%d')}<" in chart
    assert f">{today.strftime('%m-%d')}<" not in chart  # the UTC day of the same instant


# -- the quarantine -----------------------------------------------------------------------------------

@pytest.fixture
def quarantined(sessions) -> list[int]:
    """Three open rows of the demo 公安局 adapter whose sex code (XB) is not in the code table."""
    when = datetime(2026, 12, 1, 8, 0)
    with unit_of_work(sessions) as session:
        run = SyncRun(adapter="gaj-household", mode="full", status="succeeded", started=when, finished=when)
        session.add(run)
        session.flush()
        rows = [AdapterQuarantine(run_id=run.id, adapter="gaj-household", source_key=f"K{n}", stage="map",
                                  rule="code.unmapped", field="sex",
                                  message="'?' is not in code table builtin:sex (column XB)",
                                  row={"GMSFHM": f"K{n}", "XB": "?", "XM": "张伟"}, row_identity=f"K{n}",
                                  status="open", created=when, seen_run=run.id, seen=when) for n in range(3)]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def test_the_quarantine_list_says_each_problem_in_chinese(browser, city, quarantined):
    r = browser("auditor").get("/monitor/quarantine")
    assert "性别 (sex): 代码不在代码表中 — 源字段 XB 的值为 “?”" in r.text
    assert "<td>映射</td>" in r.text and "is not in code table" not in r.text


def test_the_quarantine_list_of_an_unknown_adapter_says_so_in_chinese(browser, city, quarantined):
    r = browser("auditor").get("/monitor/quarantine", params={"adapter": "nosuch"})
    assert r.status_code == 404 and "没有名为 nosuch 的适配器" in r.text


def test_the_quarantine_list_past_its_last_page_shows_the_last_page(monkeypatch, request, city, quarantined):
    monkeypatch.setenv("GOVSHARE_PORTAL_PAGE_SIZE", "2")
    b = Browser(request.getfixturevalue("live_server").url)
    b.login("admin")
    r = b.get("/monitor/quarantine", params={"page": 9999})
    keys = re.findall(r'<td class="code">(K\d)</td>', r.text)  # not a bare "K0": a random CSRF token may hold one
    assert "第 2 / 2 页" in r.text and keys == ["K2"]


def test_a_quarantined_row_marks_the_column_it_concerns(browser, city, quarantined):
    r = browser("admin").get("/monitor/quarantine/item", params={"id": quarantined[0]})
    assert "性别 (sex): 代码不在代码表中" in r.text and "<span class=\"tag\">待处理</span>" in r.text
    assert 'name="col:XB" value="?" aria-label="XB" aria-invalid="true"' in r.text
    assert 'aria-label="XM" aria-invalid' not in r.text


def test_quarantine_refusals_are_chinese_and_recorded(browser, city, quarantined, sessions):
    b = browser("admin")
    r = b.post("/monitor/quarantine/item", {"id": quarantined[0], "act": "discard", "reason": " "})
    assert "操作未完成: 丢弃隔离记录须填写理由" in r.text
    r = b.post("/monitor/quarantine/item", {"id": quarantined[0], "act": "correct", "col:XB": "?", "col:XM": "张伟",
                                            "col:GMSFHM": "K0"})
    assert "没有修改任何源字段" in r.text
    r = b.post("/monitor/quarantine/item", {"id": quarantined[1], "act": "discard", "reason": "测试数据"})
    assert "已丢弃" in r.text and "已丢弃</span>" in r.text
    r = b.post("/monitor/quarantine/item", {"id": quarantined[1], "act": "discard", "reason": "again"})
    assert f"隔离记录 #{quarantined[1]} 已丢弃, 只有待处理的记录可以丢弃。" in r.text
    assert [e.result for e in _entries(sessions, "quarantine.discard")] == [
        "refused:ReasonRequired", "ok", "refused:QuarantineClosed"]
    assert all(e.channel == "portal" and e.user == "admin" for e in _entries(sessions, "quarantine.discard"))


def test_an_auditor_sees_the_quarantine_but_may_not_change_it(browser, city, quarantined):
    b = browser("auditor")
    r = b.get("/monitor/quarantine/item", params={"id": quarantined[0]})
    assert r.status_code == 200 and 'name="col:XB"' not in r.text
    assert b.post("/monitor/quarantine/item", {"id": quarantined[0], "act": "discard",
                                               "reason": "x"}).status_code == 403


def test_an_unknown_quarantine_item_is_a_chinese_404(browser, city):
    r = browser("admin").get("/monitor/quarantine/item", params={"id": 999999})
    assert r.status_code == 404 and "没有编号为 999999 的隔离记录。" in r.text


def test_the_monitoring_figures_export_as_csv_of_the_page_shown(browser, city, sessions):
    from datetime import UTC

    from registry.models import RequestRecord

    at = int((utcnow() - timedelta(minutes=10)).replace(tzinfo=UTC).timestamp() * 1000)
    with unit_of_work(sessions) as session:
        session.add_all([RequestRecord(started_ms=at + n, ended_ms=at + n + 10 * (n + 1), duration_ms=10 * (n + 1),
                                       service="/exchange", operation="QueryRecords", department_code=consumer,
                                       resource_code="101001002/000001", request_bytes=500, response_bytes=2000,
                                       result="ok" if n else "NotPermitted", client="10.0.0.9")
                         for n, consumer in enumerate(("mzj", "mzj", "mzj", "gaj"))])
    auditor = browser("auditor")
    page = auditor.get("/operations", params={"period": "1h"}).text
    assert 'id="export" href="/portal/operations/export?period=1h"' in page
    r = auditor.get("/operations/export", params={"period": "1h"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert re.fullmatch(r"attachment; filename=operations-\d{8}T\d{4}-\d{8}T\d{4}\.csv",
                        r.headers["Content-Disposition"])
    assert r.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the Chinese as UTF-8
    header, *rows = csv.reader(io.StringIO(r.content.decode("utf-8-sig")))
    assert header[:7] == ["起 (北京时间)", "止 (北京时间)", "分组", "键", "名称", "请求量", "错误"]
    found = {(row[2], row[3]): row for row in rows}
    assert found[("合计", "")][5:7] == ["4", "1"]
    assert found[("服务", "/exchange")][5:] == ["4", "1", "25.0", "38.5", "39.7", "2000", "8000"]
    assert found[("调用方", "mzj")][4:7] == ["临江市民政局", "3", "1"]

    one = auditor.get("/operations/consumer/export", params={"period": "1h", "code": "gaj"})
    [consumer] = [row for row in csv.reader(io.StringIO(one.content.decode("utf-8-sig"))) if row[2] == "合计"]
    assert consumer[5:7] == ["1", "0"]
    assert 'href="/portal/operations/consumer/export?' in auditor.get("/operations/consumer",
                                                                       params={"code": "gaj"}).text
    bad = auditor.get("/operations/export", params={"period": "9y"})
    assert bad.status_code == 400 and "没有“9y”这个时段, 请选择近 1 小时、近 24 小时、近 7 天、近 30 天。" in bad.text
    assert auditor.get("/operations/consumer/export").status_code == 404
    assert browser("mzj").get("/operations/export").status_code == 403


def test_a_week_of_monitoring_counts_the_same_once_its_days_are_summarised_and_says_so(browser, city, sessions,
                                                                                       settings):
    from datetime import UTC

    from registry import request_log
    from registry.models import RequestRecord

    now = utcnow().replace(tzinfo=UTC)
    with unit_of_work(sessions) as session:  # three days back, yesterday, and an hour ago
        session.add_all([RequestRecord(started_ms=int((now - timedelta(days=days)).timestamp() * 1000),
                                       ended_ms=0, duration_ms=37 + days, service="/exchange", operation="QueryRecords",
                                       department_code="mzj", resource_code="101001002/000001", request_bytes=500,
                                       response_bytes=2000, result="ok", client="10.0.0.9")
                         for days in (3, 1, 1 / 24)])
    auditor = browser("auditor")

    def week() -> str:
        page = auditor.get("/operations", params={"period": "7d"}).text
        return re.search(r'id="total-requests">(\d+)<', page).group(1), page

    before, page = week()
    assert before == "3" and 'id="summarised"' not in page
    assert request_log.summarise(sessions, settings)  # the days that have ended
    after, page = week()
    assert after == "3"
    assert re.search(r'<span id="summarised">其中 \d 天取自运行监测按日汇总: 请求量、错误与流量不变, '
                     r'耗时分位数的误差不超过 1/32。', page)


def test_the_requests_are_listed_one_by_one_filtered_and_exported(browser, city, sessions):
    from datetime import UTC

    from registry.models import RequestRecord

    at = int((utcnow() - timedelta(minutes=10)).replace(tzinfo=UTC).timestamp() * 1000)
    with unit_of_work(sessions) as session:
        session.add_all([RequestRecord(started_ms=at + n * 1000, ended_ms=at + n * 1000 + 12, duration_ms=12 + n,
                                       service="/exchange", operation="QueryRecords", department_code=consumer,
                                       system_code="MZJ-DB" if consumer == "mzj" else None,
                                       resource_code="101001002/000001", request_bytes=500, response_bytes=2000,
                                       result="NotPermitted" if n == 1 else "ok", client="10.0.0.9")
                         for n, consumer in enumerate(("mzj", "mzj", "gaj"))])
    auditor = browser("auditor")
    assert 'id="requests-link" href="/portal/operations/requests?period=24h"' in auditor.get("/operations").text
    assert ('href="/portal/operations/requests?period=24h&amp;consumer=mzj"'
            in auditor.get("/operations/consumer", params={"code": "mzj"}).text)

    page = auditor.get("/operations/requests").text
    assert re.search(r'id="request-total">3<', page)
    rows = page.split('<tbody>')[1].split("</tr>")[:3]
    assert "临江市公安局" in rows[0] and "14" in rows[0]  # the newest first
    assert 'class="failed"' in rows[1] and "失败: " in rows[1] and "NotPermitted" in rows[1] and "MZJ-DB" in rows[1]
    assert "成功" in rows[2] and "临江市民政局" in rows[2]

    errors = auditor.get("/operations/requests", params={"period": "24h", "consumer": "mzj", "errors": "1"}).text
    assert re.search(r'id="request-total">1<', errors) and 'name="errors" value="1" checked' in errors
    r = auditor.get("/operations/requests/export", params={"period": "24h", "consumer": "mzj"})
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
    assert re.fullmatch(r"attachment; filename=requests-\d{8}T\d{4}-\d{8}T\d{4}\.csv", r.headers["Content-Disposition"])
    header, *found = csv.reader(io.StringIO(r.content.decode("utf-8-sig")))
    assert header[:6] == ["开始 (北京时间)", "耗时 (ms)", "服务", "操作", "调用方", "调用方名称"]
    assert [(row[4], row[5], row[8], row[12]) for row in found] == [
        ("mzj", "临江市民政局", "MZJ-DB", "NotPermitted"), ("mzj", "临江市民政局", "MZJ-DB", "ok")]

    bad = auditor.get("/operations/requests", params={"period": "9y"})
    assert bad.status_code == 400 and "下面是近 1 小时的请求。" in bad.text
    assert browser("mzj").get("/operations/requests").status_code == 403
    assert browser("mzj").get("/operations/requests/export").status_code == 403
