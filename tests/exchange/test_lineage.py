"""The core integrates: a person known to two departments is one record, the newer value is
current, and where the sources disagree both values are kept with their sources."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from lxml import etree
from sqlalchemy import select

from directory.accounts import find_user
from exchange.core import history_of, lineage_of
from registry.db import unit_of_work
from registry.models import CatalogueEntry, Department
from xsd import samples
from xsd.batch import build_batch
from xsd.registry import POPULATION_NS

from .conftest import EX, _publish, submit_body

P = "{%s}" % POPULATION_NS


def test_two_sources_disagreeing_keep_both_values_with_their_sources(exchange, population, sessions, settings):
    with unit_of_work(sessions) as session:
        mzj = session.scalar(select(Department).where(Department.code == "mzj"))
        civil_code = _publish(session, settings, mzj, find_user(session, "mzj"), find_user(session, "reviewer"),
                              "低保对象人口信息", "101007")
    person = next(samples.population_records(1, seed=41))
    police_batch = build_batch([person], provider_code=population.provider_code, resource_code=population.code,
                               created=datetime(2024, 7, 1, tzinfo=UTC), batch_id=uuid.uuid4())
    assert exchange(submit_body(police_batch)).status == 200
    moved = etree.fromstring(etree.tostring(person))
    moved.find(P + "domicileAddress").text = "临江市民政路88号"
    civil_batch = build_batch([moved], provider_code=population.consumer_code, resource_code=civil_code,
                              created=datetime(2024, 7, 2, tzinfo=UTC), batch_id=uuid.uuid4())
    assert exchange(submit_body(civil_batch)).status == 200

    key = person.findtext(P + "idNumber")
    with sessions() as session:
        versions = history_of(session, "population", key)
        lineage = lineage_of(session, "population", key)
        sources = {d.id: d.code for d in session.scalars(select(Department))}
        police_resource = session.scalar(select(CatalogueEntry).where(CatalogueEntry.resource_code == population.code))
    assert [(sources[v.source_id], v.effective_to is None) for v in versions] == [("gaj", False), ("mzj", True)]
    assert {(entry.field, entry.value, sources[entry.source_id]) for entry in lineage} == {
        ("domicileAddress", person.findtext(P + "domicileAddress"), "gaj"),
        ("domicileAddress", "临江市民政路88号", "mzj"),
    }
    # 公安局's resource shows the integrated record: the newer address, from 民政局
    reply = exchange(f'<ex:QueryRecords xmlns:ex="{EX}"><ex:requester>{population.consumer_code}</ex:requester>'
                     f"<ex:resourceCode>{police_resource.resource_code}</ex:resourceCode><ex:key>{key}</ex:key>"
                     "</ex:QueryRecords>")
    [record] = reply.payload.find(f"{{{EX}}}records")
    assert record.findtext(P + "domicileAddress") == "临江市民政路88号"
