"""The client library's exchange (client.exchange) against a real server requiring WS-Security:
signed reads paged for the program, changes from a watermark kept in a state file (a program
stopped within a page sees it again), the batch status, and the platform's refusals as typed
exceptions with their code and both messages - through the library only."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from lxml import etree
from sqlalchemy import select

from client.exchange import Exchange
from client.faults import AccessRefused, InvalidRequest, NotFound, SecurityFault, UntrustedAnswer
from registry.clock import utcnow
from registry.db import unit_of_work
from registry.models import Department
from tests.exchange.conftest import EX, submit_body
from tests.trust.conftest import envelope, post, sign, world  # noqa: F401 - the fixture
from xsd import samples
from xsd.batch import build_batch

POPULATION = "{http://govshare.local/xsd/population/1.0}"


def masked(id_number: str) -> str:
    """An ID number as 民政局 reads it: 公安局 has not cleared the field for it (masking)."""
    return id_number[:6] + "*" * 8 + id_number[-4:]


def _client(world, dept=None, **kwargs) -> Exchange:  # noqa: F811
    dept = dept or world.mzj
    return Exchange(world.url, key=dept.key, cert=dept.cert, ca=world.ca_pem, **kwargs)


def _submit(world, count: int, seed: int) -> list[str]:  # noqa: F811
    """公安局 sends ``count`` more people, signed; their ID numbers."""
    people = list(samples.population_records(count, seed=seed))
    batch = build_batch(people, provider_code=world.gaj.credit_code, resource_code=world.resource,
                        created=datetime.now(UTC), batch_id=uuid.uuid4())
    reply = post(world, sign(world.gaj, envelope(submit_body(batch))))
    assert reply.status_code == 200, reply.text
    return [p.findtext(POPULATION + "idNumber") for p in people]


def test_a_signed_query_by_key_speaks_for_the_certificates_department(world):  # noqa: F811
    exchange = _client(world)
    assert exchange.requester == world.mzj.credit_code  # read from the certificate's subject
    [record] = exchange.query(world.resource, keys=[world.person_key], purpose="低保资格核查")
    assert record.type == POPULATION + "Person" and record.fields["idNumber"] == masked(world.person_key)


def test_a_filtered_query_is_paged_for_the_program(world):  # noqa: F811
    added = _submit(world, 7, seed=31)
    everyone = {masked(key) for key in (world.person_key, *added)}
    seen = [r.fields["idNumber"] for r in _client(world).query(world.resource, page_size=3)]
    assert sorted(seen) == sorted(everyone) and len(seen) == 8  # three pages, each record once


def test_changes_resume_from_the_state_file_and_a_page_left_halfway_comes_again(world, tmp_path):  # noqa: F811
    state = tmp_path / "state" / "changes.json"
    exchange = _client(world)
    first = [c.key for c in exchange.changes(world.resource, state=state, max_records=2)]
    assert first == [masked(world.person_key)]
    mark = json.loads(state.read_text())[world.resource]
    assert list(exchange.changes(world.resource, state=state)) == []  # nothing new
    added = _submit(world, 5, seed=32)
    stopped = exchange.changes(world.resource, state=state, max_records=2)
    assert next(stopped).key in {masked(key) for key in added}
    stopped.close()  # the program stops within the first page: the watermark stays
    assert json.loads(state.read_text())[world.resource] == mark
    again = list(exchange.changes(world.resource, state=state, max_records=2))
    assert sorted(c.key for c in again) == sorted(masked(key) for key in added)
    assert {c.operation for c in again} == {"upsert"}
    assert [c.sequence for c in again] == sorted(c.sequence for c in again)
    assert json.loads(state.read_text())[world.resource] > mark
    assert list(exchange.changes(world.resource, state=state)) == []


def test_the_status_of_a_batch_the_department_sent(world):  # noqa: F811
    people = list(samples.population_records(2, seed=33))
    batch_id = str(uuid.uuid4())
    batch = build_batch(people, provider_code=world.gaj.credit_code, resource_code=world.resource,
                        created=datetime.now(UTC), batch_id=uuid.UUID(batch_id))
    assert post(world, sign(world.gaj, envelope(submit_body(batch)))).status_code == 200
    status = _client(world, world.gaj).batch_status(batch_id)
    assert (status.batch_id, status.resource_code, status.received, status.accepted) == (
        batch_id, world.resource, 2, 2)
    with pytest.raises(AccessRefused) as refused:  # another department's batch
        _client(world).batch_status(batch_id)
    assert refused.value.user_message != refused.value.message


def test_refusals_are_typed_with_their_code_and_both_messages(world):  # noqa: F811
    exchange = _client(world)
    with pytest.raises(NotFound) as unknown:
        list(exchange.query("999999999/000009", keys=["x"]))
    assert unknown.value.code.startswith("Unknown") and unknown.value.user_message != unknown.value.message
    with pytest.raises(InvalidRequest) as invalid:  # zeep holds it to the WSDL before it is sent
        list(exchange.query(world.resource, keys=[str(n) for n in range(101)]))  # the contract allows 100
    assert invalid.value.code == "InvalidRequest" and "100" in invalid.value.message
    with pytest.raises(InvalidRequest) as too_long:  # the platform refuses it
        list(exchange.query(world.resource, keys=["3" * 300]))
    assert too_long.value.code == "InvalidRequest" and "255" in too_long.value.message
    assert too_long.value.user_message != too_long.value.message
    with pytest.raises(SecurityFault) as other:  # a signed request speaking for another department
        list(_client(world, requester=world.gaj.credit_code).query(world.resource, keys=[world.person_key]))
    assert other.value.code == "FailedAuthentication" and "speaks for" in other.value.message
    with unit_of_work(world.sessions) as session:
        mzj = session.scalar(select(Department).where(Department.code == "mzj"))
        mzj.status, mzj.suspended_at, mzj.suspension_reason = "suspended", utcnow(), "接入安全检查"
    with pytest.raises(SecurityFault) as suspended:
        list(exchange.query(world.resource, keys=[world.person_key]))
    assert suspended.value.code == "FailedAuthentication" and "is suspended" in suspended.value.message
    assert "暂停" in suspended.value.user_message and "接入安全检查" in suspended.value.user_message


def _export(path, people) -> None:
    """An export file as a department's system writes one: a root, and the records in it."""
    root = etree.Element("Persons")
    for person in people:
        root.append(person)
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def test_a_file_is_sent_in_batches_and_sending_it_again_takes_nothing_twice(world, tmp_path):  # noqa: F811
    people = list(samples.population_records(25, seed=34))
    keys = [p.findtext(POPULATION + "idNumber") for p in people]
    export = tmp_path / "export.xml"
    _export(export, people)
    gaj = _client(world, world.gaj)
    receipts = list(gaj.submit_file(world.resource, export, batch_size=10))
    assert [(r.received, r.accepted, r.quarantined, r.duplicate) for r in receipts] == [
        (10, 10, 0, False), (10, 10, 0, False), (5, 5, 0, False)]
    assert gaj.batch_status(receipts[0].batch_id).accepted == 10
    again = list(gaj.submit_file(world.resource, export, batch_size=10))  # after a crash, say
    assert [r.batch_id for r in again] == [r.batch_id for r in receipts] and all(r.duplicate for r in again)
    found = {r.fields["idNumber"] for r in gaj.query(world.resource, keys=keys)}  # the provider reads its own
    assert found == set(keys)


