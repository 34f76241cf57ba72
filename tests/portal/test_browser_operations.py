"""The operators' pages in a real browser (Chromium, headless, as in test_browser.py): a refused
sign-in, the audit log's form errors and verify page, 交换监控's failed runs and the quarantine's
problems and refusals - all in Chinese, as the review found them in English or silent."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from registry.clock import utcnow
from registry.db import unit_of_work
from registry.models import AdapterQuarantine, SyncRun

from . import test_browser

chromium, signed_in, shot = test_browser.chromium, test_browser.signed_in, test_browser.shot  # its fixtures

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def test_a_wrong_password_is_refused_in_chinese(chromium, city, live_server):
    context = chromium.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/portal/login")
        page.fill("#username", "mzj")
        page.fill("#password", "wrong")
        page.click("button[type=submit]")
        assert page.inner_text("#login-error") == "用户名或密码错误, 或账户已停用。"
    finally:
        context.close()


def test_the_auditor_meets_chinese_form_errors_names_and_warnings(signed_in, city, live_server):
    auditor = signed_in("auditor")
    auditor.goto(f"{live_server.url}/portal/audit?since=2026-13-45&until=notadate")
    assert "不是有效的日期" in auditor.inner_text("#err-since")
    assert "不是有效的日期" in auditor.inner_text("#err-until")
    assert auditor.locator("#audit").count() == 0
    shot(auditor, "auditor-audit-date-errors")
    auditor.goto(f"{live_server.url}/portal/audit?operation=portal.login")
    row = auditor.inner_text("#audit tbody tr")
    assert "登录" in row and "门户" in row and "成功" in row
    auditor.click("#verify")
    report = auditor.inner_text("#verify-report")
    assert "哈希链完整" in report and "尚无签名检查点" in report and "checkpoint" not in report
    shot(auditor, "auditor-verify-chinese")


def test_the_admin_sees_failed_runs_and_chinese_quarantine_problems(signed_in, city, sessions, live_server):
    when = utcnow() - timedelta(hours=1)
    with unit_of_work(sessions) as session:
        failed = SyncRun(adapter="gaj-household", mode="full", status="failed", started=when, finished=when,
                         message="SourceError: unable to open database file")
        session.add(failed)
        session.flush()
        item = AdapterQuarantine(run_id=failed.id, adapter="gaj-household", source_key="K1", stage="map",
                                 rule="code.unmapped", field="sex",
                                 message="'?' is not in code table builtin:sex (column XB)",
                                 row={"GMSFHM": "K1", "XB": "?"}, row_identity="K1", status="open",
                                 created=datetime(2026, 12, 1), seen_run=failed.id, seen=datetime(2026, 12, 1))
        session.add(item)
        session.flush()
        number = item.id
    admin = signed_in("admin")
    admin.click("nav >> text=交换监控")
    assert "unable to open database file" in admin.inner_text("#failed-runs")
    admin.goto(f"{live_server.url}/portal/monitor/quarantine/item?id={number}")
    assert admin.inner_text("#problem") == "性别 (sex): 代码不在代码表中 — 源字段 XB 的值为 “?”"
    assert admin.get_attribute("input[name='col:XB']", "aria-invalid") == "true"
    admin.click("button:has-text('丢弃')")
    assert "丢弃隔离记录须填写理由" in admin.inner_text(".flash.error")
    shot(admin, "admin-quarantine-chinese")
