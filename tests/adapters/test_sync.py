"""Synchronisation (E5): run locks across processes, delete detection, consistency checks,
checkpoints and resuming after a failed source."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters import monitoring, pipeline, sync
from adapters.config import load_adapter
from adapters.locks import AlreadyRunning
from adapters.mapping import mapper_for
from adapters.pipeline import consistency, core_key, run_adapter
from registry.clock import utcnow
from registry.db import unit_of_work
from registry.errors import SyncError
from registry.models import AuditEntry, CoreRecord, SyncCheckpoint, SyncRun
from tests.adapters.conftest import wait_for_lock_release
from tests.adapters.test_pipeline import ADAPTER, household_resource  # noqa: F401 - a fixture
from tests.conftest import govshare_here
from trust.actions import Context
from trust.auth import Caller

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.usefixtures("household_resource")

HOLD_LOCK = textwrap.dedent("""
    import sys
    from registry.db import make_engine
    from registry.settings import Settings
    from adapters.locks import run_lock
    settings = Settings.from_env(db_url=sys.argv[1], var_dir=sys.argv[2])
    with run_lock(make_engine(settings.db_url), settings, "gaj-household"):
        print("held", flush=True)
        sys.stdin.read()
""")


@pytest.fixture
def legacy(gaj_registry, tmp_path, monkeypatch) -> Path:
    """A copy of the demo 公安局 database this test may change; the adapter file points at it."""
    path = tmp_path / "gaj-copy.db"
    shutil.copy(gaj_registry.url.split(":///", 1)[1], path)
    monkeypatch.setenv("GOVSHARE_GAJ_URL", f"sqlite:///{path}")
    return path


@pytest.fixture
def lock_holder(settings):
    """Another process holding gaj-household's run lock until the test ends."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, settings.db_url, str(settings.var_dir)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert holder.stdout.readline().strip() == "held"
    yield holder
    holder.stdin.close()
    holder.wait(timeout=30)


def _current(sessions) -> dict[str, CoreRecord]:
    with sessions() as session:
        return {r.record_key: r for r in session.scalars(select(CoreRecord).where(CoreRecord.effective_to.is_(None)))}


def _source_rows(path: Path) -> list[tuple[int, str, dict]]:
    """(rowid, core key, row) of each legacy row whose mapping succeeds."""
    config = load_adapter(ADAPTER)
    mapper = mapper_for(config)
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        rows = [dict(r) for r in conn.execute("SELECT rowid AS _rowid, * FROM HJ_RKXX ORDER BY rowid")]
    out = []
    for row in rows:
        rowid = row.pop("_rowid")
        mapped = mapper.map(row)
        if not mapped.problems:
            out.append((rowid, core_key(config, mapped.fields), row))
    return out


def _loaded_keys(path: Path, sessions, count: int) -> list[str]:
    """``count`` core keys that are current in the core and come from exactly one legacy row."""
    current = _current(sessions)
    by_key: dict[str, int] = {}
    for _, key, _ in _source_rows(path):
        by_key[key] = by_key.get(key, 0) + 1
    return [k for k, n in by_key.items() if n == 1 and k in current][:count]


def _delete_source_rows(path: Path, keys: list[str]) -> None:
    rowids = [rowid for rowid, key, _ in _source_rows(path) if key in keys]
    with sqlite3.connect(path) as conn:
        conn.executemany("DELETE FROM HJ_RKXX WHERE rowid = ?", [(r,) for r in rowids])


# -- run lock -------------------------------------------------------------------------------------

def test_a_second_run_while_another_process_runs_fails_at_once(legacy, sessions, settings,
                                                               lock_holder):
    with unit_of_work(sessions) as session:
        session.add(SyncRun(adapter="gaj-household", mode="full", status="running", started=utcnow()))
    with pytest.raises(AlreadyRunning, match=r"gaj-household is already running \(run #1 since "):
        run_adapter(sessions, settings, load_adapter(ADAPTER), full=True)
    with sessions() as session:
        assert session.scalar(select(SyncRun.status).where(SyncRun.id == 1)) == "running"


