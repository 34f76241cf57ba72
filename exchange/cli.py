"""``govshare core``: the sources' priorities, their conflicts, and a record's history.

    govshare core priority population                      # who counts how much in 人口
    govshare core priority population 临江市民政局 10 [--field residenceAddress=40 ...]
    govshare core conflicts population [--field residenceAddress] [--examples 10]
    govshare core history population 330102199001021235

A department is named by its code, its name or its 统一社会信用代码.  Adapter runs set
their department's priority from the adapter file; the command sets it by hand (for
departments that submit batches themselves).  Each command is one action (``core.priorities``,
``core.priority``, ``core.conflicts``, ``core.history``), run as the platform's operator (or
``--user``) and recorded in the audit log with channel ``cli``.
"""

from __future__ import annotations

import argparse

from sqlalchemy.orm import Session, sessionmaker

from registry.errors import InvalidInput, NotFound
from registry.settings import Settings
from trust import console

from . import core, integration

EXIT = ("exit status: 0 done; 2 a wrong input (an unknown department, no such record) or a role that may not "
        "(the core's priorities and values are the platform operator's); 1 the platform could not")


def _field_priority(text: str) -> tuple[str, int]:
    name, _, value = text.partition("=")
    try:
        return name.strip(), int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text}: expected NAME=PRIORITY with a whole number, "
                                         "e.g. residenceAddress=40") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("core", help="核心库: source priorities, conflicts between sources, history")
    commands = group.add_subparsers(dest="core_command", required=True, metavar="COMMAND")
    acting = argparse.ArgumentParser(add_help=False)
    acting.add_argument("--user", metavar="USERNAME", help="act as this account (default: the platform's operator)")

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, parents=[acting], help=help_text, epilog=EXIT)
        parser.set_defaults(handler=handler)
        parser.add_argument("base", choices=integration.BASES)
        return parser

    prio = command("priority", _priority, "show, or set, a department's priority in a base database")
    prio.add_argument("department", nargs="?", help="code, name or credit code")
    prio.add_argument("priority", nargs="?", type=int)
    prio.add_argument("--field", action="append", default=[], type=_field_priority, metavar="NAME=PRIORITY",
                      help="a priority for one field (repeatable)")
    conflicts = command("conflicts", _conflicts, "比对冲突: where sources disagree and which value is kept")
    conflicts.add_argument("--field", help="only this field")
    conflicts.add_argument("--examples", type=int, default=10)
    command("history", _history, "every version of one record, with its sources").add_argument("key")


def _priority(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        if args.department is not None and args.priority is None:
            raise InvalidInput("give the priority too: govshare core priority BASE DEPARTMENT PRIORITY")
        ctx = console.context(sessions, settings, args.user)
        if args.department is None:
            rows = integration.show_priorities(ctx, base=args.base)
        else:
            rows = integration.configure_priority(ctx, base=args.base, department=args.department,
                                                  priority=args.priority, fields=dict(args.field))
        if not rows:
            print(f"{args.base}: no priorities set; every source counts the same (the newer value wins)")
        for row in rows:
            print(f"{args.base}  {row.department_name}  {row.field or '*'}  {row.priority}")

    return console.run(work)


def _conflicts(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        report = integration.report_conflicts(console.context(sessions, settings, args.user), base=args.base,
                                              field=args.field, examples=args.examples)
        print(f"{args.base}: {report.keys} records on which sources disagree")
        for name, count in report.by_field.most_common():
            print(f"  {name}: {count} records")
            for (field_name, kept, overruled), n in sorted(report.outcomes.items(), key=lambda item: -item[1]):
                if field_name == name:
                    print(f"    kept {kept}'s value over {overruled}'s: {n}")
        if report.examples:
            print("examples:")
        for c in report.examples:
            others = "; ".join(f"{value!r} ({dept})" for value, dept in c.others)
            print(f"  {c.key} {c.field}: kept {c.kept!r} ({c.kept_source}); also {others}")

    return console.run(work)


def _history(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        found = core.history(console.context(sessions, settings, args.user), base=args.base, key=args.key)
        if not found.versions:
            raise NotFound(f"{args.base} holds no record {args.key}")
        for v in found.versions:
            state = "current" if v.effective_to is None else f"until {v.effective_to:%Y-%m-%d %H:%M:%S}"
            others = ", ".join(f"{name} from {dept}" for name, dept in v.others.items())
            print(f"#{v.sequence} {v.department} {v.effective_from:%Y-%m-%d %H:%M:%S} {state}"
                  f"{' DELETED' if v.deleted else ''}{f' ({others})' if others else ''}")
        for entry in found.lineage:
            print(f"  lineage: {entry.field} = {entry.value!r} from {entry.department} "
                  f"(batch {entry.batch_id}, {entry.recorded_at:%Y-%m-%d %H:%M:%S})")

    return console.run(work)
