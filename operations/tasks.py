"""What each background job does, as plain functions over the platform's actions and loops' passes.

Each is one pass of work that is safe to run again: an adapter run resumes from its checkpoint and
is skipped once a run newer than the one its schedule saw has succeeded; a notification pass claims each subscription in
one conditional UPDATE; a checkpoint is signed under the chain's lock; federation sends only what
the higher platform does not hold.  So a job retried after its worker died does its work once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from adapters import sync
from adapters.schedule import load_folder, plan
from adapters.sync_cli import adapters_folder
from registry.clock import utcnow
from registry.db import unit_of_work
from registry.models import JobFailure, JobTick, SyncRun
from registry.passes import REMIND, RETAIN, SUMMARISE, Tracker
from registry.settings import Settings
from trust import audit
from trust.actions import Context
from trust.auth import Caller

log = logging.getLogger(__name__)


def record_failure(sessions: sessionmaker[Session], job_id: int, task: str, attempt: int, error: BaseException) -> None:
    """Keep why attempt ``attempt`` of job ``job_id`` failed, for the portal's 后台作业 page."""
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    with unit_of_work(sessions) as session:
        session.add(JobFailure(job_id=job_id, task=task, attempt=attempt, at=utcnow(),
                               error=f"{type(error).__name__}: {text}"[:4000]))


def claim_tick(sessions: sessionmaker[Session], task: str, tick: int, job_id: int) -> int | None:
    """Claim periodic ``task``'s ``tick`` for job ``job_id``; None when it is this job's (claimed now, or by
    an earlier attempt of it), else the job that claimed it first."""
    try:
        with unit_of_work(sessions) as session:
            session.add(JobTick(task=task, tick=tick, job_id=job_id, claimed=utcnow()))
        return None
    except IntegrityError:
        with sessions() as session:
            holder = session.scalar(select(JobTick.job_id).where(JobTick.task == task, JobTick.tick == tick))
        return None if holder == job_id else holder


def forget_ticks(sessions: sessionmaker[Session], days: int) -> None:
    """Forget the claims of ticks older than ``days`` days (their jobs are deleted as well)."""
    oldest = int((utcnow() - timedelta(days=days)).replace(tzinfo=UTC).timestamp())
    with unit_of_work(sessions) as session:
        session.execute(delete(JobTick).where(JobTick.tick < oldest))


def due_adapters(sessions: sessionmaker[Session], now: datetime | None = None) -> list[tuple[str, datetime | None]]:
    """(adapter, the start of its last run as the plan saw it) for every adapter file whose schedule says it
    is due ``now``."""
    now = now or utcnow()
    configs, errors = load_folder(adapters_folder())
    for error in errors:
        log.error("adapter file skipped until it is fixed:\n%s", error)
    with sessions() as session:
        return [(p.config.name, p.last) for p in plan(session, configs, now, {}) if p.is_due(now)]


def run_adapter(sessions: sessionmaker[Session], settings: Settings, adapter: str, after: datetime | None) -> str:
    """Run ``adapter`` incrementally, as the platform (channel ``job``), unless a run started after ``after``
    (the last run the schedule saw; None: none) has succeeded - a job queued twice for one due time, or
    retried after its run succeeded, does nothing.  A failure raises (the job is retried; the next run
    resumes from the checkpoint)."""
    newer = SyncRun.started > after if after is not None else SyncRun.started.is_not(None)
    with sessions() as session:
        done = session.scalar(select(exists().where(SyncRun.adapter == adapter, SyncRun.status == "succeeded",
                                                    newer)))
    if done:
        return f"{adapter}: a run since {after or 'the first'} has succeeded; nothing to do"
    platform = Context(Caller.platform("job"), sessions, settings)
    run = sync.run(platform, adapter=adapter, folder=adapters_folder())
    return f"{adapter} run #{run.id} {run.mode} {run.status}: {run.summary()}"


def notify_listeners(sessions: sessionmaker[Session], settings: Settings) -> str:
    """One UDDI notification pass (directory.uddi.listener.notify)."""
    from directory.uddi.listener import notify

    outcomes = notify(sessions, settings)
    return f"{len(outcomes)} subscriptions: " + ", ".join(sorted({o.outcome for o in outcomes}))


def audit_checkpoint(sessions: sessionmaker[Session], settings: Settings) -> str:
    """Sign a checkpoint of an idle audit chain whose oldest unsigned entry is old enough."""
    signed = audit.checkpoint_if_due(sessions, settings)
    return f"checkpoint at seq {signed.seq} signed" if signed is not None else "no checkpoint due"


