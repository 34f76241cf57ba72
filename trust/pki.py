"""The platform's own certificate authority (S1): department and application-system
certificates, certificate requests (PKCS#10), revocation, CRL.

    govshare pki init                       # the CA: var/pki/ca.key (0600) and var/pki/ca.pem
    govshare pki issue gaj --out DIR        # gaj.key, gaj.pem, gaj.p12 for 临江市公安局 (demo, tests)
    govshare admin cert request wjw.csr --user wjw   # a CSR: the key never leaves the department
    govshare pki revoke SERIAL --reason keyCompromise
    govshare pki crl                        # var/pki/crl.pem, also served at /pki/crl.pem

A certificate binds a key to the department as the directory knows it - or to one of its
application systems (应用系统): its subject is the platform's, never the request's::

    CN=gaj (or the system's code, gaj.hukou), O=临江市公安局, 2.5.4.5=11330100002501020X
    subjectAltName: URI:urn:govshare:department:11330100002501020X
                    URI:urn:govshare:system:gaj.hukou          (a system's certificate only)

The same credit code is in the department's businessEntity (identifierBag,
``uddi:govshare:identifier:provider-code``).  A request (:func:`load_csr`) is PEM or DER, its
self-signature verifies, it is signed with SHA-256 or stronger, its key is RSA of 2048 bits or
more or EC on P-256 or P-384, and no certificate or pending request of the platform holds that
key already (:func:`refuse_reused_key`).  The platform keeps every issued certificate with its
status - never a private key: a requested certificate's stays with its department, and the
centre-made one of ``pki issue`` is handed over once, as PEM and as a password-protected PKCS#12 -
so verification (:mod:`trust.wsse`) can check chain, validity, revocation and the caller's
identity.  The CA's key stays on the server, readable by its owner only, optionally encrypted
with ``GOVSHARE_CA_PASSPHRASE``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.clock import utcnow
from registry.errors import Conflict, InvalidInput, NotFound, Unavailable
from registry.models import AppSystem, Certificate, CertificateRequest, Department
from registry.settings import Settings

CA_DAYS = 3650
CERT_DAYS = 730
CRL_HOURS = 24
REASONS = {r.value: r for r in x509.ReasonFlags if r is not x509.ReasonFlags.remove_from_crl}  # RFC 5280 names
DEPARTMENT_URI = "urn:govshare:department:"
SYSTEM_URI = "urn:govshare:system:"
#: what a certificate request may certify: RSA keys of at least RSA_MIN_BITS, or a key on one of these curves
RSA_MIN_BITS = 2048
EC_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384"}
#: the hashes a request may be signed with
CSR_HASHES = frozenset({"sha256", "sha384", "sha512"})
CSR_MAX_BYTES = 64 * 1024
CertifiedKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


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
    """The CA's key and certificate, as the files under :func:`pki_dir` hold them now."""
    folder = pki_dir(settings)
    try:
        return _opened((folder / "ca.pem").read_bytes(), (folder / "ca.key").read_bytes(), _passphrase())
    except FileNotFoundError:
        raise Unavailable(f"no CA under {folder}: run `govshare pki init` first",
                          code="NoCertificateAuthority") from None
    except (TypeError, ValueError) as exc:
        raise Unavailable(f"cannot open the CA key {folder / 'ca.key'}: {exc} "
                          "(is GOVSHARE_CA_PASSPHRASE set as when the CA was made?)",
                          code="CertificateAuthorityUnreadable") from None


@lru_cache(maxsize=4)
def _opened(cert_pem: bytes, key_pem: bytes, passphrase: bytes | None) -> Authority:
    """The CA opened from its files' bytes, once per process for the same bytes."""
    return Authority(_private_key(key_pem, passphrase), x509.load_pem_x509_certificate(cert_pem))


@lru_cache(maxsize=4)
def _private_key(key_pem: bytes, passphrase: bytes | None):
    """The CA's key, opened once per process for the same bytes and passphrase (a CA certificate
    made again over the same key opens no key again): opening checks the RSA key's primes (and
    decrypts it), 0.15 s of a core, which every certificate issued paid."""
    return serialization.load_pem_private_key(key_pem, passphrase)


def ca_certificate(settings: Settings) -> x509.Certificate | None:
    path = pki_dir(settings) / "ca.pem"
    return x509.load_pem_x509_certificate(path.read_bytes()) if path.exists() else None


@dataclass
class Certified:
    """A certificate the CA has just signed, and its row in ``certificate``."""

    record: Certificate
    certificate: x509.Certificate

    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


