"""WS-Security 1.1 on /exchange, /uddi/publication and /uddi/subscription (S2), over real HTTP to a server that
requires it: zeep's own BinarySignature is accepted; every way of getting it wrong is a
WS-Security fault that says what to fix; responses are signed by the platform."""

from __future__ import annotations

import base64
import copy
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import requests
import zeep
from lxml import etree

import server
from client.wss import WSU, PlatformSignature, ResponseNotTrusted
from registry.db import unit_of_work
from trust import pki
from xsd import samples
from xsd.batch import build_batch

from ..conftest import LiveServer, free_port
from ..exchange.conftest import EX, submit_body
from .conftest import (  # noqa: F401 - re-exported for the interop tests that sign the same way
    DS,
    SOAP_ENV,
    WSSE,
    Dept,
    World,
    _issue,
    envelope,
    fault,
    post,
    query,
    sign,
)
from .conftest import save_business as _save_business
from .conftest import token_of as _token

# ------------------------------------------------------------------------------ accepted


def test_a_zeep_client_with_binary_signature_is_accepted_and_the_response_is_signed(world):
    wsse = PlatformSignature(str(world.mzj.key), str(world.mzj.cert), ca_pem=world.ca_pem)
    client = zeep.Client(f"{world.url}/exchange?wsdl", wsse=wsse)
    answer = client.service.QueryRecords(requester=world.mzj.credit_code, resourceCode=world.resource,
                                         key=[world.person_key])
    assert answer.total == 1 and answer.source == "central"


def test_the_platform_signs_what_it_answers_and_the_client_notices_tampering(world):
    reply = post(world, sign(world.mzj, query(world, world.mzj)))
    assert reply.status_code == 200
    response = etree.fromstring(reply.content)
    checker = PlatformSignature(str(world.mzj.key), str(world.mzj.cert), ca_pem=world.ca_pem)
    checker.verify(copy.deepcopy(response))
    tampered = copy.deepcopy(response)
    tampered.find(f".//{{{EX}}}total").text = "999"
    with pytest.raises(ResponseNotTrusted, match="altered"):
        checker.verify(tampered)
    other_ca = PlatformSignature(str(world.mzj.key), str(world.mzj.cert), ca_pem=world.mzj.cert.read_bytes())
    with pytest.raises(ResponseNotTrusted, match="did not issue"):
        other_ca.verify(copy.deepcopy(response))
    unsigned = copy.deepcopy(response)
    unsigned.remove(unsigned.find(f"{{{SOAP_ENV}}}Header"))
    with pytest.raises(ResponseNotTrusted, match="not signed"):
        checker.verify(unsigned)


# ------------------------------------------------------------------------------ refused


def test_an_unsigned_request_is_refused_when_security_is_required(world):
    reply = post(world, query(world, world.mzj))
    assert reply.status_code == 500
    code, message = fault(reply)
    assert code == "wsse:InvalidSecurity" and "requires WS-Security" in message
    root = etree.fromstring(reply.content)
    assert root.nsmap.get("wsse") == WSSE  # the fault code's prefix is declared


def test_sha1_is_refused_by_name(world):
    code, message = fault(post(world, sign(world.mzj, query(world, world.mzj), sha1=True)))
    assert code == "wsse:UnsupportedAlgorithm" and "SHA-1 is refused" in message


def test_a_body_changed_after_signing_fails_the_check(world):
    env = sign(world.mzj, query(world, world.mzj))
    env.find(f".//{{{EX}}}key").text = "110101199003077777"
    code, message = fault(post(world, env))
    assert code == "wsse:FailedCheck" and "does not verify" in message


def test_signature_wrapping_is_refused(world):
    """The signed Body moved into a header, a new Body carrying its Id: signxml alone accepts this."""
    env = sign(world.mzj, query(world, world.mzj))
    body = env.find(f"{{{SOAP_ENV}}}Body")
    wrapper = etree.SubElement(env.find(f"{{{SOAP_ENV}}}Header"), "{urn:attacker}Wrapper")
    forged = etree.Element(f"{{{SOAP_ENV}}}Body", {f"{{{WSU}}}Id": body.get(f"{{{WSU}}}Id")})
    forged.append(etree.fromstring(f'<ex:GetChanges xmlns:ex="{EX}"><ex:requester>{world.mzj.credit_code}'
                                   f"</ex:requester><ex:resourceCode>{world.resource}</ex:resourceCode>"
                                   "</ex:GetChanges>"))
    env.replace(body, forged)
    wrapper.append(body)
    code, message = fault(post(world, env))
    assert code == "wsse:InvalidSecurity" and "used twice" in message
    # and without the duplicate Id: the new Body is simply not the signed one
    forged.attrib.pop(f"{{{WSU}}}Id")
    code, message = fault(post(world, env))
    assert code == "wsse:InvalidSecurity" and "soap:Body has no wsu:Id" in message


