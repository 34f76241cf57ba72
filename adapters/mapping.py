"""Mapping (映射): one legacy source row -> the field dict of a standard record, or its problems.

``map_row`` applies an adapter file's ``[fields]``: reads the column (or constant, or template),
runs the cleaning steps, then the code table, and checks required fields::

    row = {"GMSFHM": " 33010219900102123x ", "XM": "张伟\\u200b", "XB": "男", "MZ": "汉族",
           "CSRQ": "1990年1月2日", "HJDZ_XZQH": "上城区", "HJDZ": "浙江省杭州市上城区解放路8号", "ZT": "10"}
    map_row(config, row)
    -> MappedRow(key="33010219900102123x",
                 fields={"idNumber": "33010219900102123X", "name": "张伟", "sex": "1", "ethnicity": "01",
                         "birthDate": date(1990, 1, 2), "domicileDivision": "330102", ...},
                 problems=[])

    map_row(config, {**row, "XB": "?", "XM": " "}).problems
    -> [Problem("map", "code.unmapped", "sex", "'?' is not in code table builtin:sex (column XB)"),
        Problem("map", "field.required", "name", "姓名 (name) is blank (column XM)")]

``key`` is the source row's key columns (``[source] key``) joined with ``|``, stripped - what
identifies the row in the source, for quarantine and lineage, even when mapping fails. A row
with problems has ``fields=None``: it goes to quarantine, never on to validation. Fields whose
value is blank are left out, as ``Format.encode`` expects. Format rules (ID checksums, dates
matching the ID) are not checked here; the validators of ``xsd.validation`` run next.

``Mapper(config)`` compiles the mapping once; ``map_row`` keeps one per loaded config.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from . import cleaning
from .codes import CodeTable
from .config import AdapterConfig, FieldMapping

MAP = "map"
CLEAN = "clean"


@dataclass(frozen=True)
class Problem:
    """Why a row cannot become a record: stage ("map" or "clean"), rule, target field, message."""

    stage: str
    rule: str
    field: str | None
    message: str


@dataclass
class MappedRow:
    key: str | None
    fields: dict[str, object] | None
    problems: list[Problem] = field(default_factory=list)


class Mapper:
    """The compiled mapping of one adapter: call ``map(row)`` per source row."""

    def __init__(self, config: AdapterConfig) -> None:
        self.config = config
        self.key_columns = config.source.key
        labels = {f.name: f.label for f in config.format.fields}
        self._fields = _generate(tuple(
            (m, config.code_tables.get(m.codes) if m.codes else None, labels.get(m.target, m.target))
            for m in config.fields))

    def map(self, row: Mapping[str, object]) -> MappedRow:
        fields, problems = self._fields(row)
        return MappedRow(self.key(row), None if problems else fields, problems)

    def key(self, row: Mapping[str, object]) -> str | None:
        parts = []
        for column in self.key_columns:
            value = row.get(column)
            text = "" if value is None else str(value).strip()
            if not text:
                return None
            parts.append(text)
        return "|".join(parts)


_MAPPERS: dict[int, tuple[AdapterConfig, Mapper]] = {}


def mapper_for(config: AdapterConfig) -> Mapper:
    """The compiled ``Mapper`` of a config, built on first use."""
    held = _MAPPERS.get(id(config))
    # the config is kept alongside so its id cannot be reused by another object
    if held is None or held[0] is not config:
        held = _MAPPERS[id(config)] = (config, Mapper(config))
    return held[1]


def map_row(config: AdapterConfig, row: Mapping[str, object]) -> MappedRow:
    """One source row -> its key, its mapped fields (or None) and the problems found."""
    return mapper_for(config).map(row)


# -- compiling one field ------------------------------------------------------------------------------

def _steps(names: tuple[str, ...]) -> tuple[cleaning.Step, ...]:
    """The step functions, fused where that saves work on the hot path (every field of every row):
    runs of character-table steps become one ``str.translate``, and strip-then-blank one call."""
    steps: list[cleaning.Step] = []
    pending: dict[int, str | None] = {}
    previous = None
    for name in (*names, None):
        table = cleaning.TRANSLATIONS.get(name) if name else None
        if table is not None:
            pending = _chain(pending, table)
            continue
        if pending:
            steps.append(_translate(pending))
            pending = {}
            previous = None
        if name == "blank" and previous == "strip":
            steps[-1] = _strip_blank
        elif name:
            steps.append(cleaning.STEPS[name])
        previous = name
    return tuple(steps)


def _chain(first: dict[int, str | None], second: dict[int, str | None]) -> dict[int, str | None]:
    """The table of ``translate(first)`` then ``translate(second)``."""
    chained: dict[int, str | None] = {}
    for char, out in first.items():
        chained[char] = None if out is None else out.translate(second)
    for char, out in second.items():
        chained.setdefault(char, out)
    return chained


def _translate(table: dict[int, str | None]) -> cleaning.Step:
    # every character the tables change is outside ASCII, and a regex scan is far cheaper than
    # translate, which looks every character up in the table
    touched = re.compile("[%s]" % re.escape("".join(map(chr, table))))

    def step(value: object) -> object:
        if value.__class__ is str and not value.isascii() and touched.search(value):
            return value.translate(table)
        return value

    step.table, step.touched = table, touched.search  # for _generate, which writes the step inline
    return step


def _strip_blank(value: object) -> object:
    if value.__class__ is str:
        return value.strip() or None
    return value


def _generate(mappings: tuple[tuple[FieldMapping, CodeTable | None, str], ...]) -> Callable[
        [Mapping[str, object]], tuple[dict[str, object], list[Problem]]]:
    """``fields(row) -> (fields, problems)`` for the field mappings of a file, written out as
    Python source and compiled: it runs for every field of every row read, and a function per
    field and per step spent more on being called than on the work.  Each field reads its
    column (or template, or constant), runs its cleaning steps, then its code table, and is
    left out when blank (a problem if it is required)."""
    constants: dict[str, object] = {"Problem": Problem, "MAP": MAP, "CLEAN": CLEAN,
                                    "CleaningError": cleaning.CleaningError}
    lines = ["def fields(row):", "    out, problems = {}, []"]
    for n, (mapping, codes, label) in enumerate(mappings):
        target = mapping.target
        source = f"column {mapping.column}" if mapping.column else ("template" if mapping.template else "constant")
        constants[f"WHAT_{n}"] = f"{label} ({target})"
        constants[f"SOURCE_{n}"] = source
        read = f"row[{mapping.column!r}]" if mapping.column is not None else f"READ_{n}(row)"
        constants[f"READ_{n}"] = _reader(mapping)
        lines += ["    try:", f"        value = {read}", "    except KeyError as exc:",
                  f"        problems.append(Problem(MAP, 'column.missing', {target!r}, "
                  "f'the source has no column {exc.args[0]}'))",
                  "    else:"]
        body = []
        steps = _steps(mapping.clean)
        if steps:
            body.append("try:")
            for m, step in enumerate(steps):
                if step is _strip_blank:
                    body += ["    if value.__class__ is str:", "        value = value.strip() or None"]
                elif hasattr(step, "table"):
                    constants[f"TABLE_{n}_{m}"], constants[f"TOUCHED_{n}_{m}"] = step.table, step.touched
                    body += [f"    if value.__class__ is str and not value.isascii() and TOUCHED_{n}_{m}(value):",
                             f"        value = value.translate(TABLE_{n}_{m})"]
                else:
                    constants[f"STEP_{n}_{m}"] = step
                    body.append(f"    value = STEP_{n}_{m}(value)")
            body += ["except CleaningError as exc:",
                     f"    problems.append(Problem(CLEAN, exc.rule, {target!r}, "
                     f"f'{{WHAT_{n}}}: {{exc}} ({{SOURCE_{n}}})'))",
                     "else:"]
        store = []
        store += ["if value is None:"]
        store += ([f"    problems.append(Problem(MAP, 'field.required', {target!r}, "
                   f"f'{{WHAT_{n}}} is blank ({{SOURCE_{n}}})'))"] if mapping.required else ["    pass"])
        if codes is not None:
            constants[f"LOOKUP_{n}"], constants[f"NORMALIZE_{n}"] = codes.entries.get, codes.normalize
            constants[f"CODES_{n}"] = codes
            store += ["else:", f"    code = LOOKUP_{n}(NORMALIZE_{n}(str(value)))", "    if code is None:",
                      f"        problems.append(Problem(MAP, 'code.unmapped', {target!r}, "
                      f"f'{{CODES_{n}.explain(value)}} ({{SOURCE_{n}}})'))",
                      "    else:", f"        out[{target!r}] = code"]
        else:
            store += ["else:", f"    out[{target!r}] = value"]
        body += ["    " + line for line in store] if steps else store
        lines += ["        " + line for line in body]
    lines.append("    return out, problems")
    exec(compile("\n".join(lines), "<adapter field mapping>", "exec"), constants)  # noqa: S102 - our own source
    return constants["fields"]


def _reader(mapping: FieldMapping) -> Callable[[Mapping[str, object]], object]:
    if mapping.column is not None:
        column = mapping.column
        return lambda row: row[column]
    if mapping.template is not None:
        template, columns = mapping.template, mapping.columns

        def read(row: Mapping[str, object]) -> object:
            # a missing value joins as "" (an address without 门牌号 is still an address)
            return template.format_map({c: "" if row[c] is None else row[c] for c in columns})

        return read
    constant = mapping.value
    return lambda row: constant
