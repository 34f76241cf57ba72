"""SubmitBatch and GetBatchStatus over real HTTP: counts add up, nothing is lost,
idempotent by batch id."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from lxml import etree
from sqlalchemy import func, select

from registry.models import CoreRecord, InputBatch, QuarantineRecord
from xsd import samples
from xsd.batch import build_batch

from .conftest import EX, submit_body

CREATED = datetime(2024, 7, 1, 9, 0, tzinfo=UTC)


def _batch(records, resource, batch_id=None):
    return build_batch(records, provider_code=resource.provider_code, resource_code=resource.code,
                       created=CREATED, batch_id=batch_id or uuid.uuid4())


def _bad_checksum(record: etree._Element) -> etree._Element:
    bad = etree.fromstring(etree.tostring(record))
    id_el = bad.find("{http://govshare.local/xsd/population/1.0}idNumber")
    last = id_el.text[-1]
    id_el.text = id_el.text[:-1] + ("0" if last != "0" else "1")
    return bad


def test_a_valid_batch_is_accepted_whole(exchange, population, sessions):
    reply = exchange(submit_body(_batch(samples.population_records(25, seed=1), population)))
    assert reply.status == 200, reply.fault
    counts = [reply.find(f"ex:receipt/ex:{n}") for n in ("received", "accepted", "quarantined", "duplicate")]
    assert counts == ["25", "25", "0", "false"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(CoreRecord)) == 25


def test_bad_records_are_quarantined_with_reasons_and_counts_add_up(exchange, population, sessions):
    good = list(samples.population_records(8, seed=2))
    bad = [_bad_checksum(r) for r in samples.population_records(3, seed=3)]
    malformed = etree.fromstring(etree.tostring(good[0]))
    malformed.remove(malformed[1])  # no name: a structure error
    batch = _batch(good[:4] + bad + [malformed] + good[4:], population)
    reply = exchange(submit_body(batch))
    assert reply.status == 200, reply.fault
    received, accepted, quarantined = (int(reply.find(f"ex:receipt/ex:{n}")) for n in
                                       ("received", "accepted", "quarantined"))
    assert (received, accepted, quarantined) == (12, 8, 4)
    assert received == accepted + quarantined
    batch_id = reply.find("ex:receipt/ex:batchId")
    status = exchange(f'<ex:GetBatchStatus xmlns:ex="{EX}"><ex:batchId>{batch_id}</ex:batchId></ex:GetBatchStatus>')
    reasons = {r.findtext(f"{{{EX}}}rule"): int(r.findtext(f"{{{EX}}}count"))
               for r in status.payload.iter(f"{{{EX}}}reason")}
    assert reasons["id_number.checksum"] == 3
    assert reasons["structure"] == 1
    example = next(r.findtext(f"{{{EX}}}example") for r in status.payload.iter(f"{{{EX}}}reason")
                   if r.findtext(f"{{{EX}}}rule") == "id_number.checksum")
    assert "check" in example or "校验" in example
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(QuarantineRecord)) == 4
        assert session.scalar(select(func.count()).select_from(CoreRecord)) == 8


def test_resubmitting_the_same_batch_returns_the_first_receipt(exchange, population, sessions):
    batch = _batch(samples.population_records(5, seed=4), population)
    first = exchange(submit_body(batch))
    again = exchange(submit_body(batch))
    assert again.status == 200
    assert again.find("ex:receipt/ex:receiptId") == first.find("ex:receipt/ex:receiptId")
    assert again.find("ex:receipt/ex:duplicate") == "true"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(InputBatch)) == 1
        assert session.scalar(select(func.count()).select_from(CoreRecord)) == 5


def test_the_same_batch_id_with_other_records_is_refused(exchange, population, sessions):
    batch_id = uuid.uuid4()
    exchange(submit_body(_batch(samples.population_records(5, seed=5), population, batch_id)))
    other = exchange(submit_body(_batch(samples.population_records(5, seed=6), population, batch_id)))
    assert other.status == 500 and other.code == "BatchIdConflict"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(CoreRecord)) == 5


def test_a_wrong_digest_refuses_the_batch_and_stores_nothing(exchange, population, sessions):
    batch = _batch(samples.population_records(5, seed=7), population)
    tampered = batch.replace(b"<b:recordCount>5</b:recordCount>", b"<b:recordCount>4</b:recordCount>")
    reply = exchange(submit_body(tampered))
    assert reply.code == "InvalidBatch" and "5" in reply.fault
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(InputBatch)) == 0
        assert session.scalar(select(func.count()).select_from(CoreRecord)) == 0


def test_an_unregistered_record_type_is_refused(exchange, population):
    batch = _batch(samples.population_records(2, seed=8), population)
    batch = batch.replace(b"}Person</b:recordType>", b"}Citizen</b:recordType>")
    reply = exchange(submit_body(batch))
    assert reply.code == "UnknownFormat"
    assert "Person" in reply.fault  # the message lists what is registered


def test_only_the_provider_may_submit(exchange, population):
    batch = build_batch(samples.population_records(2, seed=9), provider_code=population.consumer_code,
                        resource_code=population.code, created=CREATED)
    reply = exchange(submit_body(batch))
    assert reply.code == "NotProvider"


def test_malformed_xml_is_a_fault_and_the_service_keeps_serving(exchange, population):
    reply = exchange(b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><broken',
                     raw=True)
    assert reply.code == "MalformedXml"
    assert exchange(submit_body(_batch(samples.population_records(1, seed=10), population))).status == 200


def test_resubmitting_changed_people_creates_versions(exchange, population, sessions):
    records = list(samples.population_records(3, seed=11))
    exchange(submit_body(_batch(records, population)))
    changed = etree.fromstring(etree.tostring(records[0]))
    changed.find("{http://govshare.local/xsd/population/1.0}domicileAddress").text = "临江市江滨路1号"
    reply = exchange(submit_body(_batch([changed, records[1]], population)))
    assert reply.find("ex:receipt/ex:accepted") == "2"
    with sessions() as session:
        versions = session.scalar(select(func.count()).select_from(CoreRecord))
        current = session.scalar(select(func.count()).select_from(CoreRecord).where(CoreRecord.effective_to.is_(None)))
    assert (versions, current) == (4, 3)


def test_records_of_an_unregistered_type_are_quarantined_wherever_they_stand(exchange, population, sessions):
    good = list(samples.population_records(4, seed=12))
    foreign = [etree.fromstring(f'<c:Citizen xmlns:c="urn:example:citizen"><c:n>{i}</c:n></c:Citizen>')
               for i in range(3)]
    batch = build_batch([foreign[0], good[0], good[1], foreign[1], good[2], good[3], foreign[2]],
                        provider_code=population.provider_code, resource_code=population.code, created=CREATED,
                        record_type=good[0].tag)
    reply = exchange(submit_body(batch))
    assert reply.status == 200, reply.fault
    counts = [int(reply.find(f"ex:receipt/ex:{n}")) for n in ("received", "accepted", "quarantined")]
    assert counts == [7, 4, 3]
    with sessions() as session:
        positions = sorted(session.scalars(select(QuarantineRecord.position)))
    assert positions == [1, 4, 7]


def test_an_operation_in_a_foreign_namespace_is_unknown(exchange):
    reply = exchange('<x:SubmitBatch xmlns:x="urn:example:other"><x:anything/></x:SubmitBatch>')
    assert reply.code == "UnknownOperation"
