"""Source readers: stream the rows of a department source as dicts keyed by column name.

A database source runs one query, ordered so that a run can resume after a checkpoint, and
streams it (server-side cursor where the driver has one; never all rows in memory)::

    source = open_source(load_adapter("adapters/departments/gaj-household.toml"))
    for row in source.rows(since=datetime(2024, 6, 1, 8, 0)):
        ...   # {"GMSFHM": "33010219900102123X", "XM": "张伟", ..., "GXSJ": datetime(...)}
    source.close()

    source.count(since=datetime(2024, 6, 1, 8, 0))   # the rows rows(since) would read, for an ETA
    -> 1234                                          # (None for files: counting means reading them)

    source.compiled_sql("oracle")
    -> SELECT * FROM "HJ_RKXX" WHERE "HJ_RKXX"."GXSJ" >= :since ORDER BY "HJ_RKXX"."GXSJ", "HJ_RKXX"."GMSFHM"

With change tracking by timestamp, ``since`` is the last watermark and the source reads from
``since - overlap``: rows committed late with an older timestamp are read again rather than
missed (the comparison stage drops the unchanged ones). An aware ``since`` is converted to
China time and compared naive, as legacy databases store local time without an offset.

CSV files are read with the csv module in the configured encoding (GBK / GB18030 exports of
old systems, UTF-8 with or without BOM); XLSX files with openpyxl in read-only mode. File
rows are filtered on the timestamp column in Python, as there is no query to put it in.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Protocol

from sqlalchemy import (
    DateTime,
    Engine,
    Select,
    bindparam,
    column,
    create_engine,
    event,
    func,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.engine import Dialect

from registry.clock import CHINA
from registry.errors import SourceError

from .cleaning import CleaningError, to_datetime
from .config import AdapterConfig

#: The driver each dialect name stands for (DESIGN.md, department sources) and that driver's
#: paramstyle: compiling needs no driver installed, but without one SQLAlchemy would assume
#: "named" and show placeholders the driver never sees.
DIALECTS = {
    "sqlite": ("sqlalchemy.dialects.sqlite", "pysqlite", "qmark"),
    "mysql": ("sqlalchemy.dialects.mysql", "pymysql", "pyformat"),
    "postgresql": ("sqlalchemy.dialects.postgresql", "psycopg", "pyformat"),
    "oracle": ("sqlalchemy.dialects.oracle", "oracledb", "named"),
    "mssql": ("sqlalchemy.dialects.mssql", "pymssql", "pyformat"),
}


class Source(Protocol):
    def rows(self, since: datetime | None = None, chunk: int = 5000) -> Iterator[dict[str, object]]:
        """The source's rows, changed since the watermark ``since`` when given."""

    def count(self, since: datetime | None = None) -> int | None:
        """How many rows ``rows(since)`` would yield, if the source can tell cheaply; else None."""

    def compiled_sql(self, dialect_name: str) -> str:
        """The SQL this source runs, as the named dialect writes it."""

    def close(self) -> None:
        """Release connections and file handles."""


def open_source(config: AdapterConfig) -> Source:
    """The reader for an adapter's ``[source]``."""
    kind = config.source.kind
    if kind == "database":
        return DatabaseSource(config)
    if kind == "csv":
        return CsvSource(config)
    return XlsxSource(config)


def dialect(name: str) -> Dialect:
    """A SQLAlchemy dialect by backend name (``oracle`` -> oracle+oracledb), without its driver."""
    if name not in DIALECTS:
        raise ValueError(f"unknown dialect {name!r}; known: {', '.join(DIALECTS)}")
    module_name, driver, paramstyle = DIALECTS[name]
    module = __import__(f"{module_name}.{driver}", fromlist=["dialect"])
    return module.dialect(paramstyle=paramstyle)


def _watermark(config: AdapterConfig, since: datetime | None) -> datetime | None:
    """The lowest timestamp to read: ``since`` minus the overlap window, as naive China time."""
    if since is None or config.change.timestamp is None:
        return None
    start = since - config.change.overlap
    return start.astimezone(CHINA).replace(tzinfo=None) if start.tzinfo else start


class DatabaseSource:
    """A table or SQL query in any SQLAlchemy database."""

    def __init__(self, config: AdapterConfig, engine: Engine | None = None) -> None:
        self.config = config
        self._engine = engine

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            assert self.config.source.url is not None
            self._engine = create_engine(self.config.source.url)
            if self._engine.dialect.name == "mysql":
                event.listen(self._engine, "connect", _sort_whole_rows)
        return self._engine

    def query(self, since: datetime | None = None) -> Select:
        """SELECT * from the table or the adapter's SQL, from the watermark on, in resumable order."""
        source = self.config.source
        stamp = self.config.change.timestamp
        columns = [column(stamp, DateTime())] if stamp else []
        columns += [column(k) for k in source.key if k != stamp]
        if source.sql is not None:
            origin = text(source.sql).columns(*columns).subquery("src")
        else:
            assert source.table is not None
            origin = table(source.table, *columns)
        query = select(literal_column("*")).select_from(origin)
        if since is not None and stamp:
            query = query.where(origin.c[stamp] >= bindparam("since", since, type_=DateTime()))
        # key order (after the timestamp) makes chunks deterministic, so a run can resume
        order = ([stamp] if stamp else []) + [k for k in source.key if k != stamp]
        return query.order_by(*(origin.c[name] for name in order))

    def count_query(self, since: datetime | None = None) -> Select:
        """``SELECT count(*)`` over the same rows as :meth:`query`, without its ORDER BY."""
        return select(func.count()).select_from(self.query(since).order_by(None).subquery("counted"))

    def count(self, since: datetime | None = None) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(self.count_query(_watermark(self.config, since)))

    def compiled_sql(self, dialect_name: str) -> str:
        """The incremental query (with the watermark predicate when tracking by timestamp)."""
        since = datetime(2000, 1, 1) if self.config.change.timestamp else None
        return str(self.query(since).compile(dialect=dialect(dialect_name)))

    def rows(self, since: datetime | None = None, chunk: int = 5000) -> Iterator[dict[str, object]]:
        query = self.query(_watermark(self.config, since))
        # stream_results: a server-side cursor (psycopg named cursor, PyMySQL SSCursor, oracledb
        # arraysize) so that a million-row table never sits in memory; yield_per sets the batch
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=chunk).execute(query)
            names = source_names(conn.dialect, result.keys())
            for partition in result.partitions():
                for values in partition:
                    yield dict(zip(names, values, strict=True))

    def columns(self) -> list[str]:
        """The column names the query returns (reads no rows)."""
        with self.engine.connect() as conn:
            return source_names(conn.dialect, conn.execute(self.query().limit(0)).keys())

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


