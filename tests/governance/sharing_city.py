"""A city for the governance tests: 公安局 provides three population resources, one of each
共享类型, with records loaded over SOAP; 民政局 and 社保局 consume (sbj-staff is 社保局's cataloguer,
gaj-consumer a consumer at 公安局); plus a reviewer and an admin.

A test module that imports ``city_fixture`` and ``exchange_fixture`` gets the ``city`` and
``exchange`` fixtures.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import requests
from lxml import etree

from directory.accounts import create_user, register_department
from directory.demo import credit_code_for
from registry.db import unit_of_work
from tests.exchange.conftest import EX, SOAP_ENV, Reply, _publish, submit_body
from xsd import samples
from xsd.batch import build_batch
from xsd.registry import POPULATION_NS

P = "{%s}" % POPULATION_NS


@dataclass
class City:
    conditional: str  # resource codes
    unconditional: str
    not_shared: str
    codes: dict[str, str]  # department code -> 统一社会信用代码
    people: dict[str, list[etree._Element]]  # resource code -> its records


@pytest.fixture(name="exchange")
def exchange_fixture(live_server):
    def send(body: str) -> Reply:
        data = f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>{body}</soap:Body></soap:Envelope>'
        r = requests.post(f"{live_server.url}/exchange", data=data.encode(),
                          headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=60)
        return Reply(r.status_code, etree.fromstring(r.content))

    return send


@pytest.fixture(name="city")
def city_fixture(sessions, settings, exchange) -> City:
    with unit_of_work(sessions) as s:
        gaj = register_department(s, settings, code="gaj", name="临江市公安局", credit_code=credit_code_for("00250102"))
        mzj = register_department(s, settings, code="mzj", name="临江市民政局", credit_code=credit_code_for("00250103"))
        sbj = register_department(s, settings, code="sbj", name="临江市人力社保局",
                                  credit_code=credit_code_for("00250104"))
        cataloguer = create_user(s, username="gaj", password="x", department=gaj, roles=("cataloguer",))
        create_user(s, username="mzj", password="x", department=mzj, roles=("consumer",))
        create_user(s, username="sbj", password="x", department=sbj, roles=("consumer",))
        create_user(s, username="sbj-staff", password="x", department=sbj, roles=("cataloguer",))
        create_user(s, username="gaj-consumer", password="x", department=gaj, roles=("consumer",))
        reviewer = create_user(s, username="reviewer", password="x", department=None, roles=("reviewer",))
        create_user(s, username="admin", password="x", department=None, roles=("admin",))
        codes = {d.code: d.credit_code for d in (gaj, mzj, sbj)}
        resources = [_publish(s, settings, gaj, cataloguer, reviewer, name, "101001002", sharing)
                     for name, sharing in (("户籍人口基础信息", "有条件共享"), ("人口基本信息(公开项)", "无条件共享"),
                                           ("涉密人员信息", "不予共享"))]
    people = {}
    for n, code in enumerate(resources):
        records = list(samples.population_records(3, seed=300 + n))
        batch = build_batch(records, provider_code=codes["gaj"], resource_code=code,
                            created=datetime(2024, 7, 1, tzinfo=UTC), batch_id=uuid.uuid4())
        reply = exchange(submit_body(batch).decode())
        assert reply.status == 200, reply.fault
        people[code] = records
    return City(*resources, codes=codes, people=people)


def query(exchange, city: City, requester: str, resource: str, inner: str = "") -> Reply:
    return exchange(f'<ex:QueryRecords xmlns:ex="{EX}"><ex:requester>{city.codes[requester]}</ex:requester>'
                    f"<ex:resourceCode>{resource}</ex:resourceCode>{inner}</ex:QueryRecords>")


def changes(exchange, city: City, requester: str, resource: str) -> Reply:
    return exchange(f'<ex:GetChanges xmlns:ex="{EX}"><ex:requester>{city.codes[requester]}</ex:requester>'
                    f"<ex:resourceCode>{resource}</ex:resourceCode></ex:GetChanges>")


def records_of(reply: Reply) -> list[dict[str, str]]:
    """Each record of a QueryRecords answer as {local name: text}."""
    return [{etree.QName(c).localname: c.text for c in r} for r in reply.payload.find(f"{{{EX}}}records")]
