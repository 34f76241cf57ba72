"""The connection pool of a server database: a connection that died while idle in the pool
is replaced before a request uses it, and a busy pool pays no ping per checkout."""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy import exc, text
from sqlalchemy.engine import make_url

from registry import db
from registry.settings import Settings, SettingsError


def _kill(url: str, pid: int) -> None:
    admin = make_url(url).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


def _pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_connection_killed_while_idle_is_replaced_before_use(pg_database, monkeypatch):
    engine = db.make_engine(pg_database)
    try:
        first = _pid(engine)
        _kill(pg_database, first)  # as a database restart or an idle-connection reaper would
        monkeypatch.setattr(db, "PING_AFTER_IDLE", 0.0)  # the connection has been idle long enough
        second = _pid(engine)  # no error: the dead connection was found by the ping and replaced
        assert second != first
    finally:
        engine.dispose()


def test_a_connection_used_moments_ago_is_not_pinged_again(pg_database, monkeypatch):
    engine = db.make_engine(pg_database)
    pings: list[object] = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(conn) or real_ping(conn))
    try:
        _pid(engine)
        _pid(engine)  # checked in a moment ago: used as it is
        assert pings == []
        monkeypatch.setattr(db, "PING_AFTER_IDLE", 0.0)
        _pid(engine)
        assert len(pings) == 1
    finally:
        engine.dispose()


def test_the_pools_of_a_serving_process_hold_what_the_settings_allow(pg_database):
    """GOVSHARE_DB_POOL and GOVSHARE_DB_OVERFLOW bound each pool (requests, UDDI inquiry): a
    connection beyond them waits for a free one, then fails; the overflow is closed when returned."""
    settings = Settings.from_env(db_url=pg_database, db_pool=2, db_overflow=1, db_connect_timeout=2)
    engine = db.serving_engine(settings)
    reading = db.reading_engine(engine)
    try:
        for pool_of in (engine, reading):
            held = [pool_of.connect() for _ in range(3)]
            assert len({c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in held}) == 3
            started = time.monotonic()
            with pytest.raises(exc.TimeoutError):
                pool_of.connect()
            assert 1.5 < time.monotonic() - started < 10
            for connection in held:
                connection.close()
            assert pool_of.pool.checkedin() == 2  # the one beyond the pool was closed
    finally:
        engine.dispose()


def test_a_pool_that_cannot_be_is_refused_at_start(monkeypatch):
    monkeypatch.setenv("GOVSHARE_DB_POOL", "0")
    with pytest.raises(SettingsError, match="GOVSHARE_DB_POOL=0"):
        Settings.from_env()
    monkeypatch.setenv("GOVSHARE_DB_POOL", "4")
    monkeypatch.setenv("GOVSHARE_DB_OVERFLOW", "6")
    assert (Settings.from_env().db_pool, Settings.from_env().db_overflow) == (4, 6)
