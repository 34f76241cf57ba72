"""Background jobs on procrastinate with real ``govshare worker`` processes on one PostgreSQL database:
three workers, four adapter runs queued (three that succeed, one of a resource not in the catalogue) and
one that its adapter file's schedule queues, two
workers killed with SIGKILL in the middle of their runs.  Every run ends succeeded once, its records
in the core once; the killed workers' jobs are found by their missing heartbeat and run again; the
periodic ticks are deferred once each, none missed while workers die; the failing run is tried
``GOVSHARE_JOBS_ATTEMPTS`` times, each wait longer than the one before.

One cluster is started for the module (its set-up is the cost); each test reads what it left."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from adapters.demo_sources import generate_household_registry
from bench.databases import throwaway_database
from directory.bootstrap import bootstrap_node
from registry.db import make_engine, migrate, session_factory, unit_of_work
from registry.models import CoreRecord, JobFailure, JobTick, SyncRun
from registry.settings import Settings
from tests.adapters.test_scheduler import write_adapter
from tests.conftest import PG_ADMIN_URL, _pg_reachable, service_unavailable

ROOT = Path(__file__).resolve().parents[2]
GOOD = ("jobs-a", "jobs-b", "jobs-c")
BROKEN = "jobs-broken"
PLANNED = "jobs-planned"  # an adapter file with a schedule: the periodic plan_sync queues its run
ROWS = 2000
SETTINGS = {"GOVSHARE_JOBS_TICK": "1", "GOVSHARE_JOBS_HEARTBEAT": "1", "GOVSHARE_JOBS_STALLED": "3",
            "GOVSHARE_JOBS_ATTEMPTS": "3", "GOVSHARE_JOBS_CONCURRENCY": "1", "GOVSHARE_UDDI_NOTIFY": "0",
            "GOVSHARE_MIGRATE": "0"}
STARTED = re.compile(r"procrastinate\.worker\.(w\d): Starting job govshare\.run_adapter\[(\d+)\]")


@dataclass
class Cluster:
    sessions: object
    manifests: dict  # adapter -> Manifest of its source
    killed_jobs: set[int]
    window: tuple[float, float]  # workers started; every tick until then worked (Unix time)
    logs: dict[str, str]


def _jobs(sessions, task: str) -> list:
    with sessions() as session:
        return session.execute(text("SELECT id, args, status::text AS status, attempts FROM procrastinate_jobs "
                                    "WHERE task_name = :task ORDER BY id"), {"task": task}).all()


def _events(sessions, job_id: int) -> list[tuple[str, datetime]]:
    with sessions() as session:
        return [tuple(row) for row in session.execute(text(
            "SELECT type::text, at FROM procrastinate_events WHERE job_id = :id ORDER BY id"), {"id": job_id})]


def _wait_for(condition, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from operations.engine import build_app, defer_adapter_run
    from tests.exchange.conftest import _publish

    reason = _pg_reachable()
    if reason:
        service_unavailable(reason)
    tmp = tmp_path_factory.mktemp("jobs")
    with throwaway_database(PG_ADMIN_URL, f"govshare_test_jobs_{uuid.uuid4().hex[:8]}", wait=False) as url:
        migrate(url)
        settings = Settings.from_env(db_url=url, var_dir=tmp, wss_policy="optional")
        engine = make_engine(url)
        sessions = session_factory(engine)
        from directory.accounts import create_user, find_user, register_department
        from directory.demo import credit_code_for

        with unit_of_work(sessions) as session:
            bootstrap_node(session, settings)
            gaj = register_department(session, settings, code="gaj", name="临江市公安局",
                                      credit_code=credit_code_for("00250102"))
            create_user(session, username="gaj", password="x", department=gaj, roles=("cataloguer",))
            create_user(session, username="reviewer", password="x", department=None, roles=("admin", "reviewer"))
            _publish(session, settings, gaj, find_user(session, "gaj"), find_user(session, "reviewer"),
                     "户籍登记信息", "101001002")
        folder = tmp / "adapters"
        folder.mkdir()
        env = {**os.environ, **SETTINGS, "GOVSHARE_DB_URL": url, "GOVSHARE_VAR": str(tmp),
               "GOVSHARE_ADAPTERS": str(folder)}
        logs = {f"w{i}": tmp / f"w{i}.log" for i in range(3)}
        begun = time.time()
        workers = {name: subprocess.Popen([sys.executable, "-m", "server", "worker", "--name", name], env=env,
                                          cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)
                   for name, log in logs.items()}
        try:
            manifests = {}  # the sources and adapter files, made while the workers start
            for seed, name in enumerate(GOOD, start=31):
                manifests[name] = generate_household_registry(f"sqlite:///{tmp / name}.db", ROWS, seed=seed)
                write_adapter(folder, name, None, manifests[name].url)
            manifests[PLANNED] = generate_household_registry(f"sqlite:///{tmp / PLANNED}.db", 200, seed=41)
            write_adapter(folder, PLANNED, "1h", manifests[PLANNED].url)  # never run, so due at once
            broken = write_adapter(folder, BROKEN, None, manifests[GOOD[0]].url)  # a resource not in the catalogue
            broken.write_text(broken.read_text(encoding="utf-8").replace("name:户籍登记信息", "name:不存在的资源"),
                              encoding="utf-8")

            def up() -> bool:
                ended = [name for name, process in workers.items() if process.poll() is not None]
                assert not ended, f"{ended[0]} ended at start: " + logs[ended[0]].read_text(encoding="utf-8")[-2000:]
                with sessions() as session:
                    return session.scalar(text("SELECT count(*) FROM procrastinate_workers")) == len(workers)

            _wait_for(up, 60)  # then the queued runs go one to each worker
            app = build_app(settings)
            with app.open():
                for name in (*GOOD, BROKEN):
                    assert defer_adapter_run(app, name, None)  # never run

            def running() -> dict[int, str]:
                """job -> the worker running it, for the good adapters' jobs, once two workers run one each and
                one of those runs has started reading (its sync_run row open)."""
                doing = {row.id for row in _jobs(sessions, "govshare.run_adapter") if row.status == "doing"
                         and row.args["adapter"] in GOOD}
                with sessions() as session:
                    open_runs = set(session.scalars(select(SyncRun.adapter).where(SyncRun.status == "running")))
                args = {row.id: row.args["adapter"] for row in _jobs(sessions, "govshare.run_adapter")}
                by_job = {int(job): worker for log in logs.values()
                          for worker, job in STARTED.findall(log.read_text(encoding="utf-8"))}
                found = {job: by_job[job] for job in doing if job in by_job}
                mid_run = any(args[job] in open_runs for job in found)
                return found if len(set(found.values())) >= 2 and mid_run else {}

            victims = dict(list(_wait_for(running, 60).items())[:2])
            for worker in victims.values():
                workers[worker].send_signal(signal.SIGKILL)
                workers[worker].wait(10)
            still = {row.id: row.status for row in _jobs(sessions, "govshare.run_adapter")}
            assert all(still[job] == "doing" for job in victims), "the kill came after the run ended"

            def settled() -> bool:
                return all(row.status in ("succeeded", "failed") for row in _jobs(sessions, "govshare.run_adapter"))

            _wait_for(settled, 90)

            def drained() -> float | None:
                """Now, once every tick deferred until a second ago has been worked (the survivor catches up)."""
                now = time.time()
                behind = [row for row in _jobs(sessions, "govshare.audit_checkpoint")
                          if row.args["timestamp"] <= now - 1 and row.status in ("todo", "doing")]
                return None if behind else now - 1

            ended = _wait_for(drained, 30)
            for worker in set(workers) - set(victims.values()):
                workers[worker].send_signal(signal.SIGTERM)
                assert workers[worker].wait(30) == 0
        finally:
            for process in workers.values():
                if process.poll() is None:
                    process.kill()
                    process.wait()
        yield Cluster(sessions, manifests, set(victims), (begun, ended),
                      {name: log.read_text(encoding="utf-8") for name, log in logs.items()})
        engine.dispose()


def test_every_adapter_run_ends_succeeded_once_with_its_records_in_the_core_once(cluster):
    jobs: dict[str, list] = {}
    for row in _jobs(cluster.sessions, "govshare.run_adapter"):
        jobs.setdefault(row.args["adapter"], []).append(row)
    assert sorted(jobs) == sorted((*GOOD, BROKEN, PLANNED))
    assert all(len(jobs[name]) == 1 and jobs[name][0].status == "succeeded" for name in GOOD)
    # the schedule's run: queued by a tick of plan_sync (again by a tick before its run began: that job finds
    # a run newer than the one the plan saw succeeded, and does nothing)
    assert all(row.status == "succeeded" for row in jobs[PLANNED])
    with cluster.sessions() as session:
        for name in (*GOOD, PLANNED):
            statuses = list(session.scalars(select(SyncRun.status).where(SyncRun.adapter == name)))
            assert statuses.count("succeeded") == 1, (name, statuses)
            assert set(statuses) <= {"succeeded", "failed"}  # a killed run is closed as interrupted
        in_core = session.scalar(select(func.count()).select_from(CoreRecord))
        keys = session.scalar(select(func.count(func.distinct(CoreRecord.record_key))))
    assert in_core == keys  # no record loaded twice (a second load would add a version)
    expected = sum(m.rows - sum(m.counts[k] for k in ("duplicate", "unmapped_code", "blank_required", "bad_checksum"))
                   for m in cluster.manifests.values())
    assert keys == expected


def test_the_killed_workers_jobs_were_found_by_heartbeat_and_run_again(cluster):
    for job in cluster.killed_jobs:
        kinds = [kind for kind, _at in _events(cluster.sessions, job)]
        assert kinds.count("started") >= 2 and kinds[-1] == "succeeded", kinds
    recovered = "".join(cluster.logs.values())
    assert re.search(r"job #\d+ \(govshare\.run_adapter\) stalled: its worker sent no heartbeat for 3 s", recovered)


def test_each_periodic_tick_is_deferred_and_worked_once_and_none_is_missed(cluster):
    begun, ended = cluster.window
    jobs = [row for row in _jobs(cluster.sessions, "govshare.audit_checkpoint") if row.args["timestamp"] <= ended]
    by_tick: dict[int, list[int]] = {}
    for row in jobs:
        by_tick.setdefault(row.args["timestamp"], []).append(row.id)
    ticks = sorted(by_tick)
    assert ticks == list(range(ticks[0], ticks[-1] + 1))  # every second, while workers died
    assert ticks[0] <= begun + 15 and ticks[-1] >= ended - 2
    assert all(row.status == "succeeded" for row in jobs)
    with cluster.sessions() as session:
        claims = dict(session.execute(select(JobTick.tick, JobTick.job_id)
                                      .where(JobTick.task == "govshare.audit_checkpoint", JobTick.tick <= ended)).all())
    assert sorted(claims) == ticks and all(claims[tick] in by_tick[tick] for tick in ticks)  # one job did each
    # procrastinate defers a tick again only for a worker a tick behind the others; never three times
    again = [tick for tick, ids in by_tick.items() if len(ids) > 1]
    assert all(len(by_tick[tick]) == 2 for tick in again) and len(again) <= len(ticks) // 4, again


def test_a_failing_job_is_retried_with_growing_waits_then_fails_with_its_error(cluster):
    [job] = [row for row in _jobs(cluster.sessions, "govshare.run_adapter") if row.args["adapter"] == BROKEN]
    assert job.status == "failed"
    events = _events(cluster.sessions, job.id)
    starts = [at for kind, at in events if kind == "started"]
    assert len(starts) == 3  # GOVSHARE_JOBS_ATTEMPTS
    retried = [at for kind, at in events if kind == "deferred_for_retry"]
    scheduled = [at for kind, at in events if kind == "scheduled"]  # the time each retry was queued for
    waits = [round((then - failed).total_seconds()) for failed, then in zip(retried, scheduled, strict=True)]
    assert waits == [2, 4]  # 2 ** attempt seconds
    assert all(start >= then for start, then in zip(starts[1:], scheduled, strict=True))  # none ran early
    with cluster.sessions() as session:
        failures = list(session.scalars(select(JobFailure).where(JobFailure.job_id == job.id)
                                        .order_by(JobFailure.attempt)))
    assert [f.attempt for f in failures] == [1, 2, 3]
    assert all(f.error.startswith("SyncError: ") and "不存在的资源" in f.error for f in failures), failures[0].error
