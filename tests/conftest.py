"""Shared fixtures: real databases (SQLite always, PostgreSQL when reachable) and a
real HTTP server on a free loopback port.

``REQUIRE_SERVICES=1`` turns every "service unreachable" skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from registry.db import make_engine, migrate, session_factory, unit_of_work
from registry.models import Base
from registry.settings import Settings

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
PG_ADMIN_URL = os.environ.get("GOVSHARE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def service_unavailable(reason: str):
    """Skip, or fail when CI requires every service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


def _pg_reachable() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means unreachable
        return f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {exc.__class__.__name__}"


@pytest.fixture
def new_postgresql_database():
    """A PostgreSQL database nobody has migrated yet, dropped afterwards."""
    from bench.databases import throwaway_database

    reason = _pg_reachable()
    if reason:
        service_unavailable(reason)
    with throwaway_database(PG_ADMIN_URL, f"govshare_test_new_{uuid.uuid4().hex[:8]}", wait=False) as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "govshare.db"
    migrate(f"sqlite:///{path}")
    return path


def without_flush_wait(database: str) -> str:
    """SQL that has a test database's commits return before their WAL reaches the disk
    (``synchronous_commit = off``): a commit waited for an fsync of 4-55 ms on a slow disk,
    and the suite commits thousands of times.  A commit is as visible and as atomic as
    before; only a crash of the PostgreSQL server itself could lose the last ones."""
    return f'ALTER DATABASE "{database}" SET synchronous_commit = off'


@pytest.fixture(scope="session")
def pg_database():
    reason = _pg_reachable()
    if reason:
        service_unavailable(reason)
    name = f"govshare_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        conn.execute(text(without_flush_wait(name)))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    migrate(url)
    yield url
    admin.dispose()
    from bench.databases import drop_later

    drop_later(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # not waited for: it checkpoints


def _truncate(url: str) -> None:
    engine = make_engine(url)
    # the directory's generation counter is one row the migrations create: it keeps counting
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables if t.name != "directory_generation")
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path, sqlite_template) -> str:
    """A migrated, empty database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "govshare.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_database")
    _truncate(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template) -> str:
    """A migrated, empty SQLite database (for tests that need no second engine)."""
    path = tmp_path / "govshare.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def settings(db_url, tmp_path) -> Settings:
    # WS-Security "optional": signed requests are verified, unsigned ones pass, so the tests of
    # everything else speak plain SOAP; tests/security runs the platform with "require".
    return Settings.from_env(db_url=db_url, var_dir=tmp_path, wss_policy="optional")


@pytest.fixture
def sessions(settings):
    engine = make_engine(settings.db_url)
    factory = session_factory(engine)
    from directory.bootstrap import bootstrap_node

    with unit_of_work(factory) as session:
        bootstrap_node(session, settings)
    yield factory
    engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def silent_database():
    """A PostgreSQL URL whose server accepts TCP connections (the kernel queues them) and
    never says a word, as a hung or overloaded database does."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as listener:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{listener.getsockname()[1]}/govshare"


class LiveServer:
    def __init__(self, app, port: int):
        from waitress.server import create_server

        self.app, self.port = app, port
        self.url = f"http://127.0.0.1:{port}"
        self._server = create_server(app, host="127.0.0.1", port=port, threads=4)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        def close_everything():  # runs on the server's own loop thread, so select() never sees a closed fd
            for channel in list(self._server._map.values()):
                channel.close()

        try:
            self._server.trigger.pull_trigger(close_everything)
        except OSError:  # the trigger's pipe is already gone: the loop has stopped by itself
            pass
        self._thread.join(timeout=5)
        self._server.task_dispatcher.shutdown()
        writer = getattr(self.app, "request_log", None)
        if writer is not None:  # its requests' records written now, before the test's database goes
            writer.stop()


@pytest.fixture
def live_server(settings, sessions):
    """The whole platform served over real HTTP on a free loopback port."""
    import server

    app = server.build_app(settings, sessions)
    srv = LiveServer(app, free_port()).start()
    yield srv
    srv.stop()


def as_user(sessions, settings: Settings, username: str, *, now=None, channel: str = "cli"):
    """The action context of the account ``username`` (its department and roles), at ``now``."""
    from sqlalchemy import select
    from sqlalchemy.orm import joinedload

    from registry.clock import utcnow
    from registry.models import User
    from trust.actions import Context
    from trust.auth import Caller

    with sessions() as session:
        user = session.scalar(select(User).where(User.username == username).options(joinedload(User.department)))
        assert user is not None, f"no user {username}"
        return Context(Caller.of_user(user, channel), sessions, settings, now=now or utcnow())
