"""运行监测: the SOAP requests operational monitoring recorded (``registry.request_log``), summed per
service, operation, consumer and resource, and over time in China time (UTC+8).

    report(ctx, since=datetime(2026, 12, 5, 16, 0), service="/exchange", step="hour")
    -> Report(total=Figures(key="", requests=1200, errors=3, p50=12.0, p95=48.5, p99=120.0,
                            bytes_in=960000, bytes_out=4100000), ...,
              services=[Figures("/exchange", ...)], operations=[Figures("QueryRecords", ...)],
              consumers=[Figures("330100000002", ...)], resources=[...],
              series=[Figures("12-06 09:00", ...), ...])

Latency is a request's ``duration_ms`` (arrival to the end of its answer, whole milliseconds).  Percentiles
are the continuous ones of PostgreSQL's ``percentile_cont`` - the value at rank p·(n−1) of the sorted durations,
interpolated linearly between its two neighbours - computed here from how many requests of a group took each
duration (``select key, duration_ms, count(*) ... group by key, duration_ms``), on PostgreSQL and SQLite alike.
A group's durations take few distinct values, so the database returns a few hundred rows a group where it
would otherwise sort every duration of it (three times, one sort a percentile): a day of a city's
1,000,000 requests is read in about a third of the time (BENCHMARKS.md, "运行监测's report at a city's scale").
A report by day reads the days of its period that have been summarised (``registry.request_log.summarise``,
an hour after each China midnight) from their summary, where durations are kept to within 1/32 (exact
under 32 ms): a month of a city's requests is under a million rows instead of thirty million,
and its percentiles are within 1/32 of those of the records.  A report by hour reads the records.
An error is a request whose result is not ``ok``.

:func:`write_csv` writes a report for a spreadsheet (the portal's 导出 CSV, ``govshare monitoring report
--format csv``): a row per group and key, with the period in China time on every row.
"""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO

from sqlalchemy import and_, case, func, or_, select, text
from sqlalchemy.sql import ColumnElement

from registry import request_log
from registry.clock import china_text
from registry.errors import InvalidInput
from registry.models import Department, RequestDay, RequestDayMark, RequestRecord
from trust.actions import Context, action

DAY_MS = request_log.DAY_MS
STEPS = {"hour": 3_600_000, "day": DAY_MS}
CHINA_MS = request_log.CHINA_MS
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
    summarised: int = 0  # the days read from their summary (durations within 1/32)


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
    filters = {"service": service, "department_code": consumer, "resource_code": resource}
    session = ctx.session
    if session.get_bind().dialect.name == "postgresql":  # compiling these scans costs more than it saves
        session.execute(text("SET LOCAL jit = off"))
    parts, summarised = _parts(session, _ms(since), _ms(until), step,
                               {name: value for name, value in filters.items() if value})

    def tallied(*keys: str) -> dict[tuple, _Tally]:
        found: dict[tuple, _Tally] = defaultdict(_Tally)
        for source, condition in parts:
            for key, tally in _tallies(session, source, keys, step, condition).items():
                found[key].add(tally)
        return found

    by_service = tallied("service", "operation")  # services, operations and the total
    series = [Figures(datetime.fromtimestamp(int(key) * STEPS[step] / 1000, UTC).strftime(
                  "%m-%d %H:00" if step == "hour" else "%m-%d"), *_values(tally.figures("")))
              for (key,), tally in sorted(tallied("step").items())]
    totals = _ranked(_merged(by_service, None))
    consumers = _ranked(_merged(tallied("department_code"), 0))
    codes = [f.key for f in consumers if f.key]
    names = dict(session.execute(select(Department.code, Department.name)
                                 .where(Department.code.in_(codes))).all()) if codes else {}
    ctx.note(record_count=totals[0].requests if totals else 0)
    return Report(since, until, step, totals[0] if totals else Figures("", 0, 0, None, None, None, 0, 0),
                  _ranked(_merged(by_service, 0)), _ranked(_merged(by_service, 1)), consumers,
                  _ranked(_merged(tallied("resource_code"), 0)), series, names, summarised)


