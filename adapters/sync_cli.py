"""``govshare sync``: run department adapters and look at their runs.

    govshare sync run gaj-household [--full]
    govshare sync all
    govshare sync status
    govshare sync history gaj-household
    govshare sync check gaj-household

``check`` compares the source, mapped and validated as a run would, with the core now and
exits with status 1 when they differ.

Adapter files are read from ``$GOVSHARE_ADAPTERS`` (default: ``adapters/departments``).
A run that fails — a source down, a reconciliation that does not add up — prints why and
exits with status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from registry.models import SyncRun
from registry.settings import Settings

from .config import AdapterConfigError, load_adapters
from .pipeline import Report, SyncError, consistency, run_adapter

DEFAULT_FOLDER = Path(__file__).resolve().parent / "departments"


def adapters_folder() -> Path:
    return Path(os.environ.get("GOVSHARE_ADAPTERS", str(DEFAULT_FOLDER)))


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("sync", help="同步: run department adapters, show their runs")
    commands = group.add_subparsers(dest="sync_command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run one adapter now")
    run.add_argument("name")
    run.add_argument("--full", action="store_true", help="read every source row, not only changed ones")
    run.set_defaults(handler=_run)
    every = commands.add_parser("all", help="run every adapter once")
    every.add_argument("--full", action="store_true")
    every.set_defaults(handler=_all)
    commands.add_parser("status", help="the last run of each adapter").set_defaults(handler=_status)
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


def _run_one(sessions, settings, config, full: bool) -> int:
    try:
        run = run_adapter(sessions, settings, config, full=full)
    except (SyncError, OSError, RuntimeError) as exc:
        print(f"error: {config.name}: {exc}", file=sys.stderr)
        return 1
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
    return _run_one(sessions, settings, _config(args.name), args.full)


def _all(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    results = [_run_one(sessions, settings, config, args.full) for config in _configs().values()]
    return max(results, default=0)


def _status(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    with sessions() as session:
        for name in sorted(_configs()):
            run = session.scalar(select(SyncRun).where(SyncRun.adapter == name).order_by(SyncRun.id.desc()).limit(1))
            print(_line(run) if run is not None else f"{name}: never run")
    return 0


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
