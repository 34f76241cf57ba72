"""Engines, sessions and migrations: one ``Session`` per unit of work."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import String, bindparam, create_engine, event, exc, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import BindParameter

_HERE = Path(__file__).resolve().parent

#: a pooled server connection idle longer than this (seconds) is pinged before it is used again
PING_AFTER_IDLE = 10.0


def make_engine(url: str, *, generic_plans: bool = False) -> Engine:
    """An engine for ``url``; SQLite files get WAL, a busy timeout and foreign keys.

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
            Path(path).parent.mkdir(parents=True, exist_ok=True)
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

        return engine
    connect_args = {}
    if url.startswith("postgresql"):
        connect_args["options"] = f"-c plan_cache_mode={'auto' if generic_plans else 'force_custom_plan'}"
    engine = create_engine(url, pool_size=10, max_overflow=20, connect_args=connect_args)
    _ping_when_idle(engine)
    return engine


def reading_engine(engine: Engine) -> Engine:
    """An autocommit engine for read-only work beside ``engine`` (UDDI inquiry): no BEGIN and
    COMMIT round trips, each statement sees the committed database as it is then.  On
    PostgreSQL it has a pool of its own whose connections may reuse generic plans
    (``make_engine(generic_plans=True)``); it is made once and disposed of with ``engine``."""
    if engine.dialect.name != "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    with _reading_lock:
        reading = engine.__dict__.get("_govshare_reading")
        if reading is None:
            reading = make_engine(engine.url.render_as_string(hide_password=False), generic_plans=True)
            reading = engine.__dict__["_govshare_reading"] = reading.execution_options(isolation_level="AUTOCOMMIT")
            event.listen(engine, "engine_disposed", lambda _engine: reading.dispose())
        return reading


_reading_lock = threading.Lock()


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


@contextmanager
def startup_lock(engine: Engine) -> Iterator[None]:
    """Hold the database's start-up lock for the block, waiting for it if another process has it.

    Processes started together on one database migrate it, bootstrap the node and register
    its services one after another: at once, two would create the same table or save the
    same tModel, and one would fail with a unique violation.  The next to get the lock finds
    the work done (each step is idempotent) and goes on.

    * PostgreSQL: a session-level advisory lock, ``pg_advisory_lock(hashtext('govshare.startup'))``,
      on a connection of its own (the work's transactions run on others);
    * SQLite: an exclusive ``flock`` on ``<database file>-startup.lock`` beside the database
      (the database's own write lock cannot be held across the migration's transactions).

    Either lock dies with the process that holds it.
    """
    if engine.dialect.name == "postgresql":
        key = func.hashtext("govshare.startup")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(select(func.pg_advisory_lock(key)))
            try:
                yield
            finally:
                conn.execute(select(func.pg_advisory_unlock(key)))
    elif engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        fd = os.open(f"{engine.url.database}-startup.lock", os.O_RDWR | os.O_CREAT, 0o644)
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
