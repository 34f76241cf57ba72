"""Certificates by request (CSR): a department - or one of its application systems (应用系统) - sends a
PKCS#10 request and keeps its key; the security administrator approves and the platform CA issues
under the platform's subject; renewal, refusal, revocation by the department itself, the expiring
list.  Real databases (SQLite, PostgreSQL), the real openssl binary for the command line."""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from directory.accounts import create_user, register_department
from directory.demo import credit_code_for
from registry.clock import utcnow
from registry.db import unit_of_work
from registry.errors import Conflict, GovshareError, InvalidInput, NotFound, NotPermitted
from registry.models import AppSystem, AuditEntry, Certificate, CertificateRequest, Department
from trust import certificates, pki

from ..conftest import as_user, govshare_here
from .csrs import ec_key, key_pem, make_csr, rsa_key


@pytest.fixture
def town(sessions, settings):
    """The CA; 公安局 (gaj) with its system gaj.hukou and its person ``gaj`` (cataloguer, provider);
    民政局 (mzj) with ``mzj`` (provider); the security administrator ``sec``."""
    pki.init_ca(settings)
    with unit_of_work(sessions) as session:
        gaj = register_department(session, settings, code="gaj", name="临江市公安局",
                                  credit_code=credit_code_for("00250102"))
        mzj = register_department(session, settings, code="mzj", name="临江市民政局",
                                  credit_code=credit_code_for("00250103"))
        session.add(AppSystem(department_id=gaj.id, code="gaj.hukou", name="户籍管理系统", status="active",
                              created=utcnow(), created_by="test"))
        create_user(session, username="gaj", password="pw", department=gaj, roles=("cataloguer", "provider"))
        create_user(session, username="mzj", password="pw", department=mzj, roles=("provider",))
        create_user(session, username="sec", password="pw", department=None, roles=("security",))
    return lambda username: as_user(sessions, settings, username)


def _refused(error: GovshareError, code: str) -> None:
    """The refusal has its code, an English message and a Chinese one of its own."""
    assert error.code == code
    assert error.message.strip() and not any("\u4e00" <= ch <= "\u9fff" for ch in error.message)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error.user_message)


def _issued(town, csr: str, **inputs) -> certificates.Approval:
    requested = certificates.request(town("gaj"), csr=csr, **inputs)
    return certificates.approve(town("sec"), request_id=requested.id)


# ------------------------------------------------------------------------------ what a request must be


@pytest.mark.parametrize("text, says", [
    ("hello", "not a PKCS#10 certificate request"),
    ("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", "not a PKCS#10"),
    (b"\x30\x03\x02\x01\x00", "not a PKCS#10"),  # DER, but not a request
])
def test_what_is_not_a_pkcs10_request_is_refused(town, text, says):
    with pytest.raises(InvalidInput) as refused:
        certificates.request(town("gaj"), csr=text)
    _refused(refused.value, "InvalidCsr")
    assert says in refused.value.message and "openssl req" in refused.value.message
    assert "证书请求" in refused.value.user_message


def test_a_certificate_or_a_private_key_sent_instead_is_refused_and_the_key_is_not_kept(town, sessions, settings):
    key, _csr = make_csr()
    with pytest.raises(InvalidInput) as refused:
        certificates.request(town("gaj"), csr=key_pem(key))
    _refused(refused.value, "InvalidCsr")
    assert "private key" in refused.value.message and "私钥不得离开本单位" in refused.value.user_message
    with pytest.raises(InvalidInput, match="not a PKCS#10"):
        certificates.request(town("gaj"), csr=pki.ca_certificate(settings).public_bytes(serialization.Encoding.PEM))
    with sessions() as session:
        assert session.scalars(select(CertificateRequest)).all() == []
        detail = session.scalar(select(AuditEntry.detail).where(AuditEntry.operation == "pki.request"))
    assert "BEGIN PRIVATE KEY" not in detail and detail.startswith("this is a private key")


