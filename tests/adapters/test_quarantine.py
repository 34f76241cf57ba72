"""The adapter quarantine after a run of the demo 公安局 adapter: rows are listed with their rule
and key, corrected at the source-column level, replayed through the exchange, or discarded."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import MetaData, Table, create_engine, func, select, text
from sqlalchemy.exc import IntegrityError

import adapters.quarantine as quarantine
from adapters.config import load_adapter
from adapters.pipeline import run_adapter
from bench.databases import drop_later
from registry.db import make_engine, migrate, unit_of_work
from registry.errors import Conflict, InvalidInput, NotFound
from registry.models import AdapterQuarantine, AuditEntry, CoreRecord, QuarantineRecord
from tests.adapters.test_pipeline import ADAPTER, household_resource  # noqa: F401 - a fixture
from tests.adapters.test_sync import kill_a_run, legacy  # noqa: F401 - a fixture
from tests.conftest import PG_ADMIN_URL, _pg_reachable, govshare_here, service_unavailable, without_flush_wait
from trust.actions import Context
from trust.auth import Caller
from xsd.validation import RecordResult

ROOT = Path(__file__).parents[2]
EVERY = 10_000


@pytest.fixture
def config(gaj_env, household_resource, sessions, settings):  # noqa: F811 - the imported fixture
    """The demo adapter, after one full run has filled its quarantine."""
    config = load_adapter(ADAPTER)
    run = run_adapter(sessions, settings, config, full=True)
    assert run.status == "succeeded", run.message
    return config


def _platform(sessions, settings) -> Context:
    """The platform's operator at the console, who handles the quarantine."""
    return Context(Caller.platform("cli"), sessions, settings)


def _unmapped_sex(sessions) -> AdapterQuarantine:
    """An open item whose only problem is its sex code."""
    with sessions() as session:
        return next(i for i in session.scalars(select(AdapterQuarantine).where(
            AdapterQuarantine.rule == "code.unmapped", AdapterQuarantine.status == "open")
            .order_by(AdapterQuarantine.id)) if i.field == "sex" and ";" not in i.message)


def _sex_for(item) -> str:
    """The 性别 its 公民身份号码 states: the 17th digit is odd for men."""
    return "男" if int(item.source_key[16]) % 2 else "女"


def _core_count(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(CoreRecord))


def _correct(sessions, settings, item_id: int, **fields: str) -> quarantine.Item:
    return quarantine.correct(_platform(sessions, settings), item_id=item_id, values=fields)


def _show(sessions, settings, item_id: int) -> quarantine.Item:
    return quarantine.show(_platform(sessions, settings), item_id=item_id)


def _replay(sessions, settings, ids=None, adapter=None) -> quarantine.ReplayResult:
    return quarantine.replay(_platform(sessions, settings), ids=ids, adapter=adapter)


def _discard(sessions, settings, item_id: int, reason: str) -> quarantine.Item:
    return quarantine.discard(_platform(sessions, settings), item_id=item_id, reason=reason)


def _listed(sessions, settings, **criteria) -> list[quarantine.Item]:
    return quarantine.list_items(_platform(sessions, settings), limit=EVERY, **criteria).items


def test_a_run_lists_every_unmapped_and_blank_row_with_its_rule_and_key(config, gaj_env, sessions, settings):
    items = _listed(sessions, settings, adapter="gaj-household")
    assert len(items) == gaj_env.counts["unmapped_code"] + gaj_env.counts["blank_required"]
    assert {i.rule for i in items} == {"code.unmapped", "field.required"}
    assert all(i.source_key and i.stage == "map" and i.status == "open" for i in items)


def test_listing_by_rule_shows_only_that_rule(config, sessions, settings):
    items = _listed(sessions, settings, rule="field.required")
    assert items and {i.rule for i in items} == {"field.required"}


