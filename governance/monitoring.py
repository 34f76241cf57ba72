"""运行监测: the SOAP requests operational monitoring recorded (``registry.request_log``), summed per
service, operation, consumer and resource, and over time in China time (UTC+8).

    report(ctx, since=datetime(2026, 12, 5, 16, 0), service="/exchange", step="hour")
    -> Report(total=Figures(key="", requests=1200, errors=3, p50=12.0, p95=48.5, p99=120.0,
                            bytes_in=960000, bytes_out=4100000), ...,
              services=[Figures("/exchange", ...)], operations=[Figures("QueryRecords", ...)],
              consumers=[Figures("330100000002", ...)], resources=[...],
              series=[Figures("12-06 09:00", ...), ...])

Latency is a request's ``duration_ms`` (arrival to the end of its answer).  Percentiles are the
continuous ones of PostgreSQL's ``percentile_cont`` - the value at rank p·(n−1) of the sorted durations,
interpolated linearly between its two neighbours: on PostgreSQL computed by ``percentile_cont`` in the
database; on SQLite, which has no such function, in Python over the group's durations, read sorted from
the database, at most ``SAMPLE`` of a group (its latest, when more: counts, errors and bytes stay exact).
An error is a request whose result is not ``ok``.

:func:`write_csv` writes a report for a spreadsheet (the portal's 导出 CSV, ``govshare monitoring report
--format csv``): a row per group and key, with the period in China time on every row.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.sql import ColumnElement

from registry.clock import OFFSET, china_text
from registry.errors import InvalidInput
from registry.models import Department, RequestRecord
from trust.actions import Context, action

SAMPLE = 200_000  # durations of one group a SQLite report reads for its percentiles
STEPS = {"hour": 3_600_000, "day": 86_400_000}
CHINA_MS = OFFSET // timedelta(milliseconds=1)
PERCENTILES = (0.5, 0.95, 0.99)


@dataclass(frozen=True)
class Figures:
    """One group's requests: how many, how many failed, latency percentiles (ms), bytes in and out."""

    key: str
    requests: int
    errors: int
    p50: float | None
    p95: float | None
    p99: float | None
    bytes_in: int
    bytes_out: int


@dataclass(frozen=True)
class Report:
    since: datetime  # naive UTC, inclusive
    until: datetime  # naive UTC, exclusive
    step: str
    total: Figures
    services: list[Figures]
    operations: list[Figures]
    consumers: list[Figures]
    resources: list[Figures]
    series: list[Figures]  # per China hour or day, oldest first; key "MM-DD HH:00" or "MM-DD"
    names: dict[str, str]  # department code -> name, for the consumers shown


def percentile(ordered: list[float], p: float) -> float | None:
    """``percentile_cont(p)`` of ``ordered`` (sorted ascending): linear interpolation at rank p·(n−1)."""
    if not ordered:
        return None
    rank = p * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _utc(at: datetime) -> datetime:
    """``at`` as naive UTC (an aware time converted; a naive one is UTC already)."""
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def _ms(at: datetime) -> int:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp() * 1000)


@action("monitoring.report")
def report(ctx: Context, *, since: datetime | None = None, until: datetime | None = None, service: str | None = None,
           consumer: str | None = None, resource: str | None = None, step: str = "hour") -> Report:
    """The requests that started in [``since``, ``until``) (default: the last 24 hours), of one service,
    consumer (department code) or resource when given, grouped each way and per ``step`` (hour | day)."""
    if step not in STEPS:
        raise InvalidInput(f"step must be one of {', '.join(STEPS)}, not {step!r}", field="step",
                           zh="统计粒度只能是小时或天。")
    until = _utc(until) if until is not None else ctx.now.replace(tzinfo=None)
    since = _utc(since) if since is not None else until - timedelta(hours=24)
    if since >= until:
        raise InvalidInput(f"since ({since}) must come before until ({until})", field="since",
                           zh="开始时间须早于结束时间。")
    r = RequestRecord
    where = [r.started_ms >= _ms(since), r.started_ms < _ms(until)]
    for column, value in ((r.service, service), (r.department_code, consumer), (r.resource_code, resource)):
        if value:
            where.append(column == value)
    condition = and_(*where)
    session = ctx.session
    bucket = (r.started_ms + CHINA_MS) // STEPS[step]

    def grouped(key: ColumnElement | None) -> list[Figures]:
        return _figures(session, key, condition)

    series = grouped(bucket)
    label = "%m-%d %H:00" if step == "hour" else "%m-%d"
    series = [Figures(datetime.fromtimestamp(int(f.key) * STEPS[step] / 1000, UTC).strftime(label),
                      *_values(f)) for f in sorted(series, key=lambda f: int(f.key))]
    totals = grouped(None)
    consumers = grouped(r.department_code)
    codes = [f.key for f in consumers if f.key]
    names = dict(session.execute(select(Department.code, Department.name)
                                 .where(Department.code.in_(codes))).all()) if codes else {}
    ctx.note(record_count=totals[0].requests if totals else 0)
    return Report(since, until, step, totals[0] if totals else Figures("", 0, 0, None, None, None, 0, 0),
                  grouped(r.service), grouped(r.operation), consumers, grouped(r.resource_code), series, names)


