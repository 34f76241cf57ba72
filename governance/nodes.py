"""Front-end nodes (前置交换节点) as the centre sees them: each reports a heartbeat (the exchange
contract's ReportNodeStatus, signed with its department's or system's certificate), and the
centre lists them with their state and alerts (运维, O1).

    nodes.report   (a department's signed node)   its outbox, subscriptions, certificate -> kept
    nodes.list     (admin, auditor)               every node with its state, worst first

Each report also carries the adapters the node runs and their last runs; one whose last run
failed or was interrupted is an alert.

A node's state, computed when it is listed (not stored):

- ``silent`` (失联): no heartbeat for :data:`SILENT_AFTER` - the node, its network or its
  certificate is down, and its department's data is waiting somewhere;
- ``backlog`` (积压): batches have waited in its outbox for more than :data:`BACKLOG_AFTER`, or
  it holds batches the centre refused;
- ``expiring`` (证书将到期): its certificate ends within :data:`EXPIRING_WITHIN`;
- ``ok`` (正常).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from registry.errors import InvalidInput, NotPermitted
from registry.models import FrontNode
from trust.actions import Context, action

SILENT_AFTER = timedelta(minutes=5)  # five heartbeats missed at the node's default of one a minute
BACKLOG_AFTER = timedelta(minutes=30)
EXPIRING_WITHIN = timedelta(days=30)
#: each state as the portal names it, worst first
STATE_LABELS = {"silent": "失联", "backlog": "积压", "expiring": "证书将到期", "ok": "正常"}
MAX_SUBSCRIPTIONS = 200


@dataclass(frozen=True)
class Subscription:
    name: str
    resource_code: str
    watermark: int


@dataclass(frozen=True)
class Adapter:
    """An adapter the node runs beside the department's database, and its last run."""

    name: str
    resource_code: str
    status: str  # done, failed, running, interrupted; "" before its first run
    last_run: datetime | None
    records: int
    error: str


@dataclass(frozen=True)
class NodeView:
    node_id: str
    department_code: str
    department_name: str
    system_code: str | None
    version: str
    first_seen: datetime
    reported_at: datetime
    reports: int
    pending_batches: int
    pending_records: int
    refused_batches: int
    oldest_pending: datetime | None
    last_receipt: datetime | None
    last_error: str
    certificate_not_after: datetime | None
    subscriptions: tuple[Subscription, ...]
    adapters: tuple[Adapter, ...]
    state: str
    alerts: tuple[str, ...]  # in Chinese, for the portal


@action("nodes.report")
def report(ctx: Context, *, node_id: str, version: str = "", pending_batches: int = 0, pending_records: int = 0,
           refused_batches: int = 0, oldest_pending: datetime | None = None, last_receipt: datetime | None = None,
           last_error: str = "", certificate_not_after: datetime | None = None,
           subscriptions: list[tuple[str, str, int]] | None = None, adapters: list[Adapter] | None = None) -> NodeView:
    """Keep a node's heartbeat: the node speaks for the certificate's department (and system)."""
    node_id = (node_id or "").strip()
    if not node_id or len(node_id) > 36:
        raise InvalidInput(f"nodeId must be the node's id (1-36 characters), not {node_id!r}",
                           zh="节点标识须为 1-36 个字符。", field="nodeId")
    if any(n < 0 for n in (pending_batches, pending_records, refused_batches)):
        raise InvalidInput("the outbox's counts cannot be negative", zh="发件箱计数不能为负数。")
    subscriptions = list(subscriptions or [])[:MAX_SUBSCRIPTIONS]
    adapters = list(adapters or [])[:MAX_SUBSCRIPTIONS]
    if any(a.records < 0 for a in adapters):
        raise InvalidInput("an adapter's records cannot be negative", zh="适配器记录数不能为负数。")
    caller, session, now = ctx.caller, ctx.session, ctx.now
    node = session.scalar(select(FrontNode).where(FrontNode.node_id == node_id))
    if node is not None and node.department_id != caller.department_id:
        raise NotPermitted(f"node {node_id} reports for another department", zh="该节点属于其他部门。")
    if node is None:
        node = FrontNode(node_id=node_id, department_id=caller.department_id, first_seen=now, reports=0,
                         subscriptions=[], adapters=[])
        session.add(node)
    was_empty = not node.pending_batches
    node.system_code = caller.system_code
    node.version, node.reported_at, node.reports = version[:32], now, (node.reports or 0) + 1
    node.pending_batches, node.pending_records, node.refused_batches = pending_batches, pending_records, \
        refused_batches
    node.oldest_pending, node.last_receipt = _naive(oldest_pending), _naive(last_receipt)
    node.last_error, node.certificate_not_after = (last_error or "")[:2000], _naive(certificate_not_after)
    node.subscriptions = [{"name": n[:40], "resource": r[:20], "watermark": int(w)} for n, r, w in subscriptions]
    node.adapters = [{"name": a.name[:64], "resource": a.resource_code[:20], "status": a.status[:12],
                      "run_at": _naive(a.last_run).isoformat() if a.last_run is not None else None,
                      "records": int(a.records), "error": a.error[:500]} for a in adapters]
    if not pending_batches:
        node.backlog_since = None
    elif was_empty or node.backlog_since is None:
        node.backlog_since = now
    session.flush()
    return _view(node, now)


