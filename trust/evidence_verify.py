"""Verify an evidence archive (消息日志归档) offline: no database, no network.

    govshare audit verify-archive govshare-evidence-2026-11.zip --ca ca.pem [--tsa-ca tsa-ca.pem]

What is checked, in this order (the layout is :mod:`trust.evidence`'s):

1. the platform certificate in the archive was issued by the CA the verifier *supplies*
   (``--ca``), and the archive's own ``certificates/ca.pem`` is that CA.  Whoever could alter
   the archive could also replace its CA, its platform certificate and every signature in it
   with ones of their own making, all consistent with each other: a CA taken from the archive
   proves only that the archive agrees with itself.  The CA must come from elsewhere - the
   platform's published ``/pki/ca.pem`` compared by fingerprint, a copy kept by the auditor;
2. ``manifest.sig`` is the platform key's RSA-SHA256 signature over ``manifest.json``;
3. the RFC 3161 time-stamp over the manifest, when there is one (:mod:`trust.tsa`);
4. every member the manifest lists is there with its SHA-256 and size, and no other member is;
5. the audit chain segment: every entry's hash (:func:`trust.audit.entry_hash`), each entry
   linked to the one before it, no gap, and the last entry signed by a checkpoint whose
   signature verifies against the supplied CA (so the segment is the platform's, as it was
   when signed); checkpoints inside the segment match too.  The keyed hashes (``entry_mac``)
   need the platform's secret audit key and are not checked here;
6. every kept exchange: the request's and the answer's WS-Security signatures verify
   (:func:`trust.wsse.verified_signature`, the same shape, algorithm and wrapping checks the
   platform applies to what it receives) with certificates issued by the supplied CA; the
   request's signer is the one recorded; the request's and the answer's SHA-256 are the
   ``request_digest`` and ``response_digest`` of the audit entry it is linked to, an entry of
   the verified segment, with the same certificate serial; and the time the record gives (received,
   answered) is within the message's signed wsu:Timestamp, give or take the platform's clock skew
   (the manifest's ``wss_skew``): the signer's own signed time vouches for the record's;
7. revocation: ``certificates/crl.pem``, the CA's revocation list as the archive was made, is
   signed by the supplied CA, and no request or answer was received or sent after its signer's
   certificate had been revoked.  A certificate revoked after its messages does not make them
   less the signer's: the report counts such messages (``revoked_later``) and names the
   certificates.  An archive with no CRL (made before it was added) is said to be so.

Every failure names the member it concerns; the verifier goes on after one, so a report lists
them all.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from registry.clock import china_text

from . import audit, pki, tsa
from .evidence import CRL, FORMAT, MANIFEST, SIGNATURE, TIMESTAMP

if TYPE_CHECKING:
    from .wsse import Signed

#: the clock skew the platform tolerated, for an archive that does not say (``GOVSHARE_WSS_SKEW``'s default)
DEFAULT_SKEW = 300


@dataclass
class ArchiveReport:
    """What was checked, how much of it, and every failure as ``member: why``."""

    path: str
    period: str = ""
    members: int = 0
    entries: int = 0
    checkpoints: int = 0
    messages: int = 0
    signatures: int = 0  # WS-Security signatures verified (two per exchange)
    crl_updated: datetime | None = None  # when the archive's revocation list was made (None: no list)
    revoked_later: dict[str, datetime] = field(default_factory=dict)  # serial -> revoked after its messages
    timestamp: tsa.Stamp | None = None
    checked: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, member: str, why: str) -> None:
        self.failures.append(f"{member}: {why}")


def verify_archive(path: Path | str, ca: x509.Certificate, *, tsa_ca: x509.Certificate | None = None
                   ) -> ArchiveReport:
    """Check the archive at ``path`` against the CA ``ca`` the verifier trusts (see the module)."""
    report = ArchiveReport(str(path))
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        report.fail(str(path), f"not a readable zip archive ({exc})")
        return report
    with archive:
        members = {info.filename: info for info in archive.infolist()}
        try:
            manifest_bytes = archive.read(MANIFEST)
            manifest = json.loads(manifest_bytes)
            if manifest.get("format") != FORMAT:
                raise ValueError(f"format {manifest.get('format')!r}, not {FORMAT}")
        except (KeyError, ValueError) as exc:
            report.fail(MANIFEST, f"missing or unreadable: {exc}")
            return report
        report.period = manifest.get("period", "")
        read = _Reader(archive, members, report)
        platform = _certificates(read, ca, report)
        _manifest_signature(read, manifest_bytes, platform, report)
        _timestamp(read, manifest_bytes, manifest, tsa_ca, report)
        _members(read, manifest, report)
        entries = _chain(read, manifest, ca, report)
        skew = timedelta(seconds=manifest.get("wss_skew", DEFAULT_SKEW))
        _exchanges(read, entries, ca, platform, _revocations(read, manifest, ca, report), skew, report)
    return report


class _Reader:
    """The archive's members by name; a missing one is a failure, reported once."""

    def __init__(self, archive: zipfile.ZipFile, members: dict, report: ArchiveReport):
        self.archive, self.members, self.report = archive, members, report

    def __call__(self, name: str) -> bytes | None:
        if name not in self.members:
            self.report.fail(name, "missing from the archive")
            self.members[name] = None
            return None
        if self.members[name] is None:
            return None
        return self.archive.read(name)

    def lines(self, name: str) -> list[dict[str, Any]]:
        data = self(name)
        try:
            return [json.loads(line) for line in (data or b"").splitlines() if line.strip()]
        except ValueError as exc:
            self.report.fail(name, f"not JSON lines: {exc}")
            return []


