"""运行监测 and 告警: the SOAP requests per service and per consumer (请求量, 错误, p50/p95/p99 耗时, 流量)
with a chart over time and a period filter, a page per service and per consumer
(``monitoring.report``); the requests one by one, filtered, newest first (请求明细, ``monitoring.requests``);
the alerts, each linked to the page where it is acted on (``monitoring.alerts``);
运行总览 (大屏), the platform at a glance for an operations hall's screen (``operations.overview``).
Times are China time (UTC+8)."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import NamedTuple

from flask import Blueprint, Response, abort, render_template, request, url_for

from adapters.monitoring import DAYS, SERIES
from governance import alerts as alerting
from governance import monitoring
from operations import overview
from registry.clock import china_text
from registry.errors import ZH
from trust.actions import Context

from .. import charts
from ..app import context, portal_config, requires

bp = Blueprint("operations", __name__)

#: seconds between the 大屏's reloads of itself
SCREEN_REFRESH = 60

#: the periods a page offers: name -> (label, span, the series' step)
PERIODS = {"1h": ("近 1 小时", timedelta(hours=1), "hour"), "24h": ("近 24 小时", timedelta(hours=24), "hour"),
           "7d": ("近 7 天", timedelta(days=7), "day"), "30d": ("近 30 天", timedelta(days=30), "day")}


class Scope(NamedTuple):
    """The page of one service or one consumer: the query argument that names it and its name on the page."""

    argument: str
    title: str


#: the pages of one: the report's filter (and the URL's last part) -> its scope
SCOPES = {"service": Scope("name", "服务"), "consumer": Scope("code", "调用方")}


def _scope(kind: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """For the page of one service or consumer (``kind``), the query argument that names it and the report's
    filter; for the whole platform's, neither.  A page of one that names none is not found."""
    if kind is None:
        return {}, {}
    argument, title = SCOPES[kind]
    key = request.args.get(argument, "").strip()
    if not key:
        abort(404, description=f"请从运行监测页选择一个{title}。")
    return {argument: key}, {kind: key}


def _period(default: str = "24h") -> tuple[str, str | None]:
    """The period the query names, and what to say of it when it is none of ``PERIODS`` (then ``default``)."""
    period = request.args.get("period", default)
    if period in PERIODS:
        return period, None
    return default, f"没有“{period}”这个时段, 请选择" + "、".join(label for label, _, _ in PERIODS.values()) + "。"


def _figures(period: str, only: dict[str, str]) -> monitoring.Report:
    """The report of ``period`` (a key of ``PERIODS``), of the one service or consumer ``only`` names."""
    _label, span, step = PERIODS[period]
    ctx = context()
    return monitoring.report(ctx, since=ctx.now - span, until=ctx.now + timedelta(seconds=1), step=step, **only)


def _report(**only: str):
    """The report of the period the query names; an unknown one is said (the page shows 24 hours)."""
    period, error = _period()
    if error:
        error += "下面是近 24 小时的数据。"
    found = _figures(period, only)
    label, _span, step = PERIODS[period]
    chart = charts.columns([(f.key, {"成功": f.requests - f.errors, "错误": f.errors}) for f in found.series],
                           ("成功", "错误"), title=f"{label}请求量 (按北京时间{'小时' if step == 'hour' else '日期'})")
    return found, chart, period, error


@bp.route("/operations", defaults={"kind": None})
@bp.route("/operations/<any(service, consumer):kind>")
@requires("monitor")
def index(kind: str | None):
    """The whole platform's figures, or (``kind``) those of the one service or consumer the query names."""
    scope, only = _scope(kind)
    found, chart, period, error = _report(**only)
    heading = "运行监测"
    if kind is not None:
        key = only[kind]
        heading += f" · {SCOPES[kind].title} {found.names.get(key) or key}"
    return render_template("operations.html", report=found, chart=chart, period=period, periods=PERIODS,
                           heading=heading, kind=kind, scope=scope, only=only, error=error), 400 if error else 200


@bp.route("/operations/export", defaults={"kind": None})
@bp.route("/operations/<any(service, consumer):kind>/export")
@requires("monitor")
def export(kind: str | None):
    """The figures the page of the same address shows, as a CSV file a spreadsheet opens (UTF-8 with a BOM,
    which Excel needs to read Chinese)."""
    only = _scope(kind)[1]
    period, error = _period()
    if error:
        abort(400, description=error)
    found = _figures(period, only)
    return _csv("operations", found.since, found.until, lambda out: monitoring.write_csv(found, out))


