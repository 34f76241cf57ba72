"""用户管理 in a real browser (Chromium, headless, as in test_browser.py): the security administrator makes
an account, its holder signs in and must change the temporary password first, and 三员分立 is refused
in Chinese beside the roles; the lock-out is shown at sign-in.  Screenshots in ``artifacts/portal/``."""

from __future__ import annotations

import pytest

from directory.accounts import create_user, register_department
from directory.demo import credit_code_for
from registry.db import unit_of_work

from . import test_browser

chromium, signed_in, shot = test_browser.chromium, test_browser.signed_in, test_browser.shot  # its fixtures

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
GOOD = "Lin-jiang-2026"


@pytest.fixture
def people(sessions, settings):
    """民政局 with its consumer (mzj); the platform's security administrator and auditor; password ``pw``."""
    with unit_of_work(sessions) as s:
        mzj = register_department(s, settings, code="mzj", name="临江市民政局", credit_code=credit_code_for("00250103"))
        create_user(s, username="mzj", password="pw", department=mzj, roles=("consumer",))
        create_user(s, username="security", password="pw", department=None, roles=("security",), display_name="安全员")
        create_user(s, username="auditor", password="pw", department=None, roles=("auditor",))
    return sessions


def test_a_new_account_signs_in_and_must_change_its_temporary_password(signed_in, chromium, people, live_server):
    security = signed_in("security")
    security.click("nav >> text=用户管理")
    shot(security, "security-users")
    security.click("#new-user")
    security.fill("#username", "mzj.li")
    security.fill("#display_name", "李明")
    security.select_option("#department", "mzj")
    security.check("input[name=roles][value=consumer]")
    security.click("button:has-text('创建')")
    assert "仅显示这一次" in security.inner_text("main")
    temporary = security.inner_text("#issued-password")
    shot(security, "security-user-created")

    context = chromium.new_context(locale="zh-CN")
    try:
        person = context.new_page()
        person.set_default_timeout(15000)
        person.goto(f"{live_server.url}/portal/login")
        person.fill("#username", "mzj.li")
        person.fill("#password", temporary)
        person.click("button[type=submit]")
        person.wait_for_url("**/portal/password")
        assert "您的密码为临时密码, 请先设置新密码。" in person.inner_text(".flash.warning")
        person.goto(f"{live_server.url}/portal/catalogue")
        assert person.url.endswith("/portal/password")  # nothing else opens first
        person.fill("#current_password", temporary)
        person.fill("#new_password", "mzj.li-2026")
        person.fill("#confirm", "mzj.li-2026")
        person.click("button:has-text('修改密码')")
        assert person.inner_text("#err-new_password") == "密码不能包含用户名。"
        shot(person, "user-password-rules")
        person.fill("#current_password", temporary)
        person.fill("#new_password", GOOD)
        person.fill("#confirm", GOOD)
        person.click("button:has-text('修改密码')")
        person.wait_for_selector("text=密码已修改")
        person.click("nav >> text=资源目录")
        person.wait_for_url("**/portal/catalogue")  # not sent back to the password form
    finally:
        context.close()


def test_two_duties_are_refused_in_chinese_beside_the_roles(signed_in, people, live_server):
    security = signed_in("security")
    security.goto(f"{live_server.url}/portal/users")
    security.click("#user-auditor >> text=角色")
    security.check("input[name=roles][value=admin]")
    security.click("button:has-text('保存')")
    assert security.inner_text("#err-roles") == "三员分立: 一个账号不能同时担任平台管理员和审计员。"
    assert security.get_attribute("input[name=roles][value=auditor]", "checked") is not None
    shot(security, "security-duties-refused")


def test_the_lock_out_is_shown_at_sign_in(chromium, people, live_server):
    context = chromium.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        for password in ["wrong"] * 5 + ["pw"]:
            page.goto(f"{live_server.url}/portal/login")
            page.fill("#username", "mzj")
            page.fill("#password", password)
            page.click("button[type=submit]")
        message = page.inner_text("#login-error")
        assert message.startswith("连续输错密码次数过多, 账户已锁定至 ") and "(北京时间)" in message
        shot(page, "login-locked")
    finally:
        context.close()