def test_a_record_the_format_refuses_is_quarantined_and_counted(world):  # noqa: F811
    people = list(samples.population_records(3, seed=35))
    people[1].find(POPULATION + "idNumber").text = "110101199001011230"  # a wrong check digit
    [receipt] = _client(world, world.gaj).submit(world.resource, people)
    assert (receipt.received, receipt.accepted, receipt.quarantined) == (3, 2, 1)
    status = _client(world, world.gaj).batch_status(receipt.batch_id)
    assert status.quarantined == 1 and status.reasons and status.reasons[0][1] == 1


def test_the_clients_namespaces_are_the_contracts():
    """The client cannot import the platform: it carries the contract's namespaces itself."""
    from client import faults
    from exchange import transport

    assert faults.EXCHANGE_NS == transport.EXCHANGE_NS


@pytest.fixture
def forger(world):  # noqa: F811
    """Something between the department and the platform: it serves the platform's WSDL (its address
    pointing at itself) and answers every call with a fault it wrote, unsigned or with its own
    signature - as a proxy rewriting answers, or an attacker, would."""
    import requests

    from tests.conftest import LiveServer, free_port

    port = free_port()
    here = f"http://127.0.0.1:{port}"
    wsdl = requests.get(f"{world.url}/exchange?wsdl", timeout=30).content.replace(
        f"{world.url}/exchange".encode(), f"{here}/exchange".encode())
    fault = (f'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>'
             f"<faultcode>soap:Client</faultcode><faultstring>NotAuthorized: apply at http://phish.example"
             f'</faultstring><detail><ExchangeFault xmlns="{EX}"><code>NotAuthorized</code>'
             f"<message>apply at http://phish.example</message></ExchangeFault></detail></soap:Fault></soap:Body>"
             "</soap:Envelope>").encode()
    answers = {"fault": fault}

    def app(environ, start_response):
        if environ["REQUEST_METHOD"] == "GET":
            start_response("200 OK", [("Content-Type", "text/xml")])
            return [wsdl]
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("500 Internal Server Error", [("Content-Type", "text/xml; charset=utf-8")])
        return [answers["fault"]]

    server = LiveServer(app, port).start()
    yield here, answers
    server.stop()


def test_a_fault_the_platform_did_not_sign_is_not_taken_for_its_word(world, forger):  # noqa: F811
    here, answers = forger
    exchange = Exchange(here, key=world.mzj.key, cert=world.mzj.cert, ca=world.ca_pem)
    with pytest.raises(UntrustedAnswer) as unsigned:
        list(exchange.query(world.resource, keys=[world.person_key]))
    assert unsigned.value.code == "ResponseNotTrusted" and "not signed" in unsigned.value.message
    assert "phish" not in str(unsigned.value) and unsigned.value.user_message.startswith("平台应答未通过签名验证")
    # signed with a certificate the platform CA issued - 公安局's, not the platform's own
    answers["fault"] = etree.tostring(sign(world.gaj, etree.fromstring(answers["fault"]), timestamp=True))
    with pytest.raises(UntrustedAnswer) as foreign:
        list(exchange.query(world.resource, keys=[world.person_key]))
    assert "CN=gaj" in foreign.value.message and "not the platform's own" in foreign.value.message
    # the platform's own answers and faults pass the same check
    with pytest.raises(NotFound):
        list(_client(world).query("999999999/000009", keys=["x"]))
