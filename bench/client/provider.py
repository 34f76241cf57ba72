"""The provider of the follow measurement: a process posting SubmitBatch envelopes at a paced rate.

    python -m bench.client.provider --base-url URL --provider-code CREDIT --resource-code CODE
        [--rate 10000] [--seconds 20] [--batch 2000] [--seed 17]
    -> builds its batches (fresh records, ``bench.exchange.workload.batches``), prints ``READY <batches>``,
       waits for a line on stdin, then posts batch i at i x batch / rate seconds (or as soon as the
       one before is answered, when the server is slower), printing ``<monotonic time> <records
       accepted so far>`` after each receipt, and ``DONE`` at the end.

The envelopes are built before the clock starts, so the pace costs the provider nothing but the
POST; ``time.monotonic`` is the system-wide CLOCK_MONOTONIC on Linux, so the benchmark compares
these times with its own.
"""

from __future__ import annotations

import argparse
import sys
import time

import requests
from lxml import etree

from bench.exchange.measure import EX, SCENARIO, TIMEOUT
from bench.exchange.workload import Resource, batches


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.client.provider", description=__doc__.splitlines()[0])
    p.add_argument("--base-url", required=True)
    p.add_argument("--provider-code", required=True)
    p.add_argument("--resource-code", required=True)
    p.add_argument("--rate", type=float, default=10_000, help="records per second")
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--batch", type=int, default=2000, help="records per batch")
    p.add_argument("--seed", type=int, default=17)
    args = p.parse_args(argv)

    count = max(1, round(args.rate * args.seconds / args.batch))
    built = list(batches(Resource(args.provider_code, args.resource_code), [args.batch] * count, args.seed))
    print(f"READY {count}", flush=True)
    sys.stdin.readline()
    accepted, every = 0, args.batch / args.rate
    with requests.Session() as http:
        started = time.monotonic()
        for i, batch in enumerate(built):
            wait = started + i * every - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            reply = http.post(f"{args.base_url}/exchange", data=batch.envelope, timeout=TIMEOUT,
                              headers={"Content-Type": "text/xml; charset=utf-8", "X-Bench-Scenario": SCENARIO})
            root = etree.fromstring(reply.content)
            if reply.status_code != 200 or int(root.findtext(f".//{EX}accepted")) != batch.records:
                print(f"FAILED {reply.status_code} {root.findtext('.//faultstring')}", flush=True)
                return 1
            accepted += batch.records
            print(f"{time.monotonic():.6f} {accepted}", flush=True)
    print("DONE", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
