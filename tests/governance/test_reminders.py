"""到期提醒与告警通知 (governance.reminders): a pass of the background work tells the provider's staff of a
使用申请 or 纠错 whose deadline is near, the consumer of a grant about to end, and the monitoring roles (and
for an overdue answer, the provider's staff) of each alert as it begins - each once; and the pass runs as a
job on procrastinate and as a loop of ``govshare serve`` in process."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from governance import correction, sharing
from governance.reminders import remind
from registry.clock import utcnow
from registry.db import unit_of_work
from registry.models import BackgroundPass, CorrectionReport, Notice, SharingApplication, User
from registry.passes import REMIND
from tests.conftest import as_user
from trust import notices

from .sharing_city import city_fixture, exchange_fixture  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def _told_nothing_yet(city, sessions):
    """The city's catalogue was built through the workflow, which told its reviewers: start from none."""
    with unit_of_work(sessions) as s:
        s.execute(delete(Notice))


def _told(sessions, subject: str) -> list[tuple[str, str, str]]:
    with sessions() as s:
        return [tuple(row) for row in s.execute(
            select(User.username, Notice.ref, Notice.text).join(User, Notice.user_id == User.id)
            .where(Notice.subject == subject).order_by(Notice.id))]


def _application(sessions, settings, city, user="mzj") -> SharingApplication:
    number = sharing.apply(as_user(sessions, settings, user), resource_code=city.conditional, purpose="核查",
                           valid_to=date(2099, 12, 31)).id
    with sessions() as s:
        return s.get(SharingApplication, number)


def test_a_deadline_within_a_day_is_a_reminder_to_the_providers_staff_once(city, sessions, settings):
    application = _application(sessions, settings, city)
    with unit_of_work(sessions) as s:
        s.execute(delete(Notice))  # the application's own notice: only reminders from here
    early = application.deadline - timedelta(days=2)
    assert remind(sessions, settings, now=early) == "told 0 people of 0 reminders"
    near = application.deadline - timedelta(hours=12)
    assert remind(sessions, settings, now=near) == "told 1 people of 1 reminders"
    [(to, ref, text)] = _told(sessions, "deadline")
    assert (to, ref) == ("gaj", f"application:{application.id}")
    assert text.startswith(f"临江市民政局对「户籍人口基础信息」的使用申请 #{application.id} 将于 ")
    assert text.endswith("到期, 请及时答复。")
    assert remind(sessions, settings, now=near + timedelta(minutes=5), zh=True) == "发送提醒 0 条, 通知 0 人次"
    page = notices.notices(as_user(sessions, settings, "gaj"))
    assert page.items[0].subject_label == "到期提醒" and page.items[0].actor == "platform"


def test_a_reminder_with_no_one_to_tell_waits_for_someone(city, sessions, settings):
    application = _application(sessions, settings, city)
    with unit_of_work(sessions) as s:
        s.execute(delete(Notice))
        s.execute(update(User).where(User.username == "gaj").values(active=False))
    near = application.deadline - timedelta(hours=12)
    assert remind(sessions, settings, now=near) == "told 0 people of 0 reminders"
    with unit_of_work(sessions) as s:
        s.execute(update(User).where(User.username == "gaj").values(active=True))
    assert remind(sessions, settings, now=near + timedelta(minutes=5)) == "told 1 people of 1 reminders"


def test_a_correction_due_within_a_day_is_a_reminder_too(city, sessions, settings):
    key = city.people[city.unconditional][0].findtext("{http://govshare.local/xsd/population/1.0}idNumber")
    report = correction.file(as_user(sessions, settings, "mzj"), resource_code=city.unconditional, record_key=key,
                             field="name", problem="姓名有误").id
    with sessions() as s:
        deadline = s.get(CorrectionReport, report).deadline
    remind(sessions, settings, now=deadline - timedelta(hours=1))
    assert [(to, ref) for to, ref, _text in _told(sessions, "deadline")] == [("gaj", f"correction:{report}")]


