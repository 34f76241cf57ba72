"""首页: what waits for the signed-in user, by role: the 使用申请 and 纠错 its department has to
answer and its own applications awaiting an answer (``governance.todo``), and for reviewers the
catalogue entries awaiting review and publication (``catalogue.search``'s status counts); for the
monitoring roles the number of alerts (告警, ``governance.alerts``).  Below, the resources published or
changed last (最新发布, a ``catalogue.search`` by latest change) and a link to the user's department's page
in 部门目录."""

from __future__ import annotations

from flask import Blueprint, render_template

from directory.catalogue.search import search
from directory.catalogue.workflow import PUBLISHED
from governance.alerts import alerts
from governance.todo import todo as waiting_for

from ..app import context, requires

bp = Blueprint("home", __name__)

#: how many of the latest published resources 工作台 lists
LATEST = 8


@bp.route("/")
@requires("search")
def index():
    ctx = context()
    todo: dict[str, object] = {}
    if ctx.caller.can("review"):
        statuses = {value: n for value, _label, n in search(ctx, page_size=1).facets["status"]}
        todo.update(submitted=statuses.get("submitted", 0), approved=statuses.get("approved", 0))
    waiting = waiting_for(ctx.again())
    if ctx.caller.can("inbox") and (ctx.caller.department_id is not None or ctx.caller.is_admin):
        todo.update(inbox=waiting.inbox, inbox_overdue=waiting.inbox_overdue, corrections=waiting.corrections)
    if ctx.caller.can("apply") and ctx.caller.department_id is not None:
        todo["applications"] = waiting.applications
    if ctx.caller.can("monitor"):  # 告警, computed on view (governance.alerts)
        todo["alerts"] = len(alerts(ctx.again()))
    latest = search(ctx.again(), chosen={"status": PUBLISHED}, sort="modified", page_size=LATEST, counts=False)
    return render_template("home.html", todo=todo, latest=latest)
