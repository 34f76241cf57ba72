"""The front-end node's outbound store-and-forward (issue 18, E8), the node a real process
(``govshare node run``) on loopback in front of a centre requiring WS-Security: 公安局's export
files dropped in the node's folder reach the centre as signed batches, in order, each kept in the
outbox until the centre's signed receipt is stored beside it - with the centre down for a while,
the node SIGKILLed after the centre committed but before the receipt was stored, and a
connection cut mid-answer: nothing lost, nothing taken twice."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import func, select

import server
from client.files import FORMAT_SCHEMAS, TYPE_SCHEMAS
from registry.models import InputBatch
from tests.conftest import LiveServer, free_port
from tests.trust.conftest import world  # noqa: F401 - the fixture
from xsd import samples

SCHEMAS = FORMAT_SCHEMAS + TYPE_SCHEMAS
ROOT = Path(__file__).parents[2]
COLUMNS = ["idNumber", "name", "sex", "ethnicity", "birthDate", "domicileDivision", "domicileAddress", "status"]
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the node's behaviour, one centre database


def _export(path: Path, count: int, seed: int) -> list[str]:
    """An export file of ``count`` people, as 公安局's system writes one; their ID numbers."""
    people = [{k: str(v) for k, v in p.items() if k in COLUMNS} for p in samples.population_fields(count, seed)]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(people)
    return [p["idNumber"] for p in people]


class Node:
    """公安局's node: its folder, its TOML file, its process."""

    def __init__(self, world, folder: Path, centre: str | None = None, batch_size: int = 10):  # noqa: F811
        self.folder = folder
        (folder / "ca.pem").write_bytes(world.ca_pem)
        self.drop = folder / "outbound" / "hukou"
        self.drop.mkdir(parents=True)
        self.config = folder / "node.toml"
        self.config.write_text(
            f'[centre]\nurl = "{centre or world.url}"\nca = "ca.pem"\n\n'
            f'[identity]\nkey = "{world.gaj.key}"\ncert = "{world.gaj.cert}"\n\n'
            f"[delivery]\nbatch_size = {batch_size}\nretry_first = 0.2\nretry_max = 1.0\npoll = 0.2\n\n"
            f'[[outbound]]\nname = "hukou"\nfolder = "outbound/hukou"\nresource = "{world.resource}"\n',
            encoding="utf-8")
        self.process: subprocess.Popen | None = None
        self.log = folder / "node.log"

    def command(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "server", "node", *args], capture_output=True, text=True,
                              cwd=ROOT, timeout=120, env=_environ())

    def start(self, **env: str) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "server", "node", "run", str(self.config)],
                                            cwd=ROOT, env={**_environ(), **env}, stdout=log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def status(self) -> dict:
        run = self.command("status", str(self.config), "--json")
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout)

    def outbox(self) -> list[tuple]:
        """(sequence, batch_id, state, delivered_at, duplicate, receipt) of every batch, by sequence."""
        with sqlite3.connect(self.folder / "node.db") as db:
            return db.execute("select sequence, batch_id, state, delivered_at, duplicate, receipt from outbox "
                              "order by sequence").fetchall()

    def wait_until(self, test, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if test():
                return
            assert self.process is None or self.process.poll() is None, self.log.read_text()
            time.sleep(0.2)
        raise AssertionError(f"not within {timeout} s: {what}\n{self.log.read_text()[-3000:]}")


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("GOVSHARE_")}


@pytest.fixture
def node(world, tmp_path):  # noqa: F811
    made = Node(world, tmp_path)
    yield made
    made.kill()


def _centre_batches(world) -> dict[str, tuple[int, int]]:  # noqa: F811
    """The centre's input tier: batch id -> (received, accepted)."""
    with world.sessions() as session:
        return {b.batch_id: (b.received, b.accepted) for b in session.scalars(select(InputBatch)).all()}


def _centre_people(world) -> int:  # noqa: F811
    """How many people the centre's input tier took from 公安局's node (the world's own person aside)."""
    with world.sessions() as session:
        return session.scalar(select(func.sum(InputBatch.accepted))) - 1


