"""``catalogue`` commands: the workflow from a terminal, one command per action.

    $ govshare catalogue create --user li.na birth.json
    101002/000001
    $ govshare catalogue submit --user li.na 101002/000001
    101002/000001 submitted (version 2)
    $ govshare catalogue refuse --user shen.li 101002/000001 --reason "摘要不完整"
    101002/000001 refused (version 3)

Each command runs one catalogue action (``directory.catalogue.workflow``, ``.search``) as the
account ``--user`` (without it, as the platform's operator), channel ``cli``: the action checks
the account's roles and leaves its audit entry.  A refusal prints ``error: <message>`` on stderr
and exits with status 2 (1 when the platform failed); a workbook refused by ``import`` prints each
of its problems first, one a line, ``sheet!row column (field): message``.  An admin catalogues for
another department with ``"provider": "<department code>"`` in the JSON file (in the spreadsheet:
the 提供方 column).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from registry.errors import InvalidInput, InvalidWorkbook
from registry.settings import Settings
from trust import console

from . import spreadsheet, template, workflow
from .search import search


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``catalogue`` command group to a parser's subcommands."""
    group = subparsers.add_parser("catalogue", help="政务信息资源目录: catalogue, review and publish resources")
    commands = group.add_subparsers(dest="catalogue_command", required=True, metavar="COMMAND")
    acting = argparse.ArgumentParser(add_help=False)
    acting.add_argument("--user", metavar="USERNAME", help="the account acting (default: the platform's operator)")

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, parents=[acting], help=help_text,
                                     epilog="exit status: 0 done, 2 refused (input or rights), 1 platform failure")
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
    command("template", _template, "write the empty 目录编制 spreadsheet template (.xlsx)").add_argument(
        "file", type=Path)
    export = command("export", _export, "write the entries you may see as the 目录编制 spreadsheet (.xlsx)")
    export.add_argument("file", type=Path)
    export.add_argument("--provider", metavar="DEPARTMENT", help="only this department's entries (its code)")
    export.add_argument("--status", choices=workflow.STATUSES)
    export.add_argument("--classification", metavar="CODE", help="only entries under this classification code")
    export.add_argument("--mine", action="store_true", help="only your department's entries")
    load = command("import", _import, "create and edit entries from a 目录编制 spreadsheet: every row or none")
    load.add_argument("file", type=Path)
    load.add_argument("--check", action="store_true", help="check every row, save nothing")


def _list(args: argparse.Namespace, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        found = search(console.context(sessions, settings, args.user), chosen={"status": args.status or ""},
                       mine=args.mine, counts=False)
        for entry in found.entries:
            print(f"{entry.resource_code}\t{entry.status}\t{entry.provider}\t{entry.name}")

    return console.run(work)


def _show(args: argparse.Namespace, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        _print_json(workflow.show(console.context(sessions, settings, args.user), resource_code=args.code)
                    .entry.as_dict())

    return console.run(work)


def _create(args: argparse.Namespace, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        metadata = _read_json(args.file)
        provider = metadata.pop("provider", None) if isinstance(metadata, dict) else None
        entry = workflow.create(console.context(sessions, settings, args.user), metadata=metadata, provider=provider)
        print(entry.resource_code)

    return console.run(work)


def _edit(args: argparse.Namespace, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        entry = workflow.edit(console.context(sessions, settings, args.user), resource_code=args.code,
                              changes=_read_json(args.file))
        print(f"{entry.resource_code} {entry.status} (version {entry.version})")

    return console.run(work)


def _transition(args: argparse.Namespace, sessions: sessionmaker[Session], settings: Settings) -> int:
    verb = args.catalogue_command
    run = {"submit": workflow.submit, "approve": workflow.approve, "publish": workflow.publish,
           "refuse": workflow.refuse, "withdraw": workflow.withdraw}[verb]
    inputs = {"reason": args.reason} if verb in ("refuse", "withdraw") else {}

    def work() -> None:
        entry = run(console.context(sessions, settings, args.user), resource_code=args.code, **inputs)
        print(f"{entry.resource_code} {entry.status} (version {entry.version})")

    return console.run(work)


def _history(args: argparse.Namespace, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        for v in workflow.history(console.context(sessions, settings, args.user), resource_code=args.code):
            reason = f"\t{v.reason}" if v.reason else ""
            print(f"{v.version}\t{v.changed_at.isoformat()}\t{v.changed_by}\t{v.action}\t{v.status}{reason}")

    return console.run(work)


def _template(args: argparse.Namespace, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        _write(args.file, spreadsheet.template_workbook(console.context(sessions, settings, args.user)))
        print(f"template -> {args.file}")

    return console.run(work)


def _export(args: argparse.Namespace, sessions: sessionmaker[Session], settings: Settings) -> int:
    chosen = {"provider": args.provider or "", "status": args.status or "",
              "classification": args.classification or ""}

    def work() -> None:
        exported = spreadsheet.export(console.context(sessions, settings, args.user), chosen=chosen, mine=args.mine)
        _write(args.file, exported.content)
        print(f"{exported.count} entries -> {args.file}")

    return console.run(work)


def _import(args: argparse.Namespace, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        try:
            content = args.file.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot read {args.file}: {exc.strerror}", field="file") from exc
        try:
            result = spreadsheet.import_workbook(console.context(sessions, settings, args.user), content=content,
                                                 check=args.check)
        except InvalidWorkbook as refused:
            for problem in refused.errors:
                print(problem, file=sys.stderr)
            raise
        for row in result.rows:
            print(f"{template.RESOURCES}!{row.row}\t{row.outcome}\t{row.resource_code or '-'}\t{row.name}")
        print(("check only, nothing saved: would be " if result.checked_only else "") + result.summary())

    return console.run(work)


def _write(path: Path, content: bytes) -> None:
    try:
        path.write_bytes(content)
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}", field="file") from exc


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", field="file") from exc
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path} is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                           field="file") from exc


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))
