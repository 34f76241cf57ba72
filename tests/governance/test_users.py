"""Accounts, roles (三员分立), the password policy and the lock-out (governance.users, trust.passwords): the
actions on real databases (SQLite, and PostgreSQL when it answers), UDDI's get_authToken over real HTTP,
and the ``govshare admin user`` commands through the command's own parser."""

from __future__ import annotations

import hashlib
import io
import secrets
import threading
from dataclasses import replace
from datetime import timedelta

import pytest
import requests
from lxml import etree
from sqlalchemy import select

import server
from directory.accounts import create_user, register_department
from directory.demo import credit_code_for
from governance import users
from registry.clock import utcnow
from registry.db import unit_of_work
from registry.errors import Conflict, InvalidInput, NotFound, NotPermitted, PasswordRejected
from registry.models import AuditEntry, AuthToken, User
from tests.conftest import as_user
from trust import passwords

GOOD = "Lin-jiang-2026"  # meets the policy


@pytest.fixture
def city(sessions, settings):
    """公安局 and 民政局; two security administrators, an auditor and an admin of the platform; 民政局's
    consumer (mzj); every password ``Start-pass-01``."""
    with unit_of_work(sessions) as s:
        register_department(s, settings, code="gaj", name="临江市公安局", credit_code=credit_code_for("00250102"))
        mzj = register_department(s, settings, code="mzj", name="临江市民政局", credit_code=credit_code_for("00250103"))
        for name, roles, dept in (("security", ("security",), None), ("security2", ("security",), None),
                                  ("auditor", ("auditor",), None), ("admin", ("admin",), None),
                                  ("mzj", ("consumer",), mzj)):
            create_user(s, username=name, password="Start-pass-01", department=dept, roles=roles)
    return sessions


def row(sessions, username: str) -> User:
    with sessions() as s:
        return s.scalar(select(User).where(User.username == username))


def sign_in(sessions, settings, username: str, password: str, now=None) -> User:
    """``trust.passwords.authenticate`` in a unit of work of its own, as a front end calls it."""
    with unit_of_work(sessions) as s:
        return passwords.authenticate(s, settings, username, password, now or utcnow())


# --------------------------------------------------------------------------- hashing


def test_a_password_is_stored_as_argon2id_and_verified():
    stored = passwords.hash_password(GOOD)
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$") and GOOD not in stored
    assert passwords.verify(GOOD, stored) == passwords.Verdict(True, rehash=False)
    assert not passwords.verify("Lin-jiang-2027", stored).ok


def test_an_earlier_scrypt_hash_still_signs_in_and_is_made_again_as_argon2(city, settings):
    salt = secrets.token_bytes(16)
    legacy = f"scrypt${salt.hex()}${hashlib.scrypt(b'old-pw', salt=salt, n=2**14, r=8, p=1).hex()}"
    assert passwords.verify("old-pw", legacy) == passwords.Verdict(True, rehash=True)
    with unit_of_work(city) as s:
        s.scalar(select(User).where(User.username == "mzj")).password_hash = legacy
    sign_in(city, settings, "mzj", "old-pw")
    assert row(city, "mzj").password_hash.startswith("$argon2id$")
    sign_in(city, settings, "mzj", "old-pw")


def test_a_hash_of_other_argon2_parameters_asks_to_be_made_again():
    from argon2 import PasswordHasher

    assert passwords.verify(GOOD, PasswordHasher(time_cost=1, memory_cost=8192).hash(GOOD)).rehash


# --------------------------------------------------------------------------- the policy


