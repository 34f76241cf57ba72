"""Comparison across sources (比对): field by field, by configured priority, with lineage and a
conflicts report."""

from __future__ import annotations

import subprocess
from datetime import datetime

import pytest
from psycopg.errors import ForeignKeyViolation
from sqlalchemy import func, select, text

from directory.accounts import create_user, register_department
from directory.demo import credit_code_for
from exchange import core, integration
from registry.db import make_engine, session_factory, unit_of_work
from registry.models import AuditEntry, CoreLineage, CoreRecord, Department, SourcePriority
from registry.settings import Settings
from tests.conftest import _truncate, govshare_here

KEY = "330102199001021235"
GAJ_ADDRESS = "临江市上城区解放路12号"
MZJ_ADDRESS = "临江市西湖区文三路88号"


def _by(priority: dict[tuple[int, str], int]):
    return lambda source, name: priority.get((source, name), priority.get((source, ""), 0))


# ------------------------------------------------------------------------------ merge rules


def test_a_higher_priority_keeps_its_value_and_the_disagreement_is_kept():
    merged = integration.merge({"name": "张三", "address": GAJ_ADDRESS}, 1, None,
                               {"name": "张三", "address": MZJ_ADDRESS}, 2, _by({(1, ""): 100, (2, ""): 10}))
    assert merged.fields == {"name": "张三", "address": GAJ_ADDRESS}
    assert merged.field_sources == {"name": 1, "address": 1}
    assert merged.disagreements == [("address", GAJ_ADDRESS, 1, MZJ_ADDRESS, 2)]


def test_between_equal_priorities_the_newer_value_wins():
    merged = integration.merge({"address": GAJ_ADDRESS}, 1, None, {"address": MZJ_ADDRESS}, 2, _by({}))
    assert merged.fields == {"address": MZJ_ADDRESS} and merged.field_sources is None


def test_a_field_priority_overrides_the_department_priority():
    priority = _by({(1, ""): 100, (2, ""): 10, (2, "address"): 200})
    merged = integration.merge({"name": "张三", "address": GAJ_ADDRESS}, 1, None,
                               {"name": "张叁", "address": MZJ_ADDRESS}, 2, priority)
    assert merged.fields == {"name": "张三", "address": MZJ_ADDRESS}
    assert merged.field_sources == {"name": 1}


def test_a_source_that_lacks_a_field_leaves_it_and_one_that_has_it_fills_it():
    merged = integration.merge({"name": "张三", "address": GAJ_ADDRESS}, 1, None,
                               {"name": "张三", "maritalStatus": "20"}, 2, _by({(1, ""): 100}))
    assert merged.fields == {"name": "张三", "address": GAJ_ADDRESS, "maritalStatus": "20"}
    assert merged.field_sources == {"name": 1, "address": 1}
    assert merged.disagreements == []


def test_the_owner_of_a_field_may_correct_or_clear_it_whatever_the_others_say():
    priority = _by({(1, ""): 100, (2, ""): 10})
    # current: address from 1, maritalStatus from 2 (a version whose row source is 1)
    merged = integration.merge({"address": GAJ_ADDRESS, "maritalStatus": "20"}, 1, {"maritalStatus": 2},
                               {"maritalStatus": "30"}, 2, priority)
    assert merged.fields == {"address": GAJ_ADDRESS, "maritalStatus": "30"}
    assert merged.field_sources == {"address": 1}
    cleared = integration.merge({"address": GAJ_ADDRESS, "maritalStatus": "20"}, 1, {"maritalStatus": 2},
                                {"maritalStatus": None, "address": MZJ_ADDRESS}, 2, priority)
    assert cleared.fields == {"address": GAJ_ADDRESS}  # 2 withdrew its status; 1 keeps its address


# ------------------------------------------------------------------------------ in the core


