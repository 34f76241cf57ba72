"""Command line of the client benchmark; see ``bench.client`` for what it measures.

    .venv/bin/python -m bench.client [--db sqlite|postgresql] [--only submit|follow] [--rows 1000000]
        [--batch-size 10000] [--repeat 3] [--rate 10000] [--seconds 20] [--interval 1]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench.databases import PG_ADMIN_URL, postgresql_version, throwaway_database
from bench.directory.report import machine
from bench.exchange import measure
from bench.exchange.__main__ import served, sqlite_database
from bench.exchange.workload import Resource, batches, publish_population_resource
from bench.processes import end

from .export import write_population_csv
from .watch import Follower, PeakRss

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
CLIENT = Path(sys.executable).parent / "govshare-client"
PG_DATABASE = "govshare_bench_client"
WARMUP_RECORDS = 1000
#: issue 17
TARGET_RATIO, TARGET_RSS_MIB, TARGET_FOLLOW_RATE, TARGET_CATCH_UP_S = 0.8, 150, 10_000, 5.0


@dataclass(frozen=True)
class Platform:
    base_url: str
    resource: Resource
    consumer_code: str  # 统一社会信用代码 of the department following the changes
    read_url: str = ""  # the process the follower asks (--servers 2: another process on the same database)


@contextmanager
def platform(db: str, args: argparse.Namespace) -> Iterator[Platform]:
    """A fresh database with 公安局's published 户籍登记信息 and a consumer department (民政局),
    served by ``bench.directory.server`` in its own process with ``GOVSHARE_WSS=optional``."""
    import server
    from directory.accounts import register_department
    from directory.demo import credit_code_for
    from registry.db import unit_of_work
    from registry.settings import Settings

    database = sqlite_database() if db == "sqlite" else throwaway_database(args.pg_admin_url, PG_DATABASE)
    with database as db_url:
        settings = Settings.from_env(db_url=db_url)
        sessions = server.prepare(settings)
        resource = publish_population_resource(sessions, settings)
        consumer = credit_code_for("00250201")
        with unit_of_work(sessions) as session:
            register_department(session, settings, code="mzj", name="临江市民政局", credit_code=consumer)
        sessions.kw["bind"].dispose()
        with served(db_url, args.threads) as (base_url, _pid):
            if args.servers == 1:
                yield Platform(base_url, resource, consumer, base_url)
            else:  # the deployment's N processes behind one address, two of them here: one takes, one answers
                with served(db_url, args.threads) as (read_url, _read_pid):
                    yield Platform(base_url, resource, consumer, read_url)


def _client(command: list[str], platform_: Platform, requester: str, folder: Path, url: str | None = None,
            **popen) -> subprocess.Popen:
    """``govshare-client`` as a department runs it: unsigned, speaking for ``requester``."""
    env = dict(os.environ, GOVSHARE_CLIENT_PLATFORM=url or platform_.base_url, GOVSHARE_CLIENT_REQUESTER=requester)
    for name in ("KEY", "CERT", "CA", "CONFIG"):
        env.pop(f"GOVSHARE_CLIENT_{name}", None)
    return subprocess.Popen([str(CLIENT), *command], cwd=folder, env=env, **popen)


def _timings(http: requests.Session, base_url: str) -> dict[str, list[float]]:
    """Server times (s) per scenario since the last call; the client's requests carry none ("")."""
    return {k: [ms / 1000 for ms in v] for k, v in http.get(f"{base_url}/_bench/timings", timeout=30).json().items()}


# ----------------------------------------------------------------------------------------------- 1. submit


@dataclass
class SubmitRun:
    db: str
    rows: int
    batch_size: int
    csv_mib: float
    baseline_before: list[float] = field(default_factory=list)  # records/s of each exchange-benchmark batch
    baseline_after: list[float] = field(default_factory=list)
    baseline_server: list[float] = field(default_factory=list)  # the same batches, server time only
    client_seconds: float = 0.0  # the command, from exec to exit
    client_sending_seconds: float = 0.0  # what it reports: from its first batch's reading to the last receipt
    client_server_seconds: float = 0.0  # server time of every request the command made
    client_peak_rss_mib: float = 0.0
    accepted: int = 0
    quarantined: int = 0

    @property
    def baseline(self) -> float:
        return statistics.median(self.baseline_before + self.baseline_after)

    @property
    def client_rate(self) -> float:
        return self.rows / self.client_seconds

    @property
    def ratio(self) -> float:
        return self.client_rate / self.baseline

    @property
    def server_busy(self) -> float:
        """The part of the command's time the server spent on its requests: the rate it reached
        against what the same server, at the same database sizes, took in its own time."""
        return self.client_server_seconds / self.client_seconds


