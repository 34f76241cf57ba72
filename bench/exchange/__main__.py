"""Command line of the exchange benchmark; see ``bench.exchange`` for what it measures.

    .venv/bin/python -m bench.exchange [--db sqlite|postgresql|both] [--records 10000] [--repeat 3]
        [--big 100000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench.databases import PG_ADMIN_URL, postgresql_version, throwaway_database
from bench.directory.report import machine
from bench.processes import end

from . import measure, memory, report
from .workload import CLASSIFICATION, Batch, Resource, batches, publish_population_resource

RESULTS = Path(__file__).resolve().parent.parent / "results"
ROOT = Path(__file__).resolve().parent.parent.parent
PG_DATABASE = "govshare_bench_exchange"
WARMUP_RECORDS = 1000


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="govshare-bench-exchange-") as directory:
        yield f"sqlite:///{Path(directory) / 'govshare.db'}"


@contextmanager
def served(db_url: str, threads: int) -> Iterator[tuple[str, int]]:
    """The platform (bench.directory.server: waitress, server-side timing) on a free loopback
    port in a subprocess; its base URL and process id."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.directory.server", "--db-url", db_url, "--threads", str(threads)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env=dict(os.environ, GOVSHARE_WSS="optional"),  # unsigned batches: bench/security measures signing
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the server prints it once listening, or exits
        if not line.startswith("LISTENING "):
            raise RuntimeError(f"the server did not start (exit code {proc.poll()}): {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}", proc.pid
    finally:
        end(proc)


def server_seconds(http: requests.Session, base_url: str) -> list[float]:
    """Server times (s) of the SubmitBatch requests since the last call."""
    timings = http.get(f"{base_url}/_bench/timings", timeout=30).json()
    return [ms / 1000.0 for ms in timings.get(measure.SCENARIO, [])]


def _submit_checked(http: requests.Session, base_url: str, batch: Batch) -> float:
    seconds, receipt = measure.submit(http, base_url, batch)
    if (receipt.received, receipt.accepted, receipt.quarantined, receipt.unchanged) != (
            batch.records, batch.records, 0, 0):
        raise RuntimeError(f"batch {batch.batch_id}: expected {batch.records} new records accepted, got {receipt}")
    return seconds


def validation_measures(runs: list[Batch], warmup: Batch) -> list[report.Measure]:
    """(a): the same batches parsed and validated in this process, after one warm-up pass."""
    xsd = report.Measure("xsd", "(a1) iterparse + lxml XSD validate per record", runs[0].records)
    full = report.Measure("validate_record", "(a2) iterparse + validate_record (XSD + rules)", runs[0].records)
    for m, semantic in ((xsd, False), (full, True)):
        measure.parse_and_validate(warmup.document, semantic=semantic)
        for batch in runs:
            seconds, valid = measure.parse_and_validate(batch.document, semantic=semantic)
            if valid != batch.records:
                raise RuntimeError(f"{m.name}: {batch.records - valid} records of a valid batch failed")
            m.seconds.append(seconds)
    return [xsd, full]


def bench_database(db: str, db_url: str, resource: Resource, warmup: Batch, runs: list[Batch],
                   big: Batch | None, args: argparse.Namespace) -> report.DatabaseRun:
    import server
    from registry.db import make_engine
    from registry.settings import Settings

    settings = Settings.from_env(db_url=db_url)
    sessions = server.prepare(settings)
    published = publish_population_resource(sessions, settings)
    sessions.kw["bind"].dispose()
    if published != resource:
        raise RuntimeError(f"[{db}] the resource is {published}, the batches were built for {resource}")
    n = args.records
    result = report.DatabaseRun(
        db,
        end_to_end=report.Measure("end_to_end", "end to end: SubmitBatch over HTTP -> input + core", n),
        server=report.Measure("server", "  of which inside the server (WSGI call)", n),
        bulk_insert=report.Measure("bulk_insert", "(b) bulk insert, executemany (core_record shape)", n),
    )
    with served(db_url, args.threads) as (base_url, pid), requests.Session() as http:
        _submit_checked(http, base_url, warmup)
        server_seconds(http, base_url)
        for i, batch in enumerate(runs, start=1):
            result.end_to_end.seconds.append(_submit_checked(http, base_url, batch))
            result.server.seconds.extend(server_seconds(http, base_url))
            print(f"[{db}] end to end {i}/{len(runs)}: {n / result.end_to_end.seconds[-1]:,.0f} records/s",
                  flush=True)
        if big is not None:
            result.big = _big_batch(db, http, base_url, pid, big)

    engine = make_engine(db_url)
    measure.create_bulk_table(engine)
    try:
        for batch in runs:
            result.bulk_insert.seconds.append(measure.bulk_insert(engine, batch, resource.resource_code))
        print(f"[{db}] bulk insert: {result.bulk_insert.median_rate:,.0f} records/s", flush=True)
    finally:
        measure.drop_bulk_table(engine)
        engine.dispose()
    return result


def _big_batch(db: str, http: requests.Session, base_url: str, pid: int, big: Batch) -> report.BigBatch:
    before = memory.status_kib(pid)["VmRSS"]
    can_reset = memory.reset_peak(pid)
    seconds = _submit_checked(http, base_url, big)
    peak = memory.status_kib(pid)["VmHWM"] if can_reset else None
    inside = sum(server_seconds(http, base_url))
    with tempfile.NamedTemporaryFile(suffix=".xml") as f:
        f.write(big.document)
        f.flush()
        dom_before, dom_peak = memory.dom_peak_kib(Path(f.name))
    print(f"[{db}] {big.records:,}-record batch: {big.records / seconds:,.0f} records/s", flush=True)
    return report.BigBatch(big.records, len(big.envelope), seconds, inside, before, peak, dom_before, dom_peak)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.exchange", description="SubmitBatch throughput benchmark")
    p.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--records", type=int, default=10_000, help="records per measured batch")
    p.add_argument("--repeat", type=int, default=3, help="measured batches per database")
    p.add_argument("--big", type=int, default=100_000, help="records of the one large batch (0: none)")
    p.add_argument("--threads", type=int, default=4, help="waitress worker threads")
    p.add_argument("--seed", type=int, default=20241124)
    p.add_argument("--pg-admin-url", default=PG_ADMIN_URL,
                   help=f"a database on the PostgreSQL server; {PG_DATABASE} is created beside it and dropped")
    return p


def main(argv: list[str] | None = None) -> int:
    from directory.demo import credit_code_for

    args = parser().parse_args(argv)
    if args.records < 1 or args.repeat < 1:
        raise SystemExit("--records and --repeat must be positive")
    dbs = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    started = time.perf_counter()
    # the first resource published in a fresh database; checked against each database
    resource = Resource(credit_code_for("00250102"), f"{CLASSIFICATION}/000001")
    sizes = [WARMUP_RECORDS, *[args.records] * args.repeat, *([args.big] if args.big else [])]
    print(f"building {len(sizes)} batches ({sum(sizes):,} distinct records) ...", flush=True)
    built = list(batches(resource, sizes, args.seed))
    warmup, runs, big = built[0], built[1:1 + args.repeat], (built[-1] if args.big else None)

    validation = validation_measures(runs, warmup)
    for m in validation:
        print(f"{m.title}: {m.median_rate:,.0f} records/s", flush=True)
    results = []
    for db in dbs:
        database = sqlite_database() if db == "sqlite" else throwaway_database(args.pg_admin_url, PG_DATABASE)
        with database as db_url:
            results.append(bench_database(db, db_url, resource, warmup, runs, big, args))
    print()
    for run in results:
        print(report.table(run, validation))
        print()
    print(f"target: end to end >= {report.TARGET_RECORDS_PER_SECOND:,.0f} records/s")
    payload = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.exchange", *(argv if argv is not None else sys.argv[1:])]),
        "parameters": {k: v for k, v in vars(args).items() if k != "pg_admin_url"},
        "machine": machine(postgresql_version(args.pg_admin_url) if "postgresql" in dbs else None),
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    path = report.write_json(RESULTS, payload, validation, results)
    print(f"results: {path.relative_to(ROOT)}  (total {payload['total_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
