"""运行监测's report (``governance.monitoring``), the command line over it and the records' retention: the
figures of known requests, the percentiles against ``statistics.quantiles`` (computed here, apart from
the database), the time series in China time, the purge."""

from __future__ import annotations

import csv
import io
import random
import statistics
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

import server
from governance import monitoring
from registry import request_log
from registry.db import unit_of_work
from registry.errors import InvalidInput
from registry.models import RequestRecord
from trust.actions import Context
from trust.auth import Caller

#: what does not depend on the database runs on SQLite alone (the test-time budget)
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
NOW = datetime(2026, 12, 6, 4, 0)  # UTC; 12:00 in China
SERVICES = {"/exchange": ("QueryRecords", "mzj", "101001/000002"), "/uddi/inquiry": ("find_service", None, None)}


def _ms(at: datetime) -> int:
    return int(at.replace(tzinfo=UTC).timestamp() * 1000)


def _record(at: datetime, duration: int, service: str, result: str = "ok", consumer: str | None = "x",
            **values) -> RequestRecord:
    operation, default_consumer, resource = SERVICES[service]
    return RequestRecord(started_ms=_ms(at), ended_ms=_ms(at) + duration, duration_ms=duration, service=service,
                         operation=operation, department_code=default_consumer if consumer == "x" else consumer,
                         resource_code=resource, request_bytes=100, response_bytes=1000, result=result,
                         client="127.0.0.1", **values)


