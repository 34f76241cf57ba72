"""Measurement 2: a legacy system's unsigned QueryRecords by key through 民政局's node's gateway,
against the same question asked of the centre directly and signed, alternated call by call.

    legacy   unsigned POST -> gateway (sign as mzj.legacy) -> centre -> gateway (verify, strip) -> caller
    direct   sign here (PlatformSignature: Timestamp + BinarySignature) -> POST centre -> verify here
    library  client.exchange.Exchange(centre, key, cert, ca).query(resource, keys=[key])  (zeep; for reference)

``direct`` does in the calling process what the gateway does for the legacy system - sign the
request, check the platform's signature on the answer - so ``legacy − direct`` is what the
gateway adds: the second hop, its parsing and serialising, and its journal (``gateway_log``).
Every call asks for one person the node delivered, a different one each call, and its answer is
checked (HTTP 200, one record found, the platform's signature for the signed calls).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
from lxml import etree

from bench.exchange.workload import EXCHANGE_NS, SOAP_ENV_NS

SERIES = ("legacy", "direct", "library")
WARMUP_CALLS = 20
#: in the answer to a key the node delivered (the ID number itself may come masked: 民政局 is not its provider)
FOUND_ONE = b"total>1</"
_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"QueryRecords"'}


@dataclass
class GatewayRun:
    calls: int
    ms: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in SERIES})
    journal_ms: list[int] = field(default_factory=list)  # the gateway's own record of each call (gateway_log)
    node_peak_rss_mib: float = 0.0

    def p(self, series: str, q: int) -> float:
        values = self.ms[series]
        return statistics.median(values) if q == 50 else statistics.quantiles(values, n=100)[q - 1]

    @property
    def overhead_p50(self) -> float:
        return self.p("legacy", 50) - self.p("direct", 50)


def query_envelope(requester: str, resource: str, key: str, *, header: bool) -> bytes:
    return (f'<soap:Envelope xmlns:soap="{SOAP_ENV_NS}">{"<soap:Header/>" if header else ""}<soap:Body>'
            f'<ex:QueryRecords xmlns:ex="{EXCHANGE_NS}"><ex:requester>{requester}</ex:requester>'
            f"<ex:resourceCode>{resource}</ex:resourceCode><ex:key>{key}</ex:key></ex:QueryRecords>"
            "</soap:Body></soap:Envelope>").encode()


class Callers:
    """The three ways of asking, each a function of the key that returns once the answer is checked."""

    def __init__(self, centre_url: str, gateway_url: str, requester: str, resource: str, key: Path, cert: Path,
                 ca: Path):
        from client.exchange import Exchange
        from client.wss import PlatformSignature

        self.centre, self.gateway, self.requester, self.resource = centre_url, gateway_url, requester, resource
        self.signer = PlatformSignature(str(key), str(cert), ca_pem=ca.read_bytes())
        self.to_gateway, self.to_centre = requests.Session(), requests.Session()
        self.exchange = Exchange(centre_url, key=key, cert=cert, ca=ca)

    def legacy(self, key: str) -> None:
        answer = self.to_gateway.post(f"{self.gateway}/exchange", timeout=60, headers=_HEADERS,
                                      data=query_envelope(self.requester, self.resource, key, header=False))
        if answer.status_code != 200 or FOUND_ONE not in answer.content:
            raise RuntimeError(f"through the gateway, {key}: HTTP {answer.status_code} {answer.content[:500]!r}")

    def direct(self, key: str) -> None:
        tree = etree.fromstring(query_envelope(self.requester, self.resource, key, header=True))
        self.signer.apply(tree, {})
        answer = self.to_centre.post(f"{self.centre}/exchange", data=etree.tostring(tree), timeout=60,
                                     headers=_HEADERS)
        if answer.status_code != 200 or FOUND_ONE not in answer.content:
            raise RuntimeError(f"direct, {key}: HTTP {answer.status_code} {answer.content[:500]!r}")
        self.signer.verify(etree.fromstring(answer.content))

    def library(self, key: str) -> None:
        found = list(self.exchange.query(self.resource, keys=[key]))
        if len(found) != 1:
            raise RuntimeError(f"Exchange.query, {key}: {len(found)} records")


def measure(callers: Callers, keys: list[str], calls: int, seed: int) -> GatewayRun:
    """``calls`` calls of each series, taking turns: call i of every series in an order that rotates with i."""
    run = GatewayRun(calls)
    rng = random.Random(seed)
    picked = rng.sample(keys, WARMUP_CALLS * len(SERIES) + calls * len(SERIES))
    ways: dict[str, Callable[[str], None]] = {s: getattr(callers, s) for s in SERIES}
    for series in SERIES:
        for _ in range(WARMUP_CALLS):
            ways[series](picked.pop())
    for i in range(calls):
        order = SERIES[i % 3:] + SERIES[:i % 3]
        for series in order:
            key = picked.pop()
            started = time.perf_counter()
            ways[series](key)
            run.ms[series].append((time.perf_counter() - started) * 1000)
        if (i + 1) % 100 == 0:
            print(f"  {i + 1}/{calls}: p50 " + ", ".join(f"{s} {statistics.median(run.ms[s]):.1f} ms" for s in SERIES),
                  flush=True)
    return run


def wait_for_gateway(url: str, node, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node.poll() is not None:
            raise RuntimeError(f"the gateway's node exited {node.returncode}: {log.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/exchange?wsdl", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the gateway did not come up: {log.read_text()[-3000:]}")
