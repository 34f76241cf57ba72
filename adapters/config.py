"""Adapter files (适配器配置): one declarative TOML file per department source.

A new department needs a file, not code. The file says where the rows are, which columns
identify a row, how changes are found, and how each field of a standard format is made from
the legacy columns, cleaning steps and code tables::

    name = "gaj-household"                      # the adapter's name: letters, digits, - and _
    department = "11330100002501028W"           # the providing department's 统一社会信用代码
    resource = "name:户籍登记信息"                # a resource code, or name:<资源名称> resolved at run time
    record_type = "{http://govshare.local/xsd/population/1.0}Person"
    priority = 10                               # higher wins when sources disagree (比对)
    schedule = "15m"                            # "30s", "15m", "1h", "1d", or cron "*/15 * * * *"
    change = "none"                             # or the [change] table below; "none": row-hash comparison
    clean = ["invisible", "strip", "blank"]     # steps run on every field first (this is the default)

    [source]
    url = "${GOVSHARE_GAJ_URL:-sqlite:///var/demo/gaj-legacy.db}"   # any SQLAlchemy URL; ${VAR} from the environment
    table = "HJ_RKXX"                           # or: sql = "SELECT ... FROM ..."
    key = ["GMSFHM"]                            # the columns that identify a source row
    # files instead of a database (paths relative to this file):
    #   csv = "exports/rkxx.csv"   encoding = "gb18030"   delimiter = ","
    #   xlsx = "exports/rkxx.xlsx" sheet = "人口"

    [change]                                    # incremental by watermark column (instead of change = "none")
    timestamp = "GXSJ"
    overlap = 300                               # seconds re-read before the watermark (late commits)

    [fields]
    name = "XM"                                 # a column, with the default cleaning
    idNumber = { column = "GMSFHM", clean = ["halfwidth", "nospace", "upper"] }
    sex = { column = "XB", codes = "sex" }
    birthDate = { column = "CSRQ", clean = ["date"] }
    domicileAddress = { template = "{HJDZ}{MPH}" }   # columns joined; a missing one counts as ""
    status = { column = "ZT", codes = "status" }
    # a constant: featureKind = { value = "地块" }; numbers, periods, geometries (adapters/cleaning.py):
    #   value = { column = "指标值", clean = ["halfwidth", "number"] }
    #   period = { column = "统计期", clean = ["period"] }
    #   geometry = { column = "SHAPE", clean = ["wkt"] }      # or { template = "{JD} {WD}", clean = ["point"] }

    [codes]
    sex = "builtin:sex"                         # builtin:sex, builtin:ethnicity, builtin:division,
    ethnicity = "builtin:ethnicity"             # builtin:person_status, builtin:marital_status (adapters/codes.py)
    [codes.status]                              # a legacy code table, inline
    "10" = "正常"
    "20" = "迁出"

A field's steps are the file's ``clean`` list followed by its own; its code table applies last.
Every target field must be a field of the record type's format, and every required field of the
format must be mapped.

A wrong file raises ``AdapterConfigError`` listing every problem at once, each with where it is::

    gaj.toml: line 3, col 9: Invalid value (TOML syntax)
    gaj.toml: line 14, fields.sexx: sexx is not a field of {http://govshare.local/xsd/population/1.0}Person
    gaj.toml: line 15, fields.sex.codes: code table 'sx' is not defined in [codes]
"""

from __future__ import annotations

import os
import re
import string
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from stdnum.cn import uscc

from registry.errors import AdapterConfigError
from xsd import registry

from . import cleaning
from .codes import BUILTIN_PREFIX, CodeTable, builtin, builtin_names, inline

RESOURCE_NAME_PREFIX = "name:"
DEFAULT_CLEAN = ("invisible", "strip", "blank")
#: SQLAlchemy backends an adapter may read (the driver part of the URL is free)
BACKENDS = ("sqlite", "mysql", "mariadb", "postgresql", "oracle", "mssql")


@dataclass(frozen=True)
class SourceConfig:
    """Where the rows are: a database (``url`` and ``table`` or ``sql``) or a CSV / XLSX file."""

    kind: str  # "database", "csv" or "xlsx"
    key: tuple[str, ...]
    url: str | None = None
    table: str | None = None
    sql: str | None = None
    path: Path | None = None
    sheet: str | None = None
    encoding: str = "utf-8-sig"
    delimiter: str = ","


