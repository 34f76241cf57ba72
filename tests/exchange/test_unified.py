"""Unified query (统一查询): which published resources a key is looked up in - by their class, or,
under a 部门 or 主题 class, by the records the centre holds of them - however many there are."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select

from directory.accounts import create_user
from exchange import submit, unified
from exchange.queries import query_records
from registry.db import reading_engine, unit_of_work
from registry.errors import GovshareError
from registry.models import AuditEntry, Department
from tests.conftest import as_user
from trust.actions import ACTIONS, Context, action
from trust.auth import CHECKS, allowed, check
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


def test_the_resources_it_may_not_read_are_refused_as_a_query_of_each_would_be_in_a_few_statements(
        sessions, settings, population):
    """No grant, a revoked grant, an application awaiting its answer: each refused resource says what a
    query of it alone would say, and finding all of them costs the same few statements however many."""
    from datetime import date

    from governance import sharing
    from registry.models import CatalogueEntry

    with unit_of_work(sessions) as session:
        gaj = session.scalar(select(Department).where(Department.code == "gaj"))
        reviewer = create_user(session, username="reviewer2", password="x", department=None, roles=("reviewer",))
        cataloguer = create_user(session, username="gaj.cat", password="x", department=gaj,
                                 roles=("cataloguer", "provider"))
        create_user(session, username="mzj.li", password="x", department=session.scalar(
            select(Department).where(Department.code == "mzj")), roles=("consumer",))
        codes = [_publish(session, settings, gaj, cataloguer, reviewer, name, "101001002", "有条件共享")
                 for name in ("暂住人口信息", "出入境证件信息", "户籍迁移信息")]
    revoked = sharing.grant(as_user(sessions, settings, "gaj.cat"), resource_code=codes[1], consumer_code="mzj")
    sharing.revoke(as_user(sessions, settings, "gaj.cat"), grant_id=revoked.id, reason="业务调整")
    sharing.apply(as_user(sessions, settings, "mzj.li"), resource_code=codes[2], purpose="核对户籍迁移",
                  valid_to=date(2031, 1, 1))

    key = next(iter(samples.population_fields(1, seed=5)))["idNumber"]
    answer = unified.unified_query(as_user(sessions, settings, "mzj.li"), key=key, purpose="核验")
    said = {unread.resource.code: unread for unread in answer.skipped}
    assert set(said) == set(codes)
    with sessions() as session:
        mzj = session.scalar(select(Department).where(Department.code == "mzj"))
        for code in codes:  # exactly what authorize says of the resource alone
            entry = session.scalar(select(CatalogueEntry).where(CatalogueEntry.resource_code == code))
            try:
                sharing.authorize(session, mzj, entry)
            except Exception as refused:  # noqa: BLE001 - compared below
                assert (said[code].code, said[code].message, said[code].user_message) == (
                    refused.code, refused.message, refused.user_message)
            else:
                raise AssertionError(f"{code} was read")
    assert "撤销" in said[codes[1]].user_message and "正等待提供方答复" in said[codes[2]].user_message
    assert "申请使用" in said[codes[0]].user_message

    engine, statements = sessions.kw["bind"], []

    def counted(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with sessions() as session:
        mzj = session.scalar(select(Department).where(Department.code == "mzj"))
        entries = unified.candidates(session, "population")
        event.listen(engine, "before_cursor_execute", counted)
        try:
            refused = sharing.refusals(session, mzj, entries, datetime.now(UTC).replace(tzinfo=None))
        finally:
            event.remove(engine, "before_cursor_execute", counted)
    assert set(refused) == {e.id for e in entries if e.resource_code in codes} and len(statements) == 4


@pytest.fixture
def held(sessions, settings, population) -> str:
    """A person 公安局 sent to its resource, which 民政局 (its consumer ``mzj.li``) holds a grant for; the key."""
    with unit_of_work(sessions) as session:
        gaj = session.scalar(select(Department).where(Department.code == "gaj"))
        mzj = session.scalar(select(Department).where(Department.code == "mzj"))
        create_user(session, username="gaj.cat", password="x", department=gaj, roles=("cataloguer", "provider"))
        create_user(session, username="mzj.li", password="x", department=mzj, roles=("consumer",))
    submit.submit_batch(as_user(sessions, settings, "gaj.cat"), batch=build_batch(
        samples.population_records(2, seed=83), provider_code=population.provider_code,
        resource_code=population.code, created=datetime(2026, 3, 1, tzinfo=UTC), batch_id=uuid.uuid4()))
    return next(iter(samples.population_fields(2, seed=83)))["idNumber"]


def _entries_after(sessions, seq: int) -> list[AuditEntry]:
    with sessions() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.seq > seq).order_by(AuditEntry.seq)))


def _last_seq(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.coalesce(func.max(AuditEntry.seq), 0)))


def test_each_resource_read_leaves_its_entry_appended_with_the_querys_in_one_statement(sessions, settings, population,
                                                                                      held):
    """The read's unit of work is the query's (its look-ups not repeated), and its entry - as a
    QueryRecords of the resource would leave it - goes into the log with the query's, together."""
    engine = sessions.kw["bind"]
    engines = {engine, reading_engine(engine)}
    statements: list[str] = []

    def counted(_conn, _cursor, statement, *_args):
        statements.append(statement)

    start, ctx = _last_seq(sessions), as_user(sessions, settings, "mzj.li", channel="portal")
    for each in engines:
        event.listen(each, "before_cursor_execute", counted)
    try:
        answer = unified.unified_query(ctx, key=held, purpose="核验")
    finally:
        for each in engines:
            event.remove(each, "before_cursor_execute", counted)
    assert [hit.resource.code for hit in answer.hits] == [population.code]
    read, query = _entries_after(sessions, start)
    assert (read.operation, read.resource_code, read.purpose, read.record_count, read.result, read.channel) == (
        "exchange.query_records", population.code, "核验", 1, "ok", "portal")
    assert (query.operation, query.record_count, query.result, query.seq) == (
        "exchange.unified_query", 1, "ok", read.seq + 1)
    audit_writes = [s for s in statements if "audit_entry" in s or s.startswith(("BEGIN", "SELECT pg_advisory"))]
    assert len([s for s in audit_writes if s.startswith("INSERT")]) <= 1  # both entries, one insert
    # the query: its resources and providers, the requester, the grants held; its read: the department,
    # the entry, its grants and masking rules and the record in one statement, then the record with its
    # lineage (the departments' names known)
    assert len(statements) - len(audit_writes) == 5, "\n".join(s[:70] for s in statements)


