"""A server process that has refused the hostile corpus, many times over and with requests of
tens of megabytes among it, is about as large as it was before: large refusals happen before
anything is held whole, and what a large request did take is given back to the system."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from ..conftest import free_port
from .test_hostile_xml import CORPUS, EX, FIND, SECURITY, env

ROOT = Path(__file__).resolve().parents[2]
REQUESTER = "<ex:requester>11330100002501028W</ex:requester><ex:resourceCode>101001/000001</ex:resourceCode>"
KEYS = "".join(f"<ex:key>{110101199003070000 + i}</ex:key>" for i in range(100_000))
LARGE = [  # each of them once cost the server hundreds of megabytes, some for good
    ("a hundred thousand keys", "/exchange", env(f'<ex:QueryRecords xmlns:ex="{EX}">{REQUESTER}{KEYS}'
                                                 "</ex:QueryRecords>")),
    ("a hundred thousand keys, signed", "/exchange", env(f'<ex:QueryRecords xmlns:ex="{EX}">{REQUESTER}{KEYS}'
                                                         "</ex:QueryRecords>", SECURITY.format(inner=""))),
    ("28 MB of small elements, signed", "/exchange", env(f'<ex:SubmitBatch xmlns:ex="{EX}">'
                                                         + "<y a='1'>t</y>" * 2_000_000 + "</ex:SubmitBatch>",
                                                         SECURITY.format(inner=""))),
    ("28 MB of small elements in a query", "/exchange", env(f'<ex:QueryRecords xmlns:ex="{EX}">'
                                                            + "<y a='1'>t</y>" * 2_000_000 + "</ex:QueryRecords>")),
]


def _rss_mb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmRSS"))


def test_the_server_is_back_near_its_size_after_the_hostile_corpus_three_times(tmp_path):
    port = free_port()
    environ = {key: value for key, value in os.environ.items() if not key.startswith("MALLOC_")}
    environ.update(GOVSHARE_VAR=str(tmp_path), GOVSHARE_PORT=str(port), GOVSHARE_WSS="require",
                   GOVSHARE_SCHEDULER="0")
    environ.pop("GOVSHARE_DB_URL", None)
    server = subprocess.Popen([sys.executable, "-m", "server", "serve", "--no-scheduler"], cwd=ROOT, env=environ,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                requests.get(f"{url}/exchange?wsdl", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and server.poll() is None, "the server did not start"
                time.sleep(0.3)
        for _ in range(5):  # warm: each endpoint answered, its schemas and code loaded
            requests.post(f"{url}/uddi/inquiry", data=env(FIND), timeout=30)
            requests.post(f"{url}/exchange", data=env(f'<ex:QueryRecords xmlns:ex="{EX}">{REQUESTER}'
                                                      "</ex:QueryRecords>"), timeout=30)
            requests.get(f"{url}/portal/login", timeout=30)
        before = _rss_mb(server.pid)
        for _round in range(3):
            for name, path, data in CORPUS + LARGE:
                reply = requests.post(url + path, data=data, headers={"Content-Type": "text/xml"}, timeout=120)
                assert reply.status_code == 500, name
        after = _rss_mb(server.pid)
    finally:
        server.kill()
        server.wait()
    assert after - before < 64, f"RSS {before} MB before the corpus, {after} MB after it"