def test_an_expired_or_future_or_overlong_timestamp_is_refused(world):
    now = datetime.now(UTC).replace(tzinfo=None)
    old = sign(world.mzj, query(world, world.mzj), created=now - timedelta(hours=2))
    assert fault(post(world, old))[0] == "wsse:MessageExpired"
    future = sign(world.mzj, query(world, world.mzj), created=now + timedelta(hours=1))
    code, message = fault(post(world, future))
    assert code == "wsse:MessageExpired" and "check your clock" in message
    forever = sign(world.mzj, query(world, world.mzj), lifetime=7 * 24 * 3600)
    assert "at most" in fault(post(world, forever))[1]
    unstamped = sign(world.mzj, query(world, world.mzj), timestamp=False)
    assert fault(post(world, unstamped))[0] == "wsse:InvalidSecurity"


def test_a_small_signed_request_has_its_header_checked_once_and_a_large_one_first(world, monkeypatch):
    """A request up to ``HEADER_FIRST`` is read whole at once and its Security header checked with the
    rest; a larger one has the header checked before it is read whole, and then with the rest."""
    from exchange.transport import HEADER_FIRST
    from trust import wsse

    checked = []
    real = wsse._algorithms
    monkeypatch.setattr(wsse, "_algorithms", lambda signature: checked.append(1) or real(signature))
    small = sign(world.mzj, query(world, world.mzj))
    assert len(etree.tostring(small)) < HEADER_FIRST
    assert post(world, small).status_code == 200
    assert len(checked) == 1
    people = list(samples.population_records(200, seed=11))
    batch = build_batch(people, provider_code=world.gaj.credit_code, resource_code=world.resource,
                        created=datetime(2026, 11, 2, tzinfo=UTC), batch_id=uuid.uuid4())
    large = sign(world.gaj, envelope(submit_body(batch)))
    assert len(etree.tostring(large)) > HEADER_FIRST
    checked.clear()
    answer = post(world, large)
    assert answer.status_code == 200, answer.text
    assert len(checked) == 2
    stale = sign(world.gaj, envelope(submit_body(batch)), created=datetime.now(UTC) - timedelta(hours=3))
    checked.clear()
    assert fault(post(world, stale))[0] == "wsse:MessageExpired"
    assert len(checked) == 1  # refused on its header alone


def test_a_stale_message_or_a_strangers_is_refused_before_its_signature_is_verified(world, tmp_path, sessions,
                                                                                      monkeypatch):
    """The Timestamp and the certificate's chain cost less than verifying the signature: checked first."""
    from trust import wsse

    verified = []
    real = wsse._verified
    monkeypatch.setattr(wsse, "_verified", lambda envelope, signed: verified.append(1) or real(envelope, signed))
    stale = sign(world.mzj, query(world, world.mzj), created=datetime.now(UTC) - timedelta(hours=2))
    assert fault(post(world, stale))[0] == "wsse:MessageExpired"
    other = replace(world.settings, var_dir=tmp_path / "rogue")
    pki.init_ca(other)
    with unit_of_work(sessions) as session:
        rogue = _issue(session, other, pki.find_department(session, "mzj"), tmp_path / "rogue")
    assert fault(post(world, sign(rogue, query(world, world.mzj))))[0] == "wsse:FailedAuthentication"
    assert verified == []
    tampered = sign(world.mzj, query(world, world.mzj))
    tampered.find(f".//{{{EX}}}key").text = "330102199001011234"
    code, message = fault(post(world, tampered))
    assert code == "wsse:FailedCheck" and "does not verify" in message
    assert verified == [1]


def test_a_replayed_message_is_refused_by_every_server_process(world):
    data = etree.tostring(sign(world.mzj, query(world, world.mzj)))
    assert post(world, data).status_code == 200
    code, message = fault(post(world, data))
    assert code == "wsse:FailedCheck" and "replay" in message
    # a second server process on the same database (its own engine) knows the message too
    from registry.db import make_engine, session_factory

    other_sessions = session_factory(make_engine(world.settings.db_url))
    other = LiveServer(server.build_app(world.settings, other_sessions), free_port()).start()
    try:
        reply = requests.post(f"{other.url}/exchange", data=data, headers={"Content-Type": "text/xml"}, timeout=60)
        assert "replay" in fault(reply)[1]
    finally:
        other.stop()
        other_sessions.kw["bind"].dispose()


def test_a_revoked_certificate_is_refused(world):
    serial = format(__import__("cryptography.x509", fromlist=["x"]).load_pem_x509_certificate(
        world.mzj.cert.read_bytes()).serial_number, "x")
    assert post(world, sign(world.mzj, query(world, world.mzj))).status_code == 200
    with unit_of_work(world.sessions) as session:
        pki.revoke(session, world.settings, serial, "keyCompromise")
    code, message = fault(post(world, sign(world.mzj, query(world, world.mzj))))
    assert code == "wsse:FailedAuthentication" and "revoked" in message and "keyCompromise" in message


def test_a_certificate_from_another_ca_is_refused(world, tmp_path, sessions):
    other = replace(world.settings, var_dir=tmp_path / "rogue")
    pki.init_ca(other)
    with unit_of_work(sessions) as session:
        rogue = _issue(session, other, pki.find_department(session, "mzj"), tmp_path / "rogue")
    code, message = fault(post(world, sign(rogue, query(world, world.mzj))))
    assert code == "wsse:FailedAuthentication" and "not issued by the platform CA" in message


