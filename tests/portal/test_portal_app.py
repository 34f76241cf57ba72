"""What every portal page has, whatever its view: security headers, a refusal shown in Chinese
when a view lets an action's error through, and a form posted after the session idled out
sent back through sign-in rather than refused as a forged form."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

import portal.app
from portal.app import PortalConfig, create_app
from registry.errors import ExchangeError, NotFound, NotPermitted, Unavailable

from .conftest import Browser


def test_every_page_forbids_framing_sniffing_and_foreign_scripts(browser):
    r = browser().get("/login")
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    policy = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert 'rel="icon"' in r.text  # no favicon request that ends in 404


@pytest.mark.parametrize(("error", "status", "shown"), [
    (NotPermitted("x may not y", zh="您不能办理此事项。"), 403, "您不能办理此事项。"),
    (NotFound("no such entry", code="EntryNotFound"), 404, "没有该资源代码的目录条目"),
    (Unavailable("the database is down", code="DatabaseUnavailable"), 503, "平台数据库暂时无法提供服务"),
    (ExchangeError("NotAuthorized", "no grant: apply with govshare sharing apply"), 403, "可提交使用申请"),
])
def test_an_action_error_a_view_lets_through_is_a_chinese_page(settings, sessions, error, status, shown):
    app = create_app(settings, sessions, PortalConfig(secret="s" * 32))

    @app.route("/raises")
    def raises():
        raise error

    page = app.test_client().get("/raises")
    assert page.status_code == status
    text = page.get_data(as_text=True)
    assert shown in text and error.message not in text


def test_a_form_posted_after_the_session_idled_out_goes_back_through_sign_in(monkeypatch, live_server, city):
    b = Browser(live_server.url)
    b.login("mzj")
    b.get(f"/apply?code={city.conditional}")
    # the portal's clock moves on past the idle limit (30 minutes by default), however long the requests took
    later = time.time() + 31 * 60
    monkeypatch.setattr(portal.app, "time", SimpleNamespace(time=lambda: later))
    r = b.post(f"/apply?code={city.conditional}", {"purpose": "低保资格核查", "until": "2099-12-31"})
    assert r.status_code == 200 and "会话已超时" in r.text and "CSRF" not in r.text and "用户登录" in r.text
    r = b.post(r.url.split("/portal", 1)[1], {"username": "mzj", "password": "pw"})
    assert "使用申请" in r.text and "请填写" not in r.text  # back on the form, to send it again


def test_a_cookie_copied_before_sign_out_no_longer_signs_anyone_in(browser, city):
    b = browser("mzj")
    stolen = Browser(b.base.removesuffix("/portal"))
    stolen.http.cookies.update(b.http.cookies)
    assert stolen.get("/catalogue", allow_redirects=False).status_code == 200
    b.post("/logout", {})
    assert stolen.get("/catalogue", allow_redirects=False).status_code == 302
    again = browser("mzj")  # signing in again opens a new session
    assert again.get("/catalogue", allow_redirects=False).status_code == 200