@pytest.mark.parametrize(("password", "code", "chinese"), [
    ("Ab1-cd2", "PasswordTooShort", "密码至少须有 10 个字符。"),
    ("Ab1-" * 40, "PasswordTooLong", "密码不能超过 128 个字符。"),
    ("linjiang2026", "PasswordTooSimple", "密码须包含大写字母、小写字母、数字、其他符号中的至少 3 类。"),
    ("Zhang.Wei-2026", "PasswordContainsUsername", "密码不能包含用户名。"),
])
def test_each_rule_of_the_policy_is_refused_with_its_code_and_chinese_message(settings, password, code, chinese):
    with pytest.raises(PasswordRejected) as refused:
        passwords.check_policy(settings, password, "zhang.wei")
    assert refused.value.codes == [code]
    assert refused.value.errors[0].user_message == chinese
    assert refused.value.user_message == f"密码不符合要求: {chinese}"


def test_every_broken_rule_is_reported_at_once(settings):
    with pytest.raises(PasswordRejected) as refused:
        passwords.check_policy(settings, "zhangwei1", "zhangwei")
    assert refused.value.codes == ["PasswordTooShort", "PasswordTooSimple", "PasswordContainsUsername"]
    assert isinstance(refused.value, InvalidInput) and refused.value.field == "password"


def test_the_policy_follows_its_settings(settings):
    passwords.check_policy(replace(settings, password_min_length=6), "Ab1-cd", "x.y")
    with pytest.raises(PasswordRejected):
        passwords.check_policy(replace(settings, password_min_length=12), "Ab1-cdefgh", "x.y")


def test_a_generated_password_always_meets_the_policy(settings):
    for _ in range(30):
        password = passwords.generated_password(settings, "abc")
        passwords.check_policy(settings, password, "abc")
        assert len(password) >= 16


# --------------------------------------------------------------------------- user.create


def test_a_new_account_gets_a_generated_temporary_password_returned_once(city, settings):
    issued = users.create(as_user(city, settings, "security"), username="Mzj.Li", display_name="李明",
                          department="mzj", roles=["consumer", "provider"])
    account = issued.account
    assert (account.username, account.display_name, account.department_code, account.roles) == (
        "mzj.li", "李明", "mzj", ("provider", "consumer"))
    assert account.must_change_password and account.status == "active" and account.created_by == "security"
    stored = row(city, "mzj.li")
    assert issued.password not in stored.password_hash and passwords.verify(issued.password, stored.password_hash).ok
    assert passwords.must_change(sign_in(city, settings, "mzj.li", issued.password), settings, utcnow())


def test_a_given_first_password_meets_the_policy_and_may_be_lasting(city, settings):
    ctx = as_user(city, settings, "security")
    with pytest.raises(PasswordRejected) as refused:
        users.create(ctx, username="mzj.li", department="mzj", roles=["consumer"], password="mzj.li")
    assert "PasswordContainsUsername" in refused.value.codes and row(city, "mzj.li") is None
    issued = users.create(ctx, username="mzj.li", department="mzj", roles=["consumer"], password=GOOD,
                          temporary=False)
    assert issued.password is None and not issued.account.must_change_password


@pytest.mark.parametrize(("roles", "duties"), [(["admin", "auditor"], "平台管理员和审计员"),
                                               (["security", "auditor", "consumer"], "安全管理员和审计员"),
                                               (["admin", "security"], "平台管理员和安全管理员")])
def test_no_account_is_made_with_two_of_the_three_duties(city, settings, roles, duties):
    with pytest.raises(InvalidInput) as refused:
        users.create(as_user(city, settings, "security"), username="both", roles=roles)
    assert refused.value.code == "DutiesCombined" and refused.value.field == "roles"
    assert refused.value.user_message == f"三员分立: 一个账号不能同时担任{duties}。"
    assert row(city, "both") is None


