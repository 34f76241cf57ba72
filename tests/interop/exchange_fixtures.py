"""Fixtures for round trips through the exchange service: one published resource in each of
the four base databases (基础数据库), all provided by one department, and a second department
that consumes them, with a few valid sample records for each.

Import the fixture into a test module (``from tests.interop.exchange_fixtures import bases``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import pytest
from lxml import etree

from directory.accounts import create_user, register_department
from directory.demo import credit_code_for
from governance.sharing import grant
from registry.db import unit_of_work
from tests.conftest import as_user
from tests.exchange.conftest import catalogued
from xsd import registry, samples
from xsd.registry import Format

#: records sent per base database in one round trip
RECORDS_PER_BASE = 3


@dataclass(frozen=True)
class BaseSpec:
    """How to catalogue a resource of one base database and make sample records for it."""

    base: str
    classification: str  # a 细目 under the base's 项 (101 人口, 102 法人单位, 106 宏观经济, 103 空间地理)
    name: str
    items: tuple[tuple[str, str, int | None], ...]  # 信息项: (name, data type, length)
    record_type: str
    make: Callable[[int, int], Iterator[etree._Element]]


SPECS = (
    BaseSpec("population", "101001002", "户籍登记信息",
             (("公民身份号码", "C", 18), ("姓名", "C", 50), ("出生日期", "D", None)),
             "{%s}Person" % registry.POPULATION_NS, samples.population_records),
    BaseSpec("legal_entity", "102001001", "统一社会信用代码信息",
             (("统一社会信用代码", "C", 18), ("单位名称", "C", 200), ("成立日期", "D", None)),
             "{%s}LegalEntity" % registry.LEGAL_ENTITY_NS, samples.legal_entity_records),
    BaseSpec("macro_economy", "106001001", "地区生产总值",
             (("指标代码", "C", 10), ("行政区划代码", "C", 6), ("统计期", "C", 10), ("指标值", "N", 20)),
             "{%s}Indicator" % registry.MACRO_ECONOMY_NS, samples.indicator_records),
    BaseSpec("spatial", "103006", "地名地址信息",
             (("要素标识", "C", 40), ("名称", "C", 200), ("几何", "M", None)),
             "{%s}Feature" % registry.SPATIAL_NS, samples.spatial_features),
)


@dataclass(frozen=True)
class BaseResource:
    """A published resource of one base database and the records a round trip sends to it."""

    base: str
    resource_code: str
    format: Format
    records: tuple[etree._Element, ...]

    def key(self, record: etree._Element) -> str:
        """The natural key QueryRecords takes: the key fields joined by ``|``."""
        return "|".join(self.format.key(self.format.decode(record)))


@dataclass(frozen=True)
class Parties:
    """The providing department, a consuming department and one resource per base database."""

    provider_code: str
    consumer_code: str
    resources: tuple[BaseResource, ...]


def _catalogue_data(spec: BaseSpec, service: str) -> dict:
    return {
        "classification": spec.classification, "name": spec.name, "provider_unit": "数据资源处",
        "abstract": f"{spec.name}, 按标准交换格式 {etree.QName(spec.record_type).localname} 共享。",
        "format_class": "接口", "format_type": "WebService",
        "items": [{"name": name, "data_type": data_type, **({"length": length} if length else {})}
                  for name, data_type, length in spec.items],
        "sharing_type": "无条件共享", "sharing_method": "接口", "update_cycle": "每日", "open_to_public": False,
        "access_point": service,
    }


@pytest.fixture
def bases(sessions, settings) -> Parties:
    """Four resources (one per base database) published by 临江市大数据管理局 through the
    catalogue workflow (编目 -> 审核 -> 发布); 临江市民政局 is registered as a consumer."""
    with unit_of_work(sessions) as session:
        provider = register_department(session, settings, code="dsj", name="临江市大数据管理局",
                                       credit_code=credit_code_for("00250110"))
        consumer = register_department(session, settings, code="mzj", name="临江市民政局",
                                       credit_code=credit_code_for("00250103"))
        cataloguer = create_user(session, username="dsj", password="x", department=provider, roles=("cataloguer",))
        reviewer = create_user(session, username="reviewer", password="x", department=None,
                               roles=("admin", "reviewer"))
        resources = []
        for seed, spec in enumerate(SPECS, start=1):
            code = catalogued(session, settings, cataloguer, reviewer,
                              _catalogue_data(spec, f"{settings.base_url}/exchange"))
            resources.append(BaseResource(spec.base, code, registry.lookup(spec.record_type),
                                          tuple(spec.make(RECORDS_PER_BASE, seed))))
            if spec.base == "population":  # the round trip compares records whole: ID numbers in clear
                grant(as_user(sessions, replace(settings, audit=False), "dsj"), resource_code=code,
                      consumer_code="mzj", clear=["idNumber"])
        return Parties(provider.credit_code, consumer.credit_code, tuple(resources))
