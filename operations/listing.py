"""The action ``jobs.list``: recent background jobs (后台作业) for the platform administrator.

With procrastinate (PostgreSQL) a job is a row of ``procrastinate_jobs``: its task, arguments,
status, attempts, when it was queued for, when its last attempt started and ended (its
``procrastinate_events``) and why its last failed attempt failed (``job_failure``); above them, each
task's last finished job, with the jobs failed since its last success.  In process
(the embedded SQLite default) the loops of ``govshare serve`` keep no queue: each loop's last pass
is listed (``background_pass``, written by ``registry.passes``: the sync scheduler, the UDDI notifier,
the federation peer, the retention), and below them the adapter runs (``sync_run``), the one kind of
background work that records each run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, text

from registry.errors import InvalidInput
from registry.models import BackgroundPass, SyncRun
from registry.passes import overdue
from trust.actions import Context, action

#: a job's status as the page names it; "retry" is a queued job that has failed before
STATUS_NAMES = {"todo": "排队", "doing": "运行中", "succeeded": "成功", "failed": "失败", "retry": "重试",
                "cancelled": "已取消", "aborted": "已中止"}
LIMIT = 200


@dataclass(frozen=True)
class Job:
    id: int
    task: str
    arguments: str
    status: str  # a key of STATUS_NAMES
    attempts: int
    scheduled: datetime | None  # UTC, naive like the platform's other times
    started: datetime | None
    ended: datetime | None
    error: str


@dataclass(frozen=True)
class Loop:
    """A task's last pass: an in-process loop's (``registry.passes``; ``overdue``: nothing written for three
    periods), or on procrastinate the task's last finished job (``failures``: the jobs failed since its last
    job that succeeded; no runner, never overdue: stalled jobs are queued again)."""

    task: str
    runner: str
    status: str  # succeeded | failed
    started: datetime
    ended: datetime
    outcome: str
    error: str
    failures: int
    failing_since: datetime | None
    succeeded: datetime | None
    period_seconds: int
    overdue: bool


@dataclass(frozen=True)
class Jobs:
    engine: str  # procrastinate | inprocess
    jobs: list[Job]
    loops: list[Loop] = field(default_factory=list)  # each task's last pass or job


# attempts: the attempts started (procrastinate's own ``attempts`` also counts a failed job queued again)
_QUEUE = text("""
    SELECT j.id, j.task_name, j.args, j.status::text AS status, j.attempts AS retries,
           (SELECT count(*) FROM procrastinate_events e WHERE e.job_id = j.id AND e.type = 'started') AS attempts,
           COALESCE(j.scheduled_at, (SELECT min(e.at) FROM procrastinate_events e
                                     WHERE e.job_id = j.id AND e.type = 'deferred')) AS scheduled,
           (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id AND e.type = 'started') AS started,
           (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id
              AND e.type IN ('succeeded', 'failed', 'deferred_for_retry', 'aborted', 'cancelled')) AS ended,
           (SELECT f.error FROM job_failure f WHERE f.job_id = j.id ORDER BY f.id DESC LIMIT 1) AS error
    FROM procrastinate_jobs j
    WHERE (CAST(:status AS text) IS NULL
           OR (CAST(:status AS text) = 'retry' AND j.status = 'todo' AND j.attempts > 0)
           OR (CAST(:status AS text) = 'todo' AND j.status = 'todo' AND j.attempts = 0)
           OR (CAST(:status AS text) NOT IN ('retry', 'todo') AND j.status::text = CAST(:status AS text)))
    ORDER BY j.id DESC LIMIT :limit""")


# each task's last finished job, its last job that succeeded, and the jobs failed since: the jobs read three
# times by task (no index has their task), then a few look-ups by job
_LATEST = text("""
    WITH last AS (SELECT task_name, max(id) AS id FROM procrastinate_jobs
                  WHERE status IN ('succeeded', 'failed') GROUP BY task_name),
         ok AS (SELECT task_name, max(id) AS id FROM procrastinate_jobs WHERE status = 'succeeded' GROUP BY task_name),
         bad AS (SELECT j.task_name, count(*) AS failures, min(j.id) AS first_id FROM procrastinate_jobs j
                 LEFT JOIN ok ON ok.task_name = j.task_name
                 WHERE j.status = 'failed' AND j.id > COALESCE(ok.id, 0) GROUP BY j.task_name)
    SELECT last.task_name, j.status::text AS status, COALESCE(bad.failures, 0) AS failures,
           (SELECT min(e.at) FROM procrastinate_events e WHERE e.job_id = last.id AND e.type = 'started') AS started,
           (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = last.id
              AND e.type IN ('succeeded', 'failed')) AS ended,
           (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = ok.id AND e.type = 'succeeded') AS succeeded,
           (SELECT min(e.at) FROM procrastinate_events e WHERE e.job_id = bad.first_id
              AND e.type = 'started') AS failing_since,
           (SELECT f.error FROM job_failure f WHERE f.job_id = last.id ORDER BY f.id DESC LIMIT 1) AS error
    FROM last JOIN procrastinate_jobs j ON j.id = last.id
    LEFT JOIN ok ON ok.task_name = last.task_name LEFT JOIN bad ON bad.task_name = last.task_name
    WHERE CAST(:status AS text) IS NULL OR j.status::text = CAST(:status AS text)
    ORDER BY last.task_name""")


def _naive_utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=None) - moment.utcoffset() if moment is not None and moment.tzinfo else moment


@action("jobs.list")
def list_jobs(ctx: Context, *, status: str | None = None, limit: int = LIMIT) -> Jobs:
    """The newest ``limit`` jobs, of one status (a key of :data:`STATUS_NAMES`) or all, and each task's
    last pass or job of that status."""
    if status is not None and status not in STATUS_NAMES:
        raise InvalidInput(f"no job status {status!r}: one of {', '.join(STATUS_NAMES)}", code="UnknownStatus",
                           zh=f"没有这种作业状态: {status}。", field="status")
    limit = min(max(limit, 1), LIMIT)
    if ctx.settings.job_engine == "procrastinate":
        jobs = [Job(row.id, row.task_name, json.dumps(row.args, ensure_ascii=False, sort_keys=True),
                    "retry" if row.status == "todo" and row.retries else row.status, row.attempts,
                    _naive_utc(row.scheduled), _naive_utc(row.started), _naive_utc(row.ended), row.error or "")
                for row in ctx.session.execute(_QUEUE, {"status": status, "limit": limit})]
        loops = [Loop(row.task_name, "", row.status, _naive_utc(row.started or row.ended), _naive_utc(row.ended), "",
                      row.error or "", row.failures, _naive_utc(row.failing_since), _naive_utc(row.succeeded), 0, False)
                 for row in ctx.session.execute(_LATEST, {"status": status})]
    else:
        shown = {"doing": "running", "succeeded": "succeeded", "failed": "failed"}
        query = select(SyncRun).order_by(SyncRun.id.desc()).limit(limit)
        if status is not None:
            query = query.where(SyncRun.status == shown.get(status, ""))
        jobs = [Job(run.id, "govshare.run_adapter", json.dumps({"adapter": run.adapter, "mode": run.mode},
                                                               ensure_ascii=False),
                    {"running": "doing"}.get(run.status, run.status), 1, run.started, run.started, run.finished,
                    run.message if run.status == "failed" else "")
                for run in ctx.session.scalars(query)]
        now = ctx.now.replace(tzinfo=None)
        loops = [Loop(row.task, row.runner, row.status, row.started, row.ended, row.outcome, row.error, row.failures,
                      row.failing_since, row.succeeded, row.period_seconds, overdue(row, now))
                 for row in ctx.session.scalars(select(BackgroundPass).order_by(BackgroundPass.task))
                 if status is None or row.status == status]
    ctx.note(record_count=len(jobs) + len(loops))
    return Jobs(ctx.settings.job_engine, jobs, loops)
