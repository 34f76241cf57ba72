"""What governance waits for from a department (待办): the portal's 工作台 shows it.

    governance.todo -> Todo(inbox=2, inbox_overdue=1, corrections=0, applications=1)

One action, so that a visit to the 工作台 is one audit entry, not one per counter.  The
counts are the caller's department's (an admin's: every department's); which of them a
person sees is the portal's navigation, by role.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from registry.models import CatalogueEntry, CorrectionReport, Department, SharingApplication
from trust.actions import Context, action

from . import correction, sharing


@dataclass(frozen=True)
class Todo:
    inbox: int  # 使用申请 to the department's resources awaiting its answer
    inbox_overdue: int  # of those, past their deadline
    corrections: int  # open 纠错 reports on its resources
    applications: int  # its own 使用申请 awaiting the provider's answer


@action("governance.todo")
def todo(ctx: Context) -> Todo:
    session, now = ctx.session, ctx.now
    if ctx.caller.is_admin:
        mine = select(Department.id)
    elif ctx.caller.department_id is not None:
        mine = [ctx.caller.department_id]
    else:
        return Todo(0, 0, 0, 0)
    sharing.expire_applications(session, now)
    to_answer = (select(SharingApplication.deadline)
                 .join(CatalogueEntry, SharingApplication.entry_id == CatalogueEntry.id)
                 .where(CatalogueEntry.provider_id.in_(mine), SharingApplication.status == sharing.SUBMITTED))
    deadlines = list(session.scalars(to_answer))
    corrections = session.scalar(
        select(func.count()).select_from(CorrectionReport)
        .join(CatalogueEntry, CorrectionReport.entry_id == CatalogueEntry.id)
        .where(CatalogueEntry.provider_id.in_(mine), CorrectionReport.status == correction.OPEN))
    applications = session.scalar(select(func.count()).select_from(SharingApplication).where(
        SharingApplication.consumer_id.in_(mine), SharingApplication.status == sharing.SUBMITTED))
    return Todo(len(deadlines), sum(now > d for d in deadlines), corrections or 0, applications or 0)
