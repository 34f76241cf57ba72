"""The node's retention (运维, ``[store] keep_days``): a node's store forgets what is older than
keep_days - the records of delivered batches (their rows, sequences and the centre's signed
receipts stay: the proof of delivery), the gateway's log, the problems of finished adapter runs -
and never what is undelivered; ``govshare node run`` prunes at start and hourly, ``govshare node
prune`` at once.  Against a real store: SQLite, and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import insert, inspect, select, text

from node import store
from node.config import ConfigError, NodeConfig, Outbound, load
from node.outbox import take_file
from tests.conftest import free_port
from tests.node.test_outbox import Node
from tests.trust.conftest import world  # noqa: F401 - the fixture
from xsd import samples

OLD = datetime.now(UTC) - timedelta(days=40)
RECENT = datetime.now(UTC) - timedelta(days=1)
RECEIPT = b"<Envelope>the centre's signed receipt</Envelope>"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    """A node's store, its tables made as the node makes them."""
    url = (f"sqlite:///{tmp_path / 'node.db'}" if request.param == "sqlite"
           else request.getfixturevalue("switched_database")[2])
    made = store.engine_for(url)
    yield made
    made.dispose()


def _batch(conn, sequence: int, state: str, at: datetime, stream: str = "hukou") -> None:
    """A batch of ``stream`` created at ``at``, and delivered (or refused) then unless pending."""
    done = state != "pending"
    conn.execute(insert(store.outbox).values(
        batch_id=f"{stream}-{sequence}", stream=stream, sequence=sequence, resource="101001002/000001",
        record_count=2, records=store.pack([b"<a/>", b"<b/>"]), source=f"f.csv #{sequence}", created=at, state=state,
        attempts=1 if done else 3, next_attempt=at, delivered_at=at if done else None,
        accepted=2 if state == "delivered" else None, quarantined=0 if state == "delivered" else None,
        duplicate=False if state == "delivered" else None, receipt=RECEIPT if done else None,
        last_error="E0401: no rights" if state == "refused" else None))


def _call(conn, at: datetime) -> None:
    conn.execute(insert(store.gateway_log).values(at=at, system="gaj.hukou", operation="QueryRecords",
                                                  request_size=900, response_size=4000, outcome="ok",
                                                  milliseconds=12))


def _run(conn, started: datetime, finished: datetime | None) -> int:
    return conn.execute(insert(store.adapter_runs).values(
        adapter="gaj-household", started=started, finished=finished, status="done" if finished else "running",
        read=10, records=9, batches=1, quarantined=1)).inserted_primary_key[0]


def _problem(conn, run_id: int, at: datetime) -> None:
    conn.execute(insert(store.adapter_problems).values(
        adapter="gaj-household", run_id=run_id, source_key="42", stage="mapping", rule="required", field="name",
        message="name is missing", row='{"ID": 42}', created=at))


@pytest.fixture
def filled(engine):
    """A store a node has used for months: of every kind, rows older than 30 days and newer."""
    with engine.begin() as conn:
        _batch(conn, 1, "delivered", OLD)
        _batch(conn, 2, "delivered", OLD)
        _batch(conn, 3, "refused", OLD)
        _batch(conn, 4, "delivered", RECENT)
        _batch(conn, 5, "pending", OLD)
        _batch(conn, 1, "delivered", OLD, stream="gaj-household")
        for at in (OLD, OLD, OLD, RECENT):
            _call(conn, at)
        done, running = _run(conn, OLD, OLD + timedelta(minutes=5)), _run(conn, OLD, None)
        for run_id, at in ((done, OLD), (done, OLD), (done, RECENT), (running, OLD)):
            _problem(conn, run_id, at)
        conn.execute(insert(store.taken).values(stream="hukou", name="f.csv", sha256="0" * 64, batches=5, records=10,
                                                taken_at=OLD))
    return engine


