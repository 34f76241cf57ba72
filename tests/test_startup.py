"""Server processes started at the same moment on one database all come up and serve: they
migrate, bootstrap and register the node one after another, and the directory holds one
copy of each of the platform's own entities."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

import server
from directory.self_registration import UDDI_APIS, platform_business_key
from directory.uddi import store
from registry.db import make_engine, migrate, session_factory
from registry.models import UddiEntity, WsdlDocument
from registry.settings import Settings
from tests.conftest import free_port

ROOT = Path(__file__).parents[1]
PROCESSES = 4
START_UP = 120  # seconds four processes may take on two busy cores


def _serve_together(db_url: str, var_dir: Path, count: int = PROCESSES) -> list[str]:
    """Start ``count`` ``govshare serve`` processes at once; the stderr of each that did not
    come up serving (empty when all did)."""
    env = {**os.environ, "GOVSHARE_DB_URL": db_url, "GOVSHARE_VAR": str(var_dir), "GOVSHARE_SCHEDULER": "0"}
    started = []
    for n in range(count):
        port, log = free_port(), var_dir / f"serve-{n}.log"
        with log.open("w") as err:  # a file, not a pipe nobody reads while the process runs
            process = subprocess.Popen([sys.executable, "-m", "server", "serve", "--no-scheduler", "--port",
                                        str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
        started.append((port, process, log))
    serving: set[int] = set()
    deadline = time.monotonic() + START_UP
    try:
        while time.monotonic() < deadline and any(p.poll() is None and port not in serving for port, p, _ in started):
            for port, process, _log in started:
                if port not in serving and process.poll() is None and _answers(port):
                    serving.add(port)
            time.sleep(0.2)
    finally:
        for _port, process, _log in started:
            process.terminate()
    failures = []
    for port, process, log in started:
        process.wait(timeout=30)
        if port not in serving:
            failures.append(log.read_text()[-2000:] or f"exit status {process.returncode}")
    return failures


def _answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/uddi/inquiry?wsdl", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _platform_entities(db_url: str) -> tuple[Counter, list[str], list[str]]:
    """The directory's entities by kind, the platform's services and its stored WSDLs."""
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            rows = session.execute(select(UddiEntity.kind, func.count()).group_by(UddiEntity.kind)).all()
            kinds = Counter(dict(rows))
            business = platform_business_key(Settings.from_env(db_url=db_url))
            services = sorted(row.key for row in store.children(session, [business], "service")[business])
            wsdls = sorted(session.scalars(select(WsdlDocument.path)))
        return kinds, services, wsdls
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def started_alone(tmp_path_factory) -> tuple[Counter, list[str], list[str]]:
    """What one process alone puts in a new database at start-up."""
    folder = tmp_path_factory.mktemp("alone")
    url = f"sqlite:///{folder / 'govshare.db'}"
    server.prepare(Settings.from_env(db_url=url, var_dir=folder), register_services=True).kw["bind"].dispose()
    return _platform_entities(url)


def test_servers_started_together_on_a_new_postgresql_database_all_serve(new_postgresql_database, tmp_path,
                                                                         started_alone):
    assert _serve_together(new_postgresql_database, tmp_path) == []
    assert _platform_entities(new_postgresql_database) == started_alone


def test_servers_started_together_on_a_migrated_empty_postgresql_database_all_serve(new_postgresql_database,
                                                                                    tmp_path, started_alone):
    migrate(new_postgresql_database)  # as `govshare db upgrade` leaves it: every process registers the node
    assert _serve_together(new_postgresql_database, tmp_path) == []
    kinds, services, wsdls = _platform_entities(new_postgresql_database)
    assert (kinds, services, wsdls) == started_alone
    assert len(services) == len(UDDI_APIS) + 2 and wsdls == ["platform/diagnostics.wsdl", "platform/exchange.wsdl"]


def test_servers_started_together_on_a_new_sqlite_database_all_serve(tmp_path, started_alone):
    url = f"sqlite:///{tmp_path / 'govshare.db'}"
    assert _serve_together(url, tmp_path) == []
    assert _platform_entities(url) == started_alone


def _read_portal_secret(var_dir: str, everyone, found) -> None:
    from portal.app import _secret_file

    everyone.wait()  # all at the same moment
    found.put(_secret_file(Path(var_dir)))


def test_processes_making_the_portal_secret_at_once_all_get_the_same_one(tmp_path):
    spawn = multiprocessing.get_context("spawn")
    for attempt in range(3):  # the race is narrow: a few rounds, each on a var folder of its own
        folder, everyone, found = tmp_path / str(attempt), spawn.Barrier(PROCESSES), spawn.Queue()
        processes = [spawn.Process(target=_read_portal_secret, args=(str(folder), everyone, found))
                     for _ in range(PROCESSES)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=60)
        assert [p.exitcode for p in processes] == [0] * PROCESSES
        secrets = {found.get(timeout=5) for _ in processes}
        assert len(secrets) == 1 and len(secrets.pop()) == 64
