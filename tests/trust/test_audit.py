"""The audit log (S4): every access and every refusal recorded, in one hash chain that tells
what was altered, deleted, reordered or cut off."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
import logging
import multiprocessing
import stat
import threading
import time
import uuid
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from sqlalchemy import insert, select, text

from directory.accounts import create_user, register_department
from directory.demo import credit_code_for
from registry.clock import utcnow
from registry.db import make_engine, session_factory, unit_of_work
from registry.errors import InvalidInput
from registry.models import AuditCheckpoint, AuditEntry, Department, EvidenceMessage
from registry.settings import Settings
from tests.exchange import conftest as exchange_fixtures
from tests.exchange.conftest import EX, SOAP_ENV, another_of_gaj, submit_body
from trust import audit, auditing, pki
from trust.actions import Context
from trust.auth import Caller
from xsd import samples
from xsd.batch import build_batch

population = exchange_fixtures.population  # a provider (gaj) with a published resource, a consumer (mzj)

UDDI = "urn:uddi-org:api_v3"
CREATED = datetime(2024, 7, 1, 9, 0, tzinfo=UTC)


def _envelope(body: str) -> bytes:
    return f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>{body}</soap:Body></soap:Envelope>'.encode()


def _post(url: str, body: str | bytes, *, raw: bool = False) -> requests.Response:
    data = body if raw else _envelope(body if isinstance(body, str) else body.decode())
    return requests.post(url, data=data, headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=60)


def _entries(sessions, channel: str | None = None) -> list[AuditEntry]:
    """The audit log, or the entries of one channel (``soap``: not those of the fixtures' actions)."""
    with sessions() as session:
        return list(session.scalars(select(AuditEntry).where(*([AuditEntry.channel == channel] if channel else []))
                                    .order_by(AuditEntry.seq)))


def _fill(sessions, settings, count: int) -> None:
    for i in range(count):
        audit.record(sessions, settings, audit.AuditEvent(
            "exchange.QueryRecords", department_code="mzj", resource_code="101001/000001",
            query_digest=audit.query_digest({"keys": [str(i)]}), record_count=i))


def _problems(sessions, settings) -> list[tuple[str, int | None, int | None]]:
    return [(p.kind, p.seq, p.last) for p in audit.verify(sessions, settings).problems]


def _platform(sessions, settings) -> Context:
    """The platform's operator at the console, who may read the audit log."""
    return Context(Caller.platform("cli"), sessions, settings)


def _sql(sessions, statement: str, **params) -> None:
    with unit_of_work(sessions) as session:
        session.execute(text(statement), params)


# ----------------------------------------------------------------------------- what is recorded


def test_a_query_is_recorded_with_caller_resource_query_digest_count_and_byte_digests(live_server, sessions,
                                                                                      population):
    records = list(samples.population_records(5, seed=4))
    batch = build_batch(records, provider_code=population.provider_code, resource_code=population.code,
                        created=CREATED, batch_id=uuid.uuid4())
    assert _post(f"{live_server.url}/exchange", submit_body(batch)).status_code == 200
    query = (f'<ex:QueryRecords xmlns:ex="{EX}"><ex:requester>{population.consumer_code}</ex:requester>'
                        f"<ex:resourceCode>{population.code}</ex:resourceCode><ex:pageSize>3</ex:pageSize>"
                        "</ex:QueryRecords>")
    request = _envelope(query)
    reply = _post(f"{live_server.url}/exchange", request, raw=True)
    assert reply.status_code == 200

    submitted, queried = _entries(sessions, "soap")
    assert (submitted.operation, submitted.result) == ("exchange.submit_batch", "ok")
    assert (submitted.department_code, submitted.resource_code, submitted.record_count) == ("gaj", population.code, 5)
    assert (queried.seq, queried.operation, queried.result) == (submitted.seq + 1, "exchange.query_records", "ok")
    with sessions() as session:
        mzj = session.scalar(select(Department).where(Department.code == "mzj"))
    assert (queried.department_id, queried.department_code, queried.resource_code) == (mzj.id, "mzj", population.code)
    assert queried.record_count == 3 and queried.user is None and queried.certificate_serial is None
    assert queried.query_digest == audit.query_digest({"keys": [], "filters": [], "offset": 0, "pageSize": 3})
    assert queried.request_digest == hashlib.sha256(request).hexdigest()
    assert queried.response_digest == hashlib.sha256(reply.content).hexdigest()
    assert queried.prev_hash == submitted.entry_hash


def test_refusals_are_recorded_though_the_request_is_rolled_back(live_server, sessions, settings, population):
    secret = another_of_gaj(sessions, settings, "涉密人口信息", "不予共享", "secret")
    refused = _post(f"{live_server.url}/exchange",
                    f'<ex:QueryRecords xmlns:ex="{EX}"><ex:requester>{population.consumer_code}</ex:requester>'
                    f"<ex:resourceCode>{secret}</ex:resourceCode></ex:QueryRecords>")
    unknown = _post(f"{live_server.url}/exchange",
                    f'<ex:GetChanges xmlns:ex="{EX}"><ex:requester>91330100MA0000000X</ex:requester>'
                    f"<ex:resourceCode>{population.code}</ex:resourceCode></ex:GetChanges>")
    garbage = b"<soap:Envelope xmlns:soap='" + SOAP_ENV.encode() + b"'><soap:Body><unclosed>"
    malformed = _post(f"{live_server.url}/exchange", garbage, raw=True)
    assert {refused.status_code, unknown.status_code, malformed.status_code} == {500}

    not_shared, unknown_dept, bad_xml = _entries(sessions, "soap")
    assert (not_shared.operation, not_shared.result, not_shared.department_code) == (
        "exchange.query_records", "refused:NotShared", "mzj")
    assert not_shared.resource_code == secret and not_shared.record_count == 0 and "不予共享" in not_shared.detail
    assert not_shared.response_digest == hashlib.sha256(refused.content).hexdigest()
    assert (unknown_dept.operation, unknown_dept.result) == ("exchange.get_changes", "refused:UnknownDepartment")
    assert unknown_dept.department_id is None and unknown_dept.resource_code == population.code
    assert (bad_xml.operation, bad_xml.result) == ("exchange.request", "refused:MalformedXml")
    assert bad_xml.request_digest == hashlib.sha256(garbage).hexdigest()
    assert audit.verify(sessions, settings).ok


def test_directory_publication_is_recorded_with_the_publisher(live_server, sessions, population):
    token = etree.fromstring(_post(f"{live_server.url}/uddi/security",
                                   f'<get_authToken xmlns="{UDDI}" userID="mzj" cred="x"/>').content)
    auth = token.findtext(f".//{{{UDDI}}}authInfo")
    saved = _post(f"{live_server.url}/uddi/publication",
                  f'<save_tModel xmlns="{UDDI}"><authInfo>{auth}</authInfo>'
                  "<tModel><name>民政局婚姻登记接口</name></tModel></save_tModel>")
    assert saved.status_code == 200
    tmodel_key = etree.fromstring(saved.content).find(f".//{{{UDDI}}}tModel").get("tModelKey")
    with sessions() as session:
        gaj_business = session.scalar(select(Department.business_key).where(Department.code == "gaj"))
    stolen = _post(f"{live_server.url}/uddi/publication",
                   f'<delete_business xmlns="{UDDI}"><authInfo>{auth}</authInfo>'
                   f"<businessKey>{gaj_business}</businessKey></delete_business>")
    assert stolen.status_code == 500

    save, delete = _entries(sessions, "soap")
    assert (save.operation, save.result, save.department_code, save.user) == ("uddi.save_tModel", "ok", "mzj", "mzj")
    assert save.record_count == 1 and save.resource_code == tmodel_key and tmodel_key in save.detail
    assert (delete.operation, delete.result, delete.user) == ("uddi.delete_business", "refused:E_userMismatch", "mzj")
    assert delete.record_count == 0


def test_audit_off_records_nothing(sessions, settings, population, tmp_path):
    import server
    from tests.conftest import LiveServer, free_port

    quiet = replace(settings, audit=False)
    before = _entries(sessions)  # the fixture's
    srv = LiveServer(server.build_app(quiet, sessions), free_port()).start()
    try:
        _post(f"{srv.url}/exchange", f'<ex:QueryRecords xmlns:ex="{EX}"><ex:requester>{population.consumer_code}'
                                     f"</ex:requester><ex:resourceCode>{population.code}</ex:resourceCode>"
                                     "</ex:QueryRecords>")
    finally:
        srv.stop()
    assert [e.seq for e in _entries(sessions)] == [e.seq for e in before]


# ----------------------------------------------------------------------------- the chain


def test_an_untouched_chain_verifies(sessions, settings):
    _fill(sessions, settings, 6)
    report = audit.verify(sessions, settings)
    assert report.ok and report.entries == 6 and report.head_seq == 6
    entries = _entries(sessions)
    assert entries[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.entry_hash for a, b in zip(entries, entries[1:], strict=False))


def test_an_altered_field_is_reported_at_its_sequence_number(sessions, settings):
    _fill(sessions, settings, 6)
    _sql(sessions, "UPDATE audit_entry SET record_count = 999 WHERE seq = 3")
    assert _problems(sessions, settings) == [("altered", 3, None)]


def test_an_entry_rewritten_with_its_hash_recomputed_breaks_the_next_link(sessions, settings):
    _fill(sessions, settings, 6)
    with unit_of_work(sessions) as session:
        row = session.get(AuditEntry, 3)
        row.department_code = "gaj"
        row.entry_hash = audit.entry_hash({name: getattr(row, name) for name in audit.HASHED})
    assert _problems(sessions, settings) == [("link", 3, 4)]


def test_a_deleted_entry_is_reported_as_missing(sessions, settings):
    _fill(sessions, settings, 6)
    _sql(sessions, "DELETE FROM audit_entry WHERE seq = 4")
    assert _problems(sessions, settings) == [("deleted", 4, 4)]


def test_swapped_entries_are_reported_as_reordered(sessions, settings):
    _fill(sessions, settings, 8)
    _sql(sessions, "UPDATE audit_entry SET seq = -5 WHERE seq = 5")
    _sql(sessions, "UPDATE audit_entry SET seq = 5 WHERE seq = 6")
    _sql(sessions, "UPDATE audit_entry SET seq = 6 WHERE seq = -5")
    report = audit.verify(sessions, settings)
    assert [(p.kind, p.seq) for p in report.problems] == [("reordered", 5), ("reordered", 6)]
    assert "recorded as seq 6" in report.problems[0].message


def test_a_tail_deleted_after_a_checkpoint_is_reported_as_truncated(sessions, settings):
    pki.init_ca(settings)
    _fill(sessions, settings, 10)
    audit.checkpoint(sessions, settings)
    _sql(sessions, "DELETE FROM audit_entry WHERE seq >= 8")
    report = audit.verify(sessions, settings)
    assert [(p.kind, p.seq, p.last) for p in report.problems] == [("truncated", 8, 10)]
    assert report.checkpoints_verified == 1


def test_a_chain_rewritten_consistently_no_longer_matches_its_signed_checkpoint(sessions, settings):
    pki.init_ca(settings)
    _fill(sessions, settings, 5)
    audit.checkpoint(sessions, settings)
    with unit_of_work(sessions) as session:
        prev = audit.GENESIS
        for row in session.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
            if row.seq == 2:
                row.result = "refused:NotAuthorized"
            row.prev_hash = prev
            row.entry_hash = prev = audit.entry_hash({name: getattr(row, name) for name in audit.HASHED})
    assert _problems(sessions, settings) == [("checkpoint", 5, None)]


def test_a_forged_checkpoint_signature_is_reported(sessions, settings):
    pki.init_ca(settings)
    _fill(sessions, settings, 4)
    honest = audit.checkpoint(sessions, settings)
    _sql(sessions, "UPDATE audit_checkpoint SET seq = 3, entry_hash = :h WHERE id = :id",
         h=_entries(sessions)[2].entry_hash, id=honest.id)
    report = audit.verify(sessions, settings)
    assert [(p.kind, p.seq) for p in report.problems] == [("signature", 3)]
    assert "does not verify" in report.problems[0].message


def test_a_checkpoint_signed_outside_the_platform_ca_is_reported(sessions, settings):
    pki.init_ca(settings)
    _fill(sessions, settings, 4)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "govshare platform govshare.local")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now.replace(year=now.year + 1))
            .sign(key, hashes.SHA256()))
    head = _entries(sessions)[-1]
    created = datetime(2024, 7, 1, 9, 0)
    signed = audit._signed_text(head.seq, head.entry_hash, created, "manual")
    with unit_of_work(sessions) as session:
        session.add(AuditCheckpoint(
            seq=head.seq, entry_hash=head.entry_hash, created=created, reason="manual",
            certificate=cert.public_bytes(serialization.Encoding.PEM).decode(),
            signature=base64.b64encode(key.sign(signed, padding.PKCS1v15(), hashes.SHA256())).decode()))
    report = audit.verify(sessions, settings)
    assert [(p.kind, p.seq) for p in report.problems] == [("signature", 4)]
    assert "not issued by the platform CA" in report.problems[0].message


