"""Two installations on loopback for federation's benchmark and tests: a platform's folder, database,
settings and ``govshare serve`` process (:class:`Platform`), and a catalogue filled straight into its
database (:func:`fill`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import requests
from sqlalchemy import select

from bench.processes import end
from directory.catalogue import workflow
from registry.db import unit_of_work
from registry.models import CatalogueEntry, CatalogueVersion, Department, InformationItem
from registry.settings import Settings
from server import prepare
from trust.actions import Context
from trust.auth import Caller

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Platform:
    """One installation: its folder (``<folder>/<name>``), database, settings, and its server process."""

    def __init__(self, folder: Path, name: str, **env: str):
        self.folder = folder / name
        self.folder.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("GOVSHARE_")},
                    "GOVSHARE_DB_URL": f"sqlite:///{self.folder / 'govshare.db'}", "GOVSHARE_VAR": str(self.folder),
                    "GOVSHARE_PORT": str(self.port), "GOVSHARE_SCHEDULER": "0", "GOVSHARE_WSS": "require",
                    "GOVSHARE_NODE_DOMAIN": f"{name}.govshare.local", **env}
        self.settings = Settings.from_env(db_url=self.env["GOVSHARE_DB_URL"], var_dir=self.folder, port=self.port,
                                          node_domain=self.env["GOVSHARE_NODE_DOMAIN"], wss_policy="require")
        self.sessions = prepare(self.settings)
        self.process: subprocess.Popen | None = None

    def context(self, caller: Caller | None = None) -> Context:
        return Context(caller or Caller.platform("cli"), self.sessions, replace(self.settings, audit=False))

    def start(self) -> None:
        log = (self.folder / "serve.log").open("a")
        self.process = subprocess.Popen([sys.executable, "-m", "server", "serve", "--no-scheduler"], cwd=ROOT,
                                        env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("govshare serve ended: " + self.log())
            try:
                if requests.get(f"{self.url}/exchange?wsdl", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError("govshare serve did not come up: " + self.log())

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not ended in 30 s."""
        if self.process is not None:
            end(self.process)

    def log(self) -> str:
        path = self.folder / "serve.log"
        return path.read_text() if path.exists() else ""

    def federation(self, command: str) -> subprocess.CompletedProcess:
        """``govshare federation COMMAND`` with this platform's settings."""
        return subprocess.run([sys.executable, "-m", "server", "federation", command], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=120)

    def command(self, *args: str) -> tuple[float, str]:
        started = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "server", *args], cwd=ROOT, env=self.env, capture_output=True,
                             text=True, timeout=1800)
        if run.returncode != 0:
            raise SystemExit(f"govshare {' '.join(args)} failed: {run.stderr}")
        return time.perf_counter() - started, run.stdout.strip()


def fill(sessions, entries: int, provider: str = "wjw") -> list[str]:
    """``entries`` published entries of ``provider``, written straight into the platform's database
    (cataloguing them through the workflow's actions is not what is measured); their codes."""
    now = datetime(2026, 12, 1, 9, 0)
    with unit_of_work(sessions) as session:
        wjw = session.scalar(select(Department).where(Department.code == provider))
        for n in range(1, entries + 1):
            code = f"101002/{n:06d}"
            row = CatalogueEntry(
                resource_code=code, category="1", class_code="101002", sequence=n, name=f"临湖区出生医学证明信息 {n}",
                provider_id=wjw.id, provider_code=wjw.credit_code, provider_unit="妇幼健康科",
                abstract=f"临湖区出生医学证明签发信息, 第 {n} 类。", format_class="接口", format_type="WebService",
                sharing_type="有条件共享", sharing_condition="仅限办理户籍业务使用", sharing_method="接口",
                open_to_public=False, open_condition="", update_cycle="每日", publish_date=date(2026, 12, 1),
                related_codes=[], status="published", status_reason="", wsdl_path="",
                access_point="http://10.20.1.5/birth/service", logical=False, version=4, created=now, modified=now,
                items=[InformationItem(position=1, name="新生儿姓名", data_type="C", length=50),
                       InformationItem(position=2, name="出生日期", data_type="D", length=None)])
            session.add(row)
            session.flush()
            for v, verb in enumerate(("create", "submit", "approve", "publish"), 1):
                session.add(CatalogueVersion(entry_id=row.id, version=v, action=verb,
                                             status=workflow.TRANSITIONS.get(verb, ((), "draft"))[1],
                                             reason="", changed_by="li.na", changed_at=now, snapshot={}))
            if n % 1000 == 0:
                session.flush()
    return [f"101002/{n:06d}" for n in range(1, entries + 1)]
