"""Operational monitoring's records (运行监测, ``registry.request_log``) of real SOAP requests sent over
HTTP to a loopback server: who called, which operation on which resource, sizes, times and results."""

from __future__ import annotations

import time

import pytest
import requests
from sqlalchemy import select

from registry.models import RequestRecord
from registry.request_log import Writer, clock_ms

from .conftest import EX, SOAP_ENV

UDDI = "urn:uddi-org:api_v3"


def _records(sessions, count: int, timeout: float = 10.0) -> list[RequestRecord]:
    """The first ``count`` records, once the writer thread has inserted them (it does so each second)."""
    deadline = time.monotonic() + timeout
    while True:
        with sessions() as session:
            rows = list(session.scalars(select(RequestRecord).order_by(RequestRecord.id)))
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_every_soap_request_is_recorded_with_its_caller_operation_resource_sizes_and_result(
        exchange, population, live_server, sessions):
    before = clock_ms()
    ok = exchange(f'<ex:QueryRecords xmlns:ex="{EX}"><ex:requester>{population.consumer_code}</ex:requester>'
                  f"<ex:resourceCode>{population.code}</ex:resourceCode>"
                  "<ex:key>330102199001021235</ex:key></ex:QueryRecords>")
    assert ok.status == 200, ok.fault
    refused = exchange(f'<ex:QueryRecords xmlns:ex="{EX}"><ex:requester>{population.consumer_code}</ex:requester>'
                       "<ex:resourceCode>101001/999999</ex:resourceCode></ex:QueryRecords>")
    assert refused.code == "UnknownResource"
    envelope = (f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body><find_business xmlns="{UDDI}">'
                '<name>%</name></find_business></soap:Body></soap:Envelope>').encode()
    found = requests.post(f"{live_server.url}/uddi/inquiry", data=envelope, timeout=30,
                          headers={"Content-Type": "text/xml; charset=utf-8"})
    unknown_key = (f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body><get_businessDetail xmlns="{UDDI}">'
                   '<businessKey>uddi:nowhere:none</businessKey></get_businessDetail></soap:Body></soap:Envelope>')
    for body in (unknown_key.encode(), b"<not-soap/>"):
        assert requests.post(f"{live_server.url}/uddi/inquiry", data=body, timeout=30,
                             headers={"Content-Type": "text/xml; charset=utf-8"}).status_code == 500
    requests.get(f"{live_server.url}/exchange?wsdl", timeout=30)  # not a SOAP request: not recorded

    rows = _records(sessions, 5)
    after = clock_ms()  # (a record ends once its answer is sent, which may be after the client has read it)
    assert len(rows) == 5
    # in the order the answers ended, which need not be the order they were asked in
    by_call = {(row.service, row.operation, row.result): row for row in rows}
    query, unknown, inquiry, no_such_key, malformed = (by_call.get(call) for call in (
        ("/exchange", "QueryRecords", "ok"), ("/exchange", "QueryRecords", "UnknownResource"),
        ("/uddi/inquiry", "find_business", "ok"), ("/uddi/inquiry", "get_businessDetail", "E_invalidKeyPassed"),
        ("/uddi/inquiry", "", "VersionMismatch")))
    assert None not in (query, unknown, inquiry, no_such_key, malformed), sorted(by_call)
    assert (query.service, query.operation, query.result) == ("/exchange", "QueryRecords", "ok")
    assert query.department_code == "mzj" and query.resource_code == population.code
    assert (unknown.operation, unknown.result, unknown.department_code) == ("QueryRecords", "UnknownResource", "mzj")
    assert (inquiry.service, inquiry.operation, inquiry.result) == ("/uddi/inquiry", "find_business", "ok")
    assert inquiry.department_code is None  # inquiry is anonymous
    assert inquiry.response_bytes == len(found.content) and inquiry.request_bytes == len(envelope)
    assert (no_such_key.operation, no_such_key.result) == ("get_businessDetail", "E_invalidKeyPassed")
    assert (malformed.service, malformed.operation, malformed.result) == ("/uddi/inquiry", "", "VersionMismatch")
    for row in rows:
        assert before <= row.started_ms <= row.ended_ms <= after
        assert row.duration_ms == row.ended_ms - row.started_ms
        assert row.client == "127.0.0.1" and row.request_bytes > 0 and row.response_bytes > 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_orderly_stop_writes_the_queued_records_at_once(sessions):
    writer = Writer(sessions.kw["bind"], interval=3600)  # its thread would not insert for an hour
    writer.append({"service": "/exchange", "operation": "GetChanges", "started_ms": 1, "ended_ms": 3,
                   "duration_ms": 2, "result": "ok"})
    assert _records(sessions, 1, timeout=0) == []
    writer.stop()
    [row] = _records(sessions, 1, timeout=0)
    assert (row.operation, row.duration_ms, row.department_code, row.client) == ("GetChanges", 2, None, "")