def test_checkpoints_are_signed_every_n_entries(sessions, settings):
    pki.init_ca(settings)
    _fill(sessions, replace(settings, audit_checkpoint_every=5), 12)
    with sessions() as session:
        assert session.scalars(select(AuditCheckpoint.seq).order_by(AuditCheckpoint.seq)).all() == [5, 10]
    report = audit.verify(sessions, settings)
    assert report.ok and report.checkpoints_verified == 2


def test_a_checkpoint_is_signed_by_time_when_few_entries_arrive(sessions, settings):
    pki.init_ca(settings)
    quiet = replace(settings, audit_checkpoint_every=1000, audit_checkpoint_seconds=2)
    first = audit.record(sessions, quiet, audit.AuditEvent("exchange.QueryRecords"))
    while utcnow() < first["recorded_at"] + timedelta(seconds=2):  # the clock counts whole seconds
        time.sleep(0.05)
    for _ in range(3):  # the first of them finds the oldest unsigned entry two seconds old
        audit.record(sessions, quiet, audit.AuditEvent("exchange.GetChanges"))
    with sessions() as session:
        signed = session.execute(select(AuditCheckpoint.seq, AuditCheckpoint.reason)).all()
    assert [tuple(row) for row in signed] == [(2, "time")]
    report = audit.verify(sessions, settings)
    assert report.ok and (report.signed_seq, report.unsigned) == (2, 2)


