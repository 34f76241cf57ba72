"""Benchmark of message security and audit (issue 5): the same QueryRecords signed and
unsigned on one server in one run, with the audit log on and off.

    .venv/bin/python -m bench.security [--db sqlite|postgresql|both] [--records 10000]
        [--seconds 10] [--rounds 4] [--clients 2]

Targets: signed throughput >= 60% of unsigned (WS-Security verification of the request
and signing of the response both included); audit costs <= 10% (requests/s with the audit
log on against off) in every round, not on average; unsigned QueryRecords with the audit log
on >= 50% of the bare SOAP echo (Diagnostics Echo on the same server, in the same rounds).

Rounding.  A ratio is judged on the figure as printed: percentages are rounded half up to one
decimal first (``judged``), and the target is checked on that rounded figure, so a row never
says "10.0% MISS" or "9.96% ok" beside "10.0%".  The JSON holds both the exact ratio and the
rounded one.

How.  A fresh database holds a published 人口 resource of 公安局 with ``--records`` people;
民政局 (the consumer) has a certificate from the platform CA.  The platform is served by
waitress in two subprocesses side by side (``bench.directory.server``, server-side timing)
with ``GOVSHARE_WSS=optional`` - signed requests are verified and answered signed, unsigned
ones are served as they are - one with ``GOVSHARE_AUDIT=1`` and one with ``=0``.  Two client
threads send QueryRecords by a random key to one server at a time; the four scenarios take
turns in ``--rounds`` rounds of ``--seconds / --rounds`` each, in an order that changes every
round, so that a slow spell of the shared machine is spread over all four; each round also
drives Diagnostics Echo on the audited server (the ceiling the QueryRecords ratio is taken to).  Signed requests
are signed before the clock starts (zeep's BinarySignature, RSA-SHA256 over Body and
Timestamp, as a department's client signs them), one distinct message per request: the
replay cache refuses a message sent twice.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import xmlsec
from lxml import etree
from zeep.wsse.signature import BinarySignature

from bench.databases import PG_ADMIN_URL, postgresql_version, throwaway_database
from bench.directory import report, traffic
from bench.directory.__main__ import RESULTS, ROOT, sqlite_database
from bench.exchange.workload import EXCHANGE_NS, SOAP_ENV_NS, batches, publish_population_resource

PG_DATABASE = "govshare_bench_security"
SIGNED_RATIO_TARGET = 0.6
AUDIT_COST_TARGET = 0.10
ECHO_RATIO_TARGET = 0.5
ECHO = "echo"


def judged(ratio: float) -> float:
    """A ratio as a percentage rounded half up to one decimal: the figure printed and the figure judged."""
    return float(Decimal(repr(ratio * 100)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def verdict(ratio: float, target: float, *, at_most: bool = False) -> dict:
    """``ratio`` against ``target`` (a share), judged on the rounded percentage."""
    shown, bound = judged(ratio), judged(target)
    met = shown <= bound if at_most else shown >= bound
    return {"ratio": ratio, "percent": shown, "target_percent": bound, "met": met,
            "text": f"{shown:.1f}% {'ok' if met else 'MISS'} (target {'<=' if at_most else '>='} {bound:.0f}%)"}


@dataclass
class World:
    resource: str
    consumer_code: str
    key_file: Path
    cert_file: Path
    keys: list[str]


def prepare(db_url: str, var_dir: Path, records: int, seed: int) -> World:
    import server
    from directory.accounts import register_department
    from directory.demo import credit_code_for
    from exchange.submit import submit_document
    from registry.db import unit_of_work
    from registry.settings import Settings
    from trust import pki

    settings = Settings.from_env(db_url=db_url, var_dir=var_dir)
    sessions = server.prepare(settings)
    resource = publish_population_resource(sessions, settings)
    pki.init_ca(settings, force=True)
    keys: list[str] = []
    with unit_of_work(sessions) as session:
        consumer = register_department(session, settings, code="mzj", name="临江市民政局",
                                       credit_code=credit_code_for("00250103"))
        issued = pki.issue(session, settings, consumer)
        consumer_code = consumer.credit_code
    key_file, cert_file = var_dir / "mzj.key", var_dir / "mzj.pem"
    key_file.write_bytes(issued.key_pem())
    cert_file.write_bytes(issued.cert_pem())
    for batch in batches(resource, [min(records, 10_000)] * max(1, records // 10_000), seed):
        with unit_of_work(sessions) as session:
            submit_document(session, batch.document, settings.max_batch_bytes)
        keys.extend(key for key, _fields in batch.rows)
    sessions.kw["bind"].dispose()
    return World(resource.resource_code, consumer_code, key_file, cert_file, keys)


def _query(world: World, key: str) -> etree._Element:
    return etree.fromstring(
        f'<soap:Envelope xmlns:soap="{SOAP_ENV_NS}"><soap:Header/><soap:Body><ex:QueryRecords xmlns:ex="{EXCHANGE_NS}">'
        f"<ex:requester>{world.consumer_code}</ex:requester><ex:resourceCode>{world.resource}</ex:resourceCode>"
        f"<ex:key>{key}</ex:key></ex:QueryRecords></soap:Body></soap:Envelope>".encode())


def bodies(world: World, count: int, rng: random.Random, *, signed: bool) -> list[bytes]:
    from client.wss import add_timestamp

    signer = BinarySignature(str(world.key_file), str(world.cert_file), signature_method=xmlsec.Transform.RSA_SHA256,
                             digest_method=xmlsec.Transform.SHA256)
    out = []
    for _ in range(count):
        env = _query(world, rng.choice(world.keys))
        if signed:
            add_timestamp(env, lifetime=900)
            signer.apply(env, {})
        out.append(etree.tostring(env))
    return out


@contextmanager
def served(db_url: str, var_dir: Path, threads: int, audit: bool, **settings: str):
    """A benchmark server (bench.directory.server) in its own process, its address; ``settings``: more
    ``GOVSHARE_*`` variables for it (e.g. ``GOVSHARE_EVIDENCE="0"``)."""
    import subprocess

    env = dict(os.environ, GOVSHARE_WSS="optional", GOVSHARE_AUDIT="1" if audit else "0", GOVSHARE_VAR=str(var_dir),
               **settings)
    proc = subprocess.Popen([sys.executable, "-m", "bench.directory.server", "--db-url", db_url,
                             "--threads", str(threads)], cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        if not line.startswith("LISTENING "):
            raise RuntimeError(f"the server did not start (exit code {proc.poll()}): {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def warm(base_url: str, name: str, bodies_: list[bytes]) -> None:
    scenario = _scenario(name, bodies_)
    run = traffic.drive(base_url, scenario, clients=1, seconds=60.0, limit=len(bodies_))
    if run.errors:
        raise RuntimeError(f"{name} fails before the measurement: {run.errors[0]}")
    traffic.server_timings(base_url)


def _scenario(name: str, body_list: list[bytes]) -> traffic.Scenario:
    if name == ECHO:
        return traffic.Scenario(ECHO, "Diagnostics Echo (SOAP ceiling)", "/diagnostics", '"Echo"', body_list,
                                b"EchoResult>")
    return traffic.Scenario(name, name, "/exchange", '""', body_list, b"QueryRecordsResponse")


def echo_bodies(count: int) -> list[bytes]:
    return [(f'<soap:Envelope xmlns:soap="{SOAP_ENV_NS}"><soap:Body><Echo xmlns="{traffic.DIAGNOSTICS}">'
             f"<text>ping {n}</text></Echo></soap:Body></soap:Envelope>").encode() for n in range(count)]


def measure(base_url: str, name: str, body_list: list[bytes], args: argparse.Namespace) -> tuple[traffic.Run, list]:
    scenario = _scenario(name, body_list)
    run = traffic.drive(base_url, scenario, clients=args.clients, seconds=args.seconds / args.rounds,
                        limit=len(body_list) // args.clients)  # a signed message is never sent twice
    if run.errors:
        raise RuntimeError(f"{name}: {len(run.errors)} failed requests, first: {run.errors[0]}")
    return run, traffic.server_timings(base_url).get(name, [])


SCENARIOS = ("unsigned, audit off", "signed, audit off", "unsigned, audit on", "signed, audit on", ECHO)


def _name(signed_: bool, audit: bool) -> str:
    return f"{'signed' if signed_ else 'unsigned'}, audit {'on' if audit else 'off'}"


def bench_database(db: str, db_url: str, args: argparse.Namespace) -> tuple[dict[str, report.Figures], list[dict]]:
    """Both servers run side by side (only one is driven at a time); the four scenarios and echo take
    turns in ``--rounds`` short rounds, in an order that changes every round, so that a slow
    spell of the shared machine falls on all of them alike rather than on one.  Returns the
    figures of each scenario over all rounds, and each round's requests/s per scenario."""
    var_dir = RESULTS / f"security-{db}-var"
    var_dir.mkdir(parents=True, exist_ok=True)
    print(f"[{db}] loading {args.records} people ...", flush=True)
    world = prepare(db_url, var_dir, args.records, args.seed)
    rng = random.Random(args.seed)
    per_run = args.max_requests
    print(f"[{db}] signing {2 * (per_run + args.warmup)} requests before the clock starts ...", flush=True)
    started = time.perf_counter()
    signed = {audit: bodies(world, per_run, rng, signed=True) for audit in (True, False)}
    signed_warm = {audit: bodies(world, args.warmup, rng, signed=True) for audit in (True, False)}
    print(f"[{db}] signed in {time.perf_counter() - started:.1f} s", flush=True)
    plain = bodies(world, per_run, rng, signed=False)
    echoes = echo_bodies(per_run)
    share = per_run // args.rounds
    scenarios = [(signed_, audit) for audit in (False, True) for signed_ in (False, True)] + [(ECHO, True)]
    runs: dict[tuple, list[tuple[traffic.Run, list]]] = {key: [] for key in scenarios}
    rounds: list[dict] = []
    with served(db_url, var_dir, args.threads, False) as off_url, served(db_url, var_dir, args.threads, True) as on_url:
        urls = {False: off_url, True: on_url}
        for audit, url in urls.items():
            warm(url, "unsigned", plain[-args.warmup:])
            warm(url, "signed", signed_warm[audit])
        warm(on_url, ECHO, echoes[-args.warmup:])
        for n in range(args.rounds):
            order = scenarios if n % 2 == 0 else scenarios[::-1]
            this_round = {}
            for signed_, audit in order[n % len(order):] + order[:n % len(order)]:
                if signed_ == ECHO:
                    name, chunk = ECHO, echoes[n * share:(n + 1) * share]
                else:
                    name = "signed" if signed_ else "unsigned"
                    chunk = (signed[audit] if signed_ else plain)[n * share:(n + 1) * share]
                measured = measure(urls[audit], name, chunk, args)
                runs[(signed_, audit)].append(measured)
                this_round[ECHO if signed_ == ECHO else _name(signed_, audit)] = (
                    len(measured[0].latencies_ms) / measured[0].wall_seconds)
            rounds.append(this_round)
            print(f"[{db}] round {n + 1}/{args.rounds} done", flush=True)
    rows: dict[str, report.Figures] = {}
    for (signed_, audit), parts in runs.items():
        name = ECHO if signed_ == ECHO else _name(signed_, audit)
        latencies = [ms for run, _ in parts for ms in run.latencies_ms]
        server_ms = [ms for _, timings in parts for ms in timings]
        seconds = sum(run.wall_seconds for run, _ in parts)
        title = "Diagnostics Echo, audit on" if name == ECHO else f"QueryRecords {name}"
        rows[name] = report.figures(name, title, latencies, 0, seconds, server_ms)
    return {name: rows[name] for name in SCENARIOS}, rounds


