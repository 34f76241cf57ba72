"""Scale-out benchmark (issue 20): 1, 2 and 4 gunicorn processes on one PostgreSQL.

    .venv/bin/python -m bench.scaleout [--workers 1,2,4] [--seconds 20] [--records 10000]
        [--clients-per-worker 2] [--threads 4] [--pg-admin-url URL] [--json PATH]

What it measures, for each number of server processes: requests/s of a realistic mix, and the
CPU each request costs the database and the application - the figures of the sizing model in
BENCHMARKS.md.

How.  A fresh PostgreSQL database holds 公安局's published 户籍登记信息 (``--records`` people)
and 民政局 as its consumer (``bench.security.prepare``).  The production entry point serves it:
``gunicorn -c docs/deploy/gunicorn.conf.py server:application`` with ``GUNICORN_WORKERS`` = N
(gthread, ``--threads`` threads each), audit log on, ``GOVSHARE_WSS=optional`` (unsigned
requests let through, as the security benchmark's unsigned scenario).  ``N x
--clients-per-worker`` client *processes* (each one keep-alive connection, no think time) send
the mix: three QueryRecords by a random key (unsigned, one audit entry each) to one UDDI
find_service by exact name (the catalogue's search; the inquiry answer cache serves most of
them, as it would a real directory's repeated searches).  Every answer is checked.  After a
warm-up, all clients start together and run ``--seconds``.

CPU is read from ``/proc/<pid>/stat`` (utime + stime) before and after the measured window:

* **app**: the gunicorn master and its workers;
* **database**: the PostgreSQL backends connected to the benchmark's database (their pids from
  ``pg_stat_activity``; a backend that started in the window counts whole), and separately the
  server's auxiliary processes (WAL writer, checkpointer, background writer ...) - those are
  shared with anything else using the server, so their figure is an upper bound;
* **clients**: the client processes (their own CPU, so the reader sees how much of the two
  cores the load generator took);
* commits: ``pg_stat_database.xact_commit`` of the database.

Results: a table on stdout and JSON in ``bench/results/scaleout-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.databases import PG_ADMIN_URL, postgresql_version, throwaway_database
from bench.directory import report
from bench.directory.__main__ import RESULTS
from bench.processes import GUNICORN, Gunicorn

PG_DATABASE = "govshare_bench_scaleout"
TICK = os.sysconf("SC_CLK_TCK")
QUERIES_PER_FIND = 3  # the mix: three QueryRecords by key to one find_service
UDDI = "urn:uddi-org:api_v3"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SERVICE_NAME = "户籍登记信息"  # bench.exchange.workload's published resource


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process, seconds; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


# ------------------------------------------------------------------------------------------- clients

def _find_body() -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>'
            f'<find_service xmlns="{UDDI}"><name>{SERVICE_NAME}</name></find_service></soap:Body></soap:Envelope>'
            ).encode()


def _client(base_url: str, queries: list[bytes], start_at: float, seconds: float, out) -> None:
    """One client process: the mix, one request at a time, from ``start_at`` for ``seconds``."""
    import requests

    session = requests.Session()
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    find = _find_body()
    done, errors, latencies = 0, [], []
    before = os.times()
    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)
    deadline = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < deadline:
        if i % (QUERIES_PER_FIND + 1) == QUERIES_PER_FIND:
            url, body, expect = base_url + "/uddi/inquiry", find, b"<serviceInfo "
        else:
            url, body, expect = base_url + "/exchange", queries[i % len(queries)], b"QueryRecordsResponse"
        i += 1
        sent = time.perf_counter()
        try:
            response = session.post(url, data=body, headers=headers, timeout=60)
            ok = response.status_code == 200 and expect in response.content
            if not ok:
                errors.append(f"HTTP {response.status_code}: {response.content[:200]!r}")
        except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
            errors.append(repr(exc))
        latencies.append((time.perf_counter() - sent) * 1000.0)
        done += 1
    after = os.times()
    out.put({"requests": done, "errors": errors[:5], "error_count": len(errors), "latencies": latencies,
             "cpu": (after.user + after.system) - (before.user + before.system)})


# ------------------------------------------------------------------------------------------- database CPU

class Database:
    """The PostgreSQL server's processes for one database, read through pg_stat_activity and /proc."""

    def __init__(self, admin_url: str, name: str):
        self.engine = create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_size=1)
        self.name = name

    def snapshot(self) -> dict:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT pid, datname, backend_type FROM pg_stat_activity "
                                     "WHERE pid <> pg_backend_pid()")).all()
            commits = conn.scalar(text("SELECT xact_commit FROM pg_stat_database WHERE datname = :d"),
                                  {"d": self.name})
        ours = {pid: cpu_seconds(pid) for pid, datname, _ in rows if datname == self.name}
        auxiliary = {pid: cpu_seconds(pid) for pid, datname, kind in rows
                     if datname is None and kind != "client backend"}
        return {"ours": ours, "auxiliary": auxiliary, "commits": int(commits or 0)}

    @staticmethod
    def spent(before: dict[int, float | None], after: dict[int, float | None]) -> tuple[float, int]:
        """CPU seconds between two readings of a set of processes; and how many of the first were gone."""
        total, gone = 0.0, 0
        for pid, now in after.items():
            if now is not None:
                total += now - (before.get(pid) or 0.0)
        for pid in before:
            if pid not in after or after[pid] is None:
                gone += 1
        return total, gone

    def dispose(self) -> None:
        self.engine.dispose()


