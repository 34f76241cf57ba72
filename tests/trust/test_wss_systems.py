"""An application system (应用系统) signs with its own certificate, made from its own CSR: the
exchange knows it as its department's system, the audit entry names it, and a suspended system or
department, or a revoked certificate, is refused as wsse:FailedAuthentication - over real HTTP to a
server that requires WS-Security, with zeep and client.wss.PlatformSignature."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import pytest
import xmlsec
import zeep
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import event, select
from zeep.wsse.signature import BinarySignature

from client.wss import PlatformSignature, add_timestamp
from directory.accounts import create_user
from registry.clock import utcnow
from registry.db import reading_engine, unit_of_work
from registry.models import AppSystem, AuditEntry, Department, User
from tests.conftest import as_user
from trust import certificates, wsse

from .conftest import DS, Dept, fault, post, query, sign
from .csrs import ec_key, key_pem, make_csr


@dataclass
class System:
    code: str
    serial: str
    signer: Dept  # the system's key and certificate files, as the client signs with them


def _certified(world, folder: Path, part: str, key) -> System:
    """民政局's system mzj.<part>, certified for ``key`` from its own CSR: 民政局 asks, the security
    administrator approves; the key and certificate are kept in ``folder`` (at 民政局, not under the
    centre's var/)."""
    with unit_of_work(world.sessions) as session:
        mzj = session.scalar(select(Department).where(Department.code == "mzj"))
        session.add(AppSystem(department_id=mzj.id, code=f"mzj.{part}", name=f"系统 {part}", status="active",
                              created=utcnow(), created_by="test"))
        if session.scalar(select(User.id).where(User.username == "sec")) is None:
            create_user(session, username="sec", password="pw", department=None, roles=("security",))
    key, csr = make_csr(key, cn=part)
    requested = certificates.request(as_user(world.sessions, world.settings, "mzj"), csr=csr, system=f"mzj.{part}")
    approved = certificates.approve(as_user(world.sessions, world.settings, "sec"), request_id=requested.id)
    (folder / f"{part}.key").write_bytes(key_pem(key))
    (folder / f"{part}.pem").write_text(approved.pem)
    return System(f"mzj.{part}", approved.certificate.serial,
                  Dept("mzj", world.mzj.credit_code, folder / f"{part}.key", folder / f"{part}.pem"))


@pytest.fixture
def dibao(world, tmp_path_factory) -> System:
    """民政局's 低保系统 (mzj.dibao), with an RSA key."""
    return _certified(world, tmp_path_factory.mktemp("mzj-dibao"), "dibao", None)


def _zeep(world, signer: Dept):
    wsse_ = PlatformSignature(str(signer.key), str(signer.cert), ca_pem=world.ca_pem)
    return zeep.Client(f"{world.url}/exchange?wsdl", wsse=wsse_).service


def _last_query(world) -> AuditEntry:
    with world.sessions() as session:
        return session.scalars(select(AuditEntry).where(AuditEntry.operation == "exchange.query_records")
                               .order_by(AuditEntry.seq.desc())).first()


def _suspend(world, model, code: str, reason: str) -> None:
    with unit_of_work(world.sessions) as session:
        row = session.scalar(select(model).where(model.code == code))
        row.status, row.suspended_at, row.suspension_reason = "suspended", utcnow(), reason


def test_a_systems_signed_query_is_its_departments_and_the_audit_entry_names_the_system(world, dibao):
    answer = _zeep(world, dibao.signer).QueryRecords(requester=world.mzj.credit_code, resourceCode=world.resource,
                                                     key=[world.person_key])
    assert answer.total == 1
    entry = _last_query(world)
    assert (entry.result, entry.department_code, entry.system_code, entry.certificate_serial, entry.channel) == (
        "ok", "mzj", "mzj.dibao", dibao.serial, "soap")
    # the department's own certificate is still the department's, with no system
    _zeep(world, world.mzj).QueryRecords(requester=world.mzj.credit_code, resourceCode=world.resource,
                                         key=[world.person_key])
    assert (_last_query(world).system_code, _last_query(world).department_code) == (None, "mzj")


def test_the_signers_identity_is_one_lookup(world, dibao):
    """The hot path: certificate, department and system in one SELECT and the replay cache's INSERT -
    on PostgreSQL one statement (a round trip), elsewhere the SELECT, then the INSERT; and the same
    message is a replay the second time."""
    cert = x509.load_pem_x509_certificate(dibao.signer.cert.read_bytes())
    statements: list[str] = []
    engine = world.sessions.kw["bind"]
    engines = {engine, reading_engine(engine)}  # the look-up runs on the reading engine's connections
    listen = lambda conn, cursor, sql, *_: statements.append(sql.split()[0].upper())  # noqa: E731
    for each in engines:
        event.listen(each, "before_cursor_execute", listen)
    try:
        caller = wsse._registered_and_new(cert, b"\x01" * 256, utcnow(), world.sessions, utcnow())
    finally:
        for each in engines:
            event.remove(each, "before_cursor_execute", listen)
    assert (caller.department_code, caller.system_code, caller.certificate_serial) == ("mzj", "mzj.dibao",
                                                                                       dibao.serial)
    postgres = engine.dialect.name == "postgresql"
    assert caller.system_id is not None and statements == (["WITH"] if postgres else ["SELECT", "INSERT"])
    with pytest.raises(wsse.WsSecurityError, match="received before"):
        wsse._registered_and_new(cert, b"\x01" * 256, utcnow(), world.sessions, utcnow())


def test_the_replay_cache_entry_alone_commits_without_waiting_for_the_disk(world, dibao):
    """On PostgreSQL the replay cache's statement turns ``synchronous_commit`` off for its own implicit
    transaction (the next durable commit, the message's audit entry, flushes it): the connection it ran on
    then commits durably again, so the audit entries and records written through the pool are not put at
    risk - and a message seen is still refused as a replay."""
    if world.sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("the commit's durability is PostgreSQL's synchronous_commit")
    cert = x509.load_pem_x509_certificate(dibao.signer.cert.read_bytes())
    used = []
    reading = reading_engine(world.sessions.kw["bind"])
    listen = lambda conn, cursor, sql, *_: used.append(cursor.connection)  # noqa: E731
    event.listen(reading, "before_cursor_execute", listen)
    try:
        wsse._registered_and_new(cert, b"\x03" * 256, utcnow(), world.sessions, utcnow())
    finally:
        event.remove(reading, "before_cursor_execute", listen)
    [connection] = used
    # the test databases commit without a flush throughout (tests/conftest.py): what counts is that nothing
    # set it for the connection's session, whose next transactions keep the database's setting
    source = connection.execute("SELECT source FROM pg_settings WHERE name = 'synchronous_commit'").fetchone()[0]
    connection.rollback()  # the pool's connection back as it was found (idle)
    assert source in ("default", "database", "configuration file")
    with pytest.raises(wsse.WsSecurityError, match="received before"):
        wsse._registered_and_new(cert, b"\x03" * 256, utcnow(), world.sessions, utcnow())


def test_a_suspended_system_is_refused_as_failed_authentication(world, dibao):
    _suspend(world, AppSystem, "mzj.dibao", "等保测评整改")
    code, message = fault(post(world, sign(dibao.signer, query(world, world.mzj))))
    assert code == "wsse:FailedAuthentication"
    assert "application system mzj.dibao is suspended" in message and "等保测评整改" in message
    with world.sessions() as session:
        refused = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert (refused.operation, refused.result) == ("exchange.request", "refused:FailedAuthentication")
    # its department's own certificate still works
    assert post(world, sign(world.mzj, query(world, world.mzj))).status_code == 200


def test_a_suspended_departments_certificates_are_all_refused(world, dibao):
    _suspend(world, Department, "mzj", "未按期整改")
    for signer in (world.mzj, dibao.signer):
        code, message = fault(post(world, sign(signer, query(world, world.mzj))))
        assert code == "wsse:FailedAuthentication" and "department mzj is suspended" in message
    with pytest.raises(zeep.exceptions.Fault, match="suspended"):
        _zeep(world, dibao.signer).QueryRecords(requester=world.mzj.credit_code, resourceCode=world.resource,
                                                key=[world.person_key])


def test_a_system_certificate_its_department_revoked_is_refused(world, dibao):
    assert post(world, sign(dibao.signer, query(world, world.mzj))).status_code == 200
    certificates.revoke(as_user(world.sessions, world.settings, "mzj"), serial=dibao.serial, reason="keyCompromise")
    code, message = fault(post(world, sign(dibao.signer, query(world, world.mzj))))
    assert code == "wsse:FailedAuthentication" and "revoked" in message and "keyCompromise" in message


def test_a_system_speaks_for_its_own_department_only(world, dibao):
    code, message = fault(post(world, sign(dibao.signer, query(world, world.gaj))))
    assert code == "wsse:FailedAuthentication" and "临江市民政局" in message


def test_the_system_key_never_reached_the_centre(world, dibao):
    var = Path(world.settings.var_dir)
    assert not [p for p in var.rglob("*") if p.is_file() and dibao.signer.key.read_bytes() in p.read_bytes()]


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1()], ids=["P-256", "P-384"])
def test_a_system_with_an_ec_key_from_its_csr_signs_with_ecdsa_sha256_and_is_answered(world, tmp_path, curve):
    system = _certified(world, tmp_path, "ec", ec_key(curve))
    answer = _zeep(world, system.signer).QueryRecords(requester=world.mzj.credit_code, resourceCode=world.resource,
                                                      key=[world.person_key])
    assert answer.total == 1
    entry = _last_query(world)
    assert (entry.result, entry.system_code, entry.certificate_serial) == ("ok", "mzj.ec", system.serial)


def test_an_ecdsa_signature_with_its_s_negated_is_the_same_message_and_refused_as_a_replay(world, tmp_path):
    """(r, s) and (r, n - s) both verify: were the replay cache keyed on the bytes as sent, the
    second would make a captured message new."""
    system = _certified(world, tmp_path, "ec", ec_key(ec.SECP256R1()))
    env = query(world, system.signer)
    add_timestamp(env)
    BinarySignature(str(system.signer.key), str(system.signer.cert), signature_method=xmlsec.Transform.ECDSA_SHA256,
                    digest_method=xmlsec.Transform.SHA256).apply(env, {})
    first = post(world, env)
    assert first.status_code == 200, first.text
    value = env.find(f".//{{{DS}}}SignatureValue")
    raw = base64.b64decode(value.text)
    r, s = raw[:32], int.from_bytes(raw[32:], "big")
    value.text = base64.b64encode(r + (wsse.EC_ORDERS["secp256r1"] - s).to_bytes(32, "big")).decode()
    again = post(world, env)
    code, message = fault(again)
    assert code.endswith("FailedCheck") and "received before (replay)" in message, message
