"""The procrastinate application: the platform's tasks, their periodic schedule and retries.

    app = build_app(settings, sessions)     # GOVSHARE_DB_URL=postgresql+psycopg://...
    defer_adapter_run(app, "gaj-household", last_start)
    app.run_worker(...)                     # what `govshare worker` does

Jobs are rows of ``procrastinate_jobs`` in the platform's own PostgreSQL database (the schema is the
Alembic migration ``0029_jobs``'s).  A worker takes a job with ``SELECT ... FOR UPDATE SKIP LOCKED``,
so any number of workers on any number of machines share the queue and each job runs once.

- Periodic tasks are deferred by every worker and made once per tick by the database
  (``procrastinate_periodic_defers``' unique (task, periodic id, timestamp)).  That row is kept only for
  the newest tick, so a worker a tick behind the others can defer an older tick again: the job that
  does a tick's work claims it in ``job_tick`` first, and a second job of the tick does nothing.
- An adapter run is keyed by its adapter: a queueing lock (one queued at a time) and a lock (one
  running at a time), beside the adapter's own run lock (``AlreadyRunning``) that hand-started runs take.
- A failing job is retried ``GOVSHARE_JOBS_ATTEMPTS`` times in all, 2, 4, 8 ... seconds apart.
- A worker writes a heartbeat every ``GOVSHARE_JOBS_HEARTBEAT`` s; the periodic ``retry_stalled``
  puts the running jobs of a worker silent for ``GOVSHARE_JOBS_STALLED`` s back in the queue (a
  worker killed mid-job, a machine lost), so nothing scheduled is missed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from registry.errors import InvalidInput
from registry.passes import CHECKPOINT, FEDERATE, NOTIFY, PLAN, PRUNE, REMIND, RETAIN, STALLED, SUMMARISE, SYNC
from registry.settings import Settings, SettingsError

from . import tasks

log = logging.getLogger(__name__)

#: days a succeeded job (and its tick's claim) is kept: each tick of each periodic task is a job
KEEP_DAYS = 7
#: the base of the exponential back-off: waits of 2, 4, 8 ... seconds
BACKOFF = 2


def conninfo(db_url: str) -> str:
    """libpq's URL for the SQLAlchemy URL of the platform's database (``postgresql+psycopg://``)."""
    url = make_url(db_url)
    if url.get_backend_name() != "postgresql":
        raise SettingsError(f"procrastinate's queue needs PostgreSQL, not {url.get_backend_name()}: "
                            "set GOVSHARE_DB_URL=postgresql+psycopg://... (or GOVSHARE_JOBS=inprocess)")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def every(seconds: int, name: str = "GOVSHARE_JOBS_TICK") -> str:
    """The cron expression of a period in seconds (procrastinate's: five fields, or six with the seconds last)."""
    if 0 < seconds < 60 and 60 % seconds == 0:
        return f"* * * * * */{seconds}"  # the seconds are the sixth field (croniter's), not the first
    if seconds % 60 == 0 and 0 < seconds // 60 <= 60 and 60 % (seconds // 60) == 0:
        return f"*/{seconds // 60} * * * *"
    if seconds % 3600 == 0 and 0 < seconds // 3600 <= 24 and 24 % (seconds // 3600) == 0:
        return f"0 */{seconds // 3600} * * *"
    raise SettingsError(f"{name}={seconds} is not a period a clock repeats: use a divisor of 60 seconds, "
                        "whole minutes dividing an hour, or whole hours dividing a day (e.g. 30, 300, 3600)")


def build_app(settings: Settings, sessions: sessionmaker[Session] | None = None):
    """The platform's procrastinate application; with ``sessions``, its tasks can run (a worker)."""
    import procrastinate

    if settings.jobs_attempts < 1:
        raise SettingsError(f"GOVSHARE_JOBS_ATTEMPTS={settings.jobs_attempts}: a job is tried at least once")
    tick_cron = every(settings.jobs_tick)
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(settings.db_url),
                                                                   min_size=1, max_size=4),
                            periodic_defaults={"max_delay": max(600, 3 * settings.jobs_tick)})
    # procrastinate's max_attempts counts the retries after the first attempt (and 0 is "for ever")
    retry = procrastinate.RetryStrategy(max_attempts=settings.jobs_attempts - 1, exponential_wait=BACKOFF) \
        if settings.jobs_attempts > 1 else False

    def attempt(context, work: Callable[[sessionmaker[Session]], str], tick: int | None = None) -> str:
        """Run one attempt of the job; a failure is written to ``job_failure`` and raised (to be retried).
        A periodic job's ``tick`` is claimed first: a second job of the same tick does nothing."""
        if sessions is None:
            raise RuntimeError("this application only defers jobs: a worker builds it with the platform's sessions")
        if tick is not None:
            holder = tasks.claim_tick(sessions, context.job.task_name, tick, context.job.id)
            if holder is not None:
                return f"tick {tick} is job #{holder}'s: nothing to do"
        try:
            return work(sessions)
        except Exception as exc:
            tasks.record_failure(sessions, context.job.id, context.job.task_name, context.job.attempts + 1, exc)
            raise

    @app.task(name=SYNC, retry=retry, pass_context=True)
    def run_adapter(context, adapter: str, after: str | None) -> str:
        since = datetime.fromisoformat(after) if after else None
        return attempt(context, lambda s: tasks.run_adapter(s, settings, adapter, since))

    @app.periodic(cron=tick_cron, periodic_id="tick")
    @app.task(name=PLAN, queueing_lock=PLAN, pass_context=True)
    def plan_sync(context, timestamp: int) -> str:
        def plan(s: sessionmaker[Session]) -> str:
            due = tasks.due_adapters(s)
            deferred = [name for name, last in due if defer_adapter_run(app, name, last)]
            return f"due {len(due)}, deferred {', '.join(deferred) or 'none'}"

        return attempt(context, plan, timestamp)

    # no queueing lock: every tick is a job of its own, on the 后台作业 page; one is quick when nothing is due
    @app.periodic(cron=tick_cron, periodic_id="tick")
    @app.task(name=CHECKPOINT, retry=retry, pass_context=True)
    def audit_checkpoint(context, timestamp: int) -> str:
        return attempt(context, lambda s: tasks.audit_checkpoint(s, settings), timestamp)

    if settings.uddi_notify_seconds > 0:
        @app.periodic(cron=every(settings.uddi_notify_seconds, "GOVSHARE_UDDI_NOTIFY"), periodic_id="pass")
        @app.task(name=NOTIFY, queueing_lock=NOTIFY, lock=NOTIFY, pass_context=True)
        def notify_listeners(context, timestamp: int) -> str:
            return attempt(context, lambda s: tasks.notify_listeners(s, settings), timestamp)

    if settings.upper_url:
        peer: list[tasks.Federation] = []

        @app.periodic(cron=tick_cron, periodic_id="tick")
        @app.task(name=FEDERATE, queueing_lock=FEDERATE, lock=FEDERATE, pass_context=True)
        def federate(context, timestamp: int) -> str:
            def federation_round(s: sessionmaker[Session]) -> str:
                if not peer:
                    peer.append(tasks.Federation(s, settings))
                return peer[0].round()

            return attempt(context, federation_round, timestamp)

    @app.periodic(cron=tick_cron, periodic_id="tick")
    @app.task(name=STALLED, queueing_lock=STALLED)
    async def retry_stalled(timestamp: int) -> str:
        stalled = list(await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=settings.jobs_stalled))
        for job in stalled:
            log.warning("job #%s (%s) stalled: its worker sent no heartbeat for %d s; queued again", job.id,
                        job.task_name, settings.jobs_stalled)
            await app.job_manager.retry_job(job)
        return f"{len(stalled)} stalled jobs queued again"

    @app.periodic(cron="30 3 * * *", periodic_id="nightly")  # 03:30 UTC, 11:30 China time
    @app.task(name=PRUNE, queueing_lock=PRUNE)
    async def prune_jobs(timestamp: int) -> str:
        """Forget the jobs that succeeded more than KEEP_DAYS days ago (the failed ones stay for the page)."""
        await app.job_manager.delete_old_jobs(nb_hours=KEEP_DAYS * 24)
        if sessions is not None:
            await asyncio.to_thread(tasks.forget_ticks, sessions, KEEP_DAYS)
        return f"succeeded jobs older than {KEEP_DAYS} days deleted"

    if settings.remind_seconds > 0:
        @app.periodic(cron=every(settings.remind_seconds, "GOVSHARE_REMIND_SECONDS"), periodic_id="pass")
        @app.task(name=REMIND, queueing_lock=REMIND, lock=REMIND, retry=retry, pass_context=True)
        def remind(context, timestamp: int) -> str:
            return attempt(context, lambda s: tasks.remind(s, settings), timestamp)

    @app.periodic(cron="40 3 * * *", periodic_id="nightly")  # 03:40 UTC, 11:40 China time
    @app.task(name=RETAIN, queueing_lock=RETAIN, retry=retry, pass_context=True)
    def retention(context, timestamp: int) -> str:
        return attempt(context, lambda s: tasks.retention(s, settings), timestamp)

    @app.periodic(cron="10 * * * *", periodic_id="hourly")  # a China day is due an hour after its midnight
    @app.task(name=SUMMARISE, queueing_lock=SUMMARISE, lock=SUMMARISE, retry=retry, pass_context=True)
    def summarise_requests(context, timestamp: int) -> str:
        return attempt(context, lambda s: tasks.summarise_requests(s, settings), timestamp)

    return app


def defer_adapter_run(app, adapter: str, after: datetime | None) -> bool:
    """Queue a run of ``adapter``, due since its run that started at ``after`` (None: never run); False
    when one is queued already."""
    from procrastinate.exceptions import AlreadyEnqueued

    if not adapter:
        raise InvalidInput("an adapter run needs the adapter's name", zh="请指定适配器名称。", field="adapter")
    try:
        app.configure_task(SYNC, lock=f"sync:{adapter}", queueing_lock=f"sync:{adapter}").defer(
            adapter=adapter, after=after.isoformat() if after is not None else None)
    except AlreadyEnqueued:
        return False
    return True


def run_worker(settings: Settings, sessions: sessionmaker[Session], name: str | None = None) -> None:
    """Work the queue until SIGINT or SIGTERM (running jobs end first); a second signal ends it at once."""
    app = build_app(settings, sessions)
    app.run_worker(name=name, concurrency=max(settings.jobs_concurrency, 1),
                   update_heartbeat_interval=settings.jobs_heartbeat,
                   stalled_worker_timeout=settings.jobs_stalled, delete_jobs="never")