def _certificates(read: _Reader, ca: x509.Certificate, report: ArchiveReport) -> x509.Certificate | None:
    own = read("certificates/ca.pem")
    if own is not None and _pem(own) != ca:
        report.fail("certificates/ca.pem", f"is not the CA you trust ({ca.subject.rfc4514_string()}): the archive "
                    "was made under another CA, or its CA was replaced")
    data = read("certificates/platform.pem")
    platform = _pem(data) if data is not None else None
    if data is not None and platform is None:
        report.fail("certificates/platform.pem", "not a PEM certificate")
    elif platform is not None and not pki.chains_to(platform, ca):
        report.fail("certificates/platform.pem", f"{platform.subject.rfc4514_string()} was not issued by the CA "
                    "you trust")
        platform = None
    report.checked.append("certificates against the CA supplied")
    return platform


def _manifest_signature(read: _Reader, manifest: bytes, platform: x509.Certificate | None,
                        report: ArchiveReport) -> None:
    signature = read(SIGNATURE)
    if signature is None or platform is None:
        if signature is not None:
            report.fail(SIGNATURE, "cannot be checked: no trusted platform certificate")
        return
    try:
        platform.public_key().verify(base64.b64decode(signature, validate=True), manifest, padding.PKCS1v15(),
                                     hashes.SHA256())
    except Exception:  # noqa: BLE001 - bad base64, a wrong key or signature alike
        report.fail(SIGNATURE, "the platform's signature over manifest.json does not verify (forged, or the "
                    "manifest was altered)")
        return
    report.checked.append("manifest signature (platform key, RSA-SHA256)")


def _timestamp(read: _Reader, manifest_bytes: bytes, manifest: dict, tsa_ca: x509.Certificate | None,
               report: ArchiveReport) -> None:
    if TIMESTAMP not in read.members:
        if manifest.get("tsa"):
            report.fail(TIMESTAMP, f"missing: the manifest says {manifest['tsa']} stamped it")
        return
    try:
        report.timestamp = tsa.check(read(TIMESTAMP), hashlib.sha256(manifest_bytes).digest(), trusted=tsa_ca)
    except tsa.TimestampError as exc:
        report.fail(TIMESTAMP, str(exc))
        return
    trust_note = "its CA supplied" if tsa_ca is not None else "no TSA CA supplied: its issuer is not checked"
    report.checked.append(f"RFC 3161 time-stamp of the manifest ({trust_note})")


def _members(read: _Reader, manifest: dict, report: ArchiveReport) -> None:
    listed = {m["name"]: m for m in manifest.get("members", [])}
    for name in sorted(set(read.members) - set(listed) - {MANIFEST, SIGNATURE, TIMESTAMP}):
        report.fail(name, "in the archive but not in the manifest (added)")
    for name, member in listed.items():
        data = read(name)
        if data is None:
            continue
        report.members += 1
        if len(data) != member.get("size") or hashlib.sha256(data).hexdigest() != member.get("sha256"):
            report.fail(name, "its SHA-256 is not the one the manifest lists (altered)")
    report.checked.append("member digests")


