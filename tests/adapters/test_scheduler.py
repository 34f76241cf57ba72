"""The sync scheduler inside the server (E5): due times for intervals and cron expressions,
catching up once after a pause, runs on a real database, skips on a held lock, broken files
and failing sources that do not stop the others, and a prompt shutdown."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters import pipeline
from adapters.config import AdapterConfigError, Schedule, _Checker
from adapters.demo_sources import Manifest, generate_household_registry
from adapters.locks import run_lock
from adapters.schedule import cron_after, load_folder, next_due
from adapters.scheduler import Scheduler, enabled
from registry.clock import utcnow
from registry.db import make_engine, unit_of_work
from registry.models import AuditEntry, SyncRun
from tests.adapters.test_pipeline import household_resource  # noqa: F401 - a fixture
from tests.conftest import free_port

ROOT = Path(__file__).parents[2]
GAJ_FILE = ROOT / "adapters" / "departments" / "gaj-household.toml"
SMALL_ROWS = 300


def schedule(text: str) -> Schedule:
    """A schedule parsed and checked as an adapter file's ``schedule`` is."""
    checker = _Checker(Path("test.toml"), "")
    parsed = checker.schedule(text)
    assert not checker.problems and parsed is not None, checker.problems
    return parsed


@pytest.fixture(scope="session")
def small_registry(tmp_path_factory) -> Manifest:
    """A small demo 公安局 HJ_RKXX (with its dirt) for runs that must be quick."""
    path = tmp_path_factory.mktemp("small-gaj") / "gaj-small.db"
    return generate_household_registry(f"sqlite:///{path}", SMALL_ROWS, seed=11)


@pytest.fixture
def folder(tmp_path) -> Path:
    path = tmp_path / "adapters"
    path.mkdir()
    return path


def write_adapter(folder: Path, name: str, schedule_text: str | None, url: str) -> Path:
    """The demo 公安局 adapter file under another name, schedule and source URL."""
    text = GAJ_FILE.read_text(encoding="utf-8")
    text = text.replace('name = "gaj-household"', f'name = "{name}"')
    text = text.replace('schedule = "15m"', f'schedule = "{schedule_text}"' if schedule_text else "")
    text = re.sub(r'^url = .*$', f'url = "{url}"', text, count=1, flags=re.M)
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def runs(sessions, adapter: str | None = None) -> list[SyncRun]:
    with sessions() as session:
        query = select(SyncRun).order_by(SyncRun.id)
        if adapter is not None:
            query = query.where(SyncRun.adapter == adapter)
        return list(session.scalars(query))


