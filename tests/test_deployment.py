"""The production recipe (docs/deploy.md) as an operator follows it: the example files parse, and
gunicorn loads ``server:application`` - here two gunicorn servers ("machines", two worker processes
each) on one PostgreSQL database migrated once beforehand (GOVSHARE_MIGRATE=0).  Batches go to both in
turn, as a load balancer sends them; one machine is killed with SIGKILL while batches are under way
and the balancer sends the rest (and each batch the dead machine did not answer) to the other.  Every
batch that was answered is in the input tier once, with the receipt its sender got, and a batch sent
again gets that receipt: no answered request is lost, none is taken twice.  Each machine runs a
``govshare worker`` beside its server, killed with it: every tick of the periodic jobs, before and
after the kill, is worked once by the workers left - no job is lost."""

from __future__ import annotations

import configparser
import os
import re
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from lxml import etree
from sqlalchemy import select, text

from bench.processes import DEPLOY, GUNICORN, ROOT, Gunicorn, end
from directory.accounts import create_user, register_department
from directory.demo import credit_code_for
from registry.db import make_engine, migrate, session_factory, unit_of_work
from registry.models import InputBatch
from registry.settings import Settings
from server import _migration_head as _head
from tests.exchange.conftest import _publish
from trust import pki
from xsd import samples
from xsd.batch import build_batch
from xsd.prepared import ENVELOPE_CLOSE, ENVELOPE_OPEN

BATCHES = 40
EX = {"ex": "http://govshare.local/xsd/exchange/1.0"}


def test_the_systemd_units_name_the_entry_point_and_the_settings_file():
    for name, command in (("govshare.service", "gunicorn -c /etc/govshare/gunicorn.conf.py server:application"),
                          ("govshare-worker.service", "govshare worker")):
        unit = configparser.ConfigParser(strict=True, interpolation=None)
        unit.optionxform = str  # systemd's keys are case-sensitive
        unit.read_string((DEPLOY / name).read_text())
        assert {"Unit", "Service", "Install"} <= set(unit.sections()), name
        assert unit["Service"]["ExecStart"].endswith(command), name
        assert unit["Service"]["EnvironmentFile"] == "/etc/govshare/govshare.env"


def test_gunicorn_reads_the_example_settings():
    shown = subprocess.run([str(GUNICORN), "--print-config", "-c", str(DEPLOY / "gunicorn.conf.py"),
                            "server:application"], capture_output=True, text=True, timeout=60, cwd=ROOT,
                           env={**os.environ, "GUNICORN_WORKERS": "3"})
    assert shown.returncode == 0, shown.stderr
    settings = dict(re.findall(r"^(\w+)\s+= (.*)$", shown.stdout, re.M))
    assert settings["workers"] == "3" and settings["worker_class"] == "gthread" and settings["preload_app"] == "False"


def test_the_container_file_and_the_proxy_example_hold_together():
    steps = [line.split(None, 1)[0] for line in (DEPLOY / "Containerfile").read_text().splitlines()
             if line and not line.startswith((" ", "#"))]
    assert steps[0] == "FROM" and steps[-1] == "CMD" and {"RUN", "COPY", "HEALTHCHECK", "USER"} <= set(steps)
    assert '"server:application"' in (DEPLOY / "Containerfile").read_text()
    proxy = (DEPLOY / "nginx.conf").read_text()
    assert proxy.count("{") == proxy.count("}") and "proxy_pass http://govshare;" in proxy
    assert "proxy_next_upstream error timeout;" in proxy  # never a request sent twice to two machines


