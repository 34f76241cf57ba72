"""运行监测 and 告警: the SOAP requests per service and per consumer (请求量, 错误, p50/p95/p99 耗时, 流量)
with a chart over time and a period filter, a page per service and per consumer
(``monitoring.report``); the alerts, each linked to the page where it is acted on (``monitoring.alerts``).
Times are China time (UTC+8)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, render_template, request, url_for

from governance import alerts as alerting
from governance import monitoring

from .. import charts
from ..app import context, requires

bp = Blueprint("operations", __name__)

#: the periods a page offers: name -> (label, span, the series' step)
PERIODS = {"1h": ("近 1 小时", timedelta(hours=1), "hour"), "24h": ("近 24 小时", timedelta(hours=24), "hour"),
           "7d": ("近 7 天", timedelta(days=7), "day"), "30d": ("近 30 天", timedelta(days=30), "day")}


def _report(**only: str):
    period = request.args.get("period", "24h")
    if period not in PERIODS:
        period = "24h"
    label, span, step = PERIODS[period]
    ctx = context()
    found = monitoring.report(ctx, since=ctx.now - span, until=ctx.now + timedelta(seconds=1), step=step, **only)
    chart = charts.columns([(f.key, {"成功": f.requests - f.errors, "错误": f.errors}) for f in found.series],
                           ("成功", "错误"), title=f"{label}请求量 (按北京时间{'小时' if step == 'hour' else '日期'})")
    return found, chart, period


@bp.route("/operations")
@requires("monitor")
def index():
    found, chart, period = _report()
    return render_template("operations.html", report=found, chart=chart, period=period, periods=PERIODS,
                           heading="运行监测", scope={})


@bp.route("/operations/service")
@requires("monitor")
def service():
    name = request.args.get("name", "").strip()
    if not name:
        abort(404, description="请从运行监测页选择一个服务。")
    found, chart, period = _report(service=name)
    return render_template("operations.html", report=found, chart=chart, period=period, periods=PERIODS,
                           heading=f"运行监测 · 服务 {name}", scope={"name": name}, view="operations.service")


@bp.route("/operations/consumer")
@requires("monitor")
def consumer():
    code = request.args.get("code", "").strip()
    if not code:
        abort(404, description="请从运行监测页选择一个调用方。")
    found, chart, period = _report(consumer=code)
    name = found.names.get(code, "")
    return render_template("operations.html", report=found, chart=chart, period=period, periods=PERIODS,
                           heading=f"运行监测 · 调用方 {name or code}", scope={"code": code},
                           view="operations.consumer")


@bp.route("/alerts")
@requires("monitor")
def alerts():
    found = alerting.alerts(context())
    return render_template("alerts.html", alerts=[(a, url_for(a.place, **a.args)) for a in found])
