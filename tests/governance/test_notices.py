"""站内消息 (trust.notices): each step of a 使用申请, a grant, a 纠错 report and the catalogue workflow tells
the people who should know - the other side's people with the role to act, never the one who acted - in the
step's own unit of work; each person lists, opens and clears only their own."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import delete, select, update

from directory.catalogue import workflow
from governance import correction, sharing
from registry.db import unit_of_work
from registry.errors import GovernanceError, InvalidInput, NotFound, NotPermitted
from registry.models import AuditEntry, Notice, User
from tests.conftest import as_user, identity_entry
from trust import notices
from trust.actions import Context
from trust.auth import Caller

from .sharing_city import city_fixture, exchange_fixture  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def _told_nothing_yet(city, sessions):
    """The city's catalogue was built through the workflow, which told its reviewers: start from none."""
    with unit_of_work(sessions) as s:
        s.execute(delete(Notice))


def _told(sessions) -> list[tuple[str, str, str, str]]:
    """Every notice: (to whom, subject, ref, text), oldest first."""
    with sessions() as s:
        return [tuple(row) for row in s.execute(
            select(User.username, Notice.subject, Notice.ref, Notice.text).join(User, Notice.user_id == User.id)
            .order_by(Notice.id))]


def _apply(sessions, settings, city) -> int:
    return sharing.apply(as_user(sessions, settings, "mzj"), resource_code=city.conditional, purpose="低保资格核查",
                         valid_to=date(2099, 12, 31)).id


def test_an_application_tells_the_providers_staff_and_its_answer_tells_the_applicant(city, sessions, settings):
    number = _apply(sessions, settings, city)
    [(to, subject, ref, text)] = _told(sessions)  # gaj's cataloguer answers it; not mzj, not another department
    assert (to, subject, ref) == ("gaj", "application", str(number))
    assert text.startswith(f"临江市民政局申请使用「户籍人口基础信息」(使用申请 #{number}), 请于 ")
    assert text.endswith(" 前答复。")
    sharing.approve(as_user(sessions, settings, "gaj"), application_id=number, fields=["idNumber", "name"],
                    valid_to=date(2030, 6, 30))
    assert _told(sessions)[1:] == [("mzj", "application", str(number),
                                    f"临江市公安局已同意本部门对「户籍人口基础信息」的使用申请 #{number} "
                                    "(部分字段, 授权至 2030-06-30)。")]


def test_a_refusal_quotes_its_reason_and_a_withdrawal_tells_the_provider(city, sessions, settings):
    number = _apply(sessions, settings, city)
    sharing.refuse(as_user(sessions, settings, "gaj"), application_id=number, reason="用途与资源不符")
    refused = f"临江市公安局拒绝了本部门对「户籍人口基础信息」的使用申请 #{number}: 用途与资源不符"
    assert _told(sessions)[-1] == ("mzj", "application", str(number), refused)
    again = _apply(sessions, settings, city)
    sharing.withdraw(as_user(sessions, settings, "mzj"), application_id=again)
    assert _told(sessions)[-1] == ("gaj", "application", str(again),
                                   f"临江市民政局撤回了对「户籍人口基础信息」的使用申请 #{again}, 无需再答复。")


def test_a_refused_step_tells_no_one(city, sessions, settings):
    number = _apply(sessions, settings, city)
    before = _told(sessions)
    with pytest.raises(GovernanceError):  # a grant may narrow an application, never widen it
        sharing.approve(as_user(sessions, settings, "gaj"), application_id=number, valid_to=date(2100, 1, 1))
    with pytest.raises(NotPermitted):
        sharing.refuse(as_user(sessions, settings, "sbj"), application_id=number, reason="x")
    assert _told(sessions) == before


def test_a_grant_and_its_revocation_tell_the_consumers_people(city, sessions, settings):
    grant = sharing.grant(as_user(sessions, settings, "gaj"), resource_code=city.conditional, consumer_code="sbj",
                          valid_to=date(2031, 1, 1)).id
    sharing.revoke(as_user(sessions, settings, "gaj"), grant_id=grant, reason="业务已办结")
    assert _told(sessions) == [  # sbj's consumer; sbj-staff, a cataloguer, does not read data
        ("sbj", "grant", city.conditional,
         f"临江市公安局授权本部门读取「户籍人口基础信息」(授权 #{grant}, 至 2031-01-01)。"),
        ("sbj", "grant", city.conditional,
         f"临江市公安局撤销了本部门读取「户籍人口基础信息」的授权 #{grant}: 业务已办结")]


