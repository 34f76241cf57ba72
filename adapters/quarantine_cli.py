"""``govshare quarantine``: look at, correct, replay and discard the rows adapters rejected.

    govshare quarantine list [--adapter gaj-household] [--rule code.unmapped] [--status open]
    govshare quarantine show 17
    govshare quarantine correct 17 XB=男
    govshare quarantine replay 17 18            (or: --adapter gaj-household --all)
    govshare quarantine discard 17 --reason "test person, never registered"

Each command calls the function of the same name in ``adapters.quarantine``.  A request the
quarantine refuses (an unknown item, a discarded item, a missing reason) prints why and
exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from registry.db import unit_of_work
from registry.settings import Settings

from . import quarantine
from .config import AdapterConfig, AdapterConfigError, load_adapters
from .sync_cli import adapters_folder

Handler = Callable[[argparse.Namespace, sessionmaker[Session], Settings], int]


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("quarantine", help="隔离区: list, correct, replay or discard rejected source rows")
    commands = group.add_subparsers(dest="quarantine_command", required=True, metavar="COMMAND")
    listing = commands.add_parser("list", help="quarantined rows, oldest first, with a summary by rule")
    listing.add_argument("--adapter")
    listing.add_argument("--rule")
    listing.add_argument("--status", default="open", choices=(*quarantine.STATUSES, "all"))
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(handler=_refusals_exit_2(_list))
    show = commands.add_parser("show", help="one row: its source columns, problem and correction")
    show.add_argument("id", type=int)
    show.set_defaults(handler=_refusals_exit_2(_show))
    correct = commands.add_parser("correct", help="correct source columns and check the row again")
    correct.add_argument("id", type=int)
    correct.add_argument("values", nargs="+", metavar="COLUMN=VALUE")
    correct.set_defaults(handler=_refusals_exit_2(_correct))
    replay = commands.add_parser("replay", help="load corrected rows through the exchange as one batch")
    replay.add_argument("ids", nargs="*", type=int, metavar="ID")
    replay.add_argument("--adapter", help="with --all: the adapter whose open rows to replay")
    replay.add_argument("--all", action="store_true", help="every open row of --adapter")
    replay.set_defaults(handler=_refusals_exit_2(_replay))
    discard = commands.add_parser("discard", help="close a row that must never be loaded")
    discard.add_argument("id", type=int)
    discard.add_argument("--reason", required=True)
    discard.set_defaults(handler=_refusals_exit_2(_discard))


def _refusals_exit_2(handler: Handler) -> Handler:
    def run(args: argparse.Namespace, sessions: sessionmaker[Session], settings: Settings) -> int:
        try:
            return handler(args, sessions, settings)
        except (quarantine.QuarantineError, AdapterConfigError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    return run


def _config(name: str) -> AdapterConfig:
    configs = {c.name: c for c in load_adapters(adapters_folder())}
    if name not in configs:
        raise quarantine.QuarantineError(f"no adapter {name!r} in {adapters_folder()}; "
                                         f"there are: {', '.join(sorted(configs))}")
    return configs[name]


def _line(item: quarantine.Item) -> str:
    problem = item.message.splitlines()[0] if item.message else ""
    return (f"#{item.id} {item.adapter} {item.status} {item.stage} {item.rule}"
            f"{' ' + item.field if item.field else ''}  key {item.source_key or '-'}  {problem}")


def _list(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    status = None if args.status == "all" else args.status
    with sessions() as session:
        items = quarantine.list_quarantine(session, adapter=args.adapter, rule=args.rule, status=status,
                                           limit=args.limit)
        groups = quarantine.summary(session, adapter=args.adapter) if status == "open" else []
    for adapter, stage, rule, count in groups:
        print(f"{adapter} {stage} {rule}: {count} open")
    for item in items:
        print(_line(item))
    return 0


def _print_item(item: quarantine.Item) -> None:
    print(_line(item))
    print(f"run #{item.run_id}, quarantined {item.created.isoformat()}Z"
          + (f", rejected again by run #{item.seen_run} {item.seen.isoformat()}Z" if item.seen_run != item.run_id
             else ""))
    for line in item.message.splitlines()[1:]:
        print(f"  {line}")
    correction = item.correction or {}
    for column, value in item.row.items():
        mark = f"  -> {json.dumps(correction[column], ensure_ascii=False)}" if column in correction else ""
        print(f"  {column} = {json.dumps(value, ensure_ascii=False)}{mark}")


def _show(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    with sessions() as session:
        _print_item(quarantine.show(session, args.id))
    return 0


def _correct(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    fields = {}
    for value in args.values:
        column, sep, text = value.partition("=")
        if not sep or not column:
            raise quarantine.QuarantineError(f"{value!r} is not COLUMN=VALUE")
        fields[column] = text
    with unit_of_work(sessions) as session:
        config = _config(quarantine.show(session, args.id).adapter)
        item = quarantine.correct(session, config, args.id, fields)
    _print_item(item)
    if item.problems:
        print(f"still failing: {'; '.join(p.message for p in item.problems)}")
    else:
        print(f"maps cleanly: replay it with `govshare quarantine replay {item.id}`")
    return 0


def _replay(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    if args.all == bool(args.ids) or args.all != bool(args.adapter):
        raise quarantine.QuarantineError("give item ids, or --adapter NAME --all")
    if args.all:
        config, ids = _config(args.adapter), None
    else:
        with sessions() as session:
            adapters = {quarantine.show(session, item_id).adapter for item_id in args.ids}
        if len(adapters) > 1:
            raise quarantine.QuarantineError(f"the items belong to several adapters ({', '.join(sorted(adapters))}); "
                                             "replay each adapter's items apart")
        config, ids = _config(adapters.pop()), args.ids
    result = quarantine.replay(sessions, settings, config, ids)
    batch = (f"  batch {result.batch_id}{' (received before: first receipt)' if result.duplicate else ''}"
             if result.batch_id else "")
    print(f"{config.name}: asked {len(result.asked)} = replayed {len(result.replayed)} + still failing "
          f"{len(result.still_failing)} + quarantined by validation {len(result.quarantined_by_validation)}{batch}")
    for label, ids in (("still failing", result.still_failing),
                       ("in the exchange quarantine", result.quarantined_by_validation)):
        if ids:
            print(f"{label}: {' '.join(f'#{i}' for i in ids)}")
    return 0


def _discard(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    with unit_of_work(sessions) as session:
        item = quarantine.discard(session, args.id, args.reason)
    print(_line(item))
    return 0