def _outbox(engine) -> dict[tuple[str, int], tuple]:
    """(stream, sequence) -> (state, records, receipt, accepted) of every batch."""
    with engine.connect() as conn:
        rows = conn.execute(select(store.outbox.c.stream, store.outbox.c.sequence, store.outbox.c.state,
                                   store.outbox.c.records, store.outbox.c.receipt, store.outbox.c.accepted)).all()
    return {(r.stream, r.sequence): (r.state, bytes(r.records), r.receipt and bytes(r.receipt), r.accepted)
            for r in rows}


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return len(conn.execute(select(table.c.id)).all())


def test_delivered_batches_older_than_keep_days_lose_their_records_but_keep_row_sequence_and_receipt(filled):
    before = _outbox(filled)
    pruned = store.prune(filled, keep_days=30)
    assert pruned.batches == 2 + 1
    after = _outbox(filled)
    for emptied in (("hukou", 1), ("hukou", 2), ("gaj-household", 1)):
        assert after[emptied] == ("delivered", b"", RECEIPT, 2)
    for kept in (("hukou", 3), ("hukou", 4), ("hukou", 5)):  # refused, delivered yesterday, pending
        assert after[kept] == before[kept] and store.unpack(after[kept][1]) == [b"<a/>", b"<b/>"]
    assert store.status(filled).streams["hukou"] == {"pending": 1, "delivered": 3, "refused": 1}


def test_gateway_calls_and_finished_runs_problems_older_than_keep_days_are_deleted(filled):
    pruned = store.prune(filled, keep_days=30)
    assert (pruned.gateway_calls, pruned.adapter_problems) == (3, 2)
    with filled.connect() as conn:
        assert [c.at.date() for c in conn.execute(select(store.gateway_log)).all()] == [RECENT.date()]
        left = conn.execute(select(store.adapter_problems.c.created, store.adapter_runs.c.status).join(
            store.adapter_runs, store.adapter_runs.c.id == store.adapter_problems.c.run_id)).all()
    assert sorted((c.date(), s) for c, s in left) == sorted([(RECENT.date(), "done"), (OLD.date(), "running")])
    assert _count(filled, store.taken) == 1 and _count(filled, store.adapter_runs) == 2


def test_a_second_prune_finds_nothing_and_keep_days_0_keeps_everything(filled):
    before = _outbox(filled)
    assert store.prune(filled, keep_days=0) == store.Pruned() and _outbox(filled) == before
    assert store.prune(filled, keep_days=30) == store.Pruned(3, 3, 2)
    again = store.prune(filled, keep_days=30)
    assert again == store.Pruned() and not again


def test_finished_runs_older_than_keep_days_go_once_their_problems_have_but_each_adapters_last_run_stays(engine):
    with engine.begin() as conn:
        old = [_run(conn, OLD, OLD + timedelta(minutes=5)) for _ in range(4)]  # gaj-household's
        _problem(conn, old[1], OLD)  # goes in the same prune, then its run
        _problem(conn, old[2], RECENT)  # stays, and so does its run
        other = conn.execute(insert(store.adapter_runs).values(
            adapter="gaj-legal", started=OLD, finished=OLD, status="failed", error="the source did not answer")
        ).inserted_primary_key[0]  # old, but gaj-legal's last run
        running = _run(conn, OLD, None)  # gaj-household's last: still running
    pruned = store.prune(engine, keep_days=30, chunk=2)
    assert (pruned.adapter_problems, pruned.adapter_runs) == (1, 3)
    with engine.connect() as conn:
        left = sorted(conn.scalars(select(store.adapter_runs.c.id)).all())
    assert left == sorted([old[2], other, running])
    assert store.status(engine).runs["gaj-legal"]["status"] == "failed"
    assert store.prune(engine, keep_days=30) == store.Pruned()


def test_a_store_made_before_its_indexes_gets_them_when_opened(engine):
    """The courier's and retention's look-ups have indexes; a store made without them (an older node)
    gets them when the node next opens it."""
    wanted = {index.name for table in store.metadata.tables.values() for index in table.indexes}
    assert {"ix_outbox_state_stream", "ix_gateway_log_at", "ix_adapter_problems_created"} <= wanted
    with engine.begin() as conn:
        for name in wanted:
            conn.execute(text(f"DROP INDEX {name}"))
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    reopened = store.engine_for(url)
    try:
        found = {index["name"] for table in store.metadata.tables for index in inspect(reopened).get_indexes(table)}
    finally:
        reopened.dispose()
    assert wanted <= found


