"""``catalogue`` commands: the workflow from a terminal, one command per action.

    $ python server.py catalogue create --user li.na birth.json
    101002/000001
    $ python server.py catalogue submit --user li.na 101002/000001
    101002/000001 submitted (version 2)
    $ python server.py catalogue refuse --user shen.li 101002/000001 --reason "摘要不完整"
    101002/000001 refused (version 3)

Each handler takes ``(args, sessions, settings)``, runs one unit of work and returns the
exit code: 0, or 2 with the reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from registry.db import unit_of_work
from registry.errors import GovshareError
from registry.models import User
from registry.settings import Settings

from ..accounts import find_user
from . import workflow

USAGE_ERROR = 2


class CommandError(Exception):
    """A problem with the command's input (unknown user, unreadable file)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``catalogue`` command group to a parser's subcommands."""
    group = subparsers.add_parser("catalogue", help="政务信息资源目录: catalogue, review and publish resources")
    commands = group.add_subparsers(dest="catalogue_command", required=True, metavar="COMMAND")
    acting = argparse.ArgumentParser(add_help=False)
    acting.add_argument("--user", required=True, metavar="USERNAME", help="the user acting")

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, parents=[acting], help=help_text)
        parser.set_defaults(handler=handler)
        return parser

    listing = command("list", _list, "entries you may see")
    listing.add_argument("--status", choices=workflow.STATUSES)
    listing.add_argument("--mine", action="store_true", help="only your department's entries")
    command("show", _show, "one entry's metadata as JSON").add_argument("code")
    command("create", _create, "catalogue a new resource from a JSON file").add_argument("file", type=Path)
    edit = command("edit", _edit, "change an entry's metadata from a JSON file")
    edit.add_argument("code")
    edit.add_argument("file", type=Path)
    for name, help_text in (("submit", "send for review"), ("approve", "approve a submitted entry"),
                            ("publish", "publish an approved entry in the directory")):
        command(name, _transition, help_text).add_argument("code")
    for name, help_text in (("refuse", "send a submitted entry back"), ("withdraw", "take a published entry off")):
        parser = command(name, _transition, help_text)
        parser.add_argument("code")
        parser.add_argument("--reason", required=True)
    command("history", _history, "every version of an entry").add_argument("code")


def _run(args: argparse.Namespace, sessions: sessionmaker[Session], work) -> int:
    """Run ``work(session, user)`` in one unit of work, turning refusals into exit code 2."""
    try:
        with unit_of_work(sessions) as session:
            user = find_user(session, args.user)
            if user is None:
                raise CommandError(f"no user {args.user!r}")
            work(session, user)
    except (GovshareError, CommandError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    return 0


def _list(args: argparse.Namespace, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work(session: Session, user: User) -> None:
        for entry in workflow.visible_entries(session, user, status=args.status, mine=args.mine):
            print(f"{entry.resource_code}\t{entry.status}\t{entry.provider.code}\t{entry.name}")

    return _run(args, sessions, work)


def _show(args: argparse.Namespace, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work(session: Session, user: User) -> None:
        _print_json(workflow.snapshot(workflow.get_entry(session, user, args.code)))

    return _run(args, sessions, work)


def _create(args: argparse.Namespace, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work(session: Session, user: User) -> None:
        print(workflow.create_entry(session, user, _read_json(args.file)).resource_code)

    return _run(args, sessions, work)


def _edit(args: argparse.Namespace, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work(session: Session, user: User) -> None:
        entry = workflow.edit_entry(session, user, args.code, _read_json(args.file))
        print(f"{entry.resource_code} {entry.status} (version {entry.version})")

    return _run(args, sessions, work)


def _transition(args: argparse.Namespace, sessions: sessionmaker[Session], settings: Settings) -> int:
    actions = {
        "submit": lambda s, u: workflow.submit_entry(s, u, args.code),
        "approve": lambda s, u: workflow.approve_entry(s, u, args.code),
        "publish": lambda s, u: workflow.publish_entry(s, settings, u, args.code),
        "refuse": lambda s, u: workflow.refuse_entry(s, u, args.code, args.reason),
        "withdraw": lambda s, u: workflow.withdraw_entry(s, settings, u, args.code, args.reason),
    }

    def work(session: Session, user: User) -> None:
        entry = actions[args.catalogue_command](session, user)
        print(f"{entry.resource_code} {entry.status} (version {entry.version})")

    return _run(args, sessions, work)


def _history(args: argparse.Namespace, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work(session: Session, user: User) -> None:
        for v in workflow.entry_history(session, user, args.code):
            reason = f"\t{v.reason}" if v.reason else ""
            print(f"{v.version}\t{v.changed_at.isoformat()}\t{v.changed_by}\t{v.action}\t{v.status}{reason}")

    return _run(args, sessions, work)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise CommandError(f"{path} is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))
