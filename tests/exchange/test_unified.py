"""Unified query (统一查询): which published resources a key is looked up in - by their class, or,
under a 部门 or 主题 class, by the records the centre holds of them - however many there are."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import event, select

from directory.accounts import create_user
from exchange import submit, unified
from registry.db import unit_of_work
from registry.models import Department
from tests.conftest import as_user
from xsd import samples
from xsd.batch import build_batch

from .conftest import _publish


def test_resources_under_department_classes_are_asked_when_they_hold_records_of_the_base(sessions, settings,
                                                                                            population):
    with unit_of_work(sessions) as session:
        gaj = session.scalar(select(Department).where(Department.code == "gaj"))
        reviewer = create_user(session, username="reviewer2", password="x", department=None, roles=("reviewer",))
        user = create_user(session, username="gaj.cat", password="x", department=gaj,
                           roles=("cataloguer", "provider"))
        held = [_publish(session, settings, gaj, user, reviewer, f"流动人口登记信息{n}", "301001") for n in range(3)]
        empty = _publish(session, settings, gaj, user, reviewer, "办件信息", "301002")  # no records at the centre
    for seed, code in enumerate(held, start=83):
        submit.submit_batch(as_user(sessions, settings, "gaj.cat"), batch=build_batch(
            samples.population_records(2, seed=seed), provider_code=population.provider_code, resource_code=code,
            created=datetime(2026, 3, 1, tzinfo=UTC), batch_id=uuid.uuid4()))

    statements: list[str] = []
    engine = sessions.kw["bind"]

    def counted(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with sessions() as session:
        event.listen(engine, "before_cursor_execute", counted)
        try:
            found = unified.candidates(session, "population")
            legal = unified.candidates(session, "legal_entity")
        finally:
            event.remove(engine, "before_cursor_execute", counted)
    assert [e.resource_code for e in found] == sorted([population.code, *held])
    assert empty not in [e.resource_code for e in found + legal]
    assert set(held).isdisjoint(e.resource_code for e in legal)
    assert len(statements) == 6  # per base: the entries, their providers, the bases of those under other classes