def _chain(read: _Reader, manifest: dict, ca: x509.Certificate, report: ArchiveReport) -> dict[int, dict]:
    """The verified segment's entries by seq (those that verify)."""
    entries = read.lines("audit/entries.jsonl")
    checkpoints = read.lines("audit/checkpoints.jsonl")
    where = "audit/entries.jsonl"
    by_seq: dict[int, dict] = {}
    previous: dict | None = None
    for entry in entries:
        report.entries += 1
        seq = entry.get("seq")
        if audit.entry_hash(entry) != entry.get("entry_hash"):
            report.fail(where, f"seq {seq}: its fields no longer match its hash (altered)")
        elif previous is not None and seq != previous["seq"] + 1:
            report.fail(where, f"seq {previous['seq'] + 1}..{seq - 1}: missing from the segment (deleted)")
        elif previous is not None and entry.get("prev_hash") != previous.get("entry_hash"):
            report.fail(where, f"seq {seq}: not chained to entry {previous['seq']} (rewritten or replaced)")
        else:
            by_seq[seq] = entry
        previous = entry
    first, last = (manifest.get("entries") or {}).get("first"), manifest.get("checkpoint")
    if entries and (entries[0].get("seq") != first or entries[-1].get("seq") != last):
        report.fail(where, f"holds seq {entries[0].get('seq')}..{entries[-1].get('seq')}, the manifest says "
                    f"{first}..{last}")
    signed_last = False
    for row in checkpoints:
        report.checkpoints += 1
        created = row.get("created") or ""
        try:
            stamp = datetime.strptime(created, "%Y-%m-%dT%H:%M:%S.%fZ")
        except ValueError:
            report.fail("audit/checkpoints.jsonl", f"checkpoint #{row.get('id')}: its time {created!r} is unreadable")
            continue
        why = audit._signature_problem(SimpleNamespace(**{**row, "created": stamp}), ca)
        if why is not None:
            report.fail("audit/checkpoints.jsonl", f"checkpoint #{row.get('id')} at seq {row.get('seq')}: {why}")
        elif row.get("seq") not in by_seq or by_seq[row["seq"]]["entry_hash"] != row.get("entry_hash"):
            report.fail("audit/checkpoints.jsonl", f"checkpoint #{row.get('id')} signed seq {row.get('seq')} with "
                        "another hash than the segment's entry: the chain was rewritten")
        elif row.get("seq") == last:
            signed_last = True
    if entries and not signed_last:
        report.fail("audit/checkpoints.jsonl", f"no verified checkpoint signs the segment's last entry (seq {last})")
    report.checked.append("audit chain segment and its signed checkpoints")
    return by_seq if signed_last else {}


def _revocations(read: _Reader, manifest: dict, ca: x509.Certificate, report: ArchiveReport
                 ) -> dict[int, datetime]:
    """The revoked serials of the archive's CRL and since when (aware UTC), once its signature verifies."""
    if CRL not in {member.get("name") for member in manifest.get("members", [])}:
        report.checked.append("revocation: not checked, the archive carries no CRL (made before archives had one)")
        return {}
    data = read(CRL)
    try:
        crl = x509.load_pem_x509_crl(data) if data is not None else None
    except ValueError:
        report.fail(CRL, "not a PEM certificate revocation list")
        return {}
    if crl is None:
        return {}
    if crl.issuer != ca.subject or not crl.is_signature_valid(ca.public_key()):
        report.fail(CRL, "not signed by the CA you trust: the revocations it lists cannot be believed")
        return {}
    report.crl_updated = crl.last_update_utc
    report.checked.append(f"revocation: the CA's CRL of {china_time(crl.last_update_utc)}, {len(crl)} certificates "
                          "revoked; no message signed after its certificate's revocation")
    return {revoked.serial_number: revoked.revocation_date_utc for revoked in crl}


def _revoked_before(name: str, signer: x509.Certificate, when: str | None, revoked: dict[int, datetime],
                    report: ArchiveReport) -> None:
    """Fail ``name`` when ``signer`` had been revoked by ``when`` (its record's ISO time, naive UTC)."""
    since = revoked.get(signer.serial_number)
    if since is None:
        return
    try:
        at = datetime.fromisoformat(when).replace(tzinfo=since.tzinfo) if when else None
    except ValueError:
        at = None
    if at is None:
        report.fail(name, f"signed by certificate {signer.serial_number:x}, revoked {china_time(since)}, and its "
                    "record gives no time to tell whether it was signed before")
    elif at >= since:
        report.fail(name, f"signed by certificate {signer.serial_number:x} at {china_time(at)}, after it was "
                    f"revoked {china_time(since)}: the platform should have refused it")
    else:
        report.revoked_later[format(signer.serial_number, "x")] = since


