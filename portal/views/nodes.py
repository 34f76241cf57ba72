"""前置节点: every department's front-end exchange node as its last heartbeat described it - its
outbox, its subscriptions, its certificate - with its state (正常, 失联, 积压, 证书将到期) and the
alerts to act on, worst first (``nodes.list``); and the lower platforms registered as catalogue or
platform nodes (目录管理节点, 部门平台节点) with their federation state (``federation.nodes``)."""

from __future__ import annotations

from flask import Blueprint, render_template

from directory import federation
from governance import nodes
from governance.onboarding import CONNECTION_MODES, STATUS_LABELS

from ..app import context, requires

bp = Blueprint("nodes", __name__)


@bp.route("/nodes")
@requires("monitor")
def index():
    found = nodes.listing(context())
    alerting = sum(1 for n in found if n.state != "ok")
    return render_template("nodes.html", nodes=found, labels=nodes.STATE_LABELS, alerting=alerting,
                           silent_minutes=int(nodes.SILENT_AFTER.total_seconds() // 60),
                           backlog_minutes=int(nodes.BACKLOG_AFTER.total_seconds() // 60),
                           platforms=federation.nodes(context()), modes=CONNECTION_MODES,
                           department_labels=STATUS_LABELS)
