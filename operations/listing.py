"""The action ``jobs.list``: recent background jobs (后台作业) for the platform administrator.

With procrastinate (PostgreSQL) a job is a row of ``procrastinate_jobs``: its task, arguments,
status, attempts, when it was queued for, when its last attempt started and ended (its
``procrastinate_events``) and why its last failed attempt failed (``job_failure``).  In process
(the embedded SQLite default) the loops of ``govshare serve`` keep no queue: what is listed there
is the adapter runs (``sync_run``), the one kind of background work that records each run; the
notification passes are on the UDDI listeners' page, the federation's on ``govshare federation status``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text

from registry.errors import InvalidInput
from registry.models import SyncRun
from trust.actions import Context, action

#: a job's status as the page names it; "retry" is a queued job that has failed before
STATUS_NAMES = {"todo": "排队", "doing": "运行中", "succeeded": "成功", "failed": "失败", "retry": "重试",
                "cancelled": "已取消", "aborted": "已中止"}
#: the tasks by the names the page gives them
TASK_NAMES = {"govshare.run_adapter": "适配器同步", "govshare.plan_sync": "同步调度",
              "govshare.notify_listeners": "UDDI 订阅通知", "govshare.audit_checkpoint": "审计检查点",
              "govshare.federate": "上级平台目录上报", "govshare.retry_stalled": "恢复停滞作业",
              "govshare.prune_jobs": "清理旧作业", "govshare.retention": "运行记录到期清理"}
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
class Jobs:
    engine: str  # procrastinate | inprocess
    jobs: list[Job]


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


def _naive_utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=None) - moment.utcoffset() if moment is not None and moment.tzinfo else moment


@action("jobs.list")
def list_jobs(ctx: Context, *, status: str | None = None, limit: int = LIMIT) -> Jobs:
    """The newest ``limit`` jobs, of one status (a key of :data:`STATUS_NAMES`) or all."""
    if status is not None and status not in STATUS_NAMES:
        raise InvalidInput(f"no job status {status!r}: one of {', '.join(STATUS_NAMES)}", code="UnknownStatus",
                           zh=f"没有这种作业状态: {status}。", field="status")
    limit = min(max(limit, 1), LIMIT)
    if ctx.settings.job_engine == "procrastinate":
        jobs = [Job(row.id, row.task_name, json.dumps(row.args, ensure_ascii=False, sort_keys=True),
                    "retry" if row.status == "todo" and row.retries else row.status, row.attempts,
                    _naive_utc(row.scheduled), _naive_utc(row.started), _naive_utc(row.ended), row.error or "")
                for row in ctx.session.execute(_QUEUE, {"status": status, "limit": limit})]
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
    ctx.note(record_count=len(jobs))
    return Jobs(ctx.settings.job_engine, jobs)