@pytest.mark.parametrize(("inputs", "code", "field"), [
    ({"username": "1abc", "roles": ["auditor"]}, "InvalidUsername", "username"),
    ({"username": "a b", "roles": ["auditor"]}, "InvalidUsername", "username"),
    ({"username": "mzj", "roles": ["auditor"]}, "UsernameTaken", "username"),
    ({"username": "new.one", "roles": []}, "RolesRequired", "roles"),
    ({"username": "new.one", "roles": ["root"]}, "UnknownRole", "roles"),
    ({"username": "new.one", "roles": ["consumer"]}, "DepartmentRequired", "department"),
    ({"username": "new.one", "roles": ["consumer"], "department": "nosuch"}, "UnknownDepartment", "department"),
    ({"username": "new.one", "roles": ["auditor"], "display_name": "长" * 101}, "InvalidDisplayName", "display_name"),
])
def test_a_new_account_is_refused_with_what_is_wrong(city, settings, inputs, code, field):
    with pytest.raises((InvalidInput, Conflict, NotFound)) as refused:
        users.create(as_user(city, settings, "security"), **inputs)
    assert (refused.value.code, refused.value.field) == (code, field)
    assert refused.value.user_message and not refused.value.user_message.isascii()


def test_only_the_security_administrator_makes_accounts(city, settings):
    with pytest.raises(NotPermitted):
        users.create(as_user(city, settings, "admin"), username="new.one", roles=["auditor"])


# --------------------------------------------------------------------------- the security administrator's


def test_set_roles_checks_separation_of_duties_and_keeps_the_roles_on_refusal(city, settings):
    ctx = as_user(city, settings, "security")
    with pytest.raises(InvalidInput) as refused:
        users.set_roles(ctx, username="auditor", roles=["auditor", "security"])
    assert refused.value.code == "DutiesCombined"
    assert row(city, "auditor").roles == "auditor"
    assert users.set_roles(ctx, username="mzj", roles=["consumer", "cataloguer"]).roles == ("cataloguer", "consumer")


@pytest.mark.parametrize("act", [users.disable, users.enable, users.unlock, users.reset_password,
                                 lambda ctx, username: users.set_roles(ctx, username=username, roles=["consumer"])])
def test_no_one_changes_their_own_account_this_way(city, settings, act):
    with pytest.raises(NotPermitted) as refused:
        act(as_user(city, settings, "security"), username="security")
    assert refused.value.code == "OwnAccount" and "另一位安全管理员" in refused.value.user_message
    assert users.show(as_user(city, settings, "security2"), username="security").status == "active"


def test_disabling_ends_sessions_and_authtokens_and_enabling_lets_the_person_back(city, settings):
    with unit_of_work(city) as s:
        s.add(AuthToken(token_hash="f" * 64, user_id=row(city, "mzj").id, issued=utcnow(),
                        expires=utcnow() + timedelta(hours=1), discarded=False))
    ctx = as_user(city, settings, "security")
    account = users.disable(ctx, username="mzj", reason="调离")
    assert account.status == "disabled" and account.status_label == "已停用"
    assert row(city, "mzj").sessions_valid_from is not None
    with city() as s:
        assert s.get(AuthToken, "f" * 64).discarded
    with pytest.raises(InvalidInput) as refused:
        sign_in(city, settings, "mzj", "Start-pass-01")
    assert refused.value.code == "BadCredentials"
    with pytest.raises(Conflict):
        users.disable(ctx, username="mzj")
    users.enable(ctx, username="mzj")
    sign_in(city, settings, "mzj", "Start-pass-01")


def test_a_reset_password_is_temporary_unlocks_and_ends_sessions(city, settings):
    with unit_of_work(city) as s:
        s.scalar(select(User).where(User.username == "mzj")).locked_until = utcnow() + timedelta(minutes=10)
    issued = users.reset_password(as_user(city, settings, "security"), username="mzj")
    assert issued.account.status == "active" and issued.account.must_change_password
    assert row(city, "mzj").sessions_valid_from is not None
    user = sign_in(city, settings, "mzj", issued.password)
    assert passwords.must_change(user, settings, utcnow())
    with pytest.raises(InvalidInput):
        sign_in(city, settings, "mzj", "Start-pass-01")