#: MySQL and MariaDB sort rows whose columns may total more than ``max_length_for_sort_data``
#: bytes (1024 by default: two VARCHAR(200) in utf8mb4 are more) as sort keys and row ids, and
#: then read every row again by its id: random reads all over the table.  A source of a million
#: rows ordered by (timestamp, key) took 40 s and 18 s of the server's CPU that way, and 2.3 s
#: and 1.7 s carrying the rows through the sort.  The session's value only, at its maximum.
_MAX_LENGTH_FOR_SORT_DATA = 8 << 20


def _sort_whole_rows(connection, record) -> None:
    """Have a MySQL/MariaDB session sort the rows themselves, never row ids (see above)."""
    cursor = connection.cursor()
    try:
        cursor.execute(f"SET SESSION max_length_for_sort_data = {_MAX_LENGTH_FOR_SORT_DATA}")
    except Exception:  # noqa: BLE001 - a server without the variable (deprecated by MySQL 8.0.20, whose sorts
        pass           # no longer need it) reads as before
    finally:
        cursor.close()


def source_names(dialect: Dialect, names: Iterable[str]) -> list[str]:
    """Result column names as the source spells them in its schema.

    Oracle stores unquoted names in upper case and SQLAlchemy lower-cases them in results
    (``GMSFHM`` -> ``gmsfhm``); the adapter file names columns as the source's DBA sees them.
    """
    if dialect.requires_name_normalize:
        return [dialect.denormalize_name(n) for n in names]
    return list(names)


class _FileSource:
    """Shared by CSV and XLSX: timestamp filtering in Python, no SQL."""

    def __init__(self, config: AdapterConfig) -> None:
        self.config = config
        assert config.source.path is not None
        self.path = config.source.path

    def rows(self, since: datetime | None = None, chunk: int = 5000) -> Iterator[dict[str, object]]:
        start = _watermark(self.config, since)
        stamp = self.config.change.timestamp
        for row in self._read():
            if start is not None and stamp is not None and not self._after(row.get(stamp), start):
                continue
            yield row

    @staticmethod
    def _after(value: object, start: datetime) -> bool:
        # a row whose timestamp cannot be read is kept: the mapping reports it, nothing is lost
        try:
            stamp = to_datetime(value)
        except CleaningError:
            return True
        return not isinstance(stamp, datetime) or stamp.replace(tzinfo=None) >= start

    def count(self, since: datetime | None = None) -> None:
        """Unknown: a file has no index to count with, only the whole read."""
        return None

    def compiled_sql(self, dialect_name: str) -> str:
        return f"-- {self.config.source.kind} file {self.path}: read directly, no SQL"

    def close(self) -> None:
        """Files are opened per ``rows`` call and closed when it ends."""

    def _read(self) -> Iterator[dict[str, object]]:
        raise NotImplementedError


class CsvSource(_FileSource):
    def _read(self) -> Iterator[dict[str, object]]:
        source = self.config.source
        try:
            handle = open(self.path, encoding=source.encoding, newline="")
        except OSError as exc:
            raise SourceError(f"cannot open {self.path}: {exc.strerror}") from None
        with handle:
            try:
                yield from csv.DictReader(handle, delimiter=source.delimiter)
            except UnicodeDecodeError as exc:
                raise SourceError(f"{self.path} is not {source.encoding}: {exc.reason} at byte {exc.start}") from None


class XlsxSource(_FileSource):
    def _read(self) -> Iterator[dict[str, object]]:
        from openpyxl import load_workbook  # imported here: only file adapters need it

        try:
            book = load_workbook(self.path, read_only=True, data_only=True)
        except (OSError, ValueError) as exc:
            raise SourceError(f"cannot open {self.path}: {exc}") from None
        try:
            sheet_name = self.config.source.sheet
            if sheet_name is not None and sheet_name not in book.sheetnames:
                raise SourceError(f"{self.path} has no sheet {sheet_name!r}; sheets: {', '.join(book.sheetnames)}")
            sheet = book[sheet_name] if sheet_name else book.worksheets[0]
            lines = sheet.iter_rows(values_only=True)
            header = next(lines, None)
            if header is None:
                return
            names = [str(h).strip() if h is not None else f"column{i + 1}" for i, h in enumerate(header)]
            for values in lines:
                if any(v is not None for v in values):  # Excel keeps formatted empty rows
                    yield dict(zip(names, values, strict=False))
        finally:
            book.close()