def test_an_idle_chain_is_signed_by_the_checkpoint_job_once_its_oldest_unsigned_entry_is_old_enough(sessions,
                                                                                                  settings):
    pki.init_ca(settings)  # the job audit_checkpoint (operations/) calls checkpoint_if_due at every tick
    quiet = replace(settings, audit_checkpoint_every=1000, audit_checkpoint_seconds=300)
    assert audit.checkpoint_if_due(sessions, quiet) is None  # an empty log
    first = audit.record(sessions, quiet, audit.AuditEvent("exchange.QueryRecords"))
    assert audit.checkpoint_if_due(sessions, quiet, now=first["recorded_at"] + timedelta(seconds=299)) is None
    signed = audit.checkpoint_if_due(sessions, quiet, now=first["recorded_at"] + timedelta(seconds=300))
    assert (signed.seq, signed.reason) == (1, "time")
    assert audit.checkpoint_if_due(sessions, quiet, now=first["recorded_at"] + timedelta(days=1)) is None
    assert audit.verify(sessions, settings).signed_seq == 1


def test_without_a_platform_ca_a_checkpoint_by_time_is_tried_once_a_period_not_at_every_append(sessions, settings,
                                                                                              caplog):
    quiet = replace(settings, audit_checkpoint_seconds=2)
    first = audit.record(sessions, quiet, audit.AuditEvent("exchange.QueryRecords"))
    while utcnow() < first["recorded_at"] + timedelta(seconds=2):
        time.sleep(0.05)
    with caplog.at_level(logging.WARNING, logger="trust.audit"):
        for _ in range(5):
            audit.record(sessions, quiet, audit.AuditEvent("exchange.GetChanges"))
    assert [r.getMessage() for r in caplog.records if "not signed" in r.getMessage()] == [
        f"audit checkpoint (time) at seq 2 not signed: no CA under {pki.pki_dir(settings)}: run `govshare pki init` "
        "first"]
    assert len(_entries(sessions)) == 6


