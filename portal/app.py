"""The portal's Flask application: configuration, login sessions, CSRF, roles, the actions' context, error pages.

Sessions are Flask's signed cookies (``govshare_portal``, path ``/portal``, HttpOnly,
SameSite=Lax) holding the user id, a CSRF token and the time of the last request; any
number of server processes share them through one secret (``GOVSHARE_PORTAL_SECRET``, else
``<var>/portal-secret``, made on first use).  A session idle for longer than
``GOVSHARE_PORTAL_SESSION_MINUTES`` (default 30) is over: the next request goes to the
login page.  Every POST must carry the session's CSRF token (``csrf_token`` form field),
the login form included; a POST without it is refused with 400 and changes nothing.
Lists show ``GOVSHARE_PORTAL_PAGE_SIZE`` rows a page (20).
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import wraps
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, abort, flash, g, redirect, render_template, request, session, url_for
from markupsafe import Markup
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from registry.clock import china_midnight
from registry.db import DatabaseUnavailable
from registry.errors import (
    Conflict,
    GovshareError,
    InvalidInput,
    NotAuthorized,
    NotFound,
    NotPermitted,
    NotShared,
)
from registry.models import User
from registry.settings import Settings
from trust import notices
from trust.actions import Context
from trust.auth import CAPABILITIES, Caller, role_names

SESSION_COOKIE = "govshare_portal"
#: the signed-in account with its department and the number of its unread 站内消息 (built once: every page)
_SIGNED_IN = (select(User, notices.UNREAD).options(joinedload(User.department))
              .where(User.id == bindparam("uid")))


@dataclass(frozen=True)
class PortalConfig:
    """The portal's switches, read from the environment when the application is built."""

    session_minutes: float = 30.0
    secret: str = ""
    secure_cookie: bool = False
    page_size: int = 20

    @classmethod
    def from_env(cls, settings: Settings) -> PortalConfig:
        env = os.environ
        return cls(
            session_minutes=float(env.get("GOVSHARE_PORTAL_SESSION_MINUTES", "30")),
            secret=env.get("GOVSHARE_PORTAL_SECRET") or _secret_file(settings.var_dir),
            secure_cookie=env.get("GOVSHARE_PORTAL_SECURE_COOKIE", "0").lower() in ("1", "true", "yes", "on"),
            page_size=int(env.get("GOVSHARE_PORTAL_PAGE_SIZE", "20")),
        )


def _secret_file(var_dir: Path) -> str:
    """The signing secret kept under ``var/``, shared by the server processes of one machine.
    Processes started together make it once: the first link wins, and no process reads a
    secret half written."""
    path = var_dir / "portal-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, draft = tempfile.mkstemp(prefix=".portal-secret-", dir=path.parent)  # mode 0600
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
            with contextlib.suppress(FileExistsError):  # another process made it first: its secret holds
                os.link(draft, path)
        finally:
            os.unlink(draft)
    return path.read_text().strip()


def mounted(app: Callable, prefix: str) -> Callable:
    """``app`` served under ``prefix``: PATH_INFO moves into SCRIPT_NAME, as a WSGI mount does."""

    def wsgi(environ, start_response):
        path = environ.get("PATH_INFO", "") or ""
        if path == prefix:  # /portal -> /portal/
            start_response("301 Moved Permanently", [("Location", prefix + "/"), ("Content-Length", "0")])
            return [b""]
        environ = dict(environ)
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "").rstrip("/") + prefix
        environ["PATH_INFO"] = path[len(prefix):] or "/"
        return app(environ, start_response)

    return wsgi


