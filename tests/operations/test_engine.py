"""Where background work runs and how its schedule is read: GOVSHARE_JOBS from the database URL
(procrastinate on PostgreSQL, in process elsewhere), refused where it cannot work, the periodic
tick as procrastinate's cron, and the commands that say which engine to use."""

from __future__ import annotations

import pytest

from operations import engine
from operations.engine import build_app, conninfo, every
from registry.passes import TASK_NAMES
from registry.settings import Settings, SettingsError

PG = "postgresql+psycopg://govshare:secret@db.example.cn:5433/govshare"


def test_the_engine_follows_the_database_unless_set(monkeypatch):
    monkeypatch.delenv("GOVSHARE_JOBS", raising=False)
    assert Settings.from_env(db_url=PG).job_engine == "procrastinate"
    assert Settings.from_env(db_url="sqlite:///var/govshare.db").job_engine == "inprocess"
    monkeypatch.setenv("GOVSHARE_JOBS", "inprocess")
    assert Settings.from_env(db_url=PG).job_engine == "inprocess"


@pytest.mark.parametrize(("value", "said"), [
    ("celery", "GOVSHARE_JOBS='celery' is not a job engine: set it to one of inprocess, procrastinate"),
    ("procrastinate", "GOVSHARE_JOBS=procrastinate needs PostgreSQL"),
])
def test_an_engine_that_cannot_work_is_refused_with_what_to_set(monkeypatch, value, said):
    monkeypatch.setenv("GOVSHARE_JOBS", value)
    with pytest.raises(SettingsError, match=said.replace("(", r"\(")):
        Settings.from_env(db_url="sqlite:///var/govshare.db")


@pytest.mark.parametrize(("seconds", "cron", "then"), [
    (1, "* * * * * */1", [1, 2, 3]), (30, "* * * * * */30", [30, 60, 90]), (300, "*/5 * * * *", [300, 600, 900]),
    (7200, "0 */2 * * *", [7200, 14400, 21600]),
])
def test_a_tick_is_a_cron_expression_that_comes_round_every_period(seconds, cron, then):
    from croniter import croniter

    assert every(seconds) == cron
    ticks = croniter(cron, 0)  # from midnight, 1 January 1970 (UTC)
    assert [int(ticks.get_next(float)) for _ in then] == then


@pytest.mark.parametrize("seconds", [0, 7, 90, 25200])
def test_a_tick_no_clock_repeats_is_refused(seconds):
    with pytest.raises(SettingsError, match=f"GOVSHARE_JOBS_TICK={seconds} is not a period a clock repeats"):
        every(seconds)


def test_the_queue_connects_with_libpq_s_url_of_the_platform_s_database():
    assert conninfo(PG) == "postgresql://govshare:secret@db.example.cn:5433/govshare"
    with pytest.raises(SettingsError, match="procrastinate's queue needs PostgreSQL, not sqlite"):
        conninfo("sqlite:///var/govshare.db")


def test_serve_without_http_on_the_queue_names_the_worker():
    import server

    with pytest.raises(SettingsError, match="run `govshare worker` instead of `govshare serve --no-http`"):
        server.serve(Settings(db_url=PG), http=False)


def test_the_worker_on_sqlite_says_the_work_runs_in_the_server(sqlite_url, tmp_path, monkeypatch, capsys):
    import server

    monkeypatch.delenv("GOVSHARE_JOBS", raising=False)
    monkeypatch.setenv("GOVSHARE_VAR", str(tmp_path))
    assert server.main(["--db-url", sqlite_url, "worker"]) == 2
    assert "with inprocess jobs the background work runs inside `govshare serve`" in capsys.readouterr().err


def test_the_nightly_retention_is_a_job_and_deletes_the_operational_records_past_their_days(sqlite_url, tmp_path):
    """On procrastinate a nightly periodic job; in process the serve's housekeeper loop calls the same pass.  It
    deletes the read 站内消息 past theirs too, never an unread one."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from directory.accounts import create_user
    from operations import tasks
    from operations.engine import RETAIN, build_app
    from registry.db import make_engine, session_factory, unit_of_work
    from registry.models import Notice, RequestRecord
    from registry.request_log import clock_ms

    queue = build_app(Settings(db_url=PG))
    assert RETAIN in queue.tasks and any(p.task.name == RETAIN and p.periodic_id == "nightly"
                                         for p in queue.periodic_registry.periodic_tasks.values())
    settings = Settings.from_env(db_url=sqlite_url, var_dir=tmp_path, monitoring_days=90)
    engine = make_engine(sqlite_url)
    sessions = session_factory(engine)
    now = clock_ms()
    with unit_of_work(sessions) as session:
        for age_days in (91, 89):
            started = now - age_days * 86_400_000
            session.add(RequestRecord(started_ms=started, ended_ms=started + 5, duration_ms=5, service="/exchange",
                                      operation=f"aged{age_days}"))
        user = create_user(session, username="gaj", password="x", department=None, roles=("cataloguer",))
        written = datetime.now(UTC).replace(tzinfo=None)
        aged = (("read, old", 181, True), ("read, recent", 179, True), ("unread, old", 400, False))
        for text, age_days, read in aged:
            at = written - timedelta(days=age_days)
            session.add(Notice(user_id=user.id, subject="entry", ref="101001/000001", text=text, actor="reviewer",
                               created=at, read_at=at if read else None))
    assert tasks.retention(sessions, settings) == ("deleted 1 operational records older than 90 days and 1 read "
                                                   "notices older than 180 days")
    with sessions() as session:
        assert session.scalars(select(RequestRecord.operation)).all() == ["aged89"]
        assert sorted(session.scalars(select(Notice.text))) == ["read, recent", "unread, old"]
    engine.dispose()


def test_every_task_of_the_queue_has_a_name_on_the_jobs_page():
    app = build_app(Settings.from_env(db_url="postgresql+psycopg://postgres@127.0.0.1:5432/none", jobs="procrastinate"))
    ours = {name for name in app.tasks if name.startswith("govshare.")}
    assert ours and ours <= set(TASK_NAMES)
    tasks = (engine.SYNC, engine.PLAN, engine.NOTIFY, engine.CHECKPOINT, engine.FEDERATE, engine.STALLED, engine.PRUNE,
             engine.RETAIN, engine.REMIND, engine.SUMMARISE)
    assert set(tasks) == set(TASK_NAMES)
    periodic = app.periodic_registry.periodic_tasks.values()
    assert any(p.task.name == engine.SUMMARISE and p.periodic_id == "hourly" for p in periodic)