@pytest.fixture
def sources(sessions, settings):
    with unit_of_work(sessions) as session:
        gaj = register_department(session, settings, code="gaj", name="临江市公安局",
                                  credit_code=credit_code_for("00250102"))
        mzj = register_department(session, settings, code="mzj", name="临江市民政局",
                                  credit_code=credit_code_for("00250103"))
        integration.set_priority(session, "population", gaj.id, 100)
        integration.set_priority(session, "population", mzj.id, 10)
        return gaj.id, mzj.id


def _load(sessions, source: int, fields: dict, batch: str) -> core.LoadCounts:
    with unit_of_work(sessions) as session:
        core.take_turn(session, "population")
        return core.load(session, base="population", records=[core.Accepted(KEY, "Person", dict(fields))],
                         source_id=source, resource_code="R-" + str(source), batch_id=batch,
                         now=datetime(2026, 11, 24, 8, int(batch[-1])))


def _current(sessions) -> CoreRecord:
    with sessions() as session:
        return session.scalar(select(CoreRecord).where(CoreRecord.record_key == KEY,
                                                       CoreRecord.effective_to.is_(None)))


def test_the_core_keeps_the_stronger_source_and_records_both(sessions, sources):
    gaj, mzj = sources
    person = {"idNumber": KEY, "name": "张三", "residenceAddress": GAJ_ADDRESS}
    _load(sessions, gaj, person, "b1")
    counts = _load(sessions, mzj, dict(person, residenceAddress=MZJ_ADDRESS, maritalStatus="20"), "b2")
    assert counts.changed == 1  # 民政局 adds the marital status, not its address
    current = _current(sessions)
    assert current.fields == dict(person, maritalStatus="20")
    assert current.source_id == mzj and current.field_sources == {"idNumber": gaj, "name": gaj,
                                                                   "residenceAddress": gaj}
    # 民政局 sends the same again: nothing changes, and the disagreement is not recorded twice
    assert _load(sessions, mzj, dict(person, residenceAddress=MZJ_ADDRESS, maritalStatus="20"), "b3").unchanged == 1
    with sessions() as session:
        lineage = {(row.field, row.value, row.source_id) for row in core.lineage_of(session, "population", KEY)}
        assert session.scalar(select(func.count()).select_from(CoreLineage)) == 2
    assert lineage == {("residenceAddress", GAJ_ADDRESS, gaj), ("residenceAddress", MZJ_ADDRESS, mzj)}
    # 公安局 moves the person: its own field, its new value; 民政局's status stays
    _load(sessions, gaj, dict(person, residenceAddress="临江市滨江区江南大道1号"), "b4")
    assert _current(sessions).fields == dict(person, residenceAddress="临江市滨江区江南大道1号", maritalStatus="20")
    assert _current(sessions).field_sources == {"maritalStatus": mzj}


def test_raising_a_priority_lets_the_next_value_win(sessions, sources):
    gaj, mzj = sources
    person = {"idNumber": KEY, "name": "张三", "residenceAddress": GAJ_ADDRESS}
    _load(sessions, gaj, person, "b1")
    _load(sessions, mzj, dict(person, residenceAddress=MZJ_ADDRESS), "b2")
    assert _current(sessions).fields["residenceAddress"] == GAJ_ADDRESS
    with unit_of_work(sessions) as session:
        integration.set_priority(session, "population", mzj, 10, {"residenceAddress": 150})
    _load(sessions, mzj, dict(person, residenceAddress=MZJ_ADDRESS), "b3")
    assert _current(sessions).fields["residenceAddress"] == MZJ_ADDRESS


def test_the_conflicts_report_names_the_kept_and_the_overruled_source(sessions, sources):
    gaj, mzj = sources
    person = {"idNumber": KEY, "name": "张三", "residenceAddress": GAJ_ADDRESS}
    _load(sessions, gaj, person, "b1")
    _load(sessions, mzj, dict(person, residenceAddress=MZJ_ADDRESS), "b2")
    with sessions() as session:
        report = integration.conflicts(session, "population")
    assert report.keys == 1
    assert report.by_field == {"residenceAddress": 1}
    assert report.outcomes == {("residenceAddress", "临江市公安局", "临江市民政局"): 1}
    [example] = report.examples
    assert (example.key, example.kept, example.kept_source) == (KEY, GAJ_ADDRESS, "临江市公安局")
    assert example.others == [(MZJ_ADDRESS, "临江市民政局")]
    # once 民政局 agrees, nothing is in conflict any more
    _load(sessions, mzj, person, "b3")
    with sessions() as session:
        assert integration.conflicts(session, "population").keys == 0