# ----------------------------------------------------------------------------- the keyed chain after checkpoints


def _forge(sessions, seq: int, prev_hash: str, mac: str | None, **fields) -> None:
    """An entry as a writer with database access but without the audit key makes it: the plain
    SHA-256 chain recomputed correctly, the keyed hash left as it was, dropped or guessed."""
    values = {"seq": seq, "recorded_at": utcnow(), "department_id": None, "department_code": "mzj", "user": None,
              "certificate_serial": None, "operation": "exchange.QueryRecords", "resource_code": "101001/000001",
              "query_digest": None, "purpose": "核验", "result": "ok", "detail": "", "record_count": 1,
              "request_digest": None, "response_digest": None, "prev_hash": prev_hash, **fields}
    with unit_of_work(sessions) as session:
        session.add(AuditEntry(**values, entry_hash=audit.entry_hash(values), entry_mac=mac))


@pytest.mark.parametrize("mac, kind", [(None, "unkeyed"), ("guessed", "forged")])
def test_an_entry_appended_after_the_last_checkpoint_with_a_recomputed_plain_chain_is_detected(sessions, settings,
                                                                                               mac, kind):
    pki.init_ca(settings)
    _fill(sessions, settings, 5)
    audit.checkpoint(sessions, settings)
    _fill(sessions, settings, 2)
    head = _entries(sessions)[-1]
    guessed = audit.entry_mac(b"not the platform's audit key, but as long as one", head.entry_hash)
    _forge(sessions, 8, head.entry_hash, guessed if mac else None)
    report = audit.verify(sessions, settings)
    assert [(p.kind, p.seq, p.last) for p in report.problems] == [(kind, 8, 8)]
    assert "without the audit key" in report.problems[0].message
    assert (report.signed_seq, report.unsigned) == (5, 3)


