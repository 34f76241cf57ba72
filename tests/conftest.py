"""Shared fixtures: real databases (SQLite always, PostgreSQL when reachable) and a
real HTTP server on a free loopback port.

``REQUIRE_SERVICES=1`` turns every "service unreachable" skip into a failure.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy import create_engine, text

from registry.db import make_engine, migrate, session_factory, unit_of_work
from registry.models import Base
from registry.settings import Settings

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
PG_ADMIN_URL = os.environ.get("GOVSHARE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


class _RememberingHasher:
    """The platform's argon2id hasher, with its parameters, remembering what it has worked out in
    this test process: each password is hashed once (the accounts given one password then share
    its salt) and each (hash, password) pair verified once.  A hash or a verification costs 40 ms
    of a core by design, and the suite hashed the same few passwords over a thousand times.
    Every hash is still a real one, which the platform's own hasher verifies in a subprocess."""

    def __init__(self, hasher):
        self._hasher = hasher
        self.hash = functools.cache(hasher.hash)
        self.check_needs_rehash = hasher.check_needs_rehash

    def verify(self, stored: str, password: str) -> bool:
        outcome = self._verified(stored, password)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    @functools.cache  # noqa: B019 - one hasher lives as long as the test process
    def _verified(self, stored: str, password: str):
        try:
            return self._hasher.verify(stored, password)
        except Exception as refused:  # noqa: BLE001 - remembered, then raised as the hasher raised it
            return refused


@pytest.fixture(scope="session", autouse=True)
def _passwords_hashed_once():
    from trust import passwords

    real = passwords._HASHER
    passwords._HASHER = _RememberingHasher(real)
    yield
    passwords._HASHER = real


class _RsaKeys:
    """RSA key generation for the tests of one process: within a test every key asked for is a new
    one, as the platform asks for it; across tests the n-th key of a size is the same key.  A
    3072-bit CA key costs 0.2-0.5 s of a core and a 2048-bit one 0.05-0.1 s, and most tests make
    a CA, two departments' keys and the platform's: the same work again in every test.  A test's
    two CAs (a city's and a district's, a CA made again) still have two different keys.  A key
    asked for outside a test - by a fixture of a module's or the session's, set up before the
    test's own fixtures - is generated and never handed out again, so no test meets it as a key
    of its own; processes a test starts generate their own."""

    def __init__(self, generate):
        self._generate = generate
        self._made: dict[tuple[int, int], list] = {}
        self._handed: dict[tuple[int, int], int] = {}
        self._in_test = False
        self._lock = threading.Lock()

    def __call__(self, public_exponent: int, key_size: int, backend=None):
        with self._lock:
            if not self._in_test:
                return self._generate(public_exponent=public_exponent, key_size=key_size)
            shape = (public_exponent, key_size)
            n = self._handed.get(shape, 0)
            self._handed[shape] = n + 1
            made = self._made.setdefault(shape, [])
            if n == len(made):
                made.append(self._generate(public_exponent=public_exponent, key_size=key_size))
            return made[n]

    def test_starts(self) -> None:
        with self._lock:
            self._handed.clear()
            self._in_test = True

    def test_ends(self) -> None:
        with self._lock:
            self._in_test = False


@pytest.fixture(scope="session")
def _rsa_keys():
    from cryptography.hazmat.primitives.asymmetric import rsa

    real = rsa.generate_private_key
    keys = rsa.generate_private_key = _RsaKeys(real)
    yield keys
    rsa.generate_private_key = real


@pytest.fixture(autouse=True)
def _new_keys_in_every_test(_rsa_keys):
    """Set up after the fixtures of wider scopes the test uses (pytest sets those up first) and
    before its own, torn down after its own."""
    _rsa_keys.test_starts()
    yield
    _rsa_keys.test_ends()


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


def _bootstrapped(url: str) -> None:
    """The node's own tModels registered, as :func:`sessions` would register them in every test
    (68 entities, 0.1-0.3 s a test): done once in the template each test starts from."""
    from directory.bootstrap import bootstrap_node

    engine = make_engine(url)
    with unit_of_work(session_factory(engine)) as session:
        bootstrap_node(session, Settings.from_env(db_url=url))
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite database holding what the node registers at start and nothing else."""
    path = tmp_path_factory.mktemp("template") / "govshare.db"
    migrate(f"sqlite:///{path}")
    _bootstrapped(f"sqlite:///{path}")
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
    _bootstrapped(url)
    _keep_seed(url)
    yield url
    admin.dispose()
    from bench.databases import drop_later

    drop_later(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # not waited for: it checkpoints


#: where :func:`pg_database` keeps a copy of the rows the node registers at start (its tModels)
SEED_SCHEMA = "govshare_test_seed"
#: the directory's generation counter is one row the migrations create: it keeps counting, so no
#: answer a process cached for an earlier test is taken for one of this test's
_KEPT = {"directory_generation"}


def _keep_seed(url: str) -> None:
    """Copy the rows of every table the start-up registration filled into :data:`SEED_SCHEMA`."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{SEED_SCHEMA}"'))
        for name in _nonempty(conn) - _KEPT:
            conn.execute(text(f'CREATE TABLE "{SEED_SCHEMA}"."{name}" AS SELECT * FROM "{name}"'))
    engine.dispose()