def _parts(session, since_ms: int, until_ms: int, step: str,
           filters: dict[str, str]) -> tuple[list[tuple[type, ColumnElement]], int]:
    """Where the requests of [``since_ms``, ``until_ms``) meeting ``filters`` are counted: the days of a
    report by day that lie whole in the period and are summarised, from ``request_day``; the rest from
    ``request_log``.  And how many days are summarised."""
    r, d = RequestRecord, RequestDay
    raw = [r.started_ms >= since_ms, r.started_ms < until_ms]
    raw += [getattr(r, name) == value for name, value in filters.items()]
    days = []
    if step == "day":
        first = request_log.china_day(since_ms - 1) + DAY_MS  # the first day that begins in the period
        days = list(session.scalars(select(RequestDayMark.day_ms).where(
            RequestDayMark.day_ms >= first, RequestDayMark.day_ms <= until_ms - DAY_MS)
            .order_by(RequestDayMark.day_ms)))
    if not days:
        return [(r, and_(*raw))], 0
    runs: list[list[int]] = []  # the summarised days as runs of consecutive days [first, end)
    for day in days:
        if runs and runs[-1][1] == day:
            runs[-1][1] = day + DAY_MS
        else:
            runs.append([day, day + DAY_MS])
    raw += [or_(r.started_ms < start, r.started_ms >= end) for start, end in runs]
    summarised = [d.day_ms.in_(days)] + [getattr(d, name) == value for name, value in filters.items()]
    return [(r, and_(*raw)), (d, and_(*summarised))], len(days)


def _values(f: Figures) -> tuple:
    return f.requests, f.errors, f.p50, f.p95, f.p99, f.bytes_in, f.bytes_out


@dataclass
class _Tally:
    """A group's requests while they are counted: how many took each duration (ms -> requests)."""

    requests: int = 0
    errors: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    durations: Counter = field(default_factory=Counter)

    def add(self, other: _Tally) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.bytes_in += other.bytes_in
        self.bytes_out += other.bytes_out
        self.durations.update(other.durations)

    def figures(self, key: str) -> Figures:
        p50, p95, p99 = percentiles(self.durations, PERCENTILES)
        return Figures(key, self.requests, self.errors, p50, p95, p99, self.bytes_in, self.bytes_out)


def percentiles(durations: Counter, ps: tuple[float, ...]) -> tuple[float | None, ...]:
    """``percentile_cont(p)`` for each of ``ps`` of the durations counted in ``durations`` (value -> how
    many): linear interpolation at rank p·(n−1) of the sorted durations, none when there are none."""
    n = sum(durations.values())
    if n == 0:
        return tuple(None for _ in ps)
    ordered = sorted(durations.items())
    ranks = [p * (n - 1) for p in ps]
    wanted = sorted({r for rank in ranks for r in (math.floor(rank), min(math.floor(rank) + 1, n - 1))})
    at: dict[int, float] = {}
    seen, i = 0, 0
    for value, count in ordered:  # the values at the wanted positions, by cumulative count
        seen += count
        while i < len(wanted) and wanted[i] < seen:
            at[wanted[i]] = float(value)
            i += 1
    found = []
    for rank in ranks:
        low = math.floor(rank)
        high = min(low + 1, n - 1)
        found.append(at[low] + (at[high] - at[low]) * (rank - low))
    return tuple(found)