def _exchanges(read: _Reader, entries: dict[int, dict], ca: x509.Certificate, platform: x509.Certificate | None,
               revoked: dict[int, datetime], skew: timedelta, report: ArchiveReport) -> None:
    for record in read.lines("evidence/records.jsonl"):
        report.messages += 1
        seq, serial = record.get("audit_seq"), record.get("certificate_serial")
        entry = entries.get(seq)
        if entry is None:
            report.fail(record.get("request", "evidence/records.jsonl"), f"its audit entry seq {seq} is not in the "
                        "verified chain segment")
        for side, digest_column in (("request", "request_digest"), ("response", "response_digest")):
            name = record.get(side) or f"evidence record {record.get('id')} {side}"
            data = read(name) if record.get(side) else None
            if data is None:
                continue
            digest = hashlib.sha256(data).hexdigest()
            if digest != record.get(f"{side}_sha256"):
                report.fail(name, f"its SHA-256 is not the one its evidence record gives ({side} altered or swapped)")
            if entry is not None and digest != entry.get(digest_column):
                report.fail(name, f"does not match audit entry seq {seq}: its SHA-256 is not the entry's "
                            f"{digest_column}")
            signed = _signed_by(name, data, ca, report)
            if signed is None:
                continue
            signer, when = signed.certificate, record.get("received_at" if side == "request" else "answered_at")
            report.signatures += 1
            _revoked_before(name, signer, when, revoked, report)
            _within_timestamp(name, signed.timestamp, when, skew, report)
            if side == "request" and (format(signer.serial_number, "x") != serial
                                      or (entry is not None and entry.get("certificate_serial") != serial)):
                report.fail(name, f"signed by certificate {signer.serial_number:x}, the record and its audit entry "
                            f"name {serial} and {entry and entry.get('certificate_serial')}")
            if side == "response" and platform is not None and signer != platform:
                report.fail(name, f"the answer is signed by {signer.subject.rfc4514_string()}, not the platform "
                            "certificate of the archive")
    report.checked.append("WS-Security signatures of every request and answer, their audit entries, and each "
                          "record's time within its message's signed wsu:Timestamp")


def _within_timestamp(name: str, timestamp: etree._Element, when: str | None, skew: timedelta,
                      report: ArchiveReport) -> None:
    """Fail ``name`` when the time its record gives (received or answered, naive UTC ISO) is not within
    its signed wsu:Timestamp, give or take the platform's clock skew: the signer's own signed time
    vouches for the record's."""
    from .wsse import WsSecurityError, signed_period

    try:
        created, expires = signed_period(timestamp)
        at = datetime.fromisoformat(when.rstrip("Z")) if when else None
    except (WsSecurityError, ValueError):
        report.fail(name, "its wsu:Timestamp or its record's time cannot be read")
        return
    if at is None or not created - skew <= at <= expires + skew:
        report.fail(name, f"its record's time {china_time(at) if at else '(none)'} is outside its signed "
                    f"wsu:Timestamp ({china_time(created)} to {china_time(expires)}, give or take "
                    f"{skew.total_seconds():.0f} s)")


def _signed_by(name: str, data: bytes, ca: x509.Certificate, report: ArchiveReport) -> Signed | None:
    """The verified WS-Security signature over ``data`` (its certificate issued by the CA)."""
    from .wsse import WsSecurityError, security_header, verified_signature
    from .xml import safe_parser

    try:
        envelope = etree.fromstring(data, safe_parser())
        signed = verified_signature(envelope, security_header(envelope))
    except etree.XMLSyntaxError as exc:
        report.fail(name, f"not well-formed XML ({exc})")
        return None
    except WsSecurityError as exc:
        report.fail(name, f"its WS-Security signature does not verify: {exc.message}")
        return None
    if not pki.chains_to(signed.certificate, ca):
        report.fail(name, f"signed by {signed.certificate.subject.rfc4514_string()}, which the CA you trust did not "
                    "issue")
        return None
    return signed


def _pem(data: bytes) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        return None


def china_time(value: datetime) -> str:
    """An aware or naive-UTC time as people read it here: China time."""
    return f"{china_text(value, '%Y-%m-%d %H:%M:%S')} (北京时间)"
