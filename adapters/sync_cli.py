"""``govshare sync``: run department adapters and look at their runs.

    govshare sync run gaj-household [--full] [--no-progress]
    govshare sync all [--full] [--no-progress]
    govshare sync status                         # each adapter's schedule, next due time and last run
    govshare sync history gaj-household
    govshare sync check gaj-household
    govshare sync run gaj-household --user admin # as an account (its roles), not as the platform's operator

Each command is the action of the same name (:mod:`adapters.sync`), run as the platform's
operator or as ``--user`` and recorded in the audit log with channel ``cli``.  ``check``
compares the source, mapped and validated as a run would, with the core now and exits with
status 1 when they differ: what this source contributes, field by field, under the
priorities of the comparison across sources (比对) - a field a higher-priority department's
value holds is not a difference.

Adapter files are read from ``$GOVSHARE_ADAPTERS`` (default: ``adapters/departments``).
A run that fails — a source down, a reconciliation that does not add up — prints why and
exits with status 1; an unknown adapter, a file that does not load, a run already under way
or a role that may not run adapters exit with status 2.

``run`` and ``all`` show their progress on stderr (:mod:`adapters.progress`): records read,
rate and, for database sources, which are counted first with the run's own WHERE, an ETA.
The summary line on stdout stays one line per run::

    #3 gaj-household incremental succeeded  read 4000 = loaded 3702 + unchanged 0 + quarantined 210 + filtered 88
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from registry.clock import china_text, utcnow
from registry.errors import EXIT_USER, GovshareError, SourceError
from registry.models import SyncRun
from registry.settings import Settings
from trust import console

from . import sync
from .pipeline import Report, Tally
from .progress import ProgressLine
from .schedule import Plan, load_folder
from .sources import open_source
from .sync import adapters_folder

EXIT = ("exit status: 0 done; 2 an unknown adapter, an adapter file that does not load, a run already under way, "
        "or a role that may not; 1 the run or check could not complete (a source down, a reconciliation that "
        "does not add up)")


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("sync", help="同步: run department adapters, show their runs")
    commands = group.add_subparsers(dest="sync_command", required=True, metavar="COMMAND")
    acting = argparse.ArgumentParser(add_help=False)
    acting.add_argument("--user", metavar="USERNAME", help="act as this account (default: the platform's operator)")

    def command(name: str, handler, help_text: str, exit_text: str = EXIT) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, parents=[acting], help=help_text, epilog=exit_text)
        parser.set_defaults(handler=handler)
        return parser

    run = command("run", _run, "run one adapter now")
    run.add_argument("name")
    run.add_argument("--full", action="store_true", help="read every source row, not only changed ones")
    run.add_argument("--no-progress", dest="progress", action="store_false", help="no progress lines on stderr")
    every = command("all", _all, "run every adapter once",
                    "exit status: 0 every run succeeded; 2 an adapter file does not load (nothing runs), or a role "
                    "that may not; 1 a run could not complete (the others still run)")
    every.add_argument("--full", action="store_true")
    every.add_argument("--no-progress", dest="progress", action="store_false")
    command("status", _status, "each adapter's schedule, next due time and last run",
            "exit status: 0 every adapter file loads; 2 a file does not load (the others are shown), or a role "
            "that may not")
    history = command("history", _history, "the runs of one adapter, newest first")
    history.add_argument("name")
    history.add_argument("--limit", type=int, default=20)
    check = command("check", _check, "一致性核查: compare an adapter's source with the core now",
                    "exit status: 0 source and core agree; 1 they differ, or the check could not complete (a "
                    "source down); 2 an unknown adapter, a file that does not load, or a role that may not")
    check.add_argument("name")


class _RunProgress:
    """The ``progress`` callback of a run: a progress line fed with the committed tally.

    The total is counted when the first chunk has committed, as only then is the run's
    starting watermark in ``sync_run``; counting with the same WHERE as the run's query
    gives the rows this run reads.
    """

    def __init__(self, sessions: sessionmaker[Session], name: str) -> None:
        self.sessions, self.name = sessions, name
        self.line = ProgressLine(name)
        self._counted = False

    def __call__(self, tally: Tally) -> None:
        if not self._counted:
            self._counted = True
            self.line.total = self._total()
        self.line.update(tally.read, f"loaded {tally.loaded:,}, quarantined {tally.quarantined:,}")

    def _total(self) -> int | None:
        with self.sessions() as session:
            run = session.scalar(select(SyncRun).where(SyncRun.adapter == self.name, SyncRun.status == "running")
                                 .order_by(SyncRun.id.desc()).limit(1))
        since = run.watermark_from if run is not None and run.mode == "incremental" else None
        try:
            source = open_source(sync.adapter_config(self.name))
        except GovshareError:  # no ETA then; the run itself reports the file or the source
            return None
        try:
            return source.count(since)
        except (SQLAlchemyError, SourceError, OSError):
            return None
        finally:
            source.close()


def _run_one(args, sessions: sessionmaker[Session], settings: Settings, name: str) -> int:
    """Run adapter ``name`` through ``sync.run``; its exit status."""

    def work() -> None:
        progress = _RunProgress(sessions, name) if args.progress else None
        try:
            print(sync.run(console.context(sessions, settings, args.user), adapter=name, full=args.full,
                           progress=progress).summary())
        finally:
            if progress is not None:
                progress.line.finish()

    return console.run(work)


def _run(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    return _run_one(args, sessions, settings, args.name)


def _all(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    configs, errors = load_folder(adapters_folder())
    if errors:  # as before any run: one wrong file stops them all
        for error in errors:
            print(f"error: {error}", file=sys.stderr)
        return EXIT_USER
    return max((_run_one(args, sessions, settings, config.name) for config in configs), default=0)


def _status(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    """Every adapter file: its schedule and next due time, its last run; a file that does not
    load is listed with its problems (and the exit status is 2), the others still show."""

    def work() -> int:
        found = sync.status(console.context(sessions, settings, args.user))
        now = utcnow()
        for adapter in found.adapters:
            print(_schedule_line(adapter.plan, now))
            print("  " + (adapter.last.summary() if adapter.last is not None else "never run"))
        for problem in found.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_USER if found.problems else 0

    return console.run(work)


def _schedule_line(entry: Plan, now: datetime) -> str:
    schedule = entry.config.schedule
    if schedule is None:
        return f"{entry.config.name}: no schedule (runs only by hand)"
    kind = f"every {schedule.text}" if schedule.interval is not None else f"cron {schedule.text!r} (China time)"
    if entry.due is None:
        return f"{entry.config.name}: {kind}, never due (no date matches)"
    if entry.last is None and schedule.interval is not None:
        return f"{entry.config.name}: {kind}, never run: due at once"
    local = china_text(entry.due, "%Y-%m-%d %H:%M:%S")
    due = f"next due {entry.due.isoformat(sep=' ')}Z ({local} China time)"
    if entry.due <= now:
        due += ", overdue: the server's scheduler runs it at its next tick"
    return f"{entry.config.name}: {kind}, {due}"


def _history(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        for run in sync.history(console.context(sessions, settings, args.user), adapter=args.name, limit=args.limit):
            print(f"{run.started.isoformat()}Z  " + run.summary())

    return console.run(work)


def _check(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> int:
        report = sync.check(console.context(sessions, settings, args.user), adapter=args.name)
        print(_report(args.name, report))
        return 0 if report.consistent else 1

    return console.run(work)


def _report(name: str, report: Report) -> str:
    lines = [f"{name}: {'consistent' if report.consistent else 'INCONSISTENT'}  same {report.same}, differing "
             f"{report.differing}, source only {report.source_only}, core only {report.core_only}, "
             f"quarantined {report.quarantined}"]
    for kind, keys in report.examples.items():
        if keys:
            lines.append(f"  {kind.replace('_', ' ')}: {', '.join(keys)}" + (" ..." if getattr(report, kind) > len(keys)
                                                                           else ""))
    return "\n".join(lines)
