"""纠错: consumers report a wrong value, the provider accepts or rejects it by a deadline
(``governance.correction``)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from governance import correction
from registry.clock import utcnow
from registry.errors import GovshareError
from trust.auth import CAPABILITIES

from ..app import audit_event, me, reading, record_after, requires, settings, writing

bp = Blueprint("corrections", __name__)
STATUS_LABELS = {"open": "待答复", "accepted": "已采纳", "rejected": "未采纳"}


@bp.app_template_filter("correction_label")
def _label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def _page(form: dict, errors: dict, status: int = 200):
    now = utcnow()
    with reading() as db:
        user = me(db)
        filed = correction.filed(db, user) if user.department is not None or "admin" in user.role_set else []
        inbox = (correction.inbox(db, user) if bool(set(user.role_set) & CAPABILITIES["correction_answer"])
                 and (user.department is not None or "admin" in user.role_set) else [])
        return render_template("corrections.html", filed=filed, inbox=inbox, form=form, errors=errors, now=now,
                               overdue=correction.is_overdue), status


@bp.route("/corrections")
@requires("search")
def index():
    return _page({"code": request.args.get("code", ""), "key": "", "field": "", "problem": "", "proposed": ""}, {})


@bp.route("/corrections/file", methods=["POST"])
@requires("correction_file")
def file():
    form = {name: request.form.get(name, "") for name in ("code", "key", "field", "problem", "proposed")}
    try:
        with writing() as db:
            report = correction.file_report(db, settings(), me(db), form["code"], record_key=form["key"],
                                            field=form["field"], problem=form["problem"],
                                            proposed_value=form["proposed"])
            number = report.id
            record_after(db, audit_event("portal.correction.file", resource_code=form["code"]))
    except GovshareError as exc:
        return _page(form, {exc.field or "general": str(exc)}, 422)
    flash(f"纠错报告 #{number} 已提交, 提供方须在 {settings().correction_days} 天内答复。", "success")
    return redirect(url_for("corrections.index"))


@bp.route("/corrections/answer", methods=["POST"])
@requires("correction_answer")
def answer():
    number = request.form.get("id", type=int)
    accept = request.form.get("decision") == "accept"
    try:
        with writing() as db:
            report = correction.answer(db, me(db), number, accept=accept, text=request.form.get("text", ""))
            record_after(db, audit_event("portal.correction.answer", resource_code=report.entry.resource_code))
        flash(f"纠错报告 #{number} 已答复。", "success")
    except GovshareError as exc:
        flash(f"未能答复: {exc}", "error")
    return redirect(url_for("corrections.index"))