def _nonempty(conn) -> set[str]:
    """The tables of the platform's schema holding a row (one statement)."""
    probes = " UNION ALL ".join(f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM \"{t.name}\")"
                                for t in Base.metadata.sorted_tables)
    return set(conn.scalars(text(probes)))


def _truncate(url: str) -> None:
    """Every table as a newly started node leaves it: empty but for its tModels, the identities
    restarted.  Only the tables holding a row are truncated (truncating all of them cost 0.1 s a
    test), the other tables' identities restarted if used, and the tModels copied back."""
    engine = make_engine(url)
    ours = [t.name for t in Base.metadata.sorted_tables if t.name not in _KEPT]
    with engine.begin() as conn:
        seeds = sorted(conn.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = :s"),
                                    {"s": SEED_SCHEMA}))
        names = sorted((_nonempty(conn) | set(seeds)) - _KEPT)
        if names:
            conn.execute(text(f"TRUNCATE {', '.join(map(_quoted, names))} RESTART IDENTITY CASCADE"))
        for sequence in conn.scalars(_USED_SEQUENCES, {"tables": ours}):
            conn.execute(text(f"ALTER SEQUENCE {_quoted(sequence)} RESTART"))
        for name in seeds:
            conn.execute(text(f"INSERT INTO {_quoted(name)} SELECT * FROM {_quoted(SEED_SCHEMA)}.{_quoted(name)}"))
            for column in Base.metadata.tables[name].primary_key.columns:
                if column.type.python_type is int:
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                                      f"(SELECT max({_quoted(column.name)}) FROM {_quoted(name)}))"),
                                 {"table": _quoted(name), "column": column.name})
    engine.dispose()


#: the identity sequences of the given tables that have given out a value since they were restarted
_USED_SEQUENCES = text(
    "SELECT s.sequencename FROM pg_sequences s JOIN pg_depend d ON d.objid = to_regclass(quote_ident(s.sequencename))"
    " JOIN pg_class t ON t.oid = d.refobjid"
    " WHERE s.schemaname = 'public' AND s.last_value IS NOT NULL AND t.relname = ANY(:tables)")


def _quoted(name: str) -> str:
    return f'"{name}"'


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path, sqlite_template) -> str:
    """A migrated database holding the node's own tModels and nothing else: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "govshare.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_database")
    _truncate(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template) -> str:
    """A migrated SQLite database holding the node's own tModels (for tests that need no second engine)."""
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


def govshare_here(*argv: str, env: Mapping[str, str] | None = None, cwd: Path | str | None = None,
                  stdin: str = "") -> subprocess.CompletedProcess:
    """``govshare *argv`` run by :func:`server.main` in this process (with ``env`` as its whole
    environment and ``cwd`` as its folder), reported as ``subprocess.run(..., capture_output=True,
    text=True)`` reports a process.  For the tests of what a command does: starting an interpreter
    costs 1-4 s of imports on a loaded machine and proves nothing more, where the tests that start
    ``python -m server`` as a process prove the entry point."""
    import server

    out, err = io.StringIO(), io.StringIO()
    with ExitStack() as stack:
        if env is not None:
            stack.enter_context(mock.patch.dict(os.environ, env, clear=True))
        if cwd is not None:
            stack.enter_context(contextlib.chdir(cwd))
        stack.enter_context(mock.patch("sys.stdin", io.StringIO(stdin)))
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        try:
            code = server.main(list(argv))
        except SystemExit as stopped:  # argparse's refusals, having printed their message
            code = stopped.code if isinstance(stopped.code, int) else int(stopped.code is not None)
    return subprocess.CompletedProcess(["govshare", *argv], code, out.getvalue(), err.getvalue())


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


def identity_entry(settings: Settings) -> dict:
    """The metadata of a new catalogue entry of 公安局: 公民身份核验信息, an unconditional interface."""
    return {"classification": "101001001", "name": "公民身份核验信息", "provider_unit": "人口管理支队",
            "abstract": "身份核验", "format_class": "接口", "format_type": "WebService", "sharing_type": "无条件共享",
            "sharing_method": "接口", "update_cycle": "实时", "open_to_public": False,
            "access_point": f"{settings.base_url}/exchange",
            "items": [{"name": "公民身份号码", "data_type": "C", "length": 18}]}


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
