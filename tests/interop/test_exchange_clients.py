"""Round trips through the exchange service (/exchange?wsdl) from independent SOAP stacks,
one published resource in each of the four base databases (人口, 法人单位, 宏观经济, 空间地理):
SubmitBatch, then QueryRecords by key and GetChanges from watermark 0 give back records that
decode to exactly the fields that were sent.

zeep builds the Batch from the WSDL's own types: header values, and the records as lxml
elements in the ``xsd:any`` slot, exactly as a zeep user writes them.

PHP's SoapClient sends a batch document exactly as it was written (``SoapVar`` with
``XSD_ANYXML``): what a department with an export file does.
"""

from __future__ import annotations

import copy
import json
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import zeep
from lxml import etree

from tests.interop.exchange_fixtures import BaseResource, Parties, bases  # noqa: F401 - the fixture
from tests.interop.test_wsdl_clients import _php
from xsd.batch import build_batch, records_digest

PHP_CLIENT = Path(__file__).with_name("exchange_client.php")


def _decoded(resource: BaseResource, records) -> dict[str, dict]:
    """Records by natural key, each as its format's field dict."""
    return {resource.key(r): resource.format.decode(r) for r in records}


def _zeep_batch(client: zeep.Client, parties: Parties, resource: BaseResource) -> tuple[str, dict]:
    """A batch id and the Batch value for ``client.service.SubmitBatch``."""
    records = [copy.deepcopy(r) for r in resource.records]
    batch_id = str(uuid.uuid4())
    header = {
        "batchId": batch_id, "providerCode": parties.provider_code, "resourceCode": resource.resource_code,
        "recordType": resource.format.qname,
        "formatVersion": resource.format.version, "sequenceNumber": 1, "created": datetime.now(UTC),
        "recordCount": len(records), "digest": records_digest(records),
    }
    return batch_id, {"header": header, "records": {"_value_1": records}}


def test_zeep_round_trips_a_batch_through_each_base_database(live_server, bases):  # noqa: F811
    client = zeep.Client(f"{live_server.url}/exchange?wsdl")
    for resource in bases.resources:
        sent = _decoded(resource, resource.records)
        batch_id, batch = _zeep_batch(client, bases, resource)

        receipt = client.service.SubmitBatch(Batch=batch)
        assert (receipt.batchId, receipt.received, receipt.accepted, receipt.quarantined, receipt.duplicate) == (
            batch_id, len(sent), len(sent), 0, False), resource.base

        found = client.service.QueryRecords(requester=bases.consumer_code, resourceCode=resource.resource_code,
                                            key=list(sent))
        assert (found.total, found.pageOffset, found.more, found.source) == (len(sent), 0, False, "central"), \
            resource.base
        assert _decoded(resource, found.records._value_1) == sent, resource.base

        changes = client.service.GetChanges(requester=bases.consumer_code, resourceCode=resource.resource_code,
                                            watermark=0)
        assert [c.key for c in changes.change] == list(sent), resource.base
        assert {c.operation for c in changes.change} == {"upsert"}
        assert _decoded(resource, [c.record._value_1[0] for c in changes.change]) == sent, resource.base
        assert (changes.nextWatermark, changes.more) == (changes.change[-1].sequence, False)


def test_php_soapclient_round_trips_a_batch_through_each_base_database(live_server, bases, tmp_path):  # noqa: F811
    php = _php()
    job = {"url": live_server.url, "requester": bases.consumer_code, "resources": []}
    for resource in bases.resources:
        batch_file = tmp_path / f"{resource.base}.xml"
        batch_file.write_bytes(build_batch(resource.records, provider_code=bases.provider_code,
                                           resource_code=resource.resource_code, created=datetime.now(UTC)))
        job["resources"].append({"resourceCode": resource.resource_code, "batchFile": str(batch_file),
                                 "keys": [resource.key(r) for r in resource.records]})
    (tmp_path / "job.json").write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")

    run = subprocess.run([php, str(PHP_CLIENT), str(tmp_path / "job.json")], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)

    for resource in bases.resources:
        sent = _decoded(resource, resource.records)
        got = out[resource.resource_code]
        receipt = got["receipt"]
        assert (receipt["received"], receipt["accepted"], receipt["quarantined"], receipt["duplicate"]) == (
            len(sent), len(sent), 0, False), resource.base
        assert (got["query"]["total"], got["query"]["pageOffset"]) == (len(sent), 0)
        # SoapClient hands xsd:any content over as one XML string: the records, one after another
        records = etree.fromstring(f"<records>{got['query']['records']}</records>".encode())
        assert _decoded(resource, records) == sent, resource.base
        assert [c["key"] for c in got["changes"]] == list(sent), resource.base
        assert _decoded(resource, [etree.fromstring(c["record"].encode()) for c in got["changes"]]) == sent
