"""用户管理, 修改密码 and signing in with the lock-out, over real HTTP (the platform served on a loopback
port; SQLite, and PostgreSQL when it answers): every refusal in Chinese, the forced change of a
temporary or expired password, 三员分立 as a form error, and a disabled account's live session ended."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from directory.accounts import create_user, register_department
from directory.demo import credit_code_for
from registry.clock import china_text, utcnow
from registry.db import unit_of_work
from registry.models import AuditEntry, User

from .conftest import PASSWORD, Browser

GOOD = "Lin-jiang-2026"


@pytest.fixture
def people(sessions, settings):
    """民政局 with its consumer (mzj); the platform's security administrator, auditor and admin; password ``pw``."""
    with unit_of_work(sessions) as s:
        mzj = register_department(s, settings, code="mzj", name="临江市民政局", credit_code=credit_code_for("00250103"))
        create_user(s, username="mzj", password=PASSWORD, department=mzj, roles=("consumer",))
        for name in ("security", "auditor", "admin"):
            create_user(s, username=name, password=PASSWORD, department=None, roles=(name,))
    return sessions


def change(sessions, username: str, **values) -> None:
    with unit_of_work(sessions) as s:
        user = s.scalar(select(User).where(User.username == username))
        for name, value in values.items():
            setattr(user, name, value)


def row(sessions, username: str) -> User:
    with sessions() as s:
        return s.scalar(select(User).where(User.username == username))


def error_text(page, name: str) -> str:
    """The text of the form error ``err-<name>`` on ``page``."""
    found = re.search(rf'id="err-{name}">(.*?)</(?:p|ul)>', page.text, re.S)
    return re.sub(r"<[^>]+>", " ", found.group(1)) if found else ""


# --------------------------------------------------------------------------- signing in and the lock-out


def test_five_wrong_passwords_lock_the_account_and_the_page_says_until_when(browser, people, live_server):
    b = browser()
    for attempt in range(5):
        page = b.login("mzj", "wrong")
        assert "用户名或密码错误, 或账户已停用。" in page.text
        assert row(people, "mzj").failed_logins == (attempt + 1) % 5  # counted though the sign-in rolled back
    until = row(people, "mzj").locked_until
    page = b.login("mzj", PASSWORD)
    assert "退出" not in page.text
    assert f"账户已锁定至 {china_text(until)} (北京时间)" in page.text and "请安全管理员解锁" in page.text
    with people() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.operation == "portal.login")
                          .order_by(AuditEntry.seq.desc())).first()
    assert entry.result == "refused:AccountLocked" and entry.detail.endswith("(from 127.0.0.1)")
    change(people, "mzj", locked_until=utcnow() - timedelta(seconds=1))
    assert "退出" in b.login("mzj", PASSWORD).text


def test_an_unknown_account_is_refused_as_a_wrong_password_is(browser, people):
    b = browser()
    assert "连续 5 次输错密码, 账户将锁定 15 分钟" in b.get("/login").text
    assert b.login("nosuch", "wrong").text.count("用户名或密码错误, 或账户已停用。") == 1
    assert b.login("mzj", "wrong").text.count("用户名或密码错误, 或账户已停用。") == 1


# --------------------------------------------------------------------------- 修改密码 and the forced change


def test_a_temporary_password_sends_the_person_to_change_it_first(browser, people, live_server):
    security = browser("security")
    page = security.post("/users/new", {"username": "mzj.li", "display_name": "李明", "department": "mzj",
                                        "roles": "consumer", "password": "", "temporary": "1"})
    assert page.status_code == 200 and "仅显示这一次" in page.text
    temporary = re.search(r'id="issued-password">([^<]+)<', page.text).group(1)
    b = Browser(live_server.url)
    page = b.login("mzj.li", temporary.replace("&amp;", "&"))
    assert page.url.endswith("/portal/password") and "您的密码为临时密码, 请先设置新密码。" in page.text
    assert b.get("/catalogue").url.endswith("/portal/password")
    page = b.post("/password", {"current_password": temporary, "new_password": GOOD, "confirm": GOOD})
    assert "密码已修改" in page.text and page.url.endswith("/portal/")
    assert b.get("/catalogue", allow_redirects=False).status_code == 200


@pytest.mark.parametrize(("new", "shown"), [
    ("Ab1-cd2", ["密码至少须有 10 个字符。"]),
    ("linjiang2026", ["密码须包含大写字母、小写字母、数字、其他符号中的至少 3 类。"]),
    ("Mzj-linjiang-1", ["密码不能包含用户名。"]),
    ("mzj1", ["密码至少须有 10 个字符。", "密码须包含大写字母、小写字母、数字、其他符号中的至少 3 类。",
              "密码不能包含用户名。"]),
])
def test_every_rule_a_new_password_breaks_is_shown_in_chinese(browser, people, new, shown):
    b = browser("mzj")
    page = b.post("/password", {"current_password": PASSWORD, "new_password": new, "confirm": new})
    assert page.status_code == 422
    assert error_text(page, "new_password").split() == [word for line in shown for word in line.split()]


def test_a_wrong_current_password_and_a_mistyped_confirmation_are_refused(browser, people):
    b = browser("mzj")
    page = b.post("/password", {"current_password": "wrong", "new_password": GOOD, "confirm": GOOD})
    assert page.status_code == 422 and error_text(page, "current_password") == "当前密码不正确。"
    page = b.post("/password", {"current_password": PASSWORD, "new_password": GOOD, "confirm": GOOD + "x"})
    assert error_text(page, "confirm") == "两次输入的新密码不一致。"
    assert row(people, "mzj").failed_logins == 1


