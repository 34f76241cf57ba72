"""The node's heartbeat (issue 18, 运维): 公安局's node, a real process, reports its outbox, its
subscriptions and its certificate to the centre (ReportNodeStatus, signed); the centre lists its
nodes with their state - 正常, 失联 after five silent minutes, 积压 when batches wait for half an
hour or were refused, 证书将到期 - on the portal's 前置节点 page, worst first."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from governance import nodes
from registry.errors import NotPermitted
from registry.models import Department
from tests.conftest import as_user
from tests.node.test_outbox import Node, _export
from tests.portal.conftest import Browser
from tests.trust.conftest import world  # noqa: F401 - the fixture
from trust.actions import Context
from trust.auth import Caller

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _listed(world):  # noqa: F811
    return nodes.listing(as_user(world.sessions, world.settings, "reviewer"))


def test_a_running_node_reports_and_the_centre_lists_it_with_its_state(world, tmp_path):  # noqa: F811
    node = Node(world, tmp_path)
    node.config.write_text(node.config.read_text(encoding="utf-8").replace('ca = "ca.pem"\n',
                                                                           'ca = "ca.pem"\nheartbeat = 0.5\n'),
                           encoding="utf-8")
    _export(node.drop / "变动.csv", 15, seed=131)
    node.start()
    try:
        node.wait_until(lambda: node.status()["delivered_batches"] == 2, "the file delivered")
        node.wait_until(lambda: any(n.last_receipt is not None and not n.pending_batches and n.reports >= 2
                                    for n in _listed(world)),
                        "a second heartbeat, after the delivery")  # (the first may come after it: a busy machine)
    finally:
        node.kill()
    [seen] = _listed(world)
    assert (seen.department_code, seen.state, seen.refused_batches, seen.alerts) == ("gaj", "ok", 0, ())
    assert seen.reports >= 2 and seen.version.startswith("govshare-node")
    assert seen.certificate_not_after is not None
    assert seen.certificate_not_after > datetime.now(UTC).replace(tzinfo=None)

    later = nodes.listing(as_user(world.sessions, world.settings, "reviewer",
                                  now=seen.reported_at + timedelta(minutes=6)))
    assert later[0].state == "silent" and later[0].alerts[0].startswith("已 6 分钟未报告心跳")

    portal = Browser(world.url)
    signed_in = portal.login("reviewer", "x")
    assert signed_in.status_code == 200, signed_in.text[:300]
    page = portal.get("/nodes")
    assert page.status_code == 200 and "前置节点" in page.text
    row = re.search(r'<tr class="node-ok">(.*?)</tr>', page.text, re.S).group(1)
    assert "临江市公安局" in row and "正常" in row and "0 批 / 0 条待发" in row


def _node_caller(world, code: str) -> Context:  # noqa: F811
    """A department's node as the exchange's transport makes its caller: the certificate's department."""
    with world.sessions() as session:
        department = session.scalar(select(Department).where(Department.code == code))
        caller = Caller.of_department(department, "soap", certificate_serial="5A17")
    return Context(caller, world.sessions, world.settings)


def test_a_backlog_refusals_and_a_certificate_near_its_end_are_alerts_worst_first(world):  # noqa: F811
    now = datetime.now(UTC)
    nodes.report(_node_caller(world, "gaj"), node_id="gaj-node", pending_batches=7, pending_records=35000,
                 refused_batches=1, oldest_pending=now - timedelta(minutes=50),
                 certificate_not_after=now + timedelta(days=400), subscriptions=[("hukou", world.resource, 42)])
    nodes.report(_node_caller(world, "mzj"), node_id="mzj-node", pending_batches=0, pending_records=0,
                 refused_batches=0, certificate_not_after=now + timedelta(days=12),
                 adapters=[nodes.Adapter("mzj-marriage", "", "failed", now, 0,
                                         "SourceError: the source failed 3 times")])
    backlog, expiring = _listed(world)
    assert (backlog.node_id, backlog.state) == ("gaj-node", "backlog")
    assert re.fullmatch(r"发件箱积压 7 批 \(35000 条\), 最早的已等待 (49|50) 分钟", backlog.alerts[0]), backlog.alerts
    assert backlog.alerts[1] == "1 批被中心拒收, 请核查"
    assert [(s.name, s.resource_code, s.watermark) for s in backlog.subscriptions] == [("hukou", world.resource, 42)]
    assert (expiring.node_id, expiring.state) == ("mzj-node", "expiring")
    assert expiring.alerts[0] == "适配器 mzj-marriage 上次运行失败: SourceError: the source failed 3 times"
    assert "到期" in expiring.alerts[1] and expiring.adapters[0].status == "failed"

    with pytest.raises(NotPermitted, match="reports for another department"):  # mzj cannot speak for gaj's node
        nodes.report(_node_caller(world, "mzj"), node_id="gaj-node", pending_batches=0, pending_records=0,
                     refused_batches=0)
    with pytest.raises(NotPermitted, match="without a certificate"):  # a person, however senior, is not a node
        nodes.report(as_user(world.sessions, world.settings, "gaj"), node_id="x", pending_batches=0,
                     pending_records=0, refused_batches=0)
