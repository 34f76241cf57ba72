"""用户管理 (the security administrator's: accounts, roles with 三员分立, disabling, password resets,
unlocking) and 修改密码 (everyone's own), each form one action of ``governance.users``.

A person whose password is temporary (a new account, a reset) or expired is sent to 修改密码 at every
request until it is changed (``_password_first``): nothing else of the portal opens before.  A password
the platform chose is shown once, on the answer to the form that made it, never in a flash message
(those travel in the session cookie).
"""

from __future__ import annotations

import time

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from sqlalchemy import select

from governance import users
from registry.clock import utcnow
from registry.errors import GovshareError, PasswordRejected
from registry.models import Department
from trust import passwords
from trust.auth import DUTIES, ROLES

from ..app import context, reading, requires, settings

bp = Blueprint("users", __name__)

#: what a person whose password must change may still reach
_BEFORE_CHANGE = {"static", "auth.login", "auth.logout", "users.password"}


@bp.before_app_request
def _password_first():
    """Send a person with a temporary or expired password to 修改密码 (runs after the sign-in check)."""
    user = g.get("user")
    if user is None or request.endpoint in _BEFORE_CHANGE or not passwords.must_change(user, settings(), utcnow()):
        return None
    flash("您的密码为临时密码, 请先设置新密码。" if user.must_change_password else
          f"您的密码已超过 {settings().password_days} 天未修改, 已过期, 请先设置新密码。", "warning")
    return redirect(url_for("users.password"))


# --------------------------------------------------------------------------- 修改密码


@bp.route("/password", methods=["GET", "POST"])
@requires("search")
def password():
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        new = request.form.get("new_password", "")
        if new != request.form.get("confirm", ""):
            errors["confirm"] = ["两次输入的新密码不一致。"]
        else:
            try:
                users.change_password(context(), current_password=request.form.get("current_password", ""),
                                      new_password=new)
            except PasswordRejected as exc:
                errors["new_password"] = [e.user_message for e in exc.errors]
            except GovshareError as exc:
                errors[exc.field or "general"] = [exc.user_message]
            else:
                session["begun"] = time.time()  # the change ended every session begun before it: keep this one
                flash("密码已修改。您的其他会话已结束。", "success")
                return redirect(url_for("home.index"))
    return render_template("password.html", errors=errors, policy=_policy()), 422 if errors else 200


def _policy() -> list[str]:
    """The policy's rules, as the 修改密码 page lists them."""
    s = settings()
    rules = [f"至少 {s.password_min_length} 个字符;",
             f"包含{'、'.join(passwords.CLASS_NAMES.values())}中的至少 {passwords.CLASSES} 类;",
             "不能包含用户名;"]
    if s.password_history:
        rules.append(f"不能与最近 {s.password_history} 次使用过的密码相同;")
    if s.password_days:
        rules.append(f"每 {s.password_days} 天须修改一次。")
    return rules


# --------------------------------------------------------------------------- 用户管理


@bp.route("/users")
@requires("users")
def index():
    rows = users.accounts(context())
    return render_template("users.html", rows=rows)


@bp.route("/users/new", methods=["GET", "POST"])
@requires("users")
def create():
    errors: dict[str, str] = {}
    form = {"username": "", "display_name": "", "department": "", "roles": [], "temporary": True}
    if request.method == "POST":
        form = {"username": request.form.get("username", ""), "display_name": request.form.get("display_name", ""),
                "department": request.form.get("department", ""), "roles": request.form.getlist("roles"),
                "temporary": request.form.get("temporary") == "1"}
        try:
            issued = users.create(context(), username=form["username"], display_name=form["display_name"],
                                  department=form["department"] or None, roles=form["roles"],
                                  password=request.form.get("password") or None, temporary=form["temporary"])
        except GovshareError as exc:
            errors[exc.field or "general"] = exc.user_message
        else:
            return render_template("user_issued.html", issued=issued, made=True)
    return render_template("user_form.html", form=form, errors=errors, departments=_departments(),
                           roles=ROLES, duties=DUTIES), 422 if errors else 200


@bp.route("/users/<username>/roles", methods=["GET", "POST"])
@requires("users")
def roles(username: str):
    errors: dict[str, str] = {}
    account = users.show(context(), username=username)
    chosen = list(account.roles)
    if request.method == "POST":
        chosen = request.form.getlist("roles")
        try:
            account = users.set_roles(context(), username=username, roles=chosen)
        except GovshareError as exc:
            errors[exc.field or "general"] = exc.user_message
        else:
            flash(f"已将 {account.username} 的角色设为 {'、'.join(account.role_labels)}。", "success")
            return redirect(url_for("users.index"))
    return render_template("user_roles.html", account=account, form={"roles": chosen}, errors=errors, roles=ROLES,
                           duties=DUTIES), 422 if errors else 200


#: the account's buttons on the list: the action, and what the flash says once it is done
_STATUS_ACTIONS = {"disable": (users.disable, "已停用, 其会话已结束"), "enable": (users.enable, "已启用"),
                   "unlock": (users.unlock, "已解锁")}


@bp.route("/users/<username>/<verb>", methods=["POST"])
@requires("users")
def act(username: str, verb: str):
    if verb == "reset":
        try:
            issued = users.reset_password(context(), username=username)
        except GovshareError as exc:
            flash(f"未能重置密码: {exc.user_message}", "error")
            return redirect(url_for("users.index"))
        return render_template("user_issued.html", issued=issued, made=False)
    if verb not in _STATUS_ACTIONS:
        return redirect(url_for("users.index"))
    run, done = _STATUS_ACTIONS[verb]
    try:
        run(context(), username=username)
        flash(f"账号 {username} {done}。", "success")
    except GovshareError as exc:
        flash(f"未能办理: {exc.user_message}", "error")
    return redirect(url_for("users.index"))


def _departments() -> list[tuple[str, str]]:
    with reading() as db:
        return [(d.code, d.name) for d in db.scalars(select(Department).order_by(Department.code))]
