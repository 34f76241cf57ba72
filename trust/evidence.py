"""The evidence log (消息日志): signed exchanges kept as they travelled, archived by month.

The audit log (:mod:`trust.audit`) records *that* a department read a resource, with the
SHA-256 of the request and of the answer.  A digest settles nothing in a dispute unless the
bytes it was taken of are produced, and the bytes prove something only while they carry their
signatures.  So for every request whose WS-Security signature verified, the exchange's
transport keeps one ``evidence_message`` row, written with the audit entry (``audit.record``'s
``evidence``: one statement on PostgreSQL, one transaction elsewhere, so neither is kept without
the other): the request's
bytes as received and the platform's signed answer as sent (a fault too), each compressed
with zlib, their SHA-256 (the entry's ``request_digest`` and ``response_digest``), the
signer's certificate serial and subject, and the entry's ``seq``.

``govshare audit archive --period 2026-11`` writes one zip per month (China time, UTC+8)::

    govshare-evidence-2026-11.zip
      manifest.json              {"format": "govshare-evidence/1", "period": "2026-11", "members": [{"name",
                                  "sha256", "size"}, ...], "entries": {"first", "last"}, "checkpoint", ...}
      manifest.sig               RSA-SHA256 (PKCS#1 v1.5) over manifest.json's bytes, by the platform key
      manifest.tsr               RFC 3161 TimeStampResp over SHA-256(manifest.json), when GOVSHARE_TSA_URL is set
      certificates/ca.pem        the platform CA
      certificates/crl.pem       the CA's revocation list as the archive was made (signed by the CA)
      certificates/platform.pem  the platform certificate that signed the manifest and the answers
      certificates/<serial>.pem  each department or system certificate that signed a request
      audit/entries.jsonl        the month's audit entries, every hashed column, in chain order, up to the
                                 first signed checkpoint at or after the month's last entry
      audit/checkpoints.jsonl    the signed checkpoints within that segment
      evidence/records.jsonl     one line per kept exchange: its audit seq, times, signer, digests, members
      messages/<id>.request.xml  the signed request, byte for byte
      messages/<id>.response.xml the signed answer, byte for byte

The archive is read back and verified (:mod:`trust.evidence_verify`) before the month's rows are
marked archived; archived rows older than ``GOVSHARE_EVIDENCE_DAYS`` are then removed.  Audit
entries are never removed: the chain must not break.  Time-stamps are asked once per archive,
for its manifest; evidence rows are not stamped in batches as they are written (X-Road's
message log does): the audit chain and its signed checkpoints date them until the archive's
stamp does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from registry.clock import china_month, china_text, utcnow
from registry.errors import Conflict, InvalidInput, NotFound, Unavailable
from registry.models import AuditCheckpoint, AuditEntry, EvidenceMessage
from registry.settings import Settings

from . import audit, pki, tsa
from .actions import Context, action

FORMAT = "govshare-evidence/1"
MANIFEST, SIGNATURE, TIMESTAMP = "manifest.json", "manifest.sig", "manifest.tsr"
#: the CA's revocation list as the archive was made: was each signer's certificate revoked, and since when
CRL = "certificates/crl.pem"
_PERIOD = re.compile(r"(\d{4})-(\d{2})")
_table = EvidenceMessage.__table__


# ----------------------------------------------------------------------------- capture


@dataclass
class Capture:
    """A signed exchange as the transport handles it: the request once its signature verified,
    the answer once it is built."""

    signer: Any = None  # the request's certificate (cryptography x509.Certificate), once verified
    received_at: datetime | None = None
    request: bytes = b""  # zlib-compressed
    request_sha256: str = ""
    response: bytes = b""  # as sent, uncompressed
    response_sha256: str = ""
    answered_at: datetime | None = None

    def received(self, compressed: bytes, sha256: str, envelope: etree._Element) -> None:
        """The request, verified: its bytes (compressed as the transport spooled them) and its
        envelope, whose BinarySecurityToken names the signer."""
        from .wsse import signer_certificate

        self.signer = signer_certificate(envelope)
        self.received_at, self.request, self.request_sha256 = utcnow(), compressed, sha256

    def answered(self, body: bytes, sha256: str) -> Capture:
        self.response, self.response_sha256, self.answered_at = body, sha256, utcnow()
        return self


def row(capture: Capture, operation: str) -> dict[str, Any]:
    """The evidence log's row of ``capture`` (``audit.EVIDENCE_COLUMNS``), for ``audit.record`` to
    write with the audit entry of the access, linked to it."""
    return {"received_at": capture.received_at, "answered_at": capture.answered_at, "operation": operation,
            "certificate_serial": format(capture.signer.serial_number, "x"),
            "signer_subject": capture.signer.subject.rfc4514_string()[:500], "compression": "zlib",
            "request": capture.request, "request_sha256": capture.request_sha256,
            "response": zlib.compress(capture.response, 1), "response_sha256": capture.response_sha256}


# ----------------------------------------------------------------------------- periods


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """The UTC bounds [start, end) of the month ``period`` (``YYYY-MM``, China time)."""
    match = _PERIOD.fullmatch((period or "").strip())
    month = int(match.group(2)) if match else 0
    if not match or not 1 <= month <= 12:
        raise InvalidInput(f"period: {period!r} is not a month: write it YYYY-MM, e.g. 2026-11", code="InvalidPeriod",
                           field="period")
    year = int(match.group(1))
    return china_month(year, month)


def archive_name(period: str) -> str:
    return f"govshare-evidence-{period}.zip"


# ----------------------------------------------------------------------------- archiving


@dataclass(frozen=True)
class Archived:
    """One month's archive, written and verified."""

    path: Path
    period: str
    entries: int
    first_seq: int
    last_seq: int
    checkpoint_seq: int
    messages: int
    removed: int  # evidence rows removed from the database (archived and older than GOVSHARE_EVIDENCE_DAYS)
    timestamped: bool
    members: list[str] = field(default_factory=list)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else audit._timestamp(value)


