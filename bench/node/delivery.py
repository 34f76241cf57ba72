"""Measurement 1: a backlog of 1,000,000 records in 公安局's node's outbox, drained to the centre.

The baseline is the exchange benchmark's SubmitBatch measurement (``bench.exchange.measure``:
prebuilt envelopes POSTed with ``requests``, receipts and GetBatchStatus checked), each batch
signed with 公安局's key just before it is POSTed (outside the clock): the server's rate for
signed batches of the node's batch size, verification of the request and signing of the answer
included, as for the node's batches.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import requests
from lxml import etree

from bench.client.watch import high_water_kib
from bench.exchange import measure
from bench.exchange.workload import Batch
from bench.processes import end

ROOT = Path(__file__).resolve().parents[2]
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


@dataclass
class DeliveryRun:
    rows: int
    batch_size: int
    csv_mib: float
    baseline_before: list[float] = field(default_factory=list)  # records/s of each signed baseline batch
    baseline_after: list[float] = field(default_factory=list)
    baseline_server: list[float] = field(default_factory=list)  # the same batches, server time only
    unsigned: list[float] = field(default_factory=list)  # records/s of unsigned batches beside them (for reference)
    take_seconds: float = 0.0  # node start to the file's batches all in the outbox (the centre down)
    batches: int = 0
    drain_seconds: float = 0.0  # the centre listening again to the last receipt stored
    first_to_last_seconds: float = 0.0  # first receipt stored to the last
    node_cpu_seconds: float = 0.0  # the node process's CPU time during the drain
    server_seconds: float = 0.0  # the centre's own time on the node's requests during the drain
    accepted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    peak_rss_take_mib: float = 0.0  # the node's high-water mark once the file was taken
    peak_rss_mib: float = 0.0  # ... at the end, after the drain
    profile: str | None = None

    @property
    def baseline(self) -> float:
        return statistics.median(self.baseline_before + self.baseline_after)

    @property
    def drain_rate(self) -> float:
        return self.rows / self.drain_seconds

    @property
    def steady_rate(self) -> float:
        """Records/s from the first receipt to the last (the first batch's records left out)."""
        return self.rows * (self.batches - 1) / self.batches / self.first_to_last_seconds

    @property
    def ratio(self) -> float:
        return self.drain_rate / self.baseline

    @property
    def server_busy(self) -> float:
        return self.server_seconds / self.drain_seconds


def sign(batch: Batch, key: Path, cert: Path, ca: Path) -> Batch:
    """The batch's SubmitBatch envelope signed as a department's client signs it (Timestamp + BinarySignature)."""
    from client.wss import PlatformSignature

    tree = etree.fromstring(batch.envelope, _PARSER)
    PlatformSignature(str(key), str(cert), ca_pem=ca.read_bytes()).apply(tree, {})
    return replace(batch, envelope=etree.tostring(tree))


def timings(http: requests.Session, base_url: str) -> dict[str, list[float]]:
    """Server times (s) per scenario since the last call; the node's requests carry none ("")."""
    return {k: [ms / 1000 for ms in v] for k, v in http.get(f"{base_url}/_bench/timings", timeout=30).json().items()}


def baseline(http: requests.Session, base_url: str, built: list[Batch], signing: tuple[Path, Path, Path],
             run: DeliveryRun, into: list[float], unsigned: list[Batch] = ()) -> None:
    """The signed batches ``built``, each followed by one of ``unsigned`` as it is (while they last)."""
    for number, batch in enumerate(built):
        seconds, receipt = measure.submit(http, base_url, sign(batch, *signing))
        if (receipt.accepted, receipt.quarantined, receipt.unchanged) != (batch.records, 0, 0):
            raise RuntimeError(f"baseline batch {batch.batch_id}: {receipt}")
        into.append(batch.records / seconds)
        run.baseline_server.extend(batch.records / s for s in timings(http, base_url).get(measure.SCENARIO, []))
        print(f"  signed SubmitBatch (exchange benchmark): {into[-1]:,.0f} records/s", flush=True)
        if number < len(unsigned):
            seconds, receipt = measure.submit(http, base_url, unsigned[number])
            if (receipt.accepted, receipt.quarantined) != (unsigned[number].records, 0):
                raise RuntimeError(f"unsigned batch {unsigned[number].batch_id}: {receipt}")
            run.unsigned.append(unsigned[number].records / seconds)
            timings(http, base_url)
            print(f"  unsigned, for reference: {run.unsigned[-1]:,.0f} records/s", flush=True)


def node_command(config: Path, profile: Path | None = None, *extra: str) -> list[str]:
    """``govshare node run CONFIG`` as ``python -m server node run CONFIG`` from the repository (the
    same ``server.main``; the venv's ``govshare`` script predates the ``node`` package in its
    editable install's mapping); under cProfile (the main thread: the courier's) with ``profile``."""
    profiled = ["-m", "cProfile", "-o", str(profile)] if profile is not None else []
    return [sys.executable, *profiled, "-m", "server", "node", "run", str(config), *extra]


def node_environ() -> dict[str, str]:
    """The node's environment: nothing of the platform's settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GOVSHARE_")}


def start_node(config: Path, log: Path, profile: Path | None = None) -> subprocess.Popen:
    with log.open("a") as out:
        return subprocess.Popen(node_command(config, profile), cwd=ROOT, env=node_environ(), stdout=out,
                                stderr=subprocess.STDOUT)


def run_once(config: Path, log: Path) -> None:
    """``node run --once`` while the centre is up: the node reads the formats once and keeps them
    (its ``schemas/``), as a node that has run before has them when the centre goes down."""
    with log.open("a") as out:
        done = subprocess.run(node_command(config, None, "--once"), cwd=ROOT, env=node_environ(),
                              stdout=out, stderr=subprocess.STDOUT, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"node run --once exited {done.returncode}: {log.read_text()[-2000:]}")


def stop_node(node: subprocess.Popen) -> int:
    """SIGTERM: the node ends its round and exits (and cProfile writes its file)."""
    return end(node, grace=60)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Store:
    """Read-only looks at the node's own database (SQLite, WAL: the node writes on meanwhile)."""

    def __init__(self, path: Path):
        self.path = path

    def _query(self, sql: str) -> list[tuple]:
        if not self.path.exists():
            return []
        with sqlite3.connect(self.path, timeout=30) as db:
            try:
                return db.execute(sql).fetchall()
            except sqlite3.OperationalError:  # the node has not made its tables yet
                return []

    def taken(self) -> int:
        return (self._query("select count(*) from taken") or [(0,)])[0][0]

    def states(self) -> dict[str, int]:
        return dict(self._query("select state, count(*) from outbox group by state"))

    def deliveries(self) -> list[tuple[datetime, int, int, bool]]:
        """(delivered_at, accepted, quarantined, duplicate) of every delivered batch, in sequence order."""
        return [(datetime.fromisoformat(at).replace(tzinfo=UTC), accepted, quarantined, bool(duplicate))
                for at, accepted, quarantined, duplicate in self._query(
                    "select delivered_at, accepted, quarantined, duplicate from outbox where state = 'delivered' "
                    "order by sequence")]


def wait_for(test, what: str, timeout: float, node: subprocess.Popen, log: Path, every: float = 0.2) -> float:
    """Poll ``test`` until it holds; the wall time (``time.time``) at which it was seen to."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if test():
            return time.time()
        if node.poll() is not None:
            raise RuntimeError(f"the node exited {node.returncode} while waiting for {what}: {log.read_text()[-3000:]}")
        time.sleep(every)
    raise RuntimeError(f"not within {timeout:.0f} s: {what}\n{log.read_text()[-3000:]}")


def rss_now_mib(pid: int) -> float:
    return high_water_kib(pid) / 1024