def test_the_summary_counts_open_items_by_stage_and_rule(config, gaj_env, sessions, settings):
    groups = quarantine.list_items(_platform(sessions, settings), adapter="gaj-household").groups
    assert {(g.adapter, g.stage, g.rule) for g in groups} == {("gaj-household", "map", "code.unmapped"),
                                                               ("gaj-household", "map", "field.required")}
    assert sum(g.count for g in groups) == gaj_env.counts["unmapped_code"] + gaj_env.counts["blank_required"]


def test_show_gives_the_source_row_as_read_and_its_problem(config, sessions, settings):
    item = _unmapped_sex(sessions)
    shown = _show(sessions, settings, item.id)
    assert shown.row["GMSFHM"].strip().upper() == shown.source_key.upper()
    assert shown.row["XB"] == "?"
    assert "XB" in shown.message and shown.correction is None


def test_showing_an_unknown_item_is_refused(config, sessions, settings):
    with pytest.raises(NotFound, match="no quarantined item") as refused:
        _show(sessions, settings, 999_999)
    assert refused.value.user_message == "没有编号为 999999 的隔离记录。"


def test_correcting_the_sex_code_leaves_the_item_open_and_ready_to_replay(config, sessions, settings):
    unmapped = _unmapped_sex(sessions)
    item = _correct(sessions, settings, unmapped.id, XB=_sex_for(unmapped))
    assert item.problems == []
    assert item.status == "open"
    assert item.correction == {"XB": _sex_for(item)} and item.corrected_row["XB"] == _sex_for(item)
    assert item.row["XB"] == "?"


def test_a_correction_that_still_fails_stays_open_with_the_new_reason(config, sessions, settings):
    item = _correct(sessions, settings, _unmapped_sex(sessions).id, XB="X")
    assert [p.rule for p in item.problems] == ["code.unmapped"]
    stored = _show(sessions, settings, item.id)
    assert stored.status == "open" and "'X'" in stored.message


def test_a_correction_is_validated_like_a_submitted_record(config, sessions, settings):
    item = _unmapped_sex(sessions)
    wrong_check_digit = item.source_key[:-1] + ("1" if item.source_key[-1] != "1" else "2")
    corrected = _correct(sessions, settings, item.id, XB="男", GMSFHM=wrong_check_digit)
    assert "id_number.checksum" in {p.rule for p in corrected.problems}
    assert _show(sessions, settings, item.id).stage == "validate"


def test_correcting_a_column_the_source_does_not_have_is_refused(config, sessions, settings):
    with pytest.raises(InvalidInput, match="no source column SEX"):
        _correct(sessions, settings, _unmapped_sex(sessions).id, SEX="男")


def test_replaying_a_corrected_row_loads_it_into_the_core_and_marks_it_replayed(config, sessions, settings):
    unmapped = _unmapped_sex(sessions)
    item = _correct(sessions, settings, unmapped.id, XB=_sex_for(unmapped))
    before = _core_count(sessions)
    result = _replay(sessions, settings, [item.id])
    assert result.replayed == [item.id] and result.balanced
    assert _core_count(sessions) == before + 1
    stored = _show(sessions, settings, item.id)
    assert stored.status == "replayed" and result.batch_id in stored.message


def test_replaying_again_returns_the_first_receipt_and_changes_nothing(config, sessions, settings):
    unmapped = _unmapped_sex(sessions)
    item = _correct(sessions, settings, unmapped.id, XB=_sex_for(unmapped))
    first = _replay(sessions, settings, [item.id])
    after_first, message = _core_count(sessions), _message(sessions, settings, item.id)
    again = _replay(sessions, settings, [item.id])
    assert again.duplicate and again.batch_id == first.batch_id and again.replayed == [item.id]
    assert _core_count(sessions) == after_first
    assert _message(sessions, settings, item.id) == message


def _message(sessions, settings, item_id: int) -> str:
    return _show(sessions, settings, item_id).message


