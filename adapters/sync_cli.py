"""``govshare sync``: run department adapters and look at their runs.

    govshare sync run gaj-household [--full] [--no-progress]
    govshare sync all [--full] [--no-progress]
    govshare sync status                         # each adapter's schedule, next due time and last run
    govshare sync history gaj-household
    govshare sync check gaj-household

``check`` compares the source, mapped and validated as a run would, with the core now and
exits with status 1 when they differ: what this source contributes, field by field, under the
priorities of the comparison across sources (比对) - a field a higher-priority department's
value holds is not a difference.

Adapter files are read from ``$GOVSHARE_ADAPTERS`` (default: ``adapters/departments``).
A run that fails — a source down, a reconciliation that does not add up — prints why and
exits with status 1.

``run`` and ``all`` show their progress on stderr (:mod:`adapters.progress`): records read,
rate and, for database sources, which are counted first with the run's own WHERE, an ETA.
The summary line on stdout stays one line per run::

    #3 gaj-household incremental succeeded  read 4000 = loaded 3702 + unchanged 0 + quarantined 210 + filtered 88
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from registry.clock import utcnow
from registry.models import SyncRun
from registry.settings import Settings
from xsd.rules import CHINA

from .config import AdapterConfig, AdapterConfigError, load_adapters
from .pipeline import Report, SyncError, Tally, consistency, run_adapter
from .progress import ProgressLine
from .scheduler import Plan, load_folder, plan
from .sources import SourceError, open_source

DEFAULT_FOLDER = Path(__file__).resolve().parent / "departments"


def adapters_folder() -> Path:
    return Path(os.environ.get("GOVSHARE_ADAPTERS", str(DEFAULT_FOLDER)))


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("sync", help="同步: run department adapters, show their runs")
    commands = group.add_subparsers(dest="sync_command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run one adapter now")
    run.add_argument("name")
    run.add_argument("--full", action="store_true", help="read every source row, not only changed ones")
    run.add_argument("--no-progress", dest="progress", action="store_false", help="no progress lines on stderr")
    run.set_defaults(handler=_run)
    every = commands.add_parser("all", help="run every adapter once")
    every.add_argument("--full", action="store_true")
    every.add_argument("--no-progress", dest="progress", action="store_false")
    every.set_defaults(handler=_all)
    commands.add_parser("status", help="each adapter's schedule, next due time and last run").set_defaults(
        handler=_status)
    history = commands.add_parser("history", help="the runs of one adapter, newest first")
    history.add_argument("name")
    history.add_argument("--limit", type=int, default=20)
    history.set_defaults(handler=_history)
    check = commands.add_parser("check", help="一致性核查: compare an adapter's source with the core now")
    check.add_argument("name")
    check.set_defaults(handler=_check)


def _configs():
    try:
        return {c.name: c for c in load_adapters(adapters_folder())}
    except AdapterConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _line(run: SyncRun) -> str:
    return (f"#{run.id} {run.adapter} {run.mode} {run.status}  read {run.read} = loaded {run.loaded} + unchanged "
            f"{run.unchanged} + quarantined {run.quarantined} + filtered {run.filtered}"
            + (f", deleted {run.deleted}" if run.deleted else "")
            + (f"  ({run.message})" if run.message else ""))


class _RunProgress:
    """The ``progress`` callback of a run: a progress line fed with the committed tally.

    The total is counted when the first chunk has committed, as only then is the run's
    starting watermark in ``sync_run``; counting with the same WHERE as the run's query
    gives the rows this run reads.
    """

    def __init__(self, sessions: sessionmaker[Session], config: AdapterConfig) -> None:
        self.sessions, self.config = sessions, config
        self.line = ProgressLine(config.name)
        self._counted = False

    def __call__(self, tally: Tally) -> None:
        if not self._counted:
            self._counted = True
            self.line.total = self._total()
        self.line.update(tally.read, f"loaded {tally.loaded:,}, quarantined {tally.quarantined:,}")

    def _total(self) -> int | None:
        with self.sessions() as session:
            run = session.scalar(select(SyncRun).where(SyncRun.adapter == self.config.name,
                                                       SyncRun.status == "running")
                                 .order_by(SyncRun.id.desc()).limit(1))
        since = run.watermark_from if run is not None and run.mode == "incremental" else None
        source = open_source(self.config)
        try:
            return source.count(since)
        except (SQLAlchemyError, SourceError, OSError):  # no ETA then; the run itself reports the source
            return None
        finally:
            source.close()


def _run_one(sessions, settings, config, full: bool, progress: bool = True) -> int:
    shown = _RunProgress(sessions, config) if progress else None
    try:
        run = run_adapter(sessions, settings, config, full=full, progress=shown)
    except (SyncError, OSError, RuntimeError) as exc:
        if shown is not None:
            shown.line.finish()
        print(f"error: {config.name}: {exc}", file=sys.stderr)
        return 1
    if shown is not None:
        shown.line.finish()
    print(_line(run))
    return 0


def _config(name: str):
    """The adapter called ``name``, or exit 2 naming the ones there are."""
    configs = _configs()
    if name not in configs:
        print(f"error: no adapter {name!r} in {adapters_folder()}; there are: {', '.join(sorted(configs))}",
              file=sys.stderr)
        raise SystemExit(2)
    return configs[name]


def _run(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    return _run_one(sessions, settings, _config(args.name), args.full, args.progress)


def _all(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    results = [_run_one(sessions, settings, config, args.full, args.progress) for config in _configs().values()]
    return max(results, default=0)


def _status(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    """Every adapter file: its schedule and next due time (as the server's scheduler sees it), its last run.

    A file that does not load is listed with its problems (and the exit status is 2); the others still show.
    """
    configs, errors = load_folder(adapters_folder())
    now = utcnow()
    with sessions() as session:
        plans = {p.config.name: p for p in plan(session, configs, now)}
        for name in sorted(plans):
            print(_schedule_line(plans[name], now))
            run = session.scalar(select(SyncRun).where(SyncRun.adapter == name).order_by(SyncRun.id.desc()).limit(1))
            print("  " + (_line(run) if run is not None else "never run"))
    for exc in errors:
        print(f"error: {exc}", file=sys.stderr)
    return 2 if errors else 0


def _schedule_line(entry: Plan, now: datetime) -> str:
    schedule = entry.config.schedule
    if schedule is None:
        return f"{entry.config.name}: no schedule (runs only by hand)"
    kind = f"every {schedule.text}" if schedule.interval is not None else f"cron {schedule.text!r} (China time)"
    if entry.due is None:
        return f"{entry.config.name}: {kind}, never due (no date matches)"
    if entry.last is None and schedule.interval is not None:
        return f"{entry.config.name}: {kind}, never run: due at once"
    local = (entry.due + CHINA.utcoffset(None)).strftime("%Y-%m-%d %H:%M:%S")
    due = f"next due {entry.due.isoformat(sep=' ')}Z ({local} China time)"
    if entry.due <= now:
        due += ", overdue: the server's scheduler runs it at its next tick"
    return f"{entry.config.name}: {kind}, {due}"


def _history(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    with sessions() as session:
        runs = session.scalars(select(SyncRun).where(SyncRun.adapter == args.name)
                               .order_by(SyncRun.id.desc()).limit(args.limit)).all()
    for run in runs:
        print(f"{run.started.isoformat()}Z  " + _line(run))
    return 0


def _check(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    config = _config(args.name)
    try:
        report = consistency(sessions, settings, config)
    except (SyncError, OSError, RuntimeError) as exc:
        print(f"error: {config.name}: {exc}", file=sys.stderr)
        return 1
    print(_report(config.name, report))
    return 0 if report.consistent else 1


def _report(name: str, report: Report) -> str:
    lines = [f"{name}: {'consistent' if report.consistent else 'INCONSISTENT'}  same {report.same}, differing "
             f"{report.differing}, source only {report.source_only}, core only {report.core_only}, "
             f"quarantined {report.quarantined}"]
    for kind, keys in report.examples.items():
        if keys:
            lines.append(f"  {kind.replace('_', ' ')}: {', '.join(keys)}" + (" ..." if getattr(report, kind) > len(keys)
                                                                           else ""))
    return "\n".join(lines)
