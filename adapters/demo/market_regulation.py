"""临江市市场监督管理局's market entity register (市场主体登记): enterprises of the demo city.

A MySQL-era system with lower-case pinyin-initial columns, table ``t_sczt_djxx``::

    tyshxydm 统一社会信用代码 | qymc 企业名称 | qylx 企业类型 (its own codes: '1100' 有限责任公司, ...)
    fddbr 法定代表人 | clrq 成立日期 (text: '2001-03-05', sometimes '2001/3/5', '20010305', '2001年3月5日')
    zczb 注册资本 (yuan, text: '5000000', sometimes '5,000,000.00') | zs 住所 | zsxzqh 住所行政区划
    jyfw 经营范围 | hydm 行业代码 (GB/T 4754) | djjg 登记机关 | djzt 登记状态 ('1' 存续, '2' 在业,
    '3' 吊销, '4' 注销, '9' 迁出) | ztbgrq 状态变更日期 | gxsj 更新时间 (DATETIME, local time)

    manifest = generate_enterprise_registry("sqlite:///var/demo/scjgj-legacy.db", 1000, seed=5)

Credit codes are valid GB 32100 codes (GB 11714 check character inside, python-stdnum's
``cn.uscc`` accepts them) registered in the city's districts.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal

from faker import Faker
from sqlalchemy import Column, DateTime, Index, MetaData, String, Table

from xsd import codes, samples

from .common import (
    FULLWIDTH,
    Manifest,
    Tally,
    check_kinds,
    city_counties,
    dirty_rows,
    full_name,
    hide,
    pad,
    write_table,
)

ENTERPRISE_TABLE = "t_sczt_djxx"

DEFAULT_DIRT: Mapping[str, float] = {
    "bad_checksum": 0.01,       # tyshxydm with a wrong check character
    "fullwidth_chars": 0.01,    # tyshxydm typed in full-width mode: ９１３３０１…
    "lowercase_code": 0.01,     # tyshxydm letters in lower case (only codes with letters)
    "date_slash": 0.02,         # clrq '2001/3/5'
    "date_compact": 0.02,       # clrq '20010305'
    "date_chinese": 0.02,       # clrq '2001年3月5日'
    "capital_grouped": 0.03,    # zczb '5,000,000.00'
    "unmapped_status": 0.005,   # djzt '7' or qylx '9999': no standard value
    "blank_name": 0.005,        # qymc empty or spaces
    "stray_spaces": 0.02,       # spaces around qymc, tyshxydm or zs
    "invisible_chars": 0.01,    # zero-width space, BOM or NBSP in qymc or tyshxydm
    "duplicate": 0.01,          # an exact copy of an earlier row
}

DIRT_OUTCOMES: Mapping[str, tuple[str, str] | None] = {
    "bad_checksum": ("validate", "credit_code.checksum"),
    "fullwidth_chars": None,
    "lowercase_code": None,
    "date_slash": None,
    "date_compact": None,
    "date_chinese": None,
    "capital_grouped": None,
    "unmapped_status": ("map", "code.unmapped"),
    "blank_name": ("map", "field.required"),
    "stray_spaces": None,
    "invisible_chars": None,
    "duplicate": ("compare", "duplicate"),
}

#: 企业类型 codes of the register -> (the type's name, 机构类别 digit of the credit code)
ENTITY_TYPES = {"1100": ("有限责任公司", "1"), "1200": ("股份有限公司", "1"), "4540": ("个人独资企业", "2"),
                "4530": ("合伙企业", "2")}
#: 登记状态 codes of the register -> the format's 登记状态
STATUS_CODES = {"1": "存续", "2": "在业", "3": "吊销", "4": "注销", "9": "迁出"}
_STATUS_WEIGHTS = {"1": 80, "2": 8, "3": 5, "4": 5, "9": 2}
_INDUSTRIES = ["C1810", "C3911", "E4710", "F5211", "G5411", "H6110", "I6513", "K7010", "M7320", "L7212"]
_SCOPES = ["软件开发; 信息技术咨询服务", "服装制造; 服装零售", "房屋建筑工程施工", "餐饮服务", "道路货物运输",
           "技术服务、技术开发、技术咨询", "日用百货销售", "物业管理"]
_UNMAPPED = (("djzt", "7"), ("djzt", "0"), ("qylx", "9999"))
_AS_OF = datetime(2024, 6, 30, 18, 0)


def enterprise_table(metadata: MetaData) -> Table:
    text = String(200)
    return Table(
        ENTERPRISE_TABLE, metadata,
        Column("tyshxydm", String(40)), Column("qymc", text), Column("qylx", String(8)), Column("fddbr", String(60)),
        Column("clrq", String(30)), Column("zczb", String(30)), Column("zs", text), Column("zsxzqh", String(12)),
        Column("jyfw", String(500)), Column("hydm", String(8)), Column("djjg", String(100)),
        Column("djzt", String(4)), Column("ztbgrq", String(30)), Column("gxsj", DateTime()),
        Index("ix_t_sczt_djxx_gxsj", "gxsj"), Index("ix_t_sczt_djxx_tyshxydm", "tyshxydm"),
        mysql_charset="utf8mb4",
    )


def generate_enterprise_registry(url: str, n: int, seed: int = 0,
                                 dirt: Mapping[str, float] = DEFAULT_DIRT) -> Manifest:
    """(Re)create ``t_sczt_djxx`` at ``url`` with ``n`` rows; the same seed gives the same rows."""
    check_kinds(dirt, DEFAULT_DIRT)
    metadata = MetaData()
    table = enterprise_table(metadata)
    tally = Tally(dirt)
    write_table(url, metadata, table, tally.rows(dirty_rows(n, seed, dirt, _clean_rows(seed), _soil)))
    return tally.manifest(url, ENTERPRISE_TABLE, n, seed)


def _clean_rows(seed: int) -> Iterator[dict[str, object]]:
    rng = random.Random(f"scjgj-{seed}")
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    companies = [fake.company() for _ in range(400)]
    names = [fake.name() for _ in range(400)]
    streets = [fake.street_name() for _ in range(300)]
    counties = city_counties()
    statuses = list(_STATUS_WEIGHTS)
    weights = list(_STATUS_WEIGHTS.values())
    seen: set[str] = set()
    while True:
        county = rng.choice(counties)
        kind = rng.choice(list(ENTITY_TYPES))
        body = "".join(rng.choice(codes.CREDIT_CODE_ALPHABET) for _ in range(8))
        code = samples.credit_code(county, body, registration="9", category=ENTITY_TYPES[kind][1])
        if code in seen:
            continue
        seen.add(code)
        founded = date(1992, 1, 1) + timedelta(days=rng.randint(0, (date(2024, 6, 1) - date(1992, 1, 1)).days))
        status = rng.choices(statuses, weights)[0]
        changed = founded + timedelta(days=rng.randint(0, (date(2024, 6, 30) - founded).days))
        yield {
            "tyshxydm": code,
            # the register adds the place to a company's name; a second shop of the name gets a 分公司
            "qymc": f"临江{rng.choice(companies)}" + ("分公司" if rng.random() < 0.05 else ""),
            "qylx": kind,
            "fddbr": rng.choice(names),
            "clrq": founded.isoformat(),
            "zczb": str(rng.randint(1, 5000) * 10_000),
            "zs": f"{full_name(county)}{rng.choice(streets)}{rng.randint(1, 999)}号",
            "zsxzqh": county,
            "jyfw": rng.choice(_SCOPES),
            "hydm": rng.choice(_INDUSTRIES),
            "djjg": f"临江市市场监督管理局{codes.division_name(county)}分局" if rng.random() < 0.6
                    else "临江市市场监督管理局",
            "djzt": status,
            "ztbgrq": changed.isoformat() if status in ("3", "4", "9") else None,
            "gxsj": _AS_OF - timedelta(seconds=rng.randint(0, 365 * 86400)),
        }


def _soil(kind: str, row: dict[str, object], rng: random.Random) -> bool:
    code = str(row["tyshxydm"])
    founded = date.fromisoformat(str(row["clrq"]))
    if kind == "bad_checksum":
        row["tyshxydm"] = code[:-1] + rng.choice([c for c in codes.CREDIT_CODE_ALPHABET if c != code[-1]])
    elif kind == "fullwidth_chars":
        row["tyshxydm"] = code.translate(FULLWIDTH)
    elif kind == "lowercase_code":
        if code == code.lower():
            return False
        row["tyshxydm"] = code.lower()
    elif kind == "date_slash":
        row["clrq"] = f"{founded.year}/{founded.month}/{founded.day}"
    elif kind == "date_compact":
        row["clrq"] = f"{founded:%Y%m%d}"
    elif kind == "date_chinese":
        row["clrq"] = f"{founded.year}年{founded.month}月{founded.day}日"
    elif kind == "capital_grouped":
        row["zczb"] = f"{Decimal(str(row['zczb'])):,.2f}"
    elif kind == "unmapped_status":
        column, value = rng.choice(_UNMAPPED)
        row[column] = value
    elif kind == "blank_name":
        row["qymc"] = rng.choice(["", "  ", None])
    elif kind == "stray_spaces":
        column = rng.choice(["qymc", "tyshxydm", "zs"])
        row[column] = pad(row[column], rng)
    elif kind == "invisible_chars":
        column = rng.choice(["qymc", "tyshxydm"])
        row[column] = hide(row[column], rng)
    return True
