"""The platform's own certificate authority (S1): department certificates, revocation, CRL.

    govshare pki init                       # the CA: var/pki/ca.key (0600) and var/pki/ca.pem
    govshare pki issue gaj --out DIR        # gaj.key, gaj.pem, gaj.p12 for 临江市公安局
    govshare pki revoke SERIAL --reason keyCompromise
    govshare pki crl                        # var/pki/crl.pem, also served at /pki/crl.pem
    govshare pki list

A department certificate binds a key to the department as the directory knows it: its
subject is ``CN=<department code>, O=<department name>, serialNumber=<统一社会信用代码>``
and a subjectAltName URI ``urn:govshare:department:<credit code>``; the same credit code is
in the department's businessEntity (identifierBag, ``uddi:govshare:identifier:provider-code``).
The platform keeps every issued certificate (not the department's private key, which is
handed over once, as PEM and as a password-protected PKCS#12) with its status, so
verification (:mod:`trust.wsse`) can check chain, validity, revocation and the
caller's identity.  The CA's key stays on the server, readable by its owner only,
optionally encrypted with ``GOVSHARE_CA_PASSPHRASE``.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.clock import utcnow
from registry.errors import Conflict, InvalidInput, NotFound, Unavailable
from registry.models import Certificate, Department
from registry.settings import Settings

CA_DAYS = 3650
CERT_DAYS = 730
CRL_HOURS = 24
REASONS = {r.value: r for r in x509.ReasonFlags if r is not x509.ReasonFlags.remove_from_crl}  # RFC 5280 names
DEPARTMENT_URI = "urn:govshare:department:"


@dataclass(frozen=True)
class Authority:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate


def pki_dir(settings: Settings) -> Path:
    return settings.var_dir / "pki"


def _passphrase() -> bytes | None:
    value = os.environ.get("GOVSHARE_CA_PASSPHRASE")
    return value.encode() if value else None


def _now() -> datetime:
    return utcnow().replace(tzinfo=UTC)


def init_ca(settings: Settings, *, common_name: str = "govshare 政务信息资源共享交换平台 CA",
            organization: str = "govshare", days: int = CA_DAYS, force: bool = False) -> Authority:
    """Create the platform CA (RSA 3072, self-signed); refuses to replace one unless ``force``."""
    folder = pki_dir(settings)
    key_path, cert_path = folder / "ca.key", folder / "ca.pem"
    if cert_path.exists() and not force:
        raise Conflict(f"a CA already exists at {cert_path}; every certificate it issued would stop verifying "
                       "if it were replaced (use --force only for a new platform)", code="CertificateAuthorityExists")
    folder.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)])
    now = _now()
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    passphrase = _passphrase()
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    key_bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_bytes)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Authority(key, cert)


def load_ca(settings: Settings) -> Authority:
    folder = pki_dir(settings)
    try:
        cert = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
        key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), _passphrase())
    except FileNotFoundError:
        raise Unavailable(f"no CA under {folder}: run `govshare pki init` first",
                          code="NoCertificateAuthority") from None
    except (TypeError, ValueError) as exc:
        raise Unavailable(f"cannot open the CA key {folder / 'ca.key'}: {exc} "
                          "(is GOVSHARE_CA_PASSPHRASE set as when the CA was made?)",
                          code="CertificateAuthorityUnreadable") from None
    return Authority(key, cert)


def ca_certificate(settings: Settings) -> x509.Certificate | None:
    path = pki_dir(settings) / "ca.pem"
    return x509.load_pem_x509_certificate(path.read_bytes()) if path.exists() else None


@dataclass
class Issued:
    record: Certificate
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def pkcs12(self, password: bytes, ca: x509.Certificate) -> bytes:
        return pkcs12.serialize_key_and_certificates(
            self.record.subject.encode(), self.key, self.certificate, [ca],
            serialization.BestAvailableEncryption(password))


def find_department(session: Session, name: str) -> Department:
    from sqlalchemy import or_

    dept = session.scalar(select(Department).where(or_(Department.code == name.lower(), Department.name == name,
                                                       Department.credit_code == name.upper())))
    if dept is None:
        raise NotFound(f"no department {name!r}: give its code (e.g. gaj), name or 统一社会信用代码",
                       code="UnknownDepartment", zh=f"没有代码、名称或统一社会信用代码为 {name} 的已登记部门。",
                       field="department")
    return dept


def issue(session: Session, settings: Settings, department: Department, *, days: int = CERT_DAYS,
          key_size: int = 2048, purpose: str = "signing") -> Issued:
    """A new key and certificate for ``department``, recorded as ``valid``."""
    ca = load_ca(settings)
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, department.code),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, department.name),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, department.credit_code),
    ])
    now = _now()
    not_after = min(now + timedelta(days=days), ca.certificate.not_valid_after_utc)
    serial = x509.random_serial_number()
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(ca.certificate.subject)
        .public_key(key.public_key()).serial_number(serial)
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=True,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([
            x509.UniformResourceIdentifier(DEPARTMENT_URI + department.credit_code)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    record = Certificate(
        serial=format(serial, "x"), department_id=department.id, subject=cert.subject.rfc4514_string(),
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(), pem=cert.public_bytes(serialization.Encoding.PEM)
        .decode(), not_before=cert.not_valid_before_utc.replace(tzinfo=None),
        not_after=cert.not_valid_after_utc.replace(tzinfo=None), status="valid", purpose=purpose,
        issued=utcnow(),
    )
    session.add(record)
    session.flush()
    return Issued(record, key, cert)


@lru_cache(maxsize=8)
def _platform_files(key_path: str, cert_path: str, _key_mtime: int, _cert_mtime: int):
    """The platform key and certificate, read once per version of their files (loading and
    checking an RSA key costs tens of milliseconds; audit checkpoints sign with it)."""
    with open(key_path, "rb") as key_file, open(cert_path, "rb") as cert_file:
        return (serialization.load_pem_private_key(key_file.read(), None),
                x509.load_pem_x509_certificate(cert_file.read()))


def platform_identity(session: Session, settings: Settings) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """The platform's own signing key and certificate (responses are signed with it), made on
    first use - by one process: the others wait for it, so no process pairs one process's key
    with another's certificate."""
    folder = pki_dir(settings)
    key_path, cert_path = folder / "platform.key", folder / "platform.pem"
    if not (key_path.exists() and cert_path.exists()):
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".platform.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (key_path.exists() and cert_path.exists()):
                _make_platform_identity(settings, key_path, cert_path)
    return _platform_files(str(key_path), str(cert_path), key_path.stat().st_mtime_ns, cert_path.stat().st_mtime_ns)


