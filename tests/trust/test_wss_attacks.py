"""WS-Security holds against what an outside review sent: replays with a re-spelt
SignatureValue, malformed base64, impossible Timestamps, WSS4J-shaped signatures (Apache CXF,
Rampart, Spring-WS) and anything verification cannot read - each refused with a ``wsse:``
client fault, never an internal error - and faults answering signed requests are signed, so a
signing client sees the service's own fault."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import xmlsec
import zeep
from lxml import etree
from sqlalchemy import func, select
from zeep.exceptions import Fault

from client.wss import WSU, PlatformSignature, ResponseNotTrusted, add_timestamp
from registry.models import InputBatch, UddiName

from ..conftest import free_port
from .conftest import DS, EX, SOAP_ENV, WSSE, Dept, World, envelope, fault, post, query, sign
from .conftest import save_business as _save_business
from .conftest import token_of as _token

ROOT = Path(__file__).resolve().parents[2]
CLIENT_FAULTS = {"wsse:InvalidSecurity", "wsse:FailedCheck", "wsse:InvalidSecurityToken", "wsse:MessageExpired"}


def _signature_value(env: etree._Element) -> etree._Element:
    return env.find(f".//{{{DS}}}SignatureValue")


def _respelt(data: bytes, how: str) -> bytes:
    """The signed message with its SignatureValue's text spelt another way."""
    env = etree.fromstring(data)
    value = _signature_value(env)
    text = "".join(value.text.split())
    middle = len(text) // 2
    value.text = {
        "dot": text[:middle] + "." + text[middle:],
        "star": "*" + text,
        "trailing-junk": text + "!",
        "surplus padding": text + "=",
        "line breaks": "\n".join(text[i:i + 64] for i in range(0, len(text), 64)),
    }[how]
    return etree.tostring(env)


# ------------------------------------------------------------------------------ replay (item 1)


@pytest.mark.parametrize("how", ["dot", "star", "trailing-junk", "surplus padding"])
def test_a_replay_with_a_respelt_signature_value_is_refused_on_exchange(world, how):
    data = etree.tostring(sign(world.mzj, query(world, world.mzj)))
    assert post(world, data).status_code == 200
    assert "replay" in fault(post(world, data))[1]
    reply = post(world, _respelt(data, how))
    assert reply.status_code == 500 and b"QueryRecordsResponse" not in reply.content
    code, message = fault(reply)
    assert code == "wsse:InvalidSecurity" and "not strict base64" in message


def test_a_replay_with_the_signature_value_wrapped_over_lines_is_still_a_replay(world):
    """XML whitespace in base64 is legal (Santuario wraps at 76 characters), so it is the same signature."""
    data = etree.tostring(sign(world.mzj, query(world, world.mzj)))
    assert post(world, data).status_code == 200
    code, message = fault(post(world, _respelt(data, "line breaks")))
    assert code == "wsse:FailedCheck" and "replay" in message


def _businesses_named(world: World, name: str) -> int:
    with world.sessions() as session:
        return session.scalar(select(func.count()).select_from(UddiName)
                              .where(UddiName.kind == "business", UddiName.value == name))


@pytest.mark.parametrize("how", ["dot", "star"])
def test_a_replayed_save_business_with_a_respelt_signature_value_is_not_applied_again(world, how):
    data = etree.tostring(sign(world.gaj, _save_business(_token(world, "gaj"), "临江市公安局出入境科")))
    assert post(world, data, "/uddi/publication").status_code == 200
    assert _businesses_named(world, "临江市公安局出入境科") == 1
    assert "replay" in fault(post(world, data, "/uddi/publication"))[1]
    code, message = fault(post(world, _respelt(data, how), "/uddi/publication"))
    assert code == "wsse:InvalidSecurity" and "not strict base64" in message
    assert _businesses_named(world, "临江市公安局出入境科") == 1