def test_a_request_whose_signature_does_not_verify_is_refused(town):
    _key, pem = make_csr(cn="gaj-request")
    der = x509.load_pem_x509_csr(pem.encode()).public_bytes(serialization.Encoding.DER)
    altered = der.replace(b"gaj-request", b"gaj-altered")  # the subject changed after signing
    with pytest.raises(InvalidInput) as refused:
        certificates.request(town("gaj"), csr=altered)
    _refused(refused.value, "CsrSignatureInvalid")
    assert "does not verify" in refused.value.message and "签名校验未通过" in refused.value.user_message


@pytest.mark.parametrize("key, given", [
    (lambda: rsa_key(1024), "RSA 1024"),
    (lambda: ec_key(ec.SECP256K1()), "EC secp256k1"),
    (lambda: ec_key(ec.SECP521R1()), "EC secp521r1"),
])
def test_a_weak_or_unusual_key_is_refused(town, key, given):
    with pytest.raises(InvalidInput) as refused:
        certificates.request(town("gaj"), csr=make_csr(key())[1])
    _refused(refused.value, "CsrWeakKey")
    assert f"key is {given}" in refused.value.message and "2048" in refused.value.message
    assert given in refused.value.user_message and "强度不足" in refused.value.user_message


def test_a_request_signed_with_sha1_or_sha224_is_refused(town, tmp_path):
    made = subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-sha1", "-subj", "/CN=x",
                           "-keyout", str(tmp_path / "k.pem"), "-outform", "DER", "-out", str(tmp_path / "x.der")],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    with pytest.raises(InvalidInput) as refused:
        certificates.request(town("gaj"), csr=(tmp_path / "x.der").read_bytes())
    _refused(refused.value, "CsrWeakSignature")
    assert "signed with SHA1" in refused.value.message and "SHA-256" in refused.value.user_message
    with pytest.raises(InvalidInput, match="signed with SHA224"):
        certificates.request(town("gaj"), csr=make_csr(algorithm=hashes.SHA224())[1])


def test_a_key_is_certified_once(town, sessions, settings):
    key, pem = make_csr()
    pending = certificates.request(town("gaj"), csr=pem)
    with pytest.raises(Conflict) as refused:  # the same key, asked for again while the first is pending
        certificates.request(town("gaj"), csr=make_csr(key)[1])
    _refused(refused.value, "KeyReused")
    assert f"certificate request #{pending.id}" in refused.value.message
    certificates.approve(town("sec"), request_id=pending.id)
    with pytest.raises(Conflict, match="already held by certificate"):  # ... and once it is certified
        certificates.request(town("mzj"), csr=make_csr(key)[1])
    with unit_of_work(sessions) as session:  # a key the centre made (pki issue) is no new key either
        made = pki.issue(session, settings, pki.find_department(session, "gaj"))
    with pytest.raises(Conflict) as again:
        certificates.request(town("gaj"), csr=make_csr(made.key)[1])
    assert f"certificate {made.record.serial}" in again.value.message and "生成新的密钥" in again.value.user_message
    refused_key, refused_pem = make_csr()  # a refused request's key may be sent again
    first = certificates.request(town("gaj"), csr=refused_pem)
    certificates.refuse(town("sec"), request_id=first.id, reason="申请单位有误")
    assert certificates.request(town("gaj"), csr=make_csr(refused_key)[1]).status == "submitted"


# ------------------------------------------------------------------------------ approval


