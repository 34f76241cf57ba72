"""使用申请: apply from a resource page; the consumer's list to withdraw; the provider's inbox, with
deadlines and overdue flags; each application's page, where its provider approves - for every field
and the whole period asked for, or narrower, some masked fields shown in clear - or refuses with a
reason, and its applicant follows it.  Each form calls one action of
``governance.sharing``, which checks the user's roles and department and records the audit
entry; a refusal is shown in Chinese."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from directory import lookups
from governance import masking, onboarding, sharing
from registry.clock import china_date
from registry.errors import GovshareError, NotFound, NotPermitted
from trust.auth import CAPABILITIES

from ..app import context, reading, requires, settings

bp = Blueprint("sharing", __name__)

APPLICATION_LABELS = sharing.APPLICATION_LABELS


@bp.app_template_filter("application_label")
def _application_label(status: str) -> str:
    return APPLICATION_LABELS.get(status, status)


@bp.app_template_filter("masking_label")
def _masking_label(method: str) -> str:
    return masking.LABELS.get(method, method)


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
                           labels=APPLICATION_LABELS)


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


def _review(number: int) -> sharing.Review:
    try:
        return sharing.application(context(), application_id=number)
    except NotFound as exc:
        abort(404, description=exc.user_message)
    except GovshareError as exc:
        abort(403, description=exc.user_message)


def _page(review: sharing.Review, form: dict, errors: dict[str, str], status: int = 200):
    """The application's page; its decision forms for the provider's staff (an admin too) while it waits, its
    withdrawal for the applicant's (the actions check again)."""
    user, a = g.user, review.application
    own = user.department.code if user.department else None
    roles = set(user.role_set)
    decides = a.status == sharing.SUBMITTED and bool(roles & CAPABILITIES["inbox"]) and (
        "admin" in roles or own == a.provider_code)
    withdraws = a.status == sharing.SUBMITTED and bool(roles & CAPABILITIES["apply"]) and own == a.consumer_code
    return render_template("application.html", review=review, a=a, form=form, errors=errors, now=context().now,
                           overdue=sharing.is_overdue, decides=decides, withdraws=withdraws,
                           limit=sharing.REASON_LENGTH), status


@bp.route("/applications/<int:number>")
@requires("apply", "inbox")
def application(number: int):
    """One application: what it asks, its deadline and answer; its provider's staff approve or refuse it here."""
    review = _review(number)
    a = review.application
    form = {"fields": [f.field for f in review.fields], "until": a.valid_to.isoformat(), "clear": [], "reason": ""}
    return _page(review, form, {})


@bp.route("/applications/<int:number>/decide", methods=["POST"])
@requires("inbox")
def decide_one(number: int):
    """Approve (the fields ticked, to the day given, the masked fields ticked in clear) or refuse (with a reason)."""
    decision = request.form.get("decision")
    form = {"fields": request.form.getlist("fields"), "until": request.form.get("until", "").strip(),
            "clear": request.form.getlist("clear"), "reason": request.form.get("reason", "")}
    errors: dict[str, str] = {}
    try:
        if decision == "approve":
            review = _review(number)
            asked = [f.field for f in review.fields]
            until = _date(form["until"])
            if not form["fields"]:
                errors["fields"] = "请至少勾选一个字段; 如不同意提供, 请填写理由并拒绝。"
            if form["until"] and until is None:
                errors["until"] = f"授权期限 “{form['until']}” 不是有效的日期, 请按 YYYY-MM-DD 填写。"
            if errors:
                return _page(review, form, errors, 422)
            whole = review.application.fields is None and set(form["fields"]) == set(asked)
            grant = sharing.approve(context(), application_id=number, fields=None if whole else form["fields"],
                                    valid_to=until, clear=form["clear"])
            flash(f"已同意使用申请 #{number}, 授权 #{grant.id} 有效至 {grant.last_day or '长期'}"
                  f"{'' if whole or grant.fields is None else ', 字段: ' + str(len(grant.fields)) + ' 项'}。",
                  "success")
        elif decision == "refuse":
            sharing.refuse(context(), application_id=number, reason=form["reason"])
            flash(f"已拒绝使用申请 #{number}。", "success")
        else:
            abort(400, description="未知的答复: 请在申请页点击「同意并授权」或「拒绝」。")
    except NotFound as exc:
        abort(404, description=exc.user_message)
    except NotPermitted as exc:
        abort(403, description=exc.user_message)
    except GovshareError as exc:
        errors[exc.field if exc.field in ("fields", "until", "reason", "clear") else "general"] = exc.user_message
        return _page(_review(number), form, errors, 422)
    return redirect(url_for("sharing.inbox"))
