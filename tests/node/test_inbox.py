"""The node's subscriptions (issue 18, 库表 and 文件): 民政局's node pulls the changes of 公安局's
户籍人口基础信息 from a centre requiring WS-Security and delivers them into a table of its own
PostgreSQL database (mapped columns, keyed by the masked 公民身份号码 as 民政局 reads it) and into
a CSV per day - with the department's database unreachable for a while (a TCP proxy of the
test's own, closed and opened again): delivery resumes from the kept watermark, no change
skipped, none written twice."""

from __future__ import annotations

import csv
import json
import time
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text

from tests.exchange.conftest import submit_body
from tests.node.test_outbox import Node
from tests.trust.conftest import envelope, post, sign, world  # noqa: F401 - the fixture
from xsd import samples
from xsd.batch import build_batch

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _more_people(world, count: int, seed: int) -> None:  # noqa: F811
    people = list(samples.population_records(count, seed=seed))
    batch = build_batch(people, provider_code=world.gaj.credit_code, resource_code=world.resource,
                        created=datetime.now(UTC), batch_id=uuid.uuid4())
    assert post(world, sign(world.gaj, envelope(submit_body(batch)))).status_code == 200


def _mzj_node(world, folder, database: str) -> Node:  # noqa: F811
    node = Node(world, folder)
    node.config.write_text(
        f'[centre]\nurl = "{world.url}"\nca = "ca.pem"\n\n'
        f'[identity]\nkey = "{world.mzj.key}"\ncert = "{world.mzj.cert}"\n\n'
        "[delivery]\npoll = 0.2\n\n"
        f'[[subscription]]\nname = "hukou"\nresource = "{world.resource}"\ntarget = "table"\n'
        f'database = "{database}"\ntable = "hukou_copy"\ncolumns = {{ idNumber = "sfzh", name = "xm", '
        'birthDate = "csrq" }\ninterval = 0.3\n\n'
        f'[[subscription]]\nname = "hukou-files"\nresource = "{world.resource}"\ntarget = "files"\n'
        'folder = "inbound/hukou"\nperiod = "day"\ninterval = 0.3\n', encoding="utf-8")
    return node


def _rows(direct: str) -> dict[str, tuple]:
    engine = create_engine(direct)
    try:
        with engine.connect() as conn:
            if not conn.execute(text("select to_regclass('hukou_copy')")).scalar():
                return {}
            return {r.sfzh: (r.xm, r.csrq, r.gs_sequence) for r in conn.execute(text("select * from hukou_copy"))}
    finally:
        engine.dispose()


def _file_lines(node: Node) -> list[dict]:
    lines = []
    for path in sorted((node.folder / "inbound" / "hukou").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            lines += list(csv.DictReader(handle))
    return lines


def test_changes_reach_a_table_and_daily_files_and_resume_after_the_database_was_down(
        world, tmp_path, switched_database):  # noqa: F811
    switch, through, direct = switched_database
    _more_people(world, 9, seed=121)
    node = _mzj_node(world, tmp_path, through)
    checked = node.command("check", str(node.config))
    assert checked.returncode == 0 and "subscription hukou: " in checked.stdout, checked.stderr
    node.start()
    try:
        node.wait_until(lambda: len(_rows(direct)) == 10, "the ten people in 民政局's table")
        rows = _rows(direct)
        assert all("*" in key for key in rows)  # the ID numbers as 民政局 may read them: masked
        assert all(name and birth for name, birth, _ in rows.values())
        node.wait_until(lambda: len(_file_lines(node)) == 10, "ten lines in the day's file")
        status = json.loads(node.command("status", str(node.config), "--json").stdout)
        first = status["subscriptions"]["hukou"]["watermark"]
        assert first == max(seq for _, _, seq in rows.values()) == status["subscriptions"]["hukou-files"]["watermark"]

        switch.off()  # 民政局's database unreachable while 公安局 sends more
        _more_people(world, 6, seed=122)
        node.wait_until(lambda: len(_file_lines(node)) == 16, "the files go on meanwhile")
        time.sleep(1.5)  # several pulls fail against the closed switch
        stalled = json.loads(node.command("status", str(node.config), "--json").stdout)
        assert stalled["subscriptions"]["hukou"]["watermark"] == first
        assert "hukou: not delivered now" in node.log.read_text()
        switch.on = True
        node.wait_until(lambda: len(_rows(direct)) == 16, "the six more after the database came back")
    finally:
        node.kill()
    lines = _file_lines(node)
    sequences = [int(line["sequence"]) for line in lines]
    assert sequences == sorted(set(sequences)) and len(sequences) == 16  # none skipped, none twice
    assert {line["operation"] for line in lines} == {"upsert"}
    assert set(_rows(direct)) == {line["key"] for line in lines}
    node.start()  # started again: nothing new, nothing written twice
    time.sleep(2)
    assert len(_file_lines(node)) == 16 and len(_rows(direct)) == 16

    before = _rows(direct)
    withdrawn = _withdraw(world, 2)  # gone from 公安局's source: a full run at the centre deletes them
    try:
        node.wait_until(lambda: len(_rows(direct)) == 14, "the two deleted people gone from 民政局's table")
        node.wait_until(lambda: len(_file_lines(node)) == 18, "two delete lines in the day's file")
    finally:
        node.kill()
    deletes = [line for line in _file_lines(node) if line["operation"] == "delete"]
    assert len(deletes) == len(withdrawn) == 2
    assert {line["key"] for line in deletes}.isdisjoint(_rows(direct))
    assert all(line["key"] in before for line in deletes)  # the keys the table had
    sequences = [int(line["sequence"]) for line in _file_lines(node)]
    assert sequences == sorted(set(sequences))


def _withdraw(world, count: int) -> list[str]:  # noqa: F811
    """Delete ``count`` of the resource's current records at the centre, as delete detection does."""
    from sqlalchemy import select

    from exchange import core
    from registry.clock import utcnow
    from registry.db import unit_of_work
    from registry.models import CoreRecord

    with unit_of_work(world.sessions) as session:
        found = session.execute(select(CoreRecord.base, CoreRecord.record_key, CoreRecord.source_id).where(
            CoreRecord.resource_code == world.resource, CoreRecord.effective_to.is_(None),
            CoreRecord.deleted.is_(False)).order_by(CoreRecord.id).limit(count)).all()
        base, source = found[0].base, found[0].source_id
        assert core.delete_keys(session, base, [row.record_key for row in found], source, world.resource,
                                str(uuid.uuid4()), utcnow()) == count
    return [row.record_key for row in found]