def test_replaying_an_uncorrected_row_keeps_it_open(config, sessions, settings):
    item = _unmapped_sex(sessions)
    result = _replay(sessions, settings, [item.id])
    assert result.still_failing == [item.id] and result.batch_id is None
    assert _show(sessions, settings, item.id).status == "open"


def test_replaying_every_open_item_of_an_adapter_accounts_for_each(config, sessions, settings):
    unmapped = _unmapped_sex(sessions)
    fixed = _correct(sessions, settings, unmapped.id, XB=_sex_for(unmapped))
    open_items = len(_listed(sessions, settings, adapter=config.name))
    result = _replay(sessions, settings, adapter=config.name)
    assert len(result.asked) == open_items and result.balanced
    assert result.replayed == [fixed.id]
    assert len(result.still_failing) == open_items - 1


def test_a_record_the_exchange_quarantines_moves_to_the_exchange_quarantine(config, sessions, settings,
                                                                            monkeypatch):
    item = _unmapped_sex(sessions)
    wrong_check_digit = item.source_key[:-1] + ("1" if item.source_key[-1] != "1" else "2")
    _correct(sessions, settings, item.id, XB=_sex_for(item), GMSFHM=wrong_check_digit)
    # the exchange's validators disagree with the check made before submitting
    monkeypatch.setattr(quarantine, "validate_record", lambda *a, **k: RecordResult(None, None, None, []))
    result = _replay(sessions, settings, [item.id])
    assert result.quarantined_by_validation == [item.id] and result.balanced
    with sessions() as session:
        held = session.scalar(select(QuarantineRecord).where(QuarantineRecord.batch_id == result.batch_id))
    stored = _show(sessions, settings, item.id)
    assert held.record_key == wrong_check_digit
    assert stored.status == "replayed" and stored.rule == "id_number.checksum"
    assert f"exchange quarantine as record #{held.id}" in stored.message


def test_discarding_needs_a_reason(config, sessions, settings):
    item = _unmapped_sex(sessions)
    with pytest.raises(InvalidInput, match="needs a reason") as refused:
        _discard(sessions, settings, item.id, "  ")
    assert "丢弃隔离记录须填写理由" in refused.value.user_message


def test_discarding_closes_the_item_and_keeps_the_reason(config, sessions, settings):
    item = _unmapped_sex(sessions)
    _discard(sessions, settings, item.id, "a test person, never registered")
    stored = _show(sessions, settings, item.id)
    assert stored.status == "discarded" and "a test person, never registered" in stored.message


def test_a_discarded_item_cannot_be_replayed(config, sessions, settings):
    item = _unmapped_sex(sessions)
    _discard(sessions, settings, item.id, "duplicate of another person")
    with pytest.raises(Conflict, match="discarded"):
        _replay(sessions, settings, [item.id])


# The command line: `govshare quarantine ...` once server.py registers adapters.quarantine_cli.

def _registered() -> bool:
    import server

    return "quarantine" in server.parser().format_help()


needs_command = pytest.mark.skipif(not _registered(), reason="server.py does not register the quarantine commands")