class Machine(Gunicorn):
    """One machine of the deployment: a gunicorn server (its own process group) loading
    server:application, and a `govshare worker` beside it (docs/deploy/govshare-worker.service)."""

    def __init__(self, env: dict, folder: Path, name: str):
        super().__init__(env, folder / f"{name}.log", workers=2, threads=4)
        with (folder / f"{name}-worker.log").open("w") as log:
            self.worker = subprocess.Popen([sys.executable, "-m", "server", "worker", "--name", name], cwd=ROOT,
                                           env=env, stdout=log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        super().kill()
        self.worker.kill()
        self.worker.wait(timeout=30)

    def stop(self) -> None:
        super().stop()
        end(self.worker)


def test_two_gunicorn_machines_on_one_postgresql_lose_no_answered_batch_when_one_is_killed(new_postgresql_database,
                                                                                             tmp_path):
    postgresql_url = new_postgresql_database
    settings = Settings.from_env(db_url=postgresql_url, var_dir=tmp_path / "var", wss_policy="optional")
    migrate(postgresql_url)  # once, as `govshare db upgrade` at the deployment
    sessions = session_factory(make_engine(postgresql_url))
    from server import prepare

    prepare(settings)
    pki.init_ca(settings)  # /ready wants the CA that WS-Security chains to
    with unit_of_work(sessions) as s:
        gaj = register_department(s, settings, code="gaj", name="临江市公安局",
                                  credit_code=credit_code_for("00250102"))
        sjj = register_department(s, settings, code="sjj", name="临江市数据管理局",
                                  credit_code=credit_code_for("00250101"))
        cataloguer = create_user(s, username="gaj", password="pw", department=gaj, roles=("cataloguer", "provider"))
        reviewer = create_user(s, username="reviewer", password="pw", department=sjj, roles=("reviewer",))
        resource = _publish(s, settings, gaj, cataloguer, reviewer, "人口基本信息(公开项)", "101001003")
        provider = gaj.credit_code
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("GOVSHARE_", "GUNICORN_"))},
           "GOVSHARE_DB_URL": postgresql_url, "GOVSHARE_VAR": str(tmp_path / "var"), "GOVSHARE_MIGRATE": "0",
           "GOVSHARE_WSS": "optional", "GOVSHARE_SCHEDULER": "0", "GOVSHARE_UDDI_NOTIFY": "0",
           # the workers' periodic work every second, a dead worker's jobs taken over after 3 s of silence
           "GOVSHARE_JOBS_TICK": "1", "GOVSHARE_JOBS_HEARTBEAT": "1", "GOVSHARE_JOBS_STALLED": "3"}
    machines = [Machine(env, tmp_path, "a"), Machine(env, tmp_path, "b")]
    try:
        deadline = time.monotonic() + 120
        while not (all(m.ready() for m in machines) and _workers(sessions) == 2):
            logs = "\n".join(m.log.read_text()[-1500:] for m in machines)
            assert time.monotonic() < deadline and all(m.process.poll() is None and m.worker.poll() is None
                                                       for m in machines), logs
            time.sleep(0.3)
        both_working = time.time()
        health = requests.get(f"{machines[0].url}/health", timeout=5)
        assert health.status_code == 200 and health.json() == {"status": "ok"}

        answered: dict[str, str] = {}  # batch id -> the receipt its sender got
        moved: list[int] = []  # batches the dead machine did not answer, sent to the other

        def balance(n: int) -> None:  # the load balancer: in turn, and the next machine when one fails
            receipt = _send(machines[n % 2], _batch(provider, resource, n))
            if receipt is None:
                moved.append(n)
                receipt = _send(machines[1], _batch(provider, resource, n))
            assert receipt is not None and receipt[0] == _batch_id(n), machines[1].log.read_text()[-1500:]
            answered[receipt[0]] = receipt[1]

        with ThreadPoolExecutor(4) as pool:
            sent = [pool.submit(balance, n) for n in range(BATCHES)]
            while len(answered) < BATCHES // 3:
                time.sleep(0.01)
            machines[0].kill()  # the first machine dies with its server's workers and its job worker
            killed = time.time()
            for future in sent:
                future.result()
        assert len(answered) == BATCHES and moved, moved
        # no job lost: every tick of the periodic audit checkpoint, before and after the kill, worked once
        # (a tick's job the dead worker held is run again by the other once its heartbeat is missed)
        until = int(killed) + 2
        deadline = time.monotonic() + 60
        while (ticks := _ticks(sessions, until)) is None:
            assert time.monotonic() < deadline, (tmp_path / "b-worker.log").read_text()[-2000:]
            time.sleep(0.3)
        assert ticks[0] <= both_working + 3 and ticks[-1] == until, ticks
        assert ticks == list(range(ticks[0], until + 1)), ticks

        # /metrics at the machine left: its two workers' counts added up (multi-process mode)
        metrics = requests.get(f"{machines[1].url}/metrics", timeout=10).text
        took = re.search(r'^govshare_http_requests_total\{method="POST",service="/exchange",status="200"\} (\S+)$',
                         metrics, re.M)
        assert took and float(took.group(1)) == BATCHES // 2 + len(moved), metrics[:2000]
        with unit_of_work(sessions) as s:
            kept = dict(s.execute(select(InputBatch.batch_id, InputBatch.receipt_id)).all())
        assert kept == answered  # each answered batch is there once, with the receipt its sender got
        for n in moved:  # sent again: the receipt it got, nothing taken twice
            assert _send(machines[1], _batch(provider, resource, n)) == (_batch_id(n), answered[_batch_id(n)])
        ready = requests.get(f"{machines[1].url}/ready", timeout=5).json()
        assert ready["status"] == "ready" and ready["checks"]["migrations"]["current"] == _head()
    finally:
        for machine in machines:
            machine.stop()