def test_the_command_line_sets_priorities_and_prints_conflicts(sessions, settings, sources):
    gaj, mzj = sources
    person = {"idNumber": KEY, "name": "张三", "residenceAddress": GAJ_ADDRESS}
    _load(sessions, gaj, person, "b1")
    _load(sessions, mzj, dict(person, residenceAddress=MZJ_ADDRESS), "b2")

    def govshare(*args: str) -> subprocess.CompletedProcess:
        return govshare_here("--db-url", settings.db_url, *args)

    shown = govshare("core", "priority", "population")
    assert "临江市公安局  *  100" in shown.stdout and "临江市民政局  *  10" in shown.stdout
    bad = govshare("core", "priority", "population", "mzj", "20", "--field", "residenceAddress=high")
    assert bad.returncode == 2 and "expected NAME=PRIORITY" in bad.stderr
    nobody = govshare("core", "priority", "population", "nobody", "5")
    assert nobody.returncode == 2 and "error: no department 'nobody'" in nobody.stderr
    raised = govshare("core", "priority", "population", "临江市民政局", "20", "--field", "residenceAddress=150")
    assert raised.returncode == 0 and "临江市民政局  residenceAddress  150" in raised.stdout
    report = govshare("core", "conflicts", "population")
    assert report.returncode == 0, report.stderr
    assert "1 records on which sources disagree" in report.stdout
    assert "kept 临江市公安局's value over 临江市民政局's: 1" in report.stdout
    history = govshare("core", "history", "population", KEY)
    assert "current" in history.stdout and f"lineage: residenceAddress = '{MZJ_ADDRESS}'" in history.stdout
    with sessions() as session:
        entries = session.execute(select(AuditEntry.operation, AuditEntry.result, AuditEntry.channel, AuditEntry.user)
                                  .order_by(AuditEntry.seq)).all()
    assert [(operation, result) for operation, result, *_ in entries] == [
        ("core.priorities", "ok"), ("core.priority", "refused:UnknownDepartment"), ("core.priority", "ok"),
        ("core.conflicts", "ok"), ("core.history", "ok")]  # the malformed --field never reached an action
    assert {(channel, user) for *_, channel, user in entries} == {("cli", "console")}


def test_the_cores_values_and_priorities_are_the_platform_operators(sessions, settings, sources):
    gaj, mzj = sources
    with unit_of_work(sessions) as session:
        create_user(session, username="mzj.li", password="pw", department=session.get(Department, mzj),
                    roles=("consumer", "provider", "auditor"))
    _load(sessions, gaj, {"idNumber": KEY, "name": "张三"}, "b1")
    for command in (["history", "population", KEY], ["conflicts", "population"], ["priority", "population"],
                    ["priority", "population", "mzj", "200"]):
        refused = govshare_here("--db-url", settings.db_url, "core", *command, "--user", "mzj.li")
        assert refused.returncode == 2 and "error: mzj.li may not operate" in refused.stderr, refused.stderr
        assert KEY not in refused.stdout
    with sessions() as session:
        assert session.scalar(select(SourcePriority.priority).where(SourcePriority.source_id == mzj,
                                                                     SourcePriority.field == "")) == 10
        results = session.scalars(select(AuditEntry.result).where(AuditEntry.user == "mzj.li")).all()
    assert results == ["refused:NotPermitted"] * 4


