"""The world every stack of the signed interop suite (C2) meets: one platform served twice over
the same database, once requiring WS-Security (``require``, as production runs) and once taking
unsigned calls too (``optional``, for the stacks that cannot sign), with 公安局 publishing the
population resource "户籍人口基础信息" holding three people and 民政局, the consumer, holding a
certificate the platform CA issued (PEM key and certificate, and the same as a PKCS#12).

A stack's test drives its own client against ``stacks`` and compares what it decoded with
``stacks.expected``: the records as the platform answers 民政局 (ID numbers masked, 无条件共享
without a grant), read by the project's own verified client.  Each test calls, from the WSDLs:

- ``find_service`` on ``/uddi/inquiry`` by the resource's name: the service key ``service_key``;
- ``QueryRecords`` on ``/exchange`` for ``keys``: three records;
- ``GetChanges`` on ``/exchange`` from watermark 0: three upserts, in ``keys`` order.

``tests/interop/conftest.py`` offers the fixture to every test of the folder.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from lxml import etree
from sqlalchemy import select

import server
from client.exchange import Exchange
from registry.models import CatalogueEntry
from tests.conftest import LiveServer, free_port
from tests.exchange.conftest import submit_body
from tests.trust.conftest import envelope, post, sign
from xsd import samples
from xsd.batch import build_batch
from xsd.registry import POPULATION_NS, lookup

PERSON = lookup("{%s}Person" % POPULATION_NS)
#: the PKCS#12 password of ``Stacks.consumer_p12``
P12_PASSWORD = "p12-Secret"
#: the resource's name, as find_service is asked for it
RESOURCE_NAME = "户籍人口基础信息"


@dataclass
class Stacks:
    strict_url: str  # the platform requiring WS-Security on /exchange
    optional_url: str  # the same platform taking unsigned calls too
    resource: str  # 资源代码 of the population resource
    service_key: str  # its businessService's key in the directory
    provider: str  # 公安局's 统一社会信用代码
    consumer: str  # 民政局's 统一社会信用代码: the requester of every call
    consumer_key: Path  # 民政局's private key (PEM, PKCS#8, unencrypted)
    consumer_cert: Path  # its certificate (PEM), issued by the platform CA
    consumer_p12: Path  # both as a PKCS#12, password P12_PASSWORD
    ca_cert: Path  # the platform CA's certificate (PEM): what signed answers chain to
    keys: list[str] = field(default_factory=list)  # the people's 公民身份号码 in clear: what QueryRecords takes
    expected: dict[str, dict] = field(default_factory=dict)  # masked key -> the fields, as 民政局 reads them

    def decoded(self, records) -> dict[str, dict]:
        """Records (lxml elements or XML strings of ``Person``) by key, as field dicts."""
        out = {}
        for record in records:
            if isinstance(record, (str, bytes)):
                record = etree.fromstring(record.encode() if isinstance(record, str) else record)
            fields = PERSON.decode(record)
            out["|".join(PERSON.key(fields))] = fields
        return out


def run_job(command: list[str], stacks: Stacks, url: str, folder: Path, *, signed: bool) -> subprocess.CompletedProcess:
    """A client script that takes its calls from a JSON job (the PHP and Perl clients): ``url``,
    the requester, the resource's name and code, the keys - and 民政局's key and certificate when
    ``signed``."""
    job = {"url": url, "requester": stacks.consumer, "name": RESOURCE_NAME, "resourceCode": stacks.resource,
           "keys": stacks.keys}
    if signed:
        job |= {"key": str(stacks.consumer_key), "cert": str(stacks.consumer_cert)}
    path = folder / "job.json"
    path.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
    return subprocess.run([*command, str(path)], capture_output=True, encoding="utf-8", timeout=120)


def assert_answered(stacks: Stacks, run: subprocess.CompletedProcess) -> None:
    """A job's JSON output is what the platform answers 民政局: the service found, three records
    queried, three upserts followed."""
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["serviceKeys"] == [stacks.service_key]
    assert (out["query"]["total"], out["query"]["more"]) == (3, False)
    assert stacks.decoded(out["query"]["records"]) == stacks.expected
    assert [c["operation"] for c in out["changes"]] == ["upsert"] * 3
    assert stacks.decoded(c["record"] for c in out["changes"]) == stacks.expected


@pytest.fixture
def stacks(world, tmp_path) -> Stacks:
    """The world above, with an ``optional`` server beside the strict one; torn down after the test."""
    people = list(samples.population_records(2, seed=17))
    batch = build_batch(people, provider_code=world.gaj.credit_code, resource_code=world.resource,
                        created=datetime.now(UTC), batch_id=uuid.uuid4())
    reply = post(world, sign(world.gaj, envelope(submit_body(batch))))
    assert reply.status_code == 200, reply.text

    optional = LiveServer(server.build_app(replace(world.settings, wss_policy="optional"), world.sessions),
                          free_port()).start()
    ca = tmp_path / "ca.pem"
    ca.write_bytes(world.ca_pem)
    p12 = tmp_path / "mzj.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(
        b"mzj", serialization.load_pem_private_key(world.mzj.key.read_bytes(), password=None),
        x509.load_pem_x509_certificate(world.mzj.cert.read_bytes()), None,
        serialization.BestAvailableEncryption(P12_PASSWORD.encode())))
    with world.sessions() as session:
        entry = session.scalar(select(CatalogueEntry).where(CatalogueEntry.resource_code == world.resource))
        service_key = entry.service_key
    stacks = Stacks(world.url, optional.url, world.resource, service_key, world.gaj.credit_code,
                    world.mzj.credit_code, world.mzj.key, world.mzj.cert, p12, ca)
    stacks.keys = sorted([world.person_key, *(p.findtext(f"{{{POPULATION_NS}}}idNumber") for p in people)])
    reference = Exchange(world.url, key=world.mzj.key, cert=world.mzj.cert, ca=ca)
    stacks.expected = stacks.decoded(r.element for r in reference.query(world.resource, keys=stacks.keys))
    assert len(stacks.expected) == 3 and all("*" in k for k in stacks.expected)  # ID numbers masked for 民政局
    yield stacks
    optional.stop()
