"""Where a signed SubmitBatch spends its time at the centre: one batch, signed as the node signs
it, handled in this process under cProfile, beside the same-sized batch unsigned.

    .venv/bin/python -m bench.node.profiling [--records 10000] [--top 30]

The whole application is built as the server builds it (``server.build_app``, ``GOVSHARE_WSS``
optional: the WS-Security check of the request and the signing of the answer included) and called
the way waitress calls it, after a signed warm-up batch; SQLite in a temporary folder.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.exchange.workload import Resource, batches

from .delivery import sign
from .world import prepare


def _call(app, body: bytes) -> tuple[str, bytes]:
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/exchange", "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "80", "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
               "CONTENT_TYPE": "text/xml; charset=utf-8", "HTTP_HOST": "127.0.0.1", "wsgi.url_scheme": "http",
               "REMOTE_ADDR": "127.0.0.1", "wsgi.errors": sys.stderr}
    status = []
    body = b"".join(app(environ, lambda s, h, exc=None: status.append(s)))
    return status[0], body


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.node.profiling", description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=10_000)
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--seed", type=int, default=20261206)
    args = p.parse_args(argv)

    import server
    from registry.settings import Settings

    with tempfile.TemporaryDirectory(prefix="govshare-bench-node-profile-") as tmp:
        world = prepare(Path(tmp))
        settings = replace(Settings.from_env(db_url=world.db_url, var_dir=world.var_dir), wss_policy="optional")
        app = server.build_app(settings, server.prepare(settings))
        warmup, plain, signed = batches(Resource(world.gaj.credit_code, world.resource),
                                        [1000, args.records, args.records], args.seed)
        signing = (world.gaj.key, world.gaj.cert, world.ca)
        status, body = _call(app, sign(warmup, *signing).envelope)
        assert status.startswith("200"), body[:1000]
        started = time.perf_counter()
        status, body = _call(app, plain.envelope)
        assert status.startswith("200"), body[:1000]
        print(f"unsigned: {args.records:,} records in {time.perf_counter() - started:.2f} s")
        envelope = sign(signed, *signing).envelope
        started = time.perf_counter()
        status, body = _call(app, envelope)
        assert status.startswith("200"), body[:1000]
        print(f"signed:   {args.records:,} records in {time.perf_counter() - started:.2f} s (no profiler)")
        again = sign(next(batches(Resource(world.gaj.credit_code, world.resource), [args.records], args.seed + 1)),
                     *signing).envelope
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        status, body = _call(app, again)
        profiler.disable()
        assert status.startswith("200"), body[:1000]
        print(f"signed:   {args.records:,} records in {time.perf_counter() - started:.2f} s under cProfile\n")
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(args.top)
            print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