def _entry_doc(row: Any) -> dict[str, Any]:
    return {name: (_iso(value) if isinstance(value, datetime) else value)
            for name in audit.COLUMNS for value in [getattr(row, name)]}


def _covering_checkpoint(ctx: Context, session: Session, last: int) -> AuditCheckpoint:
    """The first signed checkpoint at or after entry ``last``, signed now when there is none."""
    found = session.scalar(select(AuditCheckpoint).where(AuditCheckpoint.seq >= last)
                           .order_by(AuditCheckpoint.seq, AuditCheckpoint.id).limit(1))
    if found is not None:
        return found
    made = audit.checkpoint(ctx.sessions, ctx.settings)
    return session.get(AuditCheckpoint, made.id)


@action("audit.archive")
def archive(ctx: Context, *, period: str, folder: Path | str | None = None) -> Archived:
    """Write the evidence archive of the month ``period`` into ``folder`` (default
    ``<var>/archive``), read it back and verify it, mark its evidence rows archived and remove
    the archived rows older than ``GOVSHARE_EVIDENCE_DAYS``."""
    settings, session = ctx.settings, ctx.session
    start, end = period_bounds(period)
    period = china_text(start, "%Y-%m")
    if end > ctx.now:
        raise Conflict(f"period {period} has not ended (it ends {china_text(end)} China time): archive "
                       "a month once it is over", code="PeriodNotEnded", field="period")
    folder = Path(folder) if folder else settings.var_dir / "archive"
    path = folder / archive_name(period)
    if path.exists():
        raise Conflict(f"{path} exists already: the month {period} was archived", code="ArchiveExists", field="period")
    in_period = (AuditEntry.recorded_at >= start, AuditEntry.recorded_at < end)
    first = session.scalar(select(AuditEntry.seq).where(*in_period).order_by(AuditEntry.seq).limit(1))
    if first is None:
        raise NotFound(f"period {period}: no audit entry was recorded in it, nothing to archive",
                       code="NothingToArchive", field="period")
    last = session.scalar(select(AuditEntry.seq).where(*in_period).order_by(AuditEntry.seq.desc()).limit(1))
    ca = pki.ca_certificate(settings)
    if ca is None:
        raise Unavailable(f"no platform CA under {pki.pki_dir(settings)}: the archive is signed with the platform "
                          "key it certifies (govshare pki init)", code="NoCertificateAuthority")
    cover = _covering_checkpoint(ctx, session, last)
    key, platform_cert = pki.platform_identity(session, settings)
    folder.mkdir(parents=True, exist_ok=True)
    draft = folder / f".{path.name}.part"
    members: dict[str, bytes] = {}  # small members, written last; messages are written as they are read
    digests: list[dict[str, Any]] = []
    kept_ids: list[int] = []
    signers: dict[str, bytes] = {}

    with zipfile.ZipFile(draft, "w", zipfile.ZIP_DEFLATED) as out:
        def add(name: str, data: bytes) -> None:
            out.writestr(name, data)
            digests.append({"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})

        records = []
        rows = session.execute(select(EvidenceMessage).join(AuditEntry, AuditEntry.seq == EvidenceMessage.audit_seq)
                               .where(*in_period, EvidenceMessage.archive.is_(None)).order_by(EvidenceMessage.id)
                               .execution_options(yield_per=200)).scalars()
        for row in rows:
            request, response = zlib.decompress(row.request), zlib.decompress(row.response)
            names = f"messages/{row.id}.request.xml", f"messages/{row.id}.response.xml"
            add(names[0], request)
            add(names[1], response)
            kept_ids.append(row.id)
            records.append({"id": row.id, "audit_seq": row.audit_seq, "received_at": _iso(row.received_at),
                            "answered_at": _iso(row.answered_at), "operation": row.operation,
                            "certificate_serial": row.certificate_serial, "signer_subject": row.signer_subject,
                            "request": names[0], "request_sha256": row.request_sha256,
                            "response": names[1], "response_sha256": row.response_sha256})
            if row.certificate_serial not in signers:
                signers[row.certificate_serial] = _token_pem(request)
        members["evidence/records.jsonl"] = _jsonl(records)
        entries = session.execute(select(AuditEntry).where(AuditEntry.seq >= first, AuditEntry.seq <= cover.seq)
                                  .order_by(AuditEntry.seq).execution_options(yield_per=2000)).scalars()
        members["audit/entries.jsonl"] = _jsonl(_entry_doc(row) for row in entries)
        checkpoints = session.scalars(select(AuditCheckpoint).where(AuditCheckpoint.seq >= first,
                                                                    AuditCheckpoint.seq <= cover.seq)
                                      .order_by(AuditCheckpoint.seq, AuditCheckpoint.id))
        members["audit/checkpoints.jsonl"] = _jsonl(
            {"id": c.id, "seq": c.seq, "entry_hash": c.entry_hash, "created": _iso(c.created), "reason": c.reason,
             "certificate": c.certificate, "signature": c.signature} for c in checkpoints)
        members["certificates/ca.pem"] = ca.public_bytes(serialization.Encoding.PEM)
        members[CRL] = pki.build_crl(session, settings).public_bytes(serialization.Encoding.PEM)  # as of now
        members["certificates/platform.pem"] = platform_cert.public_bytes(serialization.Encoding.PEM)
        for serial, pem in sorted(signers.items()):
            members[f"certificates/{serial}.pem"] = pem
        for name, data in members.items():
            add(name, data)
        manifest = json.dumps({
            "format": FORMAT, "period": period, "from": _iso(start), "until": _iso(end), "created": _iso(utcnow()),
            "node": settings.node_domain, "entries": {"first": first, "last": last}, "checkpoint": cover.seq,
            "messages": len(kept_ids), "tsa": settings.tsa_url or None, "members": digests,
            "wss_skew": settings.wss_skew,
        }, ensure_ascii=False, indent=1, sort_keys=True).encode()
        out.writestr(MANIFEST, manifest)
        out.writestr(SIGNATURE, base64.b64encode(key.sign(manifest, padding.PKCS1v15(), hashes.SHA256())))
        if settings.tsa_url:
            try:
                token = tsa.request(settings.tsa_url, hashlib.sha256(manifest).digest())
            except tsa.TimestampError as exc:
                draft.unlink()
                raise Unavailable(f"the archive of {period} was not written: {exc}", code="TimestampFailed") from None
            out.writestr(TIMESTAMP, token)
    from .evidence_verify import verify_archive

    report = verify_archive(draft, ca)  # read back before anything leaves the database
    if not report.ok:
        draft.unlink()
        raise Unavailable(f"the archive of {period} did not verify once written, so nothing was removed: "
                          f"{report.failures[0]}", code="InternalError")
    os.replace(draft, path)
    for chunk in range(0, len(kept_ids), 500):
        session.execute(update(_table).where(_table.c.id.in_(kept_ids[chunk:chunk + 500])).values(archive=path.name))
    cutoff = ctx.now - timedelta(days=settings.evidence_days)
    removed = session.execute(delete(_table).where(_table.c.archive.isnot(None), _table.c.answered_at <= cutoff)
                              ).rowcount
    ctx.note(record_count=len(kept_ids), detail=f"{path.name}: entries {first}..{cover.seq}, {len(kept_ids)} "
                                                f"messages, {removed} rows removed")
    return Archived(path, period, cover.seq - first + 1, first, last, cover.seq, len(kept_ids), removed,
                    bool(settings.tsa_url), [d["name"] for d in digests])


def _jsonl(docs) -> bytes:
    return b"".join(json.dumps(doc, ensure_ascii=False, sort_keys=True).encode() + b"\n" for doc in docs)


def _token_pem(request: bytes) -> bytes:
    """The PEM of the certificate a signed request carries (its BinarySecurityToken)."""
    from .wsse import signer_certificate
    from .xml import safe_parser

    return signer_certificate(etree.fromstring(request, safe_parser())).public_bytes(serialization.Encoding.PEM)


def kept(settings: Settings) -> bool:
    """Whether signed exchanges are kept: the audit log and the evidence log on, WS-Security not off."""
    return settings.audit and settings.evidence and settings.wss_policy != "off"