def _govshare(settings, gaj_env, tmp_path, *args: str, process: bool = False) -> subprocess.CompletedProcess:
    """``govshare quarantine *args``, run by the command's main() (or, with ``process``, as its own process)."""
    env = {"GOVSHARE_DB_URL": settings.db_url, "GOVSHARE_VAR": str(tmp_path), "GOVSHARE_GAJ_URL": gaj_env.url,
           "PATH": "/usr/bin:/bin"}
    if not process:
        return govshare_here("quarantine", *args, env=env, cwd=ROOT)
    return subprocess.run([sys.executable, "-m", "server", "quarantine", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=300)


@needs_command
def test_quarantine_list_prints_the_rule_and_key_of_each_row(config, gaj_env, settings, sessions, tmp_path):
    item = _unmapped_sex(sessions)
    listed = _govshare(settings, gaj_env, tmp_path, "list", "--rule", "code.unmapped", "--limit", str(EVERY),
                       process=True)
    assert listed.returncode == 0, listed.stderr
    assert f"#{item.id} gaj-household open map code.unmapped sex  key {item.source_key}" in listed.stdout


@needs_command
def test_quarantine_correct_then_replay_loads_the_row(config, gaj_env, settings, sessions, tmp_path):
    item = _unmapped_sex(sessions)
    corrected = _govshare(settings, gaj_env, tmp_path, "correct", str(item.id), f"XB={_sex_for(item)}")
    assert corrected.returncode == 0, corrected.stderr
    assert "maps cleanly" in corrected.stdout
    replayed = _govshare(settings, gaj_env, tmp_path, "replay", str(item.id))
    assert replayed.returncode == 0, replayed.stderr
    assert "asked 1 = replayed 1 + still failing 0 + quarantined by validation 0" in replayed.stdout


@needs_command
def test_quarantine_refusals_exit_with_status_2(config, gaj_env, settings, tmp_path):
    unknown = _govshare(settings, gaj_env, tmp_path, "show", "999999")
    assert unknown.returncode == 2 and "no quarantined item #999999" in unknown.stderr
    unreasoned = _govshare(settings, gaj_env, tmp_path, "discard", "1", "--reason", " ")
    assert unreasoned.returncode == 2 and "needs a reason" in unreasoned.stderr


@needs_command
def test_listing_an_unknown_adapter_is_an_error_with_exit_status_2(config, gaj_env, settings, tmp_path):
    listed = _govshare(settings, gaj_env, tmp_path, "list", "--adapter", "nosuch")
    assert listed.returncode == 2 and listed.stdout == ""
    assert "no adapter 'nosuch'" in listed.stderr and "gaj-household" in listed.stderr


@needs_command
def test_every_quarantine_command_leaves_an_audit_entry_with_channel_cli(config, gaj_env, settings, sessions,
                                                                        tmp_path):
    item = _unmapped_sex(sessions)
    for args in (["list"], ["show", str(item.id)], ["correct", str(item.id), f"XB={_sex_for(item)}"],
                 ["replay", str(item.id)], ["discard", "999999", "--reason", "测试"]):
        _govshare(settings, gaj_env, tmp_path, *args)
    with sessions() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.operation.startswith("quarantine."))
                                  .order_by(AuditEntry.seq)).all()
    assert [(e.operation, e.result, e.channel, e.user) for e in entries] == [
        ("quarantine.list", "ok", "cli", "console"), ("quarantine.show", "ok", "cli", "console"),
        ("quarantine.correct", "ok", "cli", "console"), ("quarantine.replay", "ok", "cli", "console"),
        ("quarantine.discard", "refused:QuarantineNotFound", "cli", "console")]
    assert entries[3].record_count == 1 and f"#{item.id} of gaj-household" in entries[2].detail


def test_a_list_past_its_last_page_shows_the_last_page_when_asked_to(config, sessions, settings):
    every = quarantine.list_items(_platform(sessions, settings), limit=EVERY)
    last = quarantine.list_items(_platform(sessions, settings), offset=EVERY * 10, limit=10, clamp=True)
    assert last.total == every.total and last.offset == (every.total - 1) // 10 * 10
    assert [i.id for i in last.items] == [i.id for i in every.items[last.offset:]]


def test_an_item_names_its_field_and_source_columns_and_says_its_problem_in_chinese(config, sessions, settings):
    item = _show(sessions, settings, _unmapped_sex(sessions).id)
    assert (item.label, item.columns) == ("性别", ("XB",))
    assert quarantine.problem_zh(item) == "性别 (sex): 代码不在代码表中 — 源字段 XB 的值为 “?”"


# -- one open item per source row, however often runs meet it ---------------------------------------

def _rejected(manifest) -> int:
    """Source rows the adapter cannot map (validation's refusals go to the exchange quarantine)."""
    return manifest.counts["unmapped_code"] + manifest.counts["blank_required"]