def test_a_department_cannot_speak_for_another(world):
    """民政局's certificate, 公安局's credit code as requester (or as a batch's provider)."""
    code, message = fault(post(world, sign(world.mzj, query(world, world.gaj))))
    assert code == "wsse:FailedAuthentication" and "临江市民政局" in message
    batch = build_batch([next(samples.population_records(1, seed=9))], provider_code=world.gaj.credit_code,
                        resource_code=world.resource, created=datetime(2026, 11, 2, tzinfo=UTC),
                        batch_id=uuid.uuid4())
    assert fault(post(world, sign(world.mzj, envelope(submit_body(batch)))))[0] == "wsse:FailedAuthentication"


def test_a_garbled_token_is_an_invalid_security_token(world):
    env = sign(world.mzj, query(world, world.mzj))
    token = env.find(f".//{{{WSSE}}}BinarySecurityToken")
    token.text = base64.b64encode(b"not a certificate").decode()
    assert fault(post(world, env))[0] == "wsse:InvalidSecurityToken"


# ------------------------------------------------------------------------------ publication


def test_publication_requires_a_signature_from_the_publishers_department(world):
    token = _token(world, "gaj")
    unsigned = post(world, _save_business(token, "临江市公安局户籍科"), "/uddi/publication")
    assert fault(unsigned)[0] == "wsse:InvalidSecurity"
    mismatched = post(world, sign(world.mzj, _save_business(token, "临江市公安局户籍科")), "/uddi/publication")
    assert b"E_userMismatch" in mismatched.content
    signed = post(world, sign(world.gaj, _save_business(token, "临江市公安局户籍科")), "/uddi/publication")
    assert signed.status_code == 200, signed.text
    response = etree.fromstring(signed.content)
    PlatformSignature(str(world.gaj.key), str(world.gaj.cert), ca_pem=world.ca_pem).verify(response)
    # inquiry stays open: no signature needed to discover services
    inquiry = post(world, envelope('<find_business xmlns="urn:uddi-org:api_v3"><name>临江市公安局户籍科</name>'
                                   "</find_business>"), "/uddi/inquiry")
    assert inquiry.status_code == 200 and "临江市公安局户籍科".encode() in inquiry.content


def test_subscription_requires_a_signature_from_the_subscribers_department(world):
    token = _token(world, "gaj")

    def get_subscriptions() -> etree._Element:
        return envelope(f'<get_subscriptions xmlns="urn:uddi-org:sub_v3"><authInfo xmlns="urn:uddi-org:api_v3">'
                        f"{token}</authInfo></get_subscriptions>")

    assert fault(post(world, get_subscriptions(), "/uddi/subscription"))[0] == "wsse:InvalidSecurity"
    assert b"E_userMismatch" in post(world, sign(world.mzj, get_subscriptions()), "/uddi/subscription").content
    signed = post(world, sign(world.gaj, get_subscriptions()), "/uddi/subscription")
    assert signed.status_code == 200, signed.text
    PlatformSignature(str(world.gaj.key), str(world.gaj.cert), ca_pem=world.ca_pem).verify(
        etree.fromstring(signed.content))


def test_without_ws_security_a_must_understand_security_header_is_a_fault(world, sessions):
    off = replace(world.settings, wss_policy="off")
    srv = LiveServer(server.build_app(off, sessions), free_port()).start()
    try:
        env = sign(world.mzj, query(world, world.mzj))
        env.find(f".//{{{WSSE}}}Security").set(f"{{{SOAP_ENV}}}mustUnderstand", "1")
        reply = requests.post(f"{srv.url}/exchange", data=etree.tostring(env), timeout=60)
        assert fault(reply)[0] == "soap:MustUnderstand"
    finally:
        srv.stop()


def test_only_the_sending_department_may_ask_about_a_batch(world):
    from sqlalchemy import select

    from registry.models import InputBatch

    with world.sessions() as session:
        batch_id = session.scalar(select(InputBatch.batch_id))
    ask = f'<ex:GetBatchStatus xmlns:ex="{EX}"><ex:batchId>{batch_id}</ex:batchId></ex:GetBatchStatus>'
    mine = post(world, sign(world.gaj, envelope(ask)))
    assert mine.status_code == 200 and b"accepted" in mine.content
    code, message = fault(post(world, sign(world.mzj, envelope(ask))))
    assert "NotAuthorized" in message and "its own batches" in message


def test_the_purpose_of_a_signed_query_is_recorded_with_the_certificate(world):
    from sqlalchemy import select

    from registry.models import AuditEntry

    body = query(world, world.mzj)
    etree.SubElement(body.find(f".//{{{EX}}}QueryRecords"), f"{{{EX}}}purpose").text = "低保资格核查"
    assert post(world, sign(world.mzj, body)).status_code == 200
    with world.sessions() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.operation == "exchange.query_records")
                                .order_by(AuditEntry.seq.desc())).first()
    assert (entry.purpose, entry.department_code, entry.result) == ("低保资格核查", "mzj", "ok")
    assert entry.certificate_serial and entry.record_count == 1
