"""告警: what needs someone's attention, computed from the database when asked (no daemon keeps them).

    alerts(ctx) -> [Alert(kind="adapter", subject="gaj-hj", what="适配器 gaj-hj 最近 2 次同步失败: ...",
                          since=datetime(2026, 12, 6, 1, 0), place="monitor"), ...]

Each alert says what is wrong, since when (naive UTC: when it began), and the portal page where it
is acted on (``place``, an endpoint name the portal maps to its address, with ``args``):

- ``adapter``: an adapter whose last finished sync run failed - since the first failure after its last
  success (交换监控);
- ``provider``: a 逻辑集中 resource whose provider did not answer: its last forwarded query ended in
  ``ProviderUnavailable`` (as the audit log records it, ``exchange.logical``), within :data:`PROVIDER_WINDOW`
  - since the first such failure after its last answered query (the resource's page);
- ``node``: a front-end node (前置交换节点) with no heartbeat for ``governance.nodes.SILENT_AFTER``, and
  ``platform``: a lower platform (目录管理节点) not heard from for :data:`PLATFORM_SILENT_AFTER` - since
  it was last heard from (节点);
- ``certificate``: a valid certificate the CA issued that ends within ``GOVSHARE_ALERT_CERT_DAYS`` (or has
  ended) and has no successor of the same department, system and purpose that lasts longer; ``ca``: the
  platform CA itself - since the day the window opened (证书管理);
- ``application`` / ``correction``: a 使用申请 still waiting, or a 纠错 report still open, past its
  deadline - since the deadline (the provider's inbox);
- ``job``: background work that keeps failing (后台作业) - in process, a loop whose last
  :data:`JOB_FAILURES` passes failed (or the last pass of a loop that runs less than hourly, such as the
  nightly retention), since the first of them; on procrastinate, a task with jobs that failed every
  attempt since its last job that succeeded, since the first of them (adapter runs are ``adapter``'s).

An alert clears by itself when its cause is gone: a successful run, an answered query, a heartbeat,
a renewed certificate, an answer, a pass or job that succeeds (or a failed job retried or deleted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session

from registry.clock import china_text, naive_utc
from registry.models import (
    UNAVAILABLE,
    AuditEntry,
    BackgroundPass,
    CatalogueEntry,
    Certificate,
    CorrectionReport,
    Department,
    FederationNode,
    FrontNode,
    SharingApplication,
    SyncRun,
)
from registry.passes import SYNC, TASK_NAMES
from registry.settings import Settings
from trust import pki
from trust.actions import Context, action

from .nodes import SILENT_AFTER

PROVIDER_WINDOW = timedelta(days=7)  # a provider failure older than this, never retried, is no longer news
PLATFORM_SILENT_AFTER = timedelta(minutes=15)  # three of a lower platform's default 300 s reconciliations
JOB_FAILURES = 3  # passes of an in-process loop failed in a row before it is news (one may be a blip)
KINDS = {"adapter": "适配器同步失败", "provider": "逻辑集中提供方不可达", "node": "前置交换节点失联",
         "platform": "下级平台失联", "certificate": "证书即将到期", "ca": "平台 CA 证书即将到期",
         "application": "使用申请逾期未答复", "correction": "纠错逾期未答复", "job": "后台任务持续失败"}


@dataclass(frozen=True)
class Alert:
    kind: str
    subject: str  # what it is about: the adapter, resource, node, certificate serial, application number
    what: str  # the alert in Chinese, for people
    since: datetime  # naive UTC
    place: str  # the portal endpoint where it is acted on
    args: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return KINDS[self.kind]


@action("monitoring.alerts")
def alerts(ctx: Context) -> list[Alert]:
    """Every alert as of the action's time, oldest first."""
    found = current(ctx.session, ctx.settings, ctx.now)
    ctx.note(record_count=len(found))
    return found


