"""考核: per-department statistics of catalogue completeness, update timeliness and response
times (``governance.assessment``)."""

from __future__ import annotations

from flask import Blueprint, render_template

from governance import assessment

from .. import charts
from ..app import reading, requires

bp = Blueprint("assessment", __name__)


@bp.route("/assessment")
@requires("assessment")
def index():
    with reading() as db:
        rows = assessment.assess(db)
    chart = charts.bars([(r.name, round((r.completeness or 0) * 100, 1)) for r in rows if r.published],
                        title="目录完整性 (%)")
    return render_template("assessment.html", rows=rows, chart=chart)