def _items(sessions, status: str | None = "open") -> list[AdapterQuarantine]:
    with sessions() as session:
        query = select(AdapterQuarantine).order_by(AdapterQuarantine.id)
        if status is not None:
            query = query.where(AdapterQuarantine.status == status)
        return list(session.scalars(query))


def _one_per_row_and_rule(items: list[AdapterQuarantine]) -> bool:
    return max(Counter((i.adapter, i.source_key, i.rule) for i in items).values()) == 1


def _reconciles(run) -> bool:
    return run.status == "succeeded" and run.read == run.loaded + run.unchanged + run.quarantined + run.filtered


@pytest.mark.usefixtures("household_resource")
def test_five_full_runs_leave_one_open_item_per_rejected_row_and_rule(gaj_env, sessions, settings):
    config = load_adapter(ADAPTER)
    runs = [run_adapter(sessions, settings, config, full=True) for _ in range(5)]
    assert all(_reconciles(run) for run in runs), [run.message for run in runs]
    assert {run.quarantined for run in runs} == {runs[0].quarantined}
    items = _items(sessions, status=None)
    assert len(items) == _rejected(gaj_env) and _one_per_row_and_rule(items)
    assert {i.status for i in items} == {"open"}
    # first quarantined by the first run, rejected again by the last
    assert {(i.run_id, i.seen_run) for i in items} == {(runs[0].id, runs[-1].id)}


@pytest.mark.usefixtures("household_resource")
@pytest.mark.parametrize("mode", ["incremental", "full"])
def test_a_run_killed_mid_way_and_the_runs_after_it_leave_one_open_item_per_rejected_row(
        legacy, gaj_registry, sessions, settings, mode):  # noqa: F811
    config = load_adapter(ADAPTER)
    if mode == "full":
        assert _reconciles(run_adapter(sessions, settings, config, full=True))
        kill_a_run(legacy, sessions, settings, 4, "--full")
    else:  # the first run reads every row; the killed one's rows are read again from its checkpoint
        kill_a_run(legacy, sessions, settings, 4)
        resumed = run_adapter(sessions, settings, config)
        assert _reconciles(resumed) and resumed.message.startswith("resumed from run #1")
    after = [run_adapter(sessions, settings, config, full=True) for _ in range(2)]
    assert all(_reconciles(run) for run in after)
    items = _items(sessions, status=None)
    assert len(items) == _rejected(gaj_registry) and _one_per_row_and_rule(items)
    assert {(i.status, i.seen_run) for i in items} == {("open", after[-1].id)}


@pytest.mark.usefixtures("household_resource")
def test_replaying_every_open_item_after_several_runs_replays_each_rejected_row_once(gaj_env, sessions, settings):
    config = load_adapter(ADAPTER)
    for _ in range(3):
        run_adapter(sessions, settings, config, full=True)
    unmapped = _unmapped_sex(sessions)
    fixed = _correct(sessions, settings, unmapped.id, XB=_sex_for(unmapped))
    result = _replay(sessions, settings, adapter=config.name)
    assert len(result.asked) == _rejected(gaj_env) and result.balanced
    assert result.replayed == [fixed.id]


def test_a_replayed_row_the_source_still_holds_stays_closed_at_the_next_run(config, gaj_env, sessions, settings):
    unmapped = _unmapped_sex(sessions)
    _correct(sessions, settings, unmapped.id, XB=_sex_for(unmapped))
    _replay(sessions, settings, [unmapped.id])
    again = run_adapter(sessions, settings, config, full=True)
    assert _reconciles(again)
    assert [i.id for i in _items(sessions, status=None) if i.source_key == unmapped.source_key] == [unmapped.id]
    assert len(_items(sessions)) == _rejected(gaj_env) - 1


