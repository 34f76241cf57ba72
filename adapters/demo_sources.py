"""Demo department sources: legacy databases with realistic dirt at known rates.

临江市公安局's household registry (户籍人口信息, table ``HJ_RKXX``) as an old Oracle-style system
keeps it - upper-case pinyin-initial columns, legacy codes, dates as text, no constraints::

    GMSFHM 公民身份号码 | XM 姓名 | XB 性别 ('男'/'女' or '1'/'2') | MZ 民族 (a name: '汉族')
    CSRQ 出生日期 (text: '1990-01-02', sometimes '1990/1/2', '19900102', '1990年1月2日')
    HJDZ 户籍地址 | HJDZ_XZQH 户籍地行政区划 (a GB/T 2260 code, sometimes a name) | JZDZ 居住地址
    ZT 人员状态 ('10' 正常, '20' 迁出, '30' 死亡, '40' 注销) | GXSJ 更新时间 (local time, no offset)

    manifest = generate_household_registry("sqlite:///var/demo/gaj-legacy.db", 100_000, seed=1)
    manifest.counts  ->  {"bad_checksum": 1013, "fullwidth_digits": 998, ..., "duplicate": 1002}

Each row carries at most one kind of dirt, so the manifest's counts are what the pipeline must
find: ``DIRT_OUTCOMES`` says for each kind whether cleaning repairs it (None) or which stage
and rule must name it. The people come from ``xsd.samples.population_fields`` (valid records,
Faker zh_CN names from the seed), so a clean row maps to a record that validates.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from datetime import date, datetime

from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, create_engine

from xsd import codes, samples

from .demo.common import Manifest, division_name_for, draw

HOUSEHOLD_TABLE = "HJ_RKXX"

#: Share of rows given each kind of dirt (one kind per row at most).
DEFAULT_DIRT: Mapping[str, float] = {
    "bad_checksum": 0.01,      # GMSFHM with a wrong check digit
    "fullwidth_digits": 0.01,  # GMSFHM typed with an IME in full-width mode: ３３０１…
    "lowercase_x": 0.01,       # check letter x in lower case (only IDs ending in X)
    "date_slash": 0.02,        # CSRQ '1990/1/2'
    "date_compact": 0.02,      # CSRQ '19900102'
    "date_chinese": 0.02,      # CSRQ '1990年1月2日'
    "division_name": 0.05,     # HJDZ_XZQH as a name ('上城区', '浙江省杭州市上城区') instead of a code
    "unmapped_code": 0.005,    # XB '?', MZ '穿青人' or ZT '99': no standard code
    "blank_required": 0.005,   # XM empty or spaces
    "stray_spaces": 0.02,      # spaces around XM, GMSFHM or HJDZ
    "invisible_chars": 0.01,   # zero-width space, BOM or NBSP in XM or GMSFHM
    "duplicate": 0.01,         # an exact copy of an earlier row
}

#: What must become of each kind: None = cleaned to a valid value; else (stage, rule) naming it.
DIRT_OUTCOMES: Mapping[str, tuple[str, str] | None] = {
    "bad_checksum": ("validate", "id_number.checksum"),
    "fullwidth_digits": None,
    "lowercase_x": None,
    "date_slash": None,
    "date_compact": None,
    "date_chinese": None,
    "division_name": None,
    "unmapped_code": ("map", "code.unmapped"),
    "blank_required": ("map", "field.required"),
    "stray_spaces": None,
    "invisible_chars": None,
    "duplicate": ("compare", "duplicate"),
}

_STATUS_CODES = {"正常": "10", "迁出": "20", "死亡": "30", "注销": "40"}
_FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
_UNMAPPED = (("XB", "?"), ("MZ", "穿青人"), ("ZT", "99"))
_INVISIBLE = ("\u200b", "\ufeff", "\u00a0")
_CHUNK = 10_000


def household_table(metadata: MetaData) -> Table:
    """``HJ_RKXX`` as the legacy system has it: text everywhere, no primary key."""
    text = String(200)
    return Table(
        HOUSEHOLD_TABLE, metadata,
        Column("GMSFHM", String(40)), Column("XM", String(60)), Column("XB", String(10)),
        Column("MZ", String(30)), Column("CSRQ", String(30)), Column("HJDZ", text),
        Column("HJDZ_XZQH", String(60)), Column("JZDZ", text), Column("ZT", String(4)),
        Column("GXSJ", DateTime()),
        Index("IX_HJ_RKXX_GXSJ", "GXSJ"), Index("IX_HJ_RKXX_GMSFHM", "GMSFHM"),
        mysql_charset="utf8mb4",
    )


def generate_household_registry(url: str, n: int, seed: int = 0,
                                 dirt: Mapping[str, float] = DEFAULT_DIRT) -> Manifest:
    """(Re)create ``HJ_RKXX`` at ``url`` with ``n`` rows; the same seed gives the same rows."""
    unknown = set(dirt) - set(DEFAULT_DIRT)
    if unknown:
        raise ValueError(f"unknown dirt kinds {', '.join(sorted(unknown))}; known: {', '.join(DEFAULT_DIRT)}")
    metadata = MetaData()
    table = household_table(metadata)
    engine = create_engine(url)
    counts = dict.fromkeys(dirt, 0)
    rows_by_kind: dict[str, list[int]] = {kind: [] for kind in dirt}
    try:
        metadata.drop_all(engine)
        metadata.create_all(engine)
        with engine.begin() as conn:
            chunk: list[dict[str, object]] = []
            for number, (kind, row) in enumerate(_rows(n, seed, dirt)):
                if kind:
                    counts[kind] += 1
                    rows_by_kind[kind].append(number)
                chunk.append(row)
                if len(chunk) == _CHUNK:
                    conn.execute(table.insert(), chunk)
                    chunk = []
            if chunk:
                conn.execute(table.insert(), chunk)
    finally:
        engine.dispose()
    return Manifest(url, HOUSEHOLD_TABLE, n, seed, counts, rows_by_kind)


def _rows(n: int, seed: int, dirt: Mapping[str, float]) -> Iterator[tuple[str | None, dict[str, object]]]:
    """(dirt kind or None, row) pairs; a separate generator keeps the dirt independent of the people."""
    rng = random.Random(f"dirt-{seed}")
    kinds = list(dirt.items())
    clean_rows: list[dict[str, object]] = []
    people = samples.population_fields(n, seed)
    for _ in range(n):
        kind = draw(rng, kinds)
        if kind == "duplicate" and clean_rows:
            yield kind, dict(rng.choice(clean_rows))
            continue
        row = _legacy_row(next(people), rng)
        if kind and kind != "duplicate" and _soil(kind, row, rng):
            yield kind, row
            continue
        if len(clean_rows) < 1000:
            clean_rows.append(row)
        yield None, row


def _legacy_row(person: Mapping[str, object], rng: random.Random) -> dict[str, object]:
    """A valid person as the legacy system stores them."""
    sex = person["sex"]
    birth = person["birthDate"]
    assert isinstance(birth, date)
    updated = person["updated"]
    assert isinstance(updated, datetime)
    return {
        "GMSFHM": person["idNumber"],
        "XM": person["name"],
        # two generations of the system: the old one wrote 男/女, the new one the GB/T 2261.1 digit
        "XB": ("男" if sex == "1" else "女") if rng.random() < 0.7 else sex,
        "MZ": codes.ethnicities()[str(person["ethnicity"])],
        "CSRQ": birth.isoformat(),
        "HJDZ": person["domicileAddress"],
        "HJDZ_XZQH": person["domicileDivision"],
        "JZDZ": person.get("residenceAddress"),
        "ZT": _STATUS_CODES[str(person["status"])],
        # local time without an offset, as the legacy system keeps it
        "GXSJ": updated.replace(tzinfo=None),
    }


def _soil(kind: str, row: dict[str, object], rng: random.Random) -> bool:
    """Give ``row`` the dirt ``kind``; False when the kind does not apply to this row."""
    number = str(row["GMSFHM"])
    birth = date.fromisoformat(str(row["CSRQ"]))
    if kind == "bad_checksum":
        wrong = rng.choice([c for c in "0123456789X" if c != number[-1]])
        row["GMSFHM"] = number[:-1] + wrong
    elif kind == "fullwidth_digits":
        row["GMSFHM"] = number.translate(_FULLWIDTH)
    elif kind == "lowercase_x":
        if not number.endswith("X"):
            return False
        row["GMSFHM"] = number[:-1] + "x"
    elif kind == "date_slash":
        row["CSRQ"] = f"{birth.year}/{birth.month}/{birth.day}"
    elif kind == "date_compact":
        row["CSRQ"] = f"{birth:%Y%m%d}"
    elif kind == "date_chinese":
        row["CSRQ"] = f"{birth.year}年{birth.month}月{birth.day}日"
    elif kind == "division_name":
        name = division_name_for(str(row["HJDZ_XZQH"]), rng)
        if name is None:
            return False
        row["HJDZ_XZQH"] = name
    elif kind == "unmapped_code":
        column, value = rng.choice(_UNMAPPED)
        row[column] = value
    elif kind == "blank_required":
        row["XM"] = rng.choice(["", "  ", None])
    elif kind == "stray_spaces":
        column = rng.choice(["XM", "GMSFHM", "HJDZ"])
        row[column] = rng.choice([" ", "  ", "\t"]) + str(row[column]) + rng.choice(["", " ", "   "])
    elif kind == "invisible_chars":
        column = rng.choice(["XM", "GMSFHM"])
        value = str(row[column])
        char = rng.choice(_INVISIBLE)
        # NBSP only at the ends: inside a name it is a real (if odd) space, not dirt
        at = rng.randrange(1, len(value)) if char == "\u200b" else rng.choice([0, len(value)])
        row[column] = value[:at] + char + value[at:]
    return True
