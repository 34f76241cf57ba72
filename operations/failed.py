"""The actions ``jobs.retry`` and ``jobs.purge``: what the platform administrator does with the jobs
that failed every attempt (后台作业, status 失败).

    jobs.retry(ctx, job_id=412)          # queued again now, its attempts counted on
    jobs.purge(ctx, days=30)             # the failed jobs that ended more than 30 days ago deleted

A job fails for good after ``GOVSHARE_JOBS_ATTEMPTS`` attempts; it stays in the queue's tables, with
the error of each attempt in ``job_failure``, until the administrator retries it (once the cause is
mended: a department database back, an adapter file corrected) or deletes it.  The nightly pruning
deletes only the jobs that succeeded.  Both actions change the queue in the action's own
transaction, with its audit entry.  They exist with procrastinate (PostgreSQL) only: in process
(SQLite) a failed adapter run is run again by its schedule or ``govshare sync run``.
"""

from __future__ import annotations

from sqlalchemy import text

from registry.errors import Conflict, InvalidInput, NotFound
from trust.actions import Context, action

_JOB = text("SELECT task_name, status::text AS status, attempts FROM procrastinate_jobs WHERE id = :id FOR UPDATE")
# procrastinate's own "retry_job" statement (procrastinate/sql/queries.sql of the pinned 3.10 release):
# a failed job back to 'todo', due now, with its priority, queue and lock unchanged
_RETRY = text("SELECT procrastinate_retry_job_v2(:id, now(), NULL, NULL, NULL)")
_ENDED = text("""
    SELECT j.id FROM procrastinate_jobs j
    WHERE j.status = 'failed'
      AND (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id)
          < now() - make_interval(days => :days)""")


def _queue(ctx: Context) -> None:
    if ctx.settings.job_engine != "procrastinate":
        raise Conflict("in process (GOVSHARE_JOBS=inprocess) there is no job queue: a failed adapter run is run "
                       "again by its schedule or by `govshare sync run`",
                       zh="内嵌模式下没有作业队列: 失败的适配器同步会按计划重新运行, "
                          "也可用 govshare sync run 立即运行。")


@action("jobs.retry")
def retry(ctx: Context, *, job_id: int) -> str:
    """Queue the failed job ``job_id`` again, due now; its task's name."""
    _queue(ctx)
    job = ctx.session.execute(_JOB, {"id": job_id}).one_or_none()
    if job is None:
        raise NotFound(f"no job #{job_id}", zh=f"没有编号为 {job_id} 的作业。")
    if job.status != "failed":
        raise Conflict(f"job #{job_id} is {job.status}, not failed: only a job that failed every attempt is retried",
                       zh=f"作业 {job_id} 当前不是“失败”状态, 只有全部尝试都失败的作业才能重新执行。")
    ctx.session.execute(_RETRY, {"id": job_id})
    ctx.note(detail=f"job {job_id} ({job.task_name}) queued again", record_count=1)
    return job.task_name


@action("jobs.purge")
def purge(ctx: Context, *, days: int) -> int:
    """Delete the failed jobs whose last attempt ended more than ``days`` days ago (with their events
    and errors); how many."""
    _queue(ctx)
    if days < 0:
        raise InvalidInput(f"days: {days} is negative: the failed jobs older than so many days are deleted",
                           field="days", zh="天数不能为负数。")
    ids = list(ctx.session.scalars(_ENDED, {"days": days}))
    if ids:
        ctx.session.execute(text("DELETE FROM job_failure WHERE job_id = ANY(:ids)"), {"ids": ids})
        ctx.session.execute(text("DELETE FROM procrastinate_jobs WHERE id = ANY(:ids)"), {"ids": ids})
    ctx.note(detail=f"failed jobs ended over {days} days ago deleted: {len(ids)}", record_count=len(ids))
    return len(ids)
