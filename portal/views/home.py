"""首页: what waits for the signed-in user, by role."""

from __future__ import annotations

from flask import Blueprint, render_template

from registry.clock import utcnow
from security import correction, governance

from .. import roles
from ..app import me, reading, requires
from ..search import search

bp = Blueprint("home", __name__)


@bp.route("/")
@requires("search")
def index():
    now = utcnow()
    todo: dict[str, object] = {}
    with reading() as db:
        user = me(db)
        granted = user.role_set
        if roles.can(granted, "review"):
            todo["submitted"] = search(db, user, chosen={"status": "submitted"}, page_size=1).total
            todo["approved"] = search(db, user, chosen={"status": "approved"}, page_size=1).total
        if roles.can(granted, "inbox") and (user.department is not None or "admin" in granted):
            pending = governance.inbox(db, user, now=now, status=governance.SUBMITTED)
            todo["inbox"] = len(pending)
            todo["inbox_overdue"] = sum(governance.is_overdue(a, now) for a in pending)
            todo["corrections"] = len(correction.inbox(db, user, status=correction.OPEN))
        if roles.can(granted, "apply") and user.department is not None:
            todo["applications"] = len([a for a in governance.outbox(db, user, now=now)
                                        if a.status == governance.SUBMITTED])
    return render_template("home.html", todo=todo)