def _baseline(http: requests.Session, base_url: str, runs, run: SubmitRun, into: list[float]) -> None:
    for batch in runs:
        seconds, receipt = measure.submit(http, base_url, batch)
        if (receipt.accepted, receipt.quarantined, receipt.unchanged) != (batch.records, 0, 0):
            raise RuntimeError(f"baseline batch {batch.batch_id}: {receipt}")
        into.append(batch.records / seconds)
        run.baseline_server.extend(batch.records / s for s in _timings(http, base_url).get(measure.SCENARIO, []))
        print(f"[{run.db}] exchange benchmark batch: {into[-1]:,.0f} records/s", flush=True)


def bench_submit(db: str, args: argparse.Namespace, folder: Path) -> SubmitRun:
    with platform(db, args) as p, requests.Session() as http:
        sizes = [WARMUP_RECORDS, *[args.batch_size] * (2 * args.repeat)]
        built = list(batches(p.resource, sizes, args.seed))
        warmup, before, after = built[0], built[1:1 + args.repeat], built[1 + args.repeat:]
        path = folder / "population.csv"
        started = time.perf_counter()
        size = write_population_csv(path, args.rows, seed=args.seed, skip=sum(sizes))
        print(f"[{db}] {path.name}: {args.rows:,} rows, {size / 2**20:,.0f} MiB, written in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        run = SubmitRun(db, args.rows, args.batch_size, size / 2**20)
        measure.submit(http, base_url := p.base_url, warmup)
        _timings(http, base_url)
        _baseline(http, base_url, before, run, run.baseline_before)

        out, err = folder / "submit.out", folder / "submit.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            started = time.perf_counter()
            client = _client(["submit", p.resource.resource_code, str(path), "--batch-size", str(args.batch_size),
                              "--journal", str(folder / "journal.json")], p, p.resource.provider_code, folder,
                             stdout=stdout, stderr=stderr)
            peak = PeakRss(client)
            peak.start()
            code = client.wait()
            run.client_seconds = time.perf_counter() - started
            peak.join()
        if code != 0:
            raise RuntimeError(f"govshare-client submit exited {code}: {err.read_text()[-2000:]}")
        run.client_peak_rss_mib = peak.peak_kib / 1024
        run.client_server_seconds = sum(_timings(http, base_url).get("", []))
        for line in out.read_text().splitlines():
            parts = dict(part.split(" ", 1) for part in line.split("\t")[1:] if " " in part)
            run.accepted += int(parts.get("accepted", 0))
            run.quarantined += int(parts.get("quarantined", 0))
        done = [line for line in err.read_text().splitlines() if line.startswith("done: ")]
        run.client_sending_seconds = float(done[-1].split(" in ")[1].split()[0]) if done else 0.0
        print(f"[{db}] govshare-client submit: {run.client_rate:,.0f} records/s ({run.client_seconds:.1f} s), "
              f"peak RSS {run.client_peak_rss_mib:.0f} MiB", flush=True)
        if (run.accepted, run.quarantined) != (args.rows, 0):
            raise RuntimeError(f"the client's receipts say {run.accepted} accepted, {run.quarantined} quarantined")

        _baseline(http, base_url, after, run, run.baseline_after)
    return run


# ----------------------------------------------------------------------------------------------- 2. follow


@dataclass
class FollowRun:
    db: str
    rate: float
    seconds: float
    interval: float
    batch: int
    records: int = 0
    provider_seconds: float = 0.0  # from the first POST to the last receipt
    catch_up_seconds: float | None = None  # from the last receipt until the follower printed the last change
    repeats: int = 0
    follower_peak_rss_mib: float = 0.0
    server_submit_seconds: float = 0.0
    server_other_seconds: float = 0.0  # the follower's GetChanges (and its WSDL)
    samples: list[tuple[float, int, int, float]] = field(default_factory=list)  # t, committed, behind, s behind

    @property
    def achieved_rate(self) -> float:
        return self.records / self.provider_seconds if self.provider_seconds else 0.0

    @property
    def while_providing(self) -> list[tuple[float, int, int, float]]:
        return [s for s in self.samples if s[0] <= self.provider_seconds]

    @property
    def max_behind(self) -> int:
        return max((s[2] for s in self.while_providing), default=0)

    @property
    def max_seconds_behind(self) -> float:
        return max((s[3] for s in self.while_providing), default=0.0)


def bench_follow(db: str, args: argparse.Namespace, folder: Path) -> FollowRun:
    run = FollowRun(db, args.rate, args.seconds, args.interval, args.provider_batch)
    with platform(db, args) as p, requests.Session() as http:
        provider = subprocess.Popen(
            [sys.executable, "-m", "bench.client.provider", "--base-url", p.base_url, "--provider-code",
             p.resource.provider_code, "--resource-code", p.resource.resource_code, "--rate", str(args.rate),
             "--seconds", str(args.seconds), "--batch", str(args.provider_batch), "--seed", str(args.seed)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        follower = _client(["changes", p.resource.resource_code, "--follow", "--interval", str(args.interval),
                            "--state", str(folder / "changes.json")], p, p.consumer_code, folder, p.read_url,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            run = _follow(run, http, p, provider, follower)
        finally:
            for process in (follower, provider):
                end(process)
        if follower.returncode != -signal.SIGTERM:
            raise RuntimeError(f"the follower exited {follower.returncode}: {follower.stderr.read()[-2000:]!r}")
    return run


def _follow(run: FollowRun, http, p: Platform, provider: subprocess.Popen, follower: subprocess.Popen) -> FollowRun:
    assert provider.stdin is not None and provider.stdout is not None
    ready = provider.stdout.readline()
    if not ready.startswith("READY"):
        raise RuntimeError(f"the provider did not start: {ready!r}")
    reader, peak = Follower(follower), PeakRss(follower)
    reader.start()
    peak.start()
    time.sleep(3)  # the follower's start: imports, the WSDL, its first (empty) GetChanges
    if follower.poll() is not None:
        raise RuntimeError(f"the follower exited {follower.returncode}: {follower.stderr.read()[-2000:]!r}")
    _timings(http, p.base_url)
    if p.read_url != p.base_url:
        _timings(http, p.read_url)
    receipts: list[tuple[float, int]] = []  # (monotonic time of a receipt, records committed by then)

    def read_provider() -> None:
        for line in provider.stdout:
            if line.startswith(("DONE", "FAILED")):
                if line.startswith("FAILED"):
                    print(f"[{run.db}] provider: {line.strip()}", flush=True)
                return
            t, total = line.split()
            receipts.append((float(t), int(total)))

    provider_thread = threading.Thread(target=read_provider, daemon=True)
    provider_thread.start()
    go = time.monotonic()
    provider.stdin.write("GO\n")
    provider.stdin.flush()
    next_print, deadline = go, None
    while True:
        time.sleep(0.25)
        now = time.monotonic()
        committed = receipts[-1][1] if receipts else 0
        seen = reader.seen
        behind = committed - seen
        oldest = next((t for t, total in receipts if total > seen), None)
        run.samples.append((now - go, committed, behind, now - oldest if oldest is not None else 0.0))
        if now >= next_print:
            print(f"[{run.db}] t={now - go:5.1f} s  committed {committed:>9,}  follower {seen:>9,}  behind "
                  f"{behind:>7,} records, {run.samples[-1][3]:5.1f} s", flush=True)
            next_print = now + 2
        if deadline is None and not provider_thread.is_alive():
            run.records = committed
            run.provider_seconds = (receipts[-1][0] - go) if receipts else 0.0
            deadline = now + 60
        if deadline is not None and (seen >= committed or now > deadline):
            if seen >= committed and receipts:
                run.catch_up_seconds = max(0.0, now - receipts[-1][0])
            break
    run.repeats = reader.repeats
    run.follower_peak_rss_mib = peak.peak_kib / 1024
    timings = _timings(http, p.base_url)
    run.server_submit_seconds = sum(timings.get(measure.SCENARIO, []))
    run.server_other_seconds = sum(timings.get("", []))
    if p.read_url != p.base_url:
        run.server_other_seconds += sum(_timings(http, p.read_url).get("", []))
    caught = f"{run.catch_up_seconds:.1f} s after" if run.catch_up_seconds is not None else "not within 60 s of"
    print(f"[{run.db}] provider: {run.records:,} records in {run.provider_seconds:.1f} s = {run.achieved_rate:,.0f}/s; "
          f"follower caught up {caught} the last receipt", flush=True)
    return run


# ----------------------------------------------------------------------------------------------- report


def _mark(met: bool) -> str:
    return "ok" if met else "MISS"


def report_submit(run: SubmitRun) -> str:
    ratio_met, rss_met = run.ratio >= TARGET_RATIO, run.client_peak_rss_mib <= TARGET_RSS_MIB
    before, after = run.baseline_before, run.baseline_after
    return "\n".join([
        f"== submit, {run.db}: {run.rows:,} rows ({run.csv_mib:,.0f} MiB CSV), batches of {run.batch_size:,}, unsigned",
        f"exchange benchmark SubmitBatch (prebuilt envelopes), records/s: before "
        f"{', '.join(f'{r:,.0f}' for r in before)}; after "
        f"{', '.join(f'{r:,.0f}' for r in after)}; median {run.baseline:,.0f} "
        f"(inside the server: {statistics.median(run.baseline_server):,.0f})",
        f"govshare-client submit: {run.client_seconds:.1f} s = {run.client_rate:,.0f} records/s "
        f"(its own count from the first batch: {run.client_sending_seconds:.1f} s); the server busy "
        f"{run.client_server_seconds:.1f} s of it ({run.server_busy:.0%})",
        f"client / server rate: {run.ratio:.0%} (target >= {TARGET_RATIO:.0%}) {_mark(ratio_met)}",
        f"client peak RSS: {run.client_peak_rss_mib:.0f} MiB (target <= {TARGET_RSS_MIB} MB) {_mark(rss_met)}",
    ])


def report_follow(run: FollowRun) -> str:
    caught = run.catch_up_seconds is not None and run.catch_up_seconds <= TARGET_CATCH_UP_S
    rate_met = run.achieved_rate >= 0.95 * run.rate
    return "\n".join([
        f"== follow, {run.db}: provider paced at {run.rate:,.0f} records/s for {run.seconds:.0f} s "
        f"(batches of {run.batch:,}), follower `changes --follow --interval {run.interval:g}`",
        f"provider achieved {run.achieved_rate:,.0f} records/s ({run.records:,} in {run.provider_seconds:.1f} s) "
        f"{_mark(rate_met)}; server busy with SubmitBatch {run.server_submit_seconds:.1f} s, with the "
        f"follower's requests {run.server_other_seconds:.1f} s",
        f"follower lag while the provider ran: max {run.max_behind:,} records, {run.max_seconds_behind:.1f} s; "
        f"repeats {run.repeats}; peak RSS {run.follower_peak_rss_mib:.0f} MiB",
        f"caught up {run.catch_up_seconds:.1f} s after the provider's last receipt" if run.catch_up_seconds is not None
        else "not caught up within 60 s of the provider's last receipt",
        f"keeps up (lag bounded, caught up within {TARGET_CATCH_UP_S:g} s): {_mark(caught)}",
    ])


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.client", description="govshare-client submit and follow")
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--only", choices=("submit", "follow"), help="one of the two measurements (default both)")
    p.add_argument("--rows", type=int, default=1_000_000, help="rows of the CSV the client submits")
    p.add_argument("--batch-size", type=int, default=10_000, help="records per batch, client and baseline alike")
    p.add_argument("--repeat", type=int, default=3, help="baseline batches before and after the client's run")
    p.add_argument("--rate", type=float, default=TARGET_FOLLOW_RATE, help="the provider's pace, records/s")
    p.add_argument("--seconds", type=float, default=20, help="how long the provider submits")
    p.add_argument("--provider-batch", type=int, default=2000, help="records per batch of the provider")
    p.add_argument("--interval", type=float, default=1, help="the follower's --interval, seconds")
    p.add_argument("--threads", type=int, default=4, help="waitress worker threads")
    p.add_argument("--servers", type=int, choices=(1, 2), default=1,
                   help="server processes on the one database: 2 = the provider's batches to one, the follower's "
                        "GetChanges to the other")
    p.add_argument("--seed", type=int, default=20261205)
    p.add_argument("--pg-admin-url", default=PG_ADMIN_URL,
                   help=f"a database on the PostgreSQL server; {PG_DATABASE} is created beside it and dropped")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    started, load = time.perf_counter(), os.getloadavg()
    submitted = followed = None
    with tempfile.TemporaryDirectory(prefix="govshare-bench-client-") as tmp:
        if args.only in (None, "submit"):
            submitted = bench_submit(args.db, args, Path(tmp))
        if args.only in (None, "follow"):
            followed = bench_follow(args.db, args, Path(tmp))
    print()
    for text in (report_submit(submitted) if submitted else None, report_follow(followed) if followed else None):
        if text:
            print(text, end="\n\n")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"client-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    record = {
        "command": " ".join(["python -m bench.client", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(postgresql_version(args.pg_admin_url) if args.db == "postgresql" else None),
        "submit": asdict(submitted) | {"baseline": submitted.baseline, "client_rate": submitted.client_rate,
                                       "ratio": submitted.ratio,
                                       "server_busy": submitted.server_busy} if submitted else None,
        "follow": asdict(followed) | {"achieved_rate": followed.achieved_rate, "max_behind": followed.max_behind,
                                      "max_seconds_behind": followed.max_seconds_behind} if followed else None,
        "total_seconds": round(time.perf_counter() - started, 1),
        "load_average": {"start": load, "end": os.getloadavg()},
    }
    out.write_text(json.dumps(record, ensure_ascii=False, indent=1, default=str))
    print(f"load average {load[0]:.1f} at the start, {record['load_average']['end'][0]:.1f} at the end")
    print(f"results: {out.relative_to(ROOT)}  (total {record['total_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
