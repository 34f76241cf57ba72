"""The platform CA's actions (证书, S1): certificate requests (CSR) from departments and their
application systems, approval, renewal, revocation, expiry, the CRL.

    pki.request      request(ctx, csr=PEM, system="gaj.hukou", renews=None) -> Requested (submitted)
    pki.requests     requests(ctx, status="submitted")      -> [Requested, ...] (newest first)
    pki.approve      approve(ctx, request_id=5)             -> Approval(certificate=Held, pem, renewed=Held | None)
    pki.refuse       refuse(ctx, request_id=5, reason="...") -> Requested (refused)
    pki.expiring     expiring(ctx, days=30)                 -> [Held, ...] (valid, ending within days)
    pki.certificate  certificate(ctx, serial="1f3a...")     -> CertificateFile(held, pem)
    pki.revoke       revoke(ctx, serial="1f3a...", reason="keyCompromise") -> Held (now revoked; CRL republished)
    pki.list         certificates(ctx, department="gaj")    -> [Held, ...] (oldest first)
    pki.init         init(ctx, days=3650, force=False)      -> Authority(path=var/pki/ca.pem, subject, not_after)
    pki.issue        issue(ctx, department="gaj", out=None) -> Handover(serial, subject, not_after, files, password)
    pki.crl          crl(ctx)                               -> var/pki/crl.pem

A department's people with the ``connect`` capability send a PKCS#10 request for their department
or one of its systems; the private key never leaves them.  The security administrator approves
(the CA signs the request's key under the platform's subject, :func:`trust.pki.certify`) or
refuses it with a reason.  A renewal (``renews``) is a new request with a new key: the certificate
it replaces stays valid until its own end, so the department switches when it is ready, and
revokes the old one if it wants it gone sooner.  ``pki.issue`` - a key made by the centre - stays
for the demo and tests: it writes ``<code>-<serial>.key`` (0600), ``.pem`` and a
password-protected ``.p12`` into ``out`` (default ``var/pki/issued``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from registry.clock import china_text
from registry.errors import Conflict, InvalidInput, NotFound
from registry.models import AppSystem, Certificate, CertificateRequest, Department

from . import pki
from .actions import Context, action
from .auth import refuse_suspended
from .notices import notify

#: a request's statuses, with the portal's names
REQUEST_STATUSES = {"submitted": "待审批", "issued": "已签发", "refused": "已拒绝"}
REASON_LENGTH = 500
#: RFC 5280's revocation reasons a person may give, in the portal's words
REVOCATION_REASONS = {"keyCompromise": "密钥泄露", "superseded": "已被替换", "affiliationChanged": "单位信息变更",
                      "cessationOfOperation": "停止使用", "unspecified": "未说明"}
EXPIRING_DAYS = 30


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
    """An issued certificate as the platform keeps it: its department's, or one of its systems'."""

    serial: str
    department_code: str
    department_name: str
    system_code: str | None
    subject: str
    not_before: datetime
    not_after: datetime
    status: str  # valid | revoked
    revoked: datetime | None
    revocation_reason: str | None

    @classmethod
    def of(cls, row: Certificate) -> Held:
        return cls(row.serial, row.department.code, row.department.name, row.system.code if row.system else None,
                   row.subject, row.not_before, row.not_after, row.status, row.revoked, row.revocation_reason)

    @property
    def holder(self) -> str:
        """The code the certificate names: the system's, else the department's."""
        return self.system_code or self.department_code


@dataclass(frozen=True)
class CertificateFile:
    """One certificate's PEM, to download: ``<holder>-<serial>.pem``."""

    held: Held
    pem: str

    @property
    def filename(self) -> str:
        return f"{self.held.holder}-{self.held.serial}.pem"