def wait_for(condition, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


# -- due times ------------------------------------------------------------------------------------

NOON = datetime(2024, 6, 1, 4, 0)  # UTC: 12:00 China time, a Saturday


def test_an_interval_is_due_its_length_after_the_last_run_started():
    assert next_due(schedule("15m"), NOON, NOON) == NOON + timedelta(minutes=15)
    assert next_due(schedule("30s"), NOON, NOON + timedelta(seconds=10)) == NOON + timedelta(seconds=30)


def test_an_interval_adapter_never_run_is_due_at_once():
    assert next_due(schedule("1d"), None, NOON) == NOON


def test_after_a_long_pause_an_interval_is_due_once_not_once_per_missed_slot():
    last = NOON - timedelta(days=3)
    due = next_due(schedule("15m"), last, NOON)
    assert due == last + timedelta(minutes=15) < NOON  # overdue: runs now
    assert next_due(schedule("15m"), NOON, NOON) > NOON  # and after that run, not again until its interval


def test_cron_is_read_in_china_time():
    # 02:00 China time is 18:00 UTC the day before
    assert cron_after(schedule("0 2 * * *"), NOON) == datetime(2024, 6, 1, 18, 0)


def test_cron_is_due_strictly_after_the_last_run():
    assert cron_after(schedule("*/15 * * * *"), datetime(2024, 6, 1, 4, 15)) == datetime(2024, 6, 1, 4, 30)
    assert cron_after(schedule("*/15 * * * *"), datetime(2024, 6, 1, 4, 14, 59)) == datetime(2024, 6, 1, 4, 15)


def test_cron_weekdays_and_sunday_as_0_or_7():
    monday_9 = datetime(2024, 6, 3, 1, 0)  # 09:00 China time on Monday 3 June
    assert cron_after(schedule("0 9 * * 1-5"), NOON) == monday_9
    sunday_9 = datetime(2024, 6, 2, 1, 0)
    assert cron_after(schedule("0 9 * * 0"), NOON) == sunday_9 == cron_after(schedule("0 9 * * 7"), NOON)


def test_cron_with_day_of_month_and_day_of_week_is_due_on_either():
    # Vixie cron: both restricted -> the 15th, or any Monday, whichever comes first
    assert cron_after(schedule("0 9 15 * 1"), NOON) == datetime(2024, 6, 3, 1, 0)
    # day of week unrestricted -> only the 15th
    assert cron_after(schedule("0 9 15 * *"), NOON) == datetime(2024, 6, 15, 1, 0)


def test_cron_across_months_and_years():
    assert cron_after(schedule("0 0 1 1 *"), NOON) == datetime(2024, 12, 31, 16, 0)
    assert cron_after(schedule("0 0 29 2 *"), NOON) == datetime(2028, 2, 28, 16, 0)


def test_a_cron_expression_no_date_matches_is_never_due():
    assert cron_after(schedule("0 0 31 2 *"), NOON) is None


def test_a_cron_adapter_never_run_waits_for_its_next_time():
    assert next_due(schedule("0 2 * * *"), None, NOON) == datetime(2024, 6, 1, 18, 0)


def test_after_a_pause_a_cron_adapter_is_due_at_the_first_missed_time_only():
    last = datetime(2024, 5, 20, 18, 5)  # ran on 21 May at 02:05 China time, then the server was down
    assert next_due(schedule("0 2 * * *"), last, NOON) == datetime(2024, 5, 21, 18, 0)
    assert next_due(schedule("0 2 * * *"), NOON, NOON) == datetime(2024, 6, 1, 18, 0)


def test_the_environment_turns_the_scheduler_off():
    assert enabled({}) and enabled({"GOVSHARE_SCHEDULER": "1"})
    assert not any(enabled({"GOVSHARE_SCHEDULER": v}) for v in ("0", "false", "off", "no"))


def test_a_folder_loads_its_good_files_and_lists_the_problems_of_the_others(folder, small_registry):
    write_adapter(folder, "gaj-a", "1h", small_registry.url)
    write_adapter(folder, "gaj-b", "every day", small_registry.url)
    (folder / "gaj-c.toml").write_text(GAJ_FILE.read_text(encoding="utf-8").replace(
        'name = "gaj-household"', 'name = "gaj-a"'), encoding="utf-8")
    configs, errors = load_folder(folder)
    assert [c.name for c in configs] == ["gaj-a"]
    assert [(e.path.name, e.where) for e in errors] == [("gaj-b.toml", "line 10, schedule"), ("gaj-c.toml", "name")]
    assert all(isinstance(e, AdapterConfigError) for e in errors)


# -- the scheduler against a real database ------------------------------------------------------

@pytest.fixture
def scheduler(request, sessions, settings, folder):
    """Schedulers over ``folder`` on the test database (with 公安局's resource published), stopped at the end."""
    request.getfixturevalue("household_resource")
    started: list[Scheduler] = []

    def make(poll: float = 0.2) -> Scheduler:
        made = Scheduler(sessions, settings, folder, poll=poll)
        started.append(made)
        return made

    yield make
    for made in started:
        assert made.stop(timeout=30)


def test_the_thread_runs_a_due_adapter_and_records_a_succeeded_run(scheduler, sessions, folder, small_registry):
    write_adapter(folder, "gaj-small", "1h", small_registry.url)
    thread = scheduler().start()
    [run] = wait_for(lambda: [r for r in runs(sessions, "gaj-small") if r.status != "running"])
    assert run.status == "succeeded", run.message
    assert run.mode == "incremental" and run.read == SMALL_ROWS
    time.sleep(0.5)  # several more ticks: the next run is an hour away
    assert len(runs(sessions, "gaj-small")) == 1
    assert thread.running


def test_a_scheduled_run_is_recorded_as_the_platforms_with_channel_job(scheduler, sessions, folder, small_registry):
    write_adapter(folder, "gaj-small", "1h", small_registry.url)
    scheduler().tick()
    [run] = runs(sessions, "gaj-small")
    with sessions() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.operation == "sync.run")).all()
    assert (entry.channel, entry.user, entry.result, entry.record_count) == ("job", "platform", "ok", run.read)
    assert entry.detail.startswith(f"#{run.id} gaj-small incremental succeeded")


