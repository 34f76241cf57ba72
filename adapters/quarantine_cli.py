"""``govshare quarantine``: look at, correct, replay and discard the rows adapters rejected.

    govshare quarantine list [--adapter gaj-household] [--rule code.unmapped] [--status open]
    govshare quarantine show 17
    govshare quarantine correct 17 XB=男
    govshare quarantine replay 17 18            (or: --adapter gaj-household --all)
    govshare quarantine discard 17 --reason "test person, never registered"

Each command is the action of the same name in :mod:`adapters.quarantine`, run as the
platform's operator or as ``--user`` and recorded in the audit log with channel ``cli``.  A
request the quarantine refuses (an unknown item or adapter, a closed item, a missing reason)
prints why and exits with status 2.
"""

from __future__ import annotations

import argparse
import json

from sqlalchemy.orm import Session, sessionmaker

from registry.errors import InvalidInput
from registry.settings import Settings
from trust import console

from . import quarantine

EXIT = ("exit status: 0 done; 2 an unknown item or adapter, an item already closed, a correction or reason "
        "missing, or a role that may not; 1 the platform could not")


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("quarantine", help="隔离区: list, correct, replay or discard rejected source rows")
    commands = group.add_subparsers(dest="quarantine_command", required=True, metavar="COMMAND")
    acting = argparse.ArgumentParser(add_help=False)
    acting.add_argument("--user", metavar="USERNAME", help="act as this account (default: the platform's operator)")

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, parents=[acting], help=help_text, epilog=EXIT)
        parser.set_defaults(handler=handler)
        return parser

    listing = command("list", _list, "quarantined rows, oldest first, with a summary by rule")
    listing.add_argument("--adapter")
    listing.add_argument("--rule")
    listing.add_argument("--status", default="open", choices=(*quarantine.STATUSES, "all"))
    listing.add_argument("--limit", type=int, default=50)
    command("show", _show, "one row: its source columns, problem and correction").add_argument("id", type=int)
    correct = command("correct", _correct, "correct source columns and check the row again")
    correct.add_argument("id", type=int)
    correct.add_argument("values", nargs="+", metavar="COLUMN=VALUE")
    replay = command("replay", _replay, "load corrected rows through the exchange as one batch")
    replay.add_argument("ids", nargs="*", type=int, metavar="ID")
    replay.add_argument("--adapter", help="with --all: the adapter whose open rows to replay")
    replay.add_argument("--all", action="store_true", help="every open row of --adapter")
    discard = command("discard", _discard, "close a row that must never be loaded")
    discard.add_argument("id", type=int)
    discard.add_argument("--reason", required=True)


def _line(item: quarantine.Item) -> str:
    problem = item.message.splitlines()[0] if item.message else ""
    return (f"#{item.id} {item.adapter} {item.status} {item.stage} {item.rule}"
            f"{' ' + item.field if item.field else ''}  key {item.source_key or '-'}  {problem}")


def _list(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        status = None if args.status == "all" else args.status
        found = quarantine.list_items(console.context(sessions, settings, args.user), adapter=args.adapter,
                                      rule=args.rule, status=status, limit=args.limit)
        if status == "open":
            for group in found.groups:
                print(f"{group.adapter} {group.stage} {group.rule}: {group.count} open")
        for item in found.items:
            print(_line(item))

    return console.run(work)


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
    def work() -> None:
        _print_item(quarantine.show(console.context(sessions, settings, args.user), item_id=args.id))

    return console.run(work)


def _correct(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        values = {}
        for value in args.values:
            column, sep, text = value.partition("=")
            if not sep or not column:
                raise InvalidInput(f"{value!r} is not COLUMN=VALUE", code="InvalidCorrection", field="values")
            values[column] = text
        item = quarantine.correct(console.context(sessions, settings, args.user), item_id=args.id, values=values)
        _print_item(item)
        if item.problems:
            print(f"still failing: {'; '.join(p.message for p in item.problems)}")
        else:
            print(f"maps cleanly: replay it with `govshare quarantine replay {item.id}`")

    return console.run(work)


def _replay(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        if args.all != bool(args.adapter) or (args.all and args.ids):
            raise InvalidInput("give item ids, or --adapter NAME --all", field="ids")
        result = quarantine.replay(console.context(sessions, settings, args.user), ids=args.ids or None,
                                   adapter=args.adapter)
        batch = (f"  batch {result.batch_id}{' (received before: first receipt)' if result.duplicate else ''}"
                 if result.batch_id else "")
        print(f"{result.adapter}: asked {len(result.asked)} = replayed {len(result.replayed)} + still failing "
              f"{len(result.still_failing)} + quarantined by validation {len(result.quarantined_by_validation)}"
              f"{batch}")
        for label, ids in (("still failing", result.still_failing),
                           ("in the exchange quarantine", result.quarantined_by_validation)):
            if ids:
                print(f"{label}: {' '.join(f'#{i}' for i in ids)}")

    return console.run(work)


def _discard(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        print(_line(quarantine.discard(console.context(sessions, settings, args.user), item_id=args.id,
                                       reason=args.reason)))

    return console.run(work)
