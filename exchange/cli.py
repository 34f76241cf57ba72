"""``govshare core``: the sources' priorities, their conflicts, and a record's history.

    govshare core priority population                      # who counts how much in 人口
    govshare core priority population 临江市民政局 10 [--field residenceAddress=40 ...]
    govshare core conflicts population [--field residenceAddress] [--examples 10]
    govshare core history population 330102199001021235

A department is named by its code, its name or its 统一社会信用代码.  Adapter runs set
their department's priority from the adapter file; the command sets it by hand (for
departments that submit batches themselves).
"""

from __future__ import annotations

import argparse

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from registry.db import unit_of_work
from registry.models import Department, SourcePriority
from registry.settings import Settings

from . import core, integration

BASES = ("population", "legal_entity", "macro_economy", "spatial")


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("core", help="核心库: source priorities, conflicts between sources, history")
    commands = group.add_subparsers(dest="core_command", required=True, metavar="COMMAND")
    prio = commands.add_parser("priority", help="show, or set, a department's priority in a base database")
    prio.add_argument("base", choices=BASES)
    prio.add_argument("department", nargs="?", help="code, name or credit code")
    prio.add_argument("priority", nargs="?", type=int)
    prio.add_argument("--field", action="append", default=[], metavar="NAME=PRIORITY",
                      help="a priority for one field (repeatable)")
    prio.set_defaults(handler=_priority)
    conflicts = commands.add_parser("conflicts", help="比对冲突: where sources disagree and which value is kept")
    conflicts.add_argument("base", choices=BASES)
    conflicts.add_argument("--field", help="only this field")
    conflicts.add_argument("--examples", type=int, default=10)
    conflicts.set_defaults(handler=_conflicts)
    history = commands.add_parser("history", help="every version of one record, with its sources")
    history.add_argument("base", choices=BASES)
    history.add_argument("key")
    history.set_defaults(handler=_history)


def _department(session: Session, name: str) -> Department | None:
    return session.scalar(select(Department).where(or_(Department.code == name, Department.name == name,
                                                       Department.credit_code == name.upper())))


def _priority(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    if args.department is not None:
        if args.priority is None:
            print("give the priority too: govshare core priority BASE DEPARTMENT PRIORITY")
            return 2
        fields: dict[str, int] = {}
        for item in args.field:
            name, _, value = item.partition("=")
            try:
                fields[name.strip()] = int(value)
            except ValueError:
                print(f"--field {item}: expected NAME=PRIORITY with a whole number, e.g. residenceAddress=40")
                return 2
        with unit_of_work(sessions) as session:
            dept = _department(session, args.department)
            if dept is None:
                print(f"no department {args.department!r}: give its code, name or credit code")
                return 1
            integration.set_priority(session, args.base, dept.id, args.priority, fields)
    with sessions() as session:
        names = dict(session.execute(select(Department.id, Department.name)).all())
        rows = session.scalars(select(SourcePriority).where(SourcePriority.base == args.base)
                               .order_by(SourcePriority.priority.desc(), SourcePriority.source_id,
                                         SourcePriority.field)).all()
    if not rows:
        print(f"{args.base}: no priorities set; every source counts the same (the newer value wins)")
    for row in rows:
        print(f"{args.base}  {names.get(row.source_id, row.source_id)}  {row.field or '*'}  {row.priority}")
    return 0


def _conflicts(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    with sessions() as session:
        report = integration.conflicts(session, args.base, field_name=args.field, examples=args.examples)
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
    return 0


def _history(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    with sessions() as session:
        names = dict(session.execute(select(Department.id, Department.name)).all())
        versions = core.history_of(session, args.base, args.key)
        lineage = core.lineage_of(session, args.base, args.key)
    if not versions:
        print(f"{args.base} holds no record {args.key}")
        return 1
    for v in versions:
        state = "current" if v.effective_to is None else f"until {v.effective_to:%Y-%m-%d %H:%M:%S}"
        others = ", ".join(f"{f} from {names.get(s, s)}" for f, s in sorted((v.field_sources or {}).items()))
        print(f"#{v.id} {names.get(v.source_id, v.source_id)} {v.effective_from:%Y-%m-%d %H:%M:%S} {state}"
              f"{' DELETED' if v.deleted else ''}{f' ({others})' if others else ''}")
    for entry in lineage:
        print(f"  lineage: {entry.field} = {entry.value!r} from {names.get(entry.source_id, entry.source_id)} "
              f"(batch {entry.batch_id}, {entry.recorded_at:%Y-%m-%d %H:%M:%S})")
    return 0
