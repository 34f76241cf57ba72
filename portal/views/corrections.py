"""纠错: consumers report a wrong value, the provider accepts or rejects it by a deadline.  Each
form calls one action of ``governance.correction`` (it checks the user's roles and department
and records the audit entry); a refusal is shown in Chinese beside the field it concerns."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from directory import lookups
from governance import correction, sharing
from registry.errors import GovshareError
from trust.actions import Context

from ..app import context, reading, requires, settings

bp = Blueprint("corrections", __name__)
STATUS_LABELS = correction.STATUS_LABELS
LIMITS = {"problem": correction.PROBLEM_LENGTH, "proposed": correction.VALUE_LENGTH,
          "key": correction.KEY_LENGTH, "answer": correction.ANSWER_LENGTH}


@bp.app_template_filter("correction_label")
def _label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def _fields_of(code: str) -> list[tuple[str, str]]:
    """The fields of the published resource ``code`` (name, Chinese label), for the form's choice."""
    if not code.strip():
        return []
    with reading() as db:
        try:
            entry = lookups.published_resource(db, code)
        except GovshareError:
            return []
        fmt = sharing.record_format(db, entry)
        return [(f.name, f.label) for f in fmt.fields] if fmt else []


def _lists(ctx: Context, errors: dict[str, str]) -> tuple[list, list]:
    """The reports the user's department filed and those it has to answer (the lists its roles use)."""
    filed, inbox = [], []
    try:
        if ctx.caller.can("correction_file"):
            filed = correction.filed(ctx)
        if ctx.caller.can("correction_answer"):
            inbox = correction.inbox(ctx.again())
    except GovshareError as exc:
        errors.setdefault("lists", exc.user_message)
    return filed, inbox


def _page(form: dict, errors: dict, status: int = 200):
    ctx = context()
    filed, inbox = _lists(ctx, errors)
    return render_template("corrections.html", filed=filed, inbox=inbox, form=form, errors=errors, now=ctx.now,
                           overdue=correction.is_overdue, fields=_fields_of(form["code"]), limits=LIMITS), status


@bp.route("/corrections")
@requires("search")
def index():
    return _page({"code": request.args.get("code", ""), "key": request.args.get("key", ""),
                  "field": request.args.get("field", ""), "problem": "", "proposed": ""}, {})


@bp.route("/corrections/file", methods=["POST"])
@requires("correction_file")
def file():
    form = {name: request.form.get(name, "") for name in ("code", "key", "field", "problem", "proposed")}
    try:
        report = correction.file(context(), resource_code=form["code"], record_key=form["key"], field=form["field"],
                                 problem=form["problem"], proposed_value=form["proposed"])
    except GovshareError as exc:
        return _page(form, {exc.field or "general": exc.user_message}, 422)
    flash(f"纠错报告 #{report.id} 已提交, {report.provider_name}须在 {settings().correction_days} 天内答复。",
          "success")
    return redirect(url_for("corrections.index"))


@bp.route("/corrections/answer", methods=["POST"])
@requires("correction_answer")
def answer():
    number = request.form.get("id", type=int)
    accept = request.form.get("decision") == "accept"
    try:
        correction.answer(context(), report_id=number, accept=accept, text=request.form.get("text", ""))
        flash(f"纠错报告 #{number} 已答复 ({'已采纳' if accept else '未采纳'})。", "success")
    except GovshareError as exc:
        flash(f"未能答复纠错报告 #{number}: {exc.user_message}", "error")
    return redirect(url_for("corrections.index"))

