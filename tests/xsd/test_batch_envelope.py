"""The batch envelope: schema-valid, self-describing, and its records digest defined exactly.

digest = hex SHA-256 over the concatenated exclusive-c14n bytes of each record element.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import datetime

import pytest
from lxml import etree

from tests.xsd.format_samples import record
from xsd import batch, samples

B = "{http://govshare.local/xsd/batch/1.0}"
PERSON = "{http://govshare.local/xsd/population/1.0}Person"
PROVIDER = samples.provider_code()


def _batch(n: int = 3, seed: int = 1) -> bytes:
    return samples.make_batch(samples.population_records(n, seed=seed), PROVIDER, "101001/000002", seed=seed)


def _records(document: bytes) -> list[etree._Element]:
    return list(etree.fromstring(document).find(B + "records"))


def _header(document: bytes) -> batch.BatchHeader:
    return batch.read_header(etree.fromstring(document).find(B + "header"))


def test_built_batch_is_valid_against_batch_xsd() -> None:
    assert batch.schema().validate(etree.fromstring(_batch()))


def test_header_describes_the_records() -> None:
    header = _header(_batch(4))
    assert header.record_type == PERSON
    assert header.format_version == "1.0"
    assert header.record_count == 4
    assert header.provider_code == PROVIDER
    assert header.resource_code == "101001/000002"


def test_header_digest_is_the_sha256_of_the_canonical_records() -> None:
    document = _batch(5)
    expected = hashlib.sha256(b"".join(etree.tostring(r, method="c14n", exclusive=True)
                                       for r in _records(document))).hexdigest()
    assert _header(document).digest == expected


def test_digest_can_be_checked_while_streaming() -> None:
    document = _batch(20)
    digest = batch.RecordsDigest()
    for _event, element in etree.iterparse(io.BytesIO(document), tag=PERSON):
        digest.update(element)
        element.clear()
    assert (digest.count, digest.hexdigest()) == (20, _header(document).digest)


def test_changing_one_record_changes_the_digest() -> None:
    records = _records(_batch(3))
    before = batch.records_digest(records)
    records[1].find("{http://govshare.local/xsd/population/1.0}name").text += "一"
    assert batch.records_digest(records) != before


def test_record_order_is_part_of_the_digest() -> None:
    records = _records(_batch(3))
    assert batch.records_digest(records) != batch.records_digest(reversed(records))


def _person_batch(records_xml: str, root_ns: str = "") -> list[etree._Element]:
    document = f"<b:Batch xmlns:b='http://govshare.local/xsd/batch/1.0' {root_ns}><b:records>{records_xml}" \
               "</b:records></b:Batch>"
    return list(etree.fromstring(document).find(B + "records"))


P = "xmlns:p='http://govshare.local/xsd/population/1.0'"


def test_digest_ignores_where_namespaces_are_declared_and_attribute_order() -> None:
    declared_on_record = _person_batch(f"<p:Person {P} a='1' b='2'><p:name>张伟</p:name></p:Person>")
    declared_on_root = _person_batch("<p:Person b=\"2\" a=\"1\"><p:name>张伟</p:name></p:Person>", P)
    assert batch.records_digest(declared_on_record) == batch.records_digest(declared_on_root)


def test_digest_ignores_whitespace_between_records_and_comments() -> None:
    tight = _person_batch("<p:Person><p:name>张伟</p:name></p:Person><p:Person/>", P)
    loose = _person_batch("\n  <p:Person><p:name>张伟<!-- checked --></p:name></p:Person>\n"
                          "  <p:Person></p:Person>\n", P)
    assert batch.records_digest(tight) == batch.records_digest(loose)


def test_digest_depends_on_whitespace_inside_a_record() -> None:
    tight = _person_batch("<p:Person><p:name>张伟</p:name></p:Person>", P)
    indented = _person_batch("<p:Person>\n  <p:name>张伟</p:name>\n</p:Person>", P)
    assert batch.records_digest(tight) != batch.records_digest(indented)


def test_digest_depends_on_the_namespace_prefix() -> None:
    prefixed = _person_batch("<p:Person><p:name>张伟</p:name></p:Person>", P)
    default = _person_batch("<Person xmlns='http://govshare.local/xsd/population/1.0'><name>张伟</name></Person>")
    assert batch.records_digest(prefixed) != batch.records_digest(default)


def test_building_a_batch_copies_the_records() -> None:
    records = list(samples.population_records(2, seed=3))
    samples.make_batch(records, PROVIDER, "101001/000002")
    assert all(r.getparent() is None for r in records)


def test_empty_batch_has_the_digest_of_no_bytes() -> None:
    document = batch.build_batch([], provider_code=PROVIDER, resource_code="101001/000002",
                                 created=datetime(2024, 6, 30, 18, 0), record_type=PERSON)
    header = _header(document)
    assert (header.record_count, header.digest) == (0, hashlib.sha256(b"").hexdigest())
    assert batch.schema().validate(etree.fromstring(document))


def test_empty_batch_without_a_record_type_is_refused() -> None:
    with pytest.raises(ValueError, match="record_type"):
        batch.build_batch([], provider_code=PROVIDER, resource_code="101001/000002", created=datetime(2024, 1, 1))


def test_header_reads_the_record_type_in_clark_notation() -> None:
    header = etree.fromstring(
        f"<b:header xmlns:b='http://govshare.local/xsd/batch/1.0' {P}><b:batchId>{uuid.UUID(int=1)}</b:batchId>"
        f"<b:providerCode>{PROVIDER}</b:providerCode><b:resourceCode>101001/000002</b:resourceCode>"
        f"<b:recordType>{PERSON}</b:recordType><b:formatVersion>1.0</b:formatVersion>"
        "<b:sequenceNumber>7</b:sequenceNumber><b:created>2024-06-30T18:00:00+08:00</b:created>"
        f"<b:recordCount>0</b:recordCount><b:digest>{'0' * 64}</b:digest></b:header>")
    read = batch.read_header(header)
    assert (read.record_type, read.sequence_number, read.batch_id) == (PERSON, 7, uuid.UUID(int=1))


def test_batch_schema_refuses_a_header_without_digest() -> None:
    root = etree.fromstring(_batch(1))
    header = root.find(B + "header")
    header.remove(header.find(B + "digest"))
    assert not batch.schema().validate(root)


def test_records_of_the_batch_namespace_are_refused() -> None:
    root = etree.fromstring(_batch(1))
    etree.SubElement(root.find(B + "records"), B + "header")
    assert not batch.schema().validate(root)


def test_a_record_in_a_batch_is_still_a_valid_record() -> None:
    root = etree.fromstring(samples.make_batch([record("population")], PROVIDER, "101001/000002"))
    assert root.find(B + "records")[0].tag == PERSON


def test_records_keep_their_own_serialisation_inside_the_batch() -> None:
    records = list(samples.population_records(3, seed=4))
    assert _header(samples.make_batch(records, PROVIDER, "101001/000002")).digest == batch.records_digest(records)
