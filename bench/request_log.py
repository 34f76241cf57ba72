"""What operational monitoring (``server.monitored``, ``registry.request_log``) costs a request, in process:

    .venv/bin/python -m bench.request_log [--calls 50000]

A trivial WSGI app POSTed to /exchange, bare and wrapped by ``server.monitored``: the record, the queue,
and the writer thread's inserts into a real SQLite file (the thread shares the process, so its work is
in the figure).  Best of three rounds each; prints µs per request and the rows written.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

import server
from registry import request_log
from registry.db import make_engine, migrate
from registry.models import RequestRecord


def _echo(environ, start_response):
    request_log.note(operation="Echo")
    start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", "5")])
    return [b"hello"]


def _round(app: Callable, calls: int) -> float:
    """µs per request of ``calls`` requests to ``app``."""
    started = time.perf_counter()
    for _ in range(calls):
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/exchange", "CONTENT_LENGTH": "300",
                   "REMOTE_ADDR": "127.0.0.1", "wsgi.input": io.BytesIO(b"x" * 300)}
        body = app(environ, lambda status, headers, exc_info=None: None)
        for _chunk in body:
            pass
        if hasattr(body, "close"):
            body.close()
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=50_000)
    args = p.parse_args()
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'request-log.db'}"
    migrate(url)
    engine = make_engine(url)
    writer = request_log.Writer(engine)
    monitored = server.monitored(_echo, writer)
    bare = min(_round(_echo, args.calls) for _ in range(3))
    wrapped = min(_round(monitored, args.calls) for _ in range(3))
    writer.stop()
    with engine.connect() as connection:
        rows = connection.scalar(select(func.count()).select_from(RequestRecord))
    print(f"bare {bare:.2f} µs/request, monitored {wrapped:.2f} µs/request (+{wrapped - bare:.2f} µs); "
          f"{rows} records written")


if __name__ == "__main__":
    main()