@action("nodes.list")
def listing(ctx: Context) -> list[NodeView]:
    """Every node the centre has heard from, the worst state first, then by department."""
    nodes = ctx.session.scalars(select(FrontNode).options(joinedload(FrontNode.department))).all()
    order = list(STATE_LABELS)
    views = [_view(n, ctx.now) for n in nodes]
    return sorted(views, key=lambda v: (order.index(v.state), v.department_code, v.node_id))


def _view(node: FrontNode, now: datetime) -> NodeView:
    alerts = []
    if now - node.reported_at > SILENT_AFTER:
        alerts.append(f"已 {_minutes(now - node.reported_at)}未报告心跳")
    waiting = now - node.oldest_pending if node.oldest_pending is not None and node.pending_batches else None
    if waiting is not None and waiting > BACKLOG_AFTER:
        alerts.append(f"发件箱积压 {node.pending_batches} 批 ({node.pending_records} 条), "
                      f"最早的已等待 {_minutes(waiting)}")
    if node.refused_batches:
        alerts.append(f"{node.refused_batches} 批被中心拒收, 请核查")
    for adapter in node.adapters or ():
        if adapter["status"] in ("failed", "interrupted"):
            alerts.append(f"适配器 {adapter['name']} 上次运行{'失败' if adapter['status'] == 'failed' else '中断'}"
                          + (f": {adapter['error']}" if adapter["error"] else ""))
    if node.certificate_not_after is not None and node.certificate_not_after - now < EXPIRING_WITHIN:
        alerts.append(f"证书将于 {node.certificate_not_after:%Y-%m-%d} 到期")
    state = ("silent" if now - node.reported_at > SILENT_AFTER
             else "backlog" if (waiting is not None and waiting > BACKLOG_AFTER) or node.refused_batches
             else "expiring" if node.certificate_not_after is not None
             and node.certificate_not_after - now < EXPIRING_WITHIN else "ok")
    department = node.department
    return NodeView(node.node_id, department.code if department else "", department.name if department else "",
                    node.system_code, node.version, node.first_seen, node.reported_at, node.reports,
                    node.pending_batches, node.pending_records, node.refused_batches, node.oldest_pending,
                    node.last_receipt, node.last_error, node.certificate_not_after,
                    tuple(Subscription(s["name"], s["resource"], s["watermark"]) for s in node.subscriptions or ()),
                    tuple(Adapter(a["name"], a["resource"], a["status"],
                                  datetime.fromisoformat(a["run_at"]) if a["run_at"] else None, a["records"],
                                  a["error"]) for a in node.adapters or ()),
                    state, tuple(alerts))


def _naive(value: datetime | None) -> datetime | None:
    """UTC without its zone, as the platform's columns keep times."""
    if value is None or value.tzinfo is None:
        return value
    return (value - value.utcoffset()).replace(tzinfo=None)


def _minutes(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60} 小时 {minutes % 60} 分钟" if minutes >= 60 else f"{minutes} 分钟"