def test_the_list_shows_status_roles_department_and_password_age(city, settings):
    now = utcnow()
    with unit_of_work(city) as s:
        mzj = s.scalar(select(User).where(User.username == "mzj"))
        mzj.locked_until, mzj.password_changed_at = now + timedelta(minutes=5), now - timedelta(days=91)
        s.scalar(select(User).where(User.username == "admin")).active = False
    listed = {a.username: a for a in users.accounts(as_user(city, settings, "auditor", now=now))}
    assert sorted(listed) == ["admin", "auditor", "mzj", "security", "security2"]
    mzj = listed["mzj"]
    assert (mzj.status, mzj.password_expired, mzj.password_age_days) == ("locked", True, 91)
    assert listed["mzj"].department_name == "临江市民政局" and listed["mzj"].role_labels == ["使用方"]
    assert listed["admin"].status == "disabled" and listed["auditor"].status == "active"
    assert [a.username for a in users.accounts(as_user(city, settings, "security"), department="mzj")] == ["mzj"]
    with pytest.raises(NotPermitted):
        users.accounts(as_user(city, settings, "admin"))


# --------------------------------------------------------------------------- user.change_password


def test_changing_the_password_asks_for_the_current_one_and_counts_a_wrong_one(city, settings):
    with pytest.raises(InvalidInput) as refused:
        users.change_password(as_user(city, settings, "mzj"), current_password="wrong", new_password=GOOD)
    assert refused.value.code == "WrongPassword" and refused.value.field == "current_password"
    assert row(city, "mzj").failed_logins == 1
    account = users.change_password(as_user(city, settings, "mzj"), current_password="Start-pass-01",
                                    new_password=GOOD)
    assert not account.must_change_password and account.failed_logins == 0
    sign_in(city, settings, "mzj", GOOD)


def test_a_new_password_may_not_be_one_of_the_last_ones(city, settings):
    settings = replace(settings, password_history=3)
    change = lambda old, new: users.change_password(as_user(city, settings, "mzj"),  # noqa: E731
                                                    current_password=old, new_password=new)
    change("Start-pass-01", "Second-pass-02")
    for again in ("Second-pass-02", "Start-pass-01"):
        with pytest.raises(PasswordRejected) as refused:
            change("Second-pass-02", again)
        assert refused.value.codes == ["PasswordReused"]
        assert refused.value.errors[0].user_message == "新密码不能与最近 3 次使用过的密码相同。"
    change("Second-pass-02", "Third-pass-03")
    change("Third-pass-03", "Fourth-pass-04")  # the last three: Fourth, Third, Second
    change("Fourth-pass-04", "Start-pass-01")
    assert len(row(city, "mzj").password_history) == 2


def test_an_expired_password_must_be_changed(city, settings):
    now = utcnow()
    with unit_of_work(city) as s:
        s.scalar(select(User).where(User.username == "mzj")).password_changed_at = now - timedelta(days=90)
    user = sign_in(city, settings, "mzj", "Start-pass-01", now)
    assert passwords.must_change(user, settings, now)
    assert not passwords.must_change(user, replace(settings, password_days=0), now)
    assert not passwords.must_change(user, settings, now - timedelta(seconds=1))


def test_the_console_has_no_password_of_its_own_to_change(city, settings):
    from trust import console

    with pytest.raises(NotPermitted) as refused:
        users.change_password(console.context(city, settings), current_password="x", new_password=GOOD)
    assert refused.value.code == "PersonOnly"


# --------------------------------------------------------------------------- the lock-out


def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(city, settings):
    now = utcnow()
    for _ in range(4):
        with pytest.raises(InvalidInput):
            sign_in(city, settings, "mzj", "wrong", now)
    assert row(city, "mzj").failed_logins == 4 and row(city, "mzj").locked_until is None
    with pytest.raises(InvalidInput):
        sign_in(city, settings, "mzj", "wrong", now)
    assert row(city, "mzj").locked_until == now + timedelta(minutes=15)
    with pytest.raises(NotPermitted) as refused:
        sign_in(city, settings, "mzj", "Start-pass-01", now)
    china = (now + timedelta(minutes=15, hours=8)).strftime("%Y-%m-%d %H:%M")
    assert refused.value.code == "AccountLocked"
    assert refused.value.user_message == (f"连续输错密码次数过多, 账户已锁定至 {china} (北京时间)。"
                                          "请届时再试, 或请安全管理员解锁。")