def test_a_grant_ending_within_a_week_tells_the_consumers_readers(city, sessions, settings):
    grant = sharing.grant(as_user(sessions, settings, "gaj"), resource_code=city.conditional, consumer_code="sbj",
                          valid_to=date(2031, 3, 10)).id
    sharing.grant(as_user(sessions, settings, "gaj"), resource_code=city.conditional, consumer_code="mzj")  # no end
    remind(sessions, settings, now=datetime(2031, 3, 1, 8))
    assert _told(sessions, "deadline") == []
    remind(sessions, settings, now=datetime(2031, 3, 5, 8))
    assert _told(sessions, "deadline") == [("sbj", f"grant:{grant}:{city.conditional}",
                                            f"临江市公安局授权本部门读取「户籍人口基础信息」的授权 #{grant} 将于 "
                                            "2031-03-10 到期; 如需继续使用, 请及时重新提交使用申请。")]


def test_each_alert_is_told_once_as_it_begins_and_an_overdue_answer_to_its_provider_too(city, sessions, settings):
    application = _application(sessions, settings, city)
    late = application.deadline + timedelta(hours=1)
    remind(sessions, settings, now=late)
    told = _told(sessions, "alert")
    assert sorted(to for to, _ref, _text in told) == ["admin", "gaj"]  # the monitoring roles, the provider's staff
    assert told[0][2].startswith("告警 (使用申请逾期未答复): 临江市民政局对资源 ")
    remind(sessions, settings, now=late + timedelta(hours=1))
    assert len(_told(sessions, "alert")) == 2  # the same episode: not again
    # answered, then a second application left unanswered: a new episode, told again
    sharing.refuse(as_user(sessions, settings, "gaj"), application_id=application.id, reason="用途不符")
    second = _application(sessions, settings, city)
    remind(sessions, settings, now=second.deadline + timedelta(hours=1))
    assert len(_told(sessions, "alert")) == 4


def test_the_pass_is_a_periodic_job_on_procrastinate():
    from operations.engine import build_app
    from registry.settings import Settings

    pg = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    queue = build_app(Settings(db_url=pg, remind_seconds=300))
    assert REMIND in queue.tasks and any(p.task.name == REMIND and p.cron == "*/5 * * * *"
                                         for p in queue.periodic_registry.periodic_tasks.values())
    assert REMIND not in build_app(Settings(db_url=pg, remind_seconds=0)).tasks


def test_in_process_the_pass_is_a_loop_whose_passes_are_rows_of_the_jobs_page(city, sessions, settings):
    from dataclasses import replace

    from operations import tasks

    application = _application(sessions, settings, city)
    with unit_of_work(sessions) as s:
        s.execute(delete(Notice))
        s.get(SharingApplication, application.id).deadline = utcnow() + timedelta(hours=2)
    def passed() -> BackgroundPass | None:  # the pass's row is written once its work has committed
        with sessions() as s:
            return s.get(BackgroundPass, REMIND)

    loop = tasks.reminder(sessions, replace(settings, remind_seconds=1), first=0.1).start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (_told(sessions, "deadline") and passed()):
            time.sleep(0.2)
    finally:
        loop.stop()
        loop.thread.join(timeout=10)
    assert [to for to, _ref, _text in _told(sessions, "deadline")] == ["gaj"]
    row = passed()
    assert row is not None and row.status == "succeeded" and row.outcome.startswith("发送提醒 ")


def test_a_certificate_near_its_end_tells_its_department_and_the_security_administrator(city, sessions, settings):
    from cryptography.hazmat.primitives.asymmetric import ec

    from directory.accounts import create_user
    from registry.models import Department
    from trust import pki

    if pki.ca_certificate(settings) is None:
        pki.init_ca(settings)
    with unit_of_work(sessions) as s:
        create_user(s, username="security", password="x", department=None, roles=("security",))
        gaj = s.scalar(select(Department).where(Department.code == "gaj"))
        key = ec.generate_private_key(ec.SECP256R1()).public_key()
        serial = pki.certify(s, settings, gaj, key, days=10).record.serial
    remind(sessions, settings, now=utcnow())
    told = [(to, text) for to, ref, text in _told(sessions, "alert") if ref == f"certificate:{serial}"]
    # the monitoring roles, the security administrator who issues certificates, the department's people who ask
    assert sorted(to for to, _text in told) == ["admin", "gaj", "security"]
    assert told[0][1].startswith("告警 (证书即将到期): 临江市公安局的证书 ")
    assert f"(序列号 {serial}) 将于 " in told[0][1]