def test_approval_issues_a_certificate_of_the_platform_subject_for_the_requested_key(town, sessions, settings):
    key, pem = make_csr(cn="CN chosen by the requester")
    requested = certificates.request(town("gaj"), csr=pem)
    assert (requested.status, requested.holder, requested.key, requested.submitted_by) == (
        "submitted", "gaj", "RSA 2048", "gaj")
    approved = certificates.approve(town("sec"), request_id=requested.id)
    cert = x509.load_pem_x509_certificate(approved.pem.encode())
    assert pki.chains_to(cert, pki.ca_certificate(settings))
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    credit_code = credit_code_for("00250102")
    assert cert.subject.rfc4514_string() == f"2.5.4.5={credit_code},O=临江市公安局,CN=gaj"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [pki.DEPARTMENT_URI + credit_code]
    assert approved.certificate.serial == format(cert.serial_number, "x") and approved.renewed is None
    with sessions() as session:
        row = session.get(CertificateRequest, requested.id)
        record = session.get(Certificate, approved.certificate.serial)
    assert (row.status, row.decided_by, row.certificate_serial) == ("issued", "sec", record.serial)
    assert (record.status, record.system_id) == ("valid", None)
    # the department downloads it; nothing of its key is at the centre
    downloaded = certificates.certificate(town("gaj"), serial=approved.certificate.serial)
    assert downloaded.pem == approved.pem and downloaded.filename == f"gaj-{record.serial}.pem"
    assert sorted(p.name for p in pki.pki_dir(settings).rglob("*.key")) == ["ca.key"]


def test_a_systems_certificate_names_the_system_and_its_department(town, sessions, settings):
    key, pem = make_csr(ec_key(ec.SECP256R1()))
    approved = _issued(town, pem, system="gaj.hukou")
    cert = x509.load_pem_x509_certificate(approved.pem.encode())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "gaj.hukou"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "临江市公安局"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [
        pki.DEPARTMENT_URI + credit_code_for("00250102"), pki.SYSTEM_URI + "gaj.hukou"]
    assert not cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_encipherment  # an EC key
    assert approved.certificate.system_code == "gaj.hukou" and approved.certificate.holder == "gaj.hukou"
    with sessions() as session:
        system_id = session.scalar(select(AppSystem.id).where(AppSystem.code == "gaj.hukou"))
        assert session.get(Certificate, approved.certificate.serial).system_id == system_id
    listed = certificates.certificates(town("gaj"))
    assert [(h.serial, h.system_code) for h in listed] == [(approved.certificate.serial, "gaj.hukou")]


def test_a_department_asks_only_for_itself_and_its_own_systems(town):
    with pytest.raises(NotPermitted) as refused:
        certificates.request(town("mzj"), csr=make_csr()[1], system="gaj.hukou")
    assert "another department" in refused.value.message and "gaj.hukou" in refused.value.user_message
    with pytest.raises(NotFound) as unknown:
        certificates.request(town("gaj"), csr=make_csr()[1], system="gaj.nosuch")
    assert unknown.value.code == "UnknownSystem" and "gaj.nosuch" in unknown.value.user_message
    with pytest.raises(NotPermitted, match="may not connect"):
        certificates.request(town("sec"), csr=make_csr()[1])  # the security administrator approves, never asks


def test_a_suspended_department_or_system_gets_no_certificate(town, sessions):
    pending = certificates.request(town("gaj"), csr=make_csr()[1], system="gaj.hukou")
    with unit_of_work(sessions) as session:
        system = session.scalar(select(AppSystem).where(AppSystem.code == "gaj.hukou"))
        system.status, system.suspension_reason = "suspended", "安全检查"
    with pytest.raises(NotPermitted) as refused:
        certificates.request(town("gaj"), csr=make_csr()[1], system="gaj.hukou")
    assert refused.value.code == "SystemSuspended" and "户籍管理系统 已被暂停接入" in refused.value.user_message
    with pytest.raises(NotPermitted, match="suspended"):  # nor is one pending approved meanwhile
        certificates.approve(town("sec"), request_id=pending.id)
    with unit_of_work(sessions) as session:
        session.scalar(select(Department).where(Department.code == "gaj")).status = "suspended"
    with pytest.raises(NotPermitted) as department:
        certificates.request(town("gaj"), csr=make_csr()[1])
    assert department.value.code == "DepartmentSuspended"


