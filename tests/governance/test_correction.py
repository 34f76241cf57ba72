"""Data correction (纠错, S5): consumers report wrong values; providers answer by a deadline."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

import server
from directory.accounts import find_user
from governance import correction, sharing
from registry.db import unit_of_work
from registry.errors import GovernanceError
from registry.models import CorrectionReport

from .sharing_city import P, city_fixture, exchange_fixture  # noqa: F401 - fixtures

NOW = datetime(2026, 3, 2, 1, 0)


def _key(city, resource, n=0) -> str:
    return city.people[resource][n].findtext(P + "idNumber")


def _file(sessions, settings, city, *, user="mzj", resource=None, key=None, field="domicileAddress",
          problem="已迁至新区", proposed="临江市新区1号", now=NOW) -> int:
    resource = resource or city.unconditional
    with unit_of_work(sessions) as s:
        return correction.file_report(s, settings, find_user(s, user), resource,
                                      record_key=key or _key(city, resource), field=field, problem=problem,
                                      proposed_value=proposed, now=now).id


def _answer(sessions, report, *, accept, text, user="gaj", now=NOW + timedelta(days=1)):
    with unit_of_work(sessions) as s:
        return correction.answer(s, find_user(s, user), report, accept=accept, text=text, now=now).status


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


def test_a_report_on_an_unknown_record_is_refused(city, sessions, settings):
    with pytest.raises(GovernanceError, match="^key: resource .* has no record 110101200001010011$"):
        _file(sessions, settings, city, key="110101200001010011")


def test_a_report_on_an_unknown_field_is_refused_naming_the_formats_fields(city, sessions, settings):
    with pytest.raises(GovernanceError, match="^field: salary is not a field of .*Person; its fields: idNumber"):
        _file(sessions, settings, city, field="salary")


def test_a_department_that_cannot_read_the_resource_cannot_report_on_it(city, sessions, settings):
    with pytest.raises(GovernanceError, match="cannot read .* NotShared|cannot read .*不予共享"):
        _file(sessions, settings, city, resource=city.not_shared)
    with pytest.raises(GovernanceError, match="has no grant"):
        _file(sessions, settings, city, resource=city.conditional)


def test_a_report_is_limited_to_the_granted_fields(city, sessions, settings):
    with unit_of_work(sessions) as s:
        sharing.grant(s, find_user(s, "gaj"), city.conditional, "mzj", fields=["idNumber", "name"])
    with pytest.raises(GovernanceError, match="domicileAddress is not among the fields granted"):
        _file(sessions, settings, city, resource=city.conditional, now=None)  # the grant starts today
    assert _file(sessions, settings, city, resource=city.conditional, field="name", problem="姓名有误", now=None)


def test_the_provider_accepts_saying_what_it_will_change(city, sessions, settings):
    report = _file(sessions, settings, city)
    assert _answer(sessions, report, accept=True, text="下一批次更正户籍地址") == "accepted"
    with sessions() as s:
        answered = s.get(CorrectionReport, report)
        assert (answered.answer, answered.answered_by, answered.answered_at) == (
            "下一批次更正户籍地址", "gaj", NOW + timedelta(days=1))


def test_a_rejection_needs_a_reason(city, sessions, settings):
    report = _file(sessions, settings, city)
    with pytest.raises(GovernanceError, match="^reason: required to reject a correction report$") as caught:
        _answer(sessions, report, accept=False, text="")
    assert caught.value.field == "reason"
    assert _answer(sessions, report, accept=False, text="户籍地址以户籍登记为准") == "rejected"


def test_an_acceptance_needs_the_change(city, sessions, settings):
    report = _file(sessions, settings, city)
    with pytest.raises(GovernanceError, match="^change: required to accept"):
        _answer(sessions, report, accept=True, text=None)


def test_a_report_is_answered_once(city, sessions, settings):
    report = _file(sessions, settings, city)
    _answer(sessions, report, accept=True, text="更正")
    with pytest.raises(GovernanceError, match="already accepted by gaj"):
        _answer(sessions, report, accept=False, text="不予更正")


def test_only_the_provider_answers(city, sessions, settings):
    report = _file(sessions, settings, city)
    with pytest.raises(GovernanceError, match="sbj may not answer correction reports on"):
        _answer(sessions, report, accept=True, text="更正", user="sbj")


def test_an_open_report_past_its_deadline_is_flagged_overdue(city, sessions, settings):
    report = _file(sessions, settings, city)
    with sessions() as s:
        [open_report] = correction.inbox(s, find_user(s, "gaj"))
        assert open_report.id == report
        assert not correction.is_overdue(open_report, NOW + timedelta(days=settings.correction_days))
        assert correction.is_overdue(open_report, NOW + timedelta(days=settings.correction_days, seconds=1))
    _answer(sessions, report, accept=True, text="更正", now=NOW + timedelta(days=30))
    with sessions() as s:
        assert not correction.is_overdue(s.get(CorrectionReport, report), NOW + timedelta(days=30))


def test_the_provider_cannot_report_on_its_own_resource(city, sessions, settings):
    with pytest.raises(GovernanceError, match="correct it at the source"):
        _file(sessions, settings, city, user="gaj")


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
