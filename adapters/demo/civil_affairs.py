"""临江市民政局's marriage registration system (婚姻登记): the parties of its registrations.

A .NET-era system on SQL Server style names, one row per person (the latest registration),
table ``MarriageParty``::

    IdCardNo 身份证件号码 | FullName 姓名 | Gender 性别 ('M'/'F') | Nation 民族 (a name without 族: '汉')
    BirthDay 出生日期 (text, compact: '19900102') | HouseholdRegion 户籍地区划 (GB/T 2260 code)
    HouseholdAddress 户籍地址 | CurrentAddress 现住址 (where they said they live, in 临江市)
    MaritalStatus 婚姻状况 (a name: '已婚', '离异', ...) | PersonState 人员状态 ('ZC' 正常, 'QC' 迁出,
    'SW' 死亡, 'ZX' 注销) | ModifyTime 修改时间 (text, '2024/05/01 09:30:00')

A known share of its people (``overlap``, 60% by default) are people of 公安局's household
registry - the same ID numbers, names and 户籍 - drawn from the same seed
(``xsd.samples.population_fields(people, people_seed)``), with a current address of their own;
``Manifest.shared`` counts those rows. The rest are people 公安局 does not hold::

    manifest = generate_marriage_registry("sqlite:///var/demo/mzj-legacy.db", 1500, seed=3, people_seed=7)
    manifest.shared  ->  about 900
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta

from faker import Faker
from sqlalchemy import Column, Index, MetaData, String, Table

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

MARRIAGE_TABLE = "MarriageParty"

DEFAULT_DIRT: Mapping[str, float] = {
    "bad_checksum": 0.01,       # IdCardNo with a wrong check digit
    "id_in_groups": 0.02,       # IdCardNo typed in groups: '330102 19900102 123X'
    "fullwidth_digits": 0.01,   # IdCardNo typed in full-width mode
    "birth_mismatch": 0.01,     # BirthDay a day off the date inside the ID number
    "date_dashed": 0.03,        # BirthDay '1990-1-2' instead of '19900102'
    "date_invalid": 0.005,      # BirthDay '19900230': no such day
    "lowercase_sex": 0.02,      # Gender 'm' / 'f'
    "unmapped_code": 0.005,     # MaritalStatus '同居', Gender 'X' or PersonState '99'
    "blank_required": 0.005,    # FullName or HouseholdAddress empty
    "stray_spaces": 0.02,       # spaces around FullName, IdCardNo or CurrentAddress
    "invisible_chars": 0.01,    # zero-width space, BOM or NBSP in FullName or IdCardNo
    "duplicate": 0.01,          # an exact copy of an earlier row
}

DIRT_OUTCOMES: Mapping[str, tuple[str, str] | None] = {
    "bad_checksum": ("validate", "id_number.checksum"),
    "id_in_groups": None,
    "fullwidth_digits": None,
    "birth_mismatch": ("validate", "birth_date.matches_id"),
    "date_dashed": None,
    "date_invalid": ("clean", "date.invalid"),
    "lowercase_sex": None,
    "unmapped_code": ("map", "code.unmapped"),
    "blank_required": ("map", "field.required"),
    "stray_spaces": None,
    "invisible_chars": None,
    "duplicate": ("compare", "duplicate"),
}

_GENDER = {"1": "M", "2": "F"}
_MARITAL = {"10": ["未婚"], "20": ["已婚"], "30": ["丧偶"], "40": ["离婚", "离异"]}
_STATE = {"正常": "ZC", "迁出": "QC", "死亡": "SW", "注销": "ZX"}
_UNMAPPED = (("MaritalStatus", "同居"), ("Gender", "X"), ("PersonState", "99"))
#: seeds of the people 民政局 holds that 公安局 does not: far from any demo seed
_OWN_PEOPLE_SEED = 90_000


def marriage_table(metadata: MetaData) -> Table:
    text = String(200)
    return Table(
        MARRIAGE_TABLE, metadata,
        Column("IdCardNo", String(40)), Column("FullName", String(60)), Column("Gender", String(4)),
        Column("Nation", String(30)), Column("BirthDay", String(20)), Column("HouseholdRegion", String(12)),
        Column("HouseholdAddress", text), Column("CurrentAddress", text), Column("MaritalStatus", String(20)),
        Column("PersonState", String(4)), Column("ModifyTime", String(30)),
        Index("IX_MarriageParty_IdCardNo", "IdCardNo"),
        mysql_charset="utf8mb4",
    )


def generate_marriage_registry(url: str, n: int, seed: int = 0, *, people_seed: int = 7, people: int = 2000,
                               overlap: float = 0.6, dirt: Mapping[str, float] = DEFAULT_DIRT) -> Manifest:
    """(Re)create ``MarriageParty`` at ``url`` with ``n`` rows.

    About ``overlap`` of the rows are people of ``population_fields(people, people_seed)`` - the
    people of 公安局's registry generated with that seed and size - taken in order, so they are
    its first rows; when those run out, the rest are 民政局's own.
    """
    check_kinds(dirt, DEFAULT_DIRT)
    metadata = MetaData()
    table = marriage_table(metadata)
    tally = Tally(dirt)
    shared = _People(seed, people_seed, people, overlap)
    write_table(url, metadata, table, tally.rows(dirty_rows(n, seed, dirt, _clean_rows(seed, shared), _soil)))
    return tally.manifest(url, MARRIAGE_TABLE, n, seed, shared=shared.shared)


class _People:
    """The people rows are about: 公安局's (in their order) at the ``overlap`` rate, else 民政局's own."""

    def __init__(self, seed: int, people_seed: int, people: int, overlap: float) -> None:
        self.rng = random.Random(f"people-{seed}")
        self.overlap = overlap
        self.theirs = samples.population_fields(people, people_seed)
        self.ours = samples.population_fields(10 ** 7, _OWN_PEOPLE_SEED + seed)
        self.taken: set[str] = set()
        self.shared = 0  # people of 公安局's drawn so far: each is one row, and copies are not counted

    def next(self) -> dict[str, object]:
        if self.rng.random() < self.overlap:
            person = next(self.theirs, None)
            if person is not None:
                self.taken.add(str(person["idNumber"]))
                self.shared += 1
                return person
        while True:
            person = next(self.ours)
            if person["idNumber"] not in self.taken:
                return person


def _clean_rows(seed: int, people: _People) -> Iterator[dict[str, object]]:
    rng = random.Random(f"mzj-{seed}")
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    streets = [fake.street_name() for _ in range(300)]
    counties = city_counties()
    while True:
        yield _legacy_row(people.next(), rng, streets, counties)


def _legacy_row(person: Mapping[str, object], rng: random.Random, streets: list[str],
                counties: tuple[str, ...]) -> dict[str, object]:
    birth = person["birthDate"]
    assert isinstance(birth, date)
    updated = person["updated"]
    assert isinstance(updated, datetime)
    county = rng.choice(counties)
    return {
        "IdCardNo": person["idNumber"],
        "FullName": person["name"],
        "Gender": _GENDER[str(person["sex"])],
        "Nation": codes.ethnicities()[str(person["ethnicity"])].removesuffix("族"),
        "BirthDay": f"{birth:%Y%m%d}",
        "HouseholdRegion": person["domicileDivision"],
        "HouseholdAddress": person["domicileAddress"],
        "CurrentAddress": f"{full_name(county)}{rng.choice(streets)}{rng.randint(1, 999)}号"
                          f"{rng.randint(1, 30)}幢{rng.randint(1, 28)}0{rng.randint(1, 4)}室",
        "MaritalStatus": rng.choice(_MARITAL[str(person["maritalStatus"])]),
        "PersonState": _STATE[str(person["status"])],
        "ModifyTime": f"{updated.replace(tzinfo=None) + timedelta(days=rng.randint(0, 30)):%Y/%m/%d %H:%M:%S}",
    }


def _soil(kind: str, row: dict[str, object], rng: random.Random) -> bool:
    number = str(row["IdCardNo"])
    birth = datetime.strptime(str(row["BirthDay"]), "%Y%m%d").date()
    if kind == "bad_checksum":
        row["IdCardNo"] = number[:-1] + rng.choice([c for c in "0123456789X" if c != number[-1]])
    elif kind == "id_in_groups":
        row["IdCardNo"] = f"{number[:6]} {number[6:14]} {number[14:]}"
    elif kind == "fullwidth_digits":
        row["IdCardNo"] = number.translate(FULLWIDTH)
    elif kind == "birth_mismatch":
        row["BirthDay"] = f"{birth + timedelta(days=rng.choice([-1, 1])):%Y%m%d}"
    elif kind == "date_dashed":
        row["BirthDay"] = f"{birth.year}-{birth.month}-{birth.day}"
    elif kind == "date_invalid":
        row["BirthDay"] = f"{birth.year}02{rng.choice([30, 31])}"
    elif kind == "lowercase_sex":
        row["Gender"] = str(row["Gender"]).lower()
    elif kind == "unmapped_code":
        column, value = rng.choice(_UNMAPPED)
        row[column] = value
    elif kind == "blank_required":
        row[rng.choice(["FullName", "HouseholdAddress"])] = rng.choice(["", "  ", None])
    elif kind == "stray_spaces":
        column = rng.choice(["FullName", "IdCardNo", "CurrentAddress"])
        row[column] = pad(row[column], rng)
    elif kind == "invisible_chars":
        column = rng.choice(["FullName", "IdCardNo"])
        row[column] = hide(row[column], rng)
    return True

