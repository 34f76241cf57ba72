"""The platform under test, served by waitress in its own process, with server-side timing.

    python -m bench.directory.server --db-url URL [--threads 4]
    -> prints "LISTENING <port>" once it accepts connections on 127.0.0.1:<port>

``Timing`` wraps the whole WSGI application: it measures from the moment waitress hands
it a request until the response body is complete (SOAP parsing, schema validation, the
SQL, serialisation), which is the "server time" of the target.  Each request names its
scenario in the ``X-Bench-Scenario`` header; ``GET /_bench/timings`` returns the
durations recorded since the last such call, per scenario, in milliseconds, and clears them.
The server runs in a process of its own so that the clients' Python does not share its GIL.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable

TIMINGS_PATH = "/_bench/timings"
SCENARIO_HEADER = "HTTP_X_BENCH_SCENARIO"


class Timing:
    """WSGI middleware recording how long the wrapped application takes per request."""

    def __init__(self, app: Callable):
        self.app = app
        self.lock = threading.Lock()
        self.durations: dict[str, list[float]] = defaultdict(list)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == TIMINGS_PATH:
            with self.lock:
                recorded, self.durations = self.durations, defaultdict(list)
            body = json.dumps(recorded).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        started = time.perf_counter()
        result = self.app(environ, start_response)
        try:
            body = list(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        elapsed = (time.perf_counter() - started) * 1000.0
        with self.lock:
            self.durations[environ.get(SCENARIO_HEADER, "")].append(elapsed)
        return body


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db-url", required=True)
    p.add_argument("--threads", type=int, default=4)
    args = p.parse_args(argv)

    from waitress.server import create_server

    import server
    from registry.settings import Settings

    settings = Settings.from_env(db_url=args.db_url, host="127.0.0.1", port=0)
    platform = server.build_app(settings, server.prepare(settings))
    server.warm(platform)  # as the production entry points do (server.create_app, govshare serve)
    app = Timing(platform)
    httpd = create_server(app, host="127.0.0.1", port=0, threads=args.threads, ident="govshare-bench")
    print(f"LISTENING {httpd.effective_port}", flush=True)
    httpd.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
