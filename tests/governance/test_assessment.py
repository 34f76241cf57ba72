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
from registry.models import AuditEntry, CatalogueEntry
from tests.conftest import as_user

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


def test_the_command_line_writes_csv(city, sessions, settings, capsys):
    args = server.parser().parse_args(["assess", "--department", "gaj", "--format", "csv"])
    assert args.handler(args, sessions, settings) == 0
    [row] = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert tuple(row) == assessment.COLUMNS
    assert (row["department"], row["published"], row["completeness"], row["timeliness"], row["applications"],
            row["application_median_hours"]) == ("gaj", "3", "1.0", "1.0", "0", "")
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