def test_check_names_every_problem_at_once(world, tmp_path):  # noqa: F811
    made = Node(world, tmp_path)
    made.config.write_text(
        '[centre]\nurl = "ftp://centre"\n\n[identity]\nkey = "missing.key"\ncert = "ca.pem"\n\n'
        '[delivery]\nbatch_size = 0\n\n[[outbound]]\nname = "Hukou Files"\nfolder = "x"\nresource = "户籍"\n\n'
        "[gateways]\n", encoding="utf-8")
    checked = made.command("check", str(made.config))
    assert checked.returncode == 2, checked.stderr
    problems = checked.stderr
    for expected in ("unknown section [gateways]", "[centre] url must be http:// or https://, not 'ftp://centre'",
                     "[centre] ca is missing", "[identity] key: no file",
                     "[delivery] batch_size must be a whole number of at least 1",
                     "name 'Hukou Files': lower-case letters", "resource '户籍' is not a 资源代码"):
        assert expected in problems, (expected, problems)
    assert "7 problems" in problems.splitlines()[0]


def test_check_refuses_a_key_that_is_not_the_certificates(world, tmp_path):  # noqa: F811
    made = Node(world, tmp_path)
    made.config.write_text(made.config.read_text(encoding="utf-8").replace(str(world.gaj.key), str(world.mzj.key)),
                           encoding="utf-8")
    checked = made.command("check", str(made.config))
    assert checked.returncode == 2 and "key and cert do not match" in checked.stderr


def test_a_dropped_file_reaches_the_centre_signed_and_its_receipts_are_kept(world, node):  # noqa: F811
    checked = node.command("check", str(node.config))
    assert checked.returncode == 0 and world.gaj.credit_code in checked.stdout, checked.stderr
    _export(node.drop / "变动-1.csv", 35, seed=71)
    node.start()
    node.wait_until(lambda: node.status()["delivered_batches"] == 4, "4 batches delivered")
    assert (node.drop / "sent" / "变动-1.csv").exists() and not (node.drop / "变动-1.csv").exists()
    rows = node.outbox()
    assert [r[0] for r in rows] == [1, 2, 3, 4] and {r[2] for r in rows} == {"delivered"}
    centre = _centre_batches(world)
    assert [centre[r[1]] for r in rows] == [(10, 10), (10, 10), (10, 10), (5, 5)]
    for receipt in (r[5] for r in rows):  # the centre's answer as received: signed by the platform
        assert b"wsse:Security" in receipt or b"Security" in receipt
        assert b"SubmitBatchResponse" in receipt and b"SignatureValue" in receipt
    status = node.status()
    assert (status["pending_batches"], status["refused_batches"], status["last_error"]) == (0, 0, None)
    assert status["streams"] == {"hukou": {"pending": 0, "delivered": 4, "refused": 0}}

    _export(node.drop / "again.csv", 35, seed=71)  # the same export put again: taken once
    node.wait_until(lambda: (node.drop / "sent" / "again.csv").exists(), "the file set aside")
    assert len(node.outbox()) == 4


def test_the_centre_down_for_several_batches_loses_nothing_and_delivers_in_order(world, tmp_path):  # noqa: F811
    centre_port = free_port()
    centre = LiveServer(server.build_app(world.settings, world.sessions), centre_port).start()
    node = Node(world, tmp_path, centre=f"http://127.0.0.1:{centre_port}")
    node.start()
    # the node has read the formats from the centre once (and keeps them): CSV is taken while it is down
    node.wait_until(lambda: len(list((node.folder / "schemas").glob("*.xsd"))) == len(SCHEMAS),
                    "the formats kept by the node")
    centre.stop()
    for number in range(3):
        _export(node.drop / f"变动-{number}.csv", 20, seed=80 + number)
    node.wait_until(lambda: node.status()["pending_batches"] == 6, "six batches waiting in the outbox")
    waiting = node.status()
    assert waiting["delivered_batches"] == 0 and waiting["last_error"] and waiting["oldest_pending_seconds"] >= 0
    time.sleep(2)  # several retries against the closed port
    assert node.status()["pending_batches"] == 6
    restarted = LiveServer(server.build_app(world.settings, world.sessions), centre_port).start()
    try:
        node.wait_until(lambda: node.status()["delivered_batches"] == 6, "the backlog drained", timeout=90)
        rows = node.outbox()
        assert [r[0] for r in rows] == list(range(1, 7))
        delivered = [r[3] for r in rows]
        assert delivered == sorted(delivered)  # in order: a stream's batch waits for the one before
        assert _centre_people(world) == 60 and len(_centre_batches(world)) == 7
    finally:
        node.kill()
        restarted.stop()


def test_killed_after_the_centre_committed_but_before_the_receipt_was_stored(world, node):  # noqa: F811
    _export(node.drop / "变动.csv", 25, seed=91)
    node.start(GOVSHARE_NODE_TEST_PAUSE_AFTER_ANSWER="30")
    node.wait_until(lambda: len(_centre_batches(world)) == 2, "the centre committed the first batch")
    node.kill()  # the answer came; the receipt is not stored
    assert [r[2] for r in node.outbox()] == ["pending"] * 3
    node.start()
    node.wait_until(lambda: node.status()["delivered_batches"] == 3, "all delivered after the restart")
    rows = node.outbox()
    assert [bool(r[4]) for r in rows] == [True, False, False]  # the first sent again: the centre's first receipt
    assert len(_centre_batches(world)) == 4 and _centre_people(world) == 25