def test_a_refusal_says_why_and_a_decided_request_stays_decided(town):
    requested = certificates.request(town("gaj"), csr=make_csr()[1])
    with pytest.raises(InvalidInput) as blank:
        certificates.refuse(town("sec"), request_id=requested.id, reason="  ")
    assert blank.value.code == "ReasonRequired" and blank.value.field == "reason"
    refused = certificates.refuse(town("sec"), request_id=requested.id, reason="请改用应用系统证书")
    assert (refused.status, refused.reason, refused.decided_by) == ("refused", "请改用应用系统证书", "sec")
    for decide in (lambda: certificates.approve(town("sec"), request_id=requested.id),
                   lambda: certificates.refuse(town("sec"), request_id=requested.id, reason="again")):
        with pytest.raises(Conflict) as again:
            decide()
        assert again.value.code == "RequestAlreadyDecided" and "已由 sec 处理 (已拒绝)" in again.value.user_message
    with pytest.raises(NotFound) as missing:
        certificates.approve(town("sec"), request_id=9999)
    assert missing.value.code == "CertificateRequestNotFound"
    with pytest.raises(NotPermitted):  # a department does not approve its own requests
        certificates.approve(town("gaj"), request_id=requested.id)


def test_each_department_sees_its_own_requests_and_the_security_administrator_all(town):
    ours = certificates.request(town("gaj"), csr=make_csr()[1], system="gaj.hukou")
    theirs = certificates.request(town("mzj"), csr=make_csr()[1])
    assert [r.id for r in certificates.requests(town("gaj"))] == [ours.id]
    assert [r.id for r in certificates.requests(town("mzj"), status="submitted")] == [theirs.id]
    assert [r.id for r in certificates.requests(town("sec"))] == [theirs.id, ours.id]
    assert [r.id for r in certificates.requests(town("sec"), department="gaj")] == [ours.id]
    with pytest.raises(NotPermitted):
        certificates.requests(town("mzj"), department="gaj")
    with pytest.raises(InvalidInput) as status:
        certificates.requests(town("sec"), status="lost")
    assert status.value.code == "UnknownStatus"


# ------------------------------------------------------------------------------ renewal, revocation, expiry


def test_a_renewal_is_a_new_key_and_the_old_certificate_stays_valid_until_its_end(town, sessions):
    first = _issued(town, make_csr()[1], system="gaj.hukou")
    renewal = certificates.request(town("gaj"), csr=make_csr()[1], renews=first.certificate.serial.upper())
    assert (renewal.renews, renewal.system_code) == (first.certificate.serial, "gaj.hukou")  # the system's
    approved = certificates.approve(town("sec"), request_id=renewal.id)
    assert approved.renewed.serial == first.certificate.serial
    assert approved.renewed.status == "valid" and approved.renewed.not_after == first.certificate.not_after
    assert approved.certificate.system_code == "gaj.hukou" and approved.certificate.serial != first.certificate.serial
    with sessions() as session:
        statuses = dict(session.execute(select(Certificate.serial, Certificate.status)).all())
    assert statuses == {first.certificate.serial: "valid", approved.certificate.serial: "valid"}


def test_only_its_own_valid_certificate_is_renewed(town):
    theirs = certificates.approve(town("sec"), request_id=certificates.request(town("mzj"), csr=make_csr()[1]).id)
    with pytest.raises(InvalidInput) as refused:
        certificates.request(town("gaj"), csr=make_csr()[1], renews=theirs.certificate.serial)
    assert refused.value.code == "NotRenewable" and "不属于本部门" in refused.value.user_message
    ours = _issued(town, make_csr()[1])
    with pytest.raises(InvalidInput, match="is not the system gaj.hukou's"):
        certificates.request(town("gaj"), csr=make_csr()[1], system="gaj.hukou", renews=ours.certificate.serial)
    certificates.revoke(town("gaj"), serial=ours.certificate.serial, reason="superseded")
    with pytest.raises(InvalidInput) as revoked:
        certificates.request(town("gaj"), csr=make_csr()[1], renews=ours.certificate.serial)
    assert "has revoked" in revoked.value.message and "已吊销" in revoked.value.user_message


