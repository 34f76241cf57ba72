"""``govshare adapter check`` end to end, as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from adapters.demo_sources import generate_household_registry
from tests.adapters.conftest import GAJ_FILE, MINIMAL

ROOT = Path(__file__).resolve().parents[2]


def _check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "adapters.cli", "adapter", "check", *args], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=60)


def test_check_previews_mapped_records_and_prints_the_sql(gaj_registry):
    done = _check(str(GAJ_FILE), "--preview", "3", env={"GOVSHARE_GAJ_URL": gaj_registry.url})
    assert done.returncode == 0, done.stderr
    assert "first 3 mapped records" in done.stdout
    assert "公民身份号码" in done.stdout and "#3" in done.stdout
    assert 'WHERE "HJ_RKXX"."GXSJ" >= ?' in done.stdout


def test_check_lists_the_problems_of_previewed_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'dirty.db'}"
    generate_household_registry(url, 20, seed=1, dirt={"unmapped_code": 1.0})
    done = _check(str(GAJ_FILE), "--preview", "2", env={"GOVSHARE_GAJ_URL": url})
    assert done.stdout.count("map code.unmapped") == 2


def test_check_of_a_wrong_file_lists_every_problem_and_exits_2(tmp_path):
    path = tmp_path / "bad.toml"
    text = MINIMAL.replace('table = "HJ_RKXX"', 'tabel = "HJ_RKXX"').replace('codes = "status"', 'codes = "zt"')
    path.write_text(text, encoding="utf-8")
    done = _check(str(path))
    assert done.returncode == 2
    assert f"{path}: line 8, source.tabel: unknown key 'tabel'" in done.stderr
    assert f"{path}: line 19, fields.status.codes: code table 'zt' is not defined" in done.stderr


def test_check_reports_a_mapped_column_the_source_lacks(gaj_registry, tmp_path):
    path = tmp_path / "gaj.toml"
    path.write_text(GAJ_FILE.read_text(encoding="utf-8").replace('name = "XM"', 'name = "XMM"'), encoding="utf-8")
    done = _check(str(path), env={"GOVSHARE_GAJ_URL": gaj_registry.url})
    assert done.returncode == 2
    assert "fields.name: column XMM is not in the source" in done.stderr


def test_check_of_an_unreachable_source_exits_1(tmp_path):
    path = tmp_path / "gaj.toml"
    path.write_text(GAJ_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    done = _check(str(path), env={"GOVSHARE_GAJ_URL": "mysql+pymysql://nobody@127.0.0.1:1/none"})
    assert done.returncode == 1
    assert "cannot read the source" in done.stderr