def create_app(settings: Settings, sessions: sessionmaker[Session], config: PortalConfig | None = None) -> Flask:
    config = config or PortalConfig.from_env(settings)
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(
        SECRET_KEY=config.secret, SESSION_COOKIE_NAME=SESSION_COOKIE, SESSION_COOKIE_PATH="/portal",
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=config.secure_cookie,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    app.extensions["govshare"] = {"settings": settings, "sessions": sessions, "config": config}

    @app.before_request
    def _session_and_csrf():
        g.user = None
        if request.endpoint == "static":
            return
        now = time.time()
        seen = session.get("seen")
        if session.get("uid") is not None and seen is not None and now - seen > config.session_minutes * 60:
            session.clear()
            session["expired"] = True
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(32)
        if request.method == "POST":
            # a view that takes larger uploads (目录导入's workbooks) says how large, before the form is read
            limit = getattr(app.view_functions.get(request.endpoint), "max_upload", None)
            if limit is not None:
                request.max_content_length = limit
            sent = request.form.get("csrf_token", "")
            if session.get("expired") and request.endpoint != "auth.login":
                # the form was opened in a session that has since idled out: sign in again, then back to it
                session.pop("expired")
                flash("会话已超时, 本次提交未保存。请重新登录后再次提交。", "warning")
                return redirect(url_for("auth.login", next=request.full_path))
            if not hmac.compare_digest(sent, session["csrf"]):
                abort(400, description="表单已失效或来源不明 (CSRF 校验失败): 请刷新页面后重新提交。")
        uid = session.get("uid")
        if uid is not None:
            with sessions() as db:  # the account, its department and its unread 站内消息: one statement
                user, g.unread = db.execute(_SIGNED_IN, {"uid": uid}).unique().first() or (None, 0)
            if user is None or not user.active or _ended(user, session.get("begun", 0.0)):
                session.clear()
            elif user.department is not None and user.department.status != "active":
                session.clear()  # a suspended department's people are signed out at their next request
                flash(f"{user.department.name} 已被暂停接入平台, 请联系平台管理员。", "error")
            else:
                g.user = user
                session["seen"] = now

    @app.context_processor
    def _template_globals():
        user = g.get("user")
        granted = user.role_set if user is not None else set()
        return {
            "me": user, "unread": g.get("unread", 0) if user is not None else 0,
            "can": lambda capability: bool(set(granted) & CAPABILITIES[capability]),
            "role_labels": role_names(sorted(granted)), "csrf_field": _csrf_field, "page_url": _page_url,
        }

    @app.errorhandler(400)
    @app.errorhandler(403)
    @app.errorhandler(404)
    @app.errorhandler(413)
    @app.errorhandler(503)
    def _error(exc):
        titles = {400: "请求无效", 403: "无权访问", 404: "页面不存在", 413: "文件太大", 503: "暂不可用"}
        if exc.code == 413:
            exc.description = "上传的文件超过平台允许的大小, 未保存任何内容; 请拆分后分批上传。"
        return render_template("error.html", title=titles.get(exc.code, "错误"), message=exc.description,
                               code=exc.code), exc.code

    @app.errorhandler(GovshareError)
    def _refused(exc: GovshareError):
        """An action's refusal or failure that the view did not show itself: its Chinese message."""
        status = _CODE_STATUS.get(exc.code) or next(
            (code for kind, code in _STATUS.items() if isinstance(exc, kind)), 503 if exc.fault == "Server" else 400)
        if exc.fault == "Server":
            app.logger.warning("portal request failed: %s", exc)
        titles = {403: "无权操作", 404: "未找到", 409: "无法办理", 400: "请求无效", 503: "暂不可用"}
        return render_template("error.html", title=titles.get(status, "错误"), message=exc.user_message,
                               code=status), status

    @app.after_request
    def _security_headers(response):
        """No other site may frame the portal or have it run a script of theirs (its assets are its own)."""
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                                    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'; "
                                    "base-uri 'self'")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.errorhandler(DatabaseUnavailable)
    def _database_unavailable(exc):
        app.logger.warning("portal request failed: %s", exc)
        return render_template("error.html", title="暂不可用", code=503,
                               message="平台数据库暂时无法提供服务, 本次操作未完成, 请稍后重试。"), 503

    from .views import register_views

    register_views(app)
    return app


#: the HTTP status of a refusal, by its category
_STATUS = {NotPermitted: 403, NotAuthorized: 403, NotShared: 403, NotFound: 404, Conflict: 409, InvalidInput: 400}
#: ... and by its code, for the exchange's errors, which are named by code alone
_CODE_STATUS = {"NotAuthorized": 403, "NotShared": 403, "UnknownResource": 404, "UnknownDepartment": 404,
                "UnknownBatch": 404}


def _ended(user: User, begun: float) -> bool:
    """Whether the session, begun at ``begun`` (epoch seconds), was ended by a sign-out since."""
    valid_from = user.sessions_valid_from
    return valid_from is not None and begun < valid_from.replace(tzinfo=UTC).timestamp()


def _csrf_field() -> Markup:
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(session.get("csrf", ""))


def _page_url(page: int) -> str:
    args = request.args.to_dict(flat=False)
    args["page"] = [str(page)]
    return request.base_url + "?" + urlencode(args, doseq=True)


# ----------------------------------------------------------------------------- helpers for the views


def settings() -> Settings:
    from flask import current_app

    return current_app.extensions["govshare"]["settings"]


def portal_config() -> PortalConfig:
    from flask import current_app

    return current_app.extensions["govshare"]["config"]


def sessions() -> sessionmaker[Session]:
    from flask import current_app

    return current_app.extensions["govshare"]["sessions"]


@contextmanager
def reading():
    """A session for reading; nothing it does is committed."""
    with sessions()() as session:
        yield session


def context() -> Context:
    """The signed-in user's context for an action (channel ``portal``)."""
    return Context(Caller.of_user(g.user, "portal"), sessions(), settings())


def china_day(text: str, label: str, errors: dict[str, str], field: str, *, end: bool = False) -> datetime | None:
    """A form's China day (YYYY-MM-DD) as the naive UTC instant it starts (for ``end``, the next day starts);
    a text that is not a day is the form's error for ``field``, in Chinese, and None."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        errors[field] = f"{label} “{text}” 不是有效的日期, 请按 YYYY-MM-DD 填写 (如 2026-12-05)。"
        return None
    return china_midnight(day + timedelta(days=1) if end else day)


def requires(capability: str, *others: str):
    """The view needs a signed-in user with ``capability`` or one of ``others`` (trust.auth.CAPABILITIES); it only
    keeps a user from a page whose actions would all be refused - the actions check again."""
    roles = set().union(*(CAPABILITIES[c] for c in (capability, *others)))

    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            if g.get("user") is None:
                if session.pop("expired", False):
                    flash("会话已过期, 请重新登录。", "warning")
                return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
            if not set(g.user.role_set) & roles:
                abort(403, description=f"您的角色 ({'、'.join(role_names(sorted(g.user.role_set))) or '无'}) "
                                       f"无权使用此功能。")
            return view(*args, **kwargs)

        return guarded

    return decorate
