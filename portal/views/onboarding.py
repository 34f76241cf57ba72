"""部门登记 and application systems: the public 申请登记 form (no sign-in), the administrator's 登记审核
(approve, refuse with a reason) and 部门管理 (suspend with a reason, reinstate), and a department's
应用系统 (register, suspend, reinstate).  Each form calls one action of ``governance.onboarding``, which
checks the caller and records the audit entry; form errors are shown beside their fields, in Chinese."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from governance import onboarding
from registry.errors import GovshareError, InvalidRegistration
from trust.actions import Context
from trust.auth import Caller

from ..app import context, requires, sessions, settings

bp = Blueprint("onboarding", __name__)

APPLICATION_FIELDS = tuple(onboarding.FIELDS)


def _errors(exc: GovshareError) -> dict[str, str]:
    """Each field's Chinese message (a form's problems), or the one message under ``general``."""
    if isinstance(exc, InvalidRegistration):
        return exc.zh_by_field
    return {exc.field or "general": exc.user_message}


@bp.route("/register", methods=["GET", "POST"])
def register():
    """申请登记: open to anyone, signed in or not (the action records who filed it, and from where)."""
    form = {name: request.form.get(name, "") for name in APPLICATION_FIELDS}
    errors: dict[str, str] = {}
    if request.method == "POST":
        caller = context() if g.get("user") is not None else Context(Caller(channel="portal"), sessions(), settings())
        try:
            filed = onboarding.apply(caller, **form, address=request.remote_addr)
        except GovshareError as exc:
            errors = _errors(exc)
        else:
            return render_template("register.html", filed=filed, form=form, errors={},
                                   modes=onboarding.CONNECTION_MODES, fields=onboarding.FIELDS)
    return render_template("register.html", filed=None, form=form, errors=errors, modes=onboarding.CONNECTION_MODES,
                           fields=onboarding.FIELDS), 422 if errors else 200


@bp.route("/registrations")
@requires("onboard")
def registrations():
    status = request.args.get("status", onboarding.SUBMITTED)
    if status not in onboarding.APPLICATION_LABELS:
        status = ""
    try:
        rows = onboarding.applications(context(), status=status or None)
    except GovshareError as exc:
        abort(403, description=exc.user_message)
    return render_template("registrations.html", rows=rows, status=status, labels=onboarding.APPLICATION_LABELS,
                           limit=onboarding.REASON_LENGTH)


@bp.route("/registrations/decide", methods=["POST"])
@requires("onboard")
def decide():
    number = request.form.get("id", type=int)
    decision = request.form.get("decision")
    try:
        if decision == "approve":
            member = onboarding.approve(context(), application_id=number)
            flash(f"已批准登记申请 #{number}: {member.name} ({member.code}) 已登记, 并已发布到资源目录。", "success")
        elif decision == "refuse":
            onboarding.refuse(context(), application_id=number, reason=request.form.get("reason", ""))
            flash(f"已拒绝登记申请 #{number}。", "success")
        else:
            abort(400, description="未知的审核结果: 请在登记审核列表中点击「批准」或「拒绝」。")
    except GovshareError as exc:
        flash(f"未能审核登记申请 #{number}: {exc.user_message}", "error")
    return redirect(url_for("onboarding.registrations"))


@bp.route("/departments")
@requires("onboard")
def departments():
    try:
        rows = onboarding.departments(context())
    except GovshareError as exc:
        abort(403, description=exc.user_message)
    return render_template("departments.html", rows=rows, limit=onboarding.REASON_LENGTH)


@bp.route("/departments/status", methods=["POST"])
@requires("onboard")
def department_status():
    code = request.form.get("department", "")
    try:
        if request.form.get("change") == "suspend":
            member = onboarding.suspend(context(), department=code, reason=request.form.get("reason", ""))
            flash(f"{member.name} 已暂停接入: 其用户已被登出, 恢复前不能使用平台。", "success")
        else:
            member = onboarding.reinstate(context(), department=code)
            flash(f"{member.name} 已恢复接入。", "success")
    except GovshareError as exc:
        flash(f"未能办理: {exc.user_message}", "error")
    return redirect(url_for("onboarding.departments"))


@bp.route("/systems", methods=["GET", "POST"])
@requires("connect")
def systems():
    """应用系统: the department's systems (an administrator's: every department's) and the form to register one."""
    form = {name: request.form.get(name, "") for name in ("code", "name", "description", "department")}
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            made = onboarding.register_system(context(), code=form["code"], name=form["name"],
                                              description=form["description"], department=form["department"] or None)
        except GovshareError as exc:
            errors = _errors(exc)
        else:
            flash(f"应用系统 {made.code} ({made.name}) 已登记。", "success")
            return redirect(url_for("onboarding.systems"))
    try:
        rows = onboarding.systems(context())
    except GovshareError as exc:
        abort(403, description=exc.user_message)
    return render_template("systems.html", rows=rows, form=form, errors=errors, limit=onboarding.REASON_LENGTH,
                           department=g.user.department), 422 if errors else 200


@bp.route("/systems/status", methods=["POST"])
@requires("connect")
def system_status():
    code = request.form.get("system", "")
    try:
        if request.form.get("change") == "suspend":
            made = onboarding.suspend_system(context(), system=code, reason=request.form.get("reason", ""))
            flash(f"应用系统 {made.code} 已暂停。", "success")
        else:
            made = onboarding.reinstate_system(context(), system=code)
            flash(f"应用系统 {made.code} 已恢复。", "success")
    except GovshareError as exc:
        flash(f"未能办理: {exc.user_message}", "error")
    return redirect(url_for("onboarding.systems"))
