"""``govshare adapter check`` end to end, as a subprocess: the action ``adapter.check``, recorded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.demo_sources import generate_household_registry
from directory.accounts import create_user
from registry.db import make_engine, session_factory, unit_of_work
from registry.models import AuditEntry
from tests.adapters.conftest import GAJ_FILE, MINIMAL

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def platform(sqlite_url, tmp_path, monkeypatch):
    """The centre's database and var/ the command records its audit entry in."""
    monkeypatch.setenv("GOVSHARE_DB_URL", sqlite_url)
    monkeypatch.setenv("GOVSHARE_VAR", str(tmp_path / "var"))
    return sqlite_url


def _check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server", "adapter", "check", *args], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=60)


def _entries(url: str) -> list[AuditEntry]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            return list(session.scalars(select(AuditEntry).where(AuditEntry.operation == "adapter.check")))
    finally:
        engine.dispose()


def test_check_previews_mapped_records_and_prints_the_sql(platform, gaj_registry):
    done = _check(str(GAJ_FILE), "--preview", "3", env={"GOVSHARE_GAJ_URL": gaj_registry.url})
    assert done.returncode == 0, done.stderr
    assert "first 3 mapped records" in done.stdout
    assert "公民身份号码" in done.stdout and "#3" in done.stdout
    assert 'WHERE "HJ_RKXX"."GXSJ" >= ?' in done.stdout


def test_check_lists_the_problems_of_previewed_rows(platform, tmp_path):
    url = f"sqlite:///{tmp_path / 'dirty.db'}"
    generate_household_registry(url, 20, seed=1, dirt={"unmapped_code": 1.0})
    done = _check(str(GAJ_FILE), "--preview", "2", env={"GOVSHARE_GAJ_URL": url})
    assert done.stdout.count("map code.unmapped") == 2


def test_check_of_a_wrong_file_lists_every_problem_and_exits_2(platform, tmp_path):
    path = tmp_path / "bad.toml"
    text = MINIMAL.replace('table = "HJ_RKXX"', 'tabel = "HJ_RKXX"').replace('codes = "status"', 'codes = "zt"')
    path.write_text(text, encoding="utf-8")
    done = _check(str(path))
    assert done.returncode == 2
    assert f"{path}: line 8, source.tabel: unknown key 'tabel'" in done.stderr
    assert f"{path}: line 19, fields.status.codes: code table 'zt' is not defined" in done.stderr


def test_check_reports_a_mapped_column_the_source_lacks(platform, gaj_registry, tmp_path):
    path = tmp_path / "gaj.toml"
    path.write_text(GAJ_FILE.read_text(encoding="utf-8").replace('name = "XM"', 'name = "XMM"'), encoding="utf-8")
    done = _check(str(path), env={"GOVSHARE_GAJ_URL": gaj_registry.url})
    assert done.returncode == 2
    assert "fields.name: column XMM is not in the source" in done.stderr


def test_check_of_an_unreachable_source_exits_1(platform, tmp_path):
    path = tmp_path / "gaj.toml"
    path.write_text(GAJ_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    done = _check(str(path), env={"GOVSHARE_GAJ_URL": "mysql+pymysql://nobody@127.0.0.1:1/none"})
    assert done.returncode == 1
    assert "cannot read the source" in done.stderr


def test_a_check_is_recorded_with_the_file_and_the_rows_it_read(platform, gaj_registry):
    done = _check(str(GAJ_FILE), "--preview", "2", env={"GOVSHARE_GAJ_URL": gaj_registry.url})
    assert done.returncode == 0, done.stderr
    [entry] = _entries(platform)
    assert (entry.channel, entry.user, entry.result, entry.record_count) == ("cli", "console", "ok", 2)
    assert str(GAJ_FILE) in entry.detail


def test_an_account_that_may_not_operate_is_refused_with_exit_status_2(platform, gaj_registry):
    engine = make_engine(platform)
    with unit_of_work(session_factory(engine)) as session:
        create_user(session, username="auditor-1", password="pw", department=None, roles=("auditor",))
    engine.dispose()
    done = _check(str(GAJ_FILE), "--user", "auditor-1", env={"GOVSHARE_GAJ_URL": gaj_registry.url})
    assert done.returncode == 2 and "auditor-1 may not operate" in done.stderr
    [entry] = _entries(platform)
    assert (entry.user, entry.result) == ("auditor-1", "refused:NotPermitted")
