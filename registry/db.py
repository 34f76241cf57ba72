"""Engines, sessions and migrations: one ``Session`` per unit of work.

A database that cannot serve now - it refuses a connection or does not accept one in time,
drops it, cancels a statement that ran past its limit, or keeps a lock too long - raises
:class:`DatabaseUnavailable` (an ``OperationalError``), which front ends answer with a clear
fault and commands with one line (:func:`database_problem`).
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import String, bindparam, create_engine, event, exc, func, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import BindParameter

from registry.settings import Settings

_HERE = Path(__file__).resolve().parent

#: a pooled server connection idle longer than this (seconds) is pinged before it is used again
PING_AFTER_IDLE = 10.0


def make_engine(url: str, *, generic_plans: bool = False, connect_timeout: int = Settings.db_connect_timeout,
                statement_timeout: int = 0, lock_timeout: int = 0, pool: int = Settings.db_pool,
                overflow: int = Settings.db_overflow) -> Engine:
    """An engine for ``url``; SQLite files get WAL, a busy timeout and foreign keys.

    A server database that does not accept a connection within ``connect_timeout`` seconds
    fails it, and so does a wait that long for a free connection of the pool.  On PostgreSQL
    a statement that runs longer than ``statement_timeout`` seconds, or waits longer than
    ``lock_timeout`` for a lock, is cancelled (0: no limit set here; see ``serving_engine``).
    A server database's pool keeps up to ``pool`` connections open and opens up to ``overflow``
    more while they are all in use (docs/deploy.md, "Connections").

    On PostgreSQL every execution is planned for its values (``plan_cache_mode``
    ``force_custom_plan``): psycopg prepares a statement after five runs, and a generic plan,
    made once for any values, can be far worse for skewed ones (a category with 450 services
    against one with 3) or unable to use an index for ``LIKE $1``.  ``generic_plans`` lets
    PostgreSQL reuse a generic plan where it judges it as good: for statements whose values
    that matter are written into their text (``inline``), where planning would cost more
    than running them (see ``reading_engine``).
    """
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise _unopenable(error) from error
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - driver callback
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            # LIKE is case-sensitive on PostgreSQL; make SQLite agree (and use its indexes).
            cur.execute("PRAGMA case_sensitive_like=ON")
            cur.close()

        _unavailable_raised(engine)
        return engine
    limits = dict(connect_timeout=connect_timeout, statement_timeout=statement_timeout, lock_timeout=lock_timeout,
                  pool=pool, overflow=overflow)
    connect_args: dict[str, object] = {}
    if url.startswith("postgresql"):
        connect_args["connect_timeout"] = max(connect_timeout, 2)  # libpq's least (its 0 is: wait for ever)
        options = {"plan_cache_mode": "auto" if generic_plans else "force_custom_plan",
                   "statement_timeout": f"{statement_timeout}s", "lock_timeout": f"{lock_timeout}s"}
        # (a limit of 0 leaves the database's own setting, none unless its administrator set one)
        connect_args["options"] = " ".join(f"-c {name}={value}" for name, value in options.items() if value != "0s")
    engine = create_engine(url, pool_size=pool, max_overflow=overflow, pool_timeout=connect_timeout,
                           connect_args=connect_args)
    engine.__dict__["_govshare_limits"] = limits  # for its reading engine
    _unavailable_raised(engine)
    _ping_when_idle(engine)
    return engine


def serving_engine(settings: Settings) -> Engine:
    """The engine requests use: every wait on the database bounded by the settings, so that a
    database that does not answer costs a request a clear fault, not a hung thread.  Adapter
    runs, migrations and commands use ``make_engine``'s, with no statement or lock limit."""
    return make_engine(settings.db_url, connect_timeout=settings.db_connect_timeout,
                       statement_timeout=settings.db_statement_timeout, lock_timeout=settings.db_lock_timeout,
                       pool=settings.db_pool, overflow=settings.db_overflow)


def reading_engine(engine: Engine) -> Engine:
    """An autocommit engine for read-only work beside ``engine`` (UDDI inquiry): no BEGIN and
    COMMIT round trips, each statement sees the committed database as it is then.  On
    PostgreSQL it has a pool of its own whose connections may reuse generic plans
    (``make_engine(generic_plans=True)``); it is made once and disposed of with ``engine``."""
    with _reading_lock:
        return _autocommit(engine)


_reading_lock = threading.Lock()


