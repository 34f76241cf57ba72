"""首页: what waits for the signed-in user, by role."""

from __future__ import annotations

from flask import Blueprint, render_template

from governance import correction, sharing
from registry.clock import utcnow
from trust.auth import CAPABILITIES

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
        if bool(set(granted) & CAPABILITIES["review"]):
            todo["submitted"] = search(db, user, chosen={"status": "submitted"}, page_size=1).total
            todo["approved"] = search(db, user, chosen={"status": "approved"}, page_size=1).total
        if bool(set(granted) & CAPABILITIES["inbox"]) and (user.department is not None or "admin" in granted):
            pending = sharing.inbox(db, user, now=now, status=sharing.SUBMITTED)
            todo["inbox"] = len(pending)
            todo["inbox_overdue"] = sum(sharing.is_overdue(a, now) for a in pending)
            todo["corrections"] = len(correction.inbox(db, user, status=correction.OPEN))
        if bool(set(granted) & CAPABILITIES["apply"]) and user.department is not None:
            todo["applications"] = len([a for a in sharing.outbox(db, user, now=now)
                                        if a.status == sharing.SUBMITTED])
    return render_template("home.html", todo=todo)
