"""Figures of a run: statistics per scenario, the targets, the machine, the table and the JSON."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

# Targets of issue 2 (BENCHMARKS.md): server p50 of find_service over 100k services, and
# find throughput as a share of the echo ceiling measured in the same run.
SERVER_P50_TARGET_MS = 10.0
THROUGHPUT_RATIO_TARGET = 0.5


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100) of ``values``; 0 when there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100.0 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class Figures:
    scenario: str
    title: str
    requests: int
    errors: int
    seconds: float
    rps: float
    client_p50_ms: float
    client_p99_ms: float
    server_p50_ms: float
    server_p99_ms: float
    server_requests: int
    cache_hits: int = 0
    ratio_to_echo: float | None = None
    server_p50_met: bool | None = None
    ratio_met: bool | None = None


def figures(scenario: str, title: str, latencies: list[float], errors: int, seconds: float,
            server: list[float], cache_hits: int = 0) -> Figures:
    return Figures(
        scenario=scenario, title=title, requests=len(latencies), errors=errors, seconds=round(seconds, 3),
        rps=len(latencies) / seconds if seconds > 0 else 0.0,
        client_p50_ms=percentile(latencies, 50), client_p99_ms=percentile(latencies, 99),
        server_p50_ms=percentile(server, 50), server_p99_ms=percentile(server, 99), server_requests=len(server),
        cache_hits=cache_hits,
    )


def judge(rows: list[Figures]) -> None:
    """Fill in each find scenario's ratio to echo and whether it meets the targets."""
    echo = next((r for r in rows if r.scenario == "echo"), None)
    for row in rows:
        if row.scenario == "echo":
            continue
        row.server_p50_met = row.server_p50_ms <= SERVER_P50_TARGET_MS
        if echo is not None and echo.rps > 0:
            row.ratio_to_echo = row.rps / echo.rps
            row.ratio_met = row.ratio_to_echo >= THROUGHPUT_RATIO_TARGET


def _mark(met: bool | None) -> str:
    return "" if met is None else (" ok" if met else " MISS")


def table(db: str, rows: list[Figures]) -> str:
    head = (f"{'scenario':<18} {'req':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'srv p50':>12} {'srv p99':>8} {'find/echo':>12} {'cache hits':>10}")
    lines = [f"== {db}", head, "-" * len(head)]
    for r in rows:
        ratio = "" if r.ratio_to_echo is None else f"{r.ratio_to_echo:.0%}{_mark(r.ratio_met)}"
        hits = "" if r.scenario == "echo" else f"{r.cache_hits / r.requests:.0%}" if r.requests else "-"
        lines.append(
            f"{r.scenario:<18} {r.requests:>7} {r.rps:>8.1f} {r.client_p50_ms:>8.2f} {r.client_p99_ms:>8.2f} "
            f"{r.server_p50_ms:>7.2f}{_mark(r.server_p50_met):<5} {r.server_p99_ms:>8.2f} {ratio:>12} {hits:>10}"
        )
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def machine(postgresql_version: str | None) -> dict[str, str | int | None]:
    packages = {name: version(name) for name in ("SQLAlchemy", "lxml", "spyne", "waitress", "psycopg", "requests")}
    return {
        "nproc": os.cpu_count(), "cpu": _cpu_model(), "memory": _memory(), "python": platform.python_version(),
        "os": platform.platform(), "sqlite": sqlite3.sqlite_version, "postgresql": postgresql_version,
        "packages": ", ".join(f"{k} {v}" for k, v in packages.items()),
    }


def write_json(directory: Path, payload: dict, results: dict[str, list[Figures]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"directory-{stamp}.json"
    document = dict(payload, results={db: [asdict(r) for r in rows] for db, rows in results.items()})
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2))
    return path


def report(result: dict, path: Path | None) -> None:
    """Print a benchmark's result as JSON, and write it to ``path`` too when one is given."""
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if path is not None:
        path.write_text(text + "\n")