# ------------------------------------------------------------------------------------------- one run

@dataclass
class Round:
    workers: int
    clients: int
    seconds: float
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float
    app_cpu_ms_per_request: float
    db_cpu_ms_per_request: float
    db_auxiliary_cpu_ms_per_request: float
    client_cpu_ms_per_request: float
    commits_per_request: float
    machine_busy: float  # share of all CPUs busy during the window (every process on the machine)
    db_backends_gone: int = 0
    error_examples: list[str] = field(default_factory=list)


def _machine_busy() -> tuple[float, float]:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def run_round(env: dict, db: Database, queries: list[bytes], workers: int, args: argparse.Namespace) -> Round:
    server = Gunicorn({**env, "GUNICORN_LOGLEVEL": "warning"}, RESULTS / f"scaleout-gunicorn-{workers}.log",
                      workers=workers, threads=args.threads)
    try:
        server.wait_ready()
        clients = workers * args.clients_per_worker
        ctx = multiprocessing.get_context("fork")
        # warm-up: every worker's platform built, pools filled, caches loaded
        out = ctx.Queue()
        warm = [ctx.Process(target=_client, args=(server.url, queries[n::clients], time.time(), args.warmup, out))
                for n in range(clients)]
        for p in warm:
            p.start()
        warm_results = [out.get(timeout=args.warmup + 120) for _ in warm]
        for p in warm:
            p.join()
        if any(r["error_count"] for r in warm_results):
            raise RuntimeError(f"errors in the warm-up: {[r['errors'] for r in warm_results if r['errors']]}")
        start_at = time.time() + 2.0
        procs = [ctx.Process(target=_client, args=(server.url, queries[n::clients], start_at, args.seconds, out))
                 for n in range(clients)]
        for p in procs:
            p.start()
        time.sleep(max(0.0, start_at - time.time()))
        app_before = {pid: cpu_seconds(pid) for pid in server.pids()}
        db_before = db.snapshot()
        busy_before = _machine_busy()
        results = [out.get(timeout=args.seconds + 120) for _ in procs]
        busy_after = _machine_busy()
        db_after = db.snapshot()
        app_after = {pid: cpu_seconds(pid) for pid in server.pids()}
        for p in procs:
            p.join()
    finally:
        server.stop()
    done = sum(r["requests"] for r in results)
    latencies = [ms for r in results for ms in r["latencies"]]
    app_cpu, _ = Database.spent(app_before, app_after)
    db_cpu, gone = Database.spent(db_before["ours"], db_after["ours"])
    aux_cpu, _ = Database.spent(db_before["auxiliary"], db_after["auxiliary"])
    per = 1000.0 / done if done else 0.0
    return Round(
        workers=workers, clients=clients, seconds=args.seconds, requests=done,
        errors=sum(r["error_count"] for r in results), rps=done / args.seconds,
        p50_ms=report.percentile(latencies, 50), p99_ms=report.percentile(latencies, 99),
        app_cpu_ms_per_request=app_cpu * per, db_cpu_ms_per_request=db_cpu * per,
        db_auxiliary_cpu_ms_per_request=aux_cpu * per,
        client_cpu_ms_per_request=sum(r["cpu"] for r in results) * per,
        commits_per_request=(db_after["commits"] - db_before["commits"]) / done if done else 0.0,
        machine_busy=(busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1]),
        db_backends_gone=gone, error_examples=[e for r in results for e in r["errors"]][:5])


