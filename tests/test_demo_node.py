"""The demo's front-end node (``make demo``): 临江市公安局's node configuration written by the seed,
checked by ``govshare node check``, and one round of ``govshare node run`` taking the waiting
export into its outbox and delivering it, signed with 公安局's certificate, to the seeded centre."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from adapters.demo.node import EXPORT_ROWS, node_folder, seed_node
from registry.models import Department, InputBatch
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
    config = seed_node(demo.sessions, demo.settings)
    assert config == node_folder(demo.settings) / "node.toml"
    waiting = list((config.parent / "outbound" / "hukou").glob("*.csv"))
    assert [p.name for p in waiting] == ["户籍变动-首批.csv"]

    checked = _node("check", str(config))
    assert checked.returncode == 0, checked.stderr
    assert "outbound hukou" in checked.stdout and "gateway  http://" in checked.stdout

    ran = _node("run", str(config), "--once")
    assert ran.returncode == 0, ran.stderr
    status = _node("status", str(config))
    assert f"outbox: 0 batches (0 records) waiting, {EXPORT_ROWS // 100} delivered, 0 refused" in status.stdout, \
        status.stdout + ran.stderr
    with demo.sessions() as session:
        gaj = session.scalar(select(Department.id).where(Department.code == "gaj"))
        taken = session.scalar(select(func.sum(InputBatch.accepted)).where(InputBatch.provider_id == gaj))
    assert taken == EXPORT_ROWS

    assert seed_node(demo.sessions, demo.settings) == config  # seeding again: no second export
    assert not list((config.parent / "outbound" / "hukou").glob("*.csv"))