def test_a_big_prune_goes_in_chunks_and_misses_nothing(engine):
    with engine.begin() as conn:
        for sequence in range(1, 8):
            _batch(conn, sequence, "delivered", OLD)
        for _ in range(7):
            _call(conn, OLD)
    assert store.prune(engine, keep_days=30, chunk=3) == store.Pruned(7, 7, 0)
    assert {v[1] for v in _outbox(engine).values()} == {b""} and _count(engine, store.gateway_log) == 0


def test_a_batch_taken_after_a_prune_gets_the_streams_next_sequence(filled, tmp_path):
    store.prune(filled, keep_days=30)
    export = tmp_path / "变动.xml"
    root = etree.Element("Persons")
    root.extend(samples.population_records(3, seed=7))
    export.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    config = NodeConfig(tmp_path / "node.toml", "http://centre", Path(), Path(), Path(), "", "11330100002501020X",
                        "CN=gaj", datetime.max.replace(tzinfo=UTC))
    took = take_file(filled, config, Outbound("hukou", tmp_path, "101001002/000001"), export)
    assert (took.batches, took.records) == (1, 3)
    batches = _outbox(filled)
    assert max(s for (stream, s) in batches if stream == "hukou") == 6
    assert batches[("hukou", 6)][0] == "pending" and len(store.unpack(batches[("hukou", 6)][1])) == 3


@pytest.mark.parametrize("value", ["-1", "1.5", '"30"', "true"])
def test_keep_days_must_be_a_whole_number_of_at_least_0(tmp_path, value):
    path = tmp_path / "node.toml"
    path.write_text(f"[store]\nkeep_days = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load(path)
    shown = {"-1": "-1", "1.5": "1.5", '"30"': "'30'", "true": "True"}[value]
    assert f"[store] keep_days must be a whole number of at least 0, not {shown}" in refused.value.problems


def _old_rows(node: Node) -> None:
    """In the node's store: an old delivered batch, a pending one, and an old gateway call."""
    engine = store.engine_for(f"sqlite:///{node.folder / 'node.db'}")
    with engine.begin() as conn:
        _batch(conn, 1, "delivered", OLD)
        _batch(conn, 2, "pending", OLD)
        _call(conn, OLD)
    engine.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_govshare_node_prune_forgets_what_is_older_than_keep_days_and_status_shows_it(world, tmp_path):  # noqa: F811
    node = Node(world, tmp_path)
    assert load(node.config).keep_days == 30
    node.config.write_text(node.config.read_text(encoding="utf-8") + "\n[store]\nkeep_days = 7\n", encoding="utf-8")
    _old_rows(node)
    pruned = node.command("prune", str(node.config))
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.strip() == ("pruned what is older than 7 days: 1 delivered batches' records emptied (their "
                                     "receipts kept), 1 gateway calls, 0 adapter problems and 0 finished adapter "
                                     "runs deleted")
    assert [(r[0], r[2], r[5]) for r in node.outbox()] == [(1, "delivered", RECEIPT), (2, "pending", None)]
    again = node.command("prune", str(node.config))
    assert "0 delivered batches' records emptied" in again.stdout
    assert node.status()["keep_days"] == 7
    assert "kept: 7 days" in node.command("status", str(node.config)).stdout


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_govshare_node_run_prunes_at_start(world, tmp_path):  # noqa: F811
    node = Node(world, tmp_path, centre=f"http://127.0.0.1:{free_port()}")  # nothing listens: it prunes all the same
    _old_rows(node)
    ran = node.command("run", str(node.config), "--once")
    assert ran.returncode == 0, ran.stderr
    assert "pruned what is older than 30 days: 1 delivered batches' records emptied" in ran.stderr
    engine = store.engine_for(f"sqlite:///{node.folder / 'node.db'}")
    batches = _outbox(engine)
    assert (batches[("hukou", 1)][1], batches[("hukou", 2)][0]) == (b"", "pending")
    engine.dispose()
    assert json.loads(node.command("status", str(node.config), "--json").stdout)["pending_batches"] == 1
