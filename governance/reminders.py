"""到期提醒与告警通知: the platform's own 站内消息, sent by a background pass (``govshare.remind``) every
``GOVSHARE_REMIND_SECONDS`` (300) rather than by a person's action.

    remind(sessions, settings)   -> "told 3 people of 2 reminders"

- **a deadline near** (到期提醒): a 使用申请 waiting for an answer, or a 纠错 report open, whose deadline
  falls within :data:`DEADLINE_NEAR` - its provider department's staff who answer it; a grant in force
  that ends within :data:`GRANT_ENDING` - the consumer department's people who read data, to apply again
  in time (a grant of a whole department; one of an application system, to its department);
- **an alert** (告警, ``governance.alerts``): each alert as it begins - the monitoring roles (admin,
  auditor), for a 使用申请 or 纠错 past its deadline the provider department's staff as well, and for a
  certificate near its end the people of its department who request certificates;
- **a 使用申请 expired** unanswered (``sharing.expire_applications``, which other reads run too): its
  applicant.

Each reminder is sent once: a deadline once per application, report or grant; an alert once per
episode (an alert that clears and begins again is news again).  The pass writes its notices in one
transaction; a pass that fails is retried whole, and what it had sent is not sent twice.  Notices are
not accesses to data, so the pass writes no audit entry; its outcome is a row of 后台作业.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from registry.clock import china_date, china_text, utcnow
from registry.db import unit_of_work
from registry.models import (
    CatalogueEntry,
    Certificate,
    CorrectionReport,
    Department,
    SharingApplication,
    SharingGrant,
)
from registry.settings import Settings
from trust.notices import tell, told_of

from . import alerts
from .sharing import SUBMITTED, expire_applications, in_force

#: a 使用申请 or 纠错 whose deadline is this near is a reminder to its provider
DEADLINE_NEAR = timedelta(hours=24)
#: a grant that ends this soon is a reminder to its consumer
GRANT_ENDING = timedelta(days=7)


def remind(sessions: sessionmaker[Session], settings: Settings, *, now: datetime | None = None,
           zh: bool = False) -> str:
    """Send the reminders due at ``now`` that were never sent; what was sent, in Chinese with ``zh`` (for
    the 后台作业 page)."""
    now = (now or utcnow()).replace(tzinfo=None, microsecond=0)
    with unit_of_work(sessions) as session:
        expire_applications(session, now)  # an application that expired tells its applicant at once
        sent = _Sent(session, now)
        _deadlines(sent, session, now)
        _grants(sent, session, now)
        for alert in alerts.current(session, settings, now):
            _alert(sent, session, alert)
    if zh:
        return f"发送提醒 {sent.reminders} 条, 通知 {sent.people} 人次"
    return f"told {sent.people} people of {sent.reminders} reminders"


class _Sent:
    """The reminders one pass sends, each once."""

    def __init__(self, session: Session, now: datetime):
        self.session, self.now = session, now
        self.reminders = self.people = 0

    def once(self, subject: str, ref: str, text: str, *to: tuple[int | None, str]) -> None:
        """Tell each (department id or None for any, capability) of ``to`` of ``ref``, unless it was told (a
        reminder that found no one to tell is tried again at the next pass)."""
        if told_of(self.session, subject, ref):
            return
        people = tell(self.session, self.now, to, subject=subject, ref=ref, text=text)
        if people:
            self.reminders += 1
            self.people += people


def _deadlines(sent: _Sent, session: Session, now: datetime) -> None:
    near = now + DEADLINE_NEAR
    for application, consumer, entry in session.execute(
            select(SharingApplication, Department.name, CatalogueEntry)
            .join(Department, Department.id == SharingApplication.consumer_id).join(SharingApplication.entry)
            .where(SharingApplication.status == SUBMITTED, SharingApplication.deadline > now,
                   SharingApplication.deadline <= near)):
        sent.once("deadline", f"application:{application.id}",
                  f"{consumer}对「{entry.name}」的使用申请 #{application.id} 将于 {china_text(application.deadline)} "
                  "到期, 请及时答复。", (entry.provider_id, "inbox"))
    for report, reporter, entry in session.execute(
            select(CorrectionReport, Department.name, CatalogueEntry)
            .join(Department, Department.id == CorrectionReport.reporter_id).join(CorrectionReport.entry)
            .where(CorrectionReport.status == "open", CorrectionReport.deadline > now,
                   CorrectionReport.deadline <= near)):
        sent.once("deadline", f"correction:{report.id}",
                  f"{reporter}对「{entry.name}」的纠错 #{report.id} 将于 {china_text(report.deadline)} 到期, "
                  "请及时答复。",
                  (entry.provider_id, "correction_answer"))


def _grants(sent: _Sent, session: Session, now: datetime) -> None:
    for grant, entry, provider in session.execute(
            select(SharingGrant, CatalogueEntry, Department.name)
            .join(CatalogueEntry, SharingGrant.entry_id == CatalogueEntry.id)
            .join(Department, Department.id == CatalogueEntry.provider_id)
            .where(*in_force(now), SharingGrant.valid_to.is_not(None), SharingGrant.valid_to <= now + GRANT_ENDING)):
        last_day = china_date(grant.valid_to - timedelta(seconds=1))
        sent.once("deadline", f"grant:{grant.id}:{entry.resource_code}",
                  f"{provider}授权本部门读取「{entry.name}」的授权 #{grant.id} 将于 {last_day} 到期; "
                  "如需继续使用, 请及时重新提交使用申请。", (grant.consumer_id, "apply"))


def _alert(sent: _Sent, session: Session, alert: alerts.Alert) -> None:
    """An alert's episode is its kind, subject and start; the notice's ref names the kind and the episode's
    digest - and for an overdue 使用申请 or 纠错 its number, for a certificate its serial, so that the notice
    leads to it."""
    episode = hashlib.sha256(f"{alert.kind}|{alert.subject}|{alert.since.isoformat()}".encode()).hexdigest()[:16]
    to: list[tuple[int | None, str]] = [(None, "monitor")]
    if alert.kind in ("certificate", "ca"):
        to.append((None, "certificates"))  # the security administrators, who issue them
    owner = _owner_of(session, alert)
    if owner is not None:
        to.append(owner)
        # a certificate's end comes once: its serial (40 characters) names its one episode
        ref = f"{alert.kind}:{alert.subject}" + (f":{episode}" if alert.kind != "certificate" else "")
    else:
        ref = f"{alert.kind}:{episode}"
    sent.once("alert", ref, f"告警 ({alert.title}): {alert.what}", *to)


def _owner_of(session: Session, alert: alerts.Alert) -> tuple[int, str] | None:
    """For an overdue 使用申请 or 纠错, its provider department and the capability that answers it; for a
    certificate near its end, its department and the capability that asks for its renewal."""
    if alert.kind == "certificate":
        holder = session.scalar(select(Certificate.department_id).where(Certificate.serial == alert.subject))
        return (holder, "connect") if holder is not None else None
    if alert.kind == "application":
        provider = session.scalar(select(CatalogueEntry.provider_id).join(SharingApplication.entry)
                                  .where(SharingApplication.id == int(alert.subject)))
        return (provider, "inbox") if provider is not None else None
    if alert.kind == "correction":
        provider = session.scalar(select(CatalogueEntry.provider_id).join(CorrectionReport.entry)
                                  .where(CorrectionReport.id == int(alert.subject)))
        return (provider, "correction_answer") if provider is not None else None
    return None