def test_after_the_lock_time_the_right_password_signs_in_and_the_count_starts_again(city, settings):
    now = utcnow()
    with unit_of_work(city) as s:
        user = s.scalar(select(User).where(User.username == "mzj"))
        user.failed_logins, user.locked_until = 3, now - timedelta(seconds=1)
    sign_in(city, settings, "mzj", "Start-pass-01", now)
    assert (row(city, "mzj").failed_logins, row(city, "mzj").locked_until) == (0, None)


def test_the_security_administrator_unlocks_an_account(city, settings):
    with unit_of_work(city) as s:
        s.scalar(select(User).where(User.username == "mzj")).locked_until = utcnow() + timedelta(minutes=10)
    assert users.show(as_user(city, settings, "security"), username="mzj").status == "locked"
    assert users.unlock(as_user(city, settings, "security"), username="mzj").status == "active"
    sign_in(city, settings, "mzj", "Start-pass-01")


def test_an_unknown_account_and_a_wrong_password_are_refused_alike(city, settings):
    refusals = []
    for username in ("nosuch", "mzj"):
        with pytest.raises(InvalidInput) as refused:
            sign_in(city, settings, username, "wrong")
        refusals.append((refused.value.code, refused.value.message, refused.value.user_message))
    assert refusals[0] == refusals[1] == ("BadCredentials", "wrong user name or password, or a disabled account",
                                          "用户名或密码错误, 或账户已停用。")


def test_wrong_passwords_at_the_same_time_are_each_counted(city, settings):
    def attempt():
        with pytest.raises(InvalidInput):
            sign_in(city, settings, "mzj", "wrong")

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert row(city, "mzj").failed_logins == 4


def test_a_suspended_departments_person_is_refused_after_the_right_password(city, settings):
    from registry.models import Department

    with unit_of_work(city) as s:
        s.scalar(select(Department).where(Department.code == "mzj")).status = "suspended"
    with pytest.raises(InvalidInput):
        sign_in(city, settings, "mzj", "wrong")
    with pytest.raises(NotPermitted) as refused:
        sign_in(city, settings, "mzj", "Start-pass-01")
    assert refused.value.code == "DepartmentSuspended"


# --------------------------------------------------------------------------- UDDI get_authToken


