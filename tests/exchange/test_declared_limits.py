"""What the exchange contract declares is enforced before any work starts, as a client fault:
maxOccurs (100 keys, 10 filters), lengths (a key, a filter, 用途), and the size of a request
that is read whole (``GOVSHARE_MAX_REQUEST``; SubmitBatch alone streams)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from registry.models import AuditEntry

from .conftest import EX, submit_body
from .test_query import _query

ID = "110101199003077777"


def _keys(count: int) -> str:
    return "".join(f"<ex:key>{110101199003070000 + i}</ex:key>" for i in range(count))


def test_a_query_with_one_key_more_than_the_contract_allows_is_a_client_fault(exchange, population):
    assert _query(exchange, population, _keys(100)).status == 200
    reply = _query(exchange, population, _keys(101))
    assert (reply.status, reply.code) == (500, "InvalidRequest")
    assert reply.root.findtext(".//faultcode") == "soap:Client"
    assert "does not conform to the exchange contract" in reply.fault and "key" in reply.fault


def test_a_query_with_a_hundred_thousand_keys_is_refused_while_it_streams_in(exchange, population, sessions):
    """3.4 MB of keys: refused when the 116th child arrives, before the database is asked anything."""
    started = time.monotonic()
    reply = _query(exchange, population, _keys(100_000))
    assert (reply.status, reply.code) == (500, "InvalidRequest")
    assert "more than the 115 child elements" in reply.fault
    assert time.monotonic() - started < 3
    with sessions() as session:
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert (entry.operation, entry.result, entry.channel) == ("exchange.query_records", "refused:InvalidRequest",
                                                              "soap")


def test_a_query_with_eleven_filters_is_a_client_fault(exchange, population):
    one = "<ex:filter><ex:field>sex</ex:field><ex:operator>eq</ex:operator><ex:value>1</ex:value></ex:filter>"
    reply = _query(exchange, population, one * 11)
    assert (reply.status, reply.code) == (500, "InvalidRequest")


@pytest.mark.parametrize(("inner", "what"), [
    (f"<ex:key>{'1' * 256}</ex:key>", "key"),
    ("<ex:filter><ex:field>sex</ex:field><ex:operator>eq</ex:operator>"
     f"<ex:value>{'x' * 256}</ex:value></ex:filter>", "value"),
    ("<ex:filter><ex:field>sex</ex:field><ex:operator>like</ex:operator><ex:value>1</ex:value></ex:filter>",
     "operator"),
    (f"<ex:key>{ID}</ex:key><ex:purpose>{'核' * 201}</ex:purpose>", "purpose"),
    ("<ex:offset>many</ex:offset>", "offset"),
])
def test_a_value_outside_what_the_contract_declares_is_a_client_fault(exchange, population, inner, what):
    reply = _query(exchange, population, inner)
    assert (reply.status, reply.code) == (500, "InvalidRequest"), reply.fault
    assert what in reply.fault


def test_get_changes_and_get_batch_status_are_held_to_the_contract_too(exchange, population):
    reply = exchange(f'<ex:GetChanges xmlns:ex="{EX}"><ex:requester>{population.consumer_code}</ex:requester>'
                     f"<ex:resourceCode>{population.code}</ex:resourceCode><ex:watermark>-x</ex:watermark>"
                     "</ex:GetChanges>")
    assert (reply.status, reply.code) == (500, "InvalidRequest")
    reply = exchange(f'<ex:GetBatchStatus xmlns:ex="{EX}"><ex:batchId>{"9" * 65}</ex:batchId></ex:GetBatchStatus>')
    assert (reply.status, reply.code) == (500, "InvalidRequest")


def test_a_query_larger_than_the_largest_request_is_refused_before_it_is_read(exchange, population, settings):
    padding = "<ex:purpose>x</ex:purpose>" + " " * (settings.max_request_bytes + 1)
    reply = _query(exchange, population, padding)
    assert (reply.status, reply.code) == (500, "RequestTooLarge")
    assert f"a QueryRecords request is at most {settings.max_request_bytes} bytes" in reply.fault


def test_a_batch_larger_than_the_largest_small_request_still_streams_in(exchange, population, settings):
    """SubmitBatch is the one operation that streams: the small-request limit is not its limit."""
    import uuid
    from datetime import UTC, datetime

    from xsd import samples
    from xsd.batch import build_batch

    records = list(samples.population_records(2, seed=3))
    batch = build_batch(records, provider_code=population.provider_code, resource_code=population.code,
                        created=datetime(2026, 1, 1, tzinfo=UTC), batch_id=uuid.uuid4())
    body = submit_body(batch).replace(b"</ex:SubmitBatch>", b" " * (settings.max_request_bytes + 1)
                                      + b"</ex:SubmitBatch>")
    reply = exchange(body)
    assert reply.status == 200, reply.fault
    assert reply.find("ex:receipt/ex:accepted") == "2"


def test_every_refusal_of_a_declared_limit_is_in_the_audit_log(exchange, population, sessions):
    for inner in (_keys(101), _keys(100_000)):
        _query(exchange, population, inner)
    with sessions() as session:
        refused = session.scalar(select(func.count()).select_from(AuditEntry)
                                 .where(AuditEntry.result == "refused:InvalidRequest"))
    assert refused == 2
