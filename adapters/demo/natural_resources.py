"""临江市自然资源和规划局's parcels (宗地) and address points (地址点), in one legacy database.

A GIS system's attribute tables, upper-case pinyin-initial columns, coordinates in CGCS2000
geographic (EPSG:4490) degrees::

    ZD_JBXX 宗地基本信息: ZDDM 宗地代码 (19 characters: 330102 001 001 GB 00001) | ZL 坐落 | XZQDM 行政区代码
        ZDMJ 宗地面积 m² (text: '1234.56', sometimes '1,234.56') | TXWKT 图形 (WKT, longitude first:
        'POLYGON((120.1 30.2, ...))') | TDYT 土地用途 | GXSJ 更新时间
    DZ_DZD 地址点: DZBM 地址编码 | DZMC 地址名称 | XZQDM 行政区代码 | JD 经度 | WD 纬度 (text, degrees)
        | GXSJ 更新时间

    generate_parcels("sqlite:///var/demo/zrzyj-legacy.db", 500, seed=13)
    generate_address_points("sqlite:///var/demo/zrzyj-legacy.db", 1000, seed=17)

Positions lie in the demo city's urban core (``CITY_LONGITUDE``, ``CITY_LATITUDE``). The dirt is
what GIS exports do: axes swapped (latitude written first), projected coordinates in metres
(3-degree Gauss-Krüger zone 40) where degrees belong, rings not closed, WKT cut off at a
column's width, and the usual blanks, spaces and copies.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta

from faker import Faker
from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, Text

from xsd import codes

from .common import (
    CITY_LATITUDE,
    CITY_LONGITUDE,
    FULLWIDTH,
    Manifest,
    Tally,
    check_kinds,
    city_counties,
    dirty_rows,
    hide,
    pad,
    write_table,
)

PARCEL_TABLE = "ZD_JBXX"
ADDRESS_POINT_TABLE = "DZ_DZD"

PARCEL_DIRT: Mapping[str, float] = {
    "swapped_axes": 0.01,       # TXWKT written latitude first
    "ring_not_closed": 0.01,    # TXWKT's ring does not end where it starts
    "truncated_wkt": 0.005,     # TXWKT cut off: 'POLYGON((120.1 30.2, 120.2'
    "area_grouped": 0.03,       # ZDMJ '12,345.67'
    "blank_required": 0.005,    # ZL (the parcel's name) empty
    "stray_spaces": 0.02,       # spaces around ZDDM, ZL or TXWKT
    "duplicate": 0.01,          # an exact copy of an earlier row
}

PARCEL_OUTCOMES: Mapping[str, tuple[str, str] | None] = {
    "swapped_axes": ("validate", "geometry.within_china"),
    "ring_not_closed": ("validate", "geometry.ring_closed"),
    "truncated_wkt": ("clean", "geometry.format"),
    "area_grouped": None,
    "blank_required": ("map", "field.required"),
    "stray_spaces": None,
    "duplicate": ("compare", "duplicate"),
}

ADDRESS_POINT_DIRT: Mapping[str, float] = {
    "swapped_axes": 0.01,           # JD holds the latitude and WD the longitude
    "projected": 0.01,              # JD, WD in Gauss-Krüger metres: '40512345.67', '3345678.12'
    "fullwidth_digits": 0.02,       # JD or WD typed in full-width mode
    "missing_position": 0.005,      # JD and WD both empty
    "half_position": 0.005,         # JD or WD empty
    "blank_required": 0.005,        # DZMC empty
    "invisible_chars": 0.01,        # zero-width space, BOM or NBSP in DZMC or DZBM
    "duplicate": 0.01,              # an exact copy of an earlier row
}

ADDRESS_POINT_OUTCOMES: Mapping[str, tuple[str, str] | None] = {
    "swapped_axes": ("validate", "geometry.within_china"),
    "projected": ("validate", "geometry.within_china"),
    "fullwidth_digits": None,
    "missing_position": ("map", "field.required"),
    "half_position": ("clean", "geometry.format"),
    "blank_required": ("map", "field.required"),
    "invisible_chars": None,
    "duplicate": ("compare", "duplicate"),
}

#: 土地用途 (GB/T 21010 first-level classes the city registers parcels under)
LAND_USES = {"05": "商服用地", "06": "工矿仓储用地", "07": "住宅用地", "08": "公共管理与公共服务用地"}
_METRES_PER_DEGREE = 111_320.0
_AS_OF = datetime(2024, 6, 30, 18, 0)


def parcel_table(metadata: MetaData) -> Table:
    return Table(
        PARCEL_TABLE, metadata,
        Column("ZDDM", String(40)), Column("ZL", String(200)), Column("XZQDM", String(12)),
        Column("ZDMJ", String(30)), Column("TXWKT", Text()), Column("TDYT", String(4)), Column("GXSJ", DateTime()),
        Index("IX_ZD_JBXX_GXSJ", "GXSJ"),
        mysql_charset="utf8mb4",
    )


def address_point_table(metadata: MetaData) -> Table:
    return Table(
        ADDRESS_POINT_TABLE, metadata,
        Column("DZBM", String(40)), Column("DZMC", String(200)), Column("XZQDM", String(12)),
        Column("JD", String(30)), Column("WD", String(30)), Column("GXSJ", DateTime()),
        Index("IX_DZ_DZD_GXSJ", "GXSJ"),
        mysql_charset="utf8mb4",
    )


def generate_parcels(url: str, n: int, seed: int = 0, dirt: Mapping[str, float] = PARCEL_DIRT) -> Manifest:
    """(Re)create ``ZD_JBXX`` at ``url`` with ``n`` parcels; other tables there are left alone."""
    check_kinds(dirt, PARCEL_DIRT)
    metadata = MetaData()
    tally = Tally(dirt)
    write_table(url, metadata, parcel_table(metadata),
                tally.rows(dirty_rows(n, seed, dirt, _parcels(seed), _soil_parcel)))
    return tally.manifest(url, PARCEL_TABLE, n, seed)


def generate_address_points(url: str, n: int, seed: int = 0,
                            dirt: Mapping[str, float] = ADDRESS_POINT_DIRT) -> Manifest:
    """(Re)create ``DZ_DZD`` at ``url`` with ``n`` address points; other tables there are left alone."""
    check_kinds(dirt, ADDRESS_POINT_DIRT)
    metadata = MetaData()
    tally = Tally(dirt)
    write_table(url, metadata, address_point_table(metadata),
                tally.rows(dirty_rows(n, seed, dirt, _address_points(seed), _soil_point)))
    return tally.manifest(url, ADDRESS_POINT_TABLE, n, seed)


# -- clean rows -------------------------------------------------------------------------------------

def _position(rng: random.Random) -> tuple[float, float]:
    return round(rng.uniform(*CITY_LONGITUDE), 6), round(rng.uniform(*CITY_LATITUDE), 6)


def _updated(rng: random.Random) -> datetime:
    return _AS_OF - timedelta(seconds=rng.randint(0, 365 * 86400))


def _streets(seed: int) -> list[str]:
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    return [fake.street_name() for _ in range(300)]


def _wkt(ring: list[tuple[float, float]]) -> str:
    return "POLYGON((" + ", ".join(f"{x} {y}" for x, y in ring) + "))"


def _parcels(seed: int) -> Iterator[dict[str, object]]:
    rng, streets, counties = random.Random(f"zd-{seed}"), _streets(seed), city_counties()
    numbers: dict[str, int] = {}
    while True:
        county = rng.choice(counties)
        numbers[county] = numbers.get(county, 0) + 1
        lon, lat = _position(rng)
        # a quadrilateral 30-250 m a side, slightly skewed, as surveyed parcels are
        width, height = (rng.uniform(30, 250) / _METRES_PER_DEGREE for _ in range(2))
        skew = rng.uniform(-0.2, 0.2) * width
        ring = [(lon, lat), (round(lon + width, 6), lat), (round(lon + width + skew, 6), round(lat + height, 6)),
                (round(lon + skew, 6), round(lat + height, 6)), (lon, lat)]
        area = width * height * _METRES_PER_DEGREE ** 2 * math.cos(math.radians(lat))
        yield {
            "ZDDM": f"{county}{rng.randint(1, 20):03d}{rng.randint(1, 30):03d}GB{numbers[county]:05d}",
            "ZL": f"{codes.division_name(county)}{rng.choice(streets)}{rng.randint(1, 999)}号",
            "XZQDM": county,
            "ZDMJ": f"{area:.2f}",
            "TXWKT": _wkt(ring),
            "TDYT": rng.choice(list(LAND_USES)),
            "GXSJ": _updated(rng),
        }


def _address_points(seed: int) -> Iterator[dict[str, object]]:
    rng, streets, counties = random.Random(f"dz-{seed}"), _streets(seed + 1), city_counties()
    number = 0
    while True:
        number += 1
        county = rng.choice(counties)
        lon, lat = _position(rng)
        yield {
            "DZBM": f"{county}DZ{number:07d}",
            "DZMC": f"{rng.choice(streets)}{rng.randint(1, 999)}号",
            "XZQDM": county,
            "JD": f"{lon:.6f}",
            "WD": f"{lat:.6f}",
            "GXSJ": _updated(rng),
        }


# -- dirt -------------------------------------------------------------------------------------------

def _ring(row: dict[str, object]) -> list[tuple[str, str]]:
    text = str(row["TXWKT"])
    return [tuple(p.split()) for p in text[text.index("((") + 2:text.index("))")].split(", ")]


def _soil_parcel(kind: str, row: dict[str, object], rng: random.Random) -> bool:
    if kind == "swapped_axes":
        row["TXWKT"] = _wkt([(y, x) for x, y in _ring(row)])
    elif kind == "ring_not_closed":
        row["TXWKT"] = _wkt(_ring(row)[:-1])
    elif kind == "truncated_wkt":
        text = str(row["TXWKT"])
        row["TXWKT"] = text[:rng.randrange(12, len(text) - 2)]
    elif kind == "area_grouped":
        area = float(str(row["ZDMJ"]))
        if area < 1000:
            return False
        row["ZDMJ"] = f"{area:,.2f}"
    elif kind == "blank_required":
        row["ZL"] = rng.choice(["", "  ", None])
    elif kind == "stray_spaces":
        column = rng.choice(["ZDDM", "ZL", "TXWKT"])
        row[column] = pad(row[column], rng)
    return True


def _soil_point(kind: str, row: dict[str, object], rng: random.Random) -> bool:
    if kind == "swapped_axes":
        row["JD"], row["WD"] = row["WD"], row["JD"]
    elif kind == "projected":
        lon, lat = float(str(row["JD"])), float(str(row["WD"]))
        # zone 40 of the 3-degree Gauss-Krüger grid: the easting carries the zone number
        easting = 40_500_000 + (lon - 120) * _METRES_PER_DEGREE * math.cos(math.radians(lat))
        row["JD"], row["WD"] = f"{easting:.2f}", f"{lat * 110_950:.2f}"
    elif kind == "fullwidth_digits":
        column = rng.choice(["JD", "WD"])
        row[column] = str(row[column]).translate(FULLWIDTH)
    elif kind == "missing_position":
        row["JD"] = row["WD"] = rng.choice(["", None])
    elif kind == "half_position":
        row[rng.choice(["JD", "WD"])] = None
    elif kind == "blank_required":
        row["DZMC"] = rng.choice(["", "  ", None])
    elif kind == "invisible_chars":
        column = rng.choice(["DZMC", "DZBM"])
        row[column] = hide(row[column], rng)
    return True