def _get_auth_token(live_server, username: str, password: str) -> etree._Element:
    body = (f'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
            f'<get_authToken xmlns="urn:uddi-org:api_v3" userID="{username}" cred="{password}"/>'
            "</soap:Body></soap:Envelope>")
    r = requests.post(f"{live_server.url}/uddi/security", data=body.encode(), timeout=30,
                      headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
    return etree.fromstring(r.content)


def _err(reply: etree._Element) -> tuple[str | None, str]:
    info = reply.find(".//{urn:uddi-org:api_v3}errInfo")
    return (None, "") if info is None else (info.get("errCode"), info.text or "")


def test_get_auth_token_counts_wrong_passwords_and_locks_like_the_portal(city, settings, live_server):
    for _ in range(5):
        assert _err(_get_auth_token(live_server, "mzj", "wrong"))[0] == "E_unknownUser"
    code, text = _err(_get_auth_token(live_server, "mzj", "Start-pass-01"))
    assert code == "E_unknownUser" and "locked" in text
    with unit_of_work(city) as s:
        s.scalar(select(User).where(User.username == "mzj")).locked_until = utcnow() - timedelta(seconds=1)
    assert _get_auth_token(live_server, "mzj", "Start-pass-01").findtext(".//{urn:uddi-org:api_v3}authInfo")


def test_get_auth_token_refuses_a_temporary_password_until_it_is_changed(city, settings, live_server):
    issued = users.reset_password(as_user(city, settings, "security"), username="mzj")
    code, text = _err(_get_auth_token(live_server, "mzj", issued.password))
    assert code == "E_unknownUser" and "temporary or expired" in text
    users.change_password(as_user(city, settings, "mzj"), current_password=issued.password, new_password=GOOD)
    assert _get_auth_token(live_server, "mzj", GOOD).findtext(".//{urn:uddi-org:api_v3}authInfo")


# --------------------------------------------------------------------------- govshare admin user


@pytest.fixture
def govshare(city, settings, capsys, monkeypatch):
    def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        args = server.parser().parse_args(["admin", "user", *argv])
        code = args.handler(args, city, settings)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_the_command_line_creates_lists_and_resets_accounts(govshare, city, settings):
    code, out, _ = govshare("create", "wjw.zhang", "--name", "张伟", "--department", "mzj", "--roles",
                            "cataloguer,provider")
    assert code == 0 and out.startswith("account wjw.zhang created (目录管理员、提供方, 临江市民政局; active)")
    password = out.split("to be changed at the first sign-in): ")[1].strip()
    assert passwords.verify(password, row(city, "wjw.zhang").password_hash).ok
    code, out, _ = govshare("list", "--department", "mzj")
    assert code == 0 and "wjw.zhang  张伟  mzj  cataloguer,provider  active  须修改密码  password 0 days old" in out
    code, out, _ = govshare("reset-password", "wjw.zhang")
    assert code == 0 and "temporary password (shown once" in out
    assert govshare("disable", "wjw.zhang", "--reason", "调离")[:2] == (
        0, "account wjw.zhang disabled (目录管理员、提供方, 临江市民政局; disabled)\n")
    assert govshare("enable", "wjw.zhang")[0] == 0
    code, out, _ = govshare("show", "wjw.zhang")
    assert code == 0 and out.startswith("wjw.zhang  张伟  mzj")


def test_the_command_line_refuses_two_duties_with_exit_status_2(govshare, city):
    code, out, err = govshare("roles", "auditor", "auditor,admin")
    assert (code, out) == (2, "") and "三员分立" in err and err.startswith("error: one account may not hold")
    code, _, err = govshare("create", "both", "--roles", "security,auditor")
    assert code == 2 and "DutiesCombined" not in err and "may not hold security and auditor" in err
    assert row(city, "auditor").roles == "auditor" and row(city, "both") is None


def test_the_command_line_takes_a_first_password_from_stdin_and_checks_it(govshare, city):
    code, _, err = govshare("create", "wjw.li", "--roles", "auditor", "--password-stdin", stdin="short\n")
    assert code == 2 and "at least 10 characters" in err
    code, out, _ = govshare("create", "wjw.li", "--roles", "auditor", "--password-stdin", "--no-temporary",
                            stdin=f"{GOOD}\n")
    assert code == 0 and "password (shown once" not in out
    assert not row(city, "wjw.li").must_change_password


def test_passwd_changes_ones_own_password_and_refuses_the_console(govshare, city, settings):
    code, out, _ = govshare("passwd", "--user", "mzj", "--stdin", stdin=f"Start-pass-01\n{GOOD}\n")
    assert code == 0 and out.startswith("password of mzj changed; it expires ")
    sign_in(city, settings, "mzj", GOOD)
    code, _, err = govshare("passwd", "--stdin", stdin=f"x\n{GOOD}\n")
    assert code == 2 and "give --user" in err


def test_a_security_administrator_cannot_disable_themselves_at_the_command_line(govshare):
    code, _, err = govshare("disable", "security", "--user", "security")
    assert code == 2 and "another security administrator" in err


def test_every_account_action_leaves_an_audit_entry(govshare, city):
    govshare("create", "wjw.zhang", "--department", "mzj", "--roles", "consumer")
    govshare("roles", "wjw.zhang", "admin,auditor")
    with city() as s:
        entries = [(e.operation, e.result) for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
    assert ("user.create", "ok") in entries and ("user.set_roles", "refused:DutiesCombined") in entries
