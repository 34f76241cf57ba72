"""交换监控: sync runs and their reconciliation (对账), volumes over time and quarantine counts by
rule as server-drawn SVG charts; the adapter quarantine (隔离区) to review, correct and replay."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from adapters import quarantine
from adapters.config import AdapterConfigError, load_adapters
from adapters.sync_cli import adapters_folder
from registry.clock import utcnow
from registry.models import InputBatch, QuarantineReason, SyncRun

from .. import charts
from ..app import audit_event, reading, record_after, requires, sessions, settings, writing

bp = Blueprint("monitor", __name__)
DAYS = 30


@bp.route("/monitor")
@requires("monitor")
def index():
    since = utcnow() - timedelta(days=DAYS)
    with reading() as db:
        runs = list(db.scalars(select(SyncRun).order_by(SyncRun.id.desc()).limit(30)))
        batches = db.execute(select(InputBatch.received_at, InputBatch.accepted, InputBatch.unchanged,
                                    InputBatch.quarantined).where(InputBatch.received_at >= since)).all()
        exchange_rules = db.execute(select(QuarantineReason.rule, func.count()).group_by(QuarantineReason.rule)
                                    .order_by(func.count().desc()).limit(15)).all()
        adapter_rules = quarantine.summary(db)
    per_day: dict[str, dict[str, float]] = defaultdict(lambda: {"入库": 0, "未变": 0, "隔离": 0})
    for received_at, accepted, unchanged, quarantined in batches:
        day = received_at.strftime("%m-%d")
        per_day[day]["入库"] += accepted
        per_day[day]["未变"] += unchanged
        per_day[day]["隔离"] += quarantined
    volumes = charts.columns(sorted(per_day.items()), ("入库", "未变", "隔离"), title=f"近 {DAYS} 天交换量 (记录数)")
    rule_chart = charts.bars([(rule, n) for rule, n in exchange_rules], title="交换隔离记录数 (按规则)")
    adapter_chart = charts.bars([(f"{a} {r}", n) for a, _s, r, n in adapter_rules[:15]],
                                title="适配器隔离区待处理行数 (按规则)")
    return render_template("monitor.html", runs=runs, volumes=volumes, rule_chart=rule_chart,
                           adapter_chart=adapter_chart, adapter_rules=adapter_rules)


@bp.route("/monitor/quarantine")
@requires("monitor")
def quarantine_list():
    adapter = request.args.get("adapter") or None
    rule = request.args.get("rule") or None
    status = request.args.get("status", "open")
    with reading() as db:
        items = quarantine.list_quarantine(db, adapter=adapter, rule=rule, status=None if status == "all" else status,
                                           limit=200)
    return render_template("quarantine_list.html", items=items, adapter=adapter or "", rule=rule or "",
                           status=status)


@bp.route("/monitor/quarantine/item")
@requires("monitor")
def quarantine_item():
    number = request.args.get("id", type=int)
    with reading() as db:
        try:
            item = quarantine.show(db, number)
        except quarantine.QuarantineError as exc:
            abort(404, description=str(exc))
    return render_template("quarantine_item.html", item=item, problems=None)


def _config(name: str):
    configs = {c.name: c for c in load_adapters(adapters_folder())}
    if name not in configs:
        raise quarantine.QuarantineError(f"适配器配置 {name} 不在 {adapters_folder()} 中")
    return configs[name]


@bp.route("/monitor/quarantine/item", methods=["POST"])
@requires("quarantine")
def quarantine_act():
    number = request.form.get("id", type=int)
    act = request.form.get("act")
    try:
        if act == "correct":
            fields = {k.removeprefix("col:"): v for k, v in request.form.items() if k.startswith("col:")}
            with writing() as db:
                current = quarantine.show(db, number)
                changed = {k: v for k, v in fields.items() if str(current.row.get(k, "")) != v
                           or k in (current.correction or {})}
                if not changed:
                    raise quarantine.QuarantineError("没有修改任何源字段")
                item = quarantine.correct(db, _config(current.adapter), number, changed)
                record_after(db, audit_event("portal.quarantine.correct", detail=f"item #{number}"))
            if item.problems:
                flash("已保存更正, 但仍有问题: " + "; ".join(p.message for p in item.problems), "warning")
            else:
                flash("已保存更正, 校验通过, 可以重放。", "success")
        elif act == "replay":
            with reading() as db:
                adapter = quarantine.show(db, number).adapter
            result = quarantine.replay(sessions(), settings(), _config(adapter), [number])
            with writing() as db:
                record_after(db, audit_event("portal.quarantine.replay", detail=f"item #{number} batch "
                                             f"{result.batch_id or '-'}", record_count=len(result.replayed)))
            if result.replayed:
                flash(f"已重放, 批次 {result.batch_id}。", "success")
            elif result.quarantined_by_validation:
                flash("已重放, 但交换校验仍将其隔离 (见交换隔离区)。", "warning")
            else:
                flash("仍未通过校验, 请先更正。", "warning")
        elif act == "discard":
            with writing() as db:
                quarantine.discard(db, number, request.form.get("reason", ""))
                record_after(db, audit_event("portal.quarantine.discard", detail=f"item #{number}"))
            flash("已丢弃。", "success")
        else:
            abort(400, description="未知的操作")
    except (quarantine.QuarantineError, AdapterConfigError) as exc:
        flash(f"操作未完成: {exc}", "error")
    return redirect(url_for("monitor.quarantine_item", id=number))