@pytest.mark.parametrize("mac, kind", [("kept", "forged"), (None, "unkeyed")])
def test_a_tail_entry_rewritten_with_its_chain_recomputed_is_detected(sessions, settings, mac, kind):
    pki.init_ca(settings)
    _fill(sessions, settings, 4)
    audit.checkpoint(sessions, settings)
    _fill(sessions, settings, 4)
    with unit_of_work(sessions) as session:
        prev = None
        for row in session.scalars(select(AuditEntry).where(AuditEntry.seq >= 6).order_by(AuditEntry.seq)):
            if row.seq == 6:
                row.department_code = "gaj"
            row.prev_hash = prev or row.prev_hash
            row.entry_hash = prev = audit.entry_hash({name: getattr(row, name) for name in audit.HASHED})
            row.entry_mac = row.entry_mac if mac else None
    assert _problems(sessions, settings) == [(kind, 6, 8)]


def test_entries_written_before_the_keyed_chain_are_vouched_for_by_the_first_keyed_entry_after_them(db_url, sessions,
                                                                                                   settings):
    from alembic import command

    from registry.db import alembic_config, migrate

    command.downgrade(alembic_config(db_url), "0017")  # the log as it was before migration 0018
    try:
        prev, rows = audit.GENESIS, []
        for seq in (1, 2, 3):
            values = {name: None for name in audit.HASHED if name not in audit._OPTIONAL} | {
                "seq": seq, "recorded_at": utcnow(), "operation": "exchange.GetChanges", "result": "ok",
                "detail": "", "record_count": seq, "prev_hash": prev}
            prev = values["entry_hash"] = audit.entry_hash(values)
            rows.append(values)
        with unit_of_work(sessions) as session:
            session.execute(insert(AuditEntry.__table__), rows)  # the columns named, entry_mac not among them
    finally:
        migrate(db_url)
    assert _problems(sessions, settings) == [("key", None, None)]  # no key yet: nothing keyed was written
    audit.record(sessions, settings, audit.AuditEvent("exchange.QueryRecords"))
    report = audit.verify(sessions, settings)
    assert report.ok and report.unsigned == 4
    assert [e.entry_mac is None for e in _entries(sessions)] == [True, True, True, False]


def test_the_portal_verify_report_shows_how_many_entries_no_signature_covers_yet(live_server, sessions, settings):
    from tests.portal.conftest import Browser

    pki.init_ca(settings)
    with unit_of_work(sessions) as session:
        create_user(session, username="auditor-1", password="pw", department=None, roles=("auditor",))
    _fill(sessions, settings, 3)
    audit.checkpoint(sessions, settings)
    _fill(sessions, settings, 2)
    b = Browser(live_server.url)
    b.login("auditor-1", "pw")
    page = b.post("/audit/verify", {})
    assert page.status_code == 200 and "哈希链完整" in page.text
    unsigned = len(_entries(sessions)) - 3 - 1  # the verification's own entry is recorded after it
    assert f"最后一个签名检查点 (seq 3) 之后的 {unsigned} 条记录尚无签名覆盖" in page.text


def test_the_audit_key_is_made_once_with_mode_0600_by_processes_racing_to_make_it(tmp_path):
    settings = Settings(var_dir=tmp_path)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    start = context.Event()

    def make() -> None:
        start.wait()
        results.put(audit.audit_key(settings, create=True))

    workers = [context.Process(target=make) for _ in range(6)]
    for worker in workers:
        worker.start()
    start.set()
    keys = {results.get(timeout=30) for _ in workers}
    for worker in workers:
        worker.join()
    path = tmp_path / "pki" / "audit-key"
    assert keys == {audit.audit_key(settings)} and len(path.read_text().strip()) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["audit-key"]  # no draft left behind


