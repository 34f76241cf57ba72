"""Command line of the node benchmark; see ``bench.node`` for what it measures.

    .venv/bin/python -m bench.node [--rows 1000000] [--batch-size 5000] [--repeat 3] [--calls 500]
        [--threads 4] [--profile]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pstats
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench.client.export import write_population_csv
from bench.client.watch import PeakRss
from bench.directory.report import machine
from bench.exchange import measure
from bench.exchange.workload import Resource, batches

from . import gateway
from .centre import centre
from .delivery import (
    DeliveryRun,
    Store,
    baseline,
    cpu_seconds,
    rss_now_mib,
    run_once,
    sign,
    start_node,
    stop_node,
    timings,
    wait_for,
)
from .world import World, delivering_node, gateway_node, prepare

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
WARMUP_RECORDS = 1000
#: issue 18
TARGET_RATIO, TARGET_RSS_MIB, TARGET_OVERHEAD_MS = 0.8, 200, 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench(args: argparse.Namespace, folder: Path, stamp: str) -> tuple[DeliveryRun, gateway.GatewayRun | None]:
    world = prepare(folder)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = delivering_node(world, folder / "gaj", url, args.batch_size)
    log, store = folder / "gaj" / "node.log", Store(folder / "gaj" / "node.db")
    sizes = [WARMUP_RECORDS, *[args.batch_size] * (2 * args.repeat + 2 * args.unsigned)]
    built = list(batches(Resource(world.gaj.credit_code, world.resource), sizes, args.seed))
    n, u = args.repeat, args.unsigned
    warmup, before, after = built[0], built[1:1 + n], built[1 + n:1 + 2 * n]
    unsigned_before, unsigned_after = built[1 + 2 * n:1 + 2 * n + u], built[1 + 2 * n + u:]
    export = folder / "population.csv"
    started = time.perf_counter()
    size = write_population_csv(export, args.rows, seed=args.seed, skip=sum(sizes))
    print(f"{export.name}: {args.rows:,} rows, {size / 2**20:,.0f} MiB, written in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    run = DeliveryRun(args.rows, args.batch_size, size / 2**20)
    signing = (world.gaj.key, world.gaj.cert, world.ca)

    print(f"1. the centre on {url}: the node's first round, the baseline before", flush=True)
    with centre(world.db_url, port, world.var_dir, args.threads), requests.Session() as http:
        run_once(config, log)
        measure.submit(http, url, sign(warmup, *signing))
        timings(http, url)
        baseline(http, url, before, signing, run, run.baseline_before, unsigned_before)

    print("   the centre down: the export dropped, `govshare node run` started", flush=True)
    expected = math.ceil(args.rows / args.batch_size)
    drop = folder / "gaj" / "outbound" / "hukou"
    os.replace(export, drop / export.name)
    profile = RESULTS / f"node-{stamp}.prof" if args.profile else None
    if profile is not None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        run.profile = str(profile.relative_to(ROOT))
    node_started = time.time()
    node = start_node(config, log, profile)
    peak = PeakRss(node)
    peak.start()
    try:
        taken = wait_for(lambda: store.taken() == 1, "the export taken into the outbox", 900, node, log)
        run.take_seconds = taken - node_started
        run.peak_rss_take_mib = rss_now_mib(node.pid)
        pending = store.states().get("pending", 0)
        if pending != expected:
            raise RuntimeError(f"{pending} batches in the outbox, expected {expected}")
        print(f"   taken: {expected} batches in {run.take_seconds:.1f} s (node peak RSS so far "
              f"{run.peak_rss_take_mib:.0f} MiB); the courier retrying", flush=True)
        time.sleep(1.5)
        if store.states().get("delivered", 0):
            raise RuntimeError("a batch was delivered while the centre was down")

        with centre(world.db_url, port, world.var_dir, args.threads) as (listening, _pid), \
                requests.Session() as http:
            print("   the centre up again: draining", flush=True)
            cpu_before = cpu_seconds(node.pid)
            next_print = time.monotonic() + 10

            def drained() -> bool:
                nonlocal next_print
                states = store.states()
                done = states.get("delivered", 0) + states.get("refused", 0)
                if time.monotonic() >= next_print:
                    print(f"   {done}/{expected} batches delivered, {time.time() - listening:.0f} s", flush=True)
                    next_print += 10
                return done == expected

            wait_for(drained, "the outbox drained", 3600, node, log)
            run.node_cpu_seconds = cpu_seconds(node.pid) - cpu_before
            states = store.states()
            if states.get("refused"):
                raise RuntimeError(f"{states['refused']} batches refused: {log.read_text()[-3000:]}")
            deliveries = store.deliveries()
            times = [d[0].timestamp() for d in deliveries]
            run.batches = len(deliveries)
            run.drain_seconds = max(times) - listening
            run.first_to_last_seconds = max(times) - min(times)
            run.accepted = sum(d[1] for d in deliveries)
            run.quarantined = sum(d[2] for d in deliveries)
            run.duplicates = sum(d[3] for d in deliveries)
            run.server_seconds = sum(timings(http, url).get("", []))
            stop_node(node)
            peak.join()
            run.peak_rss_mib = peak.peak_kib / 1024
            print(f"   drained: {run.drain_rate:,.0f} records/s ({run.drain_seconds:.1f} s), node peak RSS "
                  f"{run.peak_rss_mib:.0f} MiB", flush=True)
            if (run.accepted, run.quarantined) != (args.rows, 0):
                raise RuntimeError(f"the receipts say {run.accepted} accepted, {run.quarantined} quarantined")
            baseline(http, url, after, signing, run, run.baseline_after, unsigned_after)
            found = None
            if args.calls:
                found = bench_gateway(args, world, folder, url, drop / "sent" / export.name)
    finally:
        stop_node(node)
    return run, found


def bench_gateway(args: argparse.Namespace, world: World, folder: Path, url: str,
                  export: Path) -> gateway.GatewayRun:
    port = free_port()
    gateway_url = f"http://127.0.0.1:{port}"
    config = gateway_node(world, folder / "mzj", url, port)
    log = folder / "mzj" / "node.log"
    print(f"2. 民政局's node with a gateway on {gateway_url}: {args.calls} calls of each, taking turns", flush=True)
    node = start_node(config, log)
    peak = PeakRss(node)
    peak.start()
    try:
        gateway.wait_for_gateway(gateway_url, node, log)
        with export.open(encoding="utf-8") as rows:
            next(rows)
            keys = [line.split(",", 1)[0] for line in rows]
        callers = gateway.Callers(url, gateway_url, world.mzj.credit_code, world.resource, world.mzj.key,
                                  world.mzj.cert, world.ca)
        found = gateway.measure(callers, keys, args.calls, args.seed)
        found.journal_ms = [ms for (ms,) in Store(folder / "mzj" / "node.db")._query(
            "select milliseconds from gateway_log where operation = 'QueryRecords' and outcome = 'ok' order by id")]
    finally:
        stop_node(node)
        peak.join()
    found.node_peak_rss_mib = peak.peak_kib / 1024
    return found


def _mark(met: bool) -> str:
    return "ok" if met else "MISS"


def report_delivery(run: DeliveryRun) -> str:
    before, after = run.baseline_before, run.baseline_after
    return "\n".join([
        f"== delivery: {run.rows:,} records ({run.csv_mib:,.0f} MiB CSV) in {run.batches} batches of "
        f"{run.batch_size:,}, every request signed" + (" -- the node under cProfile" if run.profile else ""),
        f"signed SubmitBatch (exchange benchmark), records/s: before {', '.join(f'{r:,.0f}' for r in before)}; "
        f"after {', '.join(f'{r:,.0f}' for r in after)}; median {run.baseline:,.0f} "
        f"(inside the server: {statistics.median(run.baseline_server):,.0f})",
        f"unsigned SubmitBatch beside them, for reference: {', '.join(f'{r:,.0f}' for r in run.unsigned)}",
        f"the node took the file into its outbox (centre down) in {run.take_seconds:.1f} s",
        f"drain: {run.drain_seconds:.1f} s from the centre listening to the last receipt = {run.drain_rate:,.0f} "
        f"records/s (first to last receipt {run.first_to_last_seconds:.1f} s = {run.steady_rate:,.0f}/s); "
        f"{run.accepted:,} accepted, {run.quarantined} quarantined, {run.duplicates} duplicate receipts",
        f"during the drain: the centre busy {run.server_seconds:.1f} s ({run.server_busy:.0%}), the node's CPU "
        f"{run.node_cpu_seconds:.1f} s ({run.node_cpu_seconds / run.drain_seconds:.0%})",
        f"node / server rate: {run.ratio:.0%} (target >= {TARGET_RATIO:.0%}) {_mark(run.ratio >= TARGET_RATIO)}",
        f"node peak RSS: {run.peak_rss_mib:.0f} MiB (after the take {run.peak_rss_take_mib:.0f} MiB; target <= "
        f"{TARGET_RSS_MIB} MB) {_mark(run.peak_rss_mib <= TARGET_RSS_MIB)}",
    ])


def report_gateway(run: gateway.GatewayRun) -> str:
    lines = [f"== gateway: QueryRecords by key, {run.calls} calls of each, taking turns (ms)"]
    for series, title in (("legacy", "legacy, unsigned, through the gateway"),
                          ("direct", "direct to the centre, signed and verified here"),
                          ("library", "Exchange.query (zeep), signed")):
        lines.append(f"{title:<48} p50 {run.p(series, 50):6.1f}  p90 {run.p(series, 90):6.1f}")
    if run.journal_ms:
        lines.append(f"the gateway's own record (gateway_log): p50 {statistics.median(run.journal_ms):.0f} ms")
    lines.append(f"gateway overhead, p50 legacy - direct: {run.overhead_p50:.1f} ms (p90: "
                 f"{run.p('legacy', 90) - run.p('direct', 90):.1f} ms; against Exchange.query: "
                 f"{run.p('legacy', 50) - run.p('library', 50):.1f} ms) (target <= {TARGET_OVERHEAD_MS:g} ms) "
                 f"{_mark(run.overhead_p50 <= TARGET_OVERHEAD_MS)}")
    lines.append(f"the gateway's node peak RSS: {run.node_peak_rss_mib:.0f} MiB")
    return "\n".join(lines)


def top_functions(profile: Path, count: int = 25) -> None:
    stats = pstats.Stats(str(profile))
    for key in ("tottime", "cumulative"):
        print(f"-- the node's main thread, top {count} by {key}")
        stats.sort_stats(key).print_stats(count)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.node", description="the node's delivery and gateway")
    p.add_argument("--rows", type=int, default=1_000_000, help="records of the backlog (one CSV export)")
    p.add_argument("--batch-size", type=int, default=5_000,
                   help="the node's [delivery] batch_size, and the baseline's")
    p.add_argument("--repeat", type=int, default=3, help="baseline batches before and after the drain")
    p.add_argument("--unsigned", type=int, default=1,
                   help="unsigned baseline batches before and after, beside the signed ones (for reference)")
    p.add_argument("--calls", type=int, default=500, help="gateway measurement: calls of each series (0: none)")
    p.add_argument("--threads", type=int, default=4, help="waitress worker threads of the centre")
    p.add_argument("--profile", action="store_true", help="run the delivering node under cProfile")
    p.add_argument("--seed", type=int, default=20261206)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    started, load = time.perf_counter(), os.getloadavg()
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    with tempfile.TemporaryDirectory(prefix="govshare-bench-node-") as tmp:
        delivered, through = bench(args, Path(tmp), stamp)
    print()
    print(report_delivery(delivered), end="\n\n")
    if through is not None:
        print(report_gateway(through), end="\n\n")
    if delivered.profile:
        top_functions(ROOT / delivered.profile)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"node-{stamp}.json"
    record = {
        "command": " ".join(["python -m bench.node", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(None),
        "delivery": asdict(delivered) | {"baseline": delivered.baseline, "drain_rate": delivered.drain_rate,
                                         "steady_rate": delivered.steady_rate, "ratio": delivered.ratio,
                                         "server_busy": delivered.server_busy},
        "gateway": asdict(through) | {s: {"p50": through.p(s, 50), "p90": through.p(s, 90)} for s in gateway.SERIES}
        | {"overhead_p50": through.overhead_p50} if through is not None else None,
        "total_seconds": round(time.perf_counter() - started, 1),
        "load_average": {"start": load, "end": os.getloadavg()},
    }
    out.write_text(json.dumps(record, ensure_ascii=False, indent=1, default=str))
    print(f"load average {load[0]:.1f} at the start, {record['load_average']['end'][0]:.1f} at the end")
    print(f"results: {out.relative_to(ROOT)}  (total {record['total_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
