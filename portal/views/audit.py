"""审计: search the audit log and verify its hash chain and signed checkpoints (``trust.audit``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, render_template, request

from trust import audit

from ..app import audit_event, portal_config, reading, record, requires, sessions, settings

bp = Blueprint("audit", __name__)
CHINA = timedelta(hours=8)


def _day(text: str, end: bool = False) -> datetime | None:
    """A China date (YYYY-MM-DD) as the naive UTC instant it starts (or, for ``end``, the next day starts)."""
    try:
        day = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return day - CHINA + (timedelta(days=1) if end else timedelta())


@bp.app_template_filter("china_time")
def _china_time(at: datetime | None) -> str:
    return (at + CHINA).strftime("%Y-%m-%d %H:%M:%S") if at else ""


@bp.route("/audit")
@requires("audit")
def index():
    args = {name: request.args.get(name, "").strip() for name in
            ("department", "operation", "resource", "result", "since", "until")}
    criteria = audit.Criteria(department=args["department"] or None, operation=args["operation"] or None,
                              resource=args["resource"] or None, result=args["result"] or None,
                              since=_day(args["since"]) if args["since"] else None,
                              until=_day(args["until"], end=True) if args["until"] else None)
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    size = portal_config().page_size
    with reading() as db:
        total, rows = audit.search(db, criteria, offset=(page - 1) * size, limit=size)
    record(audit_event("portal.audit.search", record_count=len(rows),
                       query_digest=audit.query_digest({k: v for k, v in args.items() if v})))
    return render_template("audit.html", args=args, total=total, rows=rows, page=page,
                           pages=max((total + size - 1) // size, 1), report=None)


@bp.route("/audit/verify", methods=["POST"])
@requires("audit")
def verify():
    report = audit.verify(sessions(), settings())
    record(audit_event("portal.audit.verify", result="ok" if report.ok else "fault:ChainBroken",
                       detail=f"{report.entries} entries, {len(report.problems)} problems, "
                              f"{report.unsigned} after the last signed checkpoint"))
    return render_template("audit.html", args={}, total=0, rows=[], page=1, pages=1, report=report)
