"""The demo's front-end node (``make demo``): 临江市公安局's node configuration written by the seed,
checked by ``govshare node check``, and one round of ``govshare node run`` running 公安局's adapter
beside its 户籍 database and taking the waiting export into its outbox, and delivering both, signed
with 公安局's certificate, to the seeded centre; the centre's adapter folder without that adapter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from adapters.demo.node import EXPORT_ROWS, node_folder, seed_node
from adapters.demo.seed import DEPARTMENTS, NODE_ADAPTER, centre_adapters
from adapters.demo_sources import generate_household_registry
from registry.models import Department, InputBatch, SyncRun
from tests.test_demo import worlds  # noqa: F401 - the fixture
from trust.demo import seed_certificates

ROOT = Path(__file__).parents[1]


def _node(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVSHARE_")}
    return subprocess.run([sys.executable, "-m", "server", "node", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=180)


def test_the_demo_node_takes_its_first_export_and_delivers_it_signed(worlds):  # noqa: F811
    demo = worlds("sqlite")
    seed_certificates(demo.sessions, demo.settings)
    legacy = f"sqlite:///{demo.settings.var_dir / 'demo' / 'gaj-legacy-node.db'}"
    registry = generate_household_registry(legacy, 120, seed=7)
    config = seed_node(demo.sessions, demo.settings,
                       adapters={NODE_ADAPTER: (DEPARTMENTS / f"{NODE_ADAPTER}.toml", legacy)})
    assert config == node_folder(demo.settings) / "node.toml"
    waiting = list((config.parent / "outbound" / "hukou").glob("*.csv"))
    assert [p.name for p in waiting] == ["户籍变动-首批.csv"]

    checked = _node("check", str(config))
    assert checked.returncode == 0, checked.stderr
    assert "outbound hukou" in checked.stdout and "gateway  http://" in checked.stdout
    assert f"adapter  {NODE_ADAPTER} (gaj-household.toml)" in checked.stdout

    ran = _node("run", str(config), "--once")
    assert ran.returncode == 0, ran.stderr
    status = _node("status", str(config), "--json")
    report = json.loads(status.stdout)
    run = report["adapters"][NODE_ADAPTER]
    assert run["status"] == "done" and run["read"] == registry.rows, run
    # each row a record, or kept here with its problem, or one of two rows with the same key
    assert run["records"] + run["quarantined"] + registry.counts["duplicate"] == registry.rows
    assert run["quarantined"] > 0
    adapter_batches = -(-run["records"] // 100)
    assert (report["pending_batches"], report["refused_batches"]) == (0, 0), report
    assert report["delivered_batches"] == EXPORT_ROWS // 100 + adapter_batches, report
    with demo.sessions() as session:
        gaj = session.scalar(select(Department.id).where(Department.code == "gaj"))
        taken = session.scalar(select(func.sum(InputBatch.received))
                               .where(InputBatch.provider_id == gaj))
        centre_runs = session.scalar(select(func.count()).select_from(SyncRun).where(SyncRun.adapter == NODE_ADAPTER))
    assert taken == EXPORT_ROWS + run["records"]
    assert centre_runs == 0  # the centre never opened 公安局's database

    centre = centre_adapters(demo.settings, (NODE_ADAPTER,))
    assert sorted(p.name for p in centre.glob("*.toml")) == sorted(
        p.name for p in DEPARTMENTS.glob("*.toml") if p.stem != NODE_ADAPTER)

    assert seed_node(demo.sessions, demo.settings) == config  # seeding again: no second export
    assert not list((config.parent / "outbound" / "hukou").glob("*.csv"))
