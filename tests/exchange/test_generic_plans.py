"""PostgreSQL: read-only actions run on connections that may reuse generic plans (``registry.db.
autocommit_sessions``), so whatever decides a read's plan - a LIKE prefix, the base database - is
written into the statement, and a statement run again and again on a generic plan still answers for
its own values."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select, text

from directory.accounts import create_user
from exchange import submit
from exchange.queries import get_changes, query_records
from registry.db import autocommit_sessions, reading_engine, unit_of_work
from registry.models import Department
from tests.conftest import as_user
from xsd import samples
from xsd.batch import build_batch

PEOPLE = 60


pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite has no plan cache


@pytest.fixture
def people(sessions, settings, population) -> list[dict]:
    with unit_of_work(sessions) as session:
        create_user(session, username="gaj.sub", password="x", roles=("provider",),
                    department=session.scalar(select(Department).where(Department.code == "gaj")))
        create_user(session, username="mzj.reader", password="x", roles=("consumer",),
                    department=session.scalar(select(Department).where(Department.code == "mzj")))
    submit.submit_batch(as_user(sessions, settings, "gaj.sub"), batch=build_batch(
        samples.population_records(PEOPLE, seed=7), provider_code=population.provider_code,
        resource_code=population.code, created=datetime(2026, 3, 1, tzinfo=UTC), batch_id=uuid.uuid4()))
    return list(samples.population_fields(PEOPLE, seed=7))


def _statements() -> tuple[list[str], object]:
    seen: list[str] = []

    def kept(_conn, _cursor, statement, *_args):
        seen.append(statement)

    return seen, kept


def test_read_only_sessions_may_reuse_generic_plans_and_the_others_plan_every_execution(sessions):
    with autocommit_sessions(sessions)() as session:
        assert session.scalar(text("SHOW plan_cache_mode")) == "auto"
    with sessions() as session:
        assert session.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"


def test_a_prefix_and_the_base_are_written_into_the_query_and_each_prefix_gets_its_own_answer(
        sessions, settings, population, people):
    seen, kept = _statements()
    reading = reading_engine(sessions.kw["bind"])
    prefixes = sorted({person["name"][0] for person in people})[:8]
    assert len(prefixes) >= 6  # more executions than psycopg's prepare threshold (5)
    event.listen(reading, "before_cursor_execute", kept)
    try:
        for prefix in prefixes + prefixes:  # twice: the second time on prepared statements
            found = query_records(as_user(sessions, settings, "mzj.reader"), resource_code=population.code,
                                  filters=[("name", "prefix", prefix)], page_size=100)
            wanted = sorted(p["idNumber"] for p in people if p["name"].startswith(prefix))
            assert sorted(row.key for row in found.records) == wanted
            assert found.total == len(wanted)
    finally:
        event.remove(reading, "before_cursor_execute", kept)
    filtered = [s for s in seen if " LIKE " in s]
    assert filtered and all("'population'" in s for s in filtered)
    assert {prefix for prefix in prefixes if any(f"LIKE '{prefix}%" in s for s in filtered)} == set(prefixes)


def test_a_key_read_again_and_again_on_a_generic_plan_finds_each_key(sessions, settings, population, people):
    for person in people[:12]:
        found = query_records(as_user(sessions, settings, "mzj.reader"), resource_code=population.code,
                              keys=[person["idNumber"]])
        assert [row.key for row in found.records] == [person["idNumber"]]
        assert found.records[0].fields["name"] == person["name"]
    missing = query_records(as_user(sessions, settings, "mzj.reader"), resource_code=population.code,
                            keys=["110101190001010000"])
    assert missing.total == 0 and missing.records == ()


def test_changes_read_again_and_again_continue_from_each_watermark(sessions, settings, population, people):
    ctx = as_user(sessions, settings, "mzj.reader")
    watermark, keys = 0, []
    for _ in range(PEOPLE // 5 + 1):
        page = get_changes(ctx, resource_code=population.code, watermark=watermark, max_records=5)
        keys += [row.key for row in page.changes]
        watermark = page.next_watermark
        if not page.more:
            break
    assert sorted(keys) == sorted(p["idNumber"] for p in people)
