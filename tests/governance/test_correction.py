"""Data correction (纠错, S5): consumers report wrong values; providers answer by a deadline."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

import server
from governance import correction, sharing
from registry.errors import Conflict, GovernanceError, NotPermitted
from registry.models import AuditEntry, CorrectionReport
from tests.conftest import as_user

from .sharing_city import P, city_fixture, exchange_fixture  # noqa: F401 - fixtures

NOW = datetime(2026, 3, 2, 1, 0)


def _key(city, resource, n=0) -> str:
    return city.people[resource][n].findtext(P + "idNumber")


def _file(sessions, settings, city, *, user="mzj", resource=None, key=None, field="domicileAddress",
          problem="已迁至新区", proposed="临江市新区1号", now=NOW) -> int:
    resource = resource or city.unconditional
    return correction.file(as_user(sessions, settings, user, now=now), resource_code=resource,
                           record_key=key or _key(city, resource), field=field, problem=problem,
                           proposed_value=proposed).id


def _answer(sessions, settings, report, *, accept, text, user="gaj", now=NOW + timedelta(days=1)):
    return correction.answer(as_user(sessions, settings, user, now=now), report_id=report, accept=accept,
                             text=text).status


def test_a_consumer_files_a_report_due_in_the_configured_days(city, sessions, settings):
    report = _file(sessions, dataclasses.replace(settings, correction_days=3), city)
    with sessions() as s:
        filed = s.get(CorrectionReport, report)
        assert (filed.status, filed.reported_by, filed.field, filed.proposed_value) == (
            "open", "mzj", "domicileAddress", "临江市新区1号")
        assert filed.deadline == NOW + timedelta(days=3)


def test_the_field_may_be_named_by_its_chinese_label(city, sessions, settings):
    report = _file(sessions, settings, city, field="户籍地址")
    with sessions() as s:
        assert s.get(CorrectionReport, report).field == "domicileAddress"


def test_the_lists_name_the_field_by_its_chinese_label(city, sessions, settings):
    report = _file(sessions, settings, city)
    [mine] = correction.filed(as_user(sessions, settings, "mzj"))
    [theirs] = correction.inbox(as_user(sessions, settings, "gaj"))
    assert mine.id == theirs.id == report
    assert (theirs.field, theirs.field_label, theirs.reporter_name, theirs.status_label) == (
        "domicileAddress", "户籍地址", "临江市民政局", "待答复")


def test_a_report_on_an_unknown_record_is_refused(city, sessions, settings):
    with pytest.raises(GovernanceError, match="^key: resource .* has no record 110101200001010011$") as caught:
        _file(sessions, settings, city, key="110101200001010011")
    assert caught.value.user_message == "资源「人口基本信息(公开项)」中没有主键为 110101200001010011 的记录。"


def test_a_report_on_an_unknown_field_is_refused_naming_the_formats_fields(city, sessions, settings):
    with pytest.raises(GovernanceError, match="^field: salary is not a field of .*Person; its fields: idNumber") \
            as caught:
        _file(sessions, settings, city, field="salary")
    assert caught.value.user_message.startswith("salary 不是资源「人口基本信息(公开项)」的字段; "
                                                "可选字段: 公民身份号码、姓名")


def test_a_department_that_cannot_read_the_resource_cannot_report_on_it(city, sessions, settings):
    with pytest.raises(GovernanceError, match="cannot read .* NotShared|cannot read .*不予共享"):
        _file(sessions, settings, city, resource=city.not_shared)
    with pytest.raises(GovernanceError, match="has no grant") as caught:
        _file(sessions, settings, city, resource=city.conditional)
    assert caught.value.user_message.startswith("本部门不能读取资源「户籍人口基础信息」, 因此不能对它纠错: "
                                                "临江市民政局尚无")
    assert "govshare" not in caught.value.user_message


def test_a_report_is_limited_to_the_granted_fields(city, sessions, settings):
    sharing.grant(as_user(sessions, settings, "gaj"), resource_code=city.conditional, consumer_code="mzj",
                  fields=["idNumber", "name"])
    with pytest.raises(GovernanceError, match="domicileAddress is not among the fields granted") as caught:
        _file(sessions, settings, city, resource=city.conditional, now=None)  # the grant starts today
    assert caught.value.user_message == "字段「户籍地址」不在授权本部门读取的字段之内, 不能对它纠错。"
    assert _file(sessions, settings, city, resource=city.conditional, field="name", problem="姓名有误", now=None)


def test_the_provider_accepts_saying_what_it_will_change(city, sessions, settings):
    report = _file(sessions, settings, city)
    assert _answer(sessions, settings, report, accept=True, text="下一批次更正户籍地址") == "accepted"
    with sessions() as s:
        answered = s.get(CorrectionReport, report)
        assert (answered.answer, answered.answered_by, answered.answered_at) == (
            "下一批次更正户籍地址", "gaj", NOW + timedelta(days=1))


def test_a_rejection_needs_a_reason(city, sessions, settings):
    report = _file(sessions, settings, city)
    with pytest.raises(GovernanceError, match="^reason: required to reject a correction report$") as caught:
        _answer(sessions, settings, report, accept=False, text="")
    assert caught.value.field == "reason" and caught.value.user_message == "不采纳时请填写理由。"
    assert _answer(sessions, settings, report, accept=False, text="户籍地址以户籍登记为准") == "rejected"


def test_an_acceptance_needs_the_change(city, sessions, settings):
    report = _file(sessions, settings, city)
    with pytest.raises(GovernanceError, match="^change: required to accept") as caught:
        _answer(sessions, settings, report, accept=True, text=None)
    assert caught.value.user_message == "采纳时请填写将如何更正。"


def test_free_text_has_limits(city, sessions, settings):
    with pytest.raises(GovernanceError, match=r"^problem: at most 500 characters \(it has 501\)$") as caught:
        _file(sessions, settings, city, problem="误" * 501)
    assert caught.value.user_message == "问题描述最多 500 个字 (现有 501 个)。"
    with pytest.raises(GovernanceError, match="^proposed: at most 255 characters") as caught:
        _file(sessions, settings, city, proposed="址" * 256)
    assert caught.value.field == "proposed"
    report = _file(sessions, settings, city, problem="误" * 500, proposed="址" * 255)
    with pytest.raises(GovernanceError, match="^change: at most 500 characters") as caught:
        _answer(sessions, settings, report, accept=True, text="改" * 501)
    assert caught.value.user_message == "答复最多 500 个字 (现有 501 个)。"


def test_a_report_is_answered_once(city, sessions, settings):
    report = _file(sessions, settings, city)
    _answer(sessions, settings, report, accept=True, text="更正")
    with pytest.raises(Conflict, match="already accepted by gaj") as caught:
        _answer(sessions, settings, report, accept=False, text="不予更正")
    assert caught.value.user_message == f"纠错报告 #{report} 已由 gaj 答复 (已采纳)。"


def test_only_the_provider_answers(city, sessions, settings):
    report = _file(sessions, settings, city)
    with pytest.raises(NotPermitted, match="sbj may not correction_answer"):  # a consumer: not its role
        _answer(sessions, settings, report, accept=True, text="更正", user="sbj")
    with pytest.raises(NotPermitted, match="sbj-staff may not answer correction reports on") as refused:
        _answer(sessions, settings, report, accept=True, text="更正", user="sbj-staff")
    assert refused.value.user_message == ("资源「人口基本信息(公开项)」由临江市公安局提供, "
                                          "只有该部门的提供方或目录管理员才能答复纠错。")


def test_only_a_consumer_department_files(city, sessions, settings):
    with pytest.raises(NotPermitted, match="gaj may not correction_file"):  # a cataloguer: not its role
        _file(sessions, settings, city, user="gaj")


def test_an_open_report_past_its_deadline_is_flagged_overdue(city, sessions, settings):
    report = _file(sessions, settings, city)
    [open_report] = correction.inbox(as_user(sessions, settings, "gaj"))
    assert open_report.id == report
    assert not correction.is_overdue(open_report, NOW + timedelta(days=settings.correction_days))
    assert correction.is_overdue(open_report, NOW + timedelta(days=settings.correction_days, seconds=1))
    _answer(sessions, settings, report, accept=True, text="更正", now=NOW + timedelta(days=30))
    [answered] = correction.inbox(as_user(sessions, settings, "gaj"))
    assert not correction.is_overdue(answered, NOW + timedelta(days=30))


def test_the_provider_cannot_report_on_its_own_resource(city, sessions, settings):
    with pytest.raises(GovernanceError, match="correct it at the source") as caught:
        _file(sessions, settings, city, user="gaj-consumer")
    assert caught.value.user_message.startswith("资源「人口基本信息(公开项)」由本部门提供")


def test_the_command_line_files_answers_and_lists(city, sessions, settings, capsys):
    def cli(*argv):
        args = server.parser().parse_args(list(argv))
        return args.handler(args, sessions, settings)

    key = _key(city, city.unconditional, 1)
    assert cli("correction", "file", "--user", "mzj", "--resource", city.unconditional, "--key", key,
               "--field", "name", "--problem", "姓名错字", "--proposed", "张玮") == 0
    assert capsys.readouterr().out.startswith("correction report #1 filed; 临江市公安局 answers by ")
    assert cli("correction", "inbox", "--user", "gaj") == 0
    assert f"#1\topen\t-\tmzj\t{city.unconditional}\t{key}\tname\t姓名错字\tproposed: 张玮" in capsys.readouterr().out
    assert cli("correction", "answer", "--user", "gaj", "1", "--reject") == 2
    assert capsys.readouterr().err == "error: reason: required to reject a correction report\n"
    assert cli("correction", "answer", "--user", "gaj", "1", "--accept", "--change", "更正为张玮") == 0
    assert cli("correction", "list", "--user", "mzj") == 0
    assert "\taccepted\t" in capsys.readouterr().out.splitlines()[-1]
    with sessions() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.operation.like("correction.%"))
                            .order_by(AuditEntry.seq)).all()
    assert [(e.operation, e.channel, e.user, e.result) for e in entries] == [
        ("correction.file", "cli", "mzj", "ok"), ("correction.inbox", "cli", "gaj", "ok"),
        ("correction.answer", "cli", "gaj", "refused:InvalidRequest"), ("correction.answer", "cli", "gaj", "ok"),
        ("correction.list", "cli", "mzj", "ok")]
    assert entries[0].resource_code == entries[3].resource_code == city.unconditional
