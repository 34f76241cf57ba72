"""``govshare worker``: run the platform's background jobs from the PostgreSQL queue (procrastinate).

    GOVSHARE_DB_URL=postgresql+psycopg://... govshare worker            # as many as wanted, anywhere

Each worker runs up to ``GOVSHARE_JOBS_CONCURRENCY`` jobs at once and defers the periodic ones
(each tick once, whichever worker gets there first).  SIGTERM or Ctrl-C: the running jobs end, then
the worker; a second signal ends it at once (its jobs are retried once its heartbeat is missed).
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.orm import Session, sessionmaker

from registry.settings import Settings, SettingsError


def register(subs: argparse._SubParsersAction) -> None:
    p = subs.add_parser("worker", help="run background jobs from the PostgreSQL queue (procrastinate)")
    p.add_argument("--name", help="the worker's name in the logs (default: worker)")
    p.set_defaults(handler=_worker)


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