def _csv(prefix: str, since, until, write) -> Response:
    """A CSV file of what ``write(out)`` writes, named for its period in China time, UTF-8 with a BOM (which
    Excel needs to read Chinese)."""
    out = io.StringIO()
    out.write("\ufeff")
    write(out)
    name = "{}-{}-{}.csv".format(prefix, *(china_text(at, "%Y%m%dT%H%M") for at in (since, until)))
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


#: the filters of 请求明细 (the query's arguments), beside its period and 仅错误
REQUEST_FILTERS = (("service", "服务 (如 /exchange)"), ("consumer", "调用方 (部门代码)"), ("resource", "资源代码"),
                   ("system", "应用系统代码"))
#: the requests one export writes at most (the newest)
EXPORT_LIMIT = 100_000


def _asked_requests() -> tuple[Context, dict[str, str], dict, str, str | None]:
    """The context of 请求明细's action, its form (the query's filters as given), the action's criteria, the
    period and what to say of an unknown period (then the last hour)."""
    args = {name: request.args.get(name, "").strip() for name, _ in REQUEST_FILTERS}
    args["errors"] = "1" if request.args.get("errors") else ""
    period, error = _period("1h")
    if error:
        error += "下面是近 1 小时的请求。"
    ctx = context()
    asked = {name: value or None for name, value in args.items() if name != "errors"}
    asked.update(since=ctx.now - PERIODS[period][1], until=ctx.now + timedelta(seconds=1), errors=bool(args["errors"]))
    return ctx, args, asked, period, error


@bp.app_template_filter("request_result")
def _request_result(result: str) -> str:
    """成功, or 失败 with what the fault's code means in Chinese (the code is shown beside it)."""
    if result == "ok":
        return "成功"
    meaning = ZH.get(result, "").rstrip("。")
    return f"失败: {meaning}" if meaning else "失败"


@bp.route("/operations/requests")
@requires("monitor")
def requests_page():
    """请求明细: the requests of a period one by one, newest first, filtered by service, consumer, resource,
    application system and 仅错误, a page at a time."""
    ctx, args, asked, period, error = _asked_requests()
    size = portal_config().page_size
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    found = monitoring.requests(ctx, **asked, offset=(page - 1) * size, limit=size, clamp=True)
    return render_template("operation_requests.html", found=found, args=args, period=period, periods=PERIODS,
                           filters=REQUEST_FILTERS, error=error, page=found.offset // size + 1,
                           pages=max((found.total + size - 1) // size, 1)), 400 if error else 200


@bp.route("/operations/requests/export")
@requires("monitor")
def requests_export():
    """The requests 请求明细 shows for the same query, the newest ``EXPORT_LIMIT``, as a CSV file (UTF-8 with a
    BOM, for Excel)."""
    ctx, _args, asked, _period, error = _asked_requests()
    if error:
        abort(400, description=error)
    found = monitoring.requests(ctx, **asked, limit=EXPORT_LIMIT)
    return _csv("requests", asked["since"], asked["until"], lambda out: monitoring.write_requests_csv(found, out))


@bp.route("/alerts")
@requires("monitor")
def alerts():
    found = alerting.alerts(context())
    return render_template("alerts.html", alerts=[(a, url_for(a.place, **a.args)) for a in found])


@bp.route("/screen")
@requires("monitor")
def screen():
    """运行总览 (大屏): the platform at a glance, refreshing itself every minute."""
    seen = overview.overview(context())
    received = charts.columns(seen.received, SERIES, title=f"近 {DAYS} 天交换入库 (记录数, 按北京时间日期)")
    calls = charts.columns([(day, {"成功": n - failed, "失败": failed}) for day, n, failed in seen.calls],
                           ("成功", "失败"), title=f"近 {DAYS} 天服务调用 (次, 按北京时间日期)")
    return render_template("screen.html", o=seen, received=received, calls=calls,
                           alerts=[(a, url_for(a.place, **a.args)) for a in seen.alerts], refresh=SCREEN_REFRESH,
                           days=DAYS)