def current(session: Session, settings: Settings, now: datetime) -> list[Alert]:
    """Every alert as of ``now``, oldest first: what the action reads for a person, and what ``/metrics``
    counts by kind for the operators' monitoring (``server.platform_metrics``), which records no access."""
    now = now.replace(tzinfo=None)
    found = (_adapters(session) + _providers(session, now) + _nodes(session, now)
             + _certificates(session, settings, now) + _overdue(session, now) + _jobs(session, settings))
    return sorted(found, key=lambda a: (a.since, a.kind, a.subject))


def _adapters(session) -> list[Alert]:
    last_ok = (select(SyncRun.adapter, func.max(SyncRun.id).label("ok")).where(SyncRun.status == "succeeded")
               .group_by(SyncRun.adapter).subquery())
    failing = (select(SyncRun.adapter, func.min(SyncRun.started), func.count(), func.max(SyncRun.id))
               .outerjoin(last_ok, last_ok.c.adapter == SyncRun.adapter)
               .where(SyncRun.status == "failed", SyncRun.id > func.coalesce(last_ok.c.ok, 0))
               .group_by(SyncRun.adapter))
    found = []
    for adapter, since, count, last in session.execute(failing):
        message = session.scalar(select(SyncRun.message).where(SyncRun.id == last)) or ""
        what = f"适配器 {adapter} 最近 {count} 次同步失败" + (f": {message[:200]}" if message else "")
        found.append(Alert("adapter", adapter, what, since, "monitor.index"))
    return found


def _providers(session, now: datetime) -> list[Alert]:
    recent = AuditEntry.recorded_at >= now - PROVIDER_WINDOW
    # the value written into the statement, as in the partial index's predicate, so that the index serves it
    failed = AuditEntry.result == bindparam("unavailable", UNAVAILABLE, literal_execute=True)
    found = []
    for code, in session.execute(select(AuditEntry.resource_code).where(recent, failed).distinct()):
        answered = session.scalar(select(func.max(AuditEntry.seq)).where(
            AuditEntry.resource_code == code, AuditEntry.result == "ok", AuditEntry.operation.in_(
                ("exchange.query_records", "exchange.unified_query"))))
        first = session.execute(select(AuditEntry.recorded_at, AuditEntry.detail).where(
            AuditEntry.resource_code == code, failed, AuditEntry.seq > (answered or 0))
            .order_by(AuditEntry.seq).limit(1)).first()
        if first is not None:
            found.append(Alert("provider", code, f"逻辑集中资源 {code} 的提供方服务不可达: {first.detail[:200]}",
                               first.recorded_at, "catalogue.detail", {"code": code}))
    return found


def _nodes(session, now: datetime) -> list[Alert]:
    found = []
    for node, name in session.execute(select(FrontNode, Department.name).join(
            Department, Department.id == FrontNode.department_id).where(FrontNode.reported_at < now - SILENT_AFTER)):
        found.append(Alert("node", node.node_id, f"{name}的前置交换节点 {node.system_code or node.node_id} 自上次心跳后"
                           "未再报告", node.reported_at, "nodes.index"))
    for platform, name in session.execute(select(FederationNode, Department.name).join(
            Department, Department.id == FederationNode.department_id)
            .where(FederationNode.last_contact < now - PLATFORM_SILENT_AFTER)):
        found.append(Alert("platform", str(platform.department_id), f"下级平台{name}自上次联系后未再推送或对账",
                           platform.last_contact, "nodes.index"))
    return found