def test_a_correction_report_tells_the_provider_and_its_answer_the_reporter(city, sessions, settings):
    person = city.people[city.unconditional][0]
    key = person.findtext("{http://govshare.local/xsd/population/1.0}idNumber")
    report = correction.file(as_user(sessions, settings, "mzj"), resource_code=city.unconditional, record_key=key,
                             field="name", problem="姓名有误").id
    correction.answer(as_user(sessions, settings, "gaj"), report_id=report, accept=True, text="下一批次更正")
    told = _told(sessions)
    assert [(to, subject, ref) for to, subject, ref, _text in told] == [
        ("gaj", "correction", str(report)), ("mzj", "correction_answer", str(report))]
    assert f"中主键为 {key} 的记录提交了纠错 #{report}, 请于 " in told[0][3]
    assert told[1][3] == f"临江市公安局采纳了本部门对「人口基本信息(公开项)」的纠错 #{report}: 下一批次更正"


def test_the_catalogue_workflow_tells_reviewers_of_a_submission_and_the_provider_of_its_review(city, sessions,
                                                                                              settings):
    gaj = as_user(sessions, settings, "gaj")
    code = workflow.create(gaj, metadata=identity_entry(settings)).resource_code
    workflow.submit(gaj, resource_code=code)
    workflow.refuse(as_user(sessions, settings, "reviewer"), resource_code=code, reason="摘要过短")
    assert _told(sessions) == [  # the reviewers (an admin reviews too); then gaj's cataloguer
        ("reviewer", "entry", code, f"临江市公安局提交了「公民身份核验信息」({code}), 待审核。"),
        ("admin", "entry", code, f"临江市公安局提交了「公民身份核验信息」({code}), 待审核。"),
        ("gaj", "entry", code, f"「公民身份核验信息」({code}) 被审核退回: 摘要过短")]


def _unread(sessions) -> list[tuple[str, str, str]]:
    with sessions() as s:
        return [tuple(row) for row in s.execute(
            select(User.username, Notice.subject, Notice.ref).join(User, Notice.user_id == User.id)
            .where(Notice.read_at.is_(None)).order_by(Notice.id))]


def test_a_notice_that_called_for_a_step_is_cleared_once_the_step_is_taken(city, sessions, settings):
    number = _apply(sessions, settings, city)
    other = sharing.apply(as_user(sessions, settings, "sbj"), resource_code=city.conditional, purpose="社保核查",
                          valid_to=date(2099, 12, 31)).id
    assert _unread(sessions) == [("gaj", "application", str(number)), ("gaj", "application", str(other))]
    sharing.approve(as_user(sessions, settings, "gaj"), application_id=number)
    # answered: gaj's notice of it is read, the other application's still waits; mzj has the answer
    assert _unread(sessions) == [("gaj", "application", str(other)), ("mzj", "application", str(number))]
    key = city.people[city.unconditional][0].findtext("{http://govshare.local/xsd/population/1.0}idNumber")
    report = correction.file(as_user(sessions, settings, "mzj"), resource_code=city.unconditional, record_key=key,
                             field="name", problem="姓名有误").id
    correction.answer(as_user(sessions, settings, "gaj"), report_id=report, accept=False, text="经核实无误")
    assert _unread(sessions)[-1] == ("mzj", "correction_answer", str(report))
    assert ("gaj", "correction", str(report)) not in _unread(sessions)
    # an entry: the reviewers' 待审核 is cleared by the review, the provider's 待发布 by the publication
    gaj = as_user(sessions, settings, "gaj")
    code = workflow.create(gaj, metadata=identity_entry(settings)).resource_code
    workflow.submit(gaj, resource_code=code)
    assert [u for u, subject, ref in _unread(sessions) if ref == code] == ["reviewer", "admin"]
    workflow.approve(as_user(sessions, settings, "reviewer"), resource_code=code)
    assert [u for u, subject, ref in _unread(sessions) if ref == code] == ["gaj"]
    workflow.publish(as_user(sessions, settings, "reviewer"), resource_code=code)
    with sessions() as s:
        assert s.scalars(select(Notice.text).where(Notice.ref == code, Notice.read_at.is_(None))).all() == [
            f"「公民身份核验信息」({code}) 已发布到资源目录。"]


