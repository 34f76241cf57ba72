"""公安局's own adapter file (adapters/departments/gaj-household.toml) run at its node against its
户籍 database (HJ_RKXX), the batches through the outbox to a centre requiring WS-Security; and
the database cut off in the middle of a run (a TCP proxy of the test's own in front of
PostgreSQL): the run fails after its retries, the next one reads again from the kept watermark,
and every person reaches the centre's core once."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.demo_sources import generate_household_registry
from registry.models import CoreRecord
from tests.node.test_heartbeat import _listed
from tests.node.test_outbox import Node
from tests.trust.conftest import world  # noqa: F401 - the fixture

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _adapter_node(world, folder: Path, source: str, batch_size: int = 25) -> Node:  # noqa: F811
    node = Node(world, folder, batch_size=batch_size)
    adapters = folder / "adapters"
    adapters.mkdir()
    shutil.copy(ROOT / "adapters" / "departments" / "gaj-household.toml", adapters)
    node.config.write_text(node.config.read_text(encoding="utf-8") + (
        f'\n[[adapter]]\nfile = "adapters/gaj-household.toml"\nresource = "{world.resource}"\n'
        "interval = 1\nattempts = 2\nbackoff = 0.3\n"), encoding="utf-8")
    node.source = source
    return node


def _core(world) -> int:  # noqa: F811
    """Current people in the centre's core from 公安局 (the world's own person aside)."""
    with world.sessions() as session:
        return session.scalar(select(func.count()).select_from(CoreRecord).where(
            CoreRecord.base == "population", CoreRecord.effective_to.is_(None))) - 1


def _runs(node: Node) -> list[tuple]:
    with sqlite3.connect(node.folder / "node.db") as db:
        return db.execute("select status, records, batches, error from adapter_runs order by id").fetchall()


def test_the_departments_adapter_runs_at_its_node_and_its_batches_reach_the_centre(world, tmp_path):  # noqa: F811
    source = f"sqlite:///{tmp_path / 'gaj-legacy.db'}"
    generate_household_registry(source, 120, seed=7, dirt={})  # not the world's seed 5
    node = _adapter_node(world, tmp_path, source)
    node.config.write_text(node.config.read_text(encoding="utf-8").replace(
        'ca = "ca.pem"\n', 'ca = "ca.pem"\nheartbeat = 0.5\n'), encoding="utf-8")
    checked = node.command("check", str(node.config))
    assert checked.returncode == 0 and "adapter  gaj-household (gaj-household.toml)" in checked.stdout, checked.stderr
    node.start(GOVSHARE_GAJ_URL=source)
    try:
        node.wait_until(lambda: _core(world) == 120, "the 120 people in the centre's core")
        node.wait_until(lambda: node.status()["pending_batches"] == 0, "the outbox empty")
        first = _runs(node)[0]
        assert first[:3] == ("done", 120, 5) and first[3] is None
        node.wait_until(lambda: any(a.status == "done" for n in _listed(world) for a in n.adapters),
                        "the adapter's run in the node's heartbeat")
        [seen] = _listed(world)
        [adapter] = seen.adapters  # the centre sees which adapters run at the node, and how they went
        assert (adapter.name, adapter.resource_code, adapter.error) == ("gaj-household", world.resource, "")
        assert adapter.records in (0, 120) and adapter.last_run is not None and seen.alerts == ()
        time.sleep(2.5)  # later runs read only what changed since the watermark (and the overlap)
    finally:
        node.kill()
    statuses = [status for status, *_ in _runs(node)]
    assert "failed" not in statuses and statuses.count("running") <= 1 and _core(world) == 120  # the kill may cut one


def test_the_department_database_cut_off_mid_run_fails_the_run_and_loses_nothing(world, tmp_path,  # noqa: F811
                                                                                  switched_database):
    switch, through, direct = switched_database
    generate_household_registry(direct, 3000, seed=6, dirt={})
    node = _adapter_node(world, tmp_path, through, batch_size=100)
    node.start(GOVSHARE_GAJ_URL=through)
    try:
        node.wait_until(lambda: node.status()["pending_batches"] + node.status()["delivered_batches"] >= 1,
                        "the run's first batch in the outbox")
        switch.off()
        node.wait_until(lambda: any(r[0] == "failed" for r in _runs(node)), "the run failed after its retries")
        failed = next(r for r in _runs(node) if r[0] == "failed")
        assert failed[3] and "the source failed 2 times" in failed[3]
        switch.on = True
        node.wait_until(lambda: _core(world) == 3000, "all 3,000 people in the core", timeout=180)
        node.wait_until(lambda: node.status()["pending_batches"] == 0, "the outbox empty")
    finally:
        node.kill()
    runs = _runs(node)
    assert runs[-1][0] in ("done", "running") and any(r[0] == "done" and r[1] == 3000 for r in runs)