def _workers(sessions) -> int:
    with sessions() as s:
        return s.scalar(text("SELECT count(*) FROM procrastinate_workers"))


def _ticks(sessions, until: int) -> list[int] | None:
    """The ticks of the periodic audit checkpoint up to ``until`` (Unix seconds), once every job of them
    has succeeded and each is claimed by one of its jobs; None while one has still to run."""
    with sessions() as s:
        jobs = s.execute(text("SELECT id, (args->>'timestamp')::bigint AS tick, status::text AS status "
                              "FROM procrastinate_jobs WHERE task_name = 'govshare.audit_checkpoint'")).all()
        claims = dict(s.execute(text("SELECT tick, job_id FROM job_tick WHERE task = 'govshare.audit_checkpoint'"))
                      .all())
    mine = [job for job in jobs if job.tick <= until]
    if not any(job.tick == until for job in mine) or any(job.status != "succeeded" for job in mine):
        return None
    ticks = sorted({job.tick for job in mine})
    assert all(claims.get(tick) in {job.id for job in mine if job.tick == tick} for tick in ticks), (ticks, claims)
    return ticks


def _batch_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n + 1:012d}"


def _batch(provider: str, resource: str, n: int) -> bytes:
    return build_batch(samples.population_records(20, seed=9000 + n), provider_code=provider,
                       resource_code=resource, created=datetime(2026, 12, 6, tzinfo=UTC),
                       batch_id=uuid.UUID(_batch_id(n)))


def _send(machine: Machine, batch: bytes) -> tuple[str, str] | None:
    """(batch id, receipt id) of the machine's answer, or None when it did not answer."""
    body = batch.split(b"?>", 1)[-1] if batch.lstrip().startswith(b"<?xml") else batch
    try:
        r = requests.post(f"{machine.url}/exchange", data=ENVELOPE_OPEN + body + ENVELOPE_CLOSE,
                          headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=60)
    except requests.ConnectionError:  # refused, or cut off while the machine died
        return None
    assert r.status_code == 200, r.text[:500]
    reply = etree.fromstring(r.content)
    return reply.findtext(".//ex:receipt/ex:batchId", namespaces=EX), reply.findtext(".//ex:receipt/ex:receiptId",
                                                                                     namespaces=EX)


def test_health_and_metrics_answer_and_ready_names_what_is_not_ready(tmp_path):
    from sqlalchemy import text
    from werkzeug.test import Client

    from server import build_app, prepare

    settings = Settings.from_env(db_url=f"sqlite:///{tmp_path / 'govshare.db'}", var_dir=tmp_path / "var")
    sessions = prepare(settings)
    client = Client(build_app(settings, sessions))
    with client.get("/health") as health:
        assert health.json == {"status": "ok"}
    not_ready = client.get("/ready")  # WS-Security required, and no CA to chain certificates to
    assert not_ready.status_code == 503 and not_ready.headers["Cache-Control"] == "no-store"
    assert not_ready.json["checks"]["ca"] == {"ok": False, "problem": "no CA: run `govshare pki init`"}
    assert not_ready.json["checks"]["database"]["ok"] and not_ready.json["checks"]["migrations"]["ok"]
    not_ready.close()  # a WSGI server closes an answer once sent: it is counted then
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["Content-Type"].startswith("text/plain; version=")
    assert re.search(r'^govshare_http_requests_total\{method="GET",service="/ready",status="503"\} [1-9]',
                     metrics.text, re.M), metrics.text[:1500]
    assert 'govshare_http_request_seconds_bucket{le="0.005",service="/health"}' in metrics.text
    pki.init_ca(settings)
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json["status"] == "ready", ready.json
    with unit_of_work(sessions) as s:  # the code upgraded, the database not (yet)
        s.execute(text("UPDATE alembic_version SET version_num = '0026'"))
    behind = client.get("/ready").json["checks"]["migrations"]
    assert behind == {"ok": False, "current": "0026", "head": _head()}