def test_a_discarded_row_the_source_still_holds_stays_discarded_at_the_next_run(config, gaj_env, sessions,
                                                                                settings):
    unmapped = _unmapped_sex(sessions)
    _discard(sessions, settings, unmapped.id, "a test person, never registered")
    run_adapter(sessions, settings, config, full=True)
    assert [(i.id, i.status) for i in _items(sessions, status=None)
            if i.source_key == unmapped.source_key] == [(unmapped.id, "discarded")]
    assert len(_items(sessions)) == _rejected(gaj_env) - 1


def _update_source_row(path: Path, key: str, **columns: object) -> None:
    """Change the legacy row of ``key`` and stamp it as changed after every other row."""
    with sqlite3.connect(path) as conn:
        newest = datetime.fromisoformat(conn.execute("SELECT max(GXSJ) FROM HJ_RKXX").fetchone()[0])
        values = {**columns, "GXSJ": str(newest + timedelta(minutes=1))}
        changed = conn.execute(f"UPDATE HJ_RKXX SET {', '.join(f'{c} = ?' for c in values)} "
                               "WHERE trim(GMSFHM) = ?", [*values.values(), key]).rowcount
    assert changed == 1


@pytest.mark.usefixtures("household_resource")
def test_a_row_corrected_at_the_source_resolves_its_open_item_at_the_next_incremental_run(
        legacy, gaj_registry, sessions, settings):  # noqa: F811
    config = load_adapter(ADAPTER)
    run_adapter(sessions, settings, config)
    unmapped = _unmapped_sex(sessions)
    _update_source_row(legacy, unmapped.source_key, XB=_sex_for(unmapped))
    later = run_adapter(sessions, settings, config)
    assert later.mode == "incremental" and _reconciles(later)
    item = _show(sessions, settings, unmapped.id)
    assert item.status == "resolved" and f"run #{later.id} read the row and it maps now" in item.message
    assert len(_items(sessions)) == _rejected(gaj_registry) - 1
    with pytest.raises(Conflict, match="resolved; it cannot be replayed"):
        _replay(sessions, settings, [unmapped.id])


@pytest.mark.usefixtures("household_resource")
def test_a_row_gone_from_the_source_resolves_its_open_item_at_the_next_full_run(
        legacy, gaj_registry, sessions, settings):  # noqa: F811
    config = load_adapter(ADAPTER)
    run_adapter(sessions, settings, config, full=True)
    unmapped = _unmapped_sex(sessions)
    with sqlite3.connect(legacy) as conn:
        conn.execute("DELETE FROM HJ_RKXX WHERE trim(GMSFHM) = ?", (unmapped.source_key,))
    later = run_adapter(sessions, settings, config, full=True)
    assert _reconciles(later)
    item = _show(sessions, settings, unmapped.id)
    assert item.status == "resolved" and f"full run #{later.id} did not find the row" in item.message
    assert len(_items(sessions)) == _rejected(gaj_registry) - 1


@pytest.mark.usefixtures("household_resource")
def test_a_row_that_changes_and_still_fails_refreshes_its_open_item_and_keeps_the_correction(
        legacy, gaj_registry, sessions, settings):  # noqa: F811
    config = load_adapter(ADAPTER)
    run_adapter(sessions, settings, config, full=True)
    unmapped = _unmapped_sex(sessions)
    _correct(sessions, settings, unmapped.id, XB=_sex_for(unmapped))
    _update_source_row(legacy, unmapped.source_key, XB="Q")
    later = run_adapter(sessions, settings, config, full=True)
    item = _show(sessions, settings, unmapped.id)
    assert (item.status, item.row["XB"], item.seen_run, item.run_id) == ("open", "Q", later.id, unmapped.run_id)
    assert "'Q'" in item.message and item.correction == {"XB": _sex_for(unmapped)}
    assert len(_items(sessions)) == _rejected(gaj_registry)