def test_a_run_left_running_by_a_dead_process_is_marked_interrupted(legacy, sessions, settings):
    with unit_of_work(sessions) as session:
        session.add(SyncRun(adapter="gaj-household", mode="full", status="running", started=utcnow()))
    run = run_adapter(sessions, settings, load_adapter(ADAPTER), full=True)
    assert run.status == "succeeded", run.message
    with sessions() as session:
        stale = session.get(SyncRun, 1)
    assert stale.status == "failed" and "interrupted" in stale.message


def test_the_lock_is_released_when_its_holder_ends(legacy, sessions, settings, lock_holder):
    lock_holder.stdin.close()
    lock_holder.wait(timeout=30)
    assert run_adapter(sessions, settings, load_adapter(ADAPTER), full=True).status == "succeeded"


# -- delete detection -----------------------------------------------------------------------------

def test_a_full_run_deletes_the_keys_gone_from_the_source(legacy, sessions, settings, reading):
    config = load_adapter(ADAPTER)
    first = run_adapter(sessions, settings, config, full=True)
    gone = _loaded_keys(legacy, sessions, 5)
    _delete_source_rows(legacy, gone)
    again = run_adapter(sessions, settings, config, full=True)
    assert again.status == "succeeded", again.message
    assert again.deleted == len(gone) == 5
    assert again.read == again.loaded + again.unchanged + again.quarantined + again.filtered
    current = _current(sessions)
    assert {k for k, r in current.items() if r.deleted} == set(gone)
    assert sum(not r.deleted for r in current.values()) == first.loaded - 5


def test_a_deleted_version_keeps_the_fields_it_had(legacy, sessions, settings):
    config = load_adapter(ADAPTER)
    run_adapter(sessions, settings, config, full=True)
    [key] = _loaded_keys(legacy, sessions, 1)
    before = _current(sessions)[key].fields
    _delete_source_rows(legacy, [key])
    run_adapter(sessions, settings, config, full=True)
    after = _current(sessions)[key]
    assert after.deleted and after.fields == before


def test_an_incremental_run_deletes_nothing(legacy, sessions, settings):
    config = load_adapter(ADAPTER)
    run_adapter(sessions, settings, config, full=True)
    _delete_source_rows(legacy, _loaded_keys(legacy, sessions, 3))
    assert run_adapter(sessions, settings, config).deleted == 0
    assert not any(r.deleted for r in _current(sessions).values())


def test_a_row_that_now_fails_mapping_is_not_deleted(legacy, sessions, settings, reading):
    config = load_adapter(ADAPTER)
    run_adapter(sessions, settings, config, full=True)
    [key] = _loaded_keys(legacy, sessions, 1)
    rowid = next(rowid for rowid, k, _ in _source_rows(legacy) if k == key)
    with sqlite3.connect(legacy) as conn:
        conn.execute("UPDATE HJ_RKXX SET XB = '?' WHERE rowid = ?", (rowid,))
    again = run_adapter(sessions, settings, config, full=True)
    assert again.deleted == 0
    assert not _current(sessions)[key].deleted


