"""运行监测's report (``governance.monitoring``), the command line over it and the records' retention: the
figures of known requests, the percentiles against ``statistics.quantiles`` (computed here, apart from
the database), the time series in China time, the purge."""

from __future__ import annotations

import csv
import io
import random
import statistics
import threading
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

import server
from governance import monitoring
from registry import request_log
from registry.db import unit_of_work
from registry.errors import InvalidInput
from registry.models import RequestDay, RequestDayMark, RequestRecord
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


def _days_of_traffic(sessions) -> list[RequestRecord]:
    """Requests over three China days and a morning (2026-12-03 to 12:00 on 2026-12-06, China time): every
    70 minutes a QueryRecords of mzj or sbj and an inquiry, some slow, some failed."""
    rng = random.Random(7)
    rows = []
    at = datetime(2026, 12, 2, 16, 5)  # 00:05 on 2026-12-03 in China
    n = 0
    while at < NOW:
        rows.append(_record(at, int(rng.lognormvariate(3.5, 1.2)), "/exchange", consumer="mzj" if n % 3 else "sbj",
                            result="NotPermitted" if n % 11 == 0 else "ok"))
        rows.append(_record(at + timedelta(minutes=3), int(rng.lognormvariate(2, 0.5)), "/uddi/inquiry"))
        at += timedelta(minutes=70)
        n += 1
    with unit_of_work(sessions) as session:
        session.add_all(rows)
    return rows


def _everything(found: monitoring.Report) -> list[monitoring.Figures]:
    return [found.total, *found.services, *found.operations, *found.consumers, *found.resources, *found.series]


def _counts(found: monitoring.Report) -> list[tuple]:
    """Each group's key, requests, errors and bytes (what a summary keeps exactly)."""
    return [(f.key, f.requests, f.errors, f.bytes_in, f.bytes_out) for f in _everything(found)]


def _within_a_bin(found: monitoring.Report, exact: monitoring.Report) -> None:
    """``found``'s percentiles are within 1/32 of ``exact``'s (a summary's durations are kept to that)."""
    assert _counts(found) == _counts(exact)
    for got, wanted in zip(_everything(found), _everything(exact), strict=True):
        assert (got.p50, got.p95, got.p99) == pytest.approx((wanted.p50, wanted.p95, wanted.p99), rel=1 / 32)


def test_a_report_by_day_reads_the_days_summarised_and_its_figures_do_not_change(sessions, settings):
    rows = _days_of_traffic(sessions)
    ctx = _ctx(sessions, settings)
    since = datetime(2026, 12, 2, 10, 0)  # 18:00 on 2026-12-02 in China: the period begins inside a day

    before = monitoring.report(ctx, since=since, until=NOW, step="day")
    assert before.total.requests == len(rows)
    summarised = request_log.summarise(sessions, settings, now_ms=_ms(NOW))
    assert [request_log.summarised_line(summarised)] == [
        "3 days of operational records summarised: 2026-12-03, 2026-12-04, 2026-12-05"]
    after = monitoring.report(ctx, since=since, until=NOW, step="day")
    _within_a_bin(after, before)
    assert _everything(after) != _everything(before)  # some durations of 32 ms or more were rounded

    # the summarised days are read from their summary: their records gone, the report by day is unchanged,
    # while the hours (read from the records) lose them
    with unit_of_work(sessions) as session:
        session.execute(delete(RequestRecord).where(RequestRecord.started_ms < _ms(datetime(2026, 12, 5, 16))))
    assert _everything(monitoring.report(ctx, since=since, until=NOW, step="day")) == _everything(after)
    today = [row for row in rows if row.started_ms >= _ms(datetime(2026, 12, 5, 16))]
    assert monitoring.report(ctx, since=since, until=NOW, step="hour").total.requests == len(today)


def test_a_day_summarised_is_cut_where_the_period_cuts_it(sessions, settings):
    rows = _days_of_traffic(sessions)
    request_log.summarise(sessions, settings, now_ms=_ms(NOW))
    ctx = _ctx(sessions, settings)
    since, until = datetime(2026, 12, 3, 10, 0), datetime(2026, 12, 4, 18, 0)  # in the middle of two days
    inside = [row for row in rows if _ms(since) <= row.started_ms < _ms(until)]
    found = monitoring.report(ctx, since=since, until=until, step="day")
    assert found.total.requests == len(inside)
    assert [(f.key, f.requests) for f in found.series] == [
        (day, sum(1 for row in inside if _china_day(row) == day)) for day in ("12-03", "12-04", "12-05")]
    exchange = sorted(row.duration_ms for row in inside if row.service == "/exchange")
    assert (found.services[0].key, found.services[0].requests) == ("/exchange", len(exchange))
    assert (found.services[0].p50, found.services[0].p95, found.services[0].p99) == pytest.approx(
        _expected(exchange), rel=1 / 32)
    mzj = monitoring.report(ctx, since=since, until=until, step="day", consumer="mzj")
    assert mzj.total.requests == sum(1 for row in inside if row.department_code == "mzj")
    assert [f.key for f in mzj.consumers] == ["mzj"]


