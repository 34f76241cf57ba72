"""运行总览 (大屏): the platform at a glance, for the screen of an operations hall - one read of what the
other pages show one at a time (``operations.overview``).

    overview(ctx) -> Overview(departments=15, by_mode={"应用系统节点": 12, ...}, resources=48,
                              by_type={"有条件共享": 30, ...}, grants=21, records={"人口基础信息": 1000000, ...},
                              received=[("11-08", {"入库": 480, ...}), ...], calls=[("11-08", 1200, 3), ...],
                              calls_today=..., top=[("临江市公安局", 7), ...], latest=(Entry(...), ...),
                              alerts=[Alert(...), ...])

- **departments**: the member departments in service (not suspended), by 接入方式;
- **resources**: the published catalogue entries, by 共享类型; the grants in force now;
- **records**: the current records of each base database (基础信息库) at the centre;
- **received**: the records the exchange received per China day over the last ``DAYS`` days (as 交换监控);
- **calls**: the SOAP requests per China day over the same days, and how many failed (as 运行监测);
- **top**: the departments publishing most; **latest**: the resources published or changed last;
- **alerts**: every alert now (告警).

It is one action, audited once, for a page that refreshes itself every minute.  What is costly at a city's
size is read less often: a day of calls once it has ended (per process), the base databases' records every
``RECORDS_SECONDS`` (600).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from adapters.monitoring import DAYS, SERIES, daily_volumes
from directory.catalogue.search import find
from directory.catalogue.workflow import PUBLISHED, Entry
from governance import alerts
from governance.onboarding import ACTIVE, CONNECTION_MODES
from governance.sharing import in_force
from registry import request_log
from registry.clock import OFFSET, china_day_start
from registry.models import CatalogueEntry, CoreRecord, Department, RequestRecord, SharingGrant
from trust.actions import Context, action
from xsd.registry import formats

#: how many departments the ranking and how many resources the latest list show
TOP = 10
LATEST = 8
#: seconds a process keeps its count of the base databases' current records before counting again
RECORDS_SECONDS = 600
#: seconds a process keeps the calls of the days that have ended (a database restored under it heals)
ENDED_SECONDS = 3600
DAY_MS = request_log.DAY_MS
EPOCH = datetime(1970, 1, 1)

_LOCK = threading.Lock()
#: (database, a China day's start) -> (when counted, monotonic; requests; failed) of a day that has ended
_ENDED_DAYS: dict[tuple[str, datetime], tuple[float, int, int]] = {}
#: database -> (when counted, monotonic; the counts; when counted, naive UTC)
_COUNTED: dict[str, tuple[float, dict[str, int], datetime]] = {}


@dataclass(frozen=True)
class Overview:
    at: datetime  # naive UTC
    departments: int
    by_mode: dict[str, int]  # 接入方式 (its name) -> departments in service
    resources: int
    by_type: dict[str, int]  # 共享类型 -> published entries
    grants: int  # in force now
    records: dict[str, int]  # base database (its name) -> current records
    records_counted: datetime  # when (naive UTC): they are counted every RECORDS_SECONDS at most
    received: list[tuple[str, dict[str, int]]]  # ("MM-DD", {"入库": n, "未变": n, "隔离": n}), every day, oldest first
    calls: list[tuple[str, int, int]]  # ("MM-DD", requests, failed), oldest first
    top: list[tuple[str, str, int]]  # (code, name, published entries), most first
    latest: tuple[Entry, ...]
    alerts: list[alerts.Alert]

    @property
    def calls_today(self) -> tuple[int, int]:
        return self.calls[-1][1:] if self.calls else (0, 0)


@action("operations.overview", read_only=True)
def overview(ctx: Context) -> Overview:
    """The platform at a glance now (see the module)."""
    session, now = ctx.session, ctx.now.replace(tzinfo=None)
    since = china_day_start(now) - timedelta(days=DAYS - 1)
    by_mode = {CONNECTION_MODES.get(mode, mode): n for mode, n in session.execute(
        select(Department.connection_mode, func.count()).where(Department.status == ACTIVE)
        .group_by(Department.connection_mode).order_by(func.count().desc()))}
    by_type = dict(session.execute(select(CatalogueEntry.sharing_type, func.count())
                                   .where(CatalogueEntry.status == PUBLISHED).group_by(CatalogueEntry.sharing_type))
                   .all())
    grants = session.scalar(select(func.count()).select_from(SharingGrant).where(*in_force(now))) or 0
    records, counted = _records(session, now)
    top = [tuple(row) for row in session.execute(
        select(Department.code, Department.name, func.count()).join(CatalogueEntry, CatalogueEntry.provider_id ==
                                                                    Department.id)
        .where(CatalogueEntry.status == PUBLISHED).group_by(Department.code, Department.name)
        .order_by(func.count().desc(), Department.code).limit(TOP))]
    latest = find(session, [CatalogueEntry.status == PUBLISHED], (), page_size=LATEST, counts=False,
                  sort="modified").entries
    ctx.note(record_count=sum(records.values()))
    calls = _calls(session, since, now)
    per_day = dict(daily_volumes(session, since))
    received = [(day, per_day.get(day, dict.fromkeys(SERIES, 0))) for day, *_ in calls]  # every day, as the calls
    return Overview(now, sum(by_mode.values()), by_mode, sum(by_type.values()), by_type, grants, records, counted,
                    received, calls, top, latest, alerts.current(session, ctx.settings, now))


def _calls(session: Session, since: datetime, now: datetime) -> list[tuple[str, int, int]]:
    """SOAP requests and failures per China day from ``since`` (a China midnight, naive UTC) to ``now``,
    every day listed.  A day that has ended is counted once per process and kept (its requests are all
    written); today is counted at every read."""
    database, clock = _database(session), time.monotonic()
    today = china_day_start(now)
    days = [since + timedelta(days=d) for d in range((today - since).days + 1)]
    missing = [day for day in days[:-1] if clock - _ENDED_DAYS.get((database, day), (-ENDED_SECONDS,))[0]
               >= ENDED_SECONDS]
    if missing:
        counted = _count_calls(session, missing[0], today)
        with _LOCK:
            for day in missing:
                _ENDED_DAYS[(database, day)] = (clock, *counted.get(day, (0, 0)))
            for key in [key for key in _ENDED_DAYS if key[0] == database and key[1] < since]:
                del _ENDED_DAYS[key]
    live = _count_calls(session, today, None).get(today, (0, 0))
    return [((day + OFFSET).strftime("%m-%d"), *(_ENDED_DAYS[(database, day)][1:] if day != today else live))
            for day in days]


def _count_calls(session: Session, start: datetime, end: datetime | None) -> dict[datetime, tuple[int, int]]:
    """(requests, failed) per China day (its start, naive UTC) of the requests in [start, end)."""
    start_ms = int((start - EPOCH).total_seconds() * 1000)
    bucket = (RequestRecord.started_ms - start_ms) // DAY_MS
    where = [RequestRecord.started_ms >= start_ms]
    if end is not None:
        where.append(RequestRecord.started_ms < int((end - EPOCH).total_seconds() * 1000))
    return {start + timedelta(days=int(day)): (n, failed or 0) for day, n, failed in session.execute(
        select(bucket, func.count(), func.sum(case((RequestRecord.result != "ok", 1), else_=0)))
        .where(*where).group_by(bucket))}


def _records(session: Session, now: datetime) -> tuple[dict[str, int], datetime]:
    """The current records of each base database, and when they were counted: counted again once
    RECORDS_SECONDS have passed since (every current record of a city's base databases is millions)."""
    database = _database(session)
    kept = _COUNTED.get(database)
    if kept is not None and time.monotonic() - kept[0] < RECORDS_SECONDS:
        return kept[1], kept[2]
    titles = {f.name: f.title for f in formats()}
    counts = {titles.get(base, base): n for base, n in session.execute(
        select(CoreRecord.base, func.count()).where(CoreRecord.effective_to.is_(None), CoreRecord.deleted.is_(False))
        .group_by(CoreRecord.base).order_by(CoreRecord.base))}
    with _LOCK:
        _COUNTED[database] = (time.monotonic(), counts, now)
    return counts, now


def forget() -> None:
    """Count everything again at the next read (a database emptied or restored under the process: the
    tests)."""
    with _LOCK:
        _ENDED_DAYS.clear()
        _COUNTED.clear()


def _database(session: Session) -> str:
    return session.get_bind().url.render_as_string(hide_password=True)
