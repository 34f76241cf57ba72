"""Where a QueryRecords by key spends its time: requests handled in this process.

    .venv/bin/python -m bench.security.profiling [--db sqlite|postgresql] [--records 2000]
        [--requests 500] [--top 30] [--no-profile] [--dump FILE] [--signed] [--audit-off]

The whole platform is built as the server builds it (``server.build_app``, audit log on unless
``--audit-off``) and called the way waitress calls it: a WSGI environ whose body is the envelope.  It times
``--requests`` Diagnostics Echo and then as many QueryRecords by a random key (after a warm-up
of each), prints the mean wall time of each and their ratio, the CPU this process spent on each
(``time.process_time``: the platform's own work, not its waits on the database), the SQL statements
one QueryRecords runs (count and driver time, SQLAlchemy cursor events), and a cProfile of the
QueryRecords loop (skipped with ``--no-profile``).  With ``--signed`` the QueryRecords are
signed (WS-Security, as ``bench.security`` signs them, before the clock starts) and answered
signed, so the profile shows what verifying and signing add.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import sys
import time
from collections import defaultdict

from sqlalchemy import event

from bench.databases import PG_ADMIN_URL, throwaway_database
from bench.directory.__main__ import RESULTS, sqlite_database
from registry.db import reading_engine

from .__main__ import PG_DATABASE, bodies, prepare

DIAGNOSTICS = "urn:govshare:diagnostics"


def _echo_body() -> bytes:
    return ('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
            f'<Echo xmlns="{DIAGNOSTICS}"><text>ping</text></Echo></soap:Body></soap:Envelope>').encode()


def _environ(path: str, action: str, body: bytes) -> dict:
    return {"REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
            "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
            "CONTENT_TYPE": "text/xml; charset=utf-8", "HTTP_SOAPACTION": action, "HTTP_HOST": "127.0.0.1",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "REMOTE_ADDR": "127.0.0.1"}


def call(app, path: str, action: str, body: bytes, expect: bytes) -> None:
    status: list[str] = []
    result = app(_environ(path, action, body), lambda s, h, e=None: status.append(s))
    try:
        answer = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    if not status[0].startswith("200") or expect not in answer:
        raise RuntimeError(f"{path}: {status[0]} {answer[:400]!r}")


def run(db_url: str, args: argparse.Namespace) -> None:
    import server
    from registry.settings import Settings

    os.environ["GOVSHARE_WSS"] = "optional"  # unsigned requests let through, as the benchmark's server does
    var_dir = RESULTS / "security-profiling-var"
    var_dir.mkdir(parents=True, exist_ok=True)
    world = prepare(db_url, var_dir, args.records, args.seed)
    settings = Settings.from_env(db_url=db_url, var_dir=var_dir, audit=not args.audit_off)
    sessions = server.prepare(settings)
    app = server.build_app(settings, sessions)
    rng = random.Random(args.seed)
    queries = bodies(world, args.requests + 50, rng, signed=args.signed)
    echo = _echo_body()
    for body in queries[:50]:
        call(app, "/exchange", '""', body, b"QueryRecordsResponse")
    for _ in range(50):
        call(app, "/diagnostics", '"Echo"', echo, b"EchoResult")
    queries = queries[50:]

    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.requests):
        call(app, "/diagnostics", '"Echo"', echo, b"EchoResult")
    echo_ms = (time.perf_counter() - started) * 1000 / args.requests
    echo_cpu = (time.process_time() - cpu) * 1000 / args.requests
    started, cpu = time.perf_counter(), time.process_time()
    for body in queries:
        call(app, "/exchange", '""', body, b"QueryRecordsResponse")
    query_ms = (time.perf_counter() - started) * 1000 / args.requests
    query_cpu = (time.process_time() - cpu) * 1000 / args.requests
    print(f"echo {echo_ms:.3f} ms, QueryRecords {query_ms:.3f} ms a request; "
          f"echo/QueryRecords {echo_ms / query_ms:.0%}")
    # this process's CPU: what the platform's code costs, without the time spent waiting for the database
    print(f"CPU of this process: echo {echo_cpu:.3f} ms, QueryRecords {query_cpu:.3f} ms a request")

    sql: dict[str, list[float]] = defaultdict(list)
    engine = sessions.kw["bind"]
    engines = {engine, reading_engine(engine)}  # read-only actions run on the reading engine's connections

    def _start(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def _end(conn, cursor, statement, parameters, context, executemany):
        kind = " ".join(statement.split()[:6])[:90]
        sql[kind].append(time.perf_counter() - conn.info.pop("bench_started"))

    for each in engines:
        event.listen(each, "before_cursor_execute", _start)
        event.listen(each, "after_cursor_execute", _end)

    sample = bodies(world, 20, rng, signed=args.signed)
    for body in sample:
        call(app, "/exchange", '""', body, b"QueryRecordsResponse")
    print(f"\nSQL of one QueryRecords (mean over {len(sample)}): count, ms in the driver")
    for kind, times in sorted(sql.items(), key=lambda kv: -sum(kv[1])):
        print(f"  {len(times) / len(sample):>5.1f} {sum(times) * 1000 / len(sample):>7.3f}  {kind}")
    for each in engines:
        event.remove(each, "before_cursor_execute", _start)
        event.remove(each, "after_cursor_execute", _end)
    if not args.no_profile:
        profiler = cProfile.Profile()
        more = bodies(world, args.requests, rng, signed=args.signed)
        profiler.enable()
        for body in more:
            call(app, "/exchange", '""', body, b"QueryRecordsResponse")
        profiler.disable()
        if args.dump:
            profiler.dump_stats(args.dump)
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(args.top)
            print(out.getvalue())
    app.request_log.stop()  # its records written while the throwaway database is still there
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.security.profiling", description=__doc__.splitlines()[0])
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    p.add_argument("--records", type=int, default=2000)
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--no-profile", action="store_true")
    p.add_argument("--dump", metavar="FILE", help="also write the profile to FILE (pstats): its callers and callees")
    p.add_argument("--signed", action="store_true", help="sign the QueryRecords (WS-Security) and answer them signed")
    p.add_argument("--audit-off", action="store_true", help="serve with the audit log off, to see what it costs")
    p.add_argument("--seed", type=int, default=20261206)
    p.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    args = p.parse_args(argv)
    database = sqlite_database(False) if args.db == "sqlite" else throwaway_database(args.pg_admin_url,
                                                                                      PG_DATABASE + "_profile")
    with database as db_url:
        run(db_url, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
