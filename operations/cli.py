"""``govshare worker``: run the platform's background jobs from the PostgreSQL queue (procrastinate);
``govshare jobs``: look at them, and retry or delete the ones that failed every attempt.

    GOVSHARE_DB_URL=postgresql+psycopg://... govshare worker            # as many as wanted, anywhere
    govshare jobs list [--status failed]
    govshare jobs retry 412
    govshare jobs purge --days 30

Each worker runs up to ``GOVSHARE_JOBS_CONCURRENCY`` jobs at once and defers the periodic ones
(each tick once, whichever worker gets there first).  SIGTERM or Ctrl-C: the running jobs end, then
the worker; a second signal ends it at once (its jobs are retried once its heartbeat is missed).
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.orm import Session, sessionmaker

from registry.clock import china_text
from registry.settings import Settings, SettingsError
from trust import console

from . import failed, listing


def register(subs: argparse._SubParsersAction) -> None:
    p = subs.add_parser("worker", help="run background jobs from the PostgreSQL queue (procrastinate)")
    p.add_argument("--name", help="the worker's name in the logs (default: worker)")
    p.set_defaults(handler=_worker)

    jobs = subs.add_parser("jobs", help="后台作业: list the background jobs, retry or delete failed ones")
    commands = jobs.add_subparsers(dest="jobs_command", required=True, metavar="COMMAND")
    listed = commands.add_parser("list", help="the newest jobs, newest first")
    listed.add_argument("--status", choices=tuple(listing.STATUS_NAMES), help="only the jobs of this status")
    listed.add_argument("--limit", type=int, default=50, help=f"at most so many (1-{listing.LIMIT}; default 50)")
    retried = commands.add_parser("retry", help="queue a job that failed every attempt again, due now")
    retried.add_argument("job_id", type=int, metavar="JOB", help="the job's number (govshare jobs list)")
    purged = commands.add_parser("purge", help="delete the failed jobs whose last attempt ended DAYS ago or more")
    purged.add_argument("--days", type=int, required=True, help="how old a failed job must be to be deleted")
    for command in (listed, retried, purged):
        command.add_argument("--user", metavar="USERNAME", help="the account acting (default: the platform's operator)")
    listed.set_defaults(handler=_list)
    retried.set_defaults(handler=_retry)
    purged.set_defaults(handler=_purge)


def _worker(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    if settings.job_engine != "procrastinate":
        print("govshare: `govshare worker` runs the jobs of GOVSHARE_JOBS=procrastinate on PostgreSQL; with "
              f"{settings.job_engine} jobs the background work runs inside `govshare serve`", file=sys.stderr)
        return 2
    try:
        from .engine import run_worker

        run_worker(settings, sessions, name=args.name)
    except ImportError as exc:
        print(f"govshare: the worker needs procrastinate ({exc}): pip install 'govshare[server]'", file=sys.stderr)
        return 2
    except SettingsError as error:
        print(f"govshare: {error}", file=sys.stderr)
        return 2
    return 0


def _list(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        found = listing.list_jobs(console.context(sessions, settings, args.user), status=args.status, limit=args.limit)
        if found.engine == "inprocess":
            print("in process (SQLite): no job queue; the adapter runs (sync_run) are listed")
        print(f"{'job':>7}  {'task':<28}{'status':<11}{'tries':>5}  {'ended (China time)':<18}  error / arguments")
        for job in found.jobs:
            ended = china_text(job.ended) if job.ended else "-"
            print(f"{job.id:>7}  {job.task:<28}{job.status:<11}{job.attempts:>5}  {ended:<18}  "
                  f"{job.error.splitlines()[-1] if job.error else job.arguments}")

    return console.run(work)


def _retry(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        task = failed.retry(console.context(sessions, settings, args.user), job_id=args.job_id)
        print(f"job {args.job_id} ({task}) queued again: a worker takes it now")

    return console.run(work)


def _purge(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        deleted = failed.purge(console.context(sessions, settings, args.user), days=args.days)
        print(f"deleted {deleted} failed jobs whose last attempt ended more than {args.days} days ago")

    return console.run(work)
