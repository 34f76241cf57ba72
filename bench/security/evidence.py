"""What the evidence log (消息日志) costs on the signed path: the same signed QueryRecords, audit on,
with ``GOVSHARE_EVIDENCE=1`` and ``=0``, in one run.

    .venv/bin/python -m bench.security.evidence [--db sqlite|postgresql|both] [--records 2000]
        [--seconds 10] [--rounds 4] [--clients 2]

How.  The world of :mod:`bench.security` (a published 人口 resource, 民政局 with a certificate);
two servers side by side (``bench.directory.server``, ``GOVSHARE_WSS=optional``, audit on), one
keeping evidence and one not; two client threads send signed QueryRecords by a random key to one
server at a time, the two scenarios taking turns in ``--rounds`` rounds in an order that changes
every round.  Every request is signed before the clock starts, one distinct message each (the
replay cache refuses a message twice).  Written: requests/s, latencies, the cost (1 - on/off), the
evidence rows' compressed bytes per exchange, as JSON under ``bench/results/`` too.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from bench.databases import PG_ADMIN_URL, postgresql_version, throwaway_database
from bench.directory import report
from bench.directory.__main__ import RESULTS, sqlite_database

from .__main__ import bodies, measure, prepare, warm
from .__main__ import served as security_served

PG_DATABASE = "govshare_bench_evidence"


def served(db_url: str, var_dir: Path, threads: int, evidence: bool):
    """A benchmark server with the audit log on and the evidence log on or off."""
    return security_served(db_url, var_dir, threads, True, GOVSHARE_EVIDENCE="1" if evidence else "0")


def stored_bytes(db_url: str) -> tuple[int, float, float]:
    """Evidence rows, and the mean compressed and raw bytes of an exchange (request and answer)."""
    import zlib

    from sqlalchemy import select

    from registry.db import make_engine
    from registry.models import EvidenceMessage

    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(select(EvidenceMessage.request, EvidenceMessage.response).limit(500)).all()
        count = conn.execute(select(EvidenceMessage.id).order_by(EvidenceMessage.id.desc()).limit(1)).scalar() or 0
    engine.dispose()
    if not rows:
        return count, 0.0, 0.0
    packed = sum(len(r.request) + len(r.response) for r in rows) / len(rows)
    raw = sum(len(zlib.decompress(r.request)) + len(zlib.decompress(r.response)) for r in rows) / len(rows)
    return count, packed, raw


def bench_database(db: str, db_url: str, args: argparse.Namespace) -> dict:
    var_dir = RESULTS / f"evidence-{db}-var"
    var_dir.mkdir(parents=True, exist_ok=True)
    print(f"[{db}] loading {args.records} people ...", flush=True)
    world = prepare(db_url, var_dir, args.records, args.seed)
    rng = random.Random(args.seed)
    print(f"[{db}] signing {2 * (args.max_requests + args.warmup)} requests ...", flush=True)
    signed = {on: bodies(world, args.max_requests, rng, signed=True) for on in (True, False)}
    warmup = {on: bodies(world, args.warmup, rng, signed=True) for on in (True, False)}
    share = args.max_requests // args.rounds
    runs: dict[bool, list] = {True: [], False: []}
    with served(db_url, var_dir, args.threads, False) as off_url, served(db_url, var_dir, args.threads, True) as on_url:
        urls = {False: off_url, True: on_url}
        for on, url in urls.items():
            warm(url, "signed", warmup[on])
        for n in range(args.rounds):
            for on in ((True, False) if n % 2 == 0 else (False, True)):
                runs[on].append(measure(urls[on], "signed", signed[on][n * share:(n + 1) * share], args))
            print(f"[{db}] round {n + 1}/{args.rounds} done", flush=True)
    rows = {}
    for on, parts in runs.items():
        name = f"signed, evidence {'on' if on else 'off'}"
        rows[name] = report.figures(name, f"QueryRecords {name}", [ms for run, _ in parts for ms in run.latencies_ms],
                                    0, sum(run.wall_seconds for run, _ in parts),
                                    [ms for _, timings in parts for ms in timings])
    count, packed, raw = stored_bytes(db_url)
    return {"rows": rows, "evidence_rows": count, "packed_bytes": packed, "raw_bytes": raw}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.security.evidence", description=__doc__.splitlines()[0])
    p.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--records", type=int, default=2_000)
    p.add_argument("--seconds", type=float, default=10.0, help="seconds per scenario, in all rounds together")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--clients", type=int, default=2)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--max-requests", type=int, default=4000)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--seed", type=int, default=20261206)
    p.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    args = p.parse_args(argv)
    dbs = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    results = {}
    for db in dbs:
        database = sqlite_database(False) if db == "sqlite" else throwaway_database(args.pg_admin_url, PG_DATABASE)
        with database as db_url:
            results[db] = bench_database(db, db_url, args)
    print()
    for db, found in results.items():
        on, off = found["rows"]["signed, evidence on"], found["rows"]["signed, evidence off"]
        print(f"== {db}")
        for r in (off, on):
            print(f"{r.scenario:<22} {r.requests:>6} {r.rps:>8.1f} req/s  p50 {r.client_p50_ms:.2f} ms  p99 "
                  f"{r.client_p99_ms:.2f} ms  server p50 {r.server_p50_ms:.2f} ms")
        print(f"evidence cost: {1 - on.rps / off.rps:.1%} of signed requests/s; {found['evidence_rows']} rows, "
              f"{found['packed_bytes']:.0f} bytes stored per exchange ({found['raw_bytes']:.0f} before zlib)")
    machine = report.machine(postgresql_version(args.pg_admin_url) if "postgresql" in dbs else None)
    print(f"machine: {machine['nproc']} CPUs, {machine['cpu']}, Python {machine['python']}; "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    out = RESULTS / "security-evidence.json"
    out.write_text(json.dumps({"machine": machine, "args": vars(args), "results": {
        db: {**found, "rows": {k: asdict(v) for k, v in found["rows"].items()}} for db, found in results.items()}},
        indent=1, default=str))
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