def test_an_inactive_account_is_not_told(city, sessions, settings):
    with unit_of_work(sessions) as s:
        s.execute(update(User).where(User.username == "gaj").values(active=False))
    _apply(sessions, settings, city)
    assert _told(sessions) == []


def test_each_person_lists_opens_and_clears_only_their_own_notices(city, sessions, settings):
    first, second = _apply(sessions, settings, city), None
    sharing.withdraw(as_user(sessions, settings, "mzj"), application_id=first)
    second = _apply(sessions, settings, city)
    page = notices.notices(as_user(sessions, settings, "gaj"))
    # the first application's notice was cleared by its withdrawal: nothing is left to answer
    assert (page.unread, page.total) == (2, 3)
    assert [(n.ref, n.read_at is None) for n in page.items] == [
        (str(second), True), (str(first), True), (str(first), False)]  # newest first
    assert [n.subject_label for n in page.items] == ["使用申请"] * 3 and page.items[0].actor == "mzj"
    with sessions() as s:
        assert notices.unread(s, s.scalar(select(User.id).where(User.username == "gaj"))) == 2
    opened = notices.open_notice(as_user(sessions, settings, "gaj"), notice_id=page.items[0].id)
    assert opened.read_at is not None and opened.ref == str(second)
    unread = notices.notices(as_user(sessions, settings, "gaj"), unread_only=True)
    assert (unread.unread, unread.total, [n.id for n in unread.items]) == (1, 1, [page.items[1].id])
    with pytest.raises(NotFound) as raised:  # another person's notice is as if there were none
        notices.open_notice(as_user(sessions, settings, "mzj"), notice_id=page.items[1].id)
    assert raised.value.user_message == f"没有编号为 {page.items[1].id} 的消息。"
    assert notices.read_all(as_user(sessions, settings, "mzj")) == 0
    assert notices.read_all(as_user(sessions, settings, "gaj")) == 1
    assert notices.notices(as_user(sessions, settings, "gaj")).unread == 0
    with sessions() as s:
        audited = s.execute(select(AuditEntry.operation, AuditEntry.user, AuditEntry.result)
                            .where(AuditEntry.operation.like("notice.%")).order_by(AuditEntry.seq)).all()
    assert [tuple(a) for a in audited] == [
        ("notice.list", "gaj", "ok"), ("notice.open", "gaj", "ok"), ("notice.list", "gaj", "ok"),
        ("notice.open", "mzj", "refused:NoticeNotFound"), ("notice.read_all", "mzj", "ok"),
        ("notice.read_all", "gaj", "ok"), ("notice.list", "gaj", "ok")]


def test_a_system_or_the_console_has_no_notices(city, sessions, settings):
    with pytest.raises(NotPermitted) as raised:
        notices.notices(Context(Caller.platform("cli"), sessions, settings))
    assert raised.value.user_message == "站内消息属于个人账号, 请以账号身份查看。"


def test_a_withdrawal_and_a_publication_again_tell_the_departments_that_use_the_resource(city, sessions, settings):
    from directory.accounts import create_user, register_department
    from directory.demo import credit_code_for

    with unit_of_work(sessions) as s:  # a fourth department, whose grant was revoked: it uses the resource no more
        jyj = register_department(s, settings, code="jyj", name="临江市教育局", credit_code=credit_code_for("00250111"))
        create_user(s, username="jyj", password="x", department=jyj, roles=("consumer",))
    grant = sharing.grant(as_user(sessions, settings, "gaj"), resource_code=city.conditional, consumer_code="sbj").id
    waiting = _apply(sessions, settings, city)
    ended = sharing.grant(as_user(sessions, settings, "gaj"), resource_code=city.conditional, consumer_code="jyj",
                          valid_to=date(2099, 1, 1)).id
    sharing.revoke(as_user(sessions, settings, "gaj"), grant_id=ended, reason="业务已办结")
    with unit_of_work(sessions) as s:
        s.execute(delete(Notice))
    gaj = as_user(sessions, settings, "gaj")
    workflow.withdraw(gaj, resource_code=city.conditional, reason="字段调整")
    withdrawn = (f"临江市公安局已将「户籍人口基础信息」({city.conditional}) 下架: 字段调整。"
                 "下架期间不能查询该资源; 重新发布后, 本部门的授权仍然有效。")
    # mzj waits for an answer to its application, sbj holds a grant; gaj provides it, jyj's grant was revoked
    assert sorted(_told(sessions)) == [("mzj", "resource", city.conditional, withdrawn),
                                       ("sbj", "resource", city.conditional, withdrawn)]
    items = workflow.show(gaj.again(), resource_code=city.conditional).entry.as_dict()["items"]
    workflow.edit(gaj.again(), resource_code=city.conditional,
                  changes={"items": items[:-1] + [{"name": "联系电话", "data_type": "C", "length": 20}]})
    workflow.submit(gaj.again(), resource_code=city.conditional)
    workflow.approve(as_user(sessions, settings, "reviewer"), resource_code=city.conditional)
    published = workflow.publish(as_user(sessions, settings, "reviewer"), resource_code=city.conditional)
    again = [t for t in _told(sessions) if t[1] == "resource"][2:]
    assert sorted(again) == [(who, "resource", city.conditional,
                              f"「户籍人口基础信息」({city.conditional}) 已重新发布 (第 {published.version} 版), "
                              f"可以继续查询; 信息项有变化: 新增 联系电话, 删除 {items[-1]['name']}, "
                              "请核对本部门的调用。")
                             for who in ("mzj", "sbj")]
    assert grant and waiting  # both still stand: a withdrawal ends neither


