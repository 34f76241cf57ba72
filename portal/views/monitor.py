"""交换监控: sync runs and their reconciliation (对账), the failed ones with why, volumes per China
day and quarantine counts by rule as server-drawn SVG charts (``monitor.overview``); the adapter
quarantine (隔离区) to review, correct, replay and discard (the ``quarantine.*`` actions).
Rules, stages and statuses are shown by their Chinese names, a quarantined row's problem in
Chinese with the source columns it concerns marked."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from adapters import monitoring, quarantine
from registry.errors import GovshareError, InvalidInput, NotFound

from .. import charts
from ..app import context, portal_config, requires

bp = Blueprint("monitor", __name__)


@bp.app_template_filter("rule_name")
def _rule_name(rule: str) -> str:
    return quarantine.RULE_NAMES.get(rule, rule)


@bp.route("/monitor")
@requires("monitor")
def index():
    seen = monitoring.overview(context())
    volumes = charts.columns(seen.volumes, monitoring.SERIES,
                             title=f"近 {monitoring.DAYS} 天交换量 (记录数, 按北京时间日期)")
    rule_chart = charts.bars([(_rule_name(rule), n) for rule, n in seen.exchange_rules],
                             title="交换隔离记录数 (按规则)")
    adapter_chart = charts.bars([(f"{g.adapter} {_rule_name(g.rule)}", g.count) for g in seen.adapter_rules[:15]],
                                title="适配器隔离区待处理行数 (按规则)")
    return render_template("monitor.html", runs=seen.runs, failed=seen.failed, volumes=volumes,
                           rule_chart=rule_chart, adapter_chart=adapter_chart, days=monitoring.DAYS)


@bp.route("/monitor/quarantine")
@requires("monitor")
def quarantine_list():
    adapter = request.args.get("adapter", "").strip() or None
    rule = request.args.get("rule", "").strip() or None
    status = request.args.get("status", "open")
    size = portal_config().page_size
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    error = None
    try:
        found = quarantine.list_items(context(), adapter=adapter, rule=rule, status=None if status == "all" else status,
                                      offset=(page - 1) * size, limit=size, clamp=True)
    except (NotFound, InvalidInput) as exc:
        found, error = quarantine.Listing(0, 0, [], []), exc.user_message
    return render_template("quarantine_list.html", items=found.items, total=found.total, adapter=adapter or "",
                           rule=rule or "", status=status, error=error, page=found.offset // size + 1,
                           pages=max((found.total + size - 1) // size, 1), problem_zh=quarantine.problem_zh,
                           statuses=quarantine.STATUS_NAMES, stages=quarantine.STAGE_NAMES), 404 if error else 200


@bp.route("/monitor/quarantine/item")
@requires("monitor")
def quarantine_item():
    number = request.args.get("id", type=int)
    if number is None:
        abort(404, description="请从隔离区列表中选择一条隔离记录。")
    item = quarantine.show(context(), item_id=number)
    return render_template("quarantine_item.html", item=item, problem_zh=quarantine.problem_zh,
                           statuses=quarantine.STATUS_NAMES, stages=quarantine.STAGE_NAMES)


@bp.route("/monitor/quarantine/item", methods=["POST"])
@requires("quarantine")
def quarantine_act():
    number = request.form.get("id", type=int)
    act = request.form.get("act")
    try:
        if act == "correct":
            values = {k.removeprefix("col:"): v for k, v in request.form.items() if k.startswith("col:")}
            item = quarantine.correct(context(), item_id=number, values=values)
            if item.problems:
                flash("已保存更正, 但仍有问题: " + quarantine.problem_zh(item, item.problems), "warning")
            else:
                flash("已保存更正, 校验通过, 可以重放。", "success")
        elif act == "replay":
            result = quarantine.replay(context(), ids=[number])
            if result.replayed:
                flash(f"已重放, 批次 {result.batch_id}。", "success")
            elif result.quarantined_by_validation:
                flash("已重放, 但交换校验仍将其隔离 (见交换隔离区)。", "warning")
            else:
                flash("仍未通过校验, 请先更正。", "warning")
        elif act == "discard":
            quarantine.discard(context(), item_id=number, reason=request.form.get("reason", ""))
            flash("已丢弃。", "success")
        else:
            abort(400, description="未知的操作。")
    except NotFound:
        raise
    except GovshareError as exc:
        flash(f"操作未完成: {exc.user_message}", "error")
    return redirect(url_for("monitor.quarantine_item", id=number))