def test_a_department_revokes_its_own_certificate_at_once_and_the_crl_says_so(town, settings):
    ours = _issued(town, make_csr()[1])
    with pytest.raises(NotPermitted) as other:
        certificates.revoke(town("mzj"), serial=ours.certificate.serial, reason="keyCompromise")
    assert "属于其他部门" in other.value.user_message
    with pytest.raises(NotPermitted):
        certificates.certificate(town("mzj"), serial=ours.certificate.serial)
    revoked = certificates.revoke(town("gaj"), serial=ours.certificate.serial, reason="keyCompromise")
    assert (revoked.status, revoked.revocation_reason) == ("revoked", "keyCompromise")
    crl = x509.load_pem_x509_crl((pki.pki_dir(settings) / "crl.pem").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(int(ours.certificate.serial, 16)) is not None
    theirs = certificates.approve(town("sec"), request_id=certificates.request(town("mzj"), csr=make_csr()[1]).id)
    assert certificates.revoke(town("sec"), serial=theirs.certificate.serial, reason="cessationOfOperation").status \
        == "revoked"  # the security administrator: any department's


def test_the_expiring_list_holds_valid_certificates_ending_within_the_days(town, sessions):
    made = {name: _issued(town, make_csr()[1], **({"system": "gaj.hukou"} if name == "soon" else {}))
            for name in ("soon", "later", "far", "ended", "revoked")}
    now = utcnow()
    ends = {"soon": now + timedelta(days=3), "later": now + timedelta(days=29), "far": now + timedelta(days=60),
            "ended": now - timedelta(days=1), "revoked": now + timedelta(days=5)}
    with unit_of_work(sessions) as session:
        for name, approval in made.items():
            session.get(Certificate, approval.certificate.serial).not_after = ends[name]
    certificates.revoke(town("sec"), serial=made["revoked"].certificate.serial, reason="superseded")
    expiring = certificates.expiring(town("sec"))
    assert [h.serial for h in expiring] == [made["soon"].certificate.serial, made["later"].certificate.serial]
    assert (expiring[0].system_code, expiring[0].department_name) == ("gaj.hukou", "临江市公安局")
    assert len(certificates.expiring(town("sec"), days=90)) == 3
    with pytest.raises(InvalidInput):
        certificates.expiring(town("sec"), days=0)
    with pytest.raises(NotPermitted):
        certificates.expiring(town("gaj"))


# ------------------------------------------------------------------------------ the command line, with openssl


def test_the_command_line_with_a_request_made_by_openssl(town, sessions, settings, tmp_path):
    env = dict(os.environ, GOVSHARE_VAR=str(settings.var_dir))

    def govshare(*args: str) -> subprocess.CompletedProcess:
        return govshare_here("--db-url", settings.db_url, "admin", "cert", *args, env=env)

    made = subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout",
                           str(tmp_path / "k.pem"), "-subj", "/CN=x", "-out", str(tmp_path / "x.csr")],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    sent = govshare("request", str(tmp_path / "x.csr"), "--system", "gaj.hukou", "--user", "gaj")
    assert sent.returncode == 0, sent.stderr
    assert "certificate request #1 for gaj.hukou (RSA 2048) submitted" in sent.stdout
    assert "#1" in govshare("requests", "--status", "submitted", "--user", "sec").stdout
    approved = govshare("approve", "1", "--user", "sec", "--out", str(tmp_path / "x.pem"))
    assert approved.returncode == 0, approved.stderr
    cert = x509.load_pem_x509_certificate((tmp_path / "x.pem").read_bytes())
    assert pki.chains_to(cert, pki.ca_certificate(settings))
    key = serialization.load_pem_private_key((tmp_path / "k.pem").read_bytes(), None)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    serial = format(cert.serial_number, "x")
    assert govshare("show", serial, "--user", "gaj").stdout == (tmp_path / "x.pem").read_text()
    assert serial in govshare("list", "--user", "gaj").stdout
    again = govshare("request", str(tmp_path / "x.csr"), "--user", "gaj")  # the same key again
    assert again.returncode == 2 and "already held by certificate" in again.stderr
    notone = govshare("request", str(tmp_path / "k.pem"), "--user", "gaj")
    assert notone.returncode == 2 and "private key" in notone.stderr
    revoked = govshare("revoke", serial, "--reason", "keyCompromise", "--user", "gaj")
    assert revoked.returncode == 0 and f"revoked {serial}" in revoked.stdout
    assert govshare("approve", "1", "--user", "sec").returncode == 2  # decided already
    assert "no valid certificate ends within 30 days" in govshare("expiring", "--user", "sec").stdout
    with sessions() as session:
        entries = session.execute(select(AuditEntry.operation, AuditEntry.result, AuditEntry.user)
                                  .where(AuditEntry.channel == "cli").order_by(AuditEntry.seq)).all()
    assert [tuple(e) for e in entries] == [
        ("pki.request", "ok", "gaj"), ("pki.requests", "ok", "sec"), ("pki.approve", "ok", "sec"),
        ("pki.certificate", "ok", "gaj"), ("pki.list", "ok", "gaj"), ("pki.request", "refused:KeyReused", "gaj"),
        ("pki.request", "refused:InvalidCsr", "gaj"), ("pki.revoke", "ok", "gaj"),
        ("pki.approve", "refused:RequestAlreadyDecided", "sec"), ("pki.expiring", "ok", "sec")]


