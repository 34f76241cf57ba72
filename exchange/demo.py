"""Demo records for the four base databases (四大基础数据库), submitted as batches by the
providing departments of the demo catalogue through the exchange service's own path.

Idempotent: each demo batch has a fixed id, so seeding again returns the first receipts.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from registry.db import unit_of_work
from registry.models import CatalogueEntry
from registry.settings import Settings
from xsd import samples
from xsd.batch import build_batch

from .submit import submit_document

#: resource name in the demo catalogue -> (sample generator, how many records)
DEMO_RECORDS = {
    "户籍登记信息": (samples.population_records, 500),
    "企业设立登记信息": (samples.legal_entity_records, 200),
    "地区生产总值": (samples.indicator_records, 60),
    "行政区划信息": (samples.spatial_features, 40),
}
CREATED = datetime(2024, 7, 1, 9, 0, tzinfo=UTC)
#: every n-th population record gets a wrong check digit, so the demo shows quarantine at work
DIRTY_EVERY = 50


def _with_dirt(records):
    for n, record in enumerate(records, start=1):
        id_number = record.find("{http://govshare.local/xsd/population/1.0}idNumber")
        if id_number is not None and n % DIRTY_EVERY == 0:
            id_number.text = id_number.text[:-1] + ("1" if id_number.text[-1] != "1" else "2")
        yield record


def seed_records(sessions: sessionmaker[Session], settings: Settings) -> dict[str, tuple[int, int]]:
    """Submit the demo batches; returns resource name -> (accepted, quarantined)."""
    outcome = {}
    for seed, (name, (generate, count)) in enumerate(DEMO_RECORDS.items(), start=1):
        with unit_of_work(sessions) as session:
            entry = session.scalar(select(CatalogueEntry).where(CatalogueEntry.name == name,
                                                                CatalogueEntry.status == "published"))
            if entry is None:
                continue
            batch = build_batch(_with_dirt(generate(count, seed=seed)), provider_code=entry.provider.credit_code,
                                resource_code=entry.resource_code, created=CREATED,
                                batch_id=uuid.UUID(int=seed, version=4))
            receipt = submit_document(session, batch, settings.max_batch_bytes)
        outcome[name] = (receipt.accepted, receipt.quarantined)
    return outcome