def _china_day(row: RequestRecord) -> str:
    return (datetime.fromtimestamp(row.started_ms / 1000, UTC) + timedelta(hours=8)).strftime("%m-%d")


def test_a_summary_keeps_a_duration_to_within_a_32nd_and_the_database_bins_as_python_does(sessions, settings):
    durations = [0, 1, 31, 32, 33, 63, 64, 65, 100, 127, 128, 999, 1000, 4097, 65_535, 600_000, 2**31 - 1]
    day = datetime(2026, 12, 4, 16)  # 2026-12-05 in China
    with unit_of_work(sessions) as session:
        session.add_all([_record(day + timedelta(minutes=n), ms, "/exchange") for n, ms in enumerate(durations)])
    request_log.summarise(sessions, settings, now_ms=_ms(NOW))
    with sessions() as session:
        kept = dict(session.execute(select(RequestDay.duration_ms, RequestDay.requests)).all())
    assert kept == Counter(request_log.duration_bin(ms) for ms in durations)
    for ms in durations:
        assert abs(request_log.duration_bin(ms) - ms) <= ms / 32
        assert request_log.duration_bin(ms) == ms or ms >= 32


def test_a_day_is_summarised_once_an_hour_after_its_china_midnight(sessions, settings):
    _days_of_traffic(sessions)
    midnight = datetime(2026, 12, 5, 16, 0)  # 00:00 on 2026-12-06 in China: 2026-12-05 has ended
    assert request_log.summarise(sessions, settings, now_ms=_ms(midnight - timedelta(hours=10))) == [
        _ms(datetime(2026, 12, 2, 16)), _ms(datetime(2026, 12, 3, 16))]
    assert request_log.summarise(sessions, settings, now_ms=_ms(midnight + timedelta(minutes=59))) == []
    assert request_log.summarise(sessions, settings, now_ms=_ms(midnight + timedelta(minutes=60))) == [
        _ms(datetime(2026, 12, 4, 16))]
    assert request_log.summarise(sessions, settings, now_ms=_ms(NOW)) == []
    with sessions() as session:
        marks = dict(session.execute(select(RequestDayMark.day_ms, RequestDayMark.requests)).all())
        for day, requests in marks.items():
            assert requests == session.scalar(select(func.count()).select_from(RequestRecord).where(
                RequestRecord.started_ms >= day, RequestRecord.started_ms < day + request_log.DAY_MS))


