"""QueryRecords and GetChanges over real HTTP, through the output tier."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from lxml import etree

from xsd import samples
from xsd.batch import build_batch
from xsd.registry import POPULATION_NS, lookup

from .conftest import EX, submit_body

P = "{%s}" % POPULATION_NS
CREATED = datetime(2024, 7, 1, 9, 0, tzinfo=UTC)


def _load(exchange, population, records):
    batch = build_batch(records, provider_code=population.provider_code, resource_code=population.code,
                        created=CREATED, batch_id=uuid.uuid4())
    reply = exchange(submit_body(batch))
    assert reply.status == 200, reply.fault


def _query(exchange, population, inner: str):
    return exchange(f'<ex:QueryRecords xmlns:ex="{EX}"><ex:requester>{population.consumer_code}</ex:requester>'
                    f"<ex:resourceCode>{population.code}</ex:resourceCode>{inner}</ex:QueryRecords>")


def test_query_by_key_returns_the_record_as_submitted(exchange, population):
    records = list(samples.population_records(10, seed=21))
    _load(exchange, population, records)
    wanted = records[3]
    id_number = wanted.findtext(P + "idNumber")
    reply = _query(exchange, population, f"<ex:key>{id_number}</ex:key>")
    assert reply.status == 200, reply.fault
    found = reply.payload.find(f"{{{EX}}}records")
    assert len(found) == 1 and reply.find("ex:total") == "1" and reply.find("ex:source") == "central"
    fmt = lookup(P + "Person")
    assert fmt.decode(found[0]) == fmt.decode(wanted)
    assert fmt.schema.validate(found[0])


def test_query_by_filter_pages_through_results(exchange, population):
    records = list(samples.population_records(30, seed=22))
    _load(exchange, population, records)
    sex = records[0].findtext(P + "sex")
    expected = sorted(r.findtext(P + "idNumber") for r in records if r.findtext(P + "sex") == sex)
    seen, offset = [], 0
    while True:
        reply = _query(exchange, population, f"<ex:filter><ex:field>sex</ex:field><ex:operator>eq</ex:operator>"
                       f"<ex:value>{sex}</ex:value></ex:filter><ex:offset>{offset}</ex:offset>"
                       "<ex:pageSize>4</ex:pageSize>")
        page = [r.findtext(P + "idNumber") for r in reply.payload.find(f"{{{EX}}}records")]
        seen += page
        assert (reply.find("ex:total"), reply.find("ex:pageOffset")) == (str(len(expected)), str(offset))
        if reply.find("ex:more") == "false":
            break
        offset += len(page)
    assert seen == expected


def test_query_of_an_unknown_resource_is_a_fault(exchange, population):
    reply = exchange(f'<ex:QueryRecords xmlns:ex="{EX}"><ex:requester>{population.consumer_code}</ex:requester>'
                     "<ex:resourceCode>101001/999999</ex:resourceCode></ex:QueryRecords>")
    assert reply.code == "UnknownResource"


def test_query_by_an_unregistered_department_is_a_fault(exchange, population):
    reply = exchange(f'<ex:QueryRecords xmlns:ex="{EX}"><ex:requester>{samples.provider_code(99)}</ex:requester>'
                     f"<ex:resourceCode>{population.code}</ex:resourceCode></ex:QueryRecords>")
    assert reply.code == "UnknownDepartment"


def _changes(exchange, population, watermark: int, limit: int = 100):
    reply = exchange(f'<ex:GetChanges xmlns:ex="{EX}"><ex:requester>{population.consumer_code}</ex:requester>'
                     f"<ex:resourceCode>{population.code}</ex:resourceCode><ex:watermark>{watermark}</ex:watermark>"
                     f"<ex:maxRecords>{limit}</ex:maxRecords></ex:GetChanges>")
    assert reply.status == 200, reply.fault
    return reply


def test_get_changes_follows_a_watermark(exchange, population):
    records = list(samples.population_records(7, seed=23))
    _load(exchange, population, records)
    first = _changes(exchange, population, 0, limit=5)
    assert first.find("ex:more") == "true"
    rest = _changes(exchange, population, int(first.find("ex:nextWatermark")), limit=5)
    assert rest.find("ex:more") == "false"
    keys = [c.findtext(f"{{{EX}}}key") for r in (first, rest) for c in r.payload.iter(f"{{{EX}}}change")]
    assert sorted(keys) == sorted(r.findtext(P + "idNumber") for r in records)
    changed = etree.fromstring(etree.tostring(records[2]))
    changed.find(P + "domicileAddress").text = "临江市新区1号"
    _load(exchange, population, [changed])
    latest = _changes(exchange, population, int(rest.find("ex:nextWatermark")))
    changes = list(latest.payload.iter(f"{{{EX}}}change"))
    assert [c.findtext(f"{{{EX}}}key") for c in changes] == [records[2].findtext(P + "idNumber")]
    assert changes[0].find(f"{{{EX}}}record")[0].findtext(P + "domicileAddress") == "临江市新区1号"


def test_get_changes_after_the_last_watermark_is_empty(exchange, population):
    _load(exchange, population, list(samples.population_records(3, seed=24)))
    everything = _changes(exchange, population, 0)
    after = _changes(exchange, population, int(everything.find("ex:nextWatermark")))
    assert list(after.payload.iter(f"{{{EX}}}change")) == []
    assert after.find("ex:nextWatermark") == everything.find("ex:nextWatermark")


def test_a_suspended_departments_unsigned_requests_are_refused_too(exchange, population, sessions):
    """GOVSHARE_WSS=optional lets unsigned requests through (development only); a suspended
    department (暂停接入) is refused on them as on signed ones, reading and sending alike."""
    from sqlalchemy import select

    from registry.clock import utcnow
    from registry.db import unit_of_work
    from registry.models import Department

    records = list(samples.population_records(2, seed=24))
    _load(exchange, population, records)
    with unit_of_work(sessions) as session:
        for department in session.scalars(select(Department)):
            department.status, department.suspended_at, department.suspension_reason = "suspended", utcnow(), "整改"
    read = _query(exchange, population, f"<ex:key>{records[0].findtext(P + 'idNumber')}</ex:key>")
    assert (read.status, read.code) == (500, "DepartmentSuspended"), read.fault  # a SOAP 1.1 Fault
    assert "is suspended" in read.fault and "整改" in read.fault
    batch = build_batch(records, provider_code=population.provider_code, resource_code=population.code,
                        created=CREATED, batch_id=uuid.uuid4())
    sent = exchange(submit_body(batch))
    assert (sent.status, sent.code) == (500, "DepartmentSuspended"), sent.fault


def test_governance_operations_refuse_an_unsigned_request_whatever_the_policy(exchange, population):
    """They act for the department whose certificate signs; an unsigned request names nobody."""
    for operation in ("GetApplications", "GetGrants", "GetCorrections"):
        reply = exchange(f'<ex:{operation} xmlns:ex="{EX}"/>')
        assert (reply.status, reply.code) == (500, "InvalidSecurity"), reply.fault
        assert "sign it" in reply.fault
