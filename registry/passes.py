"""In process, what each background loop of ``govshare serve`` did last (后台作业): one row of
``background_pass`` per task.

    tracker = Tracker(sessions, NOTIFY, period=30)
    with tracker.recording() as this:      # a failure is written, then raised again to the loop
        outcomes = notify(sessions, settings)
        this.outcome = f"{len(outcomes)} subscriptions"

On the embedded SQLite default (``GOVSHARE_JOBS=inprocess``) the background work is threads of the
serving process, not jobs of a queue: the sync scheduler's ticks, the UDDI notifier's passes, the
federation peer's rounds and the nightly retention.  Each says here how its last pass ended, so the
administrator sees them on the 后台作业 page as on procrastinate he sees the jobs, and an alert is
raised for a loop that keeps failing (``governance.alerts``).

A failure is written at once: the row counts the failures since the last success (``failures``, in
the database, so a restarted process goes on counting) and keeps when the first of them began and
the last one's error.  A success is written when the last row this process wrote was a failure, or
when it is ``QUIET`` seconds old: a loop that passes every second (federation) writes a row a minute.
So ``ended`` lags a healthy loop by up to ``QUIET`` seconds, and a loop that has written nothing for
three of its periods (``period_seconds``, at least ``QUIET``) has stopped (:func:`overdue`).

Writing is the loop's bookkeeping, not its work: a row that cannot be written (the database away)
is logged and skipped, and the pass's own outcome stands.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import case, insert, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from .clock import utcnow
from .db import unit_of_work
from .models import BackgroundPass

log = logging.getLogger(__name__)

#: the background tasks' names: procrastinate's jobs' in ``procrastinate_jobs`` (stable: queued jobs name
#: them, operations.engine), and the in-process loops' rows here
SYNC, PLAN, NOTIFY, CHECKPOINT, FEDERATE, STALLED, PRUNE, RETAIN, REMIND, SUMMARISE = (
    "govshare.run_adapter", "govshare.plan_sync", "govshare.notify_listeners", "govshare.audit_checkpoint",
    "govshare.federate", "govshare.retry_stalled", "govshare.prune_jobs", "govshare.retention", "govshare.remind",
    "govshare.summarise_requests")
#: the tasks by the names people read (后台作业, alerts)
TASK_NAMES = {SYNC: "适配器同步", PLAN: "同步调度", NOTIFY: "UDDI 订阅通知", CHECKPOINT: "审计检查点",
              FEDERATE: "上级平台目录上报", STALLED: "恢复停滞作业", PRUNE: "清理旧作业",
              RETAIN: "运行记录与已读消息到期清理", REMIND: "到期提醒与告警通知",
              SUMMARISE: "运行监测按日汇总"}

QUIET = 60.0  # seconds a success may go unwritten after a success was written
OVERDUE_PERIODS = 3  # periods without a row after which a loop has stopped
ERROR_CHARS = 2000

_table = BackgroundPass.__table__
_c = _table.c


class Pass:
    """One pass of a loop: when it started and, once it has done its work, what it did."""

    __slots__ = ("started", "outcome")

    def __init__(self) -> None:
        self.started = utcnow()
        self.outcome = ""


class Tracker:
    """The passes of one background loop, task ``task`` (procrastinate's name for the same work),
    which passes at least every ``period`` seconds while it is healthy."""

    def __init__(self, sessions: sessionmaker[Session], task: str, *, period: float):
        self.sessions, self.task = sessions, task
        self.period = int(max(period, QUIET))
        self.runner = f"{socket.gethostname()} pid {os.getpid()}"[:128]
        self.written: str | None = None  # the status of the last row this process wrote
        self.written_at = 0.0  # time.monotonic() of that write
        self.unwritable = False  # the last write failed (logged once until one succeeds)

    @contextlib.contextmanager
    def recording(self) -> Iterator[Pass]:
        """One pass: its failure is written and raised again; its success is written when due."""
        this = Pass()
        try:
            yield this
        except Exception as error:
            self._write(this, error)
            raise
        if self.written != "succeeded" or time.monotonic() - self.written_at >= QUIET:
            self._write(this, None)

    def _write(self, this: Pass, error: BaseException | None) -> None:
        ended = utcnow()
        common = {"runner": self.runner, "period_seconds": self.period, "started": this.started, "ended": ended}
        if error is None:
            values = {**common, "status": "succeeded", "outcome": this.outcome[:ERROR_CHARS], "failures": 0,
                      "failing_since": None, "succeeded": ended}
            first = {**values, "error": ""}
        else:
            text = getattr(error, "message", None) or str(error) or type(error).__name__
            message = f"{type(error).__name__}: {text}"[:ERROR_CHARS]
            values = {**common, "status": "failed", "error": message, "failures": _c.failures + 1,
                      "failing_since": case((_c.status == "failed", _c.failing_since), else_=this.started)}
            first = {**common, "status": "failed", "error": message, "outcome": "", "failures": 1,
                     "failing_since": this.started, "succeeded": None}
        try:
            for _ in range(2):  # an insert that loses to another process's becomes an update
                try:
                    with unit_of_work(self.sessions) as session:
                        changed = session.execute(update(_table).where(_c.task == self.task).values(values)).rowcount
                        if not changed:
                            session.execute(insert(_table).values(task=self.task, **first))
                    break
                except IntegrityError:
                    continue
        except SQLAlchemyError as exc:
            if not self.unwritable:
                log.warning("background work %s: its pass could not be recorded (%s); the work goes on",
                            self.task, exc.__class__.__name__)
            self.unwritable = True
            return
        self.unwritable = False
        self.written, self.written_at = values["status"], time.monotonic()


def overdue(row: BackgroundPass, now: datetime) -> bool:
    """Whether the loop of ``row`` has written nothing for ``OVERDUE_PERIODS`` of its periods."""
    return now - row.ended > timedelta(seconds=OVERDUE_PERIODS * row.period_seconds)
