"""消息 (站内消息): the signed-in person's notices, newest first (``notice.list``), each opened where it
points - the application, the 纠错 report, the catalogue entry, the certificate requests - and marked read
(``notice.open``), or all marked read at once (``notice.read_all``)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from registry.errors import InvalidInput, NotFound
from trust import notices
from trust.auth import Caller

from ..app import context, requires

bp = Blueprint("notices", __name__)


def target(notice: notices.Notice, caller: Caller) -> str:
    """Where a notice leads in the portal, for the signed-in person (a certificate's notice leads the security
    administrator to the requests to decide, the department to its own certificates)."""
    subject, ref = notice.subject, notice.ref
    if subject == "deadline":  # a reminder: "application:12", "correction:3", "grant:7:101001002/000001"
        subject, _, ref = ref.partition(":")
        if subject == "grant":
            ref = ref.partition(":")[2]
    elif subject == "alert":  # "application:12:<episode>" (an overdue answer leads to it), "certificate:<serial>",
        kind, _, rest = ref.partition(":")  # else "<kind>:<episode>"
        number, _, episode = rest.partition(":")
        if (kind in ("application", "correction") and episode) or kind == "certificate":
            subject, ref = kind, number
    if subject == "application":
        return url_for("sharing.application", number=int(ref))
    if subject == "correction":
        return url_for("corrections.index", _anchor=f"report-{ref}")
    if subject == "correction_answer":
        return url_for("corrections.index", _anchor=f"filed-{ref}")
    if subject == "alert":
        return url_for("operations.alerts")
    if subject == "registration":
        return url_for("onboarding.registrations") if caller.can("onboard") else url_for("org.index")
    if subject == "account":
        return url_for("users.index")
    if subject == "certificate":
        if caller.can("certificates"):
            return url_for("certificates.admin")
        return url_for("certificates.index") if caller.can("connect") else url_for("operations.alerts")
    if subject == "access":  # a system ("mzj.dibao") or the department ("mzj")
        return url_for("onboarding.systems") if "." in ref else url_for("org.show", code=ref)
    return url_for("catalogue.detail", code=ref)  # entry, grant, resource: the resource


@bp.route("/notices")
@requires("search")
def index():
    unread_only = request.args.get("show") == "unread"
    try:
        page = notices.notices(context(), unread_only=unread_only, page=request.args.get("page", 1, type=int) or 1,
                               kind=request.args.get("kind", "").strip() or None)
    except InvalidInput as exc:
        abort(400, description=exc.user_message)
    return render_template("notices.html", page=page, unread_only=unread_only)


@bp.route("/notices/<int:notice_id>")
@requires("search")
def open_one(notice_id: int):
    ctx = context()
    try:
        notice = notices.open_notice(ctx, notice_id=notice_id)
    except NotFound as exc:
        abort(404, description=exc.user_message)
    return redirect(target(notice, ctx.caller))


@bp.route("/notices/read", methods=["POST"])
@requires("search")
def read_all():
    done = notices.read_all(context())
    flash(f"已将 {done} 条消息标为已读。" if done else "没有未读消息。", "success")
    return redirect(url_for("notices.index"))