# ------------------------------------------------------------------------------ 站内消息


def _told(sessions) -> list[tuple[str, str, str, str, bool]]:
    """Every notice: (to whom, subject, ref, text, unread), oldest first."""
    from registry.models import Notice, User

    with sessions() as s:
        return [(u, subject, ref, text, read_at is None) for u, subject, ref, text, read_at in s.execute(
            select(User.username, Notice.subject, Notice.ref, Notice.text, Notice.read_at)
            .join(User, Notice.user_id == User.id).order_by(Notice.id))]


def test_a_request_tells_the_security_administrator_and_the_decision_the_department(town, sessions):
    _key, csr = make_csr()
    asked = certificates.request(town("gaj"), csr=csr, system="gaj.hukou")
    assert _told(sessions) == [("sec", "certificate", str(asked.id),
                                f"临江市公安局申请为应用系统 gaj.hukou 签发证书 (证书申请 #{asked.id}), 待审核。",
                                True)]
    issued = certificates.approve(town("sec"), request_id=asked.id)
    told = _told(sessions)
    assert told[0][4] is False  # decided: the security administrator's notice to decide is read
    ends = (issued.certificate.not_after + timedelta(hours=8)).strftime("%Y-%m-%d")
    assert told[1:] == [("gaj", "certificate", str(asked.id),
                         f"证书申请 #{asked.id} 已批准: 证书 {issued.certificate.serial} 已签发, 有效期至 {ends}; "
                         "请在“证书”页下载, 连同私钥安装到应用系统 gaj.hukou。", True)]
    # a refusal quotes its reason; mzj's people only are told of mzj's request
    _key, other = make_csr()
    refused = certificates.request(town("mzj"), csr=other)
    certificates.refuse(town("sec"), request_id=refused.id, reason="请使用 RSA 2048 位以上的密钥")
    assert _told(sessions)[-1] == ("mzj", "certificate", str(refused.id),
                                   f"证书申请 #{refused.id} 未获批准: 请使用 RSA 2048 位以上的密钥", True)
    # the security administrator revokes it: the department is told its calls will be refused
    certificates.revoke(town("sec"), serial=issued.certificate.serial, reason="keyCompromise")
    *_, (to, subject, ref, text, unread) = _told(sessions)
    assert (to, subject, ref, unread) == ("gaj", "certificate", issued.certificate.serial, True)
    assert text.startswith(f"gaj.hukou 的证书 {issued.certificate.serial} 已于 ")
    assert text.endswith("被吊销 (原因: 密钥泄露); 用它签名的调用从此被拒绝, 如需继续调用请申请新证书。")


def test_a_refused_request_tells_no_one(town, sessions):
    with pytest.raises(InvalidInput):
        certificates.request(town("gaj"), csr="hello")
    assert _told(sessions) == []