def test_an_overdue_adapter_runs_once_after_a_restart(scheduler, sessions, folder, small_registry):
    write_adapter(folder, "gaj-small", "15m", small_registry.url)
    with unit_of_work(sessions) as session:  # the last run, three days before the server came back
        started = utcnow() - timedelta(days=3)
        session.add(SyncRun(adapter="gaj-small", mode="incremental", status="succeeded", started=started,
                            finished=started + timedelta(seconds=5)))
    made = scheduler()
    made.tick()
    made.tick()
    made.tick()
    assert [r.status for r in runs(sessions, "gaj-small")] == ["succeeded", "succeeded"]


def test_a_held_run_lock_makes_the_scheduler_skip_without_error(scheduler, sessions, settings, folder,
                                                                small_registry, caplog):
    write_adapter(folder, "gaj-small", "1h", small_registry.url)
    made = scheduler()
    engine = make_engine(settings.db_url)
    try:
        with caplog.at_level(logging.INFO, logger="adapters.scheduler"), run_lock(engine, settings, "gaj-small"):
            assert made.tick() > 0
            made.tick()  # the skipped attempt counts: not tried again before its next due time
    finally:
        engine.dispose()
    assert runs(sessions, "gaj-small") == []
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert skipped == ["sync scheduler: gaj-small skipped: gaj-small is already running"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_two_schedulers_on_one_database_run_a_due_adapter_once(scheduler, sessions, folder, small_registry):
    write_adapter(folder, "gaj-small", "1h", small_registry.url)
    first, second = scheduler(), scheduler()
    first.start()
    second.start()
    wait_for(lambda: [r for r in runs(sessions, "gaj-small") if r.status == "succeeded"])
    time.sleep(1.0)
    assert [r.status for r in runs(sessions, "gaj-small")] == ["succeeded"]
    assert first.running and second.running


def test_a_broken_file_and_a_failing_source_do_not_stop_the_others(scheduler, sessions, folder, small_registry,
                                                                    tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(pipeline, "BACKOFF", 0.0)
    write_adapter(folder, "a-down", "1h", f"sqlite:///{tmp_path}/no-such-folder/legacy.db")
    write_adapter(folder, "b-broken", "every so often", small_registry.url)
    write_adapter(folder, "c-good", "1h", small_registry.url)
    made = scheduler()
    with caplog.at_level(logging.INFO, logger="adapters.scheduler"):
        made.tick()
        made.tick()
    assert [r.status for r in runs(sessions, "a-down")] == ["failed"]
    assert "the source failed 3 times" in runs(sessions, "a-down")[0].message
    assert [r.status for r in runs(sessions, "c-good")] == ["succeeded"]
    reports = [r.getMessage() for r in caplog.records if "b-broken.toml" in r.getMessage()]
    assert len(reports) == 1  # reported once, not at every tick
    assert "line 10, schedule" in reports[0] and "'every so often' is neither an interval" in reports[0]


def test_stop_ends_an_idle_thread_promptly(scheduler, folder, small_registry):
    write_adapter(folder, "gaj-manual", None, small_registry.url)  # no schedule: never due
    made = scheduler(poll=30.0).start()
    time.sleep(0.2)
    begun = time.monotonic()
    assert made.stop(timeout=5)
    assert time.monotonic() - begun < 1.0
    assert not made.running


@pytest.mark.usefixtures("household_resource")
def test_stop_ends_a_run_between_chunks_and_the_next_run_resumes(sessions, settings, folder, small_registry,
                                                                 monkeypatch):
    monkeypatch.setattr(pipeline, "CHUNK", 20)
    first_chunk = threading.Event()

    class Paused(Scheduler):
        """Holds the run after its first committed chunk until the test has asked it to stop."""

        def _between_chunks(self, tally):
            first_chunk.set()
            self._stop.wait(10)
            super()._between_chunks(tally)

    write_adapter(folder, "gaj-small", "1h", small_registry.url)
    made = Paused(sessions, settings, folder, poll=0.2).start()
    assert first_chunk.wait(30)
    begun = time.monotonic()
    assert made.stop(timeout=10)
    assert time.monotonic() - begun < 2.0
    [stopped] = runs(sessions, "gaj-small")
    assert stopped.status == "failed" and "shutting down" in stopped.message
    assert 0 < stopped.read < SMALL_ROWS
    resumed = pipeline.run_adapter(sessions, settings, made.configs()[0])
    assert resumed.status == "succeeded" and resumed.message.startswith(f"resumed from run #{stopped.id}")


# -- wiring: govshare serve and govshare sync status ----------------------------------------------

@pytest.mark.usefixtures("household_resource")
def test_serve_runs_the_scheduler_and_stops_it_on_sigterm(sessions, settings, folder, small_registry):
    write_adapter(folder, "gaj-small", "1h", small_registry.url)
    # in process on PostgreSQL too (there it is otherwise jobs for `govshare worker`: tests/operations)
    env = {**os.environ, "GOVSHARE_DB_URL": settings.db_url, "GOVSHARE_VAR": str(settings.var_dir),
           "GOVSHARE_ADAPTERS": str(folder), "GOVSHARE_PORT": str(free_port()), "GOVSHARE_JOBS": "inprocess"}
    env.pop("GOVSHARE_SCHEDULER", None)
    server = subprocess.Popen([sys.executable, "-m", "server", "serve"], env=env, cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: [r for r in runs(sessions, "gaj-small") if r.status == "succeeded"], timeout=60)
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode == 0, err
    assert f"sync scheduler: adapter files in {folder}" in out
    assert "sync scheduler: gaj-small run #1 incremental succeeded" in err
    assert "sync scheduler stopped" in err


@pytest.mark.usefixtures("household_resource")
def test_sync_status_shows_each_schedule_and_next_due_time(sessions, settings, folder, small_registry, monkeypatch,
                                                           capsys):
    from server import main

    write_adapter(folder, "gaj-cron", "0 2 * * *", small_registry.url)
    write_adapter(folder, "gaj-every", "15m", small_registry.url)
    write_adapter(folder, "gaj-manual", None, small_registry.url)
    write_adapter(folder, "gaj-typo", "15 minutes", small_registry.url)
    with unit_of_work(sessions) as session:
        session.add(SyncRun(adapter="gaj-every", mode="incremental", status="succeeded",
                            started=datetime(2024, 6, 1, 4, 0), finished=datetime(2024, 6, 1, 4, 1)))
    monkeypatch.setenv("GOVSHARE_ADAPTERS", str(folder))
    monkeypatch.setenv("GOVSHARE_VAR", str(settings.var_dir))
    assert main(["--db-url", settings.db_url, "sync", "status"]) == 2
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert re.fullmatch(r"gaj-cron: cron '0 2 \* \* \*' \(China time\), next due \d{4}-\d\d-\d\d 18:00:00Z "
                        r"\(\d{4}-\d\d-\d\d 02:00:00 China time\)", lines[0])
    assert lines[1] == "  never run"
    assert lines[2] == ("gaj-every: every 15m, next due 2024-06-01 04:15:00Z (2024-06-01 12:15:00 China time), "
                        "overdue: the server's scheduler runs it at its next tick")
    assert lines[3].startswith("  #1 gaj-every incremental succeeded  read 0 = loaded 0")
    assert lines[4:] == ["gaj-manual: no schedule (runs only by hand)", "  never run"]
    assert "gaj-typo.toml: line 10, schedule: '15 minutes' is neither an interval" in err