def test_the_audit_key_from_the_environment_is_used_instead_of_a_file(sessions, settings, monkeypatch):
    monkeypatch.setenv("GOVSHARE_AUDIT_KEY", "k" * 40)
    entry = audit.record(sessions, settings, audit.AuditEvent("exchange.QueryRecords"))
    assert entry["entry_mac"] == hmac.new(b"k" * 40, entry["entry_hash"].encode(), hashlib.sha256).hexdigest()
    assert not audit.key_file(settings).exists()
    assert audit.verify(sessions, settings).ok


def test_a_short_audit_key_is_refused_with_what_to_do(sessions, settings, monkeypatch):
    monkeypatch.setenv("GOVSHARE_AUDIT_KEY", "letmein")
    with pytest.raises(audit.AuditKeyError, match="GOVSHARE_AUDIT_KEY is 7 characters long: use at least 32"):
        audit.record(sessions, settings, audit.AuditEvent("exchange.QueryRecords"))
    assert _entries(sessions) == []


def test_verify_without_the_audit_key_says_where_to_get_it(sessions, settings):
    _fill(sessions, settings, 3)
    audit.key_file(settings).unlink()  # an auditor's machine, say, with the database but not the key
    report = audit.verify(sessions, settings)
    assert [(p.kind, p.seq) for p in report.problems] == [("key", None)]
    assert "3 entries after the last signed checkpoint cannot be checked" in report.problems[0].message
    assert "GOVSHARE_AUDIT_KEY" in report.problems[0].message


