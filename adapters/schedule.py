"""When adapters are due (同步调度): each adapter file's schedule against its latest run.

When an adapter is due, from the start of its last run in ``sync_run`` (any run: scheduled,
``govshare sync run``, succeeded or failed, from any process)::

    schedule = "15m"            15 minutes after the last run started; never run: at once
    schedule = "0 2 * * *"      the first 02:00 after the last run started; never run: the next 02:00

Cron expressions are read in China time (UTC+8, the time the departments keep), with the
usual five fields and Vixie cron's rule that when both day of month and day of week are
restricted, a day matching either one is due.  A due time already past — the server was
down over one or many slots — means one run now, and the next due time counts from it: an
overdue adapter catches up once, not once per missed slot.  An adapter without a schedule
runs only by hand.  The thread that runs them is :mod:`adapters.scheduler`'s; ``govshare sync
status`` shows the same plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.clock import OFFSET
from registry.errors import AdapterConfigError
from registry.models import SyncRun

from .config import AdapterConfig, Schedule, load_adapter

_CRON_YEARS = 5  # how far ahead a cron time is looked for ("0 0 29 2 1" can take years; "0 0 31 2 *" never comes)
_MINUTE = timedelta(minutes=1)


# -- when an adapter is due -----------------------------------------------------------------------

def next_due(schedule: Schedule, last: datetime | None, now: datetime) -> datetime | None:
    """When an adapter with ``schedule`` whose last run started at ``last`` is due (naive UTC).

    A time at or before ``now`` means due now.  None: a cron expression no date matches.
    """
    if schedule.interval is not None:
        return now if last is None else last + schedule.interval
    return cron_after(schedule, last if last is not None else now)


def cron_after(schedule: Schedule, after: datetime) -> datetime | None:
    """The first minute strictly after ``after`` (naive UTC) that the cron ``schedule`` names, as naive UTC."""
    assert schedule.cron is not None
    minutes, hours, days, months, weekdays = schedule.cron
    fields = schedule.text.split()
    day_star, weekday_star = fields[2].startswith("*"), fields[4].startswith("*")
    start = (after.replace(tzinfo=None) + OFFSET).replace(second=0, microsecond=0) + _MINUTE
    day = start.date()
    for _ in range(366 * _CRON_YEARS):
        if day.month in months and _day_matches(day, days, weekdays, day_star, weekday_star):
            first_day = day == start.date()
            for hour in sorted(hours):
                if first_day and hour < start.hour:
                    continue
                for minute in sorted(minutes):
                    if first_day and hour == start.hour and minute < start.minute:
                        continue
                    return datetime(day.year, day.month, day.day, hour, minute) - OFFSET
        day += timedelta(days=1)
    return None


def _day_matches(day, days: frozenset[int], weekdays: frozenset[int], day_star: bool, weekday_star: bool) -> bool:
    weekday = (day.weekday() + 1) % 7  # cron: 0 (and 7) is Sunday; Python: 0 is Monday
    by_weekday = weekday in weekdays or (weekday == 0 and 7 in weekdays)
    by_day = day.day in days
    if not day_star and not weekday_star:
        return by_day or by_weekday
    return by_day and by_weekday


def last_starts(session: Session) -> dict[str, datetime]:
    """The start of each adapter's latest run, by adapter name."""
    return dict(session.execute(select(SyncRun.adapter, func.max(SyncRun.started)).group_by(SyncRun.adapter)).all())


@dataclass(frozen=True)
class Plan:
    """One adapter's place in the schedule."""

    config: AdapterConfig
    last: datetime | None  # start of its latest run (or attempt), naive UTC
    due: datetime | None  # None: no schedule, or a cron expression no date matches

    def is_due(self, now: datetime) -> bool:
        return self.due is not None and self.due <= now


def plan(session: Session, configs: list[AdapterConfig], now: datetime,
         attempts: dict[str, datetime] | None = None) -> list[Plan]:
    """Each adapter's next due time, from its latest run in ``sync_run`` (or a later ``attempts`` entry)."""
    starts, attempts = last_starts(session), attempts or {}
    plans = []
    for config in configs:
        times = [t for t in (starts.get(config.name), attempts.get(config.name)) if t is not None]
        last = max(times) if times else None
        due = next_due(config.schedule, last, now) if config.schedule is not None else None
        plans.append(Plan(config, last, due))
    return plans


# -- adapter files --------------------------------------------------------------------------------

def load_folder(folder: Path | str) -> tuple[list[AdapterConfig], list[AdapterConfigError]]:
    """The adapter files of ``folder`` that load, and the problems of those that do not.

    Unlike :func:`adapters.config.load_adapters`, one bad file does not stop the others; a
    second file using a name already taken is a problem of that second file.
    """
    configs: list[AdapterConfig] = []
    errors: list[AdapterConfigError] = []
    seen: dict[str, Path] = {}
    for path in sorted(Path(folder).glob("*.toml")):
        try:
            config = load_adapter(path)
        except AdapterConfigError as exc:
            errors.append(exc)
            continue
        if config.name in seen:
            errors.append(AdapterConfigError(path, "name", f"adapter name {config.name!r} is also used by "
                                                           f"{seen[config.name]}"))
            continue
        seen[config.name] = path
        configs.append(config)
    return configs, errors