def _certificates(session, settings: Settings, now: datetime) -> list[Alert]:
    window = timedelta(days=settings.alert_cert_days)
    found = []
    latest = {(department, system, purpose): ends for department, system, purpose, ends in session.execute(
        select(Certificate.department_id, Certificate.system_id, Certificate.purpose, func.max(Certificate.not_after))
        .where(Certificate.status == "valid")
        .group_by(Certificate.department_id, Certificate.system_id, Certificate.purpose))}
    for cert, name in session.execute(select(Certificate, Department.name).join(
            Department, Department.id == Certificate.department_id)
            .where(Certificate.status == "valid", Certificate.not_after <= now + window)):
        if latest[(cert.department_id, cert.system_id, cert.purpose)] > now + window:
            continue  # renewed: a certificate of the same holder and purpose outlasts the window
        ended = "已于" if cert.not_after <= now else "将于"
        found.append(Alert("certificate", cert.serial, f"{name}的证书 {cert.subject} (序列号 {cert.serial}) "
                           f"{ended} {china_text(cert.not_after)} 到期", cert.not_after - window, "certificates.admin"))
    ca = pki.ca_certificate(settings)
    if ca is not None:
        ends = ca.not_valid_after_utc.replace(tzinfo=None)
        if ends <= now + window:
            found.append(Alert("ca", format(ca.serial_number, "x"), f"平台 CA 证书 {ca.subject.rfc4514_string()} "
                               f"{'已于' if ends <= now else '将于'} {china_text(ends)} 到期", ends - window,
                               "certificates.admin"))
    return found


def _overdue(session, now: datetime) -> list[Alert]:
    found = []
    for application, consumer, resource in session.execute(
            select(SharingApplication, Department.name, CatalogueEntry.resource_code)
            .join(Department, Department.id == SharingApplication.consumer_id)
            .join(SharingApplication.entry)
            .where(SharingApplication.status == "submitted", SharingApplication.deadline < now)):
        found.append(Alert("application", str(application.id), f"{consumer}对资源 {resource} 的使用申请 "
                           f"#{application.id} 已超过答复期限 ({china_text(application.deadline)})",
                           application.deadline, "sharing.inbox"))
    for report, reporter, resource in session.execute(
            select(CorrectionReport, Department.name, CatalogueEntry.resource_code)
            .join(Department, Department.id == CorrectionReport.reporter_id)
            .join(CorrectionReport.entry)
            .where(CorrectionReport.status == "open", CorrectionReport.deadline < now)):
        found.append(Alert("correction", str(report.id), f"{reporter}对资源 {resource} 的纠错 #{report.id} "
                           f"已超过答复期限 ({china_text(report.deadline)})", report.deadline, "corrections.index"))
    return found


#: on procrastinate, per task but the adapter runs: its jobs failed for good since its last job that succeeded
#: (the jobs are read twice, not once per failed job: a week of ticks is 100,000 rows, and no index has their task)
_FAILED_JOBS = text("""
    WITH ok AS (SELECT task_name, max(id) AS id FROM procrastinate_jobs WHERE status = 'succeeded' GROUP BY task_name)
    SELECT j.task_name, count(*) AS failed, min(e.at) AS since
    FROM procrastinate_jobs j
    LEFT JOIN ok ON ok.task_name = j.task_name
    JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'failed'
    WHERE j.status = 'failed' AND j.task_name <> :adapter_runs AND j.id > COALESCE(ok.id, 0)
    GROUP BY j.task_name""")


def _jobs(session, settings: Settings) -> list[Alert]:
    found = []
    if settings.job_engine == "procrastinate":
        for task, failed, since in session.execute(_FAILED_JOBS, {"adapter_runs": SYNC}):
            found.append(Alert("job", task, f"后台作业 {TASK_NAMES.get(task, task)} 有 {failed} 个作业重试用尽后失败",
                               naive_utc(since).replace(microsecond=0), "jobs.index", {"status": "failed"}))
        return found
    for row in session.scalars(select(BackgroundPass).where(BackgroundPass.status == "failed")):
        if row.failures >= JOB_FAILURES or row.period_seconds >= 3600:
            found.append(Alert("job", row.task, f"后台任务 {TASK_NAMES.get(row.task, row.task)} 已连续失败 "
                               f"{row.failures} 次: {row.error[:200]}", row.failing_since or row.started, "jobs.index"))
    return found
