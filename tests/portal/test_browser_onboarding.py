"""登记 in a real browser (Chromium, headless, as in test_browser.py): an anonymous visitor applies from the
login page, the administrator approves it in 登记审核 and the department is found in the directory by its
name and its 统一社会信用代码, the administrator suspends and reinstates it in 部门管理, and a department's
user registers an application system in 应用系统."""

from __future__ import annotations

import pytest

from directory.demo import credit_code_for
from directory.taxonomies import PROVIDER_CODE

from . import test_browser
from .test_onboarding_pages import _find_business

chromium, signed_in, shot = test_browser.chromium, test_browser.signed_in, test_browser.shot  # its fixtures

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

WJW = credit_code_for("00250110")


def _apply_anonymously(chromium, live_server) -> None:
    context = chromium.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        page.goto(f"{live_server.url}/portal/login")
        page.click("#register-link")
        page.fill("#name", "临江市卫生健康委员会")
        page.fill("#code", "wjw")
        page.fill("#credit_code", "11330100002501108A")  # a wrong check character first
        page.fill("#division_code", "330100")
        page.select_option("#connection_mode", "front_node")
        page.fill("#contact_name", "王明")
        page.fill("#contact_phone", "0571-87000001")
        page.click("button:has-text('提交登记申请')")
        assert page.inner_text("#err-credit_code").startswith("11330100002501108A 不是有效的统一社会信用代码")
        shot(page, "visitor-register-errors")
        page.fill("#credit_code", WJW)
        page.click("button:has-text('提交登记申请')")
        assert "已提交: 临江市卫生健康委员会 (wjw)" in page.inner_text("#filed")
        shot(page, "visitor-register-filed")
    finally:
        context.close()


def test_a_visitor_applies_the_admin_approves_suspends_and_reinstates(chromium, signed_in, city, live_server):
    _apply_anonymously(chromium, live_server)
    admin = signed_in("admin")
    admin.click("nav >> text=登记审核")
    row = admin.locator("#registrations tbody tr", has_text="临江市卫生健康委员会")
    assert "前置交换节点" in row.inner_text() and "杭州市" in row.inner_text()
    shot(admin, "admin-registrations")
    row.locator("button:has-text('批准')").click()
    assert "临江市卫生健康委员会 (wjw) 已登记" in admin.inner_text(".flash.success")
    assert _find_business(live_server, '<name xml:lang="zh-CN">临江市卫生健康委员会</name>') == ["临江市卫生健康委员会"]
    by_code = f'<identifierBag><keyedReference tModelKey="{PROVIDER_CODE}" keyValue="{WJW}"/></identifierBag>'
    assert _find_business(live_server, by_code) == ["临江市卫生健康委员会"]
    admin.click("nav >> text=部门管理")
    row = admin.locator("#department-wjw")
    row.locator("button:has-text('暂停接入')").click()
    assert "请填写暂停原因" in admin.inner_text(".flash.error")
    admin.locator("#department-wjw input[name=reason]").fill("安全检查整改")
    admin.locator("#department-wjw button:has-text('暂停接入')").click()
    assert "已暂停" in admin.inner_text("#department-wjw") and "安全检查整改" in admin.inner_text("#department-wjw")
    shot(admin, "admin-department-suspended")
    admin.locator("#department-wjw button:has-text('恢复接入')").click()
    assert "临江市卫生健康委员会 已恢复接入。" in admin.inner_text(".flash.success")
    assert "正常" in admin.inner_text("#department-wjw")


def test_a_department_user_registers_an_application_system(signed_in, city):
    mzj = signed_in("mzj")
    mzj.click("nav >> text=应用系统")
    mzj.fill("#code", "Di Bao")
    mzj.fill("#name", "低保核对系统")
    mzj.click("#system-form button[type=submit]")
    assert mzj.inner_text("#err-code") == "系统代码须为 2 至 31 位小写字母、数字或连字符, 以字母开头。"
    mzj.fill("#code", "dibao")
    mzj.click("#system-form button[type=submit]")
    assert "应用系统 mzj.dibao (低保核对系统) 已登记。" in mzj.inner_text(".flash.success")
    assert "低保核对系统" in mzj.inner_text("#system-mzj\\.dibao")
    shot(mzj, "department-systems")