def verdicts(rows: dict[str, report.Figures], rounds: list[dict]) -> dict:
    """Every target of the benchmark, judged on rounded figures (``judged``)."""
    out = {}
    for audit in ("audit on", "audit off"):
        out[f"signed / unsigned ({audit})"] = verdict(rows[f"signed, {audit}"].rps / rows[f"unsigned, {audit}"].rps,
                                                      SIGNED_RATIO_TARGET)
    out["unsigned QueryRecords / echo (audit on)"] = verdict(rows["unsigned, audit on"].rps / rows[ECHO].rps,
                                                             ECHO_RATIO_TARGET)
    for kind in ("unsigned", "signed"):
        out[f"audit cost ({kind}), all rounds"] = verdict(
            1 - rows[f"{kind}, audit on"].rps / rows[f"{kind}, audit off"].rps, AUDIT_COST_TARGET, at_most=True)
        each = [verdict(1 - r[f"{kind}, audit on"] / r[f"{kind}, audit off"], AUDIT_COST_TARGET, at_most=True)
                for r in rounds]
        out[f"audit cost ({kind}), every round"] = {
            "met": all(v["met"] for v in each), "percent": [v["percent"] for v in each],
            "text": " ".join(f"{v['percent']:.1f}%" for v in each)
            + f" -> {'ok' if all(v['met'] for v in each) else 'MISS'} (target <= {judged(AUDIT_COST_TARGET):.0f}% "
              "in every round)"}
    for n, r in enumerate(rounds, 1):
        out[f"round {n}: unsigned / echo"] = verdict(r["unsigned, audit on"] / r[ECHO], ECHO_RATIO_TARGET)
    return out