def test_the_database_refuses_a_second_open_item_for_one_source_row(config, sessions):
    item = _unmapped_sex(sessions)
    with sessions() as session:
        stored = session.get(AdapterQuarantine, item.id)
        copy = {c.key: getattr(stored, c.key) for c in AdapterQuarantine.__table__.columns if c.key != "id"}
    with unit_of_work(sessions) as session:  # a closed item of the same row is history: allowed
        session.add(AdapterQuarantine(**{**copy, "status": "replayed"}))
    with pytest.raises(IntegrityError), unit_of_work(sessions) as session:
        session.add(AdapterQuarantine(**copy))


# -- migration 0017: the open items databases hold today, merged -------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def before_0017(request, tmp_path):
    """An empty database migrated to 0016, before one open item per source row."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'before-0017.db'}"
        migrate(url, "0016")
        yield url
        return
    reason = _pg_reachable()
    if reason:
        service_unavailable(reason)
    name = f"govshare_0017_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        conn.execute(text(without_flush_wait(name)))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate(url, "0016")
        yield url
    finally:
        admin.dispose()
        drop_later(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # not waited for: it checkpoints


def _tables(engine) -> tuple[Table, Table]:
    tables = MetaData()
    tables.reflect(engine, only=["sync_run", "adapter_quarantine"])
    return tables.tables["sync_run"], tables.tables["adapter_quarantine"]


def test_the_migration_merges_the_open_items_of_each_source_row_into_the_newest(before_0017):
    engine = make_engine(before_0017)
    runs, items = _tables(engine)
    day = datetime(2026, 11, 20)
    row = {"GMSFHM": "330102199001021234", "XB": "?", "XM": "张伟"}
    keyless = {"GMSFHM": None, "XB": "男", "XM": " "}

    def item(number: int, run: int, key: str, row: dict, status: str = "open", correction=None) -> dict:
        return {"id": number, "run_id": run, "adapter": "gaj-household", "source_key": key, "stage": "map",
                "rule": "code.unmapped", "field": "sex", "message": f"seen by run #{run}", "row": row,
                "correction": correction, "status": status, "created": day + timedelta(days=run)}

    with engine.begin() as conn:
        conn.execute(runs.insert(), [
            {"id": run, "adapter": "gaj-household", "mode": "full", "status": "succeeded",
             "started": day + timedelta(days=run), "read": 0, "loaded": 0, "unchanged": 0, "quarantined": 0,
             "filtered": 0, "deleted": 0, "message": ""} for run in (1, 2, 3)])
        conn.execute(items.insert(), [
            item(1, 1, "330102199001021234", row),  # one source row, rejected by three runs
            item(2, 1, "330102199001021234", row, status="replayed", correction={"XB": "男"}),
            item(3, 2, "330102199001021234", row, correction={"XB": "女"}),
            item(4, 3, "330102199001021234", {**row, "XB": "Q"}),
            item(5, 3, "330102198501011111", row),
            item(6, 1, "", keyless),  # a row without a key: the row itself names it
            item(7, 2, "", keyless),
            item(8, 2, "", {**keyless, "XB": "女"}),
        ])
    migrate(before_0017, "0017")
    runs, items = _tables(engine)
    with engine.connect() as conn:
        after = {entry.id: entry for entry in conn.execute(select(items))}
    merged = after[4]
    assert (merged.status, merged.row["XB"], merged.correction) == ("open", "Q", {"XB": "女"})
    assert (merged.run_id, merged.created, merged.seen_run, merged.seen) == (1, day + timedelta(days=1), 3,
                                                                             day + timedelta(days=3))
    for older in (1, 3):
        assert after[older].status == "resolved" and "the same source row is open as #4" in after[older].message
    assert after[2].status == "replayed" and after[2].message == "seen by run #1"
    assert (after[5].status, after[5].seen_run) == ("open", 3)
    assert [after[n].status for n in (6, 7, 8)] == ["resolved", "open", "open"]
    assert after[6].message.endswith("open as #7")
    with pytest.raises(IntegrityError), engine.begin() as conn:  # the database holds it from now on
        conn.execute(items.insert(), {**merged._asdict(), "id": 9})
    engine.dispose()