def test_a_key_back_in_the_source_is_current_again(legacy, sessions, settings):
    config = load_adapter(ADAPTER)
    run_adapter(sessions, settings, config, full=True)
    [key] = _loaded_keys(legacy, sessions, 1)
    [(_, _, row)] = [r for r in _source_rows(legacy) if r[1] == key]
    _delete_source_rows(legacy, [key])
    run_adapter(sessions, settings, config, full=True)
    with sqlite3.connect(legacy) as conn:
        conn.execute(f"INSERT INTO HJ_RKXX ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                     list(row.values()))
    run_adapter(sessions, settings, config, full=True)
    assert not _current(sessions)[key].deleted


# -- consistency check ----------------------------------------------------------------------------

def test_after_a_full_run_source_and_core_are_consistent(legacy, sessions, settings, reading):
    config = load_adapter(ADAPTER)
    first = run_adapter(sessions, settings, config, full=True)
    report = consistency(sessions, settings, config)
    assert report.consistent, report
    assert report.same == first.loaded


def test_the_check_finds_changed_and_deleted_source_rows(legacy, sessions, settings):
    config = load_adapter(ADAPTER)
    run_adapter(sessions, settings, config, full=True)
    changed, gone = _loaded_keys(legacy, sessions, 2)
    rowid = next(rowid for rowid, k, _ in _source_rows(legacy) if k == changed)
    with sqlite3.connect(legacy) as conn:
        conn.execute("UPDATE HJ_RKXX SET XM = '改名' WHERE rowid = ?", (rowid,))
    _delete_source_rows(legacy, [gone])
    report = consistency(sessions, settings, config)
    assert not report.consistent
    assert (report.differing, report.core_only, report.source_only) == (1, 1, 0)
    assert report.examples["differing"] == [changed] and report.examples["core_only"] == [gone]


def test_the_check_finds_source_rows_never_loaded(legacy, sessions, settings):
    report = consistency(sessions, settings, load_adapter(ADAPTER))
    assert report.source_only > 0 and report.same == 0


def test_sync_check_exits_1_when_inconsistent(legacy, settings, tmp_path):
    env = {"GOVSHARE_DB_URL": settings.db_url, "GOVSHARE_VAR": str(tmp_path),
           "GOVSHARE_GAJ_URL": f"sqlite:///{legacy}", "PATH": "/usr/bin:/bin"}
    check = subprocess.run([sys.executable, "-m", "server", "sync", "check", "gaj-household"],
                           capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert check.returncode == 1, check.stderr
    assert "INCONSISTENT" in check.stdout and "source only" in check.stdout


def test_sync_commands_naming_an_unknown_adapter_are_errors_with_exit_status_2(settings, tmp_path):
    env = {"GOVSHARE_DB_URL": settings.db_url, "GOVSHARE_VAR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    for command in (["history", "nosuch"], ["run", "nosuch", "--no-progress"], ["check", "nosuch"]):
        done = govshare_here("sync", *command, env=env, cwd=ROOT)
        assert done.returncode == 2 and done.stdout == "", command
        assert "no adapter 'nosuch'" in done.stderr and "gaj-household" in done.stderr, command


# -- the actions: audited, as their callers ---------------------------------------------------------

def _platform(sessions, settings, channel: str = "cli") -> Context:
    return Context(Caller.platform(channel), sessions, settings)


def _entries(sessions, operation: str) -> list[AuditEntry]:
    with sessions() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.operation == operation)
                                    .order_by(AuditEntry.seq)))