def test_two_workers_summarising_at_once_write_each_day_once(sessions, settings):
    rows = _days_of_traffic(sessions)
    done: list[list[int]] = []
    workers = [threading.Thread(target=lambda: done.append(request_log.summarise(sessions, settings,
                                                                                 now_ms=_ms(NOW))))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(day for days in done for day in days) == [_ms(datetime(2026, 12, d, 16)) for d in (2, 3, 4)]
    with sessions() as session:
        summed = session.scalar(select(func.sum(RequestDay.requests)))
    assert summed == sum(1 for row in rows if row.started_ms < _ms(datetime(2026, 12, 5, 16)))


def test_purge_keeps_the_summaries_longer_and_a_day_partly_purged_is_not_summarised(sessions, settings):
    _days_of_traffic(sessions)
    request_log.summarise(sessions, settings, now_ms=_ms(NOW))
    later = _ms(NOW + timedelta(days=2, hours=10))  # 2026-12-08 22:00 in China
    kept = replace(settings, monitoring_days=4, monitoring_summary_days=5)
    request_log.purge(sessions, kept, now_ms=later)  # the records before 2026-12-04 22:00 China time go
    with sessions() as session:
        assert session.scalars(select(RequestDayMark.day_ms).order_by(RequestDayMark.day_ms)).all() == [
            _ms(datetime(2026, 12, d, 16)) for d in (3, 4)]  # 12-03 began more than 5 days before
    with unit_of_work(sessions) as session:
        session.execute(delete(RequestDayMark))
        session.execute(delete(RequestDay))
    # 2026-12-04 lost its records before 22:00: not summarised again; 2026-12-05 and 12-06 are whole, and
    # 2026-12-07 (no request) has ended
    again = request_log.summarise(sessions, kept, now_ms=later)
    assert again == [_ms(datetime(2026, 12, d, 16)) for d in (4, 5, 6)]
    with sessions() as session:
        assert session.scalar(select(RequestDayMark.requests).where(RequestDayMark.day_ms == again[-1])) == 0
    with unit_of_work(sessions) as session:
        session.execute(delete(RequestDayMark))
    # summaries kept a shorter time than the records: a day whose summary the next purge would delete is left
    shorter = replace(kept, monitoring_summary_days=2)
    assert request_log.summarise(sessions, shorter, now_ms=later) == [_ms(datetime(2026, 12, d, 16)) for d in (6,)]


@SQLITE_ONLY
def test_the_command_line_summarises(sessions, settings, capsys):
    _days_of_traffic(sessions)
    args = server.parser(["monitoring"]).parse_args(["monitoring", "summarise"])
    # now, not NOW: every day from the first request's to yesterday in China (none too old to have all its records)
    assert args.handler(args, sessions, replace(settings, monitoring_days=0)) == 0
    out = capsys.readouterr().out
    assert out.startswith("days of operational records summarised: 2026-12-03, 2026-12-04, 2026-12-05, 2026-12-06",
                          out.index(" ") + 1)
    assert int(out.split()[0]) == len(out.split(":", 1)[1].split(","))


def test_the_requests_are_listed_newest_first_and_filtered_one_by_one(traffic, sessions, settings):
    ctx = _ctx(sessions, settings)
    since = NOW - timedelta(hours=4)
    everything = monitoring.requests(ctx, since=since, until=NOW, limit=1000)
    assert everything.total == len(everything.requests) == 400
    started = [r.started for r in everything.requests]
    assert started == sorted(started, reverse=True) and started[0] == NOW - timedelta(minutes=1)
    first = everything.requests[0]
    assert (first.service, first.operation, first.department_code, first.resource_code, first.client) == (
        "/exchange", "QueryRecords", "mzj", "101001/000002", "127.0.0.1")

    failed = monitoring.requests(ctx, since=since, until=NOW, errors=True)
    assert failed.total == 8 and {r.result for r in failed.requests} == {"UnknownResource"}
    inquiries = monitoring.requests(ctx, since=since, until=NOW, service="/uddi/inquiry", limit=10)
    assert inquiries.total == 100 and len(inquiries.requests) == 10
    assert {r.department_code for r in inquiries.requests} == {None}
    assert monitoring.requests(ctx, since=since, until=NOW, consumer="mzj", resource="101001/000002").total == 300
    assert monitoring.requests(ctx, since=since, until=NOW, consumer="sbj").total == 0
    last_hour = monitoring.requests(ctx, until=NOW)  # the default period: the hour before ``until``
    assert last_hour.total == sum(1 for r in everything.requests if r.started >= NOW - timedelta(hours=1))

    page = monitoring.requests(ctx, since=since, until=NOW, offset=450, limit=50, clamp=True)  # past the last
    assert (page.offset, len(page.requests)) == (350, 50)
    assert page.requests == everything.requests[350:400]


@SQLITE_ONLY
def test_the_command_line_lists_the_requests_and_writes_them_as_csv(traffic, sessions, settings, capsys):
    def cli(*argv: str) -> int:
        args = server.parser(["monitoring"]).parse_args(["monitoring", "requests", *argv])
        return args.handler(args, sessions, settings)

    window = ("--since", "2026-12-06T08:00", "--until", "2026-12-06T12:00")
    assert cli(*window, "--errors", "--limit", "3") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "the newest 3 of 8 requests (newest first)"
    assert out[2].startswith("started (China)") and len(out) == 6
    assert all("UnknownResource" in line and "/exchange" in line for line in out[3:])
    assert out[3][:10] == "2026-12-06"
    assert cli(*window, "--format", "csv", "--limit", "1000") == 0
    header, *rows = csv.reader(io.StringIO(capsys.readouterr().out))
    assert tuple(header) == monitoring.REQUEST_CSV_HEADER and len(rows) == 400
    assert rows[0][0] == "2026-12-06 11:59:00.000" and rows[0][2:5] == ["/exchange", "QueryRecords", "mzj"]
