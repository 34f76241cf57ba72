"""Deterministic, valid sample records and batches for tests, demos and benchmarks.

The same ``seed`` always gives the same records; every record passes ``validate_record``
(structure and semantics, also with the strict ID-region setting)::

    population_records(1, seed=1)  ->  one element like
      <Person xmlns="http://govshare.local/xsd/population/1.0">
        <idNumber>422823194104281203</idNumber><name>田桂珍</name><sex>2</sex><ethnicity>01</ethnicity>
        <birthDate>1941-04-28</birthDate><birthplaceDivision>422823</birthplaceDivision>
        <domicileDivision>422823</domicileDivision><domicileAddress>湖北省恩施土家族苗族自治州巴东县六盘水路215号</domicileAddress>
        ...<status>正常</status><updated>2023-11-07T20:16:04+08:00</updated>
      </Person>
    make_batch(population_records(10_000, seed=1), provider_code(), "101001/000002")  ->  batch bytes

Names and streets come from Faker ``zh_CN`` (drawn once per seed into small pools, which
keeps 10,000 records well under a second); divisions, ID numbers and credit codes are built
from the GB/T 2260 table with correct check characters. All dates lie before ``AS_OF`` so
the records stay valid whatever day the tests run.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache, lru_cache

from faker import Faker
from lxml import etree

from registry.clock import CHINA

from . import codes, registry
from .batch import build_batch

AS_OF = date(2024, 6, 30)
_AS_OF_TIME = datetime(2024, 6, 30, 18, 0, tzinfo=CHINA)
_POOL = 500
# the 市辖区 / 县 placeholders of GB/T 2260 are groupings, not places one lives in
_PLACEHOLDERS = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划", "省直辖行政单位"}
_MUNICIPALITIES = {"11", "12", "31", "50"}
# 台湾, 香港 and 澳门 issue their own identity documents
_MAINLAND_EXCLUDED = {"71", "81", "82"}


# -- codes with correct check characters -----------------------------------------------------------

def id_number(division: str, birth: date, sequence: int) -> str:
    """A GB 11643 公民身份号码; ``sequence`` (0-999) is odd for a man, even for a woman."""
    first17 = f"{division}{birth:%Y%m%d}{sequence:03d}"
    return first17 + codes.id_check_digit(first17)


def credit_code(division: str, organization: str, *, registration: str = "9", category: str = "1") -> str:
    """A GB 32100 统一社会信用代码 around an 8-character 组织机构代码 body (GB 11714 check added)."""
    first17 = registration + category + division + organization + codes.organization_code_check_char(organization)
    return first17 + codes.credit_code_check_char(first17)


def provider_code(seed: int = 0) -> str:
    """The credit code of a sample government department (机关, 登记管理部门 1 机构编制)."""
    rng = random.Random(seed)
    return credit_code(rng.choice(_counties()), _org_body(rng), registration="1", category="1")


def _org_body(rng: random.Random) -> str:
    return "".join(rng.choice(codes.CREDIT_CODE_ALPHABET) for _ in range(8))


# -- GB/T 2260 places ------------------------------------------------------------------------------

@cache
def _counties() -> tuple[str, ...]:
    """County-level mainland codes valid in every year of the table (valid for any birth year)."""
    return tuple(
        code for code, names in sorted(codes.divisions().items())
        if code[4:] != "00" and code[:2] not in _MAINLAND_EXCLUDED and len(names) == 1
        and names[0].first_year is None and names[0].last_year is None and names[0].name not in _PLACEHOLDERS
    )


@cache
def _regions() -> tuple[str, ...]:
    """Province and prefecture codes, for statistics."""
    return tuple(
        code for code, names in sorted(codes.divisions().items())
        if code[4:] == "00" and code[:2] not in _MAINLAND_EXCLUDED and names[-1].name not in _PLACEHOLDERS
    )


@cache
def _place(code: str) -> str:
    """浙江省杭州市上城区 for 330102: province, prefecture and county names."""
    parts = [code[:2] + "0000", code[:4] + "00", code]
    if code[:2] in _MUNICIPALITIES:
        parts = [parts[0], code]
    names = []
    for part in dict.fromkeys(parts):
        name = codes.division_name(part)
        if name and name not in _PLACEHOLDERS:
            names.append(name)
    return "".join(names)


class _Faker:
    """Faker zh_CN drawn once per seed into pools: Faker itself costs ~25 µs a name, and drawing
    the pools 0.1 s, which every call of the generators below with that seed would pay again."""

    def __init__(self, seed: int) -> None:
        fake = Faker("zh_CN")
        fake.seed_instance(seed)
        self.names = tuple(fake.name() for _ in range(_POOL))
        self.streets = tuple(fake.street_name() for _ in range(_POOL))
        self.companies = tuple(fake.company() for _ in range(_POOL))


@lru_cache(maxsize=16)
def _pools(seed: int) -> _Faker:
    return _Faker(seed)


def _address(rng: random.Random, fake: _Faker, division: str) -> str:
    return f"{_place(division)}{rng.choice(fake.streets)}{rng.randint(1, 999)}号"


def _day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, (last - first).days))


def _updated(rng: random.Random) -> datetime:
    return _AS_OF_TIME - timedelta(seconds=rng.randint(0, 365 * 86400))


# -- 人口 --------------------------------------------------------------------------------------------

_ETHNICITIES = [f"{n:02d}" for n in range(2, 57)]
_EDUCATION = ["10", "20", "30", "40", "60", "70", "80", "90"]
_PERSON_STATUS = ["正常"] * 95 + ["迁出"] * 2 + ["死亡"] * 2 + ["注销"]


def population_records(n: int, seed: int = 0) -> Iterator[etree._Element]:
    """``n`` valid ``Person`` records with distinct ID numbers."""
    fmt = registry.lookup("{%s}Person" % registry.POPULATION_NS)
    for fields in population_fields(n, seed):
        yield fmt.encode(fields)


def population_fields(n: int, seed: int = 0) -> Iterator[dict[str, object]]:
    """The decoded form of ``population_records(n, seed)``."""
    rng, fake, counties, seen = random.Random(seed), _pools(seed), _counties(), set()
    while len(seen) < n:
        region = rng.choice(counties)
        birth = _day(rng, date(1930, 1, 1), date(2020, 12, 31))
        sex = rng.choice("12")
        number = id_number(region, birth, rng.randrange(0, 1000, 2) + (sex == "1"))
        if number in seen:
            continue
        seen.add(number)
        domicile = region if rng.random() < 0.8 else rng.choice(counties)
        status = rng.choice(_PERSON_STATUS)
        adult = (AS_OF - birth).days > 22 * 365
        yield {
            "idNumber": number,
            "name": rng.choice(fake.names),
            "sex": sex,
            "ethnicity": "01" if rng.random() < 0.9 else rng.choice(_ETHNICITIES),
            "birthDate": birth,
            "birthplaceDivision": region,
            "domicileDivision": domicile,
            "domicileAddress": _address(rng, fake, domicile),
            "residenceAddress": _address(rng, fake, domicile) if rng.random() < 0.5 else None,
            "maritalStatus": rng.choice(["10", "20", "20", "20", "30", "40"]) if adult else "10",
            "education": rng.choice(_EDUCATION) if adult else None,
            "status": status,
            "statusDate": _day(rng, birth, AS_OF) if status != "正常" else None,
            "updated": _updated(rng),
        }


# -- 法人单位 ----------------------------------------------------------------------------------------

_ENTITY_KINDS = [  # (登记管理部门, 机构类别, 单位类型, has 注册资本, 登记机关 suffix)
    ("9", "1", "有限责任公司", True, "市场监督管理局"),
    ("9", "1", "股份有限公司", True, "市场监督管理局"),
    ("9", "2", "个人独资企业", True, "市场监督管理局"),
    ("1", "1", "机关法人", False, "机构编制委员会办公室"),
    ("1", "2", "事业单位法人", True, "机构编制委员会办公室"),
    ("5", "1", "社会团体法人", True, "民政局"),
]
_INDUSTRIES = ["A0111", "C1810", "C3911", "E4710", "F5211", "G5411", "H6110", "I6513", "K7010", "M7320", "P8331"]
_SCOPES = ["软件开发; 信息技术咨询服务", "服装制造; 服装零售", "房屋建筑工程施工", "农作物种植; 农产品销售",
           "餐饮服务", "道路货物运输", "技术服务、技术开发、技术咨询"]
_ENTITY_STATUS = ["存续"] * 85 + ["在业"] * 5 + ["吊销"] * 5 + ["注销"] * 5


def legal_entity_records(n: int, seed: int = 0) -> Iterator[etree._Element]:
    """``n`` valid ``LegalEntity`` records with distinct credit codes."""
    fmt = registry.lookup("{%s}LegalEntity" % registry.LEGAL_ENTITY_NS)
    for fields in legal_entity_fields(n, seed):
        yield fmt.encode(fields)


def legal_entity_fields(n: int, seed: int = 0) -> Iterator[dict[str, object]]:
    rng, fake, counties, seen = random.Random(seed), _pools(seed), _counties(), set()
    while len(seen) < n:
        division = rng.choice(counties)
        registration, category, entity_type, has_capital, authority = rng.choice(_ENTITY_KINDS)
        code = credit_code(division, _org_body(rng), registration=registration, category=category)
        if code in seen:
            continue
        seen.add(code)
        founded = _day(rng, date(1980, 1, 1), AS_OF)
        status = rng.choice(_ENTITY_STATUS)
        capital = Decimal(rng.randint(1, 5000) * 10000) if has_capital else None
        yield {
            "creditCode": code,
            "name": rng.choice(fake.companies),
            "entityType": entity_type,
            "legalRepresentative": rng.choice(fake.names),
            "foundingDate": founded,
            "registeredCapital": capital,
            "registeredCapitalCurrency": "CNY" if has_capital else None,
            "domicile": _address(rng, fake, division),
            "domicileDivision": division,
            "businessScope": rng.choice(_SCOPES) if registration == "9" else None,
            "industryCode": rng.choice(_INDUSTRIES) if registration == "9" else "S9221",
            "registrationAuthority": codes.division_name(division) + authority,
            "operatingStatus": status,
            "statusDate": _day(rng, founded, AS_OF) if status in ("吊销", "注销") else None,
            "updated": _updated(rng),
        }


# -- 宏观经济 ----------------------------------------------------------------------------------------

_INDICATORS = [  # (code, name, unit, caliber, periodicity, low, high)
    ("A0201", "地区生产总值", "亿元", "现价, 累计值", "Q", 100, 20000),
    ("A0301", "常住人口", "万人", "年末数", "Y", 10, 1500),
    ("A0901", "居民消费价格指数", "上年同期=100", "当期值", "M", 97, 104),
    ("A0601", "社会消费品零售总额", "亿元", "现价, 累计值", "M", 10, 5000),
    ("A0501", "规模以上工业增加值增速", "%", "可比价, 累计值, 规模以上", "M", -5, 15),
]


def _period(rng: random.Random, periodicity: str) -> str:
    year = rng.randint(2000, AS_OF.year - 1)
    if periodicity == "Q":
        return f"{year}-Q{rng.randint(1, 4)}"
    if periodicity == "M":
        return f"{year}-{rng.randint(1, 12):02d}"
    return str(year)


def indicator_records(n: int, seed: int = 0) -> Iterator[etree._Element]:
    """``n`` valid ``Indicator`` observations with distinct (indicator, region, period) keys."""
    fmt = registry.lookup("{%s}Indicator" % registry.MACRO_ECONOMY_NS)
    for fields in indicator_fields(n, seed):
        yield fmt.encode(fields)


def indicator_fields(n: int, seed: int = 0) -> Iterator[dict[str, object]]:
    rng, regions, seen = random.Random(seed), ("000000", *_regions()), set()
    while len(seen) < n:
        code, name, unit, caliber, periodicity, low, high = rng.choice(_INDICATORS)
        region, period = rng.choice(regions), _period(rng, periodicity)
        if (code, region, period) in seen:
            continue
        seen.add((code, region, period))
        yield {
            "indicatorCode": code,
            "indicatorName": name,
            "regionCode": region,
            "period": period,
            "value": Decimal(rng.randint(low * 100, high * 100)) / 100,
            "unit": unit,
            "caliber": caliber,
            "source": "国家统计局" if region == "000000" else f"{codes.division_name(region)}统计局",
            "updated": _updated(rng),
        }


# -- 空间地理 ----------------------------------------------------------------------------------------

_LAND_USE = ["住宅用地", "商服用地", "工业用地", "公共管理与公共服务用地"]
_METRES_PER_DEGREE = 111_320.0


def spatial_features(n: int, seed: int = 0) -> Iterator[etree._Element]:
    """``n`` valid ``Feature`` records: 地址点 (Point), 地块 and 行政区划 (Polygon)."""
    fmt = registry.lookup("{%s}Feature" % registry.SPATIAL_NS)
    for fields in spatial_fields(n, seed):
        yield fmt.encode(fields)


def spatial_fields(n: int, seed: int = 0) -> Iterator[dict[str, object]]:
    rng, fake, counties = random.Random(seed), _pools(seed), _counties()
    for i in range(n):
        division = rng.choice(counties)
        kind = rng.choices(["地址点", "地块", "行政区划"], weights=[60, 35, 5])[0]
        lat, lon = round(rng.uniform(22.0, 45.0), 6), round(rng.uniform(100.0, 125.0), 6)
        street, number = rng.choice(fake.streets), rng.randint(1, 999)
        fields: dict[str, object] = {"divisionCode": division, "featureKind": kind, "updated": _updated(rng)}
        if kind == "地址点":
            fields |= {
                "featureId": f"{division}-AP-{i:06d}",
                "name": f"{street}{number}号",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "attributes": {"门牌号": f"{number}号"},
            }
        else:
            size = rng.uniform(0.001, 0.01) if kind == "地块" else rng.uniform(0.1, 0.5)
            ring = [[lon, lat], [round(lon + size, 6), lat], [round(lon + size, 6), round(lat + size, 6)],
                    [lon, round(lat + size, 6)], [lon, lat]]
            area = (size * _METRES_PER_DEGREE) ** 2 * math.cos(math.radians(lat))
            fields |= {
                "featureId": f"{division}-{'PL' if kind == '地块' else 'AD'}-{i:06d}",
                "name": f"{street}地块{number}" if kind == "地块" else codes.division_name(division),
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "area": Decimal(f"{area:.2f}"),
                "attributes": {"用途": rng.choice(_LAND_USE), "权属性质": "国有"} if kind == "地块" else None,
            }
        yield fields


# -- batches -----------------------------------------------------------------------------------------

def sample_fields(base: str) -> dict[str, object]:
    """One synthetic record of the base database ``base`` (``Format.name``: population, legal_entity,
    macro_economy, spatial), decoded: what an answer's record looks like, for documentation.  Made once
    (a person's pools of names take 20-100 ms to build): a copy each call."""
    return dict(_sample(base))


@cache
def _sample(base: str) -> dict[str, object]:
    made = {"population": population_fields, "legal_entity": legal_entity_fields,
            "macro_economy": indicator_fields, "spatial": spatial_fields}[base]
    return next(iter(made(1, 0)))


def make_batch(records: Iterator[etree._Element] | list[etree._Element], provider_code: str, resource_code: str,
               *, seed: int = 0, sequence_number: int = 1, created: datetime | None = None) -> bytes:
    """A batch document of ``records`` with the right count and digest; its id derives from ``seed``."""
    batch_id = uuid.UUID(int=random.Random(seed).getrandbits(128), version=4)
    return build_batch(records, provider_code=provider_code, resource_code=resource_code, batch_id=batch_id,
                       sequence_number=sequence_number, created=created or _AS_OF_TIME)
