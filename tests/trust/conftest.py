"""The WS-Security world of these tests: a server requiring WS-Security, the platform CA,
公安局 and 民政局 with certificates it issued, and a published population resource holding one
person; and the raw-SOAP helpers that sign as zeep does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import xmlsec
from lxml import etree
from zeep.wsse.signature import BinarySignature
from zeep.wsse.utils import get_security_header

import server
from client.wss import WSU, add_timestamp
from directory.accounts import create_user, register_department
from directory.demo import credit_code_for
from registry.db import unit_of_work
from trust import pki
from xsd import samples
from xsd.batch import build_batch

from ..conftest import LiveServer, free_port
from ..exchange.conftest import EX, _publish, submit_body

__all__ = ["DS", "EX", "SOAP_ENV", "WSSE", "Dept", "World", "envelope", "fault", "post", "query", "save_business",
           "served_world", "sign", "token_of", "world"]

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"


@dataclass
class Dept:
    code: str
    credit_code: str
    key: Path
    cert: Path


@dataclass
class World:
    url: str
    resource: str
    gaj: Dept
    mzj: Dept
    ca_pem: bytes
    person_key: str
    settings: object
    sessions: object


def _issue(session, settings, dept, folder: Path) -> Dept:
    issued = pki.issue(session, settings, dept)
    key, cert = folder / f"{dept.code}.key", folder / f"{dept.code}.pem"
    key.write_bytes(issued.key_pem())
    cert.write_bytes(issued.cert_pem())
    return Dept(dept.code, dept.credit_code, key, cert)


@pytest.fixture
def world(sessions, settings, tmp_path):
    """A server requiring WS-Security; 公安局 publishes a population resource with one person in it."""
    with served_world(sessions, settings, tmp_path) as made:
        yield made


@contextmanager
def served_world(sessions, settings, tmp_path: Path) -> Iterator[World]:
    """The world of :func:`world`, for fixtures of other scopes."""
    pki.init_ca(settings)
    with unit_of_work(sessions) as session:
        gaj = register_department(session, settings, code="gaj", name="临江市公安局",
                                  credit_code=credit_code_for("00250102"))
        mzj = register_department(session, settings, code="mzj", name="临江市民政局",
                                  credit_code=credit_code_for("00250103"))
        user = create_user(session, username="gaj", password="Secret-123", department=gaj, roles=("cataloguer",))
        create_user(session, username="mzj", password="Secret-123", department=mzj, roles=("cataloguer",))
        reviewer = create_user(session, username="reviewer", password="x", department=None,
                               roles=("admin", "reviewer"))
        code = _publish(session, settings, gaj, user, reviewer, "户籍人口基础信息", "101001002")
        gaj_dept, mzj_dept = _issue(session, settings, gaj, tmp_path), _issue(session, settings, mzj, tmp_path)
    strict = replace(settings, wss_policy="require")
    srv = LiveServer(server.build_app(strict, sessions), free_port()).start()
    person = next(samples.population_records(1, seed=5))
    world = World(srv.url, code, gaj_dept, mzj_dept, (pki.pki_dir(settings) / "ca.pem").read_bytes(),
                  person.findtext("{http://govshare.local/xsd/population/1.0}idNumber"), strict, sessions)
    batch = build_batch([person], provider_code=gaj_dept.credit_code, resource_code=code,
                        created=datetime(2026, 11, 1, tzinfo=UTC), batch_id=uuid.uuid4())
    reply = post(world, sign(world.gaj, envelope(submit_body(batch))))
    assert reply.status_code == 200, reply.text
    try:
        yield world
    finally:
        srv.stop()


def envelope(body: bytes | str) -> etree._Element:
    if isinstance(body, str):
        body = body.encode()
    return etree.fromstring(f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Header/><soap:Body>'.encode() + body
                            + b"</soap:Body></soap:Envelope>")


def sign(dept: Dept, env: etree._Element, *, timestamp=True, created: datetime | None = None,
         lifetime: int = 300, sha1: bool = False) -> etree._Element:
    """Sign as a zeep client does: zeep's BinarySignature over Body (and the Timestamp)."""
    if timestamp:
        if created is None:
            add_timestamp(env, lifetime)
        else:
            security = get_security_header(env)
            stamp = etree.SubElement(security, etree.QName(WSU, "Timestamp"), {f"{{{WSU}}}Id": "TS-x"})
            etree.SubElement(stamp, etree.QName(WSU, "Created")).text = created.strftime("%Y-%m-%dT%H:%M:%SZ")
            etree.SubElement(stamp, etree.QName(WSU, "Expires")).text = (
                created + timedelta(seconds=lifetime)).strftime("%Y-%m-%dT%H:%M:%SZ")
    method = (xmlsec.Transform.RSA_SHA1, xmlsec.Transform.SHA1) if sha1 else (xmlsec.Transform.RSA_SHA256,
                                                                              xmlsec.Transform.SHA256)
    BinarySignature(str(dept.key), str(dept.cert), signature_method=method[0], digest_method=method[1]).apply(env, {})
    return env


def post(world: World, env: etree._Element | bytes, path: str = "/exchange") -> requests.Response:
    data = env if isinstance(env, bytes) else etree.tostring(env)
    return requests.post(world.url + path, data=data, headers={"Content-Type": "text/xml; charset=utf-8"},
                         timeout=60)


def fault(response: requests.Response) -> tuple[str, str]:
    root = etree.fromstring(response.content)
    return root.findtext(".//faultcode"), root.findtext(".//faultstring")


def query(world: World, requester: Dept) -> etree._Element:
    return envelope(f'<ex:QueryRecords xmlns:ex="{EX}"><ex:requester>{requester.credit_code}</ex:requester>'
                    f"<ex:resourceCode>{world.resource}</ex:resourceCode><ex:key>{world.person_key}</ex:key>"
                    "</ex:QueryRecords>")


def save_business(token: str, name: str) -> etree._Element:
    return envelope(f'<save_business xmlns="urn:uddi-org:api_v3"><authInfo>{token}</authInfo>'
                    f"<businessEntity><name>{name}</name></businessEntity></save_business>")


def token_of(world: World, user: str) -> str:
    body = envelope(f'<get_authToken xmlns="urn:uddi-org:api_v3" userID="{user}" cred="Secret-123"/>')
    reply = post(world, body, "/uddi/security")
    return etree.fromstring(reply.content).findtext(".//{urn:uddi-org:api_v3}authInfo")
