"""The sync scheduler (同步调度): runs each adapter when its ``schedule`` says, inside the server.

    govshare serve                              # starts it: one daemon thread
    govshare serve --no-scheduler               # or GOVSHARE_SCHEDULER=0: adapters run only by hand

When an adapter is due, from the start of its last run in ``sync_run`` (any run: scheduled,
``govshare sync run``, succeeded or failed, from any process)::

    schedule = "15m"            15 minutes after the last run started; never run: at once
    schedule = "0 2 * * *"      the first 02:00 after the last run started; never run: the next 02:00

Cron expressions are read in China time (UTC+8, the time the departments keep), with the
usual five fields and Vixie cron's rule that when both day of month and day of week are
restricted, a day matching either one is due.  A due time already past — the server was
down over one or many slots — means one run now, and the next due time counts from it: an
overdue adapter catches up once, not once per missed slot.  An adapter without a schedule
runs only by hand.

Adapters run one at a time on the scheduler's thread, incrementally (delete detection needs
``govshare sync run NAME --full``).  One at a time keeps the load a sync puts on the centre
and on the departments' databases predictable beside the SOAP traffic the server is there
for; a run that meets another run of the same adapter (``AlreadyRunning``, another server
process or a hand-started run) is skipped and counted as an attempt, so the adapter is next
tried at its next due time.  A run that fails is logged and, as always, recorded in
``sync_run``; the others go on.  Adapter files are read again at every tick, so an edited
file takes effect without a restart; a file that does not load is reported once (file and
what is wrong) and skipped.  ``stop()`` ends a run in progress after its next committed
chunk (the run is recorded as failed and the next one resumes from its checkpoint).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from registry.clock import utcnow
from registry.models import SyncRun
from registry.settings import Settings
from xsd.rules import CHINA

from .config import AdapterConfig, AdapterConfigError, Schedule, load_adapter
from .locks import AlreadyRunning
from .pipeline import SyncError, Tally, run_adapter
from .sources import SourceError

log = logging.getLogger(__name__)

POLL = 30.0  # longest sleep between ticks: edited adapter files and runs by other processes are seen this soon
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
    start = (after.replace(tzinfo=None) + _offset()).replace(second=0, microsecond=0) + _MINUTE
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
                    return datetime(day.year, day.month, day.day, hour, minute) - _offset()
        day += timedelta(days=1)
    return None


def _offset() -> timedelta:
    offset = CHINA.utcoffset(None)
    assert offset is not None
    return offset


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


# -- the thread -----------------------------------------------------------------------------------

class ShutdownRequested(RuntimeError):
    """Raised between two chunks of a run when the scheduler stops."""

    def __init__(self) -> None:
        super().__init__("the server is shutting down; the next run resumes from the checkpoint")


class Scheduler:
    """Runs due adapters of ``folder`` on a daemon thread until :meth:`stop`."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, folder: Path | str, *,
                 poll: float = POLL, clock: Callable[[], datetime] = utcnow) -> None:
        self.sessions = sessions
        self.settings = settings
        self.folder = Path(folder)
        self.poll = poll
        self.clock = clock
        # when this process last tried each adapter: a skipped or refused run leaves no sync_run row
        self.attempts: dict[str, datetime] = {}
        self._reported: dict[Path, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Scheduler:
        self._thread = threading.Thread(target=self._loop, name="govshare-scheduler", daemon=True)
        self._thread.start()
        log.info("sync scheduler started: adapter files in %s", self.folder)
        return self

    def stop(self, timeout: float = 30.0) -> bool:
        """Ask the thread to end (a run in progress stops after its next chunk); True if it has."""
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        stopped = not self._thread.is_alive()
        if not stopped:
            log.warning("sync scheduler: still finishing a chunk after %.0f s; leaving it to the process exit",
                        timeout)
        return stopped

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.tick()
            except Exception:  # noqa: BLE001 - the database may be away for a while; the thread must live on
                log.exception("sync scheduler: tick failed; trying again in %.0f s", self.poll)
                wait = self.poll
            self._stop.wait(wait)
        log.info("sync scheduler stopped")

    def tick(self) -> float:
        """Run every adapter that is due now, one after another; seconds until the next is due."""
        configs, now = self.configs(), self.clock()
        with self.sessions() as session:
            due = [p for p in plan(session, configs, now, self.attempts) if p.is_due(now)]
        for entry in sorted(due, key=lambda p: p.due):
            if self._stop.is_set():
                return 0.0
            self.run(entry.config)
        now = self.clock()
        with self.sessions() as session:
            upcoming = [p.due for p in plan(session, configs, now, self.attempts) if p.due is not None]
        if not upcoming:
            return self.poll
        return min(max((min(upcoming) - now).total_seconds(), 0.0), self.poll)

    def configs(self) -> list[AdapterConfig]:
        """The adapter files that load now; each problem reported once, until the file changes."""
        configs, errors = load_folder(self.folder)
        problems = {exc.path: str(exc) for exc in errors}
        for path, text in problems.items():
            if self._reported.get(path) != text:
                log.error("sync scheduler: adapter file skipped until it is fixed:\n%s", text)
        self._reported = problems
        return configs

    def run(self, config: AdapterConfig) -> None:
        """Run ``config`` once now, incrementally; log the outcome, never raise (but for stop)."""
        if self._overtaken(config):
            return
        self.attempts[config.name] = self.clock()
        try:
            run = run_adapter(self.sessions, self.settings, config, progress=self._between_chunks)
        except AlreadyRunning as exc:
            log.info("sync scheduler: %s skipped: %s", config.name, exc)
        except ShutdownRequested:
            log.info("sync scheduler: %s stopped between chunks for shutdown", config.name)
        except (SyncError, SourceError, SQLAlchemyError, OSError) as exc:
            log.error("sync scheduler: %s failed: %s", config.name, exc)
        except Exception:  # noqa: BLE001 - one adapter's bug must not stop the others
            log.exception("sync scheduler: %s failed", config.name)
        else:
            log.info("sync scheduler: %s run #%d %s %s: read %d = loaded %d + unchanged %d + quarantined %d"
                     " + filtered %d", config.name, run.id, run.mode, run.status, run.read, run.loaded,
                     run.unchanged, run.quarantined, run.filtered)

    def _overtaken(self, config: AdapterConfig) -> bool:
        """Whether another process ran ``config`` since this tick planned it (no second run for one slot)."""
        now = self.clock()
        with self.sessions() as session:
            [current] = plan(session, [config], now, self.attempts)
        return not current.is_due(now)

    def _between_chunks(self, tally: Tally) -> None:
        if self._stop.is_set():
            raise ShutdownRequested()


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """``GOVSHARE_SCHEDULER=0`` (or false, no, off) turns the scheduler off."""
    value = (environ if environ is not None else os.environ).get("GOVSHARE_SCHEDULER", "1")
    return value.strip().lower() not in {"0", "false", "no", "off"}