@dataclass(frozen=True)
class ChangeTracking:
    """How changed rows are found: a watermark column (with an overlap window), or row hashes."""

    timestamp: str | None = None
    overlap: timedelta = timedelta(0)

    @property
    def mode(self) -> str:
        return "timestamp" if self.timestamp else "row_hash"


@dataclass(frozen=True)
class Schedule:
    """When the adapter runs: every ``interval``, or at the minutes a 5-field ``cron`` names."""

    text: str
    interval: timedelta | None = None
    cron: tuple[frozenset[int], ...] | None = None  # minute, hour, day of month, month, day of week


@dataclass(frozen=True)
class FieldMapping:
    """How one target field is made: from a ``column``, a constant ``value`` or a ``template``."""

    target: str
    required: bool
    column: str | None = None
    value: str | None = None
    template: str | None = None
    clean: tuple[str, ...] = ()
    codes: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """The source columns this field reads."""
        if self.column is not None:
            return (self.column,)
        if self.template is not None:
            return template_columns(self.template)
        return ()


@dataclass(frozen=True)
class AdapterConfig:
    """A parsed, checked adapter file."""

    path: Path
    name: str
    department: str
    resource: str
    record_type: str
    source: SourceConfig
    change: ChangeTracking
    fields: tuple[FieldMapping, ...]
    code_tables: Mapping[str, CodeTable] = field(default_factory=dict)
    priority: int = 0
    schedule: Schedule | None = None

    @property
    def format(self) -> registry.Format:
        return registry.lookup(self.record_type)

    @property
    def resource_name(self) -> str | None:
        """The 资源名称 to resolve when ``resource`` is ``name:...``; None when it is a code."""
        if self.resource.startswith(RESOURCE_NAME_PREFIX):
            return self.resource[len(RESOURCE_NAME_PREFIX):]
        return None


def load_adapters(folder: Path | str) -> list[AdapterConfig]:
    """Every ``*.toml`` adapter file in ``folder``, by file name; the first bad file raises."""
    configs = [load_adapter(p) for p in sorted(Path(folder).glob("*.toml"))]
    seen: dict[str, Path] = {}
    for config in configs:
        if config.name in seen:
            raise AdapterConfigError(config.path, "name",
                                     f"adapter name {config.name!r} is also used by {seen[config.name]}")
        seen[config.name] = config.path
    return configs


