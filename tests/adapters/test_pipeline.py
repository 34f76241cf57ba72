"""A run of the demo 公安局 adapter end to end: every dirty row ends where the manifest says,
and the reconciliation read = loaded + unchanged + quarantined + filtered holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.config import load_adapter
from adapters.pipeline import run_adapter
from directory.accounts import create_user, find_user, register_department
from directory.demo import credit_code_for
from registry.db import unit_of_work
from registry.models import AdapterQuarantine, CoreRecord, QuarantineReason
from tests.exchange.conftest import _publish

ADAPTER = Path(__file__).parents[2] / "adapters" / "departments" / "gaj-household.toml"


@pytest.fixture
def household_resource(sessions, settings):
    with unit_of_work(sessions) as session:
        gaj = register_department(session, settings, code="gaj", name="临江市公安局",
                                  credit_code=credit_code_for("00250102"))
        create_user(session, username="gaj", password="x", department=gaj, roles=("cataloguer",))
        create_user(session, username="reviewer", password="x", department=None, roles=("admin", "reviewer"))
        return _publish(session, settings, gaj, find_user(session, "gaj"), find_user(session, "reviewer"),
                        "户籍登记信息", "101001002")


def test_a_full_run_puts_every_row_where_the_manifest_says(gaj_env, household_resource, sessions, settings, reading):
    manifest = gaj_env
    run = run_adapter(sessions, settings, load_adapter(ADAPTER), full=True)
    assert run.status == "succeeded", run.message
    assert run.read == manifest.rows
    assert run.read == run.loaded + run.unchanged + run.quarantined + run.filtered
    assert run.filtered == manifest.counts["duplicate"]
    with sessions() as session:
        by_rule = dict(session.execute(select(AdapterQuarantine.rule, func.count())
                                       .group_by(AdapterQuarantine.rule)).all())
        checksum = session.scalar(select(func.count()).select_from(QuarantineReason)
                                  .where(QuarantineReason.rule == "id_number.checksum"))
        in_core = session.scalar(select(func.count()).select_from(CoreRecord))
    mapped_out = sum(by_rule.values())
    assert mapped_out == manifest.counts["unmapped_code"] + manifest.counts["blank_required"]
    assert checksum == manifest.counts["bad_checksum"]
    assert run.quarantined == mapped_out + checksum
    assert in_core == run.loaded


def test_running_again_loads_nothing_new_and_still_reconciles(gaj_env, household_resource, sessions, settings, reading):
    config = load_adapter(ADAPTER)
    first = run_adapter(sessions, settings, config, full=True)
    again = run_adapter(sessions, settings, config, full=True)
    assert again.status == "succeeded", again.message
    assert again.loaded == 0
    assert again.unchanged == first.loaded
    assert again.read == again.loaded + again.unchanged + again.quarantined + again.filtered


def test_an_incremental_run_reads_from_the_watermark(gaj_env, household_resource, sessions, settings, reading):
    config = load_adapter(ADAPTER)
    first = run_adapter(sessions, settings, config)
    assert first.mode == "incremental" and first.watermark_to is not None
    second = run_adapter(sessions, settings, config)
    assert second.watermark_from == first.watermark_to
    assert second.read < first.read  # only the overlap window is read again
    assert second.loaded == 0


def test_sync_run_from_the_command_line_prints_the_reconciliation(gaj_env, household_resource, settings, tmp_path):
    import subprocess
    import sys

    env = {"GOVSHARE_DB_URL": settings.db_url, "GOVSHARE_VAR": str(tmp_path), "GOVSHARE_GAJ_URL": gaj_env.url,
           "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-m", "server", "sync", "run", "gaj-household", "--full"],
                         capture_output=True, text=True, env=env, cwd=Path(__file__).parents[2], timeout=300)
    assert run.returncode == 0, run.stderr
    assert f"read {gaj_env.rows} = loaded" in run.stdout and "succeeded" in run.stdout
    unknown = subprocess.run([sys.executable, "-m", "server", "sync", "run", "nobody"], capture_output=True,
                             text=True, env=env, cwd=Path(__file__).parents[2], timeout=120)
    assert unknown.returncode == 2 and "gaj-household" in unknown.stderr


def test_the_input_tier_keeps_each_chunk_as_a_batch_request_whose_records_match_its_digest(
        gaj_env, household_resource, sessions, settings):
    import hashlib
    import zlib

    from lxml import etree

    from registry.models import InputBatch
    from xsd.batch import BATCH_NS, RECORDS, read_header, records_digest

    run = run_adapter(sessions, settings, load_adapter(ADAPTER), full=True)
    with sessions() as session:
        batches = session.scalars(select(InputBatch).order_by(InputBatch.sequence)).all()
    assert sum(b.received for b in batches) == run.loaded + run.unchanged + run.quarantined - len(_mapped_out(sessions))
    for batch in batches:
        received = zlib.decompress(batch.payload)
        assert hashlib.sha256(received).hexdigest() == batch.payload_sha256 and len(received) == batch.payload_size
        envelope = etree.fromstring(received)
        header = read_header(envelope.find(f".//{{{BATCH_NS}}}header"))
        records = list(envelope.find(f".//{RECORDS}"))
        assert str(header.batch_id) == batch.batch_id and header.record_count == len(records) == batch.received
        assert records_digest(records) == header.digest == batch.declared_digest


def _mapped_out(sessions) -> list[AdapterQuarantine]:
    with sessions() as session:
        return session.scalars(select(AdapterQuarantine)).all()
