"""bench/portal: the portal's unified query (统一查询) over a population base of N people.

    .venv/bin/python -m bench.portal                          # PostgreSQL, 1,000,000 people
    .venv/bin/python -m bench.portal --db sqlite --people 50000 --seconds 5     # a quick look

1. **Load.** A throwaway database (PostgreSQL: ``govshare_bench_portal``, dropped afterwards;
   SQLite: a file under ``bench/results/``) is migrated; 公安局 publishes 户籍人口基础信息
   (有条件共享) and 民政局 婚姻登记人员信息 through the catalogue workflow; 民政局 holds a grant
   for 公安局's resource.  ``--people`` Person records (``xsd.samples``, unique ID numbers) are
   bulk-inserted into the core tier as 公安局's current versions, and every tenth person gets
   a lineage pair (公安局's and 民政局's address), as the comparison (比对) would have left.
   PostgreSQL then runs ``VACUUM ANALYZE``.
2. **Serve.** ``bench.directory.server`` serves the whole platform (waitress, 4 threads) in a
   process of its own, with the audit log on: every query appends its ``exchange.unified_query``
   entry and one ``exchange.query_records`` entry per resource read.
3. **Measure.** ``--clients`` threads (2) each sign in as 民政局's user and POST ``/portal/query``
   with ID numbers drawn at random from the loaded people, after a warm-up, for ``--seconds``;
   every answer is checked (the person's record found, with its lineage where it has one).
4. **Report.** Requests, requests/s, client and server p50/p99 in ms; JSON in ``bench/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import requests
from sqlalchemy import insert, text

from bench.databases import PG_ADMIN_URL, postgresql_version, throwaway_database

RESULTS = Path(__file__).resolve().parent.parent / "results"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SCENARIO = "unified_query"


def load(url: str, people: int, resources: int = 0) -> tuple[list[str], set[str]]:
    """The city, the grant and ``people`` persons in the core tier; their keys and the keys with lineage.
    With ``resources``, 公安局 also publishes so many 有条件共享 resources under a 部门 class (301001),
    民政局 holding no grant for them: every other one holds a record of the 人口 base (so the unified
    query must decide it may not read it), the others none (so it must find that they hold no 人口 records)."""
    from directory.accounts import create_user, register_department
    from directory.bootstrap import bootstrap_node
    from directory.demo import credit_code_for
    from governance.sharing import grant
    from registry.clock import utcnow
    from registry.db import make_engine, migrate, session_factory, unit_of_work
    from registry.models import CoreLineage, CoreRecord
    from registry.settings import Settings
    from tests.conftest import as_user
    from tests.exchange.conftest import _publish
    from xsd import samples
    from xsd.registry import POPULATION_NS

    migrate(url)
    settings = Settings.from_env(db_url=url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    with unit_of_work(sessions) as s:
        bootstrap_node(s, settings)
        gaj = register_department(s, settings, code="gaj", name="临江市公安局", credit_code=credit_code_for("00250102"))
        mzj = register_department(s, settings, code="mzj", name="临江市民政局", credit_code=credit_code_for("00250103"))
        gaj_user = create_user(s, username="gaj", password="bench", department=gaj, roles=("cataloguer", "provider"))
        mzj_user = create_user(s, username="mzj", password="bench", department=mzj,
                               roles=("consumer", "cataloguer", "provider"))
        reviewer = create_user(s, username="reviewer", password="bench", department=None, roles=("reviewer",))
        resource = _publish(s, settings, gaj, gaj_user, reviewer, "户籍人口基础信息", "101001002", "有条件共享")
        _publish(s, settings, mzj, mzj_user, reviewer, "婚姻登记人员信息", "101004001", "有条件共享")
        extra = [_publish(s, settings, gaj, gaj_user, reviewer, f"部门业务信息{n:04d}", "301001", "有条件共享")
                 for n in range(resources)]
        grant(as_user(sessions, settings, "gaj"), resource_code=resource, consumer_code="mzj", clear=["idNumber"])
        gaj_id, mzj_id = gaj.id, mzj.id
    keys: list[str] = []
    seen: set[str] = set()
    lineage: set[str] = set()
    batch_id, now, record_type = str(uuid.uuid4()), utcnow(), "{%s}Person" % POPULATION_NS
    started, seed = time.monotonic(), 0
    while len(keys) < people:
        seed += 1
        rows, pairs = [], []
        for fields in samples.population_fields(min(20000, people - len(keys)), seed=seed):
            key = fields["idNumber"]
            if key in seen:
                continue
            seen.add(key)
            keys.append(key)
            fields = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in fields.items()}
            rows.append({"base": "population", "record_key": key, "record_type": record_type, "fields": fields,
                         "deleted": False, "source_id": gaj_id, "resource_code": resource, "batch_id": batch_id,
                         "effective_from": now, "effective_to": None, "field_sources": None})
            if len(keys) % 10 == 0:
                lineage.add(key)
                for value, source in ((fields.get("domicileAddress", ""), gaj_id), ("临江市滨江区民政路1号", mzj_id)):
                    pairs.append({"base": "population", "record_key": key, "field": "domicileAddress", "value": value,
                                  "source_id": source, "batch_id": batch_id, "recorded_at": now})
        with engine.begin() as conn:
            conn.execute(insert(CoreRecord), rows)
            if pairs:
                conn.execute(insert(CoreLineage), pairs)
        print(f"  loaded {len(keys):,} people ({len(keys) / (time.monotonic() - started):,.0f}/s)", flush=True)
    holding = extra[::2]
    if holding:  # one record each, of people beyond those loaded (a query's key is never one of them)
        fields_of = samples.population_fields(len(holding), seed=10_000_019)
        with engine.begin() as conn:
            conn.execute(insert(CoreRecord), [
                {"base": "population", "record_key": f"{code}:{n}", "record_type": record_type,
                 "fields": {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in fields.items()},
                 "deleted": False, "source_id": gaj_id, "resource_code": code, "batch_id": batch_id,
                 "effective_from": now, "effective_to": None, "field_sources": None}
                for n, (code, fields) in enumerate(zip(holding, fields_of, strict=True))])
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return keys, lineage


class Client(threading.Thread):
    def __init__(self, base: str, keys: list[str], lineage: set[str], until: float, seed: int):
        super().__init__(daemon=True)
        self.base, self.keys, self.lineage, self.until = base, keys, lineage, until
        self.rng = random.Random(seed)
        self.http = requests.Session()
        self.latencies: list[float] = []
        self.errors: list[str] = []
        page = self.http.get(f"{base}/portal/login", timeout=30).text
        self.csrf = CSRF.search(page).group(1)
        reply = self.http.post(f"{base}/portal/login", data={"username": "mzj", "password": "bench",
                                                              "csrf_token": self.csrf}, timeout=30)
        self.csrf = CSRF.search(reply.text).group(1)

    def query(self, key: str) -> float:
        started = time.perf_counter()
        r = self.http.post(f"{self.base}/portal/query", data={"key": key, "purpose": "基准测试",
                                                               "csrf_token": self.csrf},
                           headers={"X-Bench-Scenario": SCENARIO}, timeout=60)
        elapsed = (time.perf_counter() - started) * 1000
        if r.status_code != 200 or "1 个资源有记录" not in r.text or (
                key in self.lineage and "临江市滨江区民政路1号" not in r.text):
            self.errors.append(f"{key}: HTTP {r.status_code} {r.text[-300:]!r}")
        return elapsed

    def run(self) -> None:
        for _ in range(20):  # warm-up
            self.query(self.rng.choice(self.keys))
        while time.monotonic() < self.until and len(self.latencies) < 100000:
            self.latencies.append(self.query(self.rng.choice(self.keys)))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure(url: str, keys: list[str], lineage: set[str], clients: int, seconds: float) -> dict:
    env = {**os.environ, "GOVSHARE_SCHEDULER": "0", "GOVSHARE_VAR": tempfile.mkdtemp(prefix="govshare-bench-")}
    proc = subprocess.Popen([sys.executable, "-m", "bench.directory.server", "--db-url", url, "--threads", "4"],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        port = int(proc.stdout.readline().split()[1])
        base = f"http://127.0.0.1:{port}"
        warm = [Client(base, keys, lineage, 0, n) for n in range(clients)]
        for c in warm:
            c.start()
        for c in warm:
            c.join()
        requests.get(f"{base}/_bench/timings", timeout=30)  # forget the warm-up
        until = time.monotonic() + seconds
        workers = [Client(base, keys, lineage, until, 100 + n) for n in range(clients)]
        started = time.monotonic()
        for c in workers:
            c.start()
        for c in workers:
            c.join()
        wall = time.monotonic() - started
        server = requests.get(f"{base}/_bench/timings", timeout=30).json().get(SCENARIO, [])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    latencies = [v for c in workers for v in c.latencies]
    errors = [e for c in warm + workers for e in c.errors]
    return {"requests": len(latencies), "requests_per_s": len(latencies) / wall,
            "client_p50_ms": percentile(latencies, 50), "client_p99_ms": percentile(latencies, 99),
            "client_mean_ms": statistics.fmean(latencies),
            "server_p50_ms": percentile(server, 50) if server else None,
            "server_p99_ms": percentile(server, 99) if server else None,
            "errors": len(errors), "first_errors": errors[:3]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="unified query p50/p99 over N people")
    p.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    p.add_argument("--people", type=int, default=1_000_000)
    p.add_argument("--resources", type=int, default=0,
                   help="more resources of 公安局 under a 部门 class that 民政局 may not read (see load)")
    p.add_argument("--clients", type=int, default=2)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    p.add_argument("--keep", action="store_true")
    args = p.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    if args.db == "postgresql":
        machine["postgresql"] = postgresql_version(args.pg_admin_url)
        context = throwaway_database(args.pg_admin_url, "govshare_bench_portal", keep=args.keep)
    else:
        path = RESULTS / "portal-bench.db"
        path.unlink(missing_ok=True)
        context = _nullcontext(f"sqlite:///{path}")
    with context as url:
        started = time.monotonic()
        print(f"loading {args.people:,} people into {args.db} ...", flush=True)
        keys, lineage = load(url, args.people, args.resources)
        load_s = time.monotonic() - started
        print(f"loaded in {load_s:.0f} s; measuring {args.clients} clients for {args.seconds:g} s ...", flush=True)
        figures = measure(url, keys, lineage, args.clients, args.seconds)
    result = {"db": args.db, "people": len(keys), "resources": args.resources, "clients": args.clients,
              "seconds": args.seconds, "load_s": load_s, "machine": machine,
              "when": datetime.now().isoformat(timespec="seconds"), **figures}
    out = RESULTS / f"portal-{args.db}-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2))
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 1 if figures["errors"] else 0


class _nullcontext:
    def __init__(self, value):
        self.value = value

    def __enter__(self):
        return self.value

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    sys.exit(main())
