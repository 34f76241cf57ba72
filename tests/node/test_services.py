"""The other direction through the node's gateway (逻辑集中): the centre's live query of a logical
resource reaches 公安局's own household registry service inside its network through the node -
the department publishes the service's WSDL as the gateway serves it (the gateway's address in
it), the centre calls that address, the gateway takes the call from the centre's address only
and passes it on.  Real processes on loopback: the registry service, the node, the centre's
forwarding in this process."""

from __future__ import annotations

import sqlite3

import pytest
import requests

from adapters.demo_services import household_service_app, seed_people
from tests.conftest import LiveServer, free_port
from tests.exchange.test_logical import forward, publish_logical
from tests.node.test_outbox import Node
from tests.trust.conftest import world  # noqa: F401 - the fixture

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _gateway_node(world, folder, port: int, target: str, callers: str) -> Node:  # noqa: F811
    node = Node(world, folder)
    node.config.write_text(node.config.read_text(encoding="utf-8") + (
        f'\n[gateway]\nlisten = "127.0.0.1:{port}"\n\n'
        f'[[gateway.service]]\nname = "hukou"\ntarget = "{target}"\ncallers = [{callers}]\n'), encoding="utf-8")
    return node


def test_the_centres_logical_query_reaches_the_departments_service_through_its_node(world, tmp_path):  # noqa: F811
    people = seed_people(tmp_path / "hjgl.db", n=20, seed=7)
    registry = LiveServer(household_service_app(tmp_path / "hjgl.db"), free_port()).start()
    port = free_port()
    (tmp_path / "node").mkdir()
    node = _gateway_node(world, tmp_path / "node", port, f"{registry.url}/", '"127.0.0.1"')
    checked = node.command("check", str(node.config))
    assert checked.returncode == 0 and f"service  /services/hukou -> {registry.url}/" in checked.stdout, \
        checked.stdout + checked.stderr
    relayed = f"http://127.0.0.1:{port}/services/hukou"
    node.start()
    try:
        node.wait_until(lambda: _get(f"{relayed}?wsdl") == 200, "the gateway serving the service's WSDL")
        wsdl = requests.get(f"{relayed}?wsdl", timeout=10).content
        assert relayed.encode() in wsdl and registry.url.encode() not in wsdl  # published: the node's address
        code = publish_logical(world.sessions, world.settings, "household-registration", wsdl)
        person = next(p for p in people if not p["deceased"])
        [record] = forward(world.sessions, world.settings, code, [person["idNumber"]])
        assert (record.key, record.fields["name"]) == (person["idNumber"], person["name"])
    finally:
        node.kill()
        registry.stop()
    with sqlite3.connect(node.folder / "node.db") as db:
        logged = db.execute("select system, operation, outcome from gateway_log order by id").fetchall()
    assert ("centre", "service hukou http://govshare.local/interfaces/population/QueryPerson", "ok") in logged


def test_a_caller_that_is_not_the_centre_is_refused_and_the_service_not_called(world, tmp_path):  # noqa: F811
    port = free_port()
    node = _gateway_node(world, tmp_path, port, "http://127.0.0.1:9/", '"10.1.0.5"')  # the centre is elsewhere
    node.start()
    try:
        node.wait_until(lambda: _get(f"http://127.0.0.1:{port}/services/other") == 404, "the gateway up")
        refused = requests.post(f"http://127.0.0.1:{port}/services/hukou", data=b"<x/>", timeout=10)
    finally:
        node.kill()
    assert refused.status_code == 500 and b"NotPermitted: the service hukou is relayed for the centre only" \
        in refused.content


def _get(url: str) -> int:
    try:
        return requests.get(url, timeout=5).status_code
    except requests.RequestException:
        return 0
