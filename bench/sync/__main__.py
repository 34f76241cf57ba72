"""bench/sync: a department adapter run end to end against a raw copy of the same rows.

    .venv/bin/python -m bench.sync [--rows 1000000] [--pairs mariadb-postgresql,sqlite-sqlite]

For each source → centre pair: the demo 公安局 legacy table ``HJ_RKXX`` is generated in the
source database (dirt at the default rates), a fresh centre is migrated and the 户籍登记信息
resource published; then

* **sync**: ``govshare sync run gaj-household --full`` in its own process (extract → map →
  clean → dedupe → batches through the input tier → validation → core; a source of 50,000
  rows or more is read in a second, reading process), timed, and its reconciliation checked;
* **raw copy** (baseline, same run): ``SELECT *`` from the source streamed into
  ``executemany`` INSERTs of the same rows into a plain table in the centre database, no
  cleaning or validation.

Reported: records/s of each, the ratio sync/raw copy, and memory: the peak RSS of the sync
process and of its reading process (the kernel's high-water marks, read every 50 ms), their sum
(an upper bound of the two together), and the largest PSS of the two together, sampled every
0.5 s (PSS counts a page the processes share once; RSS counts it in each).
Targets (issue 4): ≥ 20,000 records/s end to end, ≥ 50% of the raw copy, peak RSS ≤ 300 MB.
Traffic stays on 127.0.0.1; throwaway databases are dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import MetaData, create_engine, insert, select

from adapters.demo_sources import generate_household_registry, household_table
from bench.databases import MARIADB_ADMIN_URL, PG_ADMIN_URL, throwaway_database
from bench.directory.report import machine
from bench.exchange.workload import publish_population_resource
from registry.db import make_engine, migrate, session_factory, unit_of_work
from registry.models import SyncRun
from registry.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
CHUNK = 5000


@contextmanager
def database(kind: str, name: str, folder: Path):
    """A fresh, empty database of ``kind``; dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / (name + '.db')}"
        return
    with throwaway_database(PG_ADMIN_URL if kind == "postgresql" else MARIADB_ADMIN_URL, name) as url:
        yield url


