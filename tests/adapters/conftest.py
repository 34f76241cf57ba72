"""Fixtures for adapter tests: the demo 公安局 legacy registry and adapter files written on the fly."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from adapters.demo_sources import Manifest, generate_household_registry
from tests.conftest import service_unavailable

GAJ_FILE = Path(__file__).resolve().parents[2] / "adapters" / "departments" / "gaj-household.toml"
MARIADB_ADMIN_URL = os.environ.get("GOVSHARE_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test")
DEMO_ROWS = 4000

#: A minimal valid adapter file; tests replace parts of it.
MINIMAL = '''\
name = "minimal"
department = "11330100002501028W"
resource = "name:户籍登记信息"
record_type = "{http://govshare.local/xsd/population/1.0}Person"

[source]
url = "sqlite:///legacy.db"
table = "HJ_RKXX"
key = ["GMSFHM"]

[fields]
idNumber = "GMSFHM"
name = "XM"
sex = { column = "XB", codes = "sex" }
ethnicity = { column = "MZ", codes = "ethnicity" }
birthDate = { column = "CSRQ", clean = ["date"] }
domicileDivision = "HJDZ_XZQH"
domicileAddress = "HJDZ"
status = { column = "ZT", codes = "status" }

[codes]
sex = "builtin:sex"
ethnicity = "builtin:ethnicity"

[codes.status]
"10" = "正常"
'''


@pytest.fixture
def write_adapter(tmp_path):
    """Write an adapter file under tmp_path and return its path."""
    def write(text: str, name: str = "adapter.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def gaj_registry(tmp_path_factory) -> Manifest:
    """The demo 公安局 HJ_RKXX in a SQLite file, with dirt at the default rates."""
    path = tmp_path_factory.mktemp("gaj") / "gaj-legacy.db"
    return generate_household_registry(f"sqlite:///{path}", DEMO_ROWS, seed=7)


@pytest.fixture
def gaj_env(gaj_registry, monkeypatch) -> Manifest:
    """GOVSHARE_GAJ_URL pointing the demo adapter file at the generated registry."""
    monkeypatch.setenv("GOVSHARE_GAJ_URL", gaj_registry.url)
    return gaj_registry


@pytest.fixture(params=["here", "apart"])
def reading(request, monkeypatch) -> str:
    """Runs that read in their own process ("here"), or in a reading process of their own
    ("apart"), as a run of a large source does (``adapters.pipeline.READ_APART_FROM``)."""
    from adapters import pipeline

    monkeypatch.setattr(pipeline, "READ_APART_FROM", None if request.param == "here" else 0)
    return request.param


@pytest.fixture
def mariadb_url():
    """An empty MariaDB database of its own, dropped afterwards."""
    name = f"govshare_adapters_{uuid.uuid4().hex[:8]}"
    admin = create_engine(MARIADB_ADMIN_URL)
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    except Exception as exc:  # noqa: BLE001 - any failure means unreachable
        admin.dispose()
        service_unavailable(f"MariaDB at {MARIADB_ADMIN_URL} is unreachable: {exc.__class__.__name__}")
    yield MARIADB_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}?charset=utf8mb4"
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    admin.dispose()


def wait_for_lock_release(sessions, settings, name: str, seconds: float = 10.0) -> None:
    """Wait until adapter ``name``'s run lock is free: a run killed with SIGKILL keeps its
    PostgreSQL advisory lock until the server has seen its connection close (a file lock is
    dropped by the kernel as the process dies)."""
    import time

    from adapters.locks import AlreadyRunning, run_lock

    deadline = time.monotonic() + seconds
    while True:
        try:
            with run_lock(sessions.kw["bind"], settings, name):
                return
        except AlreadyRunning:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)
