"""后台作业 over real HTTP: the platform administrator's page of background jobs - on PostgreSQL the
procrastinate queue (a job that failed, with its attempts, times in China time and error; the
status filter), on SQLite the adapter runs of the in-process loops, said to be so."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest

from directory.accounts import create_user, register_department
from directory.demo import credit_code_for
from registry.clock import utcnow
from registry.db import unit_of_work
from registry.models import SyncRun

from .conftest import PASSWORD


@pytest.fixture
def operators(sessions, settings):
    with unit_of_work(sessions) as s:
        sjj = register_department(s, settings, code="sjj", name="临江市数据管理局",
                                  credit_code=credit_code_for("00250105"))
        create_user(s, username="admin", password=PASSWORD, department=sjj, roles=("admin",))
        create_user(s, username="auditor", password=PASSWORD, department=sjj, roles=("auditor",))


def _rows(html: str) -> list[str]:
    table = html.split('id="jobs"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr><td>.*?</tr>", table, flags=re.S)


@pytest.mark.usefixtures("operators")
def test_the_page_is_the_administrators_and_refuses_an_unknown_status_in_chinese(browser):
    admin = browser("admin")
    page = admin.get("/jobs")
    assert page.status_code == 200 and "<h1>后台作业</h1>" in page.text
    assert 'href="/portal/jobs">后台作业</a>' in admin.get("/").text
    auditor = browser("auditor")
    assert auditor.get("/jobs").status_code == 403
    assert "后台作业" not in auditor.get("/").text
    bad = admin.get("/jobs", params={"status": "bogus"})
    assert bad.status_code == 400 and "没有这种作业状态: bogus。" in bad.text


@pytest.mark.usefixtures("operators")
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # the queue is PostgreSQL's
def test_a_failed_job_is_listed_with_its_attempts_china_times_and_error(browser, settings, sessions, tmp_path,
                                                                       monkeypatch):
    assert settings.job_engine == "procrastinate"
    from operations.engine import build_app, defer_adapter_run

    monkeypatch.setenv("GOVSHARE_ADAPTERS", str(tmp_path))  # an empty folder: adapter "nosuch" is unknown
    app = build_app(replace(settings, jobs_attempts=1, jobs_tick=30), sessions)
    with app.open():
        assert defer_adapter_run(app, "nosuch", utcnow() - timedelta(minutes=1))
        assert not defer_adapter_run(app, "nosuch", utcnow())  # one queued run of an adapter at a time
    app.run_worker(wait=False, install_signal_handlers=False, listen_notify=False)  # the queue until empty

    admin = browser("admin")
    [job] = [row for row in _rows(admin.get("/jobs", params={"status": "failed"}).text) if "nosuch" in row]
    assert "适配器同步" in job and "失败" in job and "NotFound: no adapter &#39;nosuch&#39;" in job
    cells = re.findall(r"<td[^>]*>(.*?)</td>", job, flags=re.S)
    assert cells[4] == "1"  # attempts
    now_china = utcnow() + timedelta(hours=8)
    assert cells[6].startswith(now_china.strftime("%Y-%m-%d"))  # started, China time
    assert not [row for row in _rows(admin.get("/jobs", params={"status": "todo"}).text) if "nosuch" in row]


@pytest.mark.usefixtures("operators")
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the embedded default runs the work in process
def test_in_process_the_page_lists_adapter_runs_and_says_so(browser, settings, sessions):
    assert settings.job_engine == "inprocess"
    started = utcnow().replace(microsecond=0) - timedelta(minutes=5)
    with unit_of_work(sessions) as s:
        s.add(SyncRun(adapter="gaj-household", mode="incremental", status="failed", started=started,
                      finished=started + timedelta(seconds=3), message="源数据库无法连接"))
        s.add(SyncRun(adapter="gaj-household", mode="incremental", status="running", started=started))
    admin = browser("admin")
    page = admin.get("/jobs").text
    assert 'id="inprocess-note"' in page and "适配器同步运行记录 (sync_run)" in page
    failed, running = _rows(page)[1], _rows(page)[0]
    assert "失败" in failed and "源数据库无法连接" in failed
    assert (started + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M") in failed
    assert "运行中" in running
    [only] = _rows(admin.get("/jobs", params={"status": "doing"}).text)
    assert "运行中" in only
