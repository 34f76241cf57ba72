"""考核: per-department statistics of catalogue completeness, update timeliness and response
times, with each department's score and rank (the action ``assessment.report``), for a period the
user picks and as a CSV file."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import NamedTuple

from flask import Blueprint, Response, abort, render_template, request

from governance import assessment
from registry.clock import china_date
from registry.errors import GovshareError

from .. import charts
from ..app import china_day, context, requires

bp = Blueprint("assessment", __name__)


def _periods(today: date) -> list[tuple[str, str]]:
    """The quick choices of the period's first day: (label, YYYY-MM-DD or '' for all time)."""
    return [("全部", ""), ("近 30 天", (today - timedelta(days=29)).isoformat()),
            ("近 90 天", (today - timedelta(days=89)).isoformat()),
            ("本年度", today.replace(month=1, day=1).isoformat())]


class Asked(NamedTuple):
    """The form's period and the report for it."""

    since: str  # as given
    day: date | None  # its China day
    errors: dict[str, str]
    rows: list[assessment.DepartmentAssessment]  # ranked
    today: date  # in China


def _read() -> Asked:
    ctx = context()
    today = china_date(ctx.now)
    text, errors = request.args.get("since", "").strip(), {}
    since = china_day(text, "起始日期", errors, "since")
    if since is not None and since > ctx.now:
        errors["since"] = f"起始日期 {text} 晚于今天 ({today:%Y-%m-%d}), 请选择今天或更早的日期。"
    if errors:
        return Asked(text, None, errors, [], today)
    try:
        rows = assessment.ranked(assessment.report(ctx, since=since))
    except GovshareError as exc:
        abort(403, description=exc.user_message)
    return Asked(text, since and china_date(since), errors, rows, today)


def _page(asked: Asked):
    chart = charts.bars([(f"{r.rank}. {r.name}", r.score) for r in asked.rows if r.score is not None], title="得分")
    return render_template("assessment.html", rows=asked.rows, chart=chart, since=asked.since, errors=asked.errors,
                           periods=_periods(asked.today), weights=assessment.WEIGHTS), 422 if asked.errors else 200


@bp.route("/assessment")
@requires("assessment")
def index():
    return _page(_read())


@bp.route("/assessment/export")
@requires("assessment")
def export():
    """The table the page of the same period shows, ranked, as a CSV file a spreadsheet opens (UTF-8 with a
    BOM, the columns in Chinese, the shares in per cent); a period that is not one, the page with its error."""
    asked = _read()
    if asked.errors:
        return _page(asked)
    out = io.StringIO()
    out.write("\ufeff")
    assessment.write_csv(asked.rows, out, labels=True)
    name = f"assessment-{asked.today:%Y%m%d}" + (f"-since-{asked.day:%Y%m%d}" if asked.day else "") + ".csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}"})
