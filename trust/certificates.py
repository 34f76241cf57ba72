"""The platform CA's actions (证书, S1): make the CA, issue, revoke and list department
certificates, publish the CRL - the security administrator's (``certificates``).

    pki.init    init(ctx, days=3650, force=False)        -> Authority(path=var/pki/ca.pem, subject, not_after)
    pki.issue   issue(ctx, department="gaj", out=None)   -> Handover(serial, subject, not_after, files, password)
    pki.revoke  revoke(ctx, serial="1f3a...", reason="keyCompromise") -> Held (the certificate, now revoked)
    pki.crl     crl(ctx)                                 -> var/pki/crl.pem
    pki.list    certificates(ctx, department="gaj")      -> [Held, ...] (oldest first)

``issue`` writes ``<code>-<serial>.key`` (0600), ``.pem`` and a password-protected ``.p12``
(PKCS#12 with the CA certificate) into ``out`` (default ``var/pki/issued``); the platform keeps
the certificate, never the key.  The PKCS#12 password is the one given, or a random one
returned once in the result.  The machinery (keys, certificates, the CRL) is :mod:`trust.pki`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from registry.models import Certificate, Department

from . import pki
from .actions import Context, action


@dataclass(frozen=True)
class Authority:
    """The platform CA as it stands: where its certificate is, whom it names, until when."""

    path: Path
    subject: str
    not_after: datetime


@dataclass(frozen=True)
class Handover:
    """What a department receives: its certificate's serial and subject, the files written, and
    the PKCS#12 password when the platform chose it (shown once, never stored)."""

    serial: str
    department_code: str
    subject: str
    not_after: datetime
    key_file: Path
    certificate_file: Path
    pkcs12_file: Path
    password: str | None


@dataclass(frozen=True)
class Held:
    """An issued certificate as the platform keeps it."""

    serial: str
    department_code: str
    subject: str
    not_before: datetime
    not_after: datetime
    status: str  # valid | revoked
    revoked: datetime | None
    revocation_reason: str | None

    @classmethod
    def of(cls, row: Certificate, department_code: str) -> Held:
        return cls(row.serial, department_code, row.subject, row.not_before, row.not_after, row.status, row.revoked,
                   row.revocation_reason)


@action("pki.init")
def init(ctx: Context, *, days: int = pki.CA_DAYS, force: bool = False) -> Authority:
    """Create the platform CA under ``var/pki/`` and publish its first (empty) CRL."""
    ca = pki.init_ca(ctx.settings, days=days, force=force)
    pki.write_crl(ctx.session, ctx.settings)
    subject = ca.certificate.subject.rfc4514_string()
    ctx.note(detail=f"CA {subject}{' (replaced)' if force else ''}")
    return Authority(pki.pki_dir(ctx.settings) / "ca.pem", subject, ca.certificate.not_valid_after_utc)


@action("pki.issue")
def issue(ctx: Context, *, department: str, out: Path | None = None, days: int = pki.CERT_DAYS,
          password: str | None = None) -> Handover:
    """A new key and certificate for ``department`` (its code, name or 统一社会信用代码), written to ``out``."""
    dept = pki.find_department(ctx.session, department)
    issued = pki.issue(ctx.session, ctx.settings, dept, days=days)
    ca = pki.load_ca(ctx.settings).certificate
    folder = out or pki.pki_dir(ctx.settings) / "issued"
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"{dept.code}-{issued.record.serial}"
    chosen = None if password else pki.random_password()
    fd = os.open(f"{stem}.key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(issued.key_pem())
    Path(f"{stem}.pem").write_bytes(issued.cert_pem())
    Path(f"{stem}.p12").write_bytes(issued.pkcs12((password or chosen).encode(), ca))
    ctx.note(detail=f"certificate {issued.record.serial} issued to {dept.code}")
    return Handover(issued.record.serial, dept.code, issued.record.subject, issued.record.not_after,
                    Path(f"{stem}.key"), Path(f"{stem}.pem"), Path(f"{stem}.p12"), chosen)


@action("pki.revoke")
def revoke(ctx: Context, *, serial: str, reason: str = "unspecified") -> Held:
    """Revoke a certificate and publish a fresh CRL."""
    record = pki.revoke(ctx.session, ctx.settings, serial, reason)
    code = ctx.session.get(Department, record.department_id).code
    ctx.note(detail=f"certificate {record.serial} of {code} revoked: {reason}")
    return Held.of(record, code)


@action("pki.crl")
def crl(ctx: Context) -> Path:
    """Write a fresh CRL to ``var/pki/crl.pem`` (also served at ``/pki/crl.pem``)."""
    return pki.write_crl(ctx.session, ctx.settings)


@action("pki.list")
def certificates(ctx: Context, *, department: str | None = None) -> list[Held]:
    """Issued certificates and their status, oldest first; one department's with ``department``."""
    query = select(Certificate, Department.code).join(Department).order_by(Certificate.issued)
    if department:
        query = query.where(Certificate.department_id == pki.find_department(ctx.session, department).id)
    held = [Held.of(row, code) for row, code in ctx.session.execute(query)]
    ctx.note(record_count=len(held))
    return held
