"""The benchmark's directory: 500 departments and 100,000 sharing interfaces (businessServices).

Every service carries what the catalogue publishes for a resource::

    <businessService xmlns="urn:uddi-org:api_v3" businessKey="uddi:sc-gaj.govshare.local:business"
                     serviceKey="uddi:govshare.local:5f0c...">
      <name xml:lang="zh-CN">公民身份信息核验接口（上城区公安局·017）</name>
      <description xml:lang="zh-CN">上城区公安局提供的公民身份信息核验接口，每日更新。</description>
      <categoryBag>
        <keyedReference tModelKey="uddi:govshare:categorization:classification"
                        keyName="公民身份信息" keyValue="101001001"/>
        <keyedReference tModelKey="uddi:govshare:categorization:sharing-type"
                        keyName="共享类型" keyValue="无条件共享"/>
        <keyedReference tModelKey="uddi:govshare:categorization:update-cycle"
                        keyName="更新周期" keyValue="每日"/>
        <keyedReference tModelKey="uddi:govshare:identifier:resource-code"
                        keyName="资源代码" keyValue="101001001/000017"/>
      </categoryBag>
    </businessService>

Departments are registered through ``directory.accounts.register_department`` and a sample
of services is saved through ``directory.uddi.publication.publish_entity``, the real paths.
The bulk of the services is inserted with SQLAlchemy Core ``executemany``: the rows are
built with the same functions ``store.put`` uses, and ``check_shape`` proves them equal,
column for column, to the rows the real path stored for the same input.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from lxml import etree
from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker
from stdnum.cn import uscc

from directory.accounts import register_department
from directory.catalogue.classification import _tree
from directory.taxonomies import CLASSIFICATION, RESOURCE_CODE, SHARING_TYPE, UPDATE_CYCLE, UPDATE_CYCLES
from directory.uddi import store
from directory.uddi.publication import publish_entity
from registry.clock import utcnow
from registry.db import unit_of_work
from registry.models import Department, UddiEntity, UddiKeyedReference, UddiName
from registry.settings import Settings

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

DISTRICTS = (
    ("city", "市", "00"), ("sc", "上城区", "02"), ("gs", "拱墅区", "05"), ("xh", "西湖区", "06"),
    ("bj", "滨江区", "08"), ("xs", "萧山区", "09"), ("yh", "余杭区", "10"), ("fy", "富阳区", "11"),
    ("la", "临安区", "12"), ("lp", "临平区", "13"), ("qt", "钱塘区", "14"), ("tl", "桐庐县", "22"),
    ("ca", "淳安县", "27"), ("jd", "建德市", "82"), ("kf", "开发区", "90"), ("gx", "高新区", "91"),
    ("jj", "经济区", "92"), ("dj", "东郊新区", "93"), ("xj", "西郊新区", "94"), ("bg", "北港新区", "95"),
)
DEPARTMENT_TYPES = (
    ("gaj", "公安局"), ("mzj", "民政局"), ("scjg", "市场监督管理局"), ("tjj", "统计局"),
    ("zrzy", "自然资源和规划局"), ("rsj", "人力资源和社会保障局"), ("wjw", "卫生健康委员会"), ("jyj", "教育局"),
    ("swj", "税务局"), ("czj", "财政局"), ("sfj", "司法局"), ("zjj", "住房和城乡建设局"),
    ("jtj", "交通运输局"), ("slj", "水利局"), ("nyj", "农业农村局"), ("sthj", "生态环境局"),
    ("whj", "文化广电旅游局"), ("yjj", "应急管理局"), ("ybj", "医疗保障局"), ("sjj", "审计局"),
    ("fgw", "发展和改革委员会"), ("jxj", "经济和信息化局"), ("swgl", "商务局"), ("tyjr", "退役军人事务局"),
    ("sjzy", "数据资源管理局"),
)
ACTIONS = ("查询", "核验", "比对", "订阅", "下载", "统计")
# 无条件共享 / 有条件共享 / 不予共享, weighted as catalogues usually are.
SHARING_WEIGHTS = (("无条件共享", 6), ("有条件共享", 3), ("不予共享", 1))


@dataclass(frozen=True)
class DepartmentSpec:
    code: str
    name: str
    division_code: str
    credit_code: str


@dataclass(frozen=True)
class ServiceSpec:
    """One sharing interface: what the catalogue would publish for one resource."""

    department: int  # index into the department list
    name: str
    description: str
    class_code: str
    class_name: str
    sharing_type: str
    update_cycle: str
    resource_code: str
    modified: datetime


def _organisation_code(rng: random.Random) -> str:
    """A GB 11714 organisation code: eight characters and its check character."""
    body = "".join(rng.choice("0123456789") for _ in range(8))
    total = sum(int(c) * w for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    check = 11 - total % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def departments(count: int, rng: random.Random) -> list[DepartmentSpec]:
    """``count`` departments of a city and its districts, with valid credit codes (GB 32100)."""
    out: list[DepartmentSpec] = []
    for i in range(count):
        dcode, dname, division = DISTRICTS[i // len(DEPARTMENT_TYPES) % len(DISTRICTS)]
        tcode, tname = DEPARTMENT_TYPES[i % len(DEPARTMENT_TYPES)]
        rounds = i // (len(DISTRICTS) * len(DEPARTMENT_TYPES))
        suffix = f"{rounds + 1}" if rounds else ""
        first17 = "11" + "3301" + division + _organisation_code(rng)
        credit = first17 + uscc.calc_check_digit(first17)
        out.append(DepartmentSpec(code=f"{dcode}-{tcode}{suffix}", name=f"{dname}{tname}{suffix}",
                                  division_code="3301" + division, credit_code=credit))
    return out


def services(count: int, depts: list[DepartmentSpec], rng: random.Random) -> list[ServiceSpec]:
    """``count`` services spread evenly over ``depts``, over the leaf classifications."""
    leaves = [node for node in _tree().values() if node.is_leaf]
    sharing = [value for value, weight in SHARING_WEIGHTS for _ in range(weight)]
    sequence: dict[str, int] = {}
    per_department: dict[int, int] = {}
    now = utcnow()
    names = [d.name for d in depts]
    out: list[ServiceSpec] = []
    for i in range(count):
        dept = i % len(depts)
        leaf = rng.choice(leaves)
        action = rng.choice(ACTIONS)
        cycle = rng.choice(UPDATE_CYCLES)
        sequence[leaf.code] = sequence.get(leaf.code, 0) + 1
        per_department[dept] = per_department.get(dept, 0) + 1
        name = f"{leaf.name}{action}接口（{names[dept]}·{per_department[dept]:03d}）"
        out.append(ServiceSpec(
            department=dept, name=name,
            description=f"{names[dept]}提供的{leaf.name}{action}接口，{cycle}更新。",
            class_code=leaf.code, class_name=leaf.name, sharing_type=rng.choice(sharing), update_cycle=cycle,
            resource_code=f"{leaf.code}/{sequence[leaf.code]:06d}",
            modified=now - timedelta(seconds=rng.randrange(365 * 86400)),
        ))
    return out


def service_element(spec: ServiceSpec, business_key: str) -> etree._Element:
    """The businessService a publisher sends in save_service for ``spec`` (no serviceKey yet)."""
    el = store.fresh("businessService", {"businessKey": business_key})
    store.sub(el, "name", {XML_LANG: "zh-CN"}, spec.name)
    store.sub(el, "description", {XML_LANG: "zh-CN"}, spec.description)
    bag = store.sub(el, "categoryBag")
    for tkey, kname, value in (
        (CLASSIFICATION, spec.class_name, spec.class_code),
        (SHARING_TYPE, "共享类型", spec.sharing_type),
        (UPDATE_CYCLE, "更新周期", spec.update_cycle),
        (RESOURCE_CODE, "资源代码", spec.resource_code),
    ):
        store.sub(bag, "keyedReference", {"tModelKey": tkey, "keyName": kname, "keyValue": value})
    return el


@dataclass
class Rows:
    entities: list[dict]
    names: list[dict]
    refs: list[dict]


def service_rows(spec: ServiceSpec, key: str, business_key: str, owner_id: int, authorized_name: str) -> Rows:
    """The rows ``store.put`` writes when ``spec`` is saved under ``key`` (see check_shape)."""
    el = service_element(spec, business_key)
    el.set("serviceKey", key)
    index = store.extract_index("service", el)
    sort_name = index.names[0][1] if index.names else ""
    entity = dict(key=key, kind="service", parent_key=business_key, owner_id=owner_id,
                  authorized_name=authorized_name, xml=etree.tostring(el, encoding="unicode"),
                  sort_name=sort_name[:255], deleted=False, created=spec.modified, modified=spec.modified,
                  modified_including_children=spec.modified)
    names = [dict(entity_key=key, kind="service", lang=lang.lower(), value=value[:255], folded=value.casefold()[:255],
                  sort_name=sort_name[:255]) for lang, value in index.names]
    refs = [dict(entity_key=key, kind="service", bag=bag, group_tmodel_key=group, tmodel_key=tkey,
                 key_name=kname[:255], key_value=kvalue[:255], sort_name=sort_name[:255])
            for bag, group, tkey, kname, kvalue in index.refs]
    return Rows([entity], names, refs)


def service_key(rng: random.Random, settings: Settings) -> str:
    """A generated key, as ``keys.generate`` makes them, but reproducible from the seed."""
    return f"uddi:{settings.node_domain}:{uuid.UUID(int=rng.getrandbits(128), version=4)}"


def register_departments(sessions: sessionmaker[Session], settings: Settings,
                         specs: list[DepartmentSpec]) -> list[Department]:
    with unit_of_work(sessions) as session:
        return [register_department(session, settings, code=d.code, name=d.name, credit_code=d.credit_code,
                                    division_code=d.division_code, description=f"{d.name}（政务信息资源提供方）")
                for d in specs]


def publish_sample(sessions: sessionmaker[Session], settings: Settings, depts: list[Department],
                   specs: list[ServiceSpec]) -> list[str]:
    """Save ``specs`` through the publication API's own action; their generated keys."""
    keys: list[str] = []
    with unit_of_work(sessions) as session:
        for spec in specs:
            dept = session.get(Department, depts[spec.department].id)
            saved = publish_entity(session, settings, "service", service_element(spec, dept.business_key),
                                   department=dept, authorized_name=dept.code)
            keys.append(saved.get("serviceKey"))
    return keys


