"""Checking an adapter file before it runs (E3): the action ``adapter.check``.

    check(ctx, file="adapters/departments/gaj-household.toml", preview=2)
    -> Preview(config=AdapterConfig(name="gaj-household", ...),
               mapped=[MappedRow(key="532326200503275201", fields={...}, problems=[]), ...],
               dialect="sqlite", sql='SELECT * FROM "HJ_RKXX" WHERE "HJ_RKXX"."GXSJ" >= ? ORDER BY ...')

The file is valid and its source readable, or the action says why: a wrong file, or a column
the file names that a database source lacks, is ``AdapterConfigError`` listing every problem
with file and line or key (rows with problems are data, not a fault of the file: they are in
the preview); a source that cannot be read is ``SourceError``.  It reads a department's rows,
so it is the operator's and is recorded in the audit log.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from registry.errors import AdapterConfigError, SourceError
from trust.actions import Context, action

from .config import AdapterConfig, load_adapter
from .mapping import MappedRow, mapper_for
from .sources import DatabaseSource, open_source


@dataclass(frozen=True)
class Preview:
    """An adapter file that loads, its first source rows as it maps them, and the SQL it reads with."""

    config: AdapterConfig
    mapped: list[MappedRow]
    dialect: str
    sql: str


@action("adapter.check")
def check(ctx: Context, *, file: Path | str, preview: int = 5) -> Preview:
    """Load the adapter file ``file``, check the columns it names against its source and map the
    first ``preview`` source rows."""
    config = load_adapter(file)
    try:
        source = open_source(config)
    except SourceError as exc:
        raise SourceError(f"{config.path}: cannot read the source: {exc.message}") from exc
    try:
        if isinstance(source, DatabaseSource):
            missing = _missing_columns(config, source.columns())
            if missing:
                raise AdapterConfigError(config.path, *missing[0], more=missing[1:])
        mapper = mapper_for(config)
        mapped = [mapper.map(row) for row in itertools.islice(source.rows(), max(preview, 0))]
        backend = make_url(config.source.url).get_backend_name() if config.source.url else "sqlite"
        dialect = "mysql" if backend == "mariadb" else backend  # MariaDB compiles as MySQL: one dialect, one driver
        sql = source.compiled_sql(dialect)
    except (SQLAlchemyError, OSError) as exc:
        raise SourceError(f"{config.path}: cannot read the source: {exc}") from exc
    except SourceError as exc:
        raise SourceError(f"{config.path}: cannot read the source: {exc.message}") from exc
    finally:
        source.close()
    ctx.note(record_count=len(mapped), detail=f"{config.path}: {config.name}")
    return Preview(config, mapped, dialect, sql)


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
