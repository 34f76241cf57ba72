"""Assessment (考核, S5): per-department completeness, timeliness and response times."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

import server
from governance import assessment, correction, sharing
from registry.clock import utcnow
from registry.db import unit_of_work
from registry.errors import NotPermitted
from registry.models import AuditEntry, CatalogueEntry, Department, User
from tests.conftest import as_user
from tests.exchange.conftest import _publish

from .sharing_city import P, city_fixture, exchange_fixture  # noqa: F401 - fixtures

NOW = datetime(2026, 3, 2, 1, 0)
UNTIL = date(2099, 12, 31)


def _gaj(sessions, settings, *, now=None, since=None) -> assessment.DepartmentAssessment:
    [row] = assessment.report(as_user(sessions, settings, "admin", now=now), department="gaj", since=since)
    return row


def _edit(sessions, code, **values):
    with unit_of_work(sessions) as s:
        entry = s.query(CatalogueEntry).filter_by(resource_code=code).one()
        for name, value in values.items():
            setattr(entry, name, value)


def test_every_department_has_a_row(city, sessions, settings):
    rows = {r.department: r for r in assessment.report(as_user(sessions, settings, "reviewer"))}
    assert set(rows) == {"gaj", "mzj", "sbj"}
    assert (rows["mzj"].published, rows["mzj"].completeness, rows["mzj"].timeliness) == (0, None, None)


def test_only_the_admin_reviewer_and_auditor_roles_read_the_assessment(city, sessions, settings):
    with pytest.raises(NotPermitted) as refused:
        assessment.report(as_user(sessions, settings, "mzj"))
    assert "考核" in refused.value.user_message


def test_completeness_is_the_share_of_entries_with_every_core_metadata_item(city, sessions, settings):
    assert (_gaj(sessions, settings).published, _gaj(sessions, settings).completeness) == (3, 1.0)
    _edit(sessions, city.unconditional, provider_unit="")
    row = _gaj(sessions, settings)
    assert (row.complete, row.missing) == (2, {"provider_unit": 1})
    assert row.completeness == 2 / 3


def test_conditional_items_count_only_where_they_apply(city, sessions):
    with sessions() as s:
        entries = {e.resource_code: e for e in s.query(CatalogueEntry)}
        assert assessment.missing_items(entries[city.not_shared]) == []  # no 共享方式, rightly
        entries[city.conditional].sharing_condition = ""
        assert assessment.missing_items(entries[city.conditional]) == ["sharing_condition"]


def test_a_resource_loaded_within_its_update_cycle_is_on_time(city, sessions, settings):
    row = _gaj(sessions, settings, now=utcnow() + timedelta(hours=47))  # 每日 and a day of grace
    assert (row.timed, row.on_time, row.timeliness) == (3, 3, 1.0)


def test_a_resource_not_loaded_within_its_update_cycle_is_late(city, sessions, settings):
    _edit(sessions, city.unconditional, update_cycle="每月")
    row = _gaj(sessions, settings, now=utcnow() + timedelta(days=3))
    assert (row.on_time, sorted(row.late)) == (1, sorted([city.conditional, city.not_shared]))


def test_a_resource_never_loaded_is_late_and_a_logical_one_is_not_counted(city, sessions, settings):
    _edit(sessions, city.unconditional, logical=True)
    with unit_of_work(sessions) as s:
        s.query(CatalogueEntry).filter_by(resource_code=city.not_shared).one().resource_code = "101001002/000009"
    row = _gaj(sessions, settings)
    assert (row.timed, row.on_time, row.late) == (2, 1, ["101001002/000009"])


def test_application_response_times(city, sessions, settings):
    def apply(user):
        return sharing.apply(as_user(sessions, settings, user, now=NOW), resource_code=city.conditional,
                             purpose="核查", valid_to=UNTIL).id

    def decide(action, application, days, **inputs):
        action(as_user(sessions, settings, "gaj", now=NOW + timedelta(days=days)), application_id=application,
               **inputs)

    decide(sharing.approve, apply("mzj"), 2)  # 48 h, on time
    decide(sharing.refuse, apply("mzj"), 12, reason="用途不符")  # 288 h, after the 10-day deadline
    apply("sbj")  # never answered
    withdrawn = apply("mzj")  # not counted
    sharing.withdraw(as_user(sessions, settings, "mzj", now=NOW), application_id=withdrawn)
    a = _gaj(sessions, settings, now=NOW + timedelta(days=20)).applications
    assert (a.received, a.answered, a.median_hours, a.due, a.within, a.overdue) == (3, 2, 168.0, 3, 1, 1)
    assert a.within_share == 1 / 3
    early = _gaj(sessions, settings, now=NOW + timedelta(days=5)).applications  # nothing due yet but the answered ones
    assert (early.due, early.overdue) == (2, 0)


def test_correction_response_times(city, sessions, settings):
    keys = [p.findtext(P + "idNumber") for p in city.people[city.unconditional]]
    reports = [correction.file(as_user(sessions, settings, "mzj", now=NOW), resource_code=city.unconditional,
                               record_key=k, field="name", problem="姓名有误").id for k in keys]
    correction.answer(as_user(sessions, settings, "gaj", now=NOW + timedelta(hours=6)), report_id=reports[0],
                      accept=True, text="更正")
    c = _gaj(sessions, settings, now=NOW + timedelta(days=6)).corrections
    assert (c.received, c.answered, c.median_hours, c.due, c.within, c.overdue) == (3, 1, 6.0, 3, 1, 2)


def test_since_limits_the_response_statistics(city, sessions, settings):
    sharing.apply(as_user(sessions, settings, "mzj", now=NOW), resource_code=city.conditional, purpose="核查",
                  valid_to=UNTIL)
    assert _gaj(sessions, settings, since=NOW + timedelta(seconds=1)).applications.received == 0
    assert _gaj(sessions, settings, since=NOW).applications.received == 1


def test_the_score_weighs_the_shares_counted_and_every_department_is_ranked(city, sessions, settings):
    rows = {r.department: r for r in assessment.report(as_user(sessions, settings, "admin"))}
    assert (rows["gaj"].score, rows["gaj"].rank) == (100.0, 1)  # complete and on time; nothing due to answer
    assert (rows["mzj"].score, rows["mzj"].rank) == (None, None)  # nothing to assess: no score, no rank
    application = sharing.apply(as_user(sessions, settings, "mzj", now=NOW), resource_code=city.conditional,
                                purpose="核查", valid_to=UNTIL).id
    sharing.approve(as_user(sessions, settings, "gaj", now=NOW + timedelta(days=12)), application_id=application)
    gaj = _gaj(sessions, settings, now=utcnow())
    assert gaj.applications.within_share == 0  # answered after the 10-day deadline
    assert gaj.score == round(100 * (30 + 30 + 0) / (30 + 30 + 25), 1) == 70.6  # 纠错: nothing due, left out
    assert (gaj.row()["score"], gaj.row()["rank"]) == (70.6, 1)
    [mzj] = assessment.report(as_user(sessions, settings, "admin"), department="mzj")
    assert (mzj.score, mzj.rank) == (None, None)


def test_equal_scores_share_a_rank_and_the_next_rank_is_skipped(city, sessions, settings):
    with unit_of_work(sessions) as s:
        sbj = s.query(Department).filter_by(code="sbj").one()
        staff, reviewer = (s.query(User).filter_by(username=n).one() for n in ("sbj-staff", "reviewer"))
        _publish(s, settings, sbj, staff, reviewer, "参保人员信息", "101001002", "无条件共享")  # never loaded
    later = utcnow() + timedelta(days=3)  # gaj's 每日 resources are late by then
    rows = assessment.ranked(assessment.report(as_user(sessions, settings, "admin", now=later)))
    assert [(r.department, r.score, r.rank) for r in rows] == [("gaj", 50.0, 1), ("sbj", 50.0, 1), ("mzj", None, None)]
    _edit(sessions, city.unconditional, abstract="")
    rows = assessment.ranked(assessment.report(as_user(sessions, settings, "admin", now=later)))
    assert [(r.department, r.score, r.rank) for r in rows] == [("sbj", 50.0, 1), ("gaj", 33.3, 2), ("mzj", None, None)]


def test_the_csv_for_a_person_has_chinese_columns_and_shares_in_per_cent(city, sessions, settings):
    out = io.StringIO()
    rows = assessment.ranked(assessment.report(as_user(sessions, settings, "admin")))
    assert assessment.write_csv(rows, out, labels=True) == 3
    table = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(table[0]) == list(assessment.LABELS.values())
    wanted = {"部门": "临江市公安局", "目录完整性 (%)": "100.0", "更新及时性 (%)": "100.0", "申请按期答复率 (%)": "",
              "得分": "100.0", "排名": "1"}
    assert {k: table[0][k] for k in wanted} == wanted
    assert (table[2]["部门"], table[2]["得分"], table[2]["排名"]) == ("临江市人力社保局", "", "")


def test_the_command_line_counts_from_the_china_day_given(city, sessions, settings, capsys):
    sharing.apply(as_user(sessions, settings, "mzj", now=datetime(2026, 3, 1, 17, 0)),  # 3 月 2 日 01:00 北京时间
                  resource_code=city.conditional, purpose="核查", valid_to=UNTIL)
    counted = {}
    for day in ("2026-03-02", "2026-03-03"):
        args = server.parser().parse_args(["assess", "--department", "gaj", "--format", "csv", "--since", day])
        assert args.handler(args, sessions, settings) == 0
        [row] = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
        counted[day] = row["applications"]
    assert counted == {"2026-03-02": "1", "2026-03-03": "0"}


def test_the_command_line_writes_csv(city, sessions, settings, capsys):
    args = server.parser().parse_args(["assess", "--department", "gaj", "--format", "csv"])
    assert args.handler(args, sessions, settings) == 0
    [row] = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert tuple(row) == assessment.COLUMNS
    assert (row["department"], row["published"], row["completeness"], row["timeliness"], row["applications"],
            row["application_median_hours"], row["score"], row["rank"]) == ("gaj", "3", "1.0", "1.0", "0", "",
                                                                            "100.0", "1")
    with sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.operation == "assessment.report")).one()
    assert (entry.channel, entry.user, entry.result, entry.record_count) == ("cli", "console", "ok", 1)


def test_the_command_line_refuses_an_account_without_the_role(city, sessions, settings, capsys):
    args = server.parser().parse_args(["assess", "--user", "mzj"])
    assert args.handler(args, sessions, settings) == 2
    assert capsys.readouterr().err.startswith("error: mzj may not assessment")


def test_the_command_line_prints_a_table(city, sessions, settings, capsys):
    args = server.parser().parse_args(["assess"])
    assert args.handler(args, sessions, settings) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t") == list(assessment.COLUMNS)
    assert lines[1].split("\t")[:8] == ["gaj", "临江市公安局", "3", "3", "100.0%", "3", "3", "100.0%"]
