"""prepare_records: field dicts validated and rendered as the SubmitBatch request the input tier keeps."""

from __future__ import annotations

import hashlib
import json
import uuid
import zlib
from datetime import UTC, datetime

import pytest
from lxml import etree

from registry.errors import ExchangeError
from tests.xsd.format_samples import fields, fmt
from wsdl import soap
from xsd.batch import BATCH_NS, RECORDS, read_header, records_digest
from xsd.prepared import EXCHANGE_NS, dumps, jsonable, prepare_records


def _prepare(records: list[dict[str, object]], limit: int = 1 << 20):
    return prepare_records(records, fmt=fmt("population"), provider_code="113301000024821461",
                           resource_code="101001/000002", batch_id=uuid.uuid4(), sequence_number=3,
                           created=datetime(2024, 7, 1, tzinfo=UTC), limit=limit)


def test_the_kept_request_is_a_submit_batch_envelope_whose_records_match_the_header():
    batch = _prepare([fields("population", seed) for seed in range(3)])
    received = zlib.decompress(batch.request.compressed)
    assert hashlib.sha256(received).hexdigest() == batch.request.sha256 and len(received) == batch.request.size
    envelope = etree.fromstring(received)
    assert envelope.tag == f"{{{soap.SOAP_ENV_NS}}}Envelope"
    assert envelope.find(f"{{{soap.SOAP_ENV_NS}}}Body/{{{EXCHANGE_NS}}}SubmitBatch/{{{BATCH_NS}}}Batch") is not None
    records = list(envelope.find(f".//{RECORDS}"))
    assert read_header(envelope.find(f".//{{{BATCH_NS}}}header")) == batch.header
    assert batch.header.record_count == len(records) == 3 and records_digest(records) == batch.header.digest


def test_good_records_are_kept_as_the_core_stores_them_and_bad_ones_with_their_reasons():
    good, bad = fields("population", 0), fields("population", 1, idNumber="110101199001011230")
    batch = _prepare([good, bad])
    [(key, text)] = batch.accepted
    assert key == good["idNumber"]
    assert json.loads(text) == {name: value for name, value in jsonable(good).items() if value is not None}
    assert text == dumps(json.loads(text))  # compact, characters as they are
    [(position, _, xml, reasons)] = batch.quarantined
    assert position == 2 and xml.startswith(b"<") and reasons


def test_a_batch_larger_than_the_limit_is_refused():
    with pytest.raises(ExchangeError) as refused:
        _prepare([fields("population", 0)], limit=100)
    assert refused.value.code == "RequestTooLarge"
