"""The evidence log (消息日志): signed exchanges kept whole and linked to their audit entries,
archived by month, verified offline, and every kind of tampering with an archive named."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree
from sqlalchemy import func, select

import server
from registry.clock import utcnow
from registry.db import make_engine, session_factory, unit_of_work
from registry.errors import Conflict
from registry.models import AuditEntry, EvidenceMessage
from registry.settings import Settings, SettingsError
from trust import audit, evidence, pki, wsse
from trust.actions import Context
from trust.auth import Caller
from trust.evidence_verify import verify_archive

from ..conftest import LiveServer, free_port
from .conftest import EX, envelope, post, query, save_business, served_world, sign, token_of
from .tsa_server import Tsa

ROOT = Path(__file__).resolve().parents[2]
CHINA = timedelta(hours=8)


def _exchange(world) -> dict[str, tuple[bytes, bytes]]:
    """A signed query answered, a signed query refused (a signed fault), a badly signed one: the
    request and answer bytes of each, as they travelled."""
    sent = {}
    for name, env in (("answered", sign(world.mzj, query(world, world.mzj))),
                      ("refused", sign(world.mzj, query(world, world.gaj)))):  # speaks for another department
        data = etree.tostring(env)
        sent[name] = data, post(world, data).content
    forged = sign(world.mzj, query(world, world.mzj))
    forged.find(f".//{{{EX}}}key").text = "110101199003077777"  # changed after signing
    data = etree.tostring(forged)
    sent["forged"] = data, post(world, data).content
    return sent


def _this_month() -> str:
    return f"{utcnow() + CHINA:%Y-%m}"


def _after_this_month() -> datetime:
    """A time in the next month (China time), when this one can be archived."""
    start, end = evidence.period_bounds(_this_month())
    return end + timedelta(days=1)


def _archive(world, settings: Settings, folder: Path) -> evidence.Archived:
    ctx = Context(Caller.platform("cli"), world.sessions, settings, now=_after_this_month())
    return evidence.archive(ctx, period=_this_month(), folder=folder)


def test_a_signed_exchange_is_kept_whole_linked_to_its_audit_entry_then_archived_and_verified_offline(world,
                                                                                                     tmp_path):
    sent = _exchange(world)
    with world.sessions() as session:
        rows = {row.audit_seq: row for row in session.scalars(select(EvidenceMessage))}
        entries = {e.seq: e for e in session.scalars(select(AuditEntry).where(AuditEntry.seq.in_(rows)))}
    assert len(rows) == 3  # the world's signed batch, the answered and the refused query; not the forged one
    by_request = {zlib.decompress(row.request): row for row in rows.values()}
    for name in ("answered", "refused"):
        request, response = sent[name]
        row = by_request[request]
        assert zlib.decompress(row.response) == response  # the answer byte for byte, as sent
        entry = entries[row.audit_seq]
        assert entry.request_digest == row.request_sha256 == hashlib.sha256(request).hexdigest()
        assert entry.response_digest == row.response_sha256 == hashlib.sha256(response).hexdigest()
        assert entry.certificate_serial == row.certificate_serial
        assert world.mzj.credit_code in row.signer_subject and "CN=mzj" in row.signer_subject
        assert row.operation == entry.operation == "exchange.query_records"
        signer = wsse.verified_signature(etree.fromstring(response)).certificate  # the answer is signed, a fault too
        assert "CN=govshare platform" in signer.subject.rfc4514_string()
    assert entries[by_request[sent["refused"][0]].audit_seq].result.startswith("refused:")
    assert entries[by_request[sent["answered"][0]].audit_seq].result == "ok"

    off = LiveServer(server.build_app(replace(world.settings, evidence=False), world.sessions), free_port()).start()
    try:  # GOVSHARE_EVIDENCE=0: the digests in the audit log only
        assert post(replace(world, url=off.url), sign(world.mzj, query(world, world.mzj))).status_code == 200
        assert _count(world) == 3
    finally:
        off.stop()
    _archived_and_verified_offline(world, sent, tmp_path)


def _count(world) -> int:
    with world.sessions() as session:
        return session.scalar(select(func.count()).select_from(EvidenceMessage))


def _archived_and_verified_offline(world, sent, tmp_path) -> None:
    """The month archived (one world serves both halves of the test: the suite's time is short)."""
    made = _archive(world, replace(world.settings, evidence_days=0), tmp_path / "archive")
    assert made.messages == 3 and made.removed == 3 and made.path.name == f"govshare-evidence-{made.period}.zip"
    with zipfile.ZipFile(made.path) as archive:
        names = set(archive.namelist())
        kept = {archive.read(n) for n in names if n.startswith("messages/")}
    assert {"manifest.json", "manifest.sig", "certificates/ca.pem", "certificates/crl.pem", "certificates/platform.pem",
            "audit/entries.jsonl", "audit/checkpoints.jsonl", "evidence/records.jsonl"} <= names
    assert sent["answered"][0] in kept and sent["refused"][1] in kept
    assert _count(world) == 0
    assert audit.verify(world.sessions, world.settings).ok  # the audit entries stay; the chain is whole
    (tmp_path / "ca.pem").write_bytes(world.ca_pem)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVSHARE_")}
    env["GOVSHARE_VAR"] = str(tmp_path / "nowhere")  # no database, no platform files: the archive and the CA only
    done = subprocess.run([sys.executable, "-m", "server", "audit", "verify-archive", str(made.path), "--ca",
                           str(tmp_path / "ca.pem")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 signed exchanges (6 WS-Security signatures verified)" in done.stdout and done.stdout.endswith("OK\n")
    assert not (tmp_path / "nowhere").exists()
    with pytest.raises(Conflict, match="was archived") as raised:  # a month is archived once
        _archive(world, world.settings, tmp_path / "archive")
    assert raised.value.code == "ArchiveExists"


def test_a_signed_publication_call_is_kept_with_its_signed_answer_and_verifies_in_the_archive(world, tmp_path):
    """Who published or deleted a catalogue entry is settled by the same evidence as who read a record."""
    signed = etree.tostring(sign(world.gaj, save_business(token_of(world, "gaj"), "临江市公安局户籍科")))
    reply = post(world, signed, "/uddi/publication")
    assert reply.status_code == 200, reply.text
    with world.sessions() as session:
        [kept] = session.scalars(select(EvidenceMessage).where(EvidenceMessage.operation == "uddi.save_business"))
        entry = session.scalar(select(AuditEntry).where(AuditEntry.seq == kept.audit_seq))
    assert zlib.decompress(kept.request) == signed and zlib.decompress(kept.response) == reply.content
    assert entry.request_digest == kept.request_sha256 == hashlib.sha256(signed).hexdigest()
    assert entry.response_digest == kept.response_sha256 == hashlib.sha256(reply.content).hexdigest()
    assert (entry.user, entry.certificate_serial) == ("gaj", kept.certificate_serial)
    unsigned = post(world, save_business(token_of(world, "mzj"), "临江市民政局婚姻登记处"), "/uddi/publication")
    assert unsigned.status_code == 500 and b"wsse:InvalidSecurity" in unsigned.content
    with world.sessions() as session:  # refused, and recorded as refused; nothing signed to keep
        refused = session.scalars(select(AuditEntry).where(AuditEntry.operation == "uddi.save_business")
                                  .order_by(AuditEntry.seq)).all()[-1]
        assert _count(world) == 2
    assert refused.result == "refused:InvalidSecurity" and refused.certificate_serial is None
    assert "CN=govshare platform" in wsse.verified_signature(etree.fromstring(reply.content)).certificate.subject \
        .rfc4514_string()
    # a signed call refused by the registry: its signed fault is kept whole as its answer, like the exchange's
    gone = etree.tostring(sign(world.gaj, envelope(
        f'<delete_business xmlns="urn:uddi-org:api_v3"><authInfo>{token_of(world, "gaj")}</authInfo>'
        "<businessKey>uddi:govshare.example:no-such-business</businessKey></delete_business>")))
    fault = post(world, gone, "/uddi/publication")
    assert fault.status_code == 500 and b"E_invalidKeyPassed" in fault.content
    assert wsse.verified_signature(etree.fromstring(fault.content)) is not None
    with world.sessions() as session:
        [kept] = session.scalars(select(EvidenceMessage).where(EvidenceMessage.operation == "uddi.delete_business"))
        entry = session.scalar(select(AuditEntry).where(AuditEntry.seq == kept.audit_seq))
    assert zlib.decompress(kept.request) == gone and zlib.decompress(kept.response) == fault.content
    assert entry.result == "refused:E_invalidKeyPassed" and entry.user == "gaj"
    assert entry.response_digest == kept.response_sha256 == hashlib.sha256(fault.content).hexdigest()
    made = _archive(world, world.settings, tmp_path / "archive")
    report = verify_archive(made.path, pki.ca_certificate(world.settings))
    assert report.ok, report.failures
    # the world's signed batch, the call published, the call refused: a signed request and answer each
    assert report.messages == made.messages == 3 and report.signatures == 6


# ----------------------------------------------------------------------------- one archive, tampered with


@pytest.fixture(scope="module")
def month(tmp_path_factory, sqlite_template):
    """One month's archive, time-stamped by a loopback TSA, and what forging needs: the platform key."""
    folder = tmp_path_factory.mktemp("month")
    shutil.copy(sqlite_template, folder / "govshare.db")
    tsa = Tsa(folder)
    settings = Settings.from_env(db_url=f"sqlite:///{folder / 'govshare.db'}", var_dir=folder, wss_policy="optional",
                                 tsa_url=tsa.url)
    engine = make_engine(settings.db_url)
    sessions = session_factory(engine)
    from directory.bootstrap import bootstrap_node

    with unit_of_work(sessions) as session:
        bootstrap_node(session, settings)
    try:
        with served_world(sessions, settings, folder) as world:
            _exchange(world)
            made = _archive(world, world.settings, folder / "archive")
        assert tsa.requests == 1
        yield made, pki.ca_certificate(settings), folder, tsa
    finally:
        tsa.stop()
        engine.dispose()


def _copy(month, tmp_path, change) -> Path:
    """A copy of the month's archive with ``change(members)`` applied to its members (name -> bytes)."""
    made = month[0]
    with zipfile.ZipFile(made.path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    change(members)
    path = tmp_path / made.path.name
    with zipfile.ZipFile(path, "w") as out:
        for name, data in members.items():
            out.writestr(name, data)
    return path


def _platform_key(month):
    return serialization.load_pem_private_key((month[2] / "pki" / "platform.key").read_bytes(), None)


def _reseal(month, members, *, key=None) -> None:
    """Recompute the manifest's digests and sign it again (by default with the platform's own key)."""
    manifest = json.loads(members["manifest.json"])
    for member in manifest["members"]:
        data = members[member["name"]]
        member["sha256"], member["size"] = hashlib.sha256(data).hexdigest(), len(data)
    members["manifest.json"] = json.dumps(manifest).encode()
    key = key or _platform_key(month)
    members["manifest.sig"] = base64.b64encode(key.sign(members["manifest.json"], padding.PKCS1v15(),
                                                        hashes.SHA256()))


def _a_message(members, side="response") -> str:
    """A query's message (the last one of its kind: the world's signed batch comes first)."""
    return sorted(n for n in members if n.startswith("messages/") and n.endswith(f".{side}.xml")
                  and b"QueryRecords" in members[n])[0]


def _flip(data: bytes, marker: bytes) -> bytes:
    at = data.index(marker) + len(marker)
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def test_an_untouched_archive_passes_with_its_time_stamp(month):
    report = verify_archive(month[0].path, month[1], tsa_ca=month[3].ca)
    assert report.ok, report.failures
    assert report.messages == 3 and report.signatures == 6 and report.timestamp is not None
    assert abs(report.timestamp.gen_time.replace(tzinfo=None) - utcnow()) < timedelta(minutes=10)


def test_one_byte_of_a_message_changed_is_named(month, tmp_path):
    changed = {}

    def change(members):
        changed["name"] = name = _a_message(members)
        members[name] = _flip(members[name], b"<ex:total>")

    report = verify_archive(_copy(month, tmp_path, change), month[1])
    assert not report.ok
    assert f"{changed['name']}: its SHA-256 is not the one the manifest lists (altered)" in report.failures
    assert any(f.startswith(changed["name"]) and "WS-Security signature does not verify" in f
               for f in report.failures)


def test_a_changed_message_with_its_manifest_digest_recomputed_breaks_the_manifest_signature(month, tmp_path):
    changed = {}

    def change(members):
        changed["name"] = name = _a_message(members, "request")
        members[name] = _flip(members[name], b"<ex:key>")
        manifest = json.loads(members["manifest.json"])
        for member in manifest["members"]:
            if member["name"] == name:
                member["sha256"] = hashlib.sha256(members[name]).hexdigest()
        members["manifest.json"] = json.dumps(manifest).encode()

    failures = verify_archive(_copy(month, tmp_path, change), month[1]).failures
    assert any(f.startswith("manifest.sig: the platform's signature over manifest.json does not verify")
               for f in failures)
    assert any(f.startswith(changed["name"]) and "does not match audit entry" in f for f in failures)
    assert any(f.startswith(changed["name"]) and "WS-Security signature does not verify" in f for f in failures)


def test_a_manifest_signed_by_another_key_is_detected(month, tmp_path):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    failures = verify_archive(_copy(month, tmp_path, lambda m: _reseal(month, m, key=stranger)), month[1]).failures
    assert failures and all(f.startswith("manifest.sig") or f.startswith("manifest.tsr") for f in failures)


def test_answers_swapped_even_by_the_platform_key_holder_do_not_match_their_audit_entries(month, tmp_path):
    """Whoever holds the platform key can re-sign a manifest, not rewrite the signed audit chain."""
    def change(members):
        responses = sorted(n for n in members if n.endswith(".response.xml"))
        members[responses[0]], members[responses[1]] = members[responses[1]], members[responses[0]]
        records = [json.loads(line) for line in members["evidence/records.jsonl"].splitlines()]
        for record in records:
            record["response_sha256"] = hashlib.sha256(members[record["response"]]).hexdigest()
        members["evidence/records.jsonl"] = b"".join(json.dumps(r).encode() + b"\n" for r in records)
        _reseal(month, members)

    failures = verify_archive(_copy(month, tmp_path, change), month[1]).failures
    mismatched = [f for f in failures if "does not match audit entry" in f and "response_digest" in f]
    assert len(mismatched) == 2 and all(f.startswith("messages/") for f in mismatched)


def test_an_archive_checked_against_the_archive_s_own_ca_only_proves_nothing(month, tmp_path):
    """A CA the verifier did not supply: every signature made under it is refused."""
    from trust.pki import init_ca

    other = Settings.from_env(db_url="sqlite://", var_dir=tmp_path)
    init_ca(other)
    failures = verify_archive(month[0].path, pki.ca_certificate(other)).failures
    assert any(f.startswith("certificates/ca.pem: is not the CA you trust") for f in failures)
    assert any(f.startswith("certificates/platform.pem") for f in failures)


def test_a_time_stamp_of_another_manifest_or_another_tsa_is_refused(month, tmp_path):
    report = verify_archive(month[0].path, month[1], tsa_ca=month[1])  # the platform CA did not issue the TSA's
    assert any(f.startswith("manifest.tsr: the time-stamping certificate") for f in report.failures)
    resealed = verify_archive(_copy(month, tmp_path, lambda m: _reseal(month, m)), month[1], tsa_ca=month[3].ca)
    assert resealed.failures == ["manifest.tsr: the time-stamp is for another digest than this manifest's SHA-256"]


def _crl(month, revoked: dict[int, datetime], *, key=None) -> bytes:
    """A revocation list over the month's CA name, signed by its CA key (or ``key``), revoking ``revoked``."""
    from cryptography import x509

    ca_key = key or serialization.load_pem_private_key((month[2] / "pki" / "ca.key").read_bytes(), None)
    now = utcnow().replace(tzinfo=UTC)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(month[1].subject).last_update(now)
               .next_update(now + timedelta(days=1)))
    for serial, since in revoked.items():
        builder = builder.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(serial)
                                                  .revocation_date(since.replace(tzinfo=UTC)).build())
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _besides_the_time_stamp(failures: list[str]) -> list[str]:
    """(a re-sealed manifest is not the one the TSA stamped: that failure is another test's)"""
    return [f for f in failures if not f.startswith("manifest.tsr:")]


def _query_record(members) -> dict:
    return next(r for r in map(json.loads, members["evidence/records.jsonl"].splitlines())
                if r["request"] == _a_message(members, "request"))


def test_the_archive_carries_the_cas_revocation_list_and_a_signer_revoked_before_its_request_is_named(
        month, tmp_path):
    report = verify_archive(month[0].path, month[1])
    assert report.ok and report.crl_updated is not None and report.revoked_later == {}
    assert any(c.startswith("revocation: the CA's CRL of ") for c in report.checked)
    found = {}

    def revoke_before(members):  # as if the platform had taken a request from a certificate already revoked
        found["record"] = record = _query_record(members)
        received = datetime.fromisoformat(record["received_at"].rstrip("Z"))
        members[evidence.CRL] = _crl(month, {int(record["certificate_serial"], 16): received - timedelta(hours=1)})
        _reseal(month, members)

    failures = _besides_the_time_stamp(verify_archive(_copy(month, tmp_path, revoke_before), month[1]).failures)
    serial = found["record"]["certificate_serial"]
    assert failures and all(f.split(":")[0].endswith(".request.xml") and f"certificate {serial} at " in f
                            and "after it was revoked" in f and "the platform should have refused it" in f
                            for f in failures)  # each request that certificate signed (the query and the refused one)
    assert any(f.startswith(found["record"]["request"]) for f in failures)


def test_a_signer_revoked_after_its_messages_is_noted_not_failed(month, tmp_path, capsys):
    found = {}

    def revoke_after(members):
        found["record"] = record = _query_record(members)
        members[evidence.CRL] = _crl(month, {int(record["certificate_serial"], 16): utcnow() + timedelta(minutes=5)})
        _reseal(month, members)

    path = _copy(month, tmp_path, revoke_after)
    report = verify_archive(path, month[1])
    assert _besides_the_time_stamp(report.failures) == []
    assert set(report.revoked_later) == {found["record"]["certificate_serial"]}
    (tmp_path / "ca.pem").write_bytes(month[1].public_bytes(serialization.Encoding.PEM))
    server.main(["audit", "verify-archive", str(path), "--ca", str(tmp_path / "ca.pem")])
    said = capsys.readouterr().out
    assert f"note: certificate {found['record']['certificate_serial']} was revoked " in said
    assert "after the messages it signed here: they were signed while it was valid" in said


def test_a_record_time_outside_its_messages_signed_timestamp_is_named(month, tmp_path):
    """The requester's own signed wsu:Timestamp vouches for when the platform says it received the request."""
    found = {}

    def moved(members):  # the platform's record says the request came a day later than it was signed
        records = [json.loads(line) for line in members["evidence/records.jsonl"].splitlines()]
        found["record"] = record = next(r for r in records if r["request"] == _a_message(members, "request"))
        record["received_at"] = (datetime.fromisoformat(record["received_at"].rstrip("Z"))
                                 + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        members["evidence/records.jsonl"] = b"".join(json.dumps(r).encode() + b"\n" for r in records)
        _reseal(month, members)

    failures = _besides_the_time_stamp(verify_archive(_copy(month, tmp_path, moved), month[1]).failures)
    assert len(failures) == 1 and failures[0].startswith(found["record"]["request"])
    assert "is outside its signed wsu:Timestamp" in failures[0] and "give or take 300 s" in failures[0]


def test_a_revocation_list_not_signed_by_the_ca_is_not_believed(month, tmp_path):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def forged(members):  # a list that hides a revocation, signed by someone else, the manifest re-signed
        members[evidence.CRL] = _crl(month, {}, key=stranger)
        _reseal(month, members)

    failures = _besides_the_time_stamp(verify_archive(_copy(month, tmp_path, forged), month[1]).failures)
    assert failures == [f"{evidence.CRL}: not signed by the CA you trust: the revocations it lists cannot be believed"]


# ----------------------------------------------------------------------------- the command line


def test_verify_archive_of_a_missing_file_says_so(tmp_path, capsys):
    assert server.main(["audit", "verify-archive", str(tmp_path / "none.zip"), "--ca", str(tmp_path / "ca.pem")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_archive_refuses_a_period_that_is_not_one_unfinished_or_empty(sqlite_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GOVSHARE_VAR", str(tmp_path))
    for period, said in (("2026-13", "is not a month"), (_this_month(), "has not ended"),
                         ("2020-01", "no audit entry was recorded in it")):
        assert server.main(["--db-url", sqlite_url, "audit", "archive", "--period", period]) == 2
        assert said in capsys.readouterr().err


def test_the_evidence_settings_are_read_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GOVSHARE_VAR", str(tmp_path))
    for name in ("GOVSHARE_EVIDENCE", "GOVSHARE_EVIDENCE_DAYS", "GOVSHARE_TSA_URL"):
        monkeypatch.delenv(name, raising=False)
    default = Settings.from_env()
    assert (default.evidence, default.evidence_days, default.tsa_url) == (True, 30, "")
    monkeypatch.setenv("GOVSHARE_EVIDENCE", "0")
    monkeypatch.setenv("GOVSHARE_EVIDENCE_DAYS", "7")
    monkeypatch.setenv("GOVSHARE_TSA_URL", " http://tsa.example.cn/tsr ")
    read = Settings.from_env()
    assert (read.evidence, read.evidence_days, read.tsa_url) == (False, 7, "http://tsa.example.cn/tsr")
    monkeypatch.setenv("GOVSHARE_EVIDENCE_DAYS", "-1")
    with pytest.raises(SettingsError, match="GOVSHARE_EVIDENCE_DAYS=-1 is negative"):
        Settings.from_env()