@dataclass(frozen=True)
class Requested:
    """A certificate request (CSR) and what became of it."""

    id: int
    department_code: str
    department_name: str
    system_code: str | None
    key: str  # RSA 2048, EC P-256
    renews: str | None  # the serial of the certificate it replaces
    status: str  # submitted | issued | refused
    submitted_by: str
    submitted_at: datetime
    decided_by: str
    decided_at: datetime | None
    reason: str
    certificate_serial: str | None

    @classmethod
    def of(cls, row: CertificateRequest) -> Requested:
        key = pki.key_description(x509.load_pem_x509_csr(row.csr_pem.encode()).public_key())
        return cls(row.id, row.department.code, row.department.name, row.system.code if row.system else None, key,
                   row.renews, row.status, row.submitted_by, row.submitted_at, row.decided_by, row.decided_at,
                   row.reason, row.certificate_serial)

    @property
    def holder(self) -> str:
        return self.system_code or self.department_code


@dataclass(frozen=True)
class Approval:
    """An approved request: the new certificate and its PEM, and for a renewal the certificate it
    replaces - still valid until its own end (``renewed.not_after``) unless revoked."""

    request_id: int
    certificate: Held
    pem: str
    renewed: Held | None


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


@action("pki.request")
def request(ctx: Context, *, csr: str | bytes, system: str | None = None, renews: str | None = None) -> Requested:
    """Ask for a certificate for the caller's department, or its application system ``system``, for
    the key of ``csr`` (PKCS#10, PEM or DER); ``renews``: the serial of the certificate it is to
    replace (the department's or the system's own, still valid; the system is then its)."""
    department = ctx.session.get(Department, ctx.caller.department_id)
    target = pki.find_system(ctx.session, system) if system else None
    replaced = _renewable(ctx, renews, department, target) if renews else None
    if replaced is not None:
        target = replaced.system
    refuse_suspended(department, target)
    parsed = pki.load_csr(csr)
    pki.refuse_reused_key(ctx.session, parsed.public_key())
    row = CertificateRequest(
        department_id=department.id, system_id=target.id if target else None,
        csr_pem=parsed.public_bytes(serialization.Encoding.PEM).decode(),
        key_fingerprint=pki.key_fingerprint(parsed.public_key()), renews=replaced.serial if replaced else None,
        status="submitted", submitted_by=ctx.caller.who, submitted_at=ctx.now)
    ctx.session.add(row)
    ctx.session.flush()
    holder = target.code if target else department.code
    ctx.note(detail=f"certificate request #{row.id} for {holder}" + (f", renewing {row.renews}" if row.renews else ""))
    whose = f"应用系统 {target.code} " if target else "本部门"
    notify(ctx, capability="certificates", subject="certificate", ref=row.id,
           text=f"{department.name}申请为{whose}签发证书 (证书申请 #{row.id}"
                + (f", 续期证书 {row.renews}" if row.renews else "") + "), 待审核。")
    return Requested.of(row)


def _renewable(ctx: Context, serial: str, department: Department, system: AppSystem | None) -> Certificate:
    """The certificate ``serial`` if a request of ``department`` (for ``system``, if named) may renew it:
    its own, valid and not yet ended."""
    old = pki.find_certificate(ctx.session, serial)
    if old.department_id != department.id or (system is not None and old.system_id != system.id):
        whose = f"the system {system.code}" if system is not None else department.code
        raise InvalidInput(f"certificate {old.serial} is not {whose}'s: a renewal names a certificate of the same "
                           "holder", code="NotRenewable", field="renews",
                           zh=f"证书 {old.serial} 不属于{'该应用系统' if system is not None else '本部门'}, 不能续期。")
    if old.status != "valid" or old.not_after <= ctx.now:
        state = "revoked" if old.status != "valid" else f"ended on {old.not_after:%Y-%m-%d}"
        raise InvalidInput(f"certificate {old.serial} has {state}: request a new certificate instead of a renewal",
                           code="NotRenewable", field="renews",
                           zh=f"证书 {old.serial} 已{'吊销' if old.status != 'valid' else '到期'}, "
                              "不能续期, 请直接申请新证书。")
    return old