def autocommit_sessions(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions like ``factory``'s whose statements each commit on their own: for a unit of work
    that only reads (``trust.actions.action(read_only=True)``), which then costs no BEGIN and no
    COMMIT round trip.  It sees what it would have seen in a transaction: under READ COMMITTED,
    PostgreSQL's default, every statement of a transaction takes a snapshot of its own anyway.
    On PostgreSQL they are ``reading_engine``'s connections, which may reuse generic plans: a
    statement read-only work repeats (a QueryRecords by key) is then planned once, not at every
    execution, so any value that decides its plan (a ``LIKE`` pattern) is written into its text
    (``inline``, ``like_prefix``).  Made once per engine."""
    engine = factory.kw.get("bind")
    if not isinstance(engine, Engine):  # bound to a connection (a test's transaction): leave it be
        return factory
    with _reading_lock:
        found = engine.__dict__.get("_govshare_autocommit_sessions")
        if found is None:
            options = {name: value for name, value in factory.kw.items() if name != "bind"}
            found = sessionmaker(_autocommit(engine), **options)
            engine.__dict__["_govshare_autocommit_sessions"] = found
        return found


def _autocommit(engine: Engine) -> Engine:
    """``reading_engine(engine)``, made under ``_reading_lock`` (which its caller holds)."""
    if engine.dialect.name != "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    reading = engine.__dict__.get("_govshare_reading")
    if reading is None:
        reading = make_engine(engine.url.render_as_string(hide_password=False), generic_plans=True,
                              **engine.__dict__.get("_govshare_limits", {}))
        reading = engine.__dict__["_govshare_reading"] = reading.execution_options(isolation_level="AUTOCOMMIT")
        event.listen(engine, "engine_disposed", lambda _engine: reading.dispose())
    return reading


class DatabaseUnavailable(exc.OperationalError):
    """The database cannot serve now; ``reason`` says why in words a caller may read (no host
    or port), ``str()`` adds the driver's message for the log."""

    @property
    def reason(self) -> str:
        return _unavailability(self.orig) or "it failed"

    @property
    def for_caller(self) -> str:
        """What a fault says to the caller (a request that fails so may be sent again as it was)."""
        return f"the platform's database cannot serve the request now ({self.reason}); try again later"

    def __str__(self) -> str:
        detail = " ".join(str(self.orig).split())
        return f"the database is unavailable: {self.reason} ({detail})"


def _unavailability(orig: BaseException | None) -> str | None:
    """Why the driver's error ``orig`` means the database cannot serve now; None if it means
    something else (a constraint, a bad statement: the request's or the platform's fault)."""
    text = str(orig)
    if isinstance(orig, sqlite3.OperationalError):
        if "database is locked" in text:
            return "another process kept it locked for longer than the busy timeout"
        return "its file could not be opened" if "unable to open database file" in text else None
    if not type(orig).__module__.startswith("psycopg"):
        return None
    state = getattr(orig, "sqlstate", None)  # None: no server answered, or the connection broke
    if state == "57014":  # query_canceled: by statement_timeout, or by an administrator
        return "a statement ran out of time" if "statement timeout" in text else "a statement was cancelled"
    if state == "55P03":
        return "a lock it needed was not free in time"
    if state is not None:  # 08: the connection failed; 53: out of connections; 57: shutting down, starting up
        return "it is starting up, shutting down or out of connections" if state[:2] in ("08", "53", "57") else None
    if "timeout expired" in text:
        return "it did not accept a connection in time"
    if "Connection refused" in text:
        return "it refused the connection"
    return "the connection to it failed"


def _unopenable(error: OSError) -> DatabaseUnavailable:
    """A SQLite database whose folder or lock file cannot be made, as SQLite says it of its file."""
    cause = sqlite3.OperationalError(f"unable to open database file: {error.strerror}: {error.filename}")
    return DatabaseUnavailable(None, None, cause)


def _unavailable_raised(engine: Engine) -> None:
    """Have ``engine`` raise :class:`DatabaseUnavailable` for an ``OperationalError`` that says
    the database cannot serve now."""

    @event.listens_for(engine, "handle_error", retval=True)
    def _unavailable(context):  # pragma: no cover - engine callback
        error = context.sqlalchemy_exception
        if type(error) is not exc.OperationalError or _unavailability(error.orig) is None:
            return None
        return DatabaseUnavailable(error.statement, error.params, error.orig, hide_parameters=error.hide_parameters,
                                   connection_invalidated=error.connection_invalidated)


def database_problem(error: BaseException, settings: Settings) -> str | None:
    """One line for a person at the command line: what is wrong with the database of
    ``settings`` and what to do about it; None when ``error`` is about something else.

        the PostgreSQL server at 127.0.0.1:5432 has no database 'govshare': create it
        (createdb -h 127.0.0.1 -p 5432 -U postgres govshare) or correct --db-url / GOVSHARE_DB_URL
    """
    fix = "correct --db-url / GOVSHARE_DB_URL"
    try:
        url = make_url(settings.db_url)
    except exc.ArgumentError:
        return f"{settings.db_url!r} is not a database URL: {fix}, e.g. postgresql+psycopg://USER@HOST:5432/NAME"
    if isinstance(error, exc.NoSuchModuleError) and str(error).endswith(":" + url.drivername.replace("+", ".")):
        return (f"{url.drivername!r} in the database URL names no database or driver govshare can use: {fix}, "
                "e.g. postgresql+psycopg://USER@HOST:5432/NAME or sqlite:///PATH")
    if not isinstance(error, DatabaseUnavailable):
        return None
    text = " ".join(str(error.orig).split())
    if url.get_backend_name() == "sqlite":
        if "unable to open" in text:
            return f"cannot open the SQLite database {url.database} ({text}): make its folder writable or {fix}"
        return f"the SQLite database {url.database} is in use: {error.reason}; try again when it is free"
    address = f"{url.host or 'localhost'}:{url.port or 5432}"
    server = f"the database server at {address}"
    if (missing := re.search(r'database "([^"]+)" does not exist', text)) is not None:
        return (f"{server} has no database {missing[1]!r}: create it (createdb -h {url.host or 'localhost'} "
                f"-p {url.port or 5432} -U {url.username or 'postgres'} {missing[1]}) or {fix}")
    if "authentication failed" in text or re.search(r'role "[^"]+" does not exist', text):
        return f"{server} refused the login of {url.username!r} ({text.split('FATAL: ')[-1]}): {fix}"
    if "timeout expired" in text:
        return (f"{server} did not accept a connection within {settings.db_connect_timeout} s: check that it runs "
                f"and the network lets the connection through (GOVSHARE_DB_CONNECT_TIMEOUT), or {fix}")
    if "Connection refused" in text:
        return f"nothing accepts connections at {address}: start the database server there or {fix}"
    return f"cannot use the database at {url.render_as_string()}: {text}: check the server or {fix}"


def _ping_when_idle(engine: Engine) -> None:
    """Test a pooled connection before use only when it has been idle for ``PING_AFTER_IDLE``
    seconds: a database restart or a dropped idle connection then costs no request, and a
    busy server pays no round trip per checkout (``pool_pre_ping`` pings every time).  A
    connection that breaks within the idle window fails its statement once; SQLAlchemy then
    replaces every connection of the pool that is older than the failure."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn, record):  # pragma: no cover - pool callback
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn, record, _proxy):  # pragma: no cover - pool callback
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as error:  # noqa: BLE001 - any failure means: use another connection
            raise exc.DisconnectionError(f"a pooled connection idle {time.monotonic() - since:.0f} s is gone: "
                                         f"{error}") from error


def inline(value: str) -> BindParameter:
    """``value`` written into the statement's text when it runs, not bound as a parameter.  A
    LIKE pattern so written is planned for its prefix and read from an index; bound, the
    statement may run on a generic plan that scans.  Quoted by the dialect."""
    return bindparam(None, value, type_=String(), literal_execute=True)


def escape_like(text: str) -> str:
    """``text`` with its own ``%``, ``_`` and backslashes taken literally in a LIKE pattern
    (``ESCAPE '\\'``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_prefix(column, prefix: str):
    """``column LIKE 'prefix%'``, the prefix taken literally, written into the SQL (``inline``)."""
    return column.like(inline(escape_like(prefix) + "%"), escape="\\")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


STARTUP_POLL = 0.2  # seconds between a waiting process's tries of the start-up lock (PostgreSQL)


@contextmanager
def startup_lock(engine: Engine) -> Iterator[None]:
    """Hold the database's start-up lock for the block, waiting for it if another process has it.

    Processes started together on one database migrate it, bootstrap the node and register
    its services one after another: at once, two would create the same table or save the
    same tModel, and one would fail with a unique violation.  The next to get the lock finds
    the work done (each step is idempotent) and goes on.

    * PostgreSQL: a session-level advisory lock on ``hashtext('govshare.startup')``, on a connection of
      its own (the work's transactions run on others).  It is waited for by trying it every
      ``STARTUP_POLL`` seconds (``pg_try_advisory_lock``), not by a statement that blocks: a blocked
      statement holds a snapshot, and an index the holder builds ``CONCURRENTLY`` (migration 0032)
      waits for every snapshot older than its own - it would wait for the waiters, who wait for it;
    * SQLite: an exclusive ``flock`` on ``<database file>-startup.lock`` beside the database
      (the database's own write lock cannot be held across the migration's transactions).

    Either lock dies with the process that holds it.
    """
    if engine.dialect.name == "postgresql":
        key = func.hashtext("govshare.startup")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            while not conn.execute(select(func.pg_try_advisory_lock(key))).scalar():
                time.sleep(STARTUP_POLL)
            try:
                yield
            finally:
                conn.execute(select(func.pg_advisory_unlock(key)))
    elif engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        try:
            fd = os.open(f"{engine.url.database}-startup.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise _unopenable(error) from error
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # lets the lock go
    else:  # an in-memory SQLite database belongs to one process (and a centre runs on no other kind)
        yield


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config(str(_HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(_HERE / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` with Alembic."""
    from alembic import command

    make_engine(url).dispose()  # creates the SQLite parent folder
    command.upgrade(alembic_config(url), revision)