def sizing(rounds: list[Round], db_cores: int, app_cores: int, utilisation: float) -> dict:
    """The sizing model from the per-request CPU costs, averaged over the runs (BENCHMARKS.md explains
    it): a database of ``db_cores`` carries ``utilisation x db_cores / db_ms`` requests a second, an
    application machine ``utilisation x app_cores / app_ms``; their quotient is the machines one
    database carries.  (The audit chain's lock and the WAL flush are not CPU: see BENCHMARKS.md.)"""
    db_ms = sum(r.db_cpu_ms_per_request + r.db_auxiliary_cpu_ms_per_request for r in rounds) / len(rounds)
    app_ms = sum(r.app_cpu_ms_per_request for r in rounds) / len(rounds)
    db_rps = utilisation * db_cores * 1000.0 / db_ms if db_ms else 0.0
    app_rps = utilisation * app_cores * 1000.0 / app_ms if app_ms else 0.0
    return {"from_workers": [r.workers for r in rounds], "db_cpu_ms_per_request": round(db_ms, 3),
            "app_cpu_ms_per_request": round(app_ms, 3), "db_cores": db_cores,
            "app_cores_per_machine": app_cores, "utilisation": utilisation,
            "requests_per_second_one_database_carries": round(db_rps), "requests_per_second_per_app_machine":
            round(app_rps), "app_machines_per_database": round(db_rps / app_rps, 1) if app_rps else None}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.scaleout", description=__doc__.splitlines()[0])
    p.add_argument("--workers", default="1,2,4", help="server processes of each run, comma-separated")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up traffic before each run")
    p.add_argument("--records", type=int, default=10_000)
    p.add_argument("--clients-per-worker", type=int, default=2)
    p.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    p.add_argument("--db-cores", type=int, default=16, help="the sizing model's database machine")
    p.add_argument("--app-cores", type=int, default=8, help="the sizing model's application machine")
    p.add_argument("--utilisation", type=float, default=0.7, help="the sizing model's target CPU use")
    p.add_argument("--seed", type=int, default=20261206)
    p.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    if not workers or min(workers) < 1:
        p.error("--workers: one or more positive numbers, e.g. 1,2,4")
    if not GUNICORN.exists():
        p.error(f"{GUNICORN} is missing: install the server extra (pip install -e '.[server]')")

    from bench.security.__main__ import bodies, prepare

    rounds: list[Round] = []
    with throwaway_database(args.pg_admin_url, PG_DATABASE) as db_url:
        var_dir = RESULTS / "scaleout-var"
        var_dir.mkdir(parents=True, exist_ok=True)
        print(f"loading {args.records} people ...", flush=True)
        world = prepare(db_url, var_dir, args.records, args.seed)
        queries = bodies(world, 4000, random.Random(args.seed), signed=False)
        env = dict(os.environ, GOVSHARE_DB_URL=db_url, GOVSHARE_VAR=str(var_dir), GOVSHARE_WSS="optional",
                   GOVSHARE_AUDIT="1", GOVSHARE_MIGRATE="0", GOVSHARE_SCHEDULER="0", GOVSHARE_UDDI_NOTIFY="0")
        db = Database(args.pg_admin_url, PG_DATABASE)
        try:
            for n in workers:
                print(f"{n} server process(es), {n * args.clients_per_worker} client processes, "
                      f"{args.seconds:.0f} s ...", flush=True)
                rounds.append(run_round(env, db, queries, n, args))
        finally:
            db.dispose()
    head = (f"{'workers':>7} {'clients':>7} {'req':>7} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'app ms/req':>10} "
            f"{'db ms/req':>9} {'db aux':>7} {'client':>7} {'commits':>7} {'busy':>5}")
    print("\nmix: 3 QueryRecords by key (unsigned, audited) : 1 find_service by exact name; CPU ms per request")
    print(head)
    for r in rounds:
        print(f"{r.workers:>7} {r.clients:>7} {r.requests:>7} {r.rps:>8.1f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} "
              f"{r.app_cpu_ms_per_request:>10.2f} {r.db_cpu_ms_per_request:>9.2f} "
              f"{r.db_auxiliary_cpu_ms_per_request:>7.2f} {r.client_cpu_ms_per_request:>7.2f} "
              f"{r.commits_per_request:>7.2f} {r.machine_busy:>5.0%}")
        if r.errors:
            print(f"        {r.errors} errors, e.g. {r.error_examples[:2]}")
    model = sizing(rounds, args.db_cores, args.app_cores, args.utilisation)
    print(f"\nsizing model ({model['db_cores']}-core database, {model['app_cores_per_machine']}-core application "
          f"machines, {model['utilisation']:.0%} CPU): one database carries "
          f"{model['requests_per_second_one_database_carries']} req/s, one application machine "
          f"{model['requests_per_second_per_app_machine']} req/s -> {model['app_machines_per_database']} "
          "application machines per database")
    machine = report.machine(postgresql_version(args.pg_admin_url))
    result = {"benchmark": "scaleout", "when": datetime.now(UTC).isoformat(timespec="seconds"),
              "mix": f"{QUERIES_PER_FIND} QueryRecords by key (unsigned, audit on) : 1 find_service by exact name",
              "machine": machine, "rounds": [asdict(r) for r in rounds], "sizing": model,
              "load_average": os.getloadavg()}
    path = args.json or RESULTS / f"scaleout-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    print(f"machine: {machine['nproc']} CPUs, {machine['cpu']}; results in {path}")
    return 1 if any(r.errors for r in rounds) else 0


if __name__ == "__main__":
    sys.exit(main())
