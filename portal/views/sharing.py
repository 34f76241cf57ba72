"""使用申请: apply from a resource page; the provider's inbox to approve or refuse, with
deadlines and overdue flags (``governance.sharing``)."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from directory import lookups
from governance import sharing
from registry.clock import utcnow
from registry.errors import GovshareError

from ..app import audit_event, context, me, reading, record_after, requires, settings, writing

bp = Blueprint("sharing", __name__)

APPLICATION_LABELS = {"submitted": "待答复", "approved": "已同意", "refused": "已拒绝", "withdrawn": "已撤回",
                      "expired": "已过期"}


@bp.app_template_filter("application_label")
def _application_label(status: str) -> str:
    return APPLICATION_LABELS.get(status, status)


@bp.app_template_filter("china_day")
def _china_day(at) -> str:
    return sharing.china_date(at).isoformat() if at else ""


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
    form = {"purpose": "", "until": "", "fields": []}
    if request.method == "POST":
        form = {"purpose": request.form.get("purpose", ""), "until": request.form.get("until", ""),
                "fields": request.form.getlist("fields")}
        until = _date(form["until"])
        if form["until"] and until is None:
            errors["until"] = "日期格式应为 YYYY-MM-DD"
        else:
            try:
                application = sharing.apply(context(), resource_code=code, purpose=form["purpose"],
                                            valid_to=until, fields=form["fields"] or None)
                flash(f"使用申请 #{application.id} 已提交, 等待{application.provider_name}答复。", "success")
                return redirect(url_for("sharing.applications"))
            except GovshareError as exc:
                errors[exc.field or "general"] = exc.user_message
    with reading() as db:
        try:
            entry = lookups.published_resource(db, code)
        except GovshareError:
            abort(404, description=f"没有已发布的资源代码为 {code} 的资源。")
        return render_template("apply.html", entry=entry, fields=_fields_of(db, entry), form=form, errors=errors,
                               days=settings().application_days), 422 if errors else 200


@bp.route("/applications")
@requires("apply")
def applications():
    now = utcnow()
    with reading() as db:
        rows = sharing.outbox(db, me(db), now=now)
        return render_template("applications.html", rows=rows, now=now, overdue=sharing.is_overdue)


@bp.route("/applications/withdraw", methods=["POST"])
@requires("apply")
def withdraw():
    number = request.form.get("id", type=int)
    try:
        with writing() as db:
            application = sharing.withdraw(db, me(db), number)
            record_after(db, audit_event("portal.sharing.withdraw", resource_code=application.entry.resource_code))
        flash(f"使用申请 #{number} 已撤回。", "success")
    except GovshareError as exc:
        flash(f"未能撤回: {exc}", "error")
    return redirect(url_for("sharing.applications"))


@bp.route("/inbox")
@requires("inbox")
def inbox():
    now = utcnow()
    status = request.args.get("status", "submitted")
    with reading() as db:
        user = me(db)
        try:
            rows = sharing.inbox(db, user, now=now, status=status or None)
        except GovshareError as exc:
            abort(403, description=str(exc))
        return render_template("inbox.html", rows=rows, now=now, overdue=sharing.is_overdue, status=status,
                               labels=APPLICATION_LABELS)


@bp.route("/inbox/decide", methods=["POST"])
@requires("inbox")
def decide():
    number = request.form.get("id", type=int)
    decision = request.form.get("decision")
    reason = request.form.get("reason", "")
    try:
        with writing() as db:
            user = me(db)
            if decision == "approve":
                grant = sharing.approve(db, user, number)
                code = grant.entry.resource_code
                last_day = _china_day(grant.valid_to - timedelta(seconds=1)) if grant.valid_to else "长期"
                message = f"已同意使用申请 #{number}, 授权 #{grant.id} 有效至 {last_day}。"
            elif decision == "refuse":
                application = sharing.refuse(db, user, number, reason)
                code = application.entry.resource_code
                message = f"已拒绝使用申请 #{number}。"
            else:
                abort(400, description="未知的答复")
            record_after(db, audit_event(f"portal.sharing.{decision}", resource_code=code, detail=reason))
        flash(message, "success")
    except GovshareError as exc:
        text = "拒绝申请必须填写理由。" if exc.field == "reason" else str(exc)
        flash(f"未能答复: {text}", "error")
    return redirect(url_for("sharing.inbox"))