def _tallies(session, source: type, keys: tuple[str, ...], step: str,
             condition: ColumnElement) -> dict[tuple, _Tally]:
    """The requests of ``source`` (``RequestRecord``: the records; ``RequestDay``: the summarised days)
    meeting ``condition`` per value of the columns named ``keys`` ("step": the China hour or day of
    ``step``), each with how many took each duration."""
    if source is RequestRecord:
        r = RequestRecord
        start = r.started_ms
        counts = [func.count(), func.sum(case((r.result != "ok", 1), else_=0)), func.sum(r.request_bytes),
                  func.sum(r.response_bytes)]
    else:
        r = RequestDay
        start = r.day_ms
        counts = [func.sum(r.requests), func.sum(r.errors), func.sum(r.bytes_in), func.sum(r.bytes_out)]
    columns = [(start + CHINA_MS) // STEPS[step] if key == "step" else getattr(r, key) for key in keys]
    query = select(*columns, r.duration_ms, *counts).where(condition).group_by(*columns, r.duration_ms)
    width = len(columns)
    found: dict[tuple, _Tally] = defaultdict(_Tally)
    for row in session.execute(query):
        tally = found[tuple(row[:width])]
        count = int(row[width + 1])
        tally.requests += count
        tally.errors += int(row[width + 2] or 0)
        tally.bytes_in += int(row[width + 3] or 0)
        tally.bytes_out += int(row[width + 4] or 0)
        tally.durations[int(row[width])] += count
    return found


def _merged(tallies: dict[tuple, _Tally], part: int | None) -> dict:
    """``tallies`` summed per their key's ``part``-th value (None: all of them into one, keyed "")."""
    merged: dict = defaultdict(_Tally)
    for key, tally in tallies.items():
        merged["" if part is None else key[part]].add(tally)
    return merged


def _ranked(tallies: dict) -> list[Figures]:
    """Each group's figures, busiest first (a missing key, such as an anonymous consumer, is "")."""
    found = [tally.figures("" if key is None else str(key)) for key, tally in tallies.items()]
    return sorted(found, key=lambda f: (-f.requests, f.key))


@dataclass(frozen=True)
class Request:
    """One SOAP request as operational monitoring recorded it (请求明细)."""

    id: int
    started: datetime  # naive UTC
    duration_ms: int
    service: str
    operation: str
    department_code: str | None
    user: str | None
    certificate_serial: str | None
    system_code: str | None
    resource_code: str | None
    request_bytes: int
    response_bytes: int
    result: str  # ok, or the fault's code
    client: str


@dataclass(frozen=True)
class Requests:
    """A page of requests, newest first: how many match, where the page starts, and the consumers' names."""

    total: int
    offset: int
    requests: list[Request]
    names: dict[str, str]  # department code -> name


_REQUEST_COLUMNS = [RequestRecord.id, RequestRecord.started_ms, RequestRecord.duration_ms, RequestRecord.service,
                    RequestRecord.operation, RequestRecord.department_code, RequestRecord.user,
                    RequestRecord.certificate_serial, RequestRecord.system_code, RequestRecord.resource_code,
                    RequestRecord.request_bytes, RequestRecord.response_bytes, RequestRecord.result,
                    RequestRecord.client]


@action("monitoring.requests", read_only=True)
def requests(ctx: Context, *, since: datetime | None = None, until: datetime | None = None,
             service: str | None = None, consumer: str | None = None, resource: str | None = None,
             system: str | None = None, errors: bool = False, offset: int = 0, limit: int = 50,
             clamp: bool = False) -> Requests:
    """请求明细: the requests that started in [``since``, ``until``) (default: the last hour), of one service,
    consumer (department code), resource or application system when given, only the failed ones with
    ``errors``; newest first, ``limit`` from ``offset`` (with ``clamp``, an offset past the last gives the
    last page)."""
    until = _utc(until) if until is not None else ctx.now.replace(tzinfo=None)
    since = _utc(since) if since is not None else until - timedelta(hours=1)
    if since >= until:
        raise InvalidInput(f"since ({since}) must come before until ({until})", field="since",
                           zh="开始时间须早于结束时间。")
    r = RequestRecord
    where = [r.started_ms >= _ms(since), r.started_ms < _ms(until)]
    for column, value in ((r.service, service), (r.department_code, consumer), (r.resource_code, resource),
                          (r.system_code, system)):
        if value:
            where.append(column == value)
    if errors:
        where.append(r.result != "ok")
    session = ctx.session
    total = session.scalar(select(func.count()).select_from(r).where(*where)) or 0
    limit, offset = max(limit, 1), max(offset, 0)
    if clamp and total and offset >= total:
        offset = (total - 1) // limit * limit
    rows = session.execute(select(*_REQUEST_COLUMNS).where(*where).order_by(r.started_ms.desc(), r.id.desc())
                           .offset(offset).limit(limit)).all()
    found = [Request(row.id, datetime.fromtimestamp(row.started_ms / 1000, UTC).replace(tzinfo=None),
                     *row[2:]) for row in rows]
    codes = sorted({f.department_code for f in found if f.department_code})
    names = dict(session.execute(select(Department.code, Department.name)
                                 .where(Department.code.in_(codes))).all()) if codes else {}
    ctx.note(record_count=len(found))
    return Requests(total, offset, found, names)


REQUEST_CSV_HEADER = ("开始 (北京时间)", "耗时 (ms)", "服务", "操作", "调用方", "调用方名称", "用户", "证书序列号",
                      "应用系统", "资源代码", "请求字节", "应答字节", "结果", "客户端地址")


def write_requests_csv(found: Requests, out: IO[str]) -> int:
    """Write ``found``'s requests to ``out`` as CSV (``REQUEST_CSV_HEADER``), one row each; the rows written."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(REQUEST_CSV_HEADER)
    for f in found.requests:
        writer.writerow([china_text(f.started, "%Y-%m-%d %H:%M:%S.") + f"{f.started.microsecond // 1000:03d}",
                         f.duration_ms, f.service, f.operation, f.department_code or "",
                         found.names.get(f.department_code or "", ""), f.user or "", f.certificate_serial or "",
                         f.system_code or "", f.resource_code or "", f.request_bytes, f.response_bytes, f.result,
                         f.client])
    return len(found.requests)


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
