"""What the operators' reads of the platform's state cost on a large platform, PostgreSQL:

    .venv/bin/python -m bench.operations [--entries 3000000] [--jobs 100000] [--records 1000000]
                                         [--calls 3000000] [--call-days 30] [--rounds 5]

A throwaway database with ``--entries`` audit entries spread over the last seven days (a provider that
did not answer now and then, each answered later) and ``--jobs`` finished jobs of procrastinate's
queue (a week of 30 s ticks of five periodic tasks is 100,000), each with its events.  Timed, the
median of ``--rounds``: the 告警 (``governance.alerts.current``, what the portal's 告警 page and
工作台 and ``/metrics`` read), ``/metrics``'s platform state (``server.platform_metrics``) and the
后台作业 page's task overview (``operations.listing``).  The baseline, in the same run: the same alerts
once the partial index on the providers' failures (``ix_audit_entry_provider_unavailable``) is
dropped, as they were read before it.

The 运行总览 (大屏, ``operations.overview``) over ``--records`` current records of the base databases and
``--calls`` SOAP requests of operational monitoring spread over the last ``--call-days`` (30): read cold (everything
counted, as a process's first read or after ``RECORDS_SECONDS``) and warm (as the screen's reloads of every
minute read it: the ended days and the base databases' counts kept, today's calls counted), each as a ratio
to the 告警 read in the same run.

运行监测's report (``monitoring.report``) over the same requests: the last 24 hours by hour, against the
report as it was read before (each percentile by ``percentile_cont`` in the database) in the same run; and
the last 30 days by day, the same way, and again once the days that have ended are summarised
(``request_log.summarise``, timed too: the hourly job's first pass over a month).
Results: bench/results/operations.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from datetime import timedelta
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


def _load_screen(sessions, settings, records: int, calls: int, days: int) -> None:
    """``records`` core records (nine in ten of the 人口 base, a fifth of them superseded versions) and
    ``calls`` requests of operational monitoring, evenly over the last ``days`` days (one in 50 failed): 100
    consumers, each calling five of 50 resources, and a directory; 3 to 99 ms, one in 100 up to 2 s."""
    from directory.accounts import register_department
    from directory.demo import credit_code_for
    from registry.db import unit_of_work

    with unit_of_work(sessions) as s:
        source = register_department(s, settings, code="gaj", name="临江市公安局",
                                     credit_code=credit_code_for("00250102")).id
    with sessions() as s:
        s.execute(text("""
            INSERT INTO core_record (base, record_key, record_type, fields, deleted, source_id, resource_code,
                                     batch_id, effective_from, effective_to)
            SELECT CASE WHEN g % 10 = 0 THEN 'legal_entity' ELSE 'population' END, 'K' || g, 'Person', '{}',
                   false, :source, '101001002/000001', '00000000-0000-0000-0000-000000000000',
                   now() AT TIME ZONE 'UTC',
                   CASE WHEN g % 5 = 0 THEN now() AT TIME ZONE 'UTC' END
            FROM generate_series(1, :n) g"""), {"n": records, "source": source})
        s.execute(text("""
            INSERT INTO request_log (started_ms, ended_ms, duration_ms, service, operation, department_code,
                                     resource_code, request_bytes, response_bytes, result, client)
            SELECT t, t + d, d, CASE WHEN g % 10 = 0 THEN '/uddi/inquiry' ELSE '/exchange' END,
                   CASE WHEN g % 10 = 0 THEN 'find_service' WHEN g % 10 = 1 THEN 'GetChanges' ELSE 'QueryRecords' END,
                   'd' || (g % 100), CASE WHEN g % 10 = 0 THEN NULL
                                          ELSE '101001/0' || ((g % 100 * 3 + g / 100 % 5) % 50) END,
                   800, 2000, CASE WHEN g % 50 = 0 THEN 'NotPermitted' ELSE 'ok' END, '10.0.0.9'
            FROM (SELECT g, (extract(epoch FROM now()) * 1000)::bigint - (:n - g)::bigint * (:span / :n) AS t,
                         (3 + (g::bigint * 7919) % 97 + CASE WHEN g % 100 = 7 THEN g % 2000 ELSE 0 END)::int AS d
                  FROM generate_series(1, :n) g) calls"""), {"n": calls, "span": days * 86_400_000})
        s.commit()


def _report_as_before(sessions, span, step: str) -> None:
    """The 运行监测 report as it was read before (f4200d0): each grouping's three percentiles by
    ``percentile_cont`` in the database, which sorts the group's every duration once a percentile."""
    from sqlalchemy import and_, case, func, select

    from governance.monitoring import CHINA_MS, PERCENTILES, STEPS
    from registry.models import RequestRecord as r

    now = int(time.time() * 1000)
    condition = and_(r.started_ms >= now - int(span.total_seconds() * 1000), r.started_ms < now)
    with sessions() as session:
        for key in (None, r.service, r.operation, r.department_code, r.resource_code,
                    (r.started_ms + CHINA_MS) // STEPS[step]):
            keys = [] if key is None else [key]
            query = select(*keys, func.count(), func.sum(case((r.result != "ok", 1), else_=0)),
                           func.coalesce(func.sum(r.request_bytes), 0), func.coalesce(func.sum(r.response_bytes), 0),
                           *[func.percentile_cont(p).within_group(r.duration_ms) for p in PERCENTILES]).where(condition)
            session.execute(query.group_by(*keys) if keys else query).all()


def _vacuum(sessions) -> None:
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
    from governance import alerts, monitoring
    from operations import listing, overview
    from registry import request_log
    from registry.clock import utcnow
    from registry.settings import Settings
    from trust.actions import Context
    from trust.auth import Caller

    settings = Settings.from_env(db_url=db_url, var_dir=RESULTS / "operations-var")
    sessions = server.prepare(settings)
    started = time.perf_counter()
    _load(sessions, args.entries, args.jobs)
    _load_screen(sessions, settings, args.records, args.calls, args.call_days)
    _vacuum(sessions)
    print(f"loaded {args.entries:,} audit entries, {args.jobs:,} jobs, {args.records:,} core records and "
          f"{args.calls:,} requests in {time.perf_counter() - started:.0f} s")

    def read_alerts():
        with sessions() as session:
            alerts.current(session, settings, utcnow())

    def read_overview():
        with sessions() as session:
            session.execute(listing._LATEST, {"status": None}).all()

    def read_screen(cold: bool):
        if cold:
            overview.forget()
        overview.overview(Context(Caller.platform("cli"), sessions, replace(settings, audit=False)))

    def read_report(span: timedelta, step: str):
        now = utcnow()
        monitoring.report(Context(Caller.platform("cli"), sessions, replace(settings, audit=False)),
                          since=now - span, until=now, step=step)

    found = {"report_before_ms": _median_ms(lambda: _report_as_before(sessions, timedelta(hours=24), "hour"),
                                            args.rounds),
             "report_24h_ms": _median_ms(lambda: read_report(timedelta(hours=24), "hour"), args.rounds),
             "report_30d_before_ms": _median_ms(lambda: _report_as_before(sessions, timedelta(days=30), "day"),
                                                args.rounds),
             "report_30d_ms": _median_ms(lambda: read_report(timedelta(days=30), "day"), args.rounds)}
    started = time.perf_counter()
    found["summarised_days"] = len(request_log.summarise(sessions, settings))
    found["summarise_s"] = time.perf_counter() - started
    with sessions() as session:
        found["summary_rows"] = session.scalar(text("SELECT count(*) FROM request_day"))
    found["report_30d_summarised_ms"] = _median_ms(lambda: read_report(timedelta(days=30), "day"), args.rounds)
    found |= {"alerts_ms": _median_ms(read_alerts, args.rounds),
             "metrics_ms": _median_ms(lambda: server.platform_metrics(sessions, settings), args.rounds),
             "jobs_overview_ms": _median_ms(read_overview, args.rounds),
             "screen_cold_ms": _median_ms(lambda: read_screen(True), args.rounds),
             "screen_warm_ms": _median_ms(lambda: read_screen(False), args.rounds)}
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
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--calls", type=int, default=3_000_000)
    p.add_argument("--call-days", type=int, default=30, help="the days the calls are spread over")
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
    for way in ("cold", "warm"):
        taken = found[f"screen_{way}_ms"]
        print(f"运行总览 (大屏), {way}         {taken:8.1f} ms   ({taken / found['alerts_ms']:.1f}x the 告警)")
    print(f"运行监测, 24 h by hour        {found['report_24h_ms']:8.1f} ms   as before (percentile_cont) "
          f"{found['report_before_ms']:8.1f} ms   ({found['report_before_ms'] / found['report_24h_ms']:.1f}x)")
    print(f"运行监测, 30 days by day      {found['report_30d_ms']:8.1f} ms   as before (percentile_cont) "
          f"{found['report_30d_before_ms']:8.1f} ms   ({found['report_30d_before_ms'] / found['report_30d_ms']:.1f}x)")
    summarised = found["report_30d_summarised_ms"]
    print(f"  the ended days summarised  {summarised:8.1f} ms   ({found['report_30d_before_ms'] / summarised:.1f}x "
          f"as before, {found['report_30d_ms'] / summarised:.1f}x from the records; {found['summarised_days']} days, "
          f"{found['summary_rows']:,} rows, summarised in {found['summarise_s']:.1f} s)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "operations.json").write_text(json.dumps({**vars(args), **found, "speedup": ratio}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