@pytest.fixture
def reads_then_fails():
    """An action of these tests' own, registered only while a test runs: the platform's actions each
    have an authorisation case (tests/test_action_auth.py), this one is no action of the platform."""
    name = "tests.reads_then_fails"
    check(name)(allowed("query"))

    @action(name, read_only=True)
    def run(ctx: Context, *, resource_code: str, key: str) -> None:
        with contextlib.suppress(GovshareError):  # a refused read: on to what follows, which fails
            query_records(ctx.again(), resource_code=resource_code, keys=[key], purpose="核验")
        raise RuntimeError("the answer could not be built")

    yield run
    ACTIONS.pop(name, None)
    CHECKS.pop(name, None)


def test_an_action_failing_after_a_read_keeps_the_reads_entry_and_its_own(sessions, settings, population, held,
                                                                            reads_then_fails):
    start = _last_seq(sessions)
    with pytest.raises(RuntimeError):
        reads_then_fails(as_user(sessions, settings, "mzj.li"), resource_code=population.code, key=held)
    read, failed = _entries_after(sessions, start)
    assert (read.operation, read.resource_code, read.record_count, read.result) == (
        "exchange.query_records", population.code, 1, "ok")
    assert (failed.operation, failed.result) == ("tests.reads_then_fails", "fault:InternalError")


def test_a_refused_read_is_recorded_with_the_action_that_ran_it(sessions, settings, population, held,
                                                                  reads_then_fails):
    """An action that reads on after one of its reads was refused: both reads recorded, in order."""
    start = _last_seq(sessions)
    ctx = as_user(sessions, settings, "mzj.li")
    with pytest.raises(RuntimeError):
        reads_then_fails(ctx, resource_code="999999999/999999", key=held)
    refused, failed = _entries_after(sessions, start)
    assert (refused.operation, refused.resource_code, refused.result) == (
        "exchange.query_records", "999999999/999999", "refused:UnknownResource")
    assert failed.result == "fault:InternalError"
