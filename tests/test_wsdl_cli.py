"""``govshare wsdl check|publish`` from the command line, on a real database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CONTRACT = Path(__file__).parents[1] / "wsdl" / "contracts" / "population-query.wsdl"


def _govshare(db_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"GOVSHARE_DB_URL": db_url, "GOVSHARE_VAR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "server", *args], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).parents[1], timeout=120)


@pytest.fixture
def publisher(sessions, settings):
    from directory.accounts import create_user, register_department
    from directory.demo import credit_code_for
    from registry.db import unit_of_work

    with unit_of_work(sessions) as session:
        dept = register_department(session, settings, code="gaj", name="市公安局",
                                   credit_code=credit_code_for("00250102"))
        create_user(session, username="gaj", password="x", department=dept, roles=("cataloguer",))
    return "gaj"


def test_check_reports_a_valid_contract(tmp_path, sqlite_url):
    run = _govshare(sqlite_url, tmp_path, "wsdl", "check", str(CONTRACT))
    assert run.returncode == 0, run.stderr
    assert "PopulationQueryService" in run.stdout


def test_check_names_what_is_wrong_and_where(tmp_path, sqlite_url):
    broken = tmp_path / "broken.wsdl"
    broken.write_text(CONTRACT.read_text(encoding="utf-8").replace('use="literal"', 'use="encoded"'), encoding="utf-8")
    run = _govshare(sqlite_url, tmp_path, "wsdl", "check", str(broken))
    assert run.returncode == 2
    assert "literal" in run.stderr and "line" in run.stderr


def test_publish_stores_and_maps_the_wsdl(tmp_path, publisher, settings):
    run = _govshare(settings.db_url, tmp_path, "wsdl", "publish", "--user", publisher, "--path",
                    "gaj/population-query.wsdl", str(CONTRACT))
    assert run.returncode == 0, run.stderr
    assert "/wsdl/gaj/population-query.wsdl" in run.stdout
    assert "portType PopulationQueryPortType: uddi:gaj.govshare.local:wsdl:" in run.stdout
    assert "service PopulationQueryService: uddi:gaj.govshare.local:wsdl:" in run.stdout


def test_publish_refuses_an_unknown_user(tmp_path, publisher, settings):
    run = _govshare(settings.db_url, tmp_path, "wsdl", "publish", "--user", "nobody", "--path", "x/y.wsdl",
                    str(CONTRACT))
    assert run.returncode == 2 and "nobody" in run.stderr


def test_publish_is_recorded_in_the_audit_log_with_channel_cli(tmp_path, publisher, settings, sessions):
    from sqlalchemy import select

    from registry.models import AuditEntry

    run = _govshare(settings.db_url, tmp_path, "wsdl", "publish", "--user", publisher, "--path",
                    "gaj/population-query.wsdl", str(CONTRACT))
    assert run.returncode == 0, run.stderr
    broken = tmp_path / "broken.wsdl"
    broken.write_text(CONTRACT.read_text(encoding="utf-8").replace('use="literal"', 'use="encoded"'), encoding="utf-8")
    run = _govshare(settings.db_url, tmp_path, "wsdl", "publish", "--user", publisher, "--path",
                    "gaj/population-query.wsdl", str(broken))
    assert run.returncode == 2 and "literal" in run.stderr
    with sessions() as session:
        entries = [(e.operation, e.user, e.channel, e.result) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.operation == "wsdl.publish").order_by(AuditEntry.seq))]
    assert entries == [("wsdl.publish", "gaj", "cli", "ok"), ("wsdl.publish", "gaj", "cli", "refused:InvalidWsdl")]
