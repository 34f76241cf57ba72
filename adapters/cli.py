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

Exit status 0: the file is valid and the source readable (rows with problems are data, not a
fault of the file); 2: the file is wrong (every problem listed with file, line or key); 1: the
source cannot be read.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import unicodedata
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from registry.settings import Settings

from .config import AdapterConfig, AdapterConfigError, load_adapter
from .mapping import MappedRow, mapper_for
from .sources import DatabaseSource, SourceError, open_source

USAGE_ERROR = 2
SOURCE_ERROR = 1
_CELL = 26


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("adapter", help="department adapters: check adapter files")
    commands = group.add_subparsers(dest="adapter_command", required=True, metavar="COMMAND")
    check = commands.add_parser("check", help="validate an adapter file, preview mapped records and its SQL")
    check.add_argument("file", type=Path)
    check.add_argument("--preview", type=int, default=5, metavar="N", help="records to preview (default 5)")
    check.set_defaults(run=_check)


def _check(args: argparse.Namespace, settings: Settings | None) -> int:
    try:
        config = load_adapter(args.file)
    except AdapterConfigError as exc:
        print(exc, file=sys.stderr)
        return USAGE_ERROR
    _describe(config)
    source = open_source(config)
    try:
        if isinstance(source, DatabaseSource):
            missing = _missing_columns(config, source.columns())
            if missing:
                for where, message in missing:
                    print(f"{config.path}: {where}: {message}", file=sys.stderr)
                return USAGE_ERROR
        mapper = mapper_for(config)
        mapped = [mapper.map(row) for row in itertools.islice(source.rows(), max(args.preview, 0))]
    except (SourceError, SQLAlchemyError, OSError) as exc:
        print(f"{config.path}: cannot read the source: {exc}", file=sys.stderr)
        return SOURCE_ERROR
    finally:
        source.close()
    _preview(config, mapped)
    backend = make_url(config.source.url).get_backend_name() if config.source.url else "sqlite"
    # MariaDB compiles as MySQL: one dialect, one driver (PyMySQL)
    dialect_name = "mysql" if backend == "mariadb" else backend
    print(f"\nSQL ({dialect_name})")
    print("\n".join("  " + line for line in source.compiled_sql(dialect_name).splitlines()))
    return 0


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


def _missing_columns(config: AdapterConfig, columns: list[str]) -> list[tuple[str, str]]:
    """Columns the file names that the source does not have, with where the file names them."""
    present = set(columns)
    listing = ", ".join(columns)
    problems = [("source.key", f"column {c} is not in the source (its columns: {listing})")
                for c in config.source.key if c not in present]
    stamp = config.change.timestamp
    if stamp and stamp not in present:
        problems.append(("change.timestamp", f"column {stamp} is not in the source (its columns: {listing})"))
    for mapping in config.fields:
        for column in mapping.columns:
            if column not in present:
                problems.append((f"fields.{mapping.target}",
                                 f"column {column} is not in the source (its columns: {listing})"))
    return problems


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


def main(argv: list[str] | None = None) -> int:
    """``python -m adapters.cli adapter check FILE``: the command without the rest of govshare."""
    parser = argparse.ArgumentParser(prog="govshare")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.run(args, None)


if __name__ == "__main__":
    sys.exit(main())
