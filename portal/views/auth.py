"""登录 / 退出: department users sign in with their account (directory.accounts)."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for

from directory.accounts import find_user, verify_password

from ..app import audit_event, reading, record

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return request.script_root + target
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        with reading() as db:
            user = find_user(db, username) if username else None
            valid = user is not None and user.active and verify_password(password, user.password_hash)
            department = user.department if user is not None else None
        event = audit_event("portal.login", user=username or None)
        if department is not None:
            event.department_id, event.department_code = department.id, department.code
        if not valid:
            event.result, event.detail = "refused:BadCredentials", "wrong user name or password, or a disabled account"
            record(event)
            error = "用户名或密码错误, 或账户已停用。"
        else:
            record(event)
            csrf = session.get("csrf")
            session.clear()  # a fresh session at sign-in (no fixation); the CSRF token stays for the open form
            session.update(uid=user.id, csrf=csrf)
            flash(f"欢迎, {user.display_name or user.username}。", "success")
            return redirect(_safe_next(request.args.get("next")) or url_for("home.index"))
    elif g.get("user") is not None:
        return redirect(url_for("home.index"))
    if session.pop("expired", False):
        flash("会话已过期, 请重新登录。", "warning")
    return render_template("login.html", error=error, username=username)


@bp.route("/logout", methods=["POST"])
def logout():
    session.clear()
    flash("您已安全退出。", "success")
    return redirect(url_for("auth.login"))
