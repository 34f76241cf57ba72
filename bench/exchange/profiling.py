"""Where a SubmitBatch spends its time: one batch handled in this process under cProfile.

    .venv/bin/python -m bench.exchange.profiling [--db sqlite|postgresql] [--records 10000] [--top 30]

The exchange endpoint is built as the server builds it and called the way waitress calls it
(a WSGI environ whose body is the SubmitBatch envelope), after a warm-up batch, so the profile
holds the spooling, iterparse, digest, validation, input tier and core tier of one request
and nothing of HTTP.  It also prints, per SQL statement kind, how often it ran and how long
the database driver took (SQLAlchemy cursor events).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from collections import defaultdict

from sqlalchemy import event

from .__main__ import PG_ADMIN_URL, postgresql_database, sqlite_database
from .workload import CLASSIFICATION, Resource, batches, publish_population_resource


def _environ(body: bytes) -> dict:
    return {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
            "CONTENT_TYPE": "text/xml; charset=utf-8", "HTTP_HOST": "127.0.0.1", "wsgi.url_scheme": "http"}


def profile(db_url: str, records: int, top: int, seed: int) -> None:
    import server
    from directory.demo import credit_code_for
    from exchange.service import exchange_app
    from registry.settings import Settings

    settings = Settings.from_env(db_url=db_url)
    sessions = server.prepare(settings)
    resource = publish_population_resource(sessions, settings)
    assert resource == Resource(credit_code_for("00250102"), f"{CLASSIFICATION}/000001")
    endpoint = exchange_app(sessions, settings)
    warmup, batch = batches(resource, [1000, records], seed)

    sql: dict[str, list[float]] = defaultdict(list)

    @event.listens_for(sessions.kw["bind"], "before_cursor_execute")
    def _start(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    @event.listens_for(sessions.kw["bind"], "after_cursor_execute")
    def _end(conn, cursor, statement, parameters, context, executemany):
        kind = " ".join(statement.split()[:3])[:60] + (" [many]" if executemany else "")
        sql[kind].append(time.perf_counter() - conn.info.pop("bench_started"))

    status, _ = endpoint.handle(_environ(warmup.envelope))
    assert status.startswith("200"), status
    sql.clear()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    status, body = endpoint.handle(_environ(batch.envelope))
    profiler.disable()
    elapsed = time.perf_counter() - started
    assert status.startswith("200"), body[:500]
    print(f"{records:,} records in {elapsed:.2f} s under cProfile ({records / elapsed:,.0f} records/s)\n")
    print("SQL by statement: count, seconds in the driver")
    for kind, times in sorted(sql.items(), key=lambda kv: -sum(kv[1])):
        print(f"  {len(times):>6} {sum(times):>8.3f}  {kind}")
    print(f"  total {sum(sum(t) for t in sql.values()):.3f} s\n")
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(top)
        print(out.getvalue())
    sessions.kw["bind"].dispose()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.exchange.profiling", description=__doc__.splitlines()[0])
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--records", type=int, default=10_000)
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--seed", type=int, default=20241124)
    p.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    args = p.parse_args(argv)
    database = sqlite_database() if args.db == "sqlite" else postgresql_database(args.pg_admin_url)
    with database as db_url:
        profile(db_url, args.records, args.top, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
