"""What the benchmark sends: a provider department with a published population resource,
and batches of fresh 人口基础信息 records, each as the SubmitBatch envelope a department
posts and as the rows the core tier would hold::

    <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
      <ex:SubmitBatch xmlns:ex="http://govshare.local/xsd/exchange/1.0">
        <b:Batch xmlns:b="http://govshare.local/xsd/batch/1.0"><b:header>...</b:header>
          <b:records><Person xmlns="http://govshare.local/xsd/population/1.0">...</Person>...</b:records>
        </b:Batch>
      </ex:SubmitBatch>
    </soap:Body></soap:Envelope>

Every record of a run has its own ID number (one ``population_fields`` draw is sliced into
the batches) and every batch its own id, so the service never finds a record unchanged or a
batch already received.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from directory.accounts import create_user, register_department
from directory.catalogue import workflow
from directory.demo import credit_code_for
from exchange.core import jsonable
from registry.db import unit_of_work
from registry.settings import Settings
from trust.actions import Context
from trust.auth import Caller
from xsd import registry, samples
from xsd.batch import build_batch

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
EXCHANGE_NS = "http://govshare.local/xsd/exchange/1.0"
PERSON = "{%s}Person" % registry.POPULATION_NS
#: a 细目 under 101 人口: its resources hold population records
CLASSIFICATION = "101001002"


@dataclass(frozen=True)
class Resource:
    provider_code: str
    resource_code: str


@dataclass(frozen=True)
class Batch:
    """One batch of the run: the request body, the batch document inside it, and the rows
    (record key, stored fields) a raw bulk insert writes for the same records."""

    batch_id: str
    records: int
    envelope: bytes
    document: bytes
    rows: list[tuple[str, dict[str, Any]]]


def publish_population_resource(sessions: sessionmaker[Session], settings: Settings) -> Resource:
    """A provider department and its published 户籍登记信息 resource, through the catalogue workflow."""
    with unit_of_work(sessions) as session:
        provider = register_department(session, settings, code="gaj", name="临江市公安局",
                                       credit_code=credit_code_for("00250102"))
        cataloguer = Context(Caller.of_user(create_user(session, username="gaj", password="bench",
                                                        department=provider, roles=("cataloguer",)), "cli"),
                             sessions, settings)
        reviewer = Context(Caller.of_user(create_user(session, username="reviewer", password="bench", department=None,
                                                      roles=("admin", "reviewer")), "cli"), sessions, settings)
    entry = workflow.create(cataloguer, metadata={
        "classification": CLASSIFICATION, "name": "户籍登记信息", "provider_unit": "人口管理支队",
        "abstract": "户籍人口基础信息, 按公民身份号码共享。", "format_class": "接口", "format_type": "WebService",
        "items": [{"name": "公民身份号码", "data_type": "C", "length": 18},
                  {"name": "姓名", "data_type": "C", "length": 50}],
        "sharing_type": "无条件共享", "sharing_method": "接口", "update_cycle": "每日", "open_to_public": False,
        "access_point": f"{settings.base_url}/exchange",
    })
    workflow.submit(cataloguer, resource_code=entry.resource_code)
    workflow.approve(reviewer, resource_code=entry.resource_code)
    workflow.publish(reviewer, resource_code=entry.resource_code)
    return Resource(provider.credit_code, entry.resource_code)


def envelope(document: bytes) -> bytes:
    """The SOAP 1.1 request of SubmitBatch around a batch document."""
    inner = document.split(b"?>", 1)[1] if document.startswith(b"<?xml") else document
    return (f'<soap:Envelope xmlns:soap="{SOAP_ENV_NS}"><soap:Body><ex:SubmitBatch xmlns:ex="{EXCHANGE_NS}">'
            .encode() + inner + b"</ex:SubmitBatch></soap:Body></soap:Envelope>")


def batches(resource: Resource, sizes: list[int], seed: int) -> Iterator[Batch]:
    """Batches of ``sizes`` records, all records distinct across the run, built one at a time."""
    fmt = registry.lookup(PERSON)
    draw = samples.population_fields(sum(sizes), seed)
    for sequence, size in enumerate(sizes, start=1):
        fields = [{k: v for k, v in next(draw).items() if v is not None} for _ in range(size)]
        batch_id = uuid.uuid4()
        document = build_batch((fmt.encode(f) for f in fields), provider_code=resource.provider_code,
                               resource_code=resource.resource_code, created=datetime.now(UTC),
                               batch_id=batch_id, sequence_number=sequence)
        rows = [("|".join(fmt.key(f)), jsonable(f)) for f in fields]
        yield Batch(str(batch_id), size, envelope(document), document, rows)