def retention(sessions: sessionmaker[Session], settings: Settings, *, zh: bool = False) -> str:
    """The nightly clean-up of what is kept for a while only: operational records (运行监测) older than
    ``GOVSHARE_MONITORING_DAYS``, and read 站内消息 older than ``GOVSHARE_NOTICE_DAYS``.  The evidence log is
    archived by an operator, month by month (``govshare audit archive``: its file goes to offline
    storage), not here.  ``zh``: the line in Chinese, for the 后台作业 page."""
    from registry import request_log
    from trust import notices

    deleted, days = request_log.purge(sessions, settings), settings.monitoring_days
    read, notice_days = notices.purge(sessions, settings), settings.notice_days
    return (f"删除了 {deleted} 条超过 {days} 天的运行监测记录, {read} 条超过 {notice_days} 天的已读消息" if zh else
            f"deleted {deleted} operational records older than {days} days and {read} read notices older than "
            f"{notice_days} days")


def summarise_requests(sessions: sessionmaker[Session], settings: Settings, *, zh: bool = False) -> str:
    """运行监测按日汇总: summarise the China days of operational records that have ended and are not
    summarised yet (``registry.request_log.summarise``)."""
    from registry import request_log

    return request_log.summarised_line(request_log.summarise(sessions, settings), zh=zh)


def remind(sessions: sessionmaker[Session], settings: Settings, *, zh: bool = False) -> str:
    """到期提醒与告警通知: the reminders due now that were never sent (``governance.reminders``)."""
    from governance.reminders import remind as send

    return send(sessions, settings, zh=zh)


class Loop:
    """In process (SQLite, ``govshare serve``): ``work`` ``first`` seconds after the start, then every
    ``every`` seconds, each pass a row of 后台作业 under ``task`` (procrastinate's name for the same work)."""

    def __init__(self, sessions: sessionmaker[Session], task: str, work, *, first: float, every: float):
        import threading

        self.task, self.work, self.first, self.every = task, work, first, every
        self.tracker = Tracker(sessions, task, period=max(first, every))
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True, name=f"govshare-{task.split('.')[-1]}")

    def start(self) -> Loop:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()

    def _loop(self) -> None:
        wait = self.first
        while not self.stopping.wait(wait):
            try:
                with self.tracker.recording() as this:  # the 后台作业 page's row of this loop
                    this.outcome = self.work()
                log.info("%s: %s", self.task, this.outcome)
            except Exception:  # noqa: BLE001 - logged and on 后台作业; tried again at the next pass
                log.exception("%s failed", self.task)
            wait = self.every


def housekeeper(sessions: sessionmaker[Session], settings: Settings, *, first: float = 60.0,
                every: float = 86_400.0) -> Loop:
    """:func:`retention` a minute after the start, then daily."""
    return Loop(sessions, RETAIN, lambda: retention(sessions, settings, zh=True), first=first, every=every)


def summariser(sessions: sessionmaker[Session], settings: Settings, *, first: float = 90.0,
               every: float = 3_600.0) -> Loop:
    """:func:`summarise_requests` a minute and a half after the start, then hourly (a day is due an hour
    after China midnight)."""
    return Loop(sessions, SUMMARISE, lambda: summarise_requests(sessions, settings, zh=True), first=first,
                every=every)


def reminder(sessions: sessionmaker[Session], settings: Settings, *, first: float = 30.0) -> Loop:
    """:func:`remind` half a minute after the start, then every ``GOVSHARE_REMIND_SECONDS``."""
    return Loop(sessions, REMIND, lambda: remind(sessions, settings, zh=True), first=first,
                every=settings.remind_seconds)


class Federation:
    """This worker's federation peer (federation.peer.Peer): what the higher platform holds is kept in
    memory between rounds, so a round pushes only what changed and a full reconciliation comes every
    ``GOVSHARE_UPPER_RECONCILE`` seconds, after a failure, and first in every worker."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings):
        from federation.peer import Peer

        self.peer = Peer(sessions, settings)
        self.settings = settings
        self.reconciled: datetime | None = None

    def round(self) -> str:
        now = utcnow()
        try:
            due = self.reconciled is None or (now - self.reconciled).total_seconds() >= \
                self.settings.upper_reconcile_seconds
            report = self.peer.reconcile() if due else self.peer.push()
            if due:
                self.reconciled = now
            delivered = self.peer.deliver()
        except Exception:
            self.peer.held, self.reconciled = None, None  # unknown again: the next round reconciles
            raise
        return f"{'reconciled' if due else 'pushed'}: {report.line() if report else 'nothing changed'}; " \
               f"{delivered} records delivered"