def _serve_in_another_process(world: World) -> tuple[subprocess.Popen, str]:
    """``govshare serve`` as its own process on the same database and CA."""
    port = free_port()
    env = {**os.environ, "GOVSHARE_DB_URL": world.settings.db_url, "GOVSHARE_VAR": str(world.settings.var_dir),
           "GOVSHARE_PORT": str(port), "GOVSHARE_WSS": "require", "GOVSHARE_SCHEDULER": "0"}
    process = subprocess.Popen([sys.executable, "-m", "server", "serve", "--no-scheduler"], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the second server stopped: {process.stderr.read()}")
        try:
            if requests.get(f"{url}/exchange?wsdl", timeout=2).status_code == 200:
                return process, url
        except requests.ConnectionError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("the second server did not answer within 60 s")


def test_a_message_replayed_to_another_server_process_is_refused_there_in_any_spelling(world):
    data = etree.tostring(sign(world.mzj, query(world, world.mzj)))
    assert post(world, data).status_code == 200
    process, url = _serve_in_another_process(world)
    try:
        for attempt in (data, _respelt(data, "line breaks")):
            reply = requests.post(f"{url}/exchange", data=attempt, headers={"Content-Type": "text/xml"}, timeout=60)
            assert fault(reply)[0] == "wsse:FailedCheck" and "replay" in fault(reply)[1]
        reply = requests.post(f"{url}/exchange", data=_respelt(data, "dot"), headers={"Content-Type": "text/xml"},
                              timeout=60)
        assert fault(reply)[0] == "wsse:InvalidSecurity"
    finally:
        process.kill()
        process.wait()


# ------------------------------------------------------------------------------ malformed values (item 2)


@pytest.mark.parametrize("value", ["", "   ", "not base64 at all!", "QUJD=", "QUI", "QR=="])
@pytest.mark.parametrize("path", ["/exchange", "/uddi/publication"])
def test_a_malformed_signature_value_is_a_wsse_client_fault(world, path, value):
    body = query(world, world.mzj) if path == "/exchange" else _save_business(_token(world, "mzj"), "x")
    env = sign(world.mzj, body)
    _signature_value(env).text = value
    reply = post(world, env, path)
    code, message = fault(reply)
    assert reply.status_code == 500 and code in CLIENT_FAULTS, (code, message)
    assert "InternalError" not in message and "E_fatalError" not in message


def test_a_malformed_digest_value_is_a_wsse_client_fault(world):
    env = sign(world.mzj, query(world, world.mzj))
    digest = env.find(f".//{{{DS}}}DigestValue")
    digest.text = digest.text + "*"
    code, message = fault(post(world, env))
    assert code == "wsse:InvalidSecurity" and "ds:DigestValue is not strict base64" in message


def test_a_binary_security_token_with_junk_in_its_base64_is_an_invalid_security_token(world):
    env = sign(world.mzj, query(world, world.mzj))
    token = env.find(f".//{{{WSSE}}}BinarySecurityToken")
    token.text = token.text.strip() + "."
    code, message = fault(post(world, env))
    assert code == "wsse:InvalidSecurityToken" and "not strict base64" in message


def test_a_signature_value_of_the_wrong_length_for_the_key_is_a_failed_check(world):
    """A verifier that accepted a shortened RSA value would accept a second spelling of one signature."""
    import base64

    env = sign(world.mzj, query(world, world.mzj))
    value = _signature_value(env)
    value.text = base64.b64encode(b"\0" + base64.b64decode("".join(value.text.split()))).decode()
    code, message = fault(post(world, env))
    assert code == "wsse:FailedCheck" and "257 bytes" in message


def test_a_timestamp_that_expires_before_it_was_created_is_refused(world):
    env = sign(world.mzj, query(world, world.mzj), created=datetime.now(UTC), lifetime=-30)
    code, message = fault(post(world, env))
    assert code == "wsse:MessageExpired" and "Expires must follow Created" in message


def test_the_lifetime_refusal_gives_the_real_length_of_a_day_long_timestamp(world):
    code, message = fault(post(world, sign(world.mzj, query(world, world.mzj), lifetime=24 * 3600)))
    assert code == "wsse:MessageExpired" and "valid for 86400 s" in message


# ------------------------------------------------------------------------------ signed faults (item 3)


def _client(world: World, dept: Dept, api: str) -> zeep.Client:
    wsse = PlatformSignature(str(dept.key), str(dept.cert), ca_pem=world.ca_pem)
    return zeep.Client(f"{world.url}/{api}?wsdl", wsse=wsse)


def test_a_refusal_reaches_a_signing_exchange_client_as_the_services_fault(world):
    """民政局 asks about 公安局's batch: NotAuthorized, not ResponseNotTrusted."""
    with world.sessions() as session:
        batch_id = session.scalar(select(InputBatch.batch_id))
    with pytest.raises(Fault) as raised:
        _client(world, world.mzj, "exchange").service.GetBatchStatus(batchId=batch_id)
    assert not isinstance(raised.value, ResponseNotTrusted)
    assert raised.value.message.startswith("NotAuthorized:") and "its own batches" in raised.value.message
    assert raised.value.detail.findtext(f".//{{{EX}}}code") == "NotAuthorized"


def test_a_validation_fault_reaches_a_signing_exchange_client_as_the_services_fault(world):
    with pytest.raises(Fault) as raised:
        _client(world, world.mzj, "exchange").service.QueryRecords(
            requester=world.mzj.credit_code, resourceCode="999999/999999", key=["110101199003077777"])
    assert raised.value.detail.findtext(f".//{{{EX}}}code") in {"UnknownResource", "NotPublished"}, raised.value


def test_a_publication_refusal_reaches_a_signing_uddi_client_as_its_disposition_report(world):
    """民政局 signs with its own key but presents 公安局's authToken: E_userMismatch, as a UDDI client reads it."""
    client = _client(world, world.mzj, "uddi/publication")
    with pytest.raises(Fault) as raised:
        client.service.save_business(authInfo=_token(world, "gaj"), businessEntity=[{"name": [{"_value_1": "x"}]}])
    assert "E_userMismatch" in raised.value.message
    assert raised.value.detail.find(".//{urn:uddi-org:api_v3}errInfo").get("errCode") == "E_userMismatch"


def test_a_fault_answering_a_signed_request_that_failed_verification_is_signed(world):
    data = etree.tostring(sign(world.mzj, query(world, world.mzj)))
    post(world, data)
    replayed = post(world, data)
    assert fault(replayed)[0] == "wsse:FailedCheck"
    checker = PlatformSignature(str(world.mzj.key), str(world.mzj.cert), ca_pem=world.ca_pem)
    checker.verify(etree.fromstring(replayed.content))  # signed by the platform: no ResponseNotTrusted


def test_a_fault_to_an_unsigned_request_is_not_signed(world):
    reply = post(world, query(world, world.mzj))
    assert fault(reply)[0] == "wsse:InvalidSecurity"
    assert etree.fromstring(reply.content).find(f"{{{SOAP_ENV}}}Header") is None


# ------------------------------------------------------------------------------ WSS4J's shape (item 4)


def sign_like_wss4j(dept: Dept, env: etree._Element, *, extra_in_c14n: etree._Element | None = None,
                    chain=(xmlsec.Transform.EXCL_C14N,)) -> etree._Element:
    """Sign as WSS4J 1.6-2.x does: ``ec:InclusiveNamespaces PrefixList`` in SignedInfo's
    CanonicalizationMethod and in each reference's exc-c14n transform, wsu:Ids of its own style,
    the SecurityTokenReference with its own Id, base64 wrapped over lines."""
    header = env.find(f"{{{SOAP_ENV}}}Header")
    security = etree.SubElement(header, f"{{{WSSE}}}Security", {f"{{{SOAP_ENV}}}mustUnderstand": "1"},
                                nsmap={"wsse": WSSE, "wsu": WSU})
    cert_pem = dept.cert.read_bytes()
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(Encoding.DER)
    import base64

    token = etree.SubElement(security, f"{{{WSSE}}}BinarySecurityToken", {
        "EncodingType": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#"
                        "Base64Binary",
        "ValueType": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3",
        f"{{{WSU}}}Id": "X509-6A1C9E3F0B8D4E2A91"})
    token.text = base64.encodebytes(der).decode()
    now = datetime.now(UTC)
    stamp = etree.SubElement(security, f"{{{WSU}}}Timestamp", {f"{{{WSU}}}Id": "TS-6A1C9E3F0B8D4E2A92"})
    etree.SubElement(stamp, f"{{{WSU}}}Created").text = now.strftime("%Y-%m-%dT%H:%M:%S.") + "123Z"
    etree.SubElement(stamp, f"{{{WSU}}}Expires").text = (now + timedelta(minutes=5)).strftime(
        "%Y-%m-%dT%H:%M:%S.") + "123Z"
    body = env.find(f"{{{SOAP_ENV}}}Body")
    body.set(f"{{{WSU}}}Id", "id-6A1C9E3F0B8D4E2A93")
    signature = xmlsec.template.create(env, xmlsec.Transform.EXCL_C14N, xmlsec.Transform.RSA_SHA256)
    signature.set("Id", "SIG-6A1C9E3F0B8D4E2A94")  # the keyword is ``name`` before xmlsec 1.3.18, ``id`` from it
    security.append(signature)
    c14n_method = signature.find(f"{{{DS}}}SignedInfo/{{{DS}}}CanonicalizationMethod")
    xmlsec.template.transform_add_c14n_inclusive_namespaces(c14n_method, ["soap"])
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_file(str(dept.key), xmlsec.KeyFormat.PEM)
    for target, prefixes in ((body, []), (stamp, ["wsse", "soap"])):
        ref = xmlsec.template.add_reference(signature, xmlsec.Transform.SHA256, uri="#" + target.get(f"{{{WSU}}}Id"))
        for step in chain:  # each reference's transforms (``chain``), exc-c14n with its PrefixList
            transform = xmlsec.template.add_transform(ref, step)
            if step == xmlsec.Transform.EXCL_C14N:
                xmlsec.template.transform_add_c14n_inclusive_namespaces(transform, prefixes or [""])
        ctx.register_id(target, "Id", WSU)
    key_info = xmlsec.template.ensure_key_info(signature, id="KI-6A1C9E3F0B8D4E2A95")
    reference = etree.SubElement(etree.SubElement(key_info, f"{{{WSSE}}}SecurityTokenReference",
                                                  {f"{{{WSU}}}Id": "STR-6A1C9E3F0B8D4E2A96"}),
                                 f"{{{WSSE}}}Reference", {"URI": "#X509-6A1C9E3F0B8D4E2A91"})
    reference.set("ValueType", token.get("ValueType"))
    ctx.sign(signature)
    if extra_in_c14n is not None:  # after signing: xmlsec itself would not sign with it
        c14n_method.append(extra_in_c14n)
    return env


def test_a_wss4j_shaped_signature_with_inclusive_namespaces_is_accepted(world):
    env = sign_like_wss4j(world.mzj, query(world, world.mzj))
    assert env.find(f".//{{{DS}}}CanonicalizationMethod/{{http://www.w3.org/2001/10/xml-exc-c14n#}}"
                    "InclusiveNamespaces").get("PrefixList") == "soap"
    assert len(env.findall(f".//{{{DS}}}Transform/{{http://www.w3.org/2001/10/xml-exc-c14n#}}"
                           "InclusiveNamespaces")) == 2
    reply = post(world, env)
    assert reply.status_code == 200, reply.text
    assert etree.fromstring(reply.content).findtext(f".//{{{EX}}}total") == "1"


def test_a_tampered_wss4j_shaped_message_is_a_failed_check(world):
    env = sign_like_wss4j(world.mzj, query(world, world.mzj))
    env.find(f".//{{{EX}}}key").text = "110101199003077777"
    code, message = fault(post(world, env))
    assert code == "wsse:FailedCheck" and "does not verify" in message


def test_an_unknown_element_in_the_canonicalization_method_is_a_wsse_fault(world):
    env = sign_like_wss4j(world.mzj, query(world, world.mzj), extra_in_c14n=etree.Element("{urn:other}Option"))
    code, message = fault(post(world, env))
    assert code == "wsse:InvalidSecurity" and "not valid XML-Signature" in message


def test_a_transform_other_than_exclusive_c14n_is_an_unsupported_algorithm(world):
    env = sign_like_wss4j(world.mzj, query(world, world.mzj))
    transform = env.find(f".//{{{DS}}}Transform")
    transform.set("Algorithm", "http://www.w3.org/TR/1999/REC-xpath-19991116")
    code, _message = fault(post(world, env))
    assert code == "wsse:UnsupportedAlgorithm"


ENVELOPED, EXCLUSIVE = xmlsec.Transform.ENVELOPED, xmlsec.Transform.EXCL_C14N


def test_enveloped_signature_before_exclusive_c14n_as_node_soap_writes_it_is_answered(world):
    """xml-crypto (node-soap's WSSecurityCert) puts enveloped-signature before exc-c14n on every
    reference by default; the Basic Security Profile allows it, and on the Body it takes nothing out."""
    env = sign_like_wss4j(world.mzj, query(world, world.mzj), chain=(ENVELOPED, EXCLUSIVE))
    # xmlsec made these nodes in this process: lxml's tag filters (find, iter(tag)) do not see them
    transforms = [e for e in env.iter() if e.tag == f"{{{DS}}}Transform"]
    assert [t.get("Algorithm").rsplit("#")[-1] for t in transforms] == ["enveloped-signature", ""] * 2
    reply = post(world, env)
    assert reply.status_code == 200, reply.text
    assert etree.fromstring(reply.content).findtext(f".//{{{EX}}}total") == "1"


def test_a_body_changed_under_an_enveloped_signature_transform_fails_the_check(world):
    env = sign_like_wss4j(world.mzj, query(world, world.mzj), chain=(ENVELOPED, EXCLUSIVE))
    env.find(f".//{{{EX}}}key").text = "110101199003077777"
    code, message = fault(post(world, env))
    assert code == "wsse:FailedCheck" and "does not verify" in message


@pytest.mark.parametrize("chain", [(ENVELOPED,), (ENVELOPED, ENVELOPED, EXCLUSIVE)], ids=["alone", "twice"])
def test_enveloped_signature_anywhere_but_first_before_exclusive_c14n_is_refused(world, chain):
    """Alone it leaves the reference in inclusive c14n: not what the platform verifies."""
    code, message = fault(post(world, sign_like_wss4j(world.mzj, query(world, world.mzj), chain=chain)))
    assert code == "wsse:UnsupportedAlgorithm" and "accepted only once, first, followed by" in message


def test_enveloped_signature_after_exclusive_c14n_is_refused_before_any_digest_is_computed(world):
    """xmlsec will not even sign it (the transform takes a node set, not octets): written by hand."""
    env = sign_like_wss4j(world.mzj, query(world, world.mzj))
    transforms = next(e for e in env.iter() if e.tag == f"{{{DS}}}Transforms")  # as above
    etree.SubElement(transforms, f"{{{DS}}}Transform", Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature")
    code, message = fault(post(world, env))
    assert code == "wsse:UnsupportedAlgorithm" and "accepted only once, first, followed by" in message


def test_a_timestamp_with_milliseconds_as_java_writes_it_is_fresh(world):
    env = query(world, world.mzj)
    add_timestamp(env)
    stamp = env.find(f".//{{{WSU}}}Timestamp")
    for child in stamp:
        child.text = child.text.replace("Z", ".517Z")
    from zeep.wsse.signature import BinarySignature

    BinarySignature(str(world.mzj.key), str(world.mzj.cert), signature_method=xmlsec.Transform.RSA_SHA256,
                    digest_method=xmlsec.Transform.SHA256).apply(env, {})
    assert post(world, env).status_code == 200


# ------------------------------------------------------------------------------ large signed requests (item 9)


def test_a_signed_batch_larger_than_a_small_request_is_verified_whole_and_loaded(world):
    """Over GOVSHARE_MAX_REQUEST, under the signed-document limit: verified and loaded, one at a time."""
    import uuid

    from xsd import samples
    from xsd.batch import build_batch

    from ..exchange.conftest import submit_body

    records = list(samples.population_records(7000, seed=17))
    batch = build_batch(records, provider_code=world.gaj.credit_code, resource_code=world.resource,
                        created=datetime(2026, 11, 3, tzinfo=UTC), batch_id=uuid.uuid4())
    data = etree.tostring(sign(world.gaj, envelope(submit_body(batch))))
    assert len(data) > world.settings.max_request_bytes
    reply = post(world, data)
    assert reply.status_code == 200, reply.text[:500]
    assert etree.fromstring(reply.content).findtext(f".//{{{EX}}}received") == "7000"


def test_a_large_message_whose_security_header_cannot_verify_is_refused_before_it_is_read_whole(world):
    """Its header fails on its own (an expired Timestamp): the 20 MB Body is never parsed into a tree."""
    body = f'<ex:SubmitBatch xmlns:ex="{EX}">' + "<y a='1'>t</y>" * 1_500_000 + "</ex:SubmitBatch>"
    stale = sign(world.gaj, envelope(body), created=datetime.now(UTC) - timedelta(hours=3))
    started = time.monotonic()
    code, message = fault(post(world, stale))
    assert code == "wsse:MessageExpired"
    assert time.monotonic() - started < 10
