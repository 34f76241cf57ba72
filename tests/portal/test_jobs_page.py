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


def _loops(html: str) -> dict[str, str]:
    """The rows of each task's last pass or job, by task."""
    table = html.split('id="loops"', 1)[1].split("</table>", 1)[0]
    return dict(re.findall(r'<tr data-task="([^"]+)">(.*?)</tr>', table, flags=re.S))


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
    assert "<strong>找不到所需对象</strong> · NotFound" in job
    cells = re.findall(r"<td[^>]*>(.*?)</td>", job, flags=re.S)
    assert cells[4] == "1"  # attempts
    now_china = utcnow() + timedelta(hours=8)
    assert cells[6].startswith(now_china.strftime("%Y-%m-%d"))  # started, China time
    assert not [row for row in _rows(admin.get("/jobs", params={"status": "todo"}).text) if "nosuch" in row]
    # above the queue, each task's last finished job: the adapter runs' is this one, failed
    runs = _loops(admin.get("/jobs").text)["govshare.run_adapter"]
    assert "适配器同步" in runs and '<span class="badge overdue">失败</span>' in runs
    assert "NotFound: no adapter &#39;nosuch&#39;" in runs and " 次, 自 " + now_china.strftime("%Y-%m-%d") in runs
    assert "govshare.run_adapter" not in _loops(admin.get("/jobs", params={"status": "succeeded"}).text)


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


@pytest.mark.usefixtures("operators")
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_failed_job_is_retried_and_the_old_failed_jobs_deleted_from_the_page_and_the_command_line(
        browser, settings, sessions, tmp_path, monkeypatch, capsys):
    from sqlalchemy import select, text

    import server
    from operations.engine import build_app, defer_adapter_run
    from registry.models import AuditEntry

    monkeypatch.setenv("GOVSHARE_ADAPTERS", str(tmp_path))  # adapter "nosuch" is unknown: its run fails
    app = build_app(replace(settings, jobs_attempts=1, jobs_tick=30), sessions)

    def work_the_queue() -> None:
        app.run_worker(wait=False, install_signal_handlers=False, listen_notify=False)

    with sessions() as s:  # (the queue's tables are not emptied between the tests of a database)
        before = s.scalar(text("SELECT coalesce(max(id), 0) FROM procrastinate_jobs"))
    with app.open():
        assert defer_adapter_run(app, "nosuch", None)
    work_the_queue()
    with sessions() as s:
        [job_id] = s.scalars(text("SELECT id FROM procrastinate_jobs WHERE status = 'failed' AND id > :before "
                                  "AND args->>'adapter' = 'nosuch'"), {"before": before})

    admin = browser("admin")
    [row] = [row for row in _rows(admin.get("/jobs", params={"status": "failed"}).text) if f"<td>{job_id}</td>" in row]
    assert "重新执行" in row
    page = admin.post("/jobs/retry", {"job_id": str(job_id)})
    assert f"作业 {job_id} (适配器同步) 已重新排队" in page.text
    [row] = [row for row in _rows(admin.get("/jobs", params={"status": "retry"}).text) if f"<td>{job_id}</td>" in row]
    assert "重试" in row  # queued again, one attempt behind it
    again = admin.post("/jobs/retry", {"job_id": str(job_id)})  # not failed now: refused, in Chinese
    assert "未能重新执行作业" in again.text and "不是“失败”状态" in again.text
    assert "未能重新执行作业 999999: 没有编号为 999999 的作业。" in admin.post("/jobs/retry", {"job_id": "999999"}).text

    work_the_queue()  # the cause is not mended: it fails again, its second attempt and error kept
    with sessions() as s:
        assert s.scalar(text("SELECT status::text FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}) == "failed"
        assert s.scalar(text("SELECT count(*) FROM job_failure WHERE job_id = :id"), {"id": job_id}) == 2
    [row] = [row for row in _rows(admin.get("/jobs", params={"status": "failed"}).text) if f"<td>{job_id}</td>" in row]
    assert re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)[4] == "2"  # attempts made, the retry not one

    assert "已删除 0 个" in admin.post("/jobs/purge", {"days": "1"}).text  # it ended moments ago
    assert "天数不能为负数" in admin.post("/jobs/purge", {"days": "-1"}).text
    assert browser("auditor").post("/jobs/purge", {"days": "0"}).status_code == 403

    # the command line: list the failed, delete those that ended 0 days ago or more
    argv = ["--db-url", settings.db_url]
    assert server.main([*argv, "jobs", "list", "--status", "failed"]) == 0
    listed = capsys.readouterr().out
    assert f"{job_id:>7}  govshare.run_adapter" in listed and "NotFound: no adapter 'nosuch'" in listed
    assert server.main([*argv, "jobs", "retry", "999999"]) != 0
    assert "no job #999999" in capsys.readouterr().err
    assert server.main([*argv, "jobs", "purge", "--days", "0"]) == 0
    assert re.search(r"deleted [1-9]\d* failed jobs", capsys.readouterr().out)  # (and the periodic jobs that failed)
    with sessions() as s:
        assert s.scalar(text("SELECT count(*) FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}) == 0
        assert s.scalar(text("SELECT count(*) FROM job_failure WHERE job_id = :id"), {"id": job_id}) == 0
        done = s.execute(select(AuditEntry.operation, AuditEntry.result, AuditEntry.user)
                         .where(AuditEntry.operation.in_(("jobs.retry", "jobs.purge")))
                         .order_by(AuditEntry.seq)).all()
    assert done[0] == ("jobs.retry", "ok", "admin") and ("jobs.purge", "ok", "console") in done
    assert ("jobs.retry", "refused:Conflict", "admin") in done


@pytest.mark.usefixtures("operators")
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_in_process_each_loops_last_pass_is_listed_failing_or_silent_ones_marked(browser, sessions):
    from registry.models import BackgroundPass
    from registry.passes import FEDERATE, NOTIFY, RETAIN, Tracker

    with pytest.raises(ConnectionRefusedError), Tracker(sessions, FEDERATE, period=1).recording():
        raise ConnectionRefusedError(111, "连接被拒绝")
    with Tracker(sessions, NOTIFY, period=30).recording() as this:
        this.outcome = "通知了 2 个订阅 (sent)"
    long_ago = utcnow() - timedelta(days=4)  # a nightly loop silent for three nights: stopped
    with unit_of_work(sessions) as s:
        s.add(BackgroundPass(task=RETAIN, runner="gov-app-1 pid 812", period_seconds=86_400, status="succeeded",
                             started=long_ago, ended=long_ago, outcome="删除了 0 条超过 90 天的运行监测记录",
                             error="", failures=0, succeeded=long_ago))
    rows = _loops(browser("admin").get("/jobs").text)
    assert list(rows) == [FEDERATE, NOTIFY, RETAIN]
    assert "上级平台目录上报" in rows[FEDERATE] and '<span class="badge overdue">失败</span>' in rows[FEDERATE]
    assert "ConnectionRefusedError: [Errno 111] 连接被拒绝" in rows[FEDERATE] and "1 次, 自 " in rows[FEDERATE]
    assert "<strong>对方拒绝连接 (服务未启动或端口不对)</strong> · ConnectionRefusedError" in rows[FEDERATE]
    assert "UDDI 订阅通知" in rows[NOTIFY] and "通知了 2 个订阅 (sent)" in rows[NOTIFY]
    assert "已停止记录" not in rows[NOTIFY]
    assert "已停止记录" in rows[RETAIN] and (long_ago + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M") in rows[RETAIN]
    assert list(_loops(browser("admin").get("/jobs", params={"status": "failed"}).text)) == [FEDERATE]