def test_metrics_count_the_alerts_by_kind_and_say_when_the_database_does_not_answer(tmp_path):
    """/metrics also gives the platform's state, read from the database at each scrape: every kind of
    alert (0 when it has none), and the database's answering."""
    from datetime import timedelta

    from werkzeug.test import Client

    from governance.alerts import KINDS
    from registry.clock import utcnow
    from registry.models import SyncRun
    from server import build_app, prepare

    settings = Settings.from_env(db_url=f"sqlite:///{tmp_path / 'govshare.db'}", var_dir=tmp_path / "var")
    sessions = prepare(settings)
    client = Client(build_app(settings, sessions))
    scraped = client.get("/metrics").text
    assert re.search(r"^govshare_database_up 1\.0$", scraped, re.M), scraped[-1500:]
    assert all(f'govshare_alerts{{kind="{kind}"}} 0.0' in scraped for kind in KINDS)
    assert "govshare_jobs" not in scraped  # no queue in process
    with unit_of_work(sessions) as s:
        s.add(SyncRun(adapter="gaj-household", mode="incremental", status="failed", started=utcnow(),
                      finished=utcnow() + timedelta(seconds=2), message="源数据库无法连接"))
    assert 'govshare_alerts{kind="adapter"} 1.0' in client.get("/metrics").text

    (tmp_path / "govshare.db").rename(tmp_path / "moved.db")  # the next connection opens an empty database
    sessions.kw["bind"].dispose()
    gone = client.get("/metrics")
    assert gone.status_code == 200 and re.search(r"^govshare_database_up 0\.0$", gone.text, re.M)
    assert "govshare_alerts" not in gone.text and "govshare_http_requests_total" in gone.text


def test_a_server_that_may_not_migrate_refuses_a_database_not_at_its_schema(tmp_path):
    from registry.settings import SettingsError
    from server import prepare

    settings = Settings.from_env(db_url=f"sqlite:///{tmp_path / 'govshare.db'}", var_dir=tmp_path / "var",
                                 migrate=False)
    with pytest.raises(SettingsError, match=r"at schema none, this code needs .*run `govshare db upgrade` once"):
        prepare(settings)
    migrate(settings.db_url)
    prepare(settings)  # once it is: serves


@pytest.mark.parametrize("proxies, recorded", [(0, "127.0.0.1"), (1, "203.0.113.9")])
def test_behind_a_proxy_the_audit_log_names_the_client_and_a_client_cannot_choose_its_address(sqlite_url, tmp_path,
                                                                                             proxies, recorded):
    """GOVSHARE_PROXIES=1: the last X-Forwarded-For hop (the one the proxy appended) is the client; the hop
    a client wrote itself before it is not believed.  Without the setting no header is believed."""
    from sqlalchemy import select
    from werkzeug.test import Client

    from registry.models import AuditEntry
    from server import _platform

    settings = Settings.from_env(db_url=sqlite_url, var_dir=tmp_path / "var", proxies=proxies)
    app, sessions = _platform(settings)
    client = Client(app)
    form = client.get("/portal/login", environ_base={"REMOTE_ADDR": "127.0.0.1"}).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    refused = client.post("/portal/login", data={"username": "nobody", "password": "wrong", "csrf_token": token},
                          headers={"X-Forwarded-For": "198.51.100.66, 203.0.113.9"},
                          environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert refused.status_code == 200 and "登录" in refused.text
    with sessions() as s:
        detail = s.scalars(select(AuditEntry.detail).where(AuditEntry.operation == "portal.login")).one()
    assert f"from {recorded}" in detail and "198.51.100.66" not in detail, detail