def run_sync(centre_url: str, source_url: str, var: Path) -> tuple[float, int, int, int, dict]:
    """``govshare sync run --full`` in a child process: (seconds, the peak RSS of the sync
    process and of its reading process, in bytes, the largest PSS of the two together, run counts)."""
    env = {**os.environ, "GOVSHARE_DB_URL": centre_url, "GOVSHARE_GAJ_URL": source_url, "GOVSHARE_VAR": str(var)}
    start = time.perf_counter()
    with subprocess.Popen([sys.executable, "-m", "server", "sync", "run", "gaj-household", "--full"],
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as sync:
        peaks, proportional = _watch(sync)
        out, err = sync.communicate(timeout=3600)
    seconds = time.perf_counter() - start
    if sync.returncode != 0:
        raise RuntimeError(f"sync failed: {err.strip()[-2000:]}")
    sessions = session_factory(make_engine(centre_url))
    with sessions() as session:
        run = session.scalar(select(SyncRun).order_by(SyncRun.id.desc()).limit(1))
        counts = {k: getattr(run, k) for k in ("read", "loaded", "unchanged", "quarantined", "filtered")}
    reading = max((size for pid, size in peaks.items() if pid != sync.pid), default=0)
    return seconds, peaks.get(sync.pid, 0), reading, proportional, counts


def _watch(process: subprocess.Popen, every: float = 0.05, pss_every: float = 0.5) -> tuple[dict[int, int], int]:
    """While ``process`` runs, sample /proc for it and its descendants (a large run reads in a
    child process): each one's peak RSS, from the kernel's high-water mark (VmHWM, which also
    holds a peak between two samples), every ``every`` seconds, and the largest sum of their
    PSS (a page the processes share counts once, where RSS counts it in each) every
    ``pss_every`` seconds: reading ``smaps_rollup`` walks a process's page tables under its
    memory-map lock, 0.7 ms of CPU for a process of 180 MB, which every 50 ms took about 3% of
    a core from the run it measured.

    Not ``getrusage``: a process's ru_maxrss starts from its parent's size at the fork before
    exec, so a child of a large benchmark process would report the benchmark's size.
    """
    peaks: dict[int, int] = {}
    proportional, next_pss = 0, 0.0
    while process.poll() is None:
        pids = _tree(process.pid)
        for pid in pids:
            peaks[pid] = max(peaks.get(pid, 0), _high_water(pid))
        if time.monotonic() >= next_pss:
            proportional = max(proportional, sum(_proportional(pid) for pid in pids))
            next_pss = time.monotonic() + pss_every
        time.sleep(every)
    return peaks, proportional


def _tree(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def _high_water(pid: int) -> int:
    """The peak RSS of a process so far, in bytes; 0 once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def _proportional(pid: int) -> int:
    """The PSS of a process now, in bytes; 0 once it has gone."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) * 1024 for line in rollup.splitlines() if line.startswith("Pss:")), 0)


def raw_copy(source_url: str, centre_url: str) -> tuple[float, int]:
    """SELECT every source row into executemany INSERTs of a plain copy table: (seconds, rows)."""
    source, centre = create_engine(source_url), create_engine(centre_url)
    meta = MetaData()
    table = household_table(meta)
    target = table.to_metadata(MetaData(), name="raw_copy_hj_rkxx")
    target.drop(centre, checkfirst=True)
    target.create(centre)
    rows = 0
    start = time.perf_counter()
    with source.connect() as src, centre.begin() as dst:
        result = src.execution_options(stream_results=True, yield_per=CHUNK).execute(select(table))
        for part in result.mappings().partitions(CHUNK):
            dst.execute(insert(target), [dict(r) for r in part])
            rows += len(part)
    seconds = time.perf_counter() - start
    target.drop(centre)
    source.dispose()
    centre.dispose()
    return seconds, rows


def bench_pair(pair: str, rows: int, seed: int, folder: Path) -> dict:
    source_kind, centre_kind = pair.split("-")
    with database(source_kind, "govshare_bench_sync_source", folder) as source_url, \
            database(centre_kind, "govshare_bench_sync_centre", folder) as centre_url:
        started = time.perf_counter()
        manifest = generate_household_registry(source_url, rows, seed=seed)
        generated = time.perf_counter() - started
        migrate(centre_url)
        settings = Settings.from_env(db_url=centre_url, var_dir=folder)
        sessions = session_factory(make_engine(centre_url))
        from directory.bootstrap import bootstrap_node

        with unit_of_work(sessions) as session:
            bootstrap_node(session, settings)
        publish_population_resource(sessions, settings)
        print(f"[{pair}] {manifest.rows:,} source rows generated in {generated:.1f} s; syncing ...", flush=True)
        sync_s, rss, reading_rss, proportional, counts = run_sync(centre_url, source_url, folder)
        copy_s, copied = raw_copy(source_url, centre_url)
    balanced = counts["read"] == counts["loaded"] + counts["unchanged"] + counts["quarantined"] + counts["filtered"]
    return {
        "pair": pair, "rows": manifest.rows, "sync_seconds": sync_s, "sync_rate": counts["read"] / sync_s,
        "raw_seconds": copy_s, "raw_rate": copied / copy_s, "ratio": (counts["read"] / sync_s) / (copied / copy_s),
        "peak_rss_mib": rss / 2**20, "peak_rss_reading_mib": reading_rss / 2**20,
        "peak_rss_together_mib": (rss + reading_rss) / 2**20,
        "peak_pss_together_mib": proportional / 2**20, "counts": counts,
        "reconciled": balanced, "dirt": manifest.counts,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sync", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--pairs", default="mariadb-postgresql,sqlite-sqlite",
                   help="comma-separated source-centre pairs (sqlite, mariadb, postgresql)")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="govshare-bench-sync-") as tmp:
        for pair in args.pairs.split(","):
            results.append(bench_pair(pair.strip(), args.rows, args.seed, Path(tmp)))
    print()
    print(f"{'pair':<20} {'rows':>10} {'sync rec/s':>11} {'raw rec/s':>10} {'ratio':>6} {'RSS sync':>9} "
          f"{'reading':>8} {'sum':>8} {'PSS':>8}  reconciliation")
    for r in results:
        c = r["counts"]
        print(f"{r['pair']:<20} {r['rows']:>10,} {r['sync_rate']:>11,.0f} {r['raw_rate']:>10,.0f} "
              f"{r['ratio']:>6.0%} {r['peak_rss_mib']:>5.0f} MiB {r['peak_rss_reading_mib']:>4.0f} MiB "
              f"{r['peak_rss_together_mib']:>4.0f} MiB {r['peak_pss_together_mib']:>4.0f} MiB  "
              f"read {c['read']:,} = loaded {c['loaded']:,} + unchanged {c['unchanged']:,} + quarantined "
              f"{c['quarantined']:,} + filtered {c['filtered']:,}{'' if r['reconciled'] else '  MISMATCH'}")
    print("targets: >= 20,000 records/s end to end; >= 50% of the raw copy; peak RSS <= 300 MB")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"sync-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    record = {"command": " ".join(["python -m bench.sync", *(argv or sys.argv[1:])]), "machine": machine(None),
              "results": results}
    out.write_text(json.dumps(record, ensure_ascii=False, indent=2, default=str))
    print(f"results: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