@dataclass
class Issued(Certified):
    """A certificate with the key the centre made for it (``pki issue``: demo and tests)."""

    key: rsa.RSAPrivateKey

    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

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


def find_system(session: Session, code: str) -> AppSystem:
    """The application system (应用系统) ``code`` (``<department>.<system>``, e.g. ``gaj.hukou``)."""
    system = session.scalar(select(AppSystem).where(AppSystem.code == (code or "").strip().lower()))
    if system is None:
        raise NotFound(f"no application system {code!r}: give its code, <department>.<system> (e.g. gaj.hukou)",
                       code="UnknownSystem", zh=f"没有代码为 {code} 的应用系统。", field="system")
    return system


def issue(session: Session, settings: Settings, department: Department, *, system: AppSystem | None = None,
          days: int = CERT_DAYS, key_size: int = 2048, purpose: str = "signing") -> Issued:
    """A new key, made here, and its certificate for ``department`` (or its ``system``), recorded as ``valid``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    made = certify(session, settings, department, key.public_key(), system=system, days=days, purpose=purpose)
    return Issued(made.record, made.certificate, key)


def certify(session: Session, settings: Settings, department: Department, public_key: CertifiedKey, *,
            system: AppSystem | None = None, days: int = CERT_DAYS, purpose: str = "signing") -> Certified:
    """The CA's certificate for ``public_key``, naming ``department`` (and ``system``), recorded as
    ``valid``; it ends after ``days`` or with the CA, whichever comes first."""
    ca = load_ca(settings)
    now = _now()
    serial = x509.random_serial_number()
    cert = (
        x509.CertificateBuilder().subject_name(subject_of(department, system)).issuer_name(ca.certificate.subject)
        .public_key(public_key).serial_number(serial)
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(min(now + timedelta(days=days), ca.certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                     key_encipherment=isinstance(public_key, rsa.RSAPublicKey),
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names_of(department, system)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    record = Certificate(
        serial=format(serial, "x"), department_id=department.id, system_id=system.id if system else None,
        subject=cert.subject.rfc4514_string(), fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
        pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        not_before=cert.not_valid_before_utc.replace(tzinfo=None),
        not_after=cert.not_valid_after_utc.replace(tzinfo=None), status="valid", purpose=purpose, issued=utcnow(),
    )
    session.add(record)
    session.flush()
    return Certified(record, cert)


def subject_of(department: Department, system: AppSystem | None = None) -> x509.Name:
    """``CN=<department or system code>, O=<department name>, serialNumber=<统一社会信用代码>``."""
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, system.code if system else department.code),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, department.name),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, department.credit_code),
    ])


def names_of(department: Department, system: AppSystem | None = None) -> list[x509.GeneralName]:
    """The subjectAltName URIs: the department's credit code, and the system's code for a system."""
    names = [x509.UniformResourceIdentifier(DEPARTMENT_URI + department.credit_code)]
    if system is not None:
        names.append(x509.UniformResourceIdentifier(SYSTEM_URI + system.code))
    return names


# ----------------------------------------------------------------------------- certificate requests (PKCS#10)

def load_csr(data: str | bytes) -> x509.CertificateSigningRequest:
    """A PKCS#10 request, PEM or DER, that the platform may certify: its key is strong
    (:func:`key_description`), it is signed with SHA-256 or stronger, and its self-signature
    verifies (whoever sent it holds the key).  Its subject is ignored: the certificate's is the
    platform's.  A department makes one with::

        openssl req -new -newkey rsa:2048 -nodes -keyout k.pem -subj /CN=x -out x.csr
    """
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if len(raw) > CSR_MAX_BYTES:
        raise _invalid(f"the request is {len(raw)} bytes; a PKCS#10 request is a few kilobytes",
                       f"证书请求文件过大 ({len(raw)} 字节), 请上传 openssl 等工具生成的 CSR 文件。")
    if b"PRIVATE KEY" in raw:
        raise _invalid("this is a private key, not a certificate request: keep the key where it is and send "
                       "the CSR made with it (openssl req -new -key KEY)",
                       "您提交的是私钥, 不是证书请求: 私钥不得离开本单位, 请提交用它生成的证书请求 (CSR)。")
    try:
        pem = raw.lstrip().startswith(b"-----BEGIN")
        csr = x509.load_pem_x509_csr(raw.strip()) if pem else x509.load_der_x509_csr(raw)
    except ValueError as exc:
        raise _invalid(f"not a PKCS#10 certificate request in PEM or DER ({exc}); make one with "
                       "`openssl req -new -newkey rsa:2048 -nodes -keyout KEY -subj /CN=x`",
                       "不是有效的证书请求 (PKCS#10, PEM 或 DER 格式), 请用 openssl 等工具重新生成。") from None
    key_description(csr.public_key())
    algorithm = csr.signature_hash_algorithm
    if algorithm is None or algorithm.name not in CSR_HASHES:
        used = algorithm.name.upper() if algorithm else "none"
        raise InvalidInput(f"the request is signed with {used}; sign it with SHA-256 or stronger "
                           "(openssl req -sha256)", code="CsrWeakSignature", field="csr",
                           zh=f"证书请求使用 {used} 签名, 强度不足, "
                              "请用 SHA-256 或更强的算法重新生成 (openssl req -sha256)。")
    if not csr.is_signature_valid:
        raise InvalidInput("the request's signature does not verify with its own key: it was altered, or not "
                           "signed with the key it carries; make it again", code="CsrSignatureInvalid", field="csr",
                           zh="证书请求的签名校验未通过 (请求被改动过, 或不是用其中的密钥签名的), 请重新生成。")
    return csr


def _invalid(message: str, zh: str) -> InvalidInput:
    return InvalidInput(message, code="InvalidCsr", field="csr", zh=zh)


def key_description(key: object) -> str:
    """``RSA 2048``, ``EC P-256``: a key the platform certifies; any other is refused (CsrWeakKey)."""
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= RSA_MIN_BITS:
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in EC_CURVES:
        return f"EC {EC_CURVES[key.curve.name]}"
    given = (f"RSA {key.key_size}" if isinstance(key, rsa.RSAPublicKey) else
             f"EC {key.curve.name}" if isinstance(key, ec.EllipticCurvePublicKey) else type(key).__name__)
    raise InvalidInput(f"the request's key is {given}; the platform certifies RSA keys of {RSA_MIN_BITS} bits or "
                       f"more and EC keys on {' or '.join(EC_CURVES.values())}", code="CsrWeakKey", field="csr",
                       zh=f"证书请求的密钥 ({given}) 强度不足: 须为 {RSA_MIN_BITS} 位及以上的 RSA 密钥, "
                          f"或 {'、'.join(EC_CURVES.values())} 曲线的 EC 密钥。")


def key_fingerprint(key: CertifiedKey) -> str:
    """SHA-256 of the public key's SubjectPublicKeyInfo (DER), hex: one key, one fingerprint."""
    return hashlib.sha256(key.public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()


def refuse_reused_key(session: Session, key: CertifiedKey, *, request_id: int | None = None) -> None:
    """Refuse a key that a certificate of the platform (valid, expired or revoked) or another
    pending or issued request holds already: a new certificate needs a new key, so a compromised or
    superseded key never comes back.  Certificates are compared key by key (they do not record
    their key's fingerprint); requests, by fingerprint."""
    fingerprint = key_fingerprint(key)
    earlier = session.scalar(select(CertificateRequest.id).where(
        CertificateRequest.key_fingerprint == fingerprint, CertificateRequest.status != "refused",
        CertificateRequest.id != (request_id or 0)))
    holder = f"certificate request #{earlier}" if earlier is not None else None
    if holder is None:
        for serial, pem in session.execute(select(Certificate.serial, Certificate.pem)):
            if key_fingerprint(x509.load_pem_x509_certificate(pem.encode()).public_key()) == fingerprint:
                holder = f"certificate {serial}"
                break
    if holder is not None:
        raise Conflict(f"this key is already held by {holder}: make a new key for every request "
                       "(openssl req -new -newkey ...)", code="KeyReused", field="csr",
                       zh="该密钥已用于本平台的其他证书或证书请求, 请为每次申请生成新的密钥。")


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


def serial_key(serial: str) -> str:
    """A serial as the ``certificate`` table keys it: lower-case hex without leading zeros; OpenSSL's
    ``1F:3A...`` and ``serial=1F3A...`` spellings are read too."""
    text = (serial or "").strip().lower().removeprefix("serial=").replace(":", "")
    return text.lstrip("0") or "0"


def find_certificate(session: Session, serial: str) -> Certificate:
    record = session.get(Certificate, serial_key(serial))
    if record is None:
        raise NotFound(f"no certificate with serial {serial} (see `govshare pki list`)", code="CertificateNotFound",
                       field="serial")
    return record


def revoke(session: Session, settings: Settings, serial: str, reason: str = "unspecified") -> Certificate:
    """Mark a certificate revoked and publish a fresh CRL."""
    if reason not in REASONS:
        raise InvalidInput(f"unknown reason {reason!r}; one of: {', '.join(sorted(REASONS))}",
                           code="UnknownRevocationReason", field="reason")
    record = find_certificate(session, serial)
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
