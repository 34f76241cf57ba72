"""部门目录: the member departments and what each shares (``department.directory``), and one department's
page (``department.profile``): its contact, connection, application systems, resources and sharing, and
for the 考核 readers its score and rank (``assessment.report``)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from governance import assessment, departments
from registry.errors import GovshareError, NotFound

from ..app import context, requires

bp = Blueprint("org", __name__)


@bp.route("/org")
@requires("search")
def index():
    text = request.args.get("q", "").strip()
    rows = departments.directory(context(), text=text)
    return render_template("org.html", rows=rows, q=text)


@bp.route("/org/<code>")
@requires("search")
def show(code: str):
    ctx = context()
    try:
        member = departments.profile(ctx, department=code)
    except NotFound as exc:
        abort(404, description=exc.user_message)
    score = None
    if ctx.caller.can("assessment"):
        try:
            score = assessment.report(ctx.again(), department=member.code)[0]
        except GovshareError:  # refused after all: the page goes without it
            score = None
    return render_template("org_detail.html", d=member, score=score, weights=assessment.WEIGHTS,
                           sees_partners=member.partners is not None, activity_limit=departments.ACTIVITY)