def test_a_resource_whose_record_changed_nothing_still_holds_it(sessions, sources):
    """民政局 sends a person exactly as 公安局's version has them: no new version, but 民政局's
    resource holds the record (its contribution is kept)."""
    from exchange import output
    from registry.models import CatalogueEntry, Department

    gaj, mzj = sources
    person = {"idNumber": KEY, "name": "张三", "residenceAddress": GAJ_ADDRESS}
    _load(sessions, gaj, person, "b1")
    assert _load(sessions, mzj, person, "b2").unchanged == 1
    with sessions() as session:
        requester = session.get(Department, mzj)
        entry = CatalogueEntry(resource_code="R-" + str(mzj), sharing_type="无条件共享", provider_id=mzj)
        view = output.View(entry=entry, requester=requester, fields=None)
        total, rows = output.query(session, view, keys=[KEY], filters=[], offset=0, page_size=10)
    assert total == 1 and rows[0].fields["residenceAddress"] == GAJ_ADDRESS


def test_versions_keep_keys_and_values_with_characters_the_bulk_insert_escapes(sessions, sources):
    """PostgreSQL takes versions by COPY, whose text format escapes a backslash, tab, newline or
    carriage return and reads ``\\N`` as NULL: each comes back as it was sent."""
    gaj, mzj = sources
    awkward = {"name": "张\\三\t\\N", "residenceAddress": "临江市\n解放路\r12号 \"东\" \\\\", "note": "\\."}
    keys = ["3301\t02", "3301\\N", "3301\n02\r", "\\."]
    with unit_of_work(sessions) as session:
        core.take_turn(session, "population")
        counts = core.load(session, base="population", source_id=gaj, resource_code="R-1", batch_id="b\t1",
                           records=[core.Accepted(key, "Person", dict(awkward, idNumber=key)) for key in keys],
                           now=datetime(2026, 11, 24, 8, 0))
    assert counts.changed == len(keys)
    _load(sessions, mzj, {"idNumber": KEY, "name": "李四", "maritalStatus": "20"}, "b2")
    _load(sessions, gaj, {"idNumber": KEY, "name": "李\\四\t"}, "b3")  # a version with field sources
    with sessions() as session:
        for key in keys:
            [version] = core.history_of(session, "population", key)
            assert (version.record_key, version.fields, version.batch_id) == (key, dict(awkward, idNumber=key), "b\t1")
            assert version.field_sources is None and version.deleted is False and version.effective_to is None
    current = _current(sessions)
    assert current.fields == {"idNumber": KEY, "name": "李\\四\t", "maritalStatus": "20"}
    assert current.field_sources == {"idNumber": mzj, "maritalStatus": mzj}  # JSON text in COPY, too


def test_copying_versions_keeps_the_sessions_plan_mode_and_the_foreign_key(pg_database):
    """PostgreSQL: the COPY of versions lets its foreign-key checks keep their plans, and only it:
    the session plans every later statement anew again, and a source that is no department is
    still refused."""
    _truncate(pg_database)
    engine = make_engine(pg_database)
    sessions = session_factory(engine)
    try:
        with unit_of_work(sessions) as session:
            gaj = register_department(session, Settings.from_env(db_url=pg_database), code="gaj", name="临江市公安局",
                                      credit_code=credit_code_for("00250102"))
            counts = core.load(session, base="population", records=[core.Accepted(KEY, "Person", {"idNumber": KEY})],
                               source_id=gaj.id, resource_code="R-1", batch_id="b1", now=datetime(2026, 11, 24))
            assert counts.changed == 1
            assert session.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
        with pytest.raises(ForeignKeyViolation, match="core_record_source_id_fkey"), unit_of_work(sessions) as session:
            core.load(session, base="population", records=[core.Accepted("x", "Person", {"idNumber": "x"})],
                      source_id=gaj.id + 1000, resource_code="R-1", batch_id="b2", now=datetime(2026, 11, 24))
        with sessions() as session:
            assert [v.record_key for v in session.scalars(select(CoreRecord))] == [KEY]
    finally:
        engine.dispose()
