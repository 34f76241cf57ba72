"""The centre of the node benchmark: the platform served on a port chosen beforehand, so that it
can be stopped and started again at the address the node was configured with.

    python -m bench.node.centre --db-url URL --port PORT [--threads 4]
    -> prints "LISTENING <port>" once it accepts connections on 127.0.0.1:<port>

It is ``bench.directory.server`` (waitress, the ``Timing`` middleware: ``GET /_bench/timings``
gives each request's server time, filed under its ``X-Bench-Scenario`` header, the node's under
"") with a fixed port instead of a free one.  The platform's CA and signing key are read from
``GOVSHARE_VAR``; the caller sets ``GOVSHARE_WSS=optional``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.processes import end

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db-url", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--threads", type=int, default=4)
    args = p.parse_args(argv)

    from waitress.server import create_server

    import server
    from bench.directory.server import Timing
    from registry.settings import Settings

    settings = Settings.from_env(db_url=args.db_url, host="127.0.0.1", port=args.port)
    app = Timing(server.build_app(settings, server.prepare(settings)))
    httpd = create_server(app, host="127.0.0.1", port=args.port, threads=args.threads, ident="govshare-bench")
    print(f"LISTENING {httpd.effective_port}", flush=True)
    httpd.run()
    return 0


@contextmanager
def centre(db_url: str, port: int, var_dir: Path, threads: int) -> Iterator[tuple[float, int]]:
    """The platform listening on ``port`` until the block ends; the wall time (``time.time``) at
    which it began to listen, and its process id."""
    env = dict(os.environ, GOVSHARE_WSS="optional", GOVSHARE_VAR=str(var_dir))
    proc = subprocess.Popen([sys.executable, "-m", "bench.node.centre", "--db-url", db_url, "--port", str(port),
                             "--threads", str(threads)], cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("LISTENING "):
            raise RuntimeError(f"the centre did not start (exit code {proc.poll()}): {line!r}")
        yield time.time(), proc.pid
    finally:
        end(proc)


if __name__ == "__main__":
    sys.exit(main())