class CuttingProxy:
    """A TCP proxy of the test's own to the centre that cuts the first ``cuts`` answers to a
    SubmitBatch halfway: the centre has committed, the node never reads the receipt."""

    def __init__(self, target_port: int, cuts: int):
        self.target, self.cuts = target_port, cuts
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        with client, socket.create_connection(("127.0.0.1", self.target)) as upstream:
            request = _read_http(client)
            if not request:
                return
            upstream.sendall(request)
            answer = _read_http(upstream)
            if b"SubmitBatch" in request and self.cut < self.cuts:
                self.cut += 1
                client.sendall(answer[: len(answer) // 2])  # then the connection drops
                return
            client.sendall(answer)

    def close(self) -> None:
        self.listener.close()


def _read_http(sock: socket.socket) -> bytes:
    """One HTTP message (headers and a Content-Length body) from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def test_a_connection_cut_mid_answer_is_sent_again_and_taken_once(world, tmp_path):  # noqa: F811
    proxy = CuttingProxy(int(world.url.rsplit(":", 1)[1]), cuts=2)
    made = Node(world, tmp_path, centre=f"http://127.0.0.1:{proxy.port}")
    try:
        _export(made.drop / "变动.csv", 30, seed=95)
        made.start()
        made.wait_until(lambda: made.status()["delivered_batches"] == 3, "all delivered through the proxy")
        assert proxy.cut == 2  # the first batch's answer, twice: the third try reads the first receipt again
        rows = made.outbox()
        assert [bool(r[4]) for r in rows] == [True, False, False]
        assert len(_centre_batches(world)) == 4 and _centre_people(world) == 30
    finally:
        made.kill()
        proxy.close()


def test_send_and_status_while_the_centre_is_unreachable(world, tmp_path):  # noqa: F811
    made = Node(world, tmp_path, centre=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    export = tmp_path / "变动.xml"
    root = etree.Element("Persons")
    root.extend(samples.population_records(12, seed=97))
    export.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    taken = made.command("send", str(made.config), "hukou", str(export))
    assert taken.returncode == 0 and "12 records in 2 batches in the outbox of hukou" in taken.stdout, taken.stderr
    again = made.command("send", str(made.config), "hukou", str(export.parent / "sent" / "变动.xml"))
    assert again.returncode == 0 and "taken before" in again.stdout
    made.command("run", str(made.config), "--once")
    shown = made.command("status", str(made.config))
    assert shown.returncode == 0, shown.stderr
    assert "outbox: 2 batches (12 records) waiting, 0 delivered, 0 refused" in shown.stdout
    assert "last problem: ConnectionError" in shown.stdout and "hukou: 2 waiting" in shown.stdout
    assert f"certificate: {made_subject(world)}" in shown.stdout
    unknown = made.command("send", str(made.config), "nosuch", str(export))
    assert unknown.returncode == 2 and "no [[outbound]] stream 'nosuch' (there are: hukou)" in unknown.stderr


def made_subject(world) -> str:  # noqa: F811
    from cryptography import x509

    return x509.load_pem_x509_certificate(world.gaj.cert.read_bytes()).subject.rfc4514_string()


def test_killed_again_and_again_while_it_takes_and_delivers_loses_and_duplicates_nothing(world, node):  # noqa: F811
    keys = _export(node.drop / "户籍-全量.csv", 200, seed=99)  # 20 batches of 10
    for delay in (0.4, 1.3, 0.8, 1.7, 1.0, 2.2):  # SIGKILL at moments before, during and after deliveries
        node.start()
        time.sleep(delay)
        node.kill()
    node.start()
    node.wait_until(lambda: node.status()["delivered_batches"] == 20, "all 20 batches delivered", timeout=120)
    rows = node.outbox()
    assert [r[0] for r in rows] == list(range(1, 21)) and {r[2] for r in rows} == {"delivered"}
    centre = _centre_batches(world)
    assert {r[1] for r in rows} <= set(centre) and len(centre) == 21  # each batch once (and the world's own)
    assert _centre_people(world) == 200 and len(set(keys)) == 200
    assert sum(1 for r in rows if r[4]) <= 6  # sent again only where a kill fell between answer and receipt
