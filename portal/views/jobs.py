"""后台作业: the background jobs for the platform administrator (``jobs.list``) - each job's task,
arguments, status, attempts, when it was queued for, started and ended (China time) and why it last
failed, filtered by status.  In process (SQLite) the page lists the adapter runs and says so."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from operations import listing
from registry.errors import InvalidInput

from ..app import context, requires

bp = Blueprint("jobs", __name__)


@bp.route("/jobs")
@requires("operate")
def index():
    status = request.args.get("status", "").strip() or None
    error = None
    try:
        found = listing.list_jobs(context(), status=status)
    except InvalidInput as exc:
        found, error = listing.Jobs("", []), exc.user_message
    return render_template("jobs.html", found=found, status=status or "", error=error,
                           statuses=listing.STATUS_NAMES, tasks=listing.TASK_NAMES), 400 if error else 200
