"""``govshare adapter check``: validate an adapter file and preview what it maps (E3).

    $ govshare adapter check adapters/departments/gaj-household.toml --preview 2
    adapter gaj-household: 11330100002501028W -> name:户籍登记信息 (resolved by name at run time)
      record type {http://govshare.local/xsd/population/1.0}Person (人口基础信息)
      source      sqlite:///var/demo/gaj-legacy.db table HJ_RKXX, key GMSFHM
      changes     by timestamp GXSJ, overlap 300 s; schedule 15m; priority 100

    first 2 mapped records
      field        label        #1                   #2
      idNumber     公民身份号码  532326200503275201   330102199001021235
      ...
      #2 map code.unmapped sex: '?' is not in code table builtin:sex (column XB)

    SQL (sqlite)
      SELECT * FROM "HJ_RKXX" WHERE "HJ_RKXX"."GXSJ" >= ? ORDER BY "HJ_RKXX"."GXSJ", "HJ_RKXX"."GMSFHM"

The command is the action ``adapter.check`` (:mod:`adapters.preview`), run as the platform's
operator or as ``--user`` and recorded in the audit log with channel ``cli``.  Exit status 0:
the file is valid and the source readable (rows with problems are data, not a fault of the
file); 2: the file is wrong (every problem listed with file, line or key); 1: the source cannot
be read.
"""

from __future__ import annotations

import argparse
import unicodedata
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from registry.settings import Settings
from trust import console

from . import preview
from .config import AdapterConfig
from .mapping import MappedRow

_CELL = 26
EXIT = ("exit status: 0 the file is valid and its source readable; 2 the file is wrong (every problem listed), "
        "or a role that may not; 1 the source cannot be read")


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("adapter", help="department adapters: check adapter files")
    commands = group.add_subparsers(dest="adapter_command", required=True, metavar="COMMAND")
    check = commands.add_parser("check", help="validate an adapter file, preview mapped records and its SQL",
                                epilog=EXIT)
    check.add_argument("file", type=Path)
    check.add_argument("--preview", type=int, default=5, metavar="N", help="records to preview (default 5)")
    check.add_argument("--user", metavar="USERNAME", help="act as this account (default: the platform's operator)")
    check.set_defaults(handler=_check)


def _check(args: argparse.Namespace, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        shown = preview.check(console.context(sessions, settings, args.user), file=args.file, preview=args.preview)
        _describe(shown.config)
        _preview(shown.config, shown.mapped)
        print(f"\nSQL ({shown.dialect})")
        print("\n".join("  " + line for line in shown.sql.splitlines()))

    return console.run(work)


def _describe(config: AdapterConfig) -> None:
    source = config.source
    resource = config.resource + (" (resolved by name at run time)" if config.resource_name else "")
    if source.kind == "database":
        assert source.url is not None
        where = make_url(source.url).render_as_string(hide_password=True)
        where += f" table {source.table}" if source.table else " (SQL query)"
    else:
        where = f"{source.kind} file {source.path}" + (f" sheet {source.sheet}" if source.sheet else "")
    change = (f"by timestamp {config.change.timestamp}, overlap {config.change.overlap.total_seconds():.0f} s"
              if config.change.timestamp else "by row hash (no timestamp column)")
    schedule = config.schedule.text if config.schedule else "none (run on demand)"
    print(f"adapter {config.name}: {config.department} -> {resource}")
    print(f"  record type {config.record_type} ({config.format.title})")
    print(f"  source      {where}, key {', '.join(source.key)}")
    print(f"  changes     {change}; schedule {schedule}; priority {config.priority}")


def _preview(config: AdapterConfig, mapped: list[MappedRow]) -> None:
    if not mapped:
        print("\nthe source has no rows")
        return
    print(f"\nfirst {len(mapped)} mapped records")
    labels = {f.name: f.label for f in config.format.fields}
    header = ["field", "label", *(f"#{i}" for i in range(1, len(mapped) + 1))]
    lines = [header]
    for mapping in config.fields:
        cells = [mapping.target, labels.get(mapping.target, "")]
        for row in mapped:
            value = row.fields.get(mapping.target) if row.fields is not None else None
            cells.append("-" if value is None else _shorten(str(value)))
        lines.append(cells)
    widths = [max(_width(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  " + "  ".join(_pad(cell, width) for cell, width in zip(line, widths, strict=True)).rstrip())
    for number, row in enumerate(mapped, start=1):
        for problem in row.problems:
            print(f"  #{number} (key {row.key}) {problem.stage} {problem.rule} {problem.field}: {problem.message}")


def _width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def _shorten(text: str) -> str:
    if _width(text) <= _CELL:
        return text
    while _width(text) > _CELL - 1:
        text = text[:-1]
    return text + "…"