def test_concurrent_appends_from_threads_keep_one_unbroken_chain(sessions, settings):
    def append(worker: int) -> None:
        for i in range(15):
            audit.record(sessions, settings, audit.AuditEvent("exchange.QueryRecords", record_count=worker * 100 + i))

    threads = [threading.Thread(target=append, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = _entries(sessions)
    assert [e.seq for e in entries] == list(range(1, 91))
    assert sorted(e.record_count for e in entries) == sorted(w * 100 + i for w in range(6) for i in range(15))
    assert audit.verify(sessions, settings).ok


def test_concurrent_appends_from_two_engines_keep_one_unbroken_chain(pg_database, tmp_path):
    from tests.conftest import _truncate

    _truncate(pg_database)
    settings = Settings.from_env(db_url=pg_database, var_dir=tmp_path)
    engines = [make_engine(pg_database), make_engine(pg_database)]  # as two server processes would have

    def append(engine, worker: int) -> None:
        factory = session_factory(engine)
        for i in range(15):
            audit.record(factory, settings, audit.AuditEvent("exchange.GetChanges", record_count=worker * 100 + i))

    threads = [threading.Thread(target=append, args=(engines[w % 2], w)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    factory = session_factory(engines[0])
    assert [e.seq for e in _entries(factory)] == list(range(1, 91))
    assert audit.verify(factory, settings).ok
    for engine in engines:
        engine.dispose()


def test_an_append_returns_the_columns_of_the_committed_entry(sessions, settings):
    first = audit.record(sessions, settings, audit.AuditEvent("exchange.QueryRecords", record_count=2))  # head read
    second = audit.record(sessions, settings, audit.AuditEvent("exchange.GetChanges"))  # linked in one statement
    assert [(e.seq, e.operation, e.record_count, e.prev_hash, e.entry_hash) for e in _entries(sessions)] == [
        (r["seq"], r["operation"], r["record_count"], r["prev_hash"], r["entry_hash"]) for r in (first, second)]
    assert second["prev_hash"] == first["entry_hash"] == audit.entry_hash(first)


def _evidence_row(operation: str | None, n: int) -> dict:
    return {"received_at": utcnow(), "answered_at": utcnow(), "operation": operation, "certificate_serial": f"{n:x}",
            "signer_subject": "CN=临江市民政局", "compression": "zlib", "request": zlib.compress(b"<signed/>"),
            "request_sha256": "a" * 64, "response": zlib.compress(b"<answer/>"), "response_sha256": "b" * 64}


def test_an_evidence_row_is_written_with_its_entry_or_neither_is(sessions, settings, monkeypatch):
    """A signed exchange's evidence row goes with its audit entry: linked to it, in the fast path's one
    statement (PostgreSQL) or the slow path's transaction; when the row cannot be written, the entry is
    not written either, and the chain goes on from the entry before."""
    first = audit.record(sessions, settings, audit.AuditEvent("exchange.QueryRecords"),
                         evidence=_evidence_row("exchange.query_records", 1))  # head read: the slow path
    chain = audit._chain(sessions.kw["bind"], settings)
    if chain.engine.dialect.name == "postgresql":  # the head known: one statement, not the slow path
        monkeypatch.setattr(chain, "_locked", lambda waiters: pytest.fail("the slow path was taken"))
    second = audit.record(sessions, settings, audit.AuditEvent("exchange.GetChanges"),
                          evidence=_evidence_row("exchange.get_changes", 2))
    monkeypatch.undo()
    with pytest.raises(Exception):  # noqa: B017 - the driver's not-null violation, whichever the database
        audit.record(sessions, settings, audit.AuditEvent("exchange.QueryRecords"), evidence=_evidence_row(None, 3))
    third = audit.record(sessions, settings, audit.AuditEvent("exchange.QueryRecords"))
    with sessions() as session:
        kept = session.execute(select(EvidenceMessage.audit_seq, EvidenceMessage.operation,
                                      EvidenceMessage.certificate_serial).order_by(EvidenceMessage.id)).all()
    assert [tuple(row) for row in kept] == [(first["seq"], "exchange.query_records", "1"),
                                            (second["seq"], "exchange.get_changes", "2")]
    assert [e.seq for e in _entries(sessions)] == [1, 2, 3] and third["prev_hash"] == second["entry_hash"]
    assert audit.verify(sessions, settings).ok


def test_an_append_after_the_chain_changed_underneath_links_to_the_real_head(sessions, settings):
    """A process links a lone entry to the head it appended last (one statement); when another
    process appended since, or the head is gone, the entry is linked to the real head instead."""
    _fill(sessions, settings, 3)
    engine = sessions.kw["bind"]
    chain = audit._chain(engine, settings)
    assert chain.head is not None and chain.head[0] == 3  # the next lone entry takes the one-statement path
    other = make_engine(str(engine.url.render_as_string(hide_password=False)))
    try:  # another process appends two entries: this process's head is stale
        for _ in range(2):
            audit.record(session_factory(other), settings, audit.AuditEvent("exchange.GetChanges"))
    finally:
        other.dispose()
    audit.record(sessions, settings, audit.AuditEvent("exchange.QueryRecords"))
    _sql(sessions, "DELETE FROM audit_entry WHERE seq >= 5")  # the head this process knows is gone
    audit.record(sessions, settings, audit.AuditEvent("exchange.SubmitBatch"))
    entries = _entries(sessions)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert [e.prev_hash for e in entries[1:]] == [e.entry_hash for e in entries[:-1]]
    assert entries[-1].operation == "exchange.SubmitBatch"
    assert audit.verify(sessions, settings).ok


def test_disposing_of_an_engine_closes_its_audit_connection(sessions, settings):
    engine = make_engine(str(sessions.kw["bind"].url.render_as_string(hide_password=False)))
    for _ in range(2):
        audit.record(engine, settings, audit.AuditEvent("exchange.GetChanges"))
    chain = audit._chain(engine, settings)
    connection = chain.conn
    assert connection is not None and not connection.closed
    engine.dispose()
    assert chain.conn is None and connection.closed


# ----------------------------------------------------------------------------- search and export


def test_search_filters_by_department_operation_result_and_pages(sessions, settings):
    for code, operation, result in [("mzj", "exchange.QueryRecords", "ok"), ("gaj", "exchange.SubmitBatch", "ok"),
                                    ("mzj", "exchange.QueryRecords", "refused:NotShared"),
                                    ("mzj", "uddi.save_service", "ok")]:
        audit.record(sessions, settings, audit.AuditEvent(operation, result=result, department_code=code))
    auditor = _platform(sessions, settings)
    found = auditing.search(auditor, department="mzj", operation="exchange.")
    assert found.total == 2 and [e.seq for e in found.entries] == [3, 1]
    found = auditing.search(auditor, result="refused")
    assert found.total == 1 and found.entries[0].result == "refused:NotShared"
    found = auditing.search(auditor, offset=1, limit=2)  # each search is recorded after it read: seq 5 and 6
    assert found.total == 6 and [e.seq for e in found.entries] == [5, 4]
    assert [e.operation for e in auditing.search(auditor, limit=3).entries] == ["audit.search"] * 3


def test_a_search_past_the_last_page_shows_the_last_page_when_asked_to(sessions, settings):
    _fill(sessions, settings, 5)
    auditor = _platform(sessions, settings)
    assert auditing.search(auditor, operation="exchange.", offset=10, limit=2).entries == []
    found = auditing.search(auditor, operation="exchange.", offset=10, limit=2, clamp=True)
    assert (found.offset, [e.seq for e in found.entries]) == (4, [1])


def test_a_search_names_each_entrys_department(sessions, settings):
    with unit_of_work(sessions) as session:
        register_department(session, settings, code="mzj", name="临江市民政局", credit_code=credit_code_for("00250103"))
    audit.record(sessions, settings, audit.AuditEvent("exchange.GetChanges", department_code="mzj"))
    [entry] = auditing.search(_platform(sessions, settings)).entries
    assert (entry.department_code, entry.department_name) == ("mzj", "临江市民政局")


def test_a_search_whose_window_ends_before_it_starts_is_refused(sessions, settings):
    with pytest.raises(InvalidInput, match="is not after since") as refused:
        auditing.search(_platform(sessions, settings), since=datetime(2026, 12, 5), until=datetime(2026, 12, 1))
    assert "截止日期早于起始日期" in refused.value.user_message


def _rehash(doc: dict) -> str:
    """What an external auditor computes from an exported entry, with nothing but the standard library."""
    fields = {k: v for k, v in doc.items() if k not in ("entry_hash", "entry_mac")
              and not (k in ("channel", "system_code") and v is None)}
    return hashlib.sha256(json.dumps({"chain": "govshare-audit/1", **fields}, sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False).encode()).hexdigest()


def test_exports_carry_what_an_auditor_needs_to_re_verify(sessions, settings):
    pki.init_ca(settings)
    audit.record(sessions, settings, audit.AuditEvent("exchange.QueryRecords", department_id=7, department_code="mzj",
                                                      purpose="办理低保审核", record_count=2))
    audit.record(sessions, settings, audit.AuditEvent("exchange.QueryRecords", result="refused:NotShared",
                                                      detail="不予共享"))
    audit.checkpoint(sessions, settings)
    out = io.StringIO()
    assert auditing.export(_platform(sessions, settings), out=out, format="json") == 2
    doc = json.loads(out.getvalue())
    assert [_rehash(e) for e in doc["entries"]] == [e["entry_hash"] for e in doc["entries"]]
    assert doc["entries"][1]["prev_hash"] == doc["entries"][0]["entry_hash"]
    cp = doc["checkpoints"][0]
    cert = x509.load_pem_x509_certificate(cp["certificate"].encode())
    cert.public_key().verify(base64.b64decode(cp["signature"]), cp["signed_text"].encode(), padding.PKCS1v15(),
                             hashes.SHA256())

    out = io.StringIO()
    assert auditing.export(_platform(sessions, settings), out=out, format="csv") == 3  # the JSON export's entry too
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    ints = {"seq", "department_id", "record_count"}
    for row in rows:
        fields = {k: (None if v == "" and k != "detail" else int(v) if k in ints and v else v) for k, v in row.items()}
        assert _rehash(fields) == row["entry_hash"]


def test_an_export_lets_an_auditor_holding_the_audit_key_check_the_keyed_tail(sessions, settings):
    _fill(sessions, settings, 3)
    out = io.StringIO()
    auditing.export(_platform(sessions, settings), out=out)
    key = audit.key_file(settings).read_text().strip().encode()
    entries = json.loads(out.getvalue())["entries"]
    assert [hmac.new(key, e["entry_hash"].encode(), hashlib.sha256).hexdigest() for e in entries] == [
        e["entry_mac"] for e in entries]


# ----------------------------------------------------------------------------- signed requests


def test_a_signed_query_is_recorded_with_its_certificate_serial(world):
    from cryptography.x509 import load_pem_x509_certificate

    from tests.trust.test_wssecurity import post, query, sign

    assert post(world, sign(world.mzj, query(world, world.mzj))).status_code == 200
    assert post(world, sign(world.mzj, query(world, world.gaj))).status_code == 500  # mzj speaking for gaj
    serial = format(load_pem_x509_certificate(world.mzj.cert.read_bytes()).serial_number, "x")
    *_, signed, impostor = _entries(world.sessions)
    assert (signed.operation, signed.result, signed.department_code) == ("exchange.query_records", "ok", "mzj")
    assert signed.certificate_serial == serial and signed.record_count == 1
    # the action finds that the request speaks for another department than its certificate's
    assert (impostor.operation, impostor.result, impostor.department_code) == (
        "exchange.query_records", "refused:FailedAuthentication", "mzj")
    assert impostor.certificate_serial == serial