def test_a_run_through_the_command_line_is_recorded_with_its_resource_and_what_it_read(
        legacy, sessions, settings, household_resource, monkeypatch, capsys):  # noqa: F811
    from server import main

    monkeypatch.setenv("GOVSHARE_VAR", str(settings.var_dir))
    assert main(["--db-url", settings.db_url, "sync", "run", "gaj-household", "--full", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    [entry] = _entries(sessions, "sync.run")
    assert (entry.channel, entry.user, entry.result, entry.resource_code) == ("cli", "console", "ok",
                                                                              household_resource)
    assert entry.record_count > 0 and entry.detail == printed.strip()


def test_the_history_of_an_adapter_whose_file_is_gone_still_lists_its_runs(sessions, settings):
    with unit_of_work(sessions) as session:
        session.add(SyncRun(adapter="retired", mode="full", status="succeeded", started=utcnow(), read=3, loaded=3))
    [run] = sync.history(_platform(sessions, settings), adapter="retired")
    assert (run.adapter, run.read, run.balanced) == ("retired", 3, True)


def test_a_run_whose_department_is_not_registered_is_a_failed_run_monitoring_lists(sessions, settings, tmp_path):
    folder = tmp_path / "adapters"
    folder.mkdir()
    (folder / "unknown-dept.toml").write_text(ADAPTER.read_text(encoding="utf-8").replace(
        'name = "gaj-household"', 'name = "unknown-dept"').replace(
        "11330100002501028W", "11330100002501992L"), encoding="utf-8")
    with pytest.raises(SyncError, match="unknown-dept: .*department 11330100002501992L is not registered"):
        sync.run(_platform(sessions, settings), adapter="unknown-dept", folder=folder)
    [failed] = monitoring.overview(_platform(sessions, settings)).failed
    assert (failed.adapter, failed.status) == ("unknown-dept", "failed") and "not registered" in failed.message
    [entry] = _entries(sessions, "sync.run")
    assert entry.result == "fault:SyncFailed" and "not registered" in entry.detail


# -- checkpoints and a failing source -------------------------------------------------------------

def test_a_failing_source_is_retried_then_the_run_fails_clearly(legacy, sessions, settings,
                                                                monkeypatch, tmp_path, reading):
    monkeypatch.setattr(pipeline, "BACKOFF", 0.01)
    monkeypatch.setenv("GOVSHARE_GAJ_URL", f"sqlite:///{tmp_path}/missing/dir/gaj.db")
    with pytest.raises(pipeline.SourceError, match="the source failed 3 times"):
        run_adapter(sessions, settings, load_adapter(ADAPTER))
    with sessions() as session:
        run = session.scalar(select(SyncRun))
    assert run.status == "failed" and "OperationalError" in run.message and run.read == 0


def test_every_chunk_leaves_a_checkpoint_until_the_run_fails(legacy, sessions, settings,
                                                            monkeypatch):
    monkeypatch.setattr(pipeline, "CHUNK", 500)
    monkeypatch.setattr(pipeline, "BACKOFF", 0.01)
    config = load_adapter(ADAPTER)
    original = pipeline.open_source
    monkeypatch.setattr(pipeline, "open_source", lambda c: _Failing(original(c), after=1200))
    with pytest.raises(pipeline.SourceError):
        run_adapter(sessions, settings, config)
    with sessions() as session:
        checkpoint = session.get(SyncCheckpoint, "gaj-household")
        run = session.get(SyncRun, checkpoint.run_id)
    assert run.status == "failed" and checkpoint.chunk >= 2 and checkpoint.watermark is not None
    assert run.read == run.loaded + run.unchanged + run.quarantined + run.filtered


def test_the_next_run_resumes_from_the_checkpoint(legacy, sessions, settings, monkeypatch):
    monkeypatch.setattr(pipeline, "CHUNK", 500)
    monkeypatch.setattr(pipeline, "BACKOFF", 0.01)
    config = load_adapter(ADAPTER)
    original = pipeline.open_source
    monkeypatch.setattr(pipeline, "open_source", lambda c: _Failing(original(c), after=1200))
    with pytest.raises(pipeline.SourceError):
        run_adapter(sessions, settings, config)
    with sessions() as session:
        watermark = session.get(SyncCheckpoint, "gaj-household").watermark
    monkeypatch.setattr(pipeline, "open_source", original)
    resumed = run_adapter(sessions, settings, config)
    assert resumed.status == "succeeded" and resumed.watermark_from == watermark
    assert "resumed from run #1" in resumed.message
    with sessions() as session:
        assert session.get(SyncCheckpoint, "gaj-household") is None
    assert consistency(sessions, settings, config).consistent


def test_a_source_that_fails_once_is_retried_and_reconciles(legacy, sessions, settings,
                                                            monkeypatch):
    monkeypatch.setattr(pipeline, "CHUNK", 500)
    monkeypatch.setattr(pipeline, "BACKOFF", 0.01)
    config = load_adapter(ADAPTER)
    original, opened = pipeline.open_source, []

    def flaky(c):
        opened.append(c)
        return _Failing(original(c), after=1200) if len(opened) == 1 else original(c)

    monkeypatch.setattr(pipeline, "open_source", flaky)
    run = run_adapter(sessions, settings, config, full=True)
    monkeypatch.setattr(pipeline, "open_source", original)
    uninterrupted = run_adapter(sessions, settings, config, full=True)
    assert run.status == "succeeded" and len(opened) == 2
    assert run.read == uninterrupted.read and run.filtered == uninterrupted.filtered
    assert run.read == run.loaded + run.unchanged + run.quarantined + run.filtered
    assert uninterrupted.loaded == 0


class _Failing:
    """A source whose connection drops after ``after`` rows."""

    def __init__(self, source, after: int) -> None:
        self.source, self.after = source, after

    def rows(self, since=None, chunk=5000):
        from sqlalchemy.exc import OperationalError

        for number, row in enumerate(self.source.rows(since=since, chunk=chunk)):
            if number == self.after:
                raise OperationalError("SELECT", {}, Exception("server closed the connection unexpectedly"))
            yield row

    def close(self) -> None:
        self.source.close()


KILLABLE_RUN = textwrap.dedent("""
    import sys, time
    from adapters import monitoring, pipeline, sync
    pipeline.CHUNK = 200
    submit = pipeline.submit_prepared
    def slow(*args, **kwargs):  # time to be killed between chunks
        time.sleep(0.05)
        return submit(*args, **kwargs)
    pipeline.submit_prepared = slow
    from server import main
    sys.exit(main(["sync", "run", "gaj-household", *sys.argv[1:]]))
""")


def kill_a_run(legacy: Path, sessions, settings, chunks: int, *args: str) -> None:
    """Run ``govshare sync run gaj-household ARGS`` in a process of its own, in chunks of 200
    rows, and kill it with SIGKILL once it has committed ``chunks`` chunks."""
    import os
    import signal
    import time

    env = {"GOVSHARE_DB_URL": settings.db_url, "GOVSHARE_VAR": str(settings.var_dir),
           "GOVSHARE_GAJ_URL": f"sqlite:///{legacy}", "PATH": "/usr/bin:/bin"}
    with sessions() as session:  # a checkpoint left by an earlier killed run must not count
        before = session.scalar(select(SyncRun.id).order_by(SyncRun.id.desc()).limit(1)) or 0
    said = settings.var_dir / "killed-run.txt"
    with said.open("wb") as output:
        victim = subprocess.Popen([sys.executable, "-c", KILLABLE_RUN, *args], env=env, cwd=ROOT, stdout=output,
                                  stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with sessions() as session:
            checkpoint = session.get(SyncCheckpoint, "gaj-household")
            if checkpoint is not None and checkpoint.run_id > before and checkpoint.chunk >= chunks:
                break
        time.sleep(0.02)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL, f"the run finished before it could be killed: {said.read_text()}"
    wait_for_lock_release(sessions, settings, "gaj-household")


@pytest.mark.parametrize("chunks", [1, 4])
def test_a_run_killed_after_committed_chunks_resumes_to_the_state_of_an_uninterrupted_run(
        legacy, sessions, settings, tmp_path, chunks):
    kill_a_run(legacy, sessions, settings, chunks)
    config = load_adapter(ADAPTER)
    resumed = run_adapter(sessions, settings, config)
    assert resumed.status == "succeeded", resumed.message
    assert resumed.message.startswith("resumed from run #1")
    assert consistency(sessions, settings, config).consistent
    check = run_adapter(sessions, settings, config, full=True)  # an uninterrupted run changes nothing more
    assert (check.loaded, check.deleted) == (0, 0)