def _values(f: Figures) -> tuple:
    return f.requests, f.errors, f.p50, f.p95, f.p99, f.bytes_in, f.bytes_out


def _figures(session, key: ColumnElement | None, condition: ColumnElement) -> list[Figures]:
    """Figures per value of ``key`` (one row when None) of the requests meeting ``condition``, busiest first."""
    r = RequestRecord
    sums = [func.count(), func.sum(case((r.result != "ok", 1), else_=0)), func.coalesce(func.sum(r.request_bytes), 0),
            func.coalesce(func.sum(r.response_bytes), 0)]
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        sums += [func.percentile_cont(p).within_group(r.duration_ms) for p in PERCENTILES]
    keys = [] if key is None else [key]
    query = select(*keys, *sums).where(condition)
    if key is not None:
        query = query.group_by(key)
    rows = [row for row in session.execute(query) if row[len(keys)]]
    if not postgres:
        durations = _durations(session, key, condition)
    found = []
    for row in rows:
        name = "" if key is None else ("" if row[0] is None else str(row[0]))
        count, errors, bytes_in, bytes_out = row[len(keys):len(keys) + 4]
        if postgres:
            p50, p95, p99 = (None if v is None else float(v) for v in row[len(keys) + 4:])
        else:
            ordered = durations.get(0 if key is None else row[0], [])
            p50, p95, p99 = (percentile(ordered, p) for p in PERCENTILES)
        found.append(Figures(name, int(count), int(errors or 0), p50, p95, p99, int(bytes_in), int(bytes_out)))
    return sorted(found, key=lambda f: (-f.requests, f.key))


def _durations(session, key: ColumnElement | None, condition: ColumnElement) -> dict:
    """Each group's durations, sorted (SQLite: the percentiles are computed from them), the latest ``SAMPLE``."""
    r = RequestRecord
    keyed = key if key is not None else literal(0)
    ranked = select(keyed.label("k"), r.duration_ms.label("d"),
                    func.row_number().over(partition_by=keyed, order_by=r.started_ms.desc()).label("n")) \
        .where(condition).subquery()
    by_group: dict = defaultdict(list)
    for group, duration in session.execute(select(ranked.c.k, ranked.c.d).where(ranked.c.n <= SAMPLE)
                                           .order_by(ranked.c.k, ranked.c.d)):
        by_group[group].append(float(duration))
    return by_group


#: the groups of a report in its CSV, by the names the portal gives them
CSV_GROUPS = (("合计", "total"), ("服务", "services"), ("操作", "operations"), ("调用方", "consumers"),
              ("资源", "resources"), ("时段", "series"))
CSV_HEADER = ("起 (北京时间)", "止 (北京时间)", "分组", "键", "名称", "请求量", "错误", "p50 耗时 (ms)",
              "p95 耗时 (ms)", "p99 耗时 (ms)", "流量 入 (字节)", "流量 出 (字节)")


def write_csv(found: Report, out: IO[str]) -> int:
    """Write ``found`` to ``out`` as CSV (``CSV_HEADER``), a row per group and key: the total, each service,
    operation, consumer (with its department's name), resource and step of the series (its China-time
    label); the rows written.  A percentile of no request is an empty cell."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    since, until = china_text(found.since, "%Y-%m-%d %H:%M:%S"), china_text(found.until, "%Y-%m-%d %H:%M:%S")
    rows = 0
    for group, attribute in CSV_GROUPS:
        for f in [found.total] if attribute == "total" else getattr(found, attribute):
            name = found.names.get(f.key, "") if attribute == "consumers" else ""
            percentiles = ("" if v is None else f"{v:.1f}" for v in (f.p50, f.p95, f.p99))
            writer.writerow([since, until, group, f.key, name, f.requests, f.errors, *percentiles,
                             f.bytes_in, f.bytes_out])
            rows += 1
    return rows