def summary(db: str, rows: dict[str, report.Figures], judged_: dict) -> list[str]:
    lines = [f"== {db}", f"{'scenario':<22} {'req':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'srv p50':>8} "
             f"{'srv p99':>8}"]
    for name, r in rows.items():
        lines.append(f"{name:<22} {r.requests:>6} {r.rps:>8.1f} {r.client_p50_ms:>8.2f} {r.client_p99_ms:>8.2f} "
                     f"{r.server_p50_ms:>8.2f} {r.server_p99_ms:>8.2f}")
    lines.extend(f"{name}: {v['text']}" for name, v in judged_.items())
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.security", description=__doc__.splitlines()[0])
    p.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--records", type=int, default=10_000)
    p.add_argument("--seconds", type=float, default=10.0, help="seconds per scenario, in all rounds together")
    p.add_argument("--rounds", type=int, default=4, help="turns each scenario takes (default 4)")
    p.add_argument("--clients", type=int, default=2)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--max-requests", type=int, default=6000, help="requests per scenario at most (signed ones are "
                   "signed beforehand, one each)")
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--seed", type=int, default=20261124)
    p.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    p.add_argument("--json", type=Path, default=None, help="where the results go (default bench/results/"
                   "security-<time>.json)")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.seconds <= 0 or args.max_requests < args.rounds * args.clients:
        p.error("--rounds >= 1, --seconds > 0 and --max-requests >= rounds x clients")
    dbs = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    results: dict[str, tuple[dict[str, report.Figures], list[dict]]] = {}
    for db in dbs:
        database = sqlite_database(False) if db == "sqlite" else throwaway_database(args.pg_admin_url, PG_DATABASE)
        with database as db_url:
            results[db] = bench_database(db, db_url, args)
    print()
    document = {"benchmark": "security", "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                "rounding": "percentages rounded half up to one decimal; targets judged on the rounded figure",
                "results": {}}
    for db, (rows, rounds) in results.items():
        judged_ = verdicts(rows, rounds)
        print("\n".join(summary(db, rows, judged_)))
        print()
        document["results"][db] = {"scenarios": [asdict(r) for r in rows.values()],
                                   "rounds_rps": [{k: round(v, 2) for k, v in r.items()} for r in rounds],
                                   "targets": judged_}
    machine = report.machine(postgresql_version(args.pg_admin_url) if "postgresql" in dbs else None)
    document["machine"] = machine
    path = args.json or RESULTS / f"security-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    print(f"machine: {machine['nproc']} CPUs, {machine['cpu']}, {machine['memory']}, Python {machine['python']}; "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; results in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
