"""The connection pool of a server database: a connection that died while idle in the pool
is replaced before a request uses it, and a busy pool pays no ping per checkout."""

from __future__ import annotations

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from registry import db


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
