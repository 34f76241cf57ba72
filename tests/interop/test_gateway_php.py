"""A legacy system that cannot sign reads through the front-end node's local gateway (issue 18,
前置交换节点): PHP's SoapClient, unsigned, generated from the WSDL the gateway serves, finds the
service and reads records and changes from a centre that requires WS-Security - the node (a real
``govshare node run`` process) signs on the system's behalf, checks the centre's signed answers
and records each exchange.  A caller from an address no system is configured for is refused;
an answer that is not the platform's is never passed on."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import LiveServer, free_port
from tests.interop.stacks import Stacks, assert_answered, run_job
from tests.interop.test_signed_php import CLIENT, _php

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # SOAP on the wire: one database will do
ROOT = Path(__file__).parents[2]


class GatewayNode:
    """民政局's node with a gateway for its legacy system ``mzj.legacy``, calling from ``addresses``."""

    def __init__(self, stacks: Stacks, folder: Path, addresses: str = '"127.0.0.1"', centre: str | None = None):
        self.folder, self.port = folder, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = folder / "node.toml"
        config.write_text(
            f'[centre]\nurl = "{centre or stacks.strict_url}"\nca = "{stacks.ca_cert}"\n\n'
            f'[identity]\nkey = "{stacks.consumer_key}"\ncert = "{stacks.consumer_cert}"\n\n'
            f'[gateway]\nlisten = "127.0.0.1:{self.port}"\n\n'
            f'[[gateway.system]]\ncode = "mzj.legacy"\naddresses = [{addresses}]\n', encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOVSHARE_")}
        self.log = folder / "node.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "server", "node", "run", str(config)], cwd=ROOT,
                                            env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                requests.get(f"{self.url}/exchange?wsdl", timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.2)
        raise AssertionError("the gateway did not come up: " + self.log.read_text())

    def journal(self) -> list[tuple]:
        with sqlite3.connect(self.folder / "node.db") as db:
            return db.execute("select system, operation, outcome from gateway_log order by id").fetchall()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


def _php_through(stacks: Stacks, url: str, folder: Path) -> subprocess.CompletedProcess:
    return run_job([_php(), str(CLIENT)], stacks, url, folder, signed=False)


def test_an_unsigned_php_soapclient_reads_through_the_gateway_from_a_centre_requiring_signatures(stacks, tmp_path):
    refused = _php_through(stacks, stacks.strict_url, tmp_path)  # straight to the centre: refused
    assert refused.returncode == 2 and refused.stderr.splitlines()[0] == "wsse:InvalidSecurity", refused.stderr
    node = GatewayNode(stacks, tmp_path)
    try:
        wsdl = requests.get(f"{node.url}/exchange?wsdl", timeout=30).text
        assert f'location="{node.url}/exchange"' in wsdl and stacks.strict_url not in wsdl
        assert_answered(stacks, _php_through(stacks, node.url, tmp_path))
        assert node.journal() == [("mzj.legacy", "QueryRecords", "ok"), ("mzj.legacy", "GetChanges", "ok")]
    finally:
        node.stop()


def test_a_caller_from_an_address_no_system_calls_from_is_refused(stacks, tmp_path):
    node = GatewayNode(stacks, tmp_path, addresses='"10.99.0.0/16"')
    try:
        run = _php_through(stacks, node.url, tmp_path)
        assert run.returncode == 2 and run.stderr.splitlines()[0] == "soap:Client", run.stderr
        assert "NotPermitted: this gateway signs for its configured systems only, and none calls from 127.0.0.1" \
            in run.stderr
        assert node.journal() == [(None, "", "refused: unknown caller")]
    finally:
        node.stop()


def test_an_answer_that_is_not_the_platforms_is_never_passed_on(stacks, tmp_path):
    """Between the node and the centre, something answers with a record it made up, signed by no one."""
    wsdl = requests.get(f"{stacks.strict_url}/exchange?wsdl", timeout=30).content
    made_up = (b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
               b'<QueryRecordsResponse xmlns="http://govshare.local/xsd/exchange/1.0"><total>1</total>'
               b"<pageOffset>0</pageOffset><more>false</more><source>central</source><records/>"
               b"</QueryRecordsResponse></soap:Body></soap:Envelope>")
    port = free_port()

    def forger(environ, start_response):
        if environ["REQUEST_METHOD"] == "GET":
            start_response("200 OK", [("Content-Type", "text/xml")])
            return [wsdl.replace(stacks.strict_url.encode(), f"http://127.0.0.1:{port}".encode())]
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
        return [made_up]

    between = LiveServer(forger, port).start()
    node = GatewayNode(stacks, tmp_path, centre=f"http://127.0.0.1:{port}")
    try:
        body = (f'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
                f'<QueryRecords xmlns="http://govshare.local/xsd/exchange/1.0"><requester>{stacks.consumer}'
                f"</requester><resourceCode>{stacks.resource}</resourceCode><key>{stacks.keys[0]}</key>"
                "</QueryRecords></soap:Body></soap:Envelope>")
        answer = requests.post(f"{node.url}/exchange", data=body.encode(), timeout=30,
                               headers={"Content-Type": "text/xml; charset=utf-8"})
        assert answer.status_code == 500 and b"QueryRecordsResponse" not in answer.content
        assert b"ResponseNotTrusted: the centre's answer failed the gateway's check (the response is not signed" \
            in answer.content
        [(system, operation, outcome)] = node.journal()
        assert (system, operation) == ("mzj.legacy", "QueryRecords") and outcome.startswith("untrusted: ")
    finally:
        node.stop()
        between.stop()
