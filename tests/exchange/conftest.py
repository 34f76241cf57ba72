"""Fixtures for the exchange tests: a provider department with a published population
resource, and a helper that posts SOAP messages to /exchange."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
import requests
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from directory.accounts import create_user, register_department
from directory.catalogue import workflow
from directory.demo import credit_code_for
from governance.sharing import grant
from registry.db import unit_of_work
from registry.models import Department
from tests.conftest import as_user
from trust.actions import Context
from trust.auth import Caller

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
EX = "http://govshare.local/xsd/exchange/1.0"
NS = {"soap": SOAP_ENV, "ex": EX}


@dataclass
class Resource:
    code: str
    provider_code: str
    consumer_code: str


def catalogued(session, settings, cataloguer, reviewer, metadata: dict) -> str:
    """The 资源代码 of an entry ``cataloguer`` catalogues and submits and ``reviewer`` approves and publishes
    (accounts loaded in ``session``), through the catalogue's actions.  What ``session`` did so far is
    committed first: each action works in a unit of work of its own, which must see it.  The setting-up
    is left out of the audit log (GOVSHARE_AUDIT=0 for these actions), which the tests read as theirs."""
    session.commit()
    sessions = sessionmaker(session.get_bind(), expire_on_commit=False)
    quiet = replace(settings, audit=False)
    cataloguing = Context(Caller.of_user(cataloguer, "cli"), sessions, quiet)
    reviewing = Context(Caller.of_user(reviewer, "cli"), sessions, quiet)
    code = workflow.create(cataloguing, metadata=metadata).resource_code
    workflow.submit(cataloguing, resource_code=code)
    workflow.approve(reviewing, resource_code=code)
    workflow.publish(reviewing, resource_code=code)
    return code


def _publish(session, settings, dept, user, reviewer, name, classification, sharing="无条件共享") -> str:
    data = {
        "classification": classification, "name": name, "provider_unit": "人口管理支队",
        "abstract": f"{name}, 按公民身份号码共享。", "format_class": "接口", "format_type": "WebService",
        "items": [{"name": "公民身份号码", "data_type": "C", "length": 18}, {"name": "姓名", "data_type": "C",
                                                                        "length": 50}],
        "sharing_type": sharing, "sharing_method": "接口", "update_cycle": "每日", "open_to_public": False,
        "access_point": f"{settings.base_url}/exchange",  # the centre holds the records: its exchange service
    }
    if sharing == "有条件共享":
        data["sharing_condition"] = "仅限办理户籍业务使用"
    if sharing == "不予共享":
        data.pop("sharing_method")
        data["not_shared_basis"] = "《保守国家秘密法》"
    return catalogued(session, settings, user, reviewer, data)


def another_of_gaj(sessions, settings, name: str, sharing: str, suffix: str) -> str:
    """The 资源代码 of one more 人口 resource of 公安局 (``population``'s provider), catalogued by a user
    ``gaj-<suffix>`` and published by a reviewer ``reviewer-<suffix>``, both made for it."""
    with unit_of_work(sessions) as session:
        gaj = session.scalar(select(Department).where(Department.code == "gaj"))
        user = create_user(session, username=f"gaj-{suffix}", password="x", department=gaj, roles=("cataloguer",))
        reviewer = create_user(session, username=f"reviewer-{suffix}", password="x", department=None,
                               roles=("admin", "reviewer"))
        return _publish(session, settings, gaj, user, reviewer, name, "101001002", sharing=sharing)


@pytest.fixture
def population(sessions, settings) -> Resource:
    with unit_of_work(sessions) as session:
        gaj = register_department(session, settings, code="gaj", name="临江市公安局",
                                  credit_code=credit_code_for("00250102"))
        mzj = register_department(session, settings, code="mzj", name="临江市民政局",
                                  credit_code=credit_code_for("00250103"))
        user = create_user(session, username="gaj", password="x", department=gaj, roles=("cataloguer",))
        create_user(session, username="mzj", password="x", department=mzj, roles=("cataloguer",))
        reviewer = create_user(session, username="reviewer", password="x", department=None,
                               roles=("admin", "reviewer"))
        code = _publish(session, settings, gaj, user, reviewer, "户籍人口基础信息", "101001002")
    # 民政局 checks citizens by ID number, so 公安局 shows it them unmasked (masking: tests/security)
    grant(as_user(sessions, settings, "gaj"), resource_code=code, consumer_code="mzj", clear=["idNumber"])
    return Resource(code, gaj.credit_code, mzj.credit_code)


@dataclass
class Reply:
    status: int
    root: etree._Element

    @property
    def payload(self) -> etree._Element:
        return self.root.find(f"{{{SOAP_ENV}}}Body")[0]

    @property
    def code(self) -> str | None:
        return self.root.findtext(".//ex:ExchangeFault/ex:code", namespaces=NS)

    @property
    def fault(self) -> str:
        return self.root.findtext(".//faultstring") or ""

    def find(self, path: str) -> str | None:
        return self.payload.findtext(path, namespaces=NS)


@pytest.fixture
def exchange(live_server):
    def send(body: bytes | str, *, raw: bool = False) -> Reply:
        if isinstance(body, str):
            body = body.encode("utf-8")
        data = body if raw else (
            f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>'.encode() + body + b"</soap:Body></soap:Envelope>")
        r = requests.post(f"{live_server.url}/exchange", data=data,
                          headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=120)
        return Reply(r.status_code, etree.fromstring(r.content))

    return send


def submit_body(batch: bytes) -> bytes:
    """A SubmitBatch operation element around a batch document."""
    inner = batch.split(b"?>", 1)[-1] if batch.startswith(b"<?xml") else batch
    return f'<ex:SubmitBatch xmlns:ex="{EX}">'.encode() + inner + b"</ex:SubmitBatch>"
