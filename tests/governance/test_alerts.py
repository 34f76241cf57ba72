"""告警 (``governance.alerts``): each kind fires from what the platform records, and clears once its cause
is gone."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta

import pytest

from directory.accounts import register_department
from directory.demo import credit_code_for
from governance import alerts, correction, sharing
from registry.clock import utcnow
from registry.db import unit_of_work
from registry.models import BackgroundPass, Department, FederationNode, FrontNode, SyncRun
from registry.passes import FEDERATE, RETAIN, SYNC, Tracker
from tests.conftest import as_user
from trust import audit, pki
from trust.actions import Context
from trust.auth import Caller

from .sharing_city import P, city_fixture, exchange_fixture  # noqa: F401 - fixtures

#: the queries of plain comparisons run on SQLite alone (the test-time budget); those that group and join
#: (adapters, providers) on PostgreSQL too
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _alerts(sessions, settings, now=None) -> dict[str, list[alerts.Alert]]:
    found: dict[str, list[alerts.Alert]] = {}
    for alert in alerts.alerts(Context(Caller.platform("cli"), sessions, settings, now=now or utcnow())):
        found.setdefault(alert.kind, []).append(alert)
    return found


def _department(sessions, settings, code="gaj", name="临江市公安局") -> int:
    with unit_of_work(sessions) as s:
        return register_department(s, settings, code=code, name=name, credit_code=credit_code_for("00250102")).id


def test_an_adapter_whose_last_runs_failed_is_an_alert_until_a_run_succeeds(sessions, settings):
    now = utcnow()
    with unit_of_work(sessions) as s:
        s.add_all([SyncRun(adapter="gaj-hj", mode="full", status=status, started=now - timedelta(hours=h),
                           finished=now - timedelta(hours=h), message=message)
                   for h, status, message in ((5, "succeeded", ""), (3, "failed", "ORA-12541: 无监听程序"),
                                              (1, "failed", "ORA-12541: 无监听程序"))])
    [alert] = _alerts(sessions, settings)["adapter"]
    assert (alert.subject, alert.since, alert.place) == ("gaj-hj", now - timedelta(hours=3), "monitor.index")
    assert alert.what == "适配器 gaj-hj 最近 2 次同步失败: ORA-12541: 无监听程序"
    with unit_of_work(sessions) as s:
        s.add(SyncRun(adapter="gaj-hj", mode="full", status="succeeded", started=now, finished=now))
    assert "adapter" not in _alerts(sessions, settings)


def test_a_logical_provider_that_did_not_answer_is_an_alert_until_a_query_is_answered(sessions, settings):
    code = "101001002/000001"
    for result in ("ok", "fault:ProviderUnavailable", "fault:ProviderUnavailable"):
        audit.record(sessions, settings, audit.AuditEvent("exchange.query_records", result=result, resource_code=code,
                                                          detail="连接被拒绝" if result != "ok" else ""))
    [alert] = _alerts(sessions, settings)["provider"]
    assert (alert.subject, alert.place, alert.args) == (code, "catalogue.detail", {"code": code})
    assert "提供方服务不可达: 连接被拒绝" in alert.what
    audit.record(sessions, settings, audit.AuditEvent("exchange.query_records", resource_code=code))
    assert "provider" not in _alerts(sessions, settings)


@SQLITE_ONLY
def test_silent_front_end_nodes_and_lower_platforms_are_alerts_until_they_are_heard_from(sessions, settings):
    department = _department(sessions, settings)
    now = utcnow()
    with unit_of_work(sessions) as s:
        s.add(FrontNode(node_id="n-1", department_id=department, system_code="gaj.node", first_seen=now,
                        reported_at=now - timedelta(minutes=6)))
        s.add(FederationNode(department_id=department, first_contact=now, last_contact=now - timedelta(minutes=16)))
    found = _alerts(sessions, settings)
    assert [(a.subject, a.since, a.place) for a in found["node"]] == [("n-1", now - timedelta(minutes=6),
                                                                       "nodes.index")]
    assert "临江市公安局的前置交换节点 gaj.node" in found["node"][0].what
    assert [a.since for a in found["platform"]] == [now - timedelta(minutes=16)]
    with unit_of_work(sessions) as s:
        s.query(FrontNode).update({"reported_at": now})
        s.query(FederationNode).update({"last_contact": now})
    assert not {"node", "platform"} & set(_alerts(sessions, settings))


@SQLITE_ONLY
def test_certificates_and_the_ca_near_their_end_are_alerts_until_renewed(sessions, settings):
    settings = replace(settings, alert_cert_days=30)
    pki.init_ca(settings, days=20)
    _department(sessions, settings)
    with unit_of_work(sessions) as s:
        issued = pki.issue(s, settings, s.query(Department).one(), key_size=1024)  # ends with the CA, in 20 days
    found = _alerts(sessions, settings)
    [ca] = found["ca"]
    [cert] = found["certificate"]
    assert cert.subject == format(issued.certificate.serial_number, "x") and cert.place == "certificates.admin"
    assert "临江市公安局的证书" in cert.what and "将于" in cert.what
    assert abs(ca.since - (utcnow() - timedelta(days=10))) < timedelta(minutes=10)  # 20 days left of a 30-day window
    pki.init_ca(settings, days=3650, force=True)
    with unit_of_work(sessions) as s:
        pki.issue(s, settings, s.query(Department).one(), days=365, key_size=1024)  # the successor
    assert not {"ca", "certificate"} & set(_alerts(sessions, settings))


@SQLITE_ONLY
def test_overdue_applications_and_corrections_are_alerts_until_answered(city, sessions, settings):
    filed = utcnow() - timedelta(days=20)  # both deadlines (10 and 5 days) have passed
    mzj = as_user(sessions, settings, "mzj", now=filed)
    application = sharing.apply(mzj, resource_code=city.conditional, purpose="低保资格核查",
                                valid_to=date(2099, 12, 31))
    key = city.people[city.unconditional][0].findtext(P + "idNumber")
    report = correction.file(mzj, resource_code=city.unconditional, record_key=key, field="name", problem="姓名错字")
    found = _alerts(sessions, settings)
    [late] = found["application"]
    assert (late.subject, late.since, late.place) == (str(application.id), application.deadline, "sharing.inbox")
    assert f"临江市民政局对资源 {city.conditional} 的使用申请 #{application.id} 已超过答复期限" in late.what
    [open_report] = found["correction"]
    assert (open_report.subject, open_report.place) == (str(report.id), "corrections.index")
    gaj = as_user(sessions, settings, "gaj")
    sharing.refuse(gaj, application_id=application.id, reason="用途不符")
    correction.answer(gaj, report_id=report.id, accept=False, text="核对无误")
    assert not {"application", "correction"} & set(_alerts(sessions, settings))


@SQLITE_ONLY
def test_an_in_process_loop_that_keeps_failing_is_an_alert_until_a_pass_succeeds(sessions, settings):
    federation, retention = Tracker(sessions, FEDERATE, period=1), Tracker(sessions, RETAIN, period=86_400)
    for _ in range(alerts.JOB_FAILURES):
        assert "job" not in _alerts(sessions, settings)  # one or two failed passes may be a blip
        with pytest.raises(ConnectionRefusedError), federation.recording():
            raise ConnectionRefusedError(111, "连接被拒绝")
    [alert] = _alerts(sessions, settings)["job"]
    with sessions() as s:
        since = s.get(BackgroundPass, FEDERATE).failing_since
    assert (alert.subject, alert.since, alert.place) == (FEDERATE, since, "jobs.index")
    assert alert.what == ("后台任务 上级平台目录上报 已连续失败 3 次: ConnectionRefusedError: [Errno 111] 连接被拒绝")
    with pytest.raises(OSError), retention.recording():  # a nightly loop: its first failure is news
        raise OSError("磁盘已满")
    assert {a.subject for a in _alerts(sessions, settings)["job"]} == {FEDERATE, RETAIN}
    for tracker in (federation, retention):
        with tracker.recording() as this:
            this.outcome = "完成"
    assert "job" not in _alerts(sessions, settings)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # the queue is PostgreSQL's
def test_a_task_whose_jobs_failed_for_good_is_an_alert_until_they_are_deleted(sessions, settings, tmp_path):
    """A federation job whose credentials cannot be read fails every attempt; the adapters' runs are
    ``adapter`` alerts, not these."""
    import server
    from operations.engine import build_app, defer_adapter_run

    assert settings.job_engine == "procrastinate"
    missing = str(tmp_path / "nowhere.pem")
    broken = replace(settings, jobs_attempts=1, jobs_tick=30, upper_url="http://127.0.0.1:9", upper_key=missing,
                     upper_cert=missing, upper_ca=missing)
    app = build_app(broken, sessions)
    with app.open():
        app.configure_task(FEDERATE).defer(timestamp=0)
        defer_adapter_run(app, "nosuch", None)  # fails too, as the adapter's
    app.run_worker(wait=False, install_signal_handlers=False, listen_notify=False)  # the queue until empty
    found = _alerts(sessions, settings)
    [alert] = [a for a in found["job"] if a.subject == FEDERATE]
    assert alert.what.startswith("后台作业 上级平台目录上报 有 ") and alert.what.endswith(" 个作业重试用尽后失败")
    assert (alert.place, alert.args) == ("jobs.index", {"status": "failed"})
    assert utcnow() - timedelta(minutes=5) < alert.since <= utcnow()
    assert SYNC not in {a.subject for a in found["job"]}
    scraped = server.platform_metrics(sessions, settings).decode()  # what /metrics adds for the operators
    assert re.search(r'^govshare_alerts\{kind="job"\} [1-9]', scraped, re.M), scraped
    assert re.search(r'^govshare_jobs\{status="failed"\} [1-9]', scraped, re.M)
    assert server.main(["--db-url", settings.db_url, "jobs", "purge", "--days", "0"]) == 0  # deleted: cleared
    assert FEDERATE not in {a.subject for a in _alerts(sessions, settings).get("job", [])}
