"""The three measurements of one batch: end to end over HTTP, (a) parse and validation only,
(b) a raw bulk insert of its rows.

(a) streams the batch document with ``lxml.etree.iterparse`` like the service does and, per
record, either runs the format's compiled lxml schema (``Format.schema.validate``: the
structural fast path) or ``validate_record`` (structure, decoding and the semantic rules:
checksums, division codes, dates): the work of SubmitBatch without HTTP, digest or storage.

(b) writes the batch's rows (record key, fields as the core tier stores them) with one SQLAlchemy
Core ``executemany`` into ``bench_core_record``, a table with the columns and indexes of
``core_record`` but no foreign key, and commits: the database's share of the work, without
looking up current versions, history, lineage or the input tier.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

import requests
from lxml import etree
from sqlalchemy import JSON, Boolean, Column, DateTime, Index, Integer, MetaData, String, Table, insert
from sqlalchemy.engine import Engine

from registry.clock import utcnow
from xsd import registry
from xsd.validation import validate_record

from .workload import EXCHANGE_NS, PERSON, Batch

EX = "{%s}" % EXCHANGE_NS
#: the WSGI middleware of bench.directory.server files each request's server time under this name
SCENARIO = "submit_batch"
TIMEOUT = 600.0


# -- end to end --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Receipt:
    received: int
    accepted: int
    quarantined: int
    unchanged: int


def submit(http: requests.Session, base_url: str, batch: Batch) -> tuple[float, Receipt]:
    """POST the batch's SubmitBatch envelope; the wall time of the request, and what the centre made of it."""
    started = time.perf_counter()
    reply = http.post(f"{base_url}/exchange", data=batch.envelope, timeout=TIMEOUT,
                      headers={"Content-Type": "text/xml; charset=utf-8", "X-Bench-Scenario": SCENARIO})
    seconds = time.perf_counter() - started
    root = etree.fromstring(reply.content)
    if reply.status_code != 200:
        raise RuntimeError(f"SubmitBatch failed: {root.findtext('.//faultstring')}")
    status = _status(http, base_url, batch.batch_id)
    return seconds, Receipt(int(root.findtext(f".//{EX}received")), int(root.findtext(f".//{EX}accepted")),
                            int(root.findtext(f".//{EX}quarantined")), int(status.findtext(f"{EX}unchanged")))


def _status(http: requests.Session, base_url: str, batch_id: str) -> etree._Element:
    body = (f'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
            f'<ex:GetBatchStatus xmlns:ex="{EXCHANGE_NS}"><ex:batchId>{batch_id}</ex:batchId></ex:GetBatchStatus>'
            f"</soap:Body></soap:Envelope>").encode()
    reply = http.post(f"{base_url}/exchange", data=body, timeout=TIMEOUT,
                      headers={"Content-Type": "text/xml; charset=utf-8"})
    return etree.fromstring(reply.content).find(f".//{EX}status")


# -- (a) parse and validate --------------------------------------------------------------------------

def parse_and_validate(document: bytes, *, semantic: bool) -> tuple[float, int]:
    """Seconds to stream ``document`` and validate each record; and how many records were valid."""
    fmt = registry.lookup(PERSON)
    schema = fmt.schema
    valid = 0
    started = time.perf_counter()
    for _event, record in etree.iterparse(io.BytesIO(document), events=("end",), tag=PERSON):
        if semantic:
            valid += validate_record(record, record_type=PERSON, version=fmt.version).ok
        else:
            valid += schema.validate(record)
        record.clear(keep_tail=False)
        parent = record.getparent()
        while record.getprevious() is not None:
            del parent[0]
    return time.perf_counter() - started, valid


# -- (b) raw bulk insert -----------------------------------------------------------------------------

_metadata = MetaData()
BULK_TABLE = Table(
    "bench_core_record", _metadata,
    Column("id", Integer, primary_key=True),
    Column("base", String(16)),
    Column("record_key", String(255)),
    Column("record_type", String(255)),
    Column("fields", JSON),
    Column("deleted", Boolean),
    Column("source_id", Integer),
    Column("resource_code", String(64)),
    Column("batch_id", String(36)),
    Column("effective_from", DateTime),
    Column("effective_to", DateTime),
    Index("ix_bench_core_current", "base", "record_key", "effective_to"),
    Index("ix_bench_core_resource", "resource_code", "id"),
)


def create_bulk_table(engine: Engine) -> None:
    _metadata.drop_all(engine)
    _metadata.create_all(engine)


def drop_bulk_table(engine: Engine) -> None:
    _metadata.drop_all(engine)


def bulk_insert(engine: Engine, batch: Batch, resource_code: str) -> float:
    """Seconds to insert and commit the batch's rows in one executemany."""
    now = utcnow()
    rows = [{"base": "population", "record_key": key, "record_type": PERSON, "fields": fields, "deleted": False,
             "source_id": 1, "resource_code": resource_code, "batch_id": batch.batch_id, "effective_from": now,
             "effective_to": None} for key, fields in batch.rows]
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(BULK_TABLE), rows)
    return time.perf_counter() - started