def test_a_recent_password_is_not_taken_again(browser, people):
    b = browser("mzj")
    b.post("/password", {"current_password": PASSWORD, "new_password": GOOD, "confirm": GOOD})
    second = "Second-pass-02"
    page = b.post("/password", {"current_password": GOOD, "new_password": second, "confirm": second})
    assert "密码已修改" in page.text
    page = b.post("/password", {"current_password": second, "new_password": GOOD, "confirm": GOOD})
    assert error_text(page, "new_password").strip() == "新密码不能与最近 5 次使用过的密码相同。"


def test_an_expired_password_must_be_changed_after_sign_in(browser, people, live_server):
    change(people, "mzj", password_changed_at=utcnow() - timedelta(days=91))
    b = Browser(live_server.url)
    page = b.login("mzj", PASSWORD)
    assert page.url.endswith("/portal/password") and "已超过 90 天未修改, 已过期" in page.text
    assert b.get("/query").url.endswith("/portal/password")
    b.post("/password", {"current_password": PASSWORD, "new_password": GOOD, "confirm": GOOD})
    assert b.get("/query", allow_redirects=False).status_code == 200


def test_changing_the_password_ends_the_accounts_other_sessions(browser, people):
    here, elsewhere = browser("mzj"), browser("mzj")
    here.post("/password", {"current_password": PASSWORD, "new_password": GOOD, "confirm": GOOD})
    assert here.get("/catalogue", allow_redirects=False).status_code == 200
    assert elsewhere.get("/catalogue", allow_redirects=False).status_code == 302


# --------------------------------------------------------------------------- 用户管理


def test_only_the_security_administrator_sees_and_opens_user_management(browser, people):
    security, mzj = browser("security"), browser("mzj")
    page = security.get("/users")
    assert page.status_code == 200 and "用户管理" in page.text and 'id="change-password"' in page.text
    assert '<a href="/portal/users">用户管理</a>' not in mzj.get("/").text
    assert mzj.get("/users").status_code == 403
    assert browser("admin").get("/users").status_code == 403  # 三员分立: the admin keeps no accounts
    assert page.headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in page.headers[
        "Content-Security-Policy"]


def test_the_list_shows_each_accounts_status(browser, people):
    change(people, "mzj", locked_until=utcnow() + timedelta(minutes=10), must_change_password=True)
    change(people, "auditor", active=False)
    change(people, "admin", password_changed_at=utcnow() - timedelta(days=100))
    page = browser("security").get("/users")
    rows = {name: re.search(rf'<tr id="user-{name}">(.*?)</tr>', page.text, re.S).group(1)
            for name in ("mzj", "auditor", "admin", "security")}
    assert "已锁定" in rows["mzj"] and "须修改密码" in rows["mzj"] and "解锁" in rows["mzj"]
    assert "已停用" in rows["auditor"] and "启用" in rows["auditor"]
    assert "密码已过期" in rows["admin"] and "100 天前修改" in rows["admin"]
    assert "本人账号" in rows["security"] and "停用" not in rows["security"]


def test_two_duties_are_refused_as_a_form_error(browser, people):
    security = browser("security")
    page = security.post("/users/auditor/roles", [("roles", "auditor"), ("roles", "admin")])
    assert page.status_code == 422
    assert error_text(page, "roles") == "三员分立: 一个账号不能同时担任平台管理员和审计员。"
    assert row(people, "auditor").roles == "auditor"
    page = security.post("/users/new", [("username", "both"), ("roles", "security"), ("roles", "auditor"),
                                        ("temporary", "1")])
    assert page.status_code == 422 and "三员分立" in error_text(page, "roles")


def test_a_new_accounts_errors_are_shown_beside_their_fields(browser, people):
    page = browser("security").post("/users/new", {"username": "1x", "roles": "consumer", "password": "short"})
    assert error_text(page, "username") == "用户名须为 3 到 64 个小写字母、数字或 . _ - , 以字母开头。"
    page = browser("security").post("/users/new", {"username": "new.one", "roles": "consumer"})
    assert error_text(page, "department") == "使用方须属于一个部门, 请选择所属部门。"
    page = browser("security").post("/users/new", {"username": "new.one", "roles": "auditor", "password": "short"})
    assert "密码至少须有 10 个字符。" in error_text(page, "password")


def test_disabling_ends_the_accounts_live_session(browser, people):
    mzj = browser("mzj")
    assert mzj.get("/catalogue", allow_redirects=False).status_code == 200
    page = browser("security").post("/users/mzj/disable", {})
    assert "账号 mzj 已停用, 其会话已结束。" in page.text
    assert mzj.get("/catalogue", allow_redirects=False).status_code == 302
    browser("security").post("/users/mzj/enable", {})
    assert browser("mzj").get("/catalogue", allow_redirects=False).status_code == 200


def test_a_reset_shows_the_temporary_password_once_and_unlocks(browser, people, live_server):
    change(people, "mzj", locked_until=utcnow() + timedelta(minutes=10))
    page = browser("security").post("/users/mzj/reset", {})
    temporary = re.search(r'id="issued-password">([^<]+)<', page.text).group(1).replace("&amp;", "&")
    assert "mzj 的密码已重置" in page.text and "锁定已解除" in page.text
    page = Browser(live_server.url).login("mzj", temporary)
    assert page.url.endswith("/portal/password")


def test_the_security_administrator_unlocks_and_cannot_disable_themselves(browser, people):
    change(people, "mzj", locked_until=utcnow() + timedelta(minutes=10))
    security = browser("security")
    assert "账号 mzj 已解锁。" in security.post("/users/mzj/unlock", {}).text
    assert row(people, "mzj").locked_until is None
    page = security.post("/users/security/disable", {})
    assert "未能办理: 不能停用、启用、解锁自己的账号" in page.text and row(people, "security").active
