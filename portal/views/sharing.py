"""使用申请: apply from a resource page; the consumer's list to withdraw; the provider's inbox to
approve or refuse, with deadlines and overdue flags.  Each form calls one action of
``governance.sharing``, which checks the user's roles and department and records the audit
entry; a refusal is shown in Chinese."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from directory import lookups
from governance import onboarding, sharing
from registry.clock import china_date
from registry.errors import GovshareError

from ..app import context, reading, requires, settings

bp = Blueprint("sharing", __name__)

APPLICATION_LABELS = sharing.APPLICATION_LABELS


@bp.app_template_filter("application_label")
def _application_label(status: str) -> str:
    return APPLICATION_LABELS.get(status, status)


@bp.app_template_filter("china_day")
def _china_day(at) -> str:
    return china_date(at).isoformat() if at else ""


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if text and text.strip() else None
    except ValueError:
        return None


def _fields_of(db, entry) -> list[tuple[str, str]]:
    fmt = sharing.record_format(db, entry)
    return [(f.name, f.label) for f in fmt.fields] if fmt else []


@bp.route("/apply", methods=["GET", "POST"])
@requires("apply")
def apply():
    code = request.values.get("code", "")
    errors: dict[str, str] = {}
    form = {"purpose": "", "until": "", "fields": [], "system": ""}
    if request.method == "POST":
        form = {"purpose": request.form.get("purpose", ""), "until": request.form.get("until", ""),
                "fields": request.form.getlist("fields"), "system": request.form.get("system", "")}
        until = _date(form["until"])
        if form["until"] and until is None:
            errors["until"] = "日期格式应为 YYYY-MM-DD"
        else:
            try:
                application = sharing.apply(context(), resource_code=code, purpose=form["purpose"],
                                            valid_to=until, fields=form["fields"] or None,
                                            system=form["system"] or None)
                flash(f"使用申请 #{application.id} 已提交, 等待{application.provider_name}答复。", "success")
                return redirect(url_for("sharing.applications"))
            except GovshareError as exc:
                errors[exc.field or "general"] = exc.user_message
    with reading() as db:
        try:
            entry = lookups.published_resource(db, code)
        except GovshareError:
            abort(404, description=f"没有已发布的资源代码为 {code} 的资源。")
        systems = onboarding.active_systems(db, g.user.department_id) if g.user.department_id else []
        return render_template("apply.html", entry=entry, fields=_fields_of(db, entry), form=form, errors=errors,
                               days=settings().application_days, limit=sharing.PURPOSE_LENGTH, systems=systems), \
            422 if errors else 200


@bp.route("/applications")
@requires("apply")
def applications():
    ctx = context()
    try:
        rows = sharing.applications(ctx)
    except GovshareError as exc:
        abort(403, description=exc.user_message)
    return render_template("applications.html", rows=rows, now=ctx.now, overdue=sharing.is_overdue)


@bp.route("/applications/withdraw", methods=["POST"])
@requires("apply")
def withdraw():
    number = request.form.get("id", type=int)
    try:
        sharing.withdraw(context(), application_id=number)
        flash(f"使用申请 #{number} 已撤回。", "success")
    except GovshareError as exc:
        flash(f"未能撤回: {exc.user_message}", "error")
    return redirect(url_for("sharing.applications"))


@bp.route("/inbox")
@requires("inbox")
def inbox():
    ctx = context()
    status = request.args.get("status", sharing.SUBMITTED)
    if status and status not in APPLICATION_LABELS:
        status = sharing.SUBMITTED
    try:
        rows = sharing.inbox(ctx, status=status or None)
    except GovshareError as exc:
        abort(403, description=exc.user_message)
    return render_template("inbox.html", rows=rows, now=ctx.now, overdue=sharing.is_overdue, status=status,
                           labels=APPLICATION_LABELS, limit=sharing.REASON_LENGTH)


@bp.route("/inbox/decide", methods=["POST"])
@requires("inbox")
def decide():
    number = request.form.get("id", type=int)
    decision = request.form.get("decision")
    try:
        if decision == "approve":
            grant = sharing.approve(context(), application_id=number)
            flash(f"已同意使用申请 #{number}, 授权 #{grant.id} 有效至 {grant.last_day or '长期'}。", "success")
        elif decision == "refuse":
            sharing.refuse(context(), application_id=number, reason=request.form.get("reason", ""))
            flash(f"已拒绝使用申请 #{number}。", "success")
        else:
            abort(400, description="未知的答复: 请在审批列表中点击「同意」或「拒绝」。")
    except GovshareError as exc:
        flash(f"未能答复使用申请 #{number}: {exc.user_message}", "error")
    return redirect(url_for("sharing.inbox"))
