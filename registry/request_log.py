"""Operational monitoring's records (运行监测): one row of ``request_log`` per SOAP request, written off
the request's thread.

    {"service": "/exchange", "operation": "QueryRecords", "department_code": "330100000002",
     "user": None, "certificate_serial": "5f3a...", "system_code": "GAJ-RK", "resource_code": "101001/000002",
     "started_ms": 1796522402117, "ended_ms": 1796522402131, "duration_ms": 14,
     "request_bytes": 812, "response_bytes": 2301, "result": "ok", "client": "10.2.0.17"}

The fields are those of X-Road's operational monitoring data, in our terms.  The server's middleware
(``server.monitored``) opens a record when a SOAP request arrives (:func:`begin`) and closes it when
the answer has been sent; in between, whoever learns something of the call says so with :func:`note`:
the transports name the SOAP operation, the action that runs fills the caller and the resource from
its audit event (``trust.actions``).  A note outside a request (the portal, the command line) is
ignored, and what a record already holds is not overwritten (the first action of a call is the call).

The request's thread only appends the finished record to an in-memory queue (:meth:`Writer.append`);
the writer thread inserts the queue in batches, once a second or as soon as ``BATCH`` rows wait.  Records
not yet inserted when the process is killed (SIGKILL, a power cut) are lost, at most about a second's
worth; an orderly stop (SIGTERM, Ctrl-C, a gunicorn worker's exit) inserts them first (:meth:`Writer.stop`,
also run at interpreter exit).  While the database does not answer, records wait in the queue up to
``LIMIT`` rows; beyond that new ones are dropped and counted, and a warning says how many.

Summaries: once a China day has ended (and ``SUMMARY_GRACE`` ms more, for the requests still running
at midnight), :func:`summarise` counts its records per service, operation, consumer, resource and
duration into ``request_day`` (运行监测按日汇总), and marks the day in ``request_day_mark``.  Durations are
kept to within 1/32 (:func:`duration_bin`: exact under 32 ms), so a day's rows are bounded by its
services, operations, consumers and resources, not by its requests: a report by day reads a summarised
day's rows instead of its records, a thirty-fifth of them at a city's 1,000,000 requests a day
(``governance.monitoring``; BENCHMARKS.md).
Each day is summarised once, in one transaction that begins with its mark, so two workers cannot both
write it.  A request that ends more than ``SUMMARY_GRACE`` after the midnight its day ended is in
``request_log`` but not in its day's summary.

Retention: :func:`purge` deletes the records older than ``GOVSHARE_MONITORING_DAYS`` and the summaries
older than ``GOVSHARE_MONITORING_SUMMARY_DAYS``.
"""

from __future__ import annotations

import atexit
import collections
import logging
import threading
import time
import weakref
from contextvars import ContextVar, Token
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, case, delete, exc, func, insert, literal, literal_column, select
from sqlalchemy.orm import Session, sessionmaker

from .clock import OFFSET, utcnow
from .db import unit_of_work
from .models import RequestDay, RequestDayMark, RequestRecord
from .settings import Settings

log = logging.getLogger(__name__)

BATCH = 500  # rows that wake the writer before its second is up
INTERVAL = 1.0  # seconds between the writer's inserts
LIMIT = 100_000  # rows held while the database does not answer
DAY_MS = 86_400_000
CHINA_MS = OFFSET // timedelta(milliseconds=1)
SUMMARY_GRACE = 3_600_000  # ms after a China day's end before it is summarised
BIN_BITS = 4  # a summary's durations: 16 bins a doubling (duration_bin)

#: a record's columns, and what one the request did not fill holds
_COLUMNS: dict[str, Any] = {
    "started_ms": 0, "ended_ms": 0, "duration_ms": 0, "service": "", "operation": "", "department_code": None,
    "user": None, "certificate_serial": None, "system_code": None, "resource_code": None, "request_bytes": 0,
    "response_bytes": 0, "result": "ok", "client": ""}

#: the record of the SOAP request being handled on this thread, if any
_CURRENT: ContextVar[dict[str, Any] | None] = ContextVar("request_record", default=None)

#: what an action's caller and resource fill in (the names of ``audit.AuditEvent``'s fields)
CALLER_FIELDS = ("department_code", "user", "certificate_serial", "system_code", "resource_code")


def begin(record: dict[str, Any]) -> Token:
    """Make ``record`` the current request's record (for :func:`note`) until :func:`end`."""
    return _CURRENT.set(record)


