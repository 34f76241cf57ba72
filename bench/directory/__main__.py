"""Command line of the directory benchmark; see ``bench.directory`` for what it measures.

    .venv/bin/python -m bench.directory [--db sqlite|postgresql|both] [--services 100000]
        [--businesses 500] [--seconds 10] [--clients 2]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bench.databases import PG_ADMIN_URL, postgresql_version, throwaway_database
from bench.processes import end

from . import dataset, report, traffic

RESULTS = Path(__file__).resolve().parent.parent / "results"
ROOT = Path(__file__).resolve().parent.parent.parent
PG_DATABASE = "govshare_bench"


@contextmanager
def sqlite_database(keep: bool) -> Iterator[str]:
    path = RESULTS / "directory-bench.db"
    RESULTS.mkdir(parents=True, exist_ok=True)
    for leftover in (path, path.with_suffix(".db-wal"), path.with_suffix(".db-shm")):
        leftover.unlink(missing_ok=True)
    try:
        yield f"sqlite:///{path}"
    finally:
        if not keep:
            for leftover in (path, path.with_suffix(".db-wal"), path.with_suffix(".db-shm")):
                leftover.unlink(missing_ok=True)


@contextmanager
def served(db_url: str, threads: int, cache_mb: int) -> Iterator[str]:
    """The platform on a free loopback port, in a subprocess; its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.directory.server", "--db-url", db_url, "--threads", str(threads)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env=dict(os.environ, GOVSHARE_INQUIRY_CACHE_MB=str(cache_mb)),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the server prints it once listening, or exits
        if not line.startswith("LISTENING "):
            raise RuntimeError(f"the server did not start (exit code {proc.poll()}): {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        end(proc)


def bench_database(db: str, db_url: str, args: argparse.Namespace) -> tuple[list[report.Figures], dict]:
    import server
    from registry.settings import Settings

    settings = Settings.from_env(db_url=db_url)
    print(f"[{db}] migrating and loading {args.services} services over {args.businesses} businesses ...",
          flush=True)
    sessions = server.prepare(settings)
    loaded = dataset.load(sessions, settings, service_count=args.services, business_count=args.businesses,
                          sample=args.sample, seed=args.seed)
    sessions.kw["bind"].dispose()
    print(f"[{db}] loaded in {loaded.seconds:.1f} s: {loaded.published} services through publish_entity "
          f"(bulk rows checked identical to theirs), {loaded.bulk} in bulk", flush=True)
    plan = traffic.scenarios(loaded.services, args.bodies, random.Random(args.seed + 1))
    rows: list[report.Figures] = []
    with served(db_url, args.threads, args.inquiry_cache_mb) as base_url:
        for scenario in plan:
            traffic.warm_up(base_url, scenario, args.warmup)
            traffic.server_timings(base_url)
            run = traffic.drive(base_url, scenario, clients=args.clients, seconds=args.seconds,
                                limit=args.max_requests)
            server_ms = traffic.server_timings(base_url).get(scenario.name, [])
            if run.errors:
                raise RuntimeError(f"[{db}] {scenario.name}: {len(run.errors)} failed requests, "
                                   f"first: {run.errors[0]}")
            rows.append(report.figures(scenario.name, scenario.title, run.latencies_ms, len(run.errors),
                                       run.wall_seconds, server_ms, run.cache_hits))
            print(f"[{db}] {scenario.name}: {len(run.latencies_ms)} requests in {run.wall_seconds:.1f} s",
                  flush=True)
    report.judge(rows)
    return rows, {"load_seconds": round(loaded.seconds, 1), "published": loaded.published, "bulk": loaded.bulk}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.directory", description="UDDI find_service benchmark")
    p.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--services", type=int, default=100_000)
    p.add_argument("--businesses", type=int, default=500)
    p.add_argument("--seconds", type=float, default=10.0, help="measurement time per scenario")
    p.add_argument("--max-requests", type=int, default=100_000, help="cap per client and scenario")
    p.add_argument("--clients", type=int, default=2)
    p.add_argument("--threads", type=int, default=4, help="waitress worker threads")
    p.add_argument("--sample", type=int, default=100, help="services saved through publish_entity")
    p.add_argument("--warmup", type=int, default=50, help="requests per scenario before measuring")
    p.add_argument("--bodies", type=int, default=20000,
                   help="request bodies per scenario, drawn from the loaded services (more than a run sends, so "
                        "an exact name is not asked twice; class and sharing-type pairs repeat as in real use)")
    p.add_argument("--inquiry-cache-mb", type=int, default=64,
                   help="the server's inquiry answer cache (GOVSHARE_INQUIRY_CACHE_MB); 0 measures every answer "
                        "computed afresh")
    p.add_argument("--seed", type=int, default=20240601)
    p.add_argument("--pg-admin-url", default=PG_ADMIN_URL,
                   help=f"a database on the PostgreSQL server; {PG_DATABASE} is created beside it and dropped")
    p.add_argument("--keep", action="store_true", help="keep the benchmark databases afterwards")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    dbs = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    started = time.perf_counter()
    results: dict[str, list[report.Figures]] = {}
    loads: dict[str, dict] = {}
    for db in dbs:
        database = (sqlite_database(args.keep) if db == "sqlite"
                    else throwaway_database(args.pg_admin_url, PG_DATABASE, args.keep))
        with database as db_url:
            results[db], loads[db] = bench_database(db, db_url, args)
    print()
    for db, rows in results.items():
        print(report.table(db, rows))
        print()
    print(f"targets: find_service server p50 <= {report.SERVER_P50_TARGET_MS:g} ms; "
          f"find req/s >= {report.THROUGHPUT_RATIO_TARGET:.0%} of echo req/s")
    payload = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.directory", *(argv if argv is not None else sys.argv[1:])]),
        "parameters": {k: v for k, v in vars(args).items() if k != "pg_admin_url"},
        "machine": report.machine(postgresql_version(args.pg_admin_url) if "postgresql" in dbs else None),
        "loads": loads,
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    path = report.write_json(RESULTS, payload, results)
    print(f"results: {path.relative_to(ROOT)}  (total {payload['total_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