@action("pki.requests")
def requests(ctx: Context, *, status: str | None = None, department: str | None = None) -> list[Requested]:
    """Certificate requests, newest first: every department's for the security administrator (one
    department's with ``department``), the caller's department's for anyone else."""
    if status and status not in REQUEST_STATUSES:
        raise InvalidInput(f"unknown status {status!r}; one of: {', '.join(REQUEST_STATUSES)}", code="UnknownStatus",
                           field="status", zh=f"未知的状态 {status}。")
    query = (select(CertificateRequest).options(joinedload(CertificateRequest.department),
                                                joinedload(CertificateRequest.system))
             .order_by(CertificateRequest.id.desc()))
    if status:
        query = query.where(CertificateRequest.status == status)
    owner = _department_of_listing(ctx, department)
    if owner is not None:
        query = query.where(CertificateRequest.department_id == owner)
    rows = [Requested.of(row) for row in ctx.session.scalars(query)]
    ctx.note(record_count=len(rows))
    return rows


def _department_of_listing(ctx: Context, department: str | None) -> int | None:
    """Whose list: the caller's department, unless the caller is the security administrator (then
    ``department``'s, or everyone's)."""
    if not ctx.caller.can("certificates"):
        return ctx.caller.department_id
    return pki.find_department(ctx.session, department).id if department else None


@action("pki.approve")
def approve(ctx: Context, *, request_id: int, days: int = pki.CERT_DAYS) -> Approval:
    """Issue the certificate a request asks for: the CA signs its key under the platform's subject."""
    row = _undecided(ctx, request_id)
    refuse_suspended(row.department, row.system)
    key = pki.load_csr(row.csr_pem).public_key()
    pki.refuse_reused_key(ctx.session, key, request_id=row.id)
    made = pki.certify(ctx.session, ctx.settings, row.department, key, system=row.system, days=days)
    row.status, row.decided_by, row.decided_at = "issued", ctx.caller.who, ctx.now
    row.certificate_serial = made.record.serial
    renewed = ctx.session.get(Certificate, row.renews) if row.renews else None
    ctx.note(detail=f"certificate request #{row.id} approved: certificate {made.record.serial} for "
                    f"{row.system.code if row.system else row.department.code}"
                    + (f"; {renewed.serial} stays valid until {renewed.not_after:%Y-%m-%d}" if renewed else ""))
    _tell_requester(ctx, row, f"证书申请 #{row.id} 已批准: 证书 {made.record.serial} 已签发, 有效期至 "
                              f"{china_text(made.record.not_after, '%Y-%m-%d')}; 请在“证书”页下载, 连同私钥安装到"
                              + (f"应用系统 {row.system.code}。" if row.system else "本部门的系统。")
                              + (f"原证书 {renewed.serial} 至 {china_text(renewed.not_after, '%Y-%m-%d')} 仍然有效。"
                                 if renewed else ""))
    return Approval(row.id, Held.of(made.record), made.cert_pem().decode(), Held.of(renewed) if renewed else None)


@action("pki.refuse")
def refuse(ctx: Context, *, request_id: int, reason: str) -> Requested:
    """Refuse a request, saying why (the department sees the reason)."""
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_LENGTH:
        raise InvalidInput(f"reason: required, at most {REASON_LENGTH} characters", code="ReasonRequired",
                           field="reason", zh=f"请填写拒绝理由 ({REASON_LENGTH} 字以内)。")
    row = _undecided(ctx, request_id)
    row.status, row.decided_by, row.decided_at, row.reason = "refused", ctx.caller.who, ctx.now, reason
    ctx.note(detail=f"certificate request #{row.id} refused: {reason}")
    _tell_requester(ctx, row, f"证书申请 #{row.id} 未获批准: {reason}")
    return Requested.of(row)