_ENTITY_COLUMNS = ("key", "kind", "parent_key", "owner_id", "authorized_name", "xml", "sort_name", "deleted")
_NAME_COLUMNS = ("entity_key", "kind", "lang", "value", "folded", "sort_name")
_REF_COLUMNS = ("entity_key", "kind", "bag", "group_tmodel_key", "tmodel_key", "key_name", "key_value", "sort_name")


def stored_rows(session: Session, key: str) -> tuple[tuple, list[tuple], list[tuple]]:
    """What the database holds for one service, without surrogate ids and clocks."""
    entity = session.execute(select(*(getattr(UddiEntity, c) for c in _ENTITY_COLUMNS))
                             .where(UddiEntity.key == key)).one()
    names = session.execute(select(*(getattr(UddiName, c) for c in _NAME_COLUMNS))
                            .where(UddiName.entity_key == key).order_by(UddiName.id)).all()
    refs = session.execute(select(*(getattr(UddiKeyedReference, c) for c in _REF_COLUMNS))
                           .where(UddiKeyedReference.entity_key == key).order_by(UddiKeyedReference.id)).all()
    return tuple(entity), [tuple(r) for r in names], [tuple(r) for r in refs]


def check_shape(sessions: sessionmaker[Session], depts: list[Department], specs: list[ServiceSpec],
                keys: list[str]) -> None:
    """Fail unless the bulk builder yields exactly the rows publish_entity stored for the sample."""
    with unit_of_work(sessions) as session:
        for spec, key in zip(specs, keys, strict=True):
            dept = depts[spec.department]
            built = service_rows(spec, key, dept.business_key, dept.id, dept.code)
            expected = (
                tuple(built.entities[0][c] for c in _ENTITY_COLUMNS),
                [tuple(r[c] for c in _NAME_COLUMNS) for r in built.names],
                [tuple(r[c] for c in _REF_COLUMNS) for r in built.refs],
            )
            actual = stored_rows(session, key)
            if actual != expected:
                raise AssertionError(f"bulk rows differ from the published rows of {key}:\n"
                                     f"published: {actual}\nbulk:      {expected}")


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def bulk_insert(sessions: sessionmaker[Session], settings: Settings, depts: list[Department],
                specs: list[ServiceSpec], rng: random.Random, chunk: int = 5000) -> None:
    """Insert ``specs`` with Core executemany, ``chunk`` services per transaction."""
    engine = sessions.kw["bind"]
    for part in _chunks(specs, chunk):
        rows = Rows([], [], [])
        for spec in part:
            dept = depts[spec.department]
            built = service_rows(spec, service_key(rng, settings), dept.business_key, dept.id, dept.code)
            rows.entities += built.entities
            rows.names += built.names
            rows.refs += built.refs
        with engine.begin() as conn:
            conn.execute(insert(UddiEntity.__table__), rows.entities)
            conn.execute(insert(UddiName.__table__), rows.names)
            conn.execute(insert(UddiKeyedReference.__table__), rows.refs)
    latest = max(spec.modified for spec in specs) if specs else utcnow()
    with engine.begin() as conn:
        conn.execute(update(UddiEntity.__table__).where(UddiEntity.kind == "business")
                     .values(modified_including_children=latest))
    if engine.dialect.name == "postgresql":
        # What autovacuum does soon after a load this size: statistics for the planner and a
        # visibility map for index-only scans.  A directory filled over months has both.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


@dataclass
class Directory:
    """What was loaded, for the traffic to ask about."""

    departments: list[DepartmentSpec]
    services: list[ServiceSpec]
    published: int  # through publish_entity
    bulk: int  # through executemany
    seconds: float


def load(sessions: sessionmaker[Session], settings: Settings, *, service_count: int, business_count: int,
         sample: int, seed: int) -> Directory:
    """Register the departments, publish a sample, check the bulk rows against it, bulk-load the rest."""
    started = time.perf_counter()
    rng = random.Random(seed)
    dept_specs = departments(business_count, rng)
    specs = services(service_count, dept_specs, rng)
    depts = register_departments(sessions, settings, dept_specs)
    step = max(1, len(specs) // max(1, sample))
    sampled = set(range(0, len(specs), step)[:sample])
    sample_specs = [specs[i] for i in sorted(sampled)]
    keys = publish_sample(sessions, settings, depts, sample_specs)
    check_shape(sessions, depts, sample_specs, keys)
    rest = [spec for i, spec in enumerate(specs) if i not in sampled]
    bulk_insert(sessions, settings, depts, rest, rng)
    return Directory(dept_specs, specs, len(sample_specs), len(rest), time.perf_counter() - started)
