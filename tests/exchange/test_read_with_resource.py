"""A QueryRecords of a few keys reads its records in the statement that reads the department, the
resource, its masking rules and the grants held (``exchange.queries._named_read``): one round trip
less, the same answer as a read of more keys (which reads them in a statement of their own), masked
the same way, paged the same way, and nothing of them answered when the read is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select

from directory.accounts import create_user, register_department
from directory.demo import credit_code_for
from exchange import submit
from exchange.queries import KEYS_READ_WITH_RESOURCE, query_records
from registry.db import reading_engine, unit_of_work
from registry.errors import ExchangeError
from registry.models import Department
from tests.conftest import as_user
from xsd import samples
from xsd.batch import build_batch

from .conftest import another_of_gaj

PEOPLE = 12
MISSING = "110101190001010000"


def _load(sessions, settings, resource_code: str, provider_code: str, seed: int) -> list[dict]:
    submit.submit_batch(as_user(sessions, settings, "gaj.sub"), batch=build_batch(
        samples.population_records(PEOPLE, seed=seed), provider_code=provider_code, resource_code=resource_code,
        created=datetime(2026, 3, 1, tzinfo=UTC), batch_id=uuid.uuid4()))
    return sorted(samples.population_fields(PEOPLE, seed=seed), key=lambda person: person["idNumber"])


@pytest.fixture
def people(sessions, settings, population) -> list[dict]:
    with unit_of_work(sessions) as session:
        gaj = session.scalar(select(Department).where(Department.code == "gaj"))
        create_user(session, username="gaj.sub", password="x", roles=("provider", "consumer"), department=gaj)
        create_user(session, username="mzj.reader", password="x", roles=("consumer",),
                    department=session.scalar(select(Department).where(Department.code == "mzj")))
        rsj = register_department(session, settings, code="rsj", name="临江市人力资源和社会保障局",
                                  credit_code=credit_code_for("00250104"))
        create_user(session, username="rsj.reader", password="x", roles=("consumer",), department=rsj)
    return _load(sessions, settings, population.code, population.provider_code, seed=11)


def _reading(sessions, run):
    """What ``run()`` returned, and the SELECTs it ran (the audit log's left out)."""
    engine = sessions.kw["bind"]
    seen: list[str] = []

    def kept(_conn, _cursor, statement, *_args):
        seen.append(statement)

    engines = {engine, reading_engine(engine)}
    for each in engines:
        event.listen(each, "before_cursor_execute", kept)
    try:
        result = run()
    finally:
        for each in engines:
            event.remove(each, "before_cursor_execute", kept)
    return result, [s for s in seen if s.lstrip().upper().startswith("SELECT") and "audit_entry" not in s]


@pytest.mark.parametrize("named", [False, True], ids=["callers-department", "named-requester"])
def test_a_few_keys_are_read_in_one_statement_and_answered_as_a_read_of_more_keys(
        sessions, settings, population, people, named):
    ctx = as_user(sessions, settings, "mzj.reader")
    requester = population.consumer_code if named else None
    few = [person["idNumber"] for person in people[:KEYS_READ_WITH_RESOURCE - 1]] + [MISSING]
    more = [person["idNumber"] for person in people[:KEYS_READ_WITH_RESOURCE + 1]]

    found, selects = _reading(sessions, lambda: query_records(ctx, resource_code=population.code, keys=few,
                                                              requester=requester))
    assert len(selects) == 1, "\n".join(s[:90] for s in selects)
    assert "core_record" in selects[0] and "catalogue_entry" in selects[0]
    assert [row.key for row in found.records] == sorted(few[:-1])  # the missing key: no row
    assert found.total == len(few) - 1 and found.basis == "unconditional"  # its grant: ID numbers clear
    assert found.records[0].fields["name"] == people[0]["name"]

    read_apart, selects = _reading(sessions, lambda: query_records(ctx, resource_code=population.code, keys=more,
                                                                   requester=requester))
    assert len(selects) == 2 and "catalogue_entry" not in selects[1] and "core_record" in selects[1]
    assert list(found.records) == [row for row in read_apart.records if row.key in few]


def test_a_few_keys_read_together_are_masked_and_paged_as_a_read_of_more_keys(sessions, settings, population,
                                                                               people):
    ctx = as_user(sessions, settings, "rsj.reader")  # no grant: the 无条件共享 resource, its ID numbers masked
    few = [person["idNumber"] for person in people[:4]]
    page, selects = _reading(sessions, lambda: query_records(ctx, resource_code=population.code, keys=few,
                                                             offset=1, page_size=2))
    assert len(selects) == 1
    assert (page.total, page.offset, page.more, page.basis) == (4, 1, True, "unconditional")
    assert [row.fields["name"] for row in page.records] == [people[1]["name"], people[2]["name"]]
    for row, person in zip(page.records, people[1:3], strict=True):
        assert row.key != person["idNumber"] and "*" in row.key and row.key == row.fields["idNumber"]
        assert row.key[:6] == person["idNumber"][:6] and row.key[-4:] == person["idNumber"][-4:]

    more = [person["idNumber"] for person in people[:KEYS_READ_WITH_RESOURCE + 1]]
    read_apart = query_records(ctx, resource_code=population.code, keys=more)
    assert list(page.records) == list(read_apart.records[1:3])


def test_a_refused_read_of_a_few_keys_answers_nothing_of_their_records(sessions, settings, population, people):
    conditional = another_of_gaj(sessions, settings, "特殊人群信息", "有条件共享", "conditional")
    held = _load(sessions, settings, conditional, population.provider_code, seed=12)
    ctx = as_user(sessions, settings, "mzj.reader")

    with pytest.raises(ExchangeError) as refused:
        _reading(sessions, lambda: query_records(ctx, resource_code=conditional, keys=[held[0]["idNumber"]]))
    assert refused.value.code == "NotAuthorized"
    told = f"{refused.value.message} {refused.value.user_message}"
    assert held[0]["name"] not in told and held[0]["idNumber"] not in told

    provider = query_records(as_user(sessions, settings, "gaj.sub"), resource_code=conditional,
                             keys=[held[0]["idNumber"]])  # the provider reads its own: they are there
    assert [row.fields["name"] for row in provider.records] == [held[0]["name"]]
