"""Exchange monitoring (交换监控) as one action: what the 交换监控 page shows.

    overview(ctx) -> Overview(runs=[Run, ...], failed=[Run, ...],
                              volumes=[("12-05", {"入库": 480, "未变": 0, "隔离": 20}), ...],
                              exchange_rules=[("id_number.checksum", 12), ...], adapter_rules=[Group, ...])

``runs`` are the latest sync runs; ``failed`` every run of the last ``DAYS`` days that failed
(a run that could not even start - its department or resource unknown - is one too), so a
failure is seen however many runs came after it; ``volumes`` the records the exchange received
per China day (UTC+8, as the runs' times are shown) over the last ``DAYS`` days, oldest first;
``exchange_rules`` the exchange quarantine by rule, ``adapter_rules`` the adapters' open
quarantine by adapter, stage and rule.  Monitoring is the admin's and the auditor's.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.clock import china_date, china_day_start
from registry.models import InputBatch, QuarantineReason, SyncRun
from trust.actions import Context, action

from .quarantine import Group, groups
from .sync import Run

DAYS = 30
RUNS = 30
SERIES = ("入库", "未变", "隔离")


@dataclass(frozen=True)
class Overview:
    runs: list[Run]
    failed: list[Run]
    volumes: list[tuple[str, dict[str, int]]]
    exchange_rules: list[tuple[str, int]]
    adapter_rules: list[Group]


@action("monitor.overview")
def overview(ctx: Context, *, now: datetime | None = None) -> Overview:
    """Runs, failures, volumes and quarantine counts as of ``now`` (default: the action's time)."""
    session = ctx.session
    now = (now or ctx.now).replace(tzinfo=None)
    since = china_day_start(now) - timedelta(days=DAYS - 1)
    runs = [Run.of(row) for row in session.scalars(select(SyncRun).order_by(SyncRun.id.desc()).limit(RUNS))]
    failed = [Run.of(row) for row in session.scalars(select(SyncRun).where(
        SyncRun.status == "failed", SyncRun.started >= since).order_by(SyncRun.id.desc()))]
    exchange_rules = [(rule, n) for rule, n in session.execute(
        select(QuarantineReason.rule, func.count()).group_by(QuarantineReason.rule)
        .order_by(func.count().desc()).limit(15))]
    ctx.note(record_count=len(runs))
    return Overview(runs, failed, daily_volumes(session, since), exchange_rules, groups(session))


def daily_volumes(session: Session, since: datetime) -> list[tuple[str, dict[str, int]]]:
    """The records the exchange received per China day since ``since`` (naive UTC), each day that received
    any, oldest first: ("MM-DD", {"入库": n, "未变": n, "隔离": n})."""
    per_day: dict[date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SERIES, 0))
    for received_at, accepted, unchanged, quarantined in session.execute(select(
            InputBatch.received_at, InputBatch.accepted, InputBatch.unchanged, InputBatch.quarantined)
            .where(InputBatch.received_at >= since)):
        day = china_date(received_at)
        for name, count in zip(SERIES, (accepted, unchanged, quarantined), strict=True):
            per_day[day][name] += count or 0
    return [(day.strftime("%m-%d"), counts) for day, counts in sorted(per_day.items())]