def end(token: Token) -> None:
    _CURRENT.reset(token)


def note(**fields: Any) -> None:
    """Tell the current request's record what it does not know yet (empty values are ignored)."""
    record = _CURRENT.get()
    if record is None:
        return
    for name, value in fields.items():
        if value and not record.get(name):
            record[name] = value


def note_from(known: Any) -> None:
    """The caller and resource an action's audit event (``trust.audit.AuditEvent``) or a verified
    caller (``trust.auth.Caller``) holds."""
    if known is not None and _CURRENT.get() is not None:
        note(**{name: getattr(known, name, None) for name in CALLER_FIELDS})


class Writer:
    """A process's queue of finished records and the daemon thread that inserts them in batches."""

    def __init__(self, engine: Engine, interval: float = INTERVAL, batch: int = BATCH, limit: int = LIMIT):
        self.engine, self.interval, self.batch, self.limit = engine, interval, batch, limit
        self.queue: collections.deque[dict[str, Any]] = collections.deque()
        self.dropped = 0
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        _WRITERS.add(self)

    def append(self, record: dict[str, Any]) -> None:
        """Queue ``record`` (the request's thread: a deque append, no database)."""
        if len(self.queue) >= self.limit:
            self.dropped += 1
            return
        self.queue.append(record)
        if self._thread is None:
            self._start()
        if len(self.queue) >= self.batch:
            self._wake.set()

    def _start(self) -> None:
        with self._start_lock:  # the first request of the process (after gunicorn's fork) starts it
            if self._thread is None and not self._stopping:
                self._thread = threading.Thread(target=self._run, name="request-log", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush()

    def flush(self) -> int:
        """Insert every queued record now; the number inserted.  Rows that the database refused go
        back to the queue's front, to be tried again by the next flush."""
        with self._flush_lock:
            rows: list[dict[str, Any]] = []
            while self.queue:
                rows.append(self.queue.popleft())
            if not rows:
                return 0
            try:
                with self.engine.connect() as connection:
                    connection.execute(insert(RequestRecord), [{name: row.get(name, default) for name, default
                                                                in _COLUMNS.items()} for row in rows])
                    connection.commit()  # and back to the requests' pool: no connection of its own
            except exc.OperationalError as err:  # the database does not answer now: the rows wait
                log.warning("%d operational monitoring records not written yet: %s", len(rows),
                            str(err).splitlines()[0])
                room = max(self.limit - len(self.queue), 0)
                self.queue.extendleft(reversed(rows[:room]))
                self.dropped += len(rows) - min(room, len(rows))
                return 0
            except Exception:  # noqa: BLE001 - a record the table cannot take; the writer thread lives on
                log.exception("%d operational monitoring records could not be written and are dropped", len(rows))
                return 0
            if self.dropped:
                log.warning("%d operational monitoring records were dropped while the database did not answer",
                            self.dropped)
                self.dropped = 0
            return len(rows)

    def stop(self) -> None:
        """Stop the thread and insert what is queued (an orderly shutdown loses nothing)."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self.flush()


_WRITERS: weakref.WeakSet[Writer] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for writer in list(_WRITERS):
        writer.stop()


def clock_ms() -> int:
    """Now, in milliseconds since the Unix epoch (the records' time)."""
    return time.time_ns() // 1_000_000


def purge(sessions: sessionmaker[Session], settings: Settings, *, now_ms: int | None = None) -> int:
    """Delete the records that started more than ``GOVSHARE_MONITORING_DAYS`` days ago (none when it
    is 0), and the daily summaries of days that began more than ``GOVSHARE_MONITORING_SUMMARY_DAYS``
    ago (none when it is 0); the number of records deleted.  A plain function for the job engine and
    ``govshare monitoring purge``."""
    now_ms = clock_ms() if now_ms is None else now_ms
    deleted = 0
    with unit_of_work(sessions) as session:
        if settings.monitoring_days > 0:
            cutoff = now_ms - settings.monitoring_days * DAY_MS
            deleted = session.execute(delete(RequestRecord).where(RequestRecord.started_ms < cutoff)).rowcount or 0
        if settings.monitoring_summary_days > 0:
            cutoff = now_ms - settings.monitoring_summary_days * DAY_MS
            session.execute(delete(RequestDay).where(RequestDay.day_ms < cutoff))
            session.execute(delete(RequestDayMark).where(RequestDayMark.day_ms < cutoff))
    return deleted


def china_day(ms: int) -> int:
    """The first millisecond of the China day (UTC+8) that ``ms`` falls in."""
    return (ms + CHINA_MS) // DAY_MS * DAY_MS - CHINA_MS


def summarise(sessions: sessionmaker[Session], settings: Settings, *, now_ms: int | None = None) -> list[int]:
    """Summarise every China day that ended ``SUMMARY_GRACE`` ago or more, has records and is not
    summarised yet - each in a transaction of its own, begun by its mark (a second worker waits for
    the first's and then leaves the day) - and return the days summarised (their first ms).  A day
    some of whose records were already purged is left as it is: its summary would be short."""
    now_ms = clock_ms() if now_ms is None else now_ms
    last = china_day(now_ms - SUMMARY_GRACE)  # the days before this one have ended long enough ago
    with sessions() as session:
        oldest = session.scalar(select(func.min(RequestRecord.started_ms)))
        if oldest is None:
            return []
        first = china_day(oldest)
        for days in (settings.monitoring_days, settings.monitoring_summary_days):
            if days > 0:  # only days whose records are whole, and whose summary would not be purged
                first = max(first, china_day(now_ms - days * DAY_MS) + DAY_MS)
        marked = set(session.scalars(select(RequestDayMark.day_ms).where(RequestDayMark.day_ms >= first)))
    done = []
    for day in range(first, last, DAY_MS):
        if day not in marked and _summarise_day(sessions, day):
            done.append(day)
    return done


def summarised_line(days: list[int], *, zh: bool = False) -> str:
    """What :func:`summarise` did, in a line (``zh``: in Chinese, for the 后台作业 page)."""
    named = ", ".join(time.strftime("%Y-%m-%d", time.gmtime((day + CHINA_MS) / 1000)) for day in days)
    if zh:
        return f"汇总了 {len(days)} 天的运行监测记录" + (f": {named}" if days else "")
    return f"{len(days)} days of operational records summarised" + (f": {named}" if days else "")


def duration_bin(ms: int) -> int:
    """The duration a summary keeps for ``ms``: ``ms`` itself under ``2 ** (BIN_BITS + 1)`` ms, else the middle of
    its bin - each doubling of the duration is cut into ``2 ** BIN_BITS`` bins, so the bin's middle is
    within ``2 ** -(BIN_BITS + 1)`` (1/32) of ``ms``.  :func:`_binned` is the same in SQL."""
    octave = ms.bit_length() - 1
    if octave <= BIN_BITS:
        return ms
    width = 1 << (octave - BIN_BITS)
    return ms // width * width + width // 2


def _binned(duration):
    """:func:`duration_bin` of a column, in SQL both databases run (integer ``//``, one case a doubling of
    an ``Integer``; the numbers written into the statement, so that it groups by the same expression)."""

    def bin_of(octave: int):
        width = literal_column(str(1 << (octave - BIN_BITS)))
        return duration // width * width + literal_column(str(1 << (octave - BIN_BITS - 1)))

    whens = [(duration < literal_column(str(1 << (octave + 1))), bin_of(octave)) for octave in range(BIN_BITS + 1, 30)]
    return case((duration < literal_column(str(1 << (BIN_BITS + 1))), duration), *whens, else_=bin_of(30))


def _summarise_day(sessions: sessionmaker[Session], day: int) -> bool:
    r = RequestRecord
    binned = _binned(r.duration_ms)
    keys = (r.service, r.operation, r.department_code, r.resource_code, binned)
    counted = select(literal(day), *keys, func.count(), func.sum(case((r.result != "ok", 1), else_=0)),
                     func.sum(r.request_bytes), func.sum(r.response_bytes)) \
        .where(r.started_ms >= day, r.started_ms < day + DAY_MS).group_by(*keys)
    try:
        with unit_of_work(sessions) as session:
            session.add(RequestDayMark(day_ms=day, summarised_at=utcnow(), requests=0))
            session.flush()  # the mark first: a second worker summarising the day waits here, then fails
            session.execute(insert(RequestDay).from_select(
                ["day_ms", "service", "operation", "department_code", "resource_code", "duration_ms", "requests",
                 "errors", "bytes_in", "bytes_out"], counted))
            total = session.scalar(select(func.coalesce(func.sum(RequestDay.requests), 0))
                                   .where(RequestDay.day_ms == day))
            session.get(RequestDayMark, day).requests = total
    except exc.IntegrityError:  # another worker summarised it
        return False
    return True