def load_adapter(path: Path | str) -> AdapterConfig:
    """Parse and check one adapter file; ``AdapterConfigError`` lists every problem in it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AdapterConfigError(path, "", f"cannot read the file: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends "(at line 3, column 9)"; put the place first like the others
        match = re.search(r"\(at line (\d+), column (\d+)\)$", str(exc))
        where = f"line {match[1]}, col {match[2]}" if match else ""
        message = str(exc)[: match.start()].strip() if match else str(exc)
        raise AdapterConfigError(path, where, f"{message} (TOML syntax)") from None
    checker = _Checker(path, text)
    config = checker.adapter(data)
    if checker.problems:
        raise AdapterConfigError(path, *checker.problems[0], more=checker.problems[1:])
    assert config is not None
    return config


def template_columns(template: str) -> tuple[str, ...]:
    """The column names a template joins: ``"{HJDZ}{MPH}号"`` -> ("HJDZ", "MPH")."""
    return tuple(name for _, name, _, _ in string.Formatter().parse(template) if name is not None)


# -- checking ---------------------------------------------------------------------------------------

_TOP_KEYS = {"name", "department", "resource", "record_type", "priority", "schedule", "change", "clean",
             "source", "fields", "codes"}
_SOURCE_KEYS = {"url", "csv", "xlsx", "table", "sql", "key", "sheet", "encoding", "delimiter"}
_CHANGE_KEYS = {"timestamp", "overlap"}
_FIELD_KEYS = {"column", "value", "template", "clean", "codes"}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_INTERVAL = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
# (lowest, highest) of minute, hour, day of month, month, day of week (0 and 7 are Sunday)
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


class _Checker:
    """Walks the parsed TOML once and collects every problem with its place."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.problems: list[tuple[str, str]] = []

    def problem(self, key: str, message: str) -> None:
        line = self._line_of(key)
        self.problems.append((f"line {line}, {key}" if line else key, message))

    def _line_of(self, key: str) -> int | None:
        """Best-effort line of a dotted key: its ``key =`` line inside its table, or a table header."""
        parts = key.split(".")
        for depth in range(len(parts) - 1, -1, -1):
            assignment = re.compile(r'\s*"?%s"?\s*=' % re.escape(parts[depth]))
            for number in self._table_lines(parts[:depth]):
                if assignment.match(self.lines[number - 1]):
                    return number
            for number in self._table_lines(parts[: depth + 1]):
                return number
        return None

    def _table_lines(self, table: list[str]) -> Iterator[int]:
        """Line numbers inside the ``[a.b]`` table (header included); top level when empty."""
        inside = not table
        header = "[%s]" % ".".join(table)
        for number, line in enumerate(self.lines, start=1):
            stripped = line.split("#", 1)[0].strip()
            if stripped.startswith("["):
                inside = stripped == header
                if inside:
                    yield number
            elif inside:
                yield number

    # -- the parts of a file

    def adapter(self, data: dict[str, Any]) -> AdapterConfig | None:
        self.unknown(data, _TOP_KEYS, "")
        name = self.string(data, "name", required=True)
        if name and not _NAME.fullmatch(name):
            self.problem("name", f"{name!r}: use letters, digits, '-' and '_'")
        department = self.string(data, "department", required=True)
        if department and not _valid_credit_code(department):
            self.problem("department", f"{department!r} is not a valid 统一社会信用代码 (GB 32100)")
        resource = self.string(data, "resource", required=True)
        if resource == RESOURCE_NAME_PREFIX:
            self.problem("resource", "name: needs the resource's 资源名称 after it")
        record_type = self.string(data, "record_type", required=True)
        fmt = None
        if record_type:
            fmt = registry.find(record_type)
            if fmt is None:
                self.problem("record_type", registry.unregistered_message(record_type))
        priority = data.get("priority", 0)
        if not isinstance(priority, int) or isinstance(priority, bool):
            self.problem("priority", f"must be an integer, not {priority!r}")
            priority = 0
        schedule = self.schedule(data.get("schedule"))
        source = self.source(data.get("source"))
        change = self.change(data.get("change"))
        clean = self.steps(data.get("clean", list(DEFAULT_CLEAN)), "clean")
        tables = self.code_tables(data.get("codes", {}))
        fields = self.fields(data.get("fields"), fmt, clean, tables)
        if self.problems or source is None:
            return None
        return AdapterConfig(self.path, name, department, resource, record_type, source, change, fields,
                             tables, priority, schedule)

    def unknown(self, table: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
        for key in table:
            if key not in allowed:
                self.problem(prefix + key, f"unknown key {key!r}; expected one of {', '.join(sorted(allowed))}")

    def string(self, table: Mapping[str, Any], key: str, prefix: str = "", required: bool = False) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                self.problem(prefix + key, "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(prefix + key, f"must be a non-empty string, not {value!r}")
            return None
        return value

    def schedule(self, value: Any) -> Schedule | None:
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem("schedule", f"must be a string like \"15m\" or \"*/15 * * * *\", not {value!r}")
            return None
        text = value.strip()
        match = _INTERVAL.fullmatch(text)
        if match:
            interval = timedelta(**{_UNITS[match[2]]: int(match[1])})
            if not interval:
                self.problem("schedule", "an interval must be longer than zero")
            return Schedule(text, interval=interval)
        parts = text.split()
        if len(parts) != 5:
            self.problem("schedule", f"{text!r} is neither an interval (30s, 15m, 1h, 1d) nor a 5-field cron")
            return None
        try:
            cron = tuple(_cron_field(p, low, high) for p, (low, high) in zip(parts, _CRON_RANGES, strict=True))
        except ValueError as exc:
            self.problem("schedule", f"{text!r}: {exc}")
            return None
        return Schedule(text, cron=cron)

    def source(self, value: Any) -> SourceConfig | None:
        if not isinstance(value, dict):
            self.problem("source", "a [source] table is required" if value is None else "must be a table")
            return None
        self.unknown(value, _SOURCE_KEYS, "source.")
        kinds = [k for k in ("url", "csv", "xlsx") if k in value]
        if len(kinds) != 1:
            found = f" (found {', '.join(kinds)})" if kinds else ""
            self.problem("source", "give exactly one of url, csv or xlsx" + found)
            return None
        kind = kinds[0]
        key = value.get("key")
        if isinstance(key, str):
            key = [key]
        if not key or not isinstance(key, list) or not all(isinstance(k, str) and k for k in key):
            self.problem("source.key", "is required: the column, or list of columns, that identify a source row")
            key = []
        if kind == "url":
            return self.database(value, tuple(key))
        for option in ("table", "sql"):
            if option in value:
                self.problem(f"source.{option}", f"applies to database sources, not {kind} files")
        if kind == "csv" and "sheet" in value:
            self.problem("source.sheet", "applies to xlsx files")
        if kind == "xlsx":
            for option in ("encoding", "delimiter"):
                if option in value:
                    self.problem(f"source.{option}", "applies to csv files")
        raw = self.string(value, kind, "source.")
        if raw is None:
            return None
        expanded = self.expand(raw, f"source.{kind}")
        path = Path(expanded)
        if not path.is_absolute():
            path = self.path.parent / path
        encoding = value.get("encoding", "utf-8-sig")
        try:
            "".encode(encoding)
        except (LookupError, TypeError):
            self.problem("source.encoding", f"{encoding!r} is not a known text encoding (e.g. utf-8, gbk, gb18030)")
        delimiter = value.get("delimiter", ",")
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            self.problem("source.delimiter", f"must be one character, not {delimiter!r}")
        return SourceConfig(kind, tuple(key), path=path, sheet=value.get("sheet"), encoding=encoding,
                            delimiter=delimiter)

    def database(self, value: dict[str, Any], key: tuple[str, ...]) -> SourceConfig | None:
        raw = self.string(value, "url", "source.")
        url = self.expand(raw, "source.url") if raw else None
        if url:
            try:
                backend = make_url(url).get_backend_name()
            except ArgumentError as exc:
                self.problem("source.url", f"not a SQLAlchemy URL: {exc}")
            else:
                if backend not in BACKENDS:
                    self.problem("source.url", f"unsupported database {backend!r}; use one of {', '.join(BACKENDS)}")
        table, sql = value.get("table"), value.get("sql")
        if (table is None) == (sql is None):
            self.problem("source", "give exactly one of table or sql for a database source")
        for option in ("sheet", "encoding", "delimiter"):
            if option in value:
                self.problem(f"source.{option}", "applies to files, not database sources")
        table = self.string(value, "table", "source.") if table is not None else None
        sql = self.string(value, "sql", "source.") if sql is not None else None
        return SourceConfig("database", key, url=url, table=table, sql=sql)

    def expand(self, text: str, key: str) -> str:
        """``${VAR}`` and ``${VAR:-default}`` from the environment: passwords stay out of files."""
        def replace(match: re.Match[str]) -> str:
            value = os.environ.get(match[1], match[2])
            if value is None:
                self.problem(key, f"environment variable {match[1]} is not set (write ${{{match[1]}:-default}})")
                return ""
            return value

        return _ENV.sub(replace, text)

    def change(self, value: Any) -> ChangeTracking:
        if value is None or value == "none":
            return ChangeTracking()
        if not isinstance(value, dict):
            self.problem("change", f"must be \"none\" or a table with timestamp and overlap, not {value!r}")
            return ChangeTracking()
        self.unknown(value, _CHANGE_KEYS, "change.")
        timestamp = self.string(value, "timestamp", "change.", required=True)
        overlap = value.get("overlap", 0)
        if not isinstance(overlap, int) or isinstance(overlap, bool) or overlap < 0:
            self.problem("change.overlap", f"must be a whole number of seconds >= 0, not {overlap!r}")
            overlap = 0
        return ChangeTracking(timestamp, timedelta(seconds=overlap))

    def steps(self, value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
            self.problem(key, f"must be a list of cleaning step names, not {value!r}")
            return ()
        for step in value:
            if step not in cleaning.STEPS:
                self.problem(key, f"unknown cleaning step {step!r}; known: {', '.join(cleaning.STEPS)}")
        return tuple(s for s in value if s in cleaning.STEPS)

    def code_tables(self, value: Any) -> dict[str, CodeTable]:
        if not isinstance(value, dict):
            self.problem("codes", "must be a table of code tables")
            return {}
        tables: dict[str, CodeTable] = {}
        for name, entries in value.items():
            key = f"codes.{name}"
            if isinstance(entries, str):
                builtin_name = entries.removeprefix(BUILTIN_PREFIX)
                if not entries.startswith(BUILTIN_PREFIX) or builtin_name not in builtin_names():
                    known = ", ".join(BUILTIN_PREFIX + n for n in builtin_names())
                    self.problem(key, f"{entries!r} is not a built-in code table; known: {known}")
                    continue
                tables[name] = builtin(builtin_name)
            elif isinstance(entries, dict) and entries:
                bad = [k for k, v in entries.items() if not isinstance(v, str)]
                for k in bad:
                    self.problem(f"{key}.{k}", f"a code must be a string (quote it: \"{entries[k]}\")")
                tables[name] = inline(name, entries)
            else:
                self.problem(key, "must be \"builtin:NAME\" or a table of legacy value = \"standard code\"")
        return tables

    def fields(self, value: Any, fmt: registry.Format | None, clean: tuple[str, ...],
               tables: Mapping[str, CodeTable]) -> tuple[FieldMapping, ...]:
        if not isinstance(value, dict) or not value:
            self.problem("fields", "a [fields] table mapping target fields to source columns is required")
            return ()
        known = {f.name: f for f in fmt.fields} if fmt else {}
        extra = {k for f in (fmt.fields if fmt else ()) for k in f.extra_keys}
        mappings = []
        for target, spec in value.items():
            key = f"fields.{target}"
            if fmt and target not in known and target not in extra:
                self.problem(key, f"{target} is not a field of {fmt.qname}; its fields: {', '.join(known)}")
            mapping = self.field(key, target, spec, clean, tables, known[target].required if target in known else False)
            if mapping:
                mappings.append(mapping)
        for name, f in known.items():
            if f.required and name not in value:
                self.problem("fields", f"required field {name} ({f.label}) of {fmt.qname} is not mapped")
        return tuple(mappings)

    def field(self, key: str, target: str, spec: Any, clean: tuple[str, ...], tables: Mapping[str, CodeTable],
              required: bool) -> FieldMapping | None:
        if isinstance(spec, str):
            spec = {"column": spec}
        if not isinstance(spec, dict):
            self.problem(key, f"must be a column name or a table with column, value or template, not {spec!r}")
            return None
        self.unknown(spec, _FIELD_KEYS, key + ".")
        sources = [s for s in ("column", "value", "template") if s in spec]
        if len(sources) != 1:
            self.problem(key, "give exactly one of column, value or template")
            return None
        given = self.string(spec, sources[0], key + ".")
        if given is None:
            return None
        if sources[0] == "template":
            try:
                columns = template_columns(given)
            except ValueError as exc:
                self.problem(key + ".template", f"not a template: {exc}")
                return None
            if not columns or any(not c for c in columns):
                self.problem(key + ".template", "name each column in braces: \"{HJDZ}{MPH}号\"")
        steps = clean + self.steps(spec.get("clean", []), key + ".clean")
        codes = spec.get("codes")
        if codes is not None and codes not in tables:
            defined = ", ".join(tables) or "none"
            self.problem(key + ".codes", f"code table {codes!r} is not defined in [codes] (defined: {defined})")
        return FieldMapping(target, required, clean=steps, codes=codes, **{sources[0]: given})


def _valid_credit_code(code: str) -> bool:
    try:
        return uscc.is_valid(code)
    except KeyError:  # stdnum raises KeyError on characters outside its alphabet
        return False


def _cron_field(text: str, low: int, high: int) -> frozenset[int]:
    """One cron field (``*``, ``*/15``, ``1-5``, ``0,30``) -> the values it allows."""
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise ValueError(f"bad step in {part!r}")
        if base == "*":
            first, last = low, high
        elif re.fullmatch(r"\d+-\d+", base):
            first, last = (int(n) for n in base.split("-"))
        elif base.isdigit():
            first = last = int(base)
        else:
            raise ValueError(f"{part!r} is not a cron field (*, */15, 1-5, 0,30)")
        if not low <= first <= last <= high:
            raise ValueError(f"{part!r} is outside {low}-{high}")
        values.update(range(first, last + 1, step or 1))
    return frozenset(values)
