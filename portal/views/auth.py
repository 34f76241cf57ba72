"""登录 / 退出: department users sign in with their account (directory.accounts).

Signing in and out are the actions ``portal.login`` and ``portal.logout``: each leaves an audit
entry naming who, from which address, and - for a refused sign-in - the account name given
(``refused:BadCredentials``; the message does not say whether the account exists).  The password is
checked by ``trust.passwords.authenticate``, as UDDI's get_authToken checks it: wrong passwords lock
the account (``refused:AccountLocked``, the page says until when in China time), and a person whose
password is temporary or expired goes to 修改密码 first (``portal.views.users``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for

from directory.accounts import find_user
from registry.errors import GovshareError, InvalidInput, NotPermitted
from registry.models import User
from trust.actions import Context, action
from trust.auth import Caller
from trust.passwords import authenticate

from ..app import context, sessions, settings

bp = Blueprint("auth", __name__)


@dataclass(frozen=True)
class SignedIn:
    """The account a person signed in as."""

    user_id: int
    username: str
    display_name: str


@action("portal.login")
def login_as(ctx: Context, *, username: str, password: str, address: str | None = None) -> SignedIn:
    """Check ``username``'s password (``trust.passwords.authenticate``); refused alike for an unknown,
    a wrong or a disabled account, and with its reason for a locked one or a suspended department's."""
    known = find_user(ctx.session, username) if username else None
    ctx.note(detail=f"from {address or 'an unknown address'}")
    if known is not None and known.department is not None:
        ctx.note(department_id=known.department.id, department_code=known.department.code)
    try:
        user = authenticate(ctx.session, ctx.settings, username or "", password, ctx.now)
    except GovshareError as refused:
        refused.message += f" (from {address or 'an unknown address'})"  # the audit entry's detail
        raise
    return SignedIn(user.id, user.username, user.display_name or user.username)


@action("portal.logout")
def logout_of(ctx: Context, *, address: str | None = None) -> None:
    """The signed-in person leaves: every portal session of the account begun until now ends, on
    the server side too (a copied cookie no longer signs anyone in)."""
    # to the microsecond, not the platform's second: a session begun in the same second before it ends too
    ctx.session.get(User, ctx.caller.user_id).sessions_valid_from = datetime.now(UTC).replace(tzinfo=None)
    ctx.note(detail=f"from {address or 'an unknown address'}")


def _safe_next(target: str | None) -> str | None:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return request.script_root + target.removesuffix("?")
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        signing_in = Context(Caller(channel="portal", user=username or None), sessions(), settings())
        try:
            user = login_as(signing_in, username=username, password=request.form.get("password", ""),
                            address=request.remote_addr)
        except (InvalidInput, NotPermitted) as exc:
            error = exc.user_message
        else:
            csrf = session.get("csrf")
            session.clear()  # a fresh session at sign-in (no fixation); the CSRF token stays for the open form
            session.update(uid=user.user_id, csrf=csrf, begun=time.time())
            flash(f"欢迎, {user.display_name}。", "success")
            return redirect(_safe_next(request.args.get("next")) or url_for("home.index"))
    elif g.get("user") is not None:
        return redirect(url_for("home.index"))
    if session.pop("expired", False):
        flash("会话已过期, 请重新登录。", "warning")
    return render_template("login.html", error=error, username=username, attempts=settings().login_attempts,
                           minutes=settings().lockout_minutes)


@bp.route("/logout", methods=["POST"])
def logout():
    if g.get("user") is not None:
        logout_of(context(), address=request.remote_addr)
    session.clear()
    flash("您已安全退出。", "success")
    return redirect(url_for("auth.login"))
