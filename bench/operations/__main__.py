"""What the operators' reads of the platform's state cost on a large platform, PostgreSQL:

    .venv/bin/python -m bench.operations [--entries 3000000] [--jobs 100000] [--rounds 5]

A throwaway database with ``--entries`` audit entries spread over the last seven days (a provider that
did not answer now and then, each answered later) and ``--jobs`` finished jobs of procrastinate's
queue (a week of 30 s ticks of five periodic tasks is 100,000), each with its events.  Timed, the
median of ``--rounds``: the 告警 (``governance.alerts.current``, what the portal's 告警 page and
工作台 and ``/metrics`` read), ``/metrics``'s platform state (``server.platform_metrics``) and the
后台作业 page's task overview (``operations.listing``).  The baseline, in the same run: the same alerts
once the partial index on the providers' failures (``ix_audit_entry_provider_unavailable``) is
dropped, as they were read before it.  Results: bench/results/operations.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import text

from bench.databases import PG_ADMIN_URL, throwaway_database

RESULTS = Path(__file__).resolve().parent.parent / "results"
TASKS = ("govshare.plan_sync", "govshare.audit_checkpoint", "govshare.federate", "govshare.retry_stalled",
         "govshare.notify_listeners")


def _load(sessions, entries: int, jobs: int) -> None:
    with sessions() as s:
        s.execute(text("""
            INSERT INTO audit_entry (seq, recorded_at, operation, result, detail, record_count, prev_hash, entry_hash,
                                     resource_code, channel)
            SELECT g, now() AT TIME ZONE 'UTC' - make_interval(secs => (:n - g) * 604800.0 / :n),
                   'exchange.query_records', CASE WHEN g % 100000 = 7 THEN 'fault:ProviderUnavailable' ELSE 'ok' END,
                   '', 1, '', '', '10100' || (g % 40)::text || '/000001', 'soap'
            FROM generate_series(1, :n) g"""), {"n": entries})
        s.execute(text("""
            INSERT INTO procrastinate_jobs (queue_name, task_name, status, args)
            SELECT 'default', (CAST(:tasks AS text[]))[1 + g % 5],
                   CAST(CASE WHEN g % 50 = 0 THEN 'failed' ELSE 'succeeded' END AS procrastinate_job_status), '{}'
            FROM generate_series(1, :n) g"""), {"n": jobs, "tasks": list(TASKS)})
        s.execute(text("""
            INSERT INTO procrastinate_events (job_id, type, at)
            SELECT id, 'started', now() FROM procrastinate_jobs
            UNION ALL SELECT id, CAST(status::text AS procrastinate_job_event_type), now() FROM procrastinate_jobs"""))
        s.commit()
    with sessions.kw["bind"].connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def _median_ms(work, rounds: int) -> float:
    work()  # warm
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run(db_url: str, args: argparse.Namespace) -> dict:
    import server
    from governance import alerts
    from operations import listing
    from registry.clock import utcnow
    from registry.settings import Settings

    settings = Settings.from_env(db_url=db_url, var_dir=RESULTS / "operations-var")
    sessions = server.prepare(settings)
    started = time.perf_counter()
    _load(sessions, args.entries, args.jobs)
    print(f"loaded {args.entries:,} audit entries and {args.jobs:,} jobs in {time.perf_counter() - started:.0f} s")

    def read_alerts():
        with sessions() as session:
            alerts.current(session, settings, utcnow())

    def read_overview():
        with sessions() as session:
            session.execute(listing._LATEST, {"status": None}).all()

    found = {"alerts_ms": _median_ms(read_alerts, args.rounds),
             "metrics_ms": _median_ms(lambda: server.platform_metrics(sessions, settings), args.rounds),
             "jobs_overview_ms": _median_ms(read_overview, args.rounds)}
    with sessions() as session:
        session.execute(text("DROP INDEX ix_audit_entry_provider_unavailable"))
        session.commit()
    found["alerts_without_index_ms"] = _median_ms(read_alerts, args.rounds)
    sessions.kw["bind"].dispose()
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.operations", description=__doc__.splitlines()[0])
    p.add_argument("--entries", type=int, default=3_000_000)
    p.add_argument("--jobs", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    args = p.parse_args(argv)
    with throwaway_database(args.pg_admin_url, "govshare_bench_operations") as db_url:
        found = run(db_url, args)
    ratio = found["alerts_without_index_ms"] / found["alerts_ms"]
    print(f"告警 (alerts.current)        {found['alerts_ms']:8.1f} ms   without the partial index "
          f"{found['alerts_without_index_ms']:8.1f} ms   ({ratio:.1f}x)")
    print(f"/metrics' platform state    {found['metrics_ms']:8.1f} ms")
    print(f"后台作业 task overview       {found['jobs_overview_ms']:8.1f} ms")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "operations.json").write_text(json.dumps({**vars(args), **found, "speedup": ratio}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