@pytest.fixture
def traffic(sessions) -> dict[str, list[int]]:
    """Three hours of requests to two services with random latencies; the durations per service."""
    rng = random.Random(20)
    durations: dict[str, list[int]] = {"/exchange": [], "/uddi/inquiry": []}
    rows = []
    for n in range(400):
        service = "/exchange" if n % 4 else "/uddi/inquiry"
        duration = int(rng.lognormvariate(3, 1))
        durations[service].append(duration)
        rows.append(_record(NOW - timedelta(minutes=1 + n * 170 // 400), duration, service,
                            result="UnknownResource" if n % 50 == 1 else "ok"))
    with unit_of_work(sessions) as session:
        session.add_all(rows)
    return durations


def _ctx(sessions, settings) -> Context:
    return Context(Caller.platform("cli"), sessions, settings, now=NOW)


def _expected(values: list[int]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")  # percentile_cont's definition
    return cuts[49], cuts[94], cuts[98]


def test_the_report_gives_each_services_volume_errors_bytes_and_percentiles(traffic, sessions, settings):
    found = monitoring.report(_ctx(sessions, settings), since=NOW - timedelta(hours=4), until=NOW)
    services = {f.key: f for f in found.services}
    assert set(services) == {"/exchange", "/uddi/inquiry"}
    for service, durations in traffic.items():
        figures = services[service]
        assert figures.requests == len(durations)
        assert (figures.p50, figures.p95, figures.p99) == pytest.approx(_expected(durations))
        assert (figures.bytes_in, figures.bytes_out) == (100 * len(durations), 1000 * len(durations))
    assert services["/exchange"].errors == 8 and services["/uddi/inquiry"].errors == 0
    everything = traffic["/exchange"] + traffic["/uddi/inquiry"]
    assert found.total.requests == 400
    assert (found.total.p50, found.total.p95, found.total.p99) == pytest.approx(_expected(everything))
    consumers = {f.key: f.requests for f in found.consumers}
    assert consumers == {"mzj": 300, "": 100}  # inquiry is anonymous


def test_the_report_of_one_consumer_or_service_counts_only_its_requests(traffic, sessions, settings):
    ctx = _ctx(sessions, settings)
    mine = monitoring.report(ctx, since=NOW - timedelta(hours=4), until=NOW, consumer="mzj")
    assert [(f.key, f.requests) for f in mine.services] == [("/exchange", 300)]
    assert [(f.key, f.requests) for f in mine.resources] == [("101001/000002", 300)]
    inquiry = monitoring.report(ctx, since=NOW - timedelta(hours=4), until=NOW, service="/uddi/inquiry")
    assert [(f.key, f.requests) for f in inquiry.operations] == [("find_service", 100)]
    assert (inquiry.total.p99,) == pytest.approx((_expected(traffic["/uddi/inquiry"])[2],))


def test_the_time_series_is_per_china_hour_and_day(sessions, settings):
    late, early = datetime(2026, 12, 5, 15, 30), datetime(2026, 12, 5, 16, 30)  # 23:30 and 00:30 in China
    with unit_of_work(sessions) as session:
        session.add_all([_record(late, 10, "/exchange"), _record(early, 20, "/exchange"),
                         _record(early, 40, "/exchange", result="NotPermitted")])
    ctx = _ctx(sessions, settings)
    days = monitoring.report(ctx, since=late - timedelta(hours=1), until=NOW, step="day")
    assert [(f.key, f.requests, f.errors) for f in days.series] == [("12-05", 1, 0), ("12-06", 2, 1)]
    hours = monitoring.report(ctx, since=late - timedelta(hours=1), until=NOW)
    assert [(f.key, f.p50) for f in hours.series] == [("12-05 23:00", 10.0), ("12-06 00:00", 30.0)]


@SQLITE_ONLY
def test_a_period_that_ends_before_it_starts_is_refused(sessions, settings):
    with pytest.raises(InvalidInput) as refused:
        monitoring.report(_ctx(sessions, settings), since=NOW, until=NOW - timedelta(hours=1))
    assert "开始时间" in refused.value.user_message


def test_purge_deletes_the_records_older_than_the_retention(sessions, settings):
    with unit_of_work(sessions) as session:
        session.add_all([_record(NOW - timedelta(days=91), 5, "/exchange"),
                         _record(NOW - timedelta(days=89), 5, "/exchange")])
    kept = replace(settings, monitoring_days=90)
    assert request_log.purge(sessions, kept, now_ms=_ms(NOW)) == 1
    assert request_log.purge(sessions, replace(settings, monitoring_days=0), now_ms=_ms(NOW)) == 0
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(RequestRecord)) == 1


@SQLITE_ONLY
def test_the_command_line_reports_and_purges(traffic, sessions, settings, capsys):
    def cli(*argv: str) -> int:
        args = server.parser(["monitoring"]).parse_args(["monitoring", *argv])
        return args.handler(args, sessions, settings)

    assert cli("report", "--since", "2026-12-06T08:00", "--until", "2026-12-06T12:00", "--service", "/exchange") == 0
    out = capsys.readouterr().out
    assert out.startswith("requests 300 (8 errors) from 2026-12-06 08:00 to 2026-12-06 12:00 China time")
    p50 = _expected(traffic["/exchange"])[0]
    assert any(line.startswith("QueryRecords") and f"{p50:.1f}" in line for line in out.splitlines())
    assert cli("purge") == 0  # the records are from today: none is older than 90 days
    assert capsys.readouterr().out.startswith("deleted 0 operational monitoring records older than 90 days")
    with pytest.raises(SystemExit) as bad:
        cli("report", "--since", "yesterday")
    assert bad.value.code == 2 and "span back from now like 90m" in capsys.readouterr().err


@SQLITE_ONLY
def test_the_command_line_writes_the_report_as_csv_for_a_spreadsheet(traffic, sessions, settings, capsys):
    args = server.parser(["monitoring"]).parse_args(["monitoring", "report", "--since", "2026-12-06T08:00",
                                                     "--until", "2026-12-06T12:00", "--format", "csv"])
    assert args.handler(args, sessions, settings) == 0
    header, *rows = csv.reader(io.StringIO(capsys.readouterr().out))
    assert tuple(header) == monitoring.CSV_HEADER
    assert {(row[0], row[1]) for row in rows} == {("2026-12-06 08:00:00", "2026-12-06 12:00:00")}
    by_group: dict[str, dict[str, list[str]]] = {}
    for row in rows:
        by_group.setdefault(row[2], {})[row[3]] = row[5:]
    assert list(by_group) == ["合计", "服务", "操作", "调用方", "资源", "时段"]
    assert by_group["合计"][""][:2] == ["400", "8"]
    exchange = by_group["服务"]["/exchange"]
    assert exchange[:2] == ["300", "8"] and exchange[5:] == ["30000", "300000"]
    assert [float(v) for v in exchange[2:5]] == pytest.approx(_expected(traffic["/exchange"]), abs=0.05)
    assert by_group["调用方"].keys() == {"mzj", ""}  # the inquiries are anonymous
    assert sum(int(v[0]) for v in by_group["时段"].values()) == 400 and "12-06 09:00" in by_group["时段"]