def test_a_first_publication_tells_no_user(city, sessions, settings):
    gaj = as_user(sessions, settings, "gaj")
    code = workflow.create(gaj, metadata=identity_entry(settings)).resource_code
    workflow.submit(gaj, resource_code=code)
    workflow.approve(as_user(sessions, settings, "reviewer"), resource_code=code)
    workflow.publish(as_user(sessions, settings, "reviewer"), resource_code=code)
    assert [t for t in _told(sessions) if t[1] == "resource"] == []


def test_an_application_that_expires_unanswered_tells_the_applicant_and_clears_the_providers_notice(
        city, sessions, settings):
    from registry.clock import utcnow
    from registry.models import SharingApplication

    number = sharing.apply(as_user(sessions, settings, "mzj"), resource_code=city.conditional, purpose="低保资格核查",
                           valid_to=date(2099, 12, 31)).id
    with unit_of_work(sessions) as s:  # its whole period has passed
        s.execute(update(SharingApplication).where(SharingApplication.id == number)
                  .values(valid_from=date(2020, 1, 1), valid_to=date(2020, 12, 31)))
    from governance.reminders import remind

    assert remind(sessions, settings, now=utcnow()).startswith("told ")
    assert _unread(sessions) == [("mzj", "application", str(number))]  # gaj's 待答复 is gone: nothing to answer
    assert _told(sessions)[-1][3] == (f"本部门对「户籍人口基础信息」的使用申请 #{number} 已过期: "
                                      "申请的使用期限至 2020-12-31, 临江市公安局在此之前未作答复。"
                                      "如仍需使用, 请重新提交申请。")
    with sessions() as s:
        assert s.get(SharingApplication, number).status == "expired"


def test_a_persons_notices_are_counted_and_listed_by_kind(city, sessions, settings):
    number = _apply(sessions, settings, city)
    key = city.people[city.unconditional][0].findtext("{http://govshare.local/xsd/population/1.0}idNumber")
    report = correction.file(as_user(sessions, settings, "mzj"), resource_code=city.unconditional, record_key=key,
                             field="name", problem="姓名有误").id
    correction.answer(as_user(sessions, settings, "gaj"), report_id=report, accept=False, text="经核实无误")
    sharing.approve(as_user(sessions, settings, "gaj"), application_id=number)
    mzj = notices.notices(as_user(sessions, settings, "mzj"))
    assert [(k.key, k.label, k.total, k.unread) for k in mzj.kinds] == [
        ("application", "使用申请", 1, 1), ("correction", "数据纠错", 1, 1)]
    # the report's answer (correction_answer) is of the 类别 数据纠错, as the report itself is
    assert [n.subject for n in notices.notices(as_user(sessions, settings, "mzj"), kind="correction").items] == [
        "correction_answer"]
    only = notices.notices(as_user(sessions, settings, "mzj"), kind="correction_answer")
    assert (only.kind, only.total, only.unread) == ("correction", 1, 2)
    with pytest.raises(InvalidInput) as raised:
        notices.notices(as_user(sessions, settings, "mzj"), kind="nonsense")
    assert raised.value.user_message == "没有这一类消息。"
