"""The platform CA (S1): department certificates bound to the directory's identity, revocation, CRL."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from sqlalchemy import func, select

from directory.accounts import create_user, register_department
from directory.demo import credit_code_for
from registry.db import unit_of_work
from registry.errors import Conflict, InvalidInput, NotFound, Unavailable
from registry.models import AuditEntry, Certificate, UddiEntity
from trust import pki

from ..conftest import govshare_here


@pytest.fixture
def ca(settings):
    return pki.init_ca(settings)


@pytest.fixture
def gaj(sessions, settings):
    with unit_of_work(sessions) as session:
        dept = register_department(session, settings, code="gaj", name="临江市公安局",
                                   credit_code=credit_code_for("00250102"))
        return dept.id, dept.credit_code, dept.business_key


def test_the_ca_is_self_signed_its_key_private_and_never_silently_replaced(settings, ca):
    folder = pki.pki_dir(settings)
    assert stat.S_IMODE(os.stat(folder / "ca.key").st_mode) == 0o600
    constraints = ca.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and pki.chains_to(ca.certificate, ca.certificate)
    with pytest.raises(Conflict, match="already exists"):
        pki.init_ca(settings)
    assert pki.load_ca(settings).certificate == ca.certificate


def test_the_ca_opened_once_is_opened_again_when_its_files_change(sessions, settings, ca, gaj, monkeypatch):
    assert pki.load_ca(settings) is pki.load_ca(settings)  # the key's primes checked once, not per certificate
    replaced = pki.init_ca(settings, force=True)
    assert replaced.certificate != ca.certificate and pki.load_ca(settings).certificate == replaced.certificate
    with unit_of_work(sessions) as session:
        issued = pki.issue(session, settings, pki.find_department(session, "gaj"))
    assert pki.chains_to(issued.certificate, replaced.certificate)
    assert not pki.chains_to(issued.certificate, ca.certificate)
    monkeypatch.setenv("GOVSHARE_CA_PASSPHRASE", "ca-secret")
    with pytest.raises(Unavailable, match="GOVSHARE_CA_PASSPHRASE"):  # the same files, another passphrase
        pki.load_ca(settings)
    locked = pki.init_ca(settings, force=True)
    assert pki.load_ca(settings).certificate == locked.certificate
    monkeypatch.delenv("GOVSHARE_CA_PASSPHRASE")
    with pytest.raises(Unavailable, match="cannot open the CA key"):
        pki.load_ca(settings)


def test_a_department_certificate_is_bound_to_its_directory_identity(sessions, settings, ca, gaj):
    dept_id, credit_code, business_key = gaj
    with unit_of_work(sessions) as session:
        issued = pki.issue(session, settings, pki.find_department(session, "gaj"))
    cert = issued.certificate
    assert pki.chains_to(cert, ca.certificate)
    assert cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == credit_code
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "临江市公安局"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [pki.DEPARTMENT_URI + credit_code]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    with sessions() as session:
        record = session.get(Certificate, issued.record.serial)
        business = session.get(UddiEntity, business_key)
    assert (record.department_id, record.status) == (dept_id, "valid")
    assert record.fingerprint == cert.fingerprint(hashes.SHA256()).hex()
    assert credit_code in business.xml  # the same credit code the directory publishes for the department
    # the PKCS#12 opens with its password and carries the CA for the chain
    key, leaf, extra = pkcs12.load_key_and_certificates(issued.pkcs12(b"pw-123", ca.certificate), b"pw-123")
    assert leaf == cert and extra == [ca.certificate] and key is not None
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(issued.pkcs12(b"pw-123", ca.certificate), b"wrong")


def test_a_certificate_from_another_ca_does_not_chain(sessions, settings, ca, gaj, tmp_path):
    from dataclasses import replace

    other = replace(settings, var_dir=tmp_path / "elsewhere")
    pki.init_ca(other)
    with unit_of_work(sessions) as session:
        foreign = pki.issue(session, other, pki.find_department(session, "gaj"))
    assert not pki.chains_to(foreign.certificate, ca.certificate)


def test_ws_security_remembers_only_a_ca_signature_that_verified(sessions, settings, ca, gaj, tmp_path):
    from dataclasses import replace

    from trust import wsse

    other = replace(settings, var_dir=tmp_path / "elsewhere")
    pki.init_ca(other)
    with unit_of_work(sessions) as session:
        ours = pki.issue(session, settings, pki.find_department(session, "gaj"))
        foreign = pki.issue(session, other, pki.find_department(session, "gaj"))
    for _ in range(2):
        assert wsse._issued_by(ours.certificate, ca.certificate)
        assert not wsse._issued_by(foreign.certificate, ca.certificate)
    assert (ours.certificate, ca.certificate) in wsse._ISSUED
    assert (foreign.certificate, ca.certificate) not in wsse._ISSUED


def test_revocation_is_published_in_a_signed_crl(sessions, settings, ca, gaj):
    with unit_of_work(sessions) as session:
        kept = pki.issue(session, settings, pki.find_department(session, "gaj"))
        lost = pki.issue(session, settings, pki.find_department(session, "gaj"))
    with unit_of_work(sessions) as session:
        pki.revoke(session, settings, lost.record.serial, "keyCompromise")
    crl = x509.load_pem_x509_crl((pki.pki_dir(settings) / "crl.pem").read_bytes())
    assert crl.is_signature_valid(ca.certificate.public_key())
    entry = crl.get_revoked_certificate_by_serial_number(lost.certificate.serial_number)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
    assert crl.get_revoked_certificate_by_serial_number(kept.certificate.serial_number) is None
    with unit_of_work(sessions) as session:
        with pytest.raises(Conflict, match="already revoked"):
            pki.revoke(session, settings, lost.record.serial)
        with pytest.raises(InvalidInput, match="unknown reason"):
            pki.revoke(session, settings, kept.record.serial, "boredom")
        with pytest.raises(NotFound, match="no certificate"):
            pki.revoke(session, settings, "abc123")
    with sessions() as session:
        assert session.scalars(select(Certificate.status).order_by(Certificate.issued)).all() == ["valid", "revoked"]


def test_issuing_without_a_ca_says_what_to_do(sessions, settings, gaj):
    with unit_of_work(sessions) as session:
        with pytest.raises(Unavailable, match="govshare pki init"):
            pki.issue(session, settings, pki.find_department(session, "gaj"))
        with pytest.raises(NotFound, match="no department"):
            pki.find_department(session, "nobody")


def test_the_command_line_and_the_published_files(sessions, settings, gaj, live_server, tmp_path):
    env = dict(os.environ, GOVSHARE_VAR=str(settings.var_dir))

    def govshare(*args: str, process: bool = False) -> subprocess.CompletedProcess:
        argv = ["--db-url", settings.db_url, "pki", *args]
        if process:
            return subprocess.run([sys.executable, "-m", "server", *argv], capture_output=True, text=True,
                                  timeout=120, env=env)
        return govshare_here(*argv, env=env)

    assert requests.get(f"{live_server.url}/pki/ca.pem", timeout=10).status_code == 404
    assert govshare("issue", "gaj", process=True).returncode == 1  # no CA yet
    assert "CA created" in govshare("init").stdout
    again = govshare("init")
    assert again.returncode == 2 and "already exists" in again.stderr  # the caller's to decide: --force
    out = tmp_path / "handover"
    issued = govshare("issue", "临江市公安局", "--out", str(out), "--password", "s3cret-pw")
    assert issued.returncode == 0, issued.stderr
    assert "made at the centre, for the demo and tests" in issued.stderr  # departments send a CSR
    assert "govshare admin cert request" in issued.stderr
    [p12] = out.glob("gaj-*.p12")
    [key_file] = out.glob("gaj-*.key")
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    _key, leaf, _chain = pkcs12.load_key_and_certificates(p12.read_bytes(), b"s3cret-pw")
    serial = format(leaf.serial_number, "x")
    assert serial in govshare("list").stdout
    assert govshare("revoke", serial, "--reason", "superseded").returncode == 0
    assert "revoked" in govshare("list", "--department", "gaj").stdout
    served = requests.get(f"{live_server.url}/pki/crl.pem", timeout=10)
    crl = x509.load_pem_x509_crl(served.content)
    assert crl.get_revoked_certificate_by_serial_number(leaf.serial_number) is not None
    ca_served = x509.load_pem_x509_certificate(requests.get(f"{live_server.url}/pki/ca.pem", timeout=10).content)
    assert pki.chains_to(leaf, ca_served)
    unknown = govshare("issue", "nobody")
    assert unknown.returncode == 2 and "no department 'nobody'" in unknown.stderr
    with sessions() as session:
        entries = session.execute(select(AuditEntry.operation, AuditEntry.result, AuditEntry.channel, AuditEntry.user)
                                  .where(AuditEntry.operation.startswith("pki.")).order_by(AuditEntry.seq)).all()
    assert [(operation, result) for operation, result, _, _ in entries] == [
        ("pki.issue", "fault:NoCertificateAuthority"), ("pki.init", "ok"),
        ("pki.init", "refused:CertificateAuthorityExists"), ("pki.issue", "ok"), ("pki.list", "ok"),
        ("pki.revoke", "ok"), ("pki.list", "ok"), ("pki.issue", "refused:UnknownDepartment")]
    assert {(channel, user) for _, _, channel, user in entries} == {("cli", "console")}


def test_an_account_without_the_security_role_may_not_issue_certificates(sessions, settings, gaj, ca):
    from trust import certificates
    from trust.actions import Context
    from trust.auth import Caller

    with unit_of_work(sessions) as session:
        create_user(session, username="auditor", password="pw", department=None, roles=("auditor",))
    run = subprocess.run([sys.executable, "-m", "server", "--db-url", settings.db_url, "pki", "issue", "gaj",
                          "--user", "auditor"], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, GOVSHARE_VAR=str(settings.var_dir)))
    assert run.returncode == 2 and "needs one of the roles security" in run.stderr
    platform = Context(Caller.platform("cli"), sessions, settings)
    assert certificates.certificates(platform) == []


def test_the_demo_gets_a_ca_and_one_certificate_per_department_once(sessions, settings, gaj):
    from trust.demo import DEMO_P12_PASSWORD, certs_dir, seed_certificates

    assert seed_certificates(sessions, settings) == 1  # the one department of this database
    ca = pki.ca_certificate(settings)
    key, leaf, _chain = pkcs12.load_key_and_certificates((certs_dir(settings) / "gaj.p12").read_bytes(),
                                                         DEMO_P12_PASSWORD.encode())
    assert pki.chains_to(leaf, ca) and key is not None
    assert seed_certificates(sessions, settings) == 0  # run again: nothing new
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Certificate)) == 1


def test_processes_signing_their_first_answer_at_once_share_one_platform_key_and_certificate(tmp_path):
    """Each made its own key and certificate before: one process could pair one's key with another's certificate."""
    import multiprocessing

    from cryptography.hazmat.primitives import serialization

    from registry.settings import Settings

    settings = Settings(var_dir=tmp_path)
    pki.init_ca(settings)
    context = multiprocessing.get_context("fork")
    results, start = context.Queue(), context.Event()

    def first_answer() -> None:
        start.wait()
        key, cert = pki.platform_identity(None, settings)
        public = key.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        results.put((public, cert.public_key().public_bytes(serialization.Encoding.DER,
                                                            serialization.PublicFormat.SubjectPublicKeyInfo)))

    workers = [context.Process(target=first_answer) for _ in range(6)]
    for worker in workers:
        worker.start()
    start.set()
    pairs = {results.get(timeout=60) for _ in workers}
    for worker in workers:
        worker.join()
    assert len(pairs) == 1  # one identity for all
    (key_public, cert_public), = pairs
    assert key_public == cert_public  # whose key is whose certificate's
    on_disk = x509.load_pem_x509_certificate((tmp_path / "pki" / "platform.pem").read_bytes())
    assert on_disk.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo) == key_public
    assert stat.S_IMODE((tmp_path / "pki" / "platform.key").stat().st_mode) == 0o600
