"""A city for the portal tests, and a signed-in browser over real HTTP.

公安局 (gaj) provides 户籍人口基础信息 (有条件共享) and 人口基本信息(公开项) (无条件共享) with three
people; 民政局 (mzj) provides 婚姻登记人员信息 with the conditional resource's people at another address
(priority 50 below 公安局's 100, so 公安局's address is kept and 民政局's is lineage); 市场监管局 (scjgj)
provides 企业登记信息 (无条件共享).  Users: gaj (cataloguer, provider), mzj (consumer),
reviewer, auditor, admin; password ``pw`` for all.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import requests

from directory.accounts import create_user, register_department
from directory.demo import credit_code_for
from exchange.integration import set_priority
from exchange.submit import submit_document
from registry.db import unit_of_work
from tests.exchange.conftest import _publish, catalogued
from xsd import samples
from xsd.batch import build_batch

PASSWORD = "pw"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class City:
    conditional: str
    unconditional: str
    marriage: str
    enterprise: str
    people: list[dict] = field(default_factory=list)  # 公安局's fields of each person (有条件共享)
    public_people: list[dict] = field(default_factory=list)  # those of 人口基本信息(公开项)
    enterprises: list[dict] = field(default_factory=list)


def _load(session, settings, provider_code: str, resource: str, records) -> None:
    batch = build_batch(records, provider_code=provider_code, resource_code=resource,
                        created=datetime(2024, 7, 1, tzinfo=UTC), batch_id=uuid.uuid4())
    submit_document(session, batch, settings.max_batch_bytes)


@pytest.fixture
def city(sessions, settings) -> City:
    from xsd.registry import LEGAL_ENTITY_NS, POPULATION_NS, lookup

    person, legal_entity = lookup("{%s}Person" % POPULATION_NS), lookup("{%s}LegalEntity" % LEGAL_ENTITY_NS)
    with unit_of_work(sessions) as s:
        gaj = register_department(s, settings, code="gaj", name="临江市公安局", credit_code=credit_code_for("00250102"))
        mzj = register_department(s, settings, code="mzj", name="临江市民政局", credit_code=credit_code_for("00250103"))
        scj = register_department(s, settings, code="scjgj", name="临江市市场监督管理局",
                                  credit_code=credit_code_for("00250104"))
        sjj = register_department(s, settings, code="sjj", name="临江市数据管理局",
                                  credit_code=credit_code_for("00250101"))
        gaj_user = create_user(s, username="gaj", password=PASSWORD, department=gaj, roles=("cataloguer", "provider"))
        mzj_user = create_user(s, username="mzj", password=PASSWORD, department=mzj,
                               roles=("consumer", "cataloguer", "provider"))
        scj_user = create_user(s, username="scjgj", password=PASSWORD, department=scj, roles=("cataloguer",))
        reviewer = create_user(s, username="reviewer", password=PASSWORD, department=sjj, roles=("reviewer",))
        create_user(s, username="auditor", password=PASSWORD, department=sjj, roles=("auditor",))
        create_user(s, username="admin", password=PASSWORD, department=sjj, roles=("admin",))
        conditional = _publish(s, settings, gaj, gaj_user, reviewer, "户籍人口基础信息", "101001002", "有条件共享")
        unconditional = _publish(s, settings, gaj, gaj_user, reviewer, "人口基本信息(公开项)", "101001003")
        marriage = _publish(s, settings, mzj, mzj_user, reviewer, "婚姻登记人员信息", "101004001", "有条件共享")
        data = {"classification": "102002001", "name": "企业登记信息", "provider_unit": "登记注册处",
                "abstract": "市场主体登记信息, 按统一社会信用代码共享。", "format_class": "接口",
                "format_type": "WebService", "items": [{"name": "统一社会信用代码", "data_type": "C", "length": 18}],
                "sharing_type": "无条件共享", "sharing_method": "接口", "update_cycle": "每日", "open_to_public": True,
                "open_condition": "无条件开放", "access_point": f"{settings.base_url}/exchange"}
        enterprise = catalogued(s, settings, scj_user, reviewer, data)
        set_priority(s, "population", gaj.id, 100)
        set_priority(s, "population", mzj.id, 50)
        codes = {"gaj": gaj.credit_code, "mzj": mzj.credit_code, "scjgj": scj.credit_code}
    people = list(samples.population_fields(3, seed=501))
    public_people = list(samples.population_fields(2, seed=503))
    companies = list(samples.legal_entity_fields(2, seed=502))
    with unit_of_work(sessions) as s:
        _load(s, settings, codes["gaj"], conditional, [person.encode(p) for p in people])
        _load(s, settings, codes["gaj"], unconditional, [person.encode(p) for p in public_people])
    with unit_of_work(sessions) as s:
        moved = [{**p, "domicileAddress": "临江市滨江区民政路1号"} for p in people]
        _load(s, settings, codes["mzj"], marriage, [person.encode(p) for p in moved])
    with unit_of_work(sessions) as s:
        _load(s, settings, codes["scjgj"], enterprise, [legal_entity.encode(c) for c in companies])
    return City(conditional, unconditional, marriage, enterprise, people, public_people, companies)


class Browser:
    """A requests session that signs in to the portal and posts forms with their CSRF token."""

    def __init__(self, base: str):
        self.base = base.rstrip("/") + "/portal"
        self.http = requests.Session()
        self.csrf = ""

    def get(self, path: str, **kwargs) -> requests.Response:
        r = self.http.get(self.base + path, timeout=30, **kwargs)
        found = CSRF.search(r.text)
        if found:
            self.csrf = found.group(1)
        return r

    def post(self, path: str, data: dict | list, *, csrf: bool = True, **kwargs) -> requests.Response:
        if csrf:
            data = [*(data.items() if isinstance(data, dict) else data), ("csrf_token", self.csrf)]
        r = self.http.post(self.base + path, data=data, timeout=60, **kwargs)
        found = CSRF.search(r.text)
        if found:
            self.csrf = found.group(1)
        return r

    def login(self, username: str, password: str = PASSWORD) -> requests.Response:
        self.get("/login")
        return self.post("/login", {"username": username, "password": password})


@pytest.fixture
def browser(live_server):
    def open_as(username: str | None = None) -> Browser:
        b = Browser(live_server.url)
        if username:
            r = b.login(username)
            assert r.status_code == 200 and "退出" in r.text, r.text[:500]
        return b

    return open_as
