"""SOAP traffic against the server: the four scenarios and the clients that send them.

Request bodies are built once, before the clock starts, so that the clients spend their
time on HTTP and not on XML.  Every scenario sends requests that have answers (names and
category values taken from the loaded services), and every response is checked for the
element that proves it is a real answer, not a fault.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field, replace
from xml.sax.saxutils import escape, quoteattr

import requests

from directory.taxonomies import CLASSIFICATION, SHARING_TYPE

from .dataset import ServiceSpec
from .server import TIMINGS_PATH

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
UDDI = "urn:uddi-org:api_v3"
DIAGNOSTICS = "urn:govshare:diagnostics"


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    path: str
    soap_action: str
    bodies: list[bytes]
    expect: bytes  # present in every successful response


def _envelope(payload: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>'
            f"{payload}</soap:Body></soap:Envelope>").encode()


def _find_service(inner: str, max_rows: int | None = None, qualifiers: tuple[str, ...] = ()) -> bytes:
    rows = f' maxRows="{max_rows}"' if max_rows else ""
    fq = ""
    if qualifiers:
        fq = "<findQualifiers>" + "".join(f"<findQualifier>{q}</findQualifier>" for q in qualifiers)
        fq += "</findQualifiers>"
    return _envelope(f'<find_service xmlns="{UDDI}"{rows}>{fq}{inner}</find_service>')


def scenarios(services: list[ServiceSpec], count: int, rng: random.Random) -> list[Scenario]:
    """The echo ceiling and the three find_service shapes, ``count`` distinct bodies each."""
    picks = [rng.choice(services) for _ in range(count)]
    echo = [_envelope(f'<Echo xmlns="{DIAGNOSTICS}"><text>{escape(s.name)}</text></Echo>') for s in picks]
    exact = [_find_service(f"<name>{escape(s.name)}</name>") for s in picks]
    approximate = [_find_service(f"<name>{escape(s.class_name)}%</name>", 10, ("approximateMatch",))
                   for s in picks]
    by_category = [
        _find_service(
            "<categoryBag>"
            f"<keyedReference tModelKey={quoteattr(CLASSIFICATION)} keyValue={quoteattr(s.class_code)}/>"
            f"<keyedReference tModelKey={quoteattr(SHARING_TYPE)} keyValue={quoteattr(s.sharing_type)}/>"
            "</categoryBag>", 10)
        for s in picks
    ]
    return [
        Scenario("echo", "Diagnostics Echo (SOAP ceiling)", "/diagnostics", '"Echo"', echo, b"EchoResult>"),
        Scenario("find_exact", "find_service by exact name", "/uddi/inquiry", '""', exact, b"<serviceInfo "),
        Scenario("find_approximate", "find_service by name prefix% (approximateMatch, maxRows 10)",
                 "/uddi/inquiry", '""', approximate, b"<serviceInfo "),
        Scenario("find_category", "find_service by categoryBag: classification + sharing type (maxRows 10)",
                 "/uddi/inquiry", '""', by_category, b"<serviceInfo "),
    ]


@dataclass
class Run:
    """What the clients observed for one scenario."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    cache_hits: int = 0  # answers the server took from its inquiry cache (X-Govshare-Cache: hit)


class _Clock:
    """Starts every client at once and gives them one deadline, set as they are released."""

    def __init__(self, parties: int, seconds: float):
        self.seconds = seconds
        self.started = 0.0
        self.deadline = 0.0
        self.barrier = threading.Barrier(parties, action=self._start)

    def _start(self) -> None:
        self.started = time.perf_counter()
        self.deadline = self.started + self.seconds


def _client(base_url: str, scenario: Scenario, offset: int, stride: int, limit: int, clock: _Clock,
            out: list[float], errors: list[str], hits: list[int]) -> None:
    session = requests.Session()
    url = base_url + scenario.path
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": scenario.soap_action,
               "X-Bench-Scenario": scenario.name}
    bodies = scenario.bodies
    clock.barrier.wait()
    for i in range(limit):
        if time.perf_counter() >= clock.deadline:
            break
        body = bodies[(offset + i * stride) % len(bodies)]
        sent = time.perf_counter()
        response = session.post(url, data=body, headers=headers, timeout=30)
        out.append((time.perf_counter() - sent) * 1000.0)
        if response.headers.get("X-Govshare-Cache") == "hit":
            hits.append(1)
        if response.status_code != 200 or scenario.expect not in response.content:
            errors.append(f"HTTP {response.status_code}: {response.content[:300]!r}")
    session.close()


def drive(base_url: str, scenario: Scenario, *, clients: int, seconds: float, limit: int) -> Run:
    """``clients`` threads sending ``scenario`` for ``seconds`` (at most ``limit`` requests each)."""
    run, hits = Run(), []
    clock = _Clock(clients, seconds)
    per_client: list[list[float]] = [[] for _ in range(clients)]
    threads = [
        threading.Thread(target=_client, name=f"client-{n}",
                         args=(base_url, scenario, n, clients, limit, clock, per_client[n], run.errors, hits))
        for n in range(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.wall_seconds = time.perf_counter() - clock.started
    run.latencies_ms = [ms for chunk in per_client for ms in chunk]
    run.cache_hits = len(hits)
    return run


def warm_up(base_url: str, scenario: Scenario, requests_count: int) -> None:
    """Load code paths and connections before the measurement counts.

    The warm-up sends the last bodies of the list and the measurement starts at the first,
    so the warm-up itself puts no answer in the server's inquiry cache that the measurement
    then asks for (unless the list repeats a body, as a real workload does).
    """
    tail = replace(scenario, bodies=scenario.bodies[::-1])
    run = drive(base_url, tail, clients=1, seconds=60.0, limit=requests_count)
    if run.errors:
        raise RuntimeError(f"{scenario.name} fails before the measurement: {run.errors[0]}")


def server_timings(base_url: str) -> dict[str, list[float]]:
    """Server-side durations (ms) per scenario since the last call; clears them."""
    response = requests.get(base_url + TIMINGS_PATH, timeout=30)
    response.raise_for_status()
    return response.json()
