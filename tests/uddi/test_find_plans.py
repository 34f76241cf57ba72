"""PostgreSQL: a find_service by one plain keyedReference and another (a classification and a sharing
type, 共享类型) binds their values, so that its statement is planned once and then reused for any
values (``directory.uddi.inquiry._ref_terms``); the plan PostgreSQL makes for any value must still read
each candidate's own rows for the second reference (``ix_uddi_kr_entity``), not every service of that
sharing type for each candidate."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from psycopg import sql
from sqlalchemy import event

from bench.directory import dataset
from directory.taxonomies import CLASSIFICATION, SHARING_TYPE
from registry.db import reading_engine

from .conftest import UDDI_NS

SERVICES = 1500


pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite has no plan cache


@pytest.fixture
def loaded(sessions, settings) -> list[dataset.ServiceSpec]:
    """1,500 services over 10 departments, bulk-loaded and analysed as the directory benchmark loads them."""
    return dataset.load(sessions, settings, service_count=SERVICES, business_count=10, sample=3, seed=7).services


def _find(post, classification: str, sharing: str) -> tuple[list[str], str]:
    reply = post("inquiry", f"""<find_service xmlns="{UDDI_NS}" maxRows="500"><categoryBag>
        <keyedReference tModelKey="{CLASSIFICATION}" keyValue="{classification}"/>
        <keyedReference tModelKey="{SHARING_TYPE}" keyValue="{sharing}"/></categoryBag></find_service>""")
    assert reply.status == 200, reply.fault_string
    names = [info.findtext(f"{{{UDDI_NS}}}name") for info in reply.payload.iter(f"{{{UDDI_NS}}}serviceInfo")]
    return names, reply.payload.get("truncated")


def _pages(seen: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    return [(statement, parameters) for statement, parameters in seen
            if "count(*) OVER ()" in statement and "uddi_keyed_reference" in statement]


def test_a_category_find_is_one_statement_for_any_values_and_answers_for_its_own(sessions, post, loaded):
    seen: list[tuple[str, dict]] = []
    reading = reading_engine(sessions.kw["bind"])

    def kept(_conn, _cursor, statement, parameters, *_args):
        seen.append((statement, parameters))

    asked = Counter((spec.class_code, spec.sharing_type) for spec in loaded)
    pairs = [pair for pair, _count in asked.most_common(12)]  # more finds than psycopg's prepare threshold (5)
    assert len(pairs) == 12
    event.listen(reading, "before_cursor_execute", kept)
    try:
        for classification, sharing in pairs:
            names, truncated = _find(post, classification, sharing)
            wanted = [spec.name for spec in loaded if (spec.class_code, spec.sharing_type) == (classification, sharing)]
            assert Counter(names) == Counter(wanted) and truncated == "false"
    finally:
        event.remove(reading, "before_cursor_execute", kept)
    pages = _pages(seen)
    assert len(pages) == 12
    assert len({statement for statement, _ in pages}) == 1  # the values are bound, not written into it
    assert not any(classification in pages[0][0] for classification, _ in pairs)


def test_the_plan_for_any_values_probes_each_candidates_own_rows(sessions, post, loaded):
    """The statement as PostgreSQL runs it once it is planned for any values (a generic plan): the
    sharing type is looked up per candidate, by the candidate's key, and no row is read to be thrown
    away by a join filter."""
    seen: list[tuple[str, dict]] = []
    reading = reading_engine(sessions.kw["bind"])

    def kept(_conn, _cursor, statement, parameters, *_args):
        seen.append((statement, parameters))

    classification, sharing = Counter((spec.class_code, spec.sharing_type) for spec in loaded).most_common(1)[0][0]
    event.listen(reading, "before_cursor_execute", kept)
    try:
        _find(post, classification, sharing)
    finally:
        event.remove(reading, "before_cursor_execute", kept)
    [(statement, parameters)] = _pages(seen)

    order: list[str] = []

    def numbered(match: re.Match) -> str:
        if match.group(1) not in order:
            order.append(match.group(1))
        return f"${order.index(match.group(1)) + 1}"

    prepared = re.sub(r"%\((\w+)\)s", numbered, statement)
    with sessions.kw["bind"].connect() as conn:
        driver = conn.connection.driver_connection
        with driver.cursor() as cursor:
            cursor.execute("SET plan_cache_mode = force_generic_plan")
            cursor.execute(f"PREPARE category_page AS {prepared}")
            arguments = sql.SQL(", ").join(sql.Literal(parameters[name]) for name in order)
            cursor.execute(sql.SQL("EXPLAIN (ANALYZE, COSTS OFF) EXECUTE category_page({})").format(arguments))
            plan = "\n".join(row[0] for row in cursor.fetchall())
            cursor.execute("DEALLOCATE category_page")
            cursor.execute("RESET plan_cache_mode")
    assert re.search(r"Index (Only )?Scan using ix_uddi_kr_entity", plan), plan
    assert "Rows Removed by Join Filter" not in plan, plan
