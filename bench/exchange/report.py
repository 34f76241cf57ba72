"""Figures of a run: records/s per measurement, the ratios, the target, the table and the JSON."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

#: issue 3: SubmitBatch end to end, records per second (DataX's single-channel PostgreSQL
#: writer does about 10k rows/s without any validation)
TARGET_RECORDS_PER_SECOND = 10_000.0


@dataclass
class Measure:
    """One measurement repeated: seconds per repetition of ``records`` records."""

    name: str
    title: str
    records: int
    seconds: list[float] = field(default_factory=list)

    def rates(self) -> list[float]:
        return [self.records / s for s in self.seconds if s > 0]

    @property
    def median_rate(self) -> float:
        rates = self.rates()
        return statistics.median(rates) if rates else 0.0


@dataclass
class BigBatch:
    """The one large batch: end to end, and the server's memory while it was received."""

    records: int
    request_bytes: int
    seconds: float
    server_seconds: float
    server_rss_before_kib: int
    server_peak_kib: int | None  # None where the peak could not be reset before the request
    dom_baseline_kib: int
    dom_peak_kib: int

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


@dataclass
class DatabaseRun:
    db: str
    end_to_end: Measure
    server: Measure
    bulk_insert: Measure
    big: BigBatch | None = None

    def ratios(self, validation: list[Measure]) -> dict[str, float]:
        """End-to-end records/s as a share of each other measurement's records/s."""
        e2e = self.end_to_end.median_rate
        return {m.name: e2e / m.median_rate for m in [*validation, self.bulk_insert] if m.median_rate > 0}

    @property
    def target_met(self) -> bool:
        return self.end_to_end.median_rate >= TARGET_RECORDS_PER_SECOND


def _row(m: Measure, ratio: float | None) -> str:
    rates = m.rates()
    spread = f"{min(rates):>9,.0f} .. {max(rates):>9,.0f}" if rates else ""
    share = "" if ratio is None else f"{ratio:>7.1%}"
    return f"{m.title:<52} {m.median_rate:>11,.0f} {spread:>22} {share:>9}"


def table(run: DatabaseRun, validation: list[Measure]) -> str:
    ratios = run.ratios(validation)
    head = f"{'measurement':<52} {'records/s':>11} {'min .. max':>22} {'e2e / it':>9}"
    lines = [f"== {run.db}: {run.end_to_end.records:,} records per batch, "
             f"{len(run.end_to_end.seconds)} repetitions (median)", head, "-" * len(head),
             _row(run.end_to_end, None) + ("  target met" if run.target_met else "  TARGET MISSED"),
             _row(run.server, None)]
    lines += [_row(m, ratios.get(m.name)) for m in [*validation, run.bulk_insert]]
    if run.big is not None:
        b = run.big
        peak = "n/a" if b.server_peak_kib is None else f"{b.server_peak_kib / 1024:,.0f} MiB"
        lines.append(f"{b.records:,}-record batch ({b.request_bytes / 2**20:,.0f} MiB): {b.rate:,.0f} records/s "
                     f"end to end ({b.seconds:.1f} s, server {b.server_seconds:.1f} s); server RSS "
                     f"{b.server_rss_before_kib / 1024:,.0f} MiB before, peak {peak}; one lxml DOM of the "
                     f"batch: peak {b.dom_peak_kib / 1024:,.0f} MiB (from {b.dom_baseline_kib / 1024:,.0f} MiB)")
    return "\n".join(lines)


def write_json(directory: Path, payload: dict, validation: list[Measure], runs: list[DatabaseRun]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"exchange-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    document = dict(payload, validation=[dict(asdict(m), median_rate=m.median_rate) for m in validation], runs=[
        dict(asdict(r), median_rates={m.name: m.median_rate for m in (r.end_to_end, r.server, r.bulk_insert)},
             ratios=r.ratios(validation), target_met=r.target_met,
             big_rate=r.big.rate if r.big else None)
        for r in runs])
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2))
    return path
