"""``govshare audit verify|search|export|checkpoint`` as an auditor runs them."""

from __future__ import annotations

import csv
import json

import pytest
from sqlalchemy import select, text

import server
from directory.accounts import create_user
from registry.db import unit_of_work
from registry.models import AuditEntry
from trust import audit, pki


@pytest.fixture
def govshare(settings, monkeypatch, capsys):
    monkeypatch.setenv("GOVSHARE_VAR", str(settings.var_dir))

    def run(*argv: str) -> tuple[int, str, str]:
        code = server.main(["--db-url", settings.db_url, "audit", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def log(sessions, settings):
    for code, operation, result in [("mzj", "exchange.QueryRecords", "ok"), ("gaj", "exchange.SubmitBatch", "ok"),
                                    ("mzj", "exchange.QueryRecords", "refused:NotShared"),
                                    ("zrzyj", "exchange.GetChanges", "ok")]:
        audit.record(sessions, settings, audit.AuditEvent(operation, result=result, department_code=code,
                                                          resource_code="101001002/000001"))
    return sessions


def test_verify_passes_an_untouched_log_and_names_the_tampered_entries(govshare, log, settings):
    pki.init_ca(settings)
    code, out, _ = govshare("checkpoint")
    assert code == 0 and "seq 4" in out
    code, out, _ = govshare("verify")  # the checkpoint's own entry follows the head it signed
    assert code == 0 and "5 entries" in out and "1/1 checkpoints verified: OK" in out

    with unit_of_work(log) as session:
        session.execute(text("UPDATE audit_entry SET department_code = 'gaj' WHERE seq = 1"))
        session.execute(text("DELETE FROM audit_entry WHERE seq >= 3"))
    code, out, _ = govshare("verify")
    assert code == 1
    lines = out.splitlines()
    assert any(line.startswith("altered") and "seq 1 " in line for line in lines)
    assert any(line.startswith("truncated") and "seq 3..4" in line for line in lines)
    assert "2 PROBLEM(S)" in out


def test_verify_says_how_many_entries_no_signature_covers_yet(govshare, log, settings):
    pki.init_ca(settings)
    assert govshare("checkpoint")[0] == 0
    for _ in range(2):
        audit.record(log, settings, audit.AuditEvent("exchange.GetChanges", department_code="mzj"))
    code, out, _ = govshare("verify")
    assert code == 0
    assert "unsigned: 3 entries after the last signed checkpoint (seq 4), covered by the keyed chain only" in out


def test_verify_names_a_tail_rewritten_without_the_audit_key(govshare, log, settings):
    with unit_of_work(log) as session:  # the last entry said another department, its hash recomputed
        head = session.get(AuditEntry, 4)
        head.department_code = "gaj"
        head.entry_hash = audit.entry_hash({name: getattr(head, name) for name in audit.HASHED})
    code, out, _ = govshare("verify")
    assert code == 1
    assert [line.split()[:3] for line in out.splitlines() if not line.startswith(("unsigned", "audit log"))] == [
        ["forged", "seq", "4"]]


def test_checkpoint_without_a_ca_says_how_to_make_one(govshare, log):
    code, _, err = govshare("checkpoint")
    assert code == 1 and "govshare pki init" in err


def test_search_by_department_and_result(govshare, log):
    code, out, _ = govshare("search", "--department", "mzj", "--result", "refused")
    assert code == 0
    assert "refused:NotShared" in out and "1 entries match" in out
    code, out, _ = govshare("search", "--operation", "exchange.", "--limit", "2")
    assert "4 entries match; showing 1-2" in out


def test_export_as_csv_and_json(govshare, log, tmp_path):
    target = tmp_path / "audit.csv"
    code, _, err = govshare("export", "--format", "csv", "--out", str(target), "--department", "mzj")
    assert code == 0 and "2 entries" in err
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert [r["seq"] for r in rows] == ["1", "3"] and set(rows[0]) == set(audit.COLUMNS)
    code, out, _ = govshare("export", "--format", "json")
    doc = json.loads(out)
    assert [e["seq"] for e in doc["entries"]] == [1, 2, 3, 4, 5] and doc["chain"] == audit.CHAIN
    assert doc["entries"][4]["operation"] == "audit.export"  # the CSV export, recorded once written


def test_every_command_is_recorded_in_the_log_it_reads_with_channel_cli(govshare, log, settings, tmp_path):
    pki.init_ca(settings)
    for argv in (["search"], ["export", "--out", str(tmp_path / "a.json")], ["verify"], ["checkpoint"]):
        assert govshare(*argv)[0] == 0, argv
    code, out, _ = govshare("search", "--operation", "audit.")
    assert code == 0 and "4 entries match" in out
    with log() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.operation.startswith("audit."))
                                  .order_by(AuditEntry.seq)).all()
    assert [(e.operation, e.channel, e.user, e.result) for e in entries][:4] == [
        ("audit.search", "cli", "console", "ok"), ("audit.export", "cli", "console", "ok"),
        ("audit.verify", "cli", "console", "ok"), ("audit.checkpoint", "cli", "console", "ok")]
    assert entries[1].record_count == 5  # the four entries and the search before it


def test_a_date_that_is_not_one_is_an_error_with_exit_status_2(govshare, log):
    with pytest.raises(SystemExit) as stopped:
        govshare("search", "--since", "2026-13-45")
    assert stopped.value.code == 2


def test_checkpointing_an_empty_log_is_refused_with_exit_status_2(govshare, sessions, settings):
    pki.init_ca(settings)
    code, _, err = govshare("checkpoint")
    assert code == 2 and "the audit log is empty" in err


def test_an_account_searches_with_its_own_roles(govshare, log):
    with unit_of_work(log) as session:
        create_user(session, username="auditor-1", password="pw", department=None, roles=("auditor",))
        create_user(session, username="consumer-1", password="pw", department=None, roles=("consumer",))
    code, out, _ = govshare("search", "--user", "auditor-1", "--department", "mzj")
    assert code == 0 and "2 entries match" in out
    code, _, err = govshare("search", "--user", "consumer-1")
    assert code == 2 and "consumer-1 may not audit" in err
    with log() as session:
        refused = session.scalars(select(AuditEntry).where(AuditEntry.user == "consumer-1")).one()
    assert (refused.operation, refused.result, refused.channel) == ("audit.search", "refused:NotPermitted", "cli")
