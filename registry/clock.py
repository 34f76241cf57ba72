"""The platform's one notion of now, and China time (北京时间) in which people read every time it shows.

Two representations of an instant are in use: the database's naive UTC datetimes (second
precision, portable across databases) and the aware datetimes of the formats and the wire.
Every function below takes either; a naive datetime is read as UTC.  China has kept UTC+8 all
year since 1991, so China time is a fixed offset::

    >>> china_text(datetime(2026, 12, 31, 16, 30))          # naive UTC
    '2027-01-01 00:30'
    >>> china_month(2026, 12)                               # [start, end) as naive UTC
    (datetime.datetime(2026, 11, 30, 16, 0), datetime.datetime(2026, 12, 31, 16, 0))
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

#: China Standard Time (UTC+8)
OFFSET = timedelta(hours=8)
CHINA = timezone(OFFSET, "CST")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def naive_utc(at: datetime) -> datetime:
    """``at`` as naive UTC: an aware time converted, a naive one (UTC already) as it is."""
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo is not None else at


def china_text(at: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """The instant ``at`` as people in China read it, in the ``strftime`` format ``fmt``."""
    return (naive_utc(at) + OFFSET).strftime(fmt)


def china_date(at: datetime) -> date:
    """The calendar date in China at the instant ``at``."""
    return (naive_utc(at) + OFFSET).date()


def china_midnight(day: date) -> datetime:
    """The naive UTC instant at which the China day ``day`` begins."""
    return datetime(day.year, day.month, day.day) - OFFSET


def china_day_start(at: datetime) -> datetime:
    """The start of the China day that the instant ``at`` falls on, as naive UTC."""
    return china_midnight(china_date(at))


def china_month(year: int, month: int) -> tuple[datetime, datetime]:
    """The naive UTC bounds [start, end) of the China month ``year``-``month``."""
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return china_midnight(date(year, month, 1)), china_midnight(following)