def _tell_requester(ctx: Context, row: CertificateRequest, text: str) -> None:
    """Tell the requesting department's people who request certificates, and the person who asked, of the
    decision; the security administrators' notice to decide is cleared."""
    notify(ctx, capability="connect", department_id=row.department_id, subject="certificate", ref=row.id,
           usernames=[row.submitted_by], clears=["certificate"], text=text)


def _undecided(ctx: Context, request_id: int) -> CertificateRequest:
    row = ctx.session.get(CertificateRequest, request_id) if isinstance(request_id, int) else None
    if row is None:
        raise NotFound(f"no certificate request #{request_id}", code="CertificateRequestNotFound", field="request",
                       zh=f"没有编号为 {request_id} 的证书申请。")
    if row.status != "submitted":
        raise Conflict(f"certificate request #{row.id} was {row.status} already by {row.decided_by}",
                       code="RequestAlreadyDecided",
                       zh=f"证书申请 #{row.id} 已由 {row.decided_by} 处理 ({REQUEST_STATUSES[row.status]})。")
    return row


@action("pki.expiring")
def expiring(ctx: Context, *, days: int = EXPIRING_DAYS) -> list[Held]:
    """Valid certificates that end within ``days`` (即将到期), soonest first: each needs a renewal."""
    if not isinstance(days, int) or not 0 < days <= pki.CERT_DAYS:
        raise InvalidInput(f"days: a whole number from 1 to {pki.CERT_DAYS}", code="InvalidRequest", field="days",
                           zh=f"天数须为 1 到 {pki.CERT_DAYS} 之间的整数。")
    rows = ctx.session.scalars(_held().where(
        Certificate.status == "valid", Certificate.not_after > ctx.now,
        Certificate.not_after <= ctx.now + timedelta(days=days)).order_by(Certificate.not_after))
    held = [Held.of(row) for row in rows]
    ctx.note(record_count=len(held))
    return held


@action("pki.certificate")
def certificate(ctx: Context, *, serial: str) -> CertificateFile:
    """One certificate's PEM (its department's people, or the security administrator)."""
    row = pki.find_certificate(ctx.session, serial)
    ctx.note(detail=f"certificate {row.serial}")
    return CertificateFile(Held.of(row), row.pem)


@action("pki.revoke")
def revoke(ctx: Context, *, serial: str, reason: str = "unspecified") -> Held:
    """Revoke a certificate (reason: one of RFC 5280's) and publish a fresh CRL."""
    record = pki.revoke(ctx.session, ctx.settings, serial, reason)
    held = Held.of(record)
    ctx.note(detail=f"certificate {record.serial} of {held.holder} revoked: {reason}")
    notify(ctx, capability="connect", department_id=record.department_id, subject="certificate", ref=record.serial,
           text=f"{held.holder} 的证书 {record.serial} 已于 {china_text(record.revoked)} 被吊销 (原因: "
                f"{REVOCATION_REASONS.get(reason, reason)}); 用它签名的调用从此被拒绝, 如需继续调用请申请新证书。")
    return held


@action("pki.crl")
def crl(ctx: Context) -> Path:
    """Write a fresh CRL to ``var/pki/crl.pem`` (also served at ``/pki/crl.pem``)."""
    return pki.write_crl(ctx.session, ctx.settings)


@action("pki.list")
def certificates(ctx: Context, *, department: str | None = None) -> list[Held]:
    """Issued certificates and their status, oldest first: every department's for the security
    administrator (one department's with ``department``), the caller's department's for anyone else."""
    query = _held().order_by(Certificate.issued, Certificate.serial)
    owner = _department_of_listing(ctx, department)
    if owner is not None:
        query = query.where(Certificate.department_id == owner)
    held = [Held.of(row) for row in ctx.session.scalars(query)]
    ctx.note(record_count=len(held))
    return held


def _held():
    return select(Certificate).options(joinedload(Certificate.department), joinedload(Certificate.system))
