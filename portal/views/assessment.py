"""考核: per-department statistics of catalogue completeness, update timeliness and response
times (the action ``assessment.report``)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from governance import assessment
from registry.errors import GovshareError

from .. import charts
from ..app import context, requires

bp = Blueprint("assessment", __name__)


@bp.route("/assessment")
@requires("assessment")
def index():
    try:
        rows = assessment.report(context())
    except GovshareError as exc:
        abort(403, description=exc.user_message)
    chart = charts.bars([(r.name, round((r.completeness or 0) * 100, 1)) for r in rows if r.published],
                        title="目录完整性 (%)")
    return render_template("assessment.html", rows=rows, chart=chart)
