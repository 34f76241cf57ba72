"""China time (北京时间, UTC+8) from the database's naive UTC datetimes and from aware ones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from registry import clock
from registry.clock import CHINA

NEW_YEAR_UTC = datetime(2026, 12, 31, 16, 0)  # 2027-01-01 00:00 in China


def test_china_is_utc_plus_eight_named_cst():
    assert CHINA.utcoffset(None) == timedelta(hours=8) and CHINA.tzname(None) == "CST"


def test_utcnow_is_naive_utc_to_the_second():
    now = clock.utcnow()
    assert now.tzinfo is None and now.microsecond == 0
    assert abs(datetime.now(UTC).replace(tzinfo=None) - now) < timedelta(seconds=2)


def test_a_naive_time_is_read_as_utc():
    assert clock.china_text(datetime(2026, 12, 1, 9, 15)) == "2026-12-01 17:15"


def test_an_aware_time_is_converted_whatever_its_zone():
    tokyo = timezone(timedelta(hours=9))
    assert clock.china_text(datetime(2026, 12, 1, 18, 15, tzinfo=tokyo)) == "2026-12-01 17:15"
    assert clock.china_text(datetime(2026, 12, 1, 17, 15, tzinfo=CHINA)) == "2026-12-01 17:15"
    assert clock.china_text(datetime(2026, 12, 1, 9, 15, tzinfo=UTC)) == "2026-12-01 17:15"


def test_the_text_takes_a_format():
    assert clock.china_text(datetime(2026, 12, 1, 9, 15, 7), "%Y-%m-%d %H:%M:%S") == "2026-12-01 17:15:07"
    assert clock.china_text(NEW_YEAR_UTC, "%Y-%m") == "2027-01"


def test_16_00_utc_on_new_years_eve_is_new_year_in_china():
    assert clock.china_text(NEW_YEAR_UTC) == "2027-01-01 00:00"
    assert clock.china_date(NEW_YEAR_UTC) == date(2027, 1, 1)
    assert clock.china_date(NEW_YEAR_UTC - timedelta(seconds=1)) == date(2026, 12, 31)


def test_the_china_date_of_an_aware_time():
    assert clock.china_date(datetime(2026, 12, 31, 23, 30, tzinfo=CHINA)) == date(2026, 12, 31)
    assert clock.china_date(datetime(2026, 12, 31, 16, 30, tzinfo=UTC)) == date(2027, 1, 1)


def test_a_china_day_begins_at_16_00_utc_the_day_before():
    assert clock.china_midnight(date(2026, 3, 1)) == datetime(2026, 2, 28, 16, 0)
    assert clock.china_midnight(date(2027, 1, 1)) == NEW_YEAR_UTC


@pytest.mark.parametrize(("at", "start"), [
    (datetime(2026, 12, 5, 15, 59, 59), datetime(2026, 12, 4, 16, 0)),  # 23:59:59 China time
    (datetime(2026, 12, 5, 16, 0), datetime(2026, 12, 5, 16, 0)),  # midnight China time
    (datetime(2026, 12, 5, 16, 0, 1), datetime(2026, 12, 5, 16, 0)),
    (datetime(2026, 12, 6, 1, 0, tzinfo=CHINA), datetime(2026, 12, 5, 16, 0)),  # aware
])
def test_the_china_day_an_instant_falls_on_starts_as_naive_utc(at, start):
    assert clock.china_day_start(at) == start


def test_a_china_month_is_bounded_by_its_first_and_the_next_months_first_china_midnight():
    assert clock.china_month(2026, 11) == (datetime(2026, 10, 31, 16, 0), datetime(2026, 11, 30, 16, 0))


def test_december_ends_at_the_next_years_january():
    assert clock.china_month(2026, 12) == (datetime(2026, 11, 30, 16, 0), NEW_YEAR_UTC)
    assert clock.china_month(2027, 1)[0] == NEW_YEAR_UTC


def test_february_of_a_leap_year_has_29_china_days():
    start, end = clock.china_month(2028, 2)
    assert end - start == timedelta(days=29)


def test_an_aware_time_becomes_naive_utc_and_a_naive_one_stays():
    assert clock.naive_utc(datetime(2027, 1, 1, 0, 0, tzinfo=CHINA)) == NEW_YEAR_UTC
    assert clock.naive_utc(NEW_YEAR_UTC) is NEW_YEAR_UTC