def _make_platform_identity(settings: Settings, key_path: Path, cert_path: Path) -> None:
    ca = load_ca(settings)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"govshare platform {settings.node_domain}"),
                                 x509.NameAttribute(NameOID.ORGANIZATION_NAME, "govshare")]))
        .issuer_name(ca.certificate.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(ca.certificate.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(ca.key, hashes.SHA256())
    )
    # each file whole or not at all, the key first: readers take the certificate's presence as the sign
    _publish(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
    _publish(cert_path, cert.public_bytes(serialization.Encoding.PEM))


def _publish(path: Path, data: bytes) -> None:
    """Write ``path`` (mode 0600) so that nobody ever reads it half written."""
    fd, draft = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(draft, path)


def revoke(session: Session, settings: Settings, serial: str, reason: str = "unspecified") -> Certificate:
    """Mark a certificate revoked and publish a fresh CRL."""
    if reason not in REASONS:
        raise InvalidInput(f"unknown reason {reason!r}; one of: {', '.join(sorted(REASONS))}",
                           code="UnknownRevocationReason", field="reason")
    record = session.get(Certificate, serial.lower().lstrip("0") or "0")
    if record is None:
        raise NotFound(f"no certificate with serial {serial} (see `govshare pki list`)", code="CertificateNotFound",
                       field="serial")
    if record.status == "revoked":
        raise Conflict(f"certificate {serial} was already revoked on {record.revoked:%Y-%m-%d %H:%M} UTC",
                       code="AlreadyRevoked")
    record.status, record.revoked, record.revocation_reason = "revoked", utcnow(), reason
    session.flush()
    write_crl(session, settings)
    return record


def build_crl(session: Session, settings: Settings) -> x509.CertificateRevocationList:
    ca = load_ca(settings)
    now = _now()
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca.certificate.subject)
               .last_update(now).next_update(now + timedelta(hours=CRL_HOURS)))
    for record in session.scalars(select(Certificate).where(Certificate.status == "revoked")):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(int(record.serial, 16))
            .revocation_date(record.revoked.replace(tzinfo=UTC))
            .add_extension(x509.CRLReason(REASONS[record.revocation_reason]), critical=False).build())
    return builder.sign(ca.key, hashes.SHA256())


def write_crl(session: Session, settings: Settings) -> Path:
    path = pki_dir(settings) / "crl.pem"
    path.write_bytes(build_crl(session, settings).public_bytes(serialization.Encoding.PEM))
    return path


def chains_to(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """Whether ``ca`` signed ``cert`` (RSA PKCS#1 v1.5 with the certificate's own hash)."""
    if cert.issuer != ca.subject:
        return False
    try:
        ca.public_key().verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                               cert.signature_hash_algorithm)
    except Exception:  # noqa: BLE001 - any failure is "not signed by this CA"
        return False
    return True


def random_password() -> str:
    return secrets.token_urlsafe(12)
