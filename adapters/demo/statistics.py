"""临江市统计局's indicator workbook (指标数据): values by indicator, region and period, as XLSX.

Statisticians keep their tables in Excel; the workbook has one sheet ``指标数据`` with a header
row in Chinese::

    指标代码 (the bureau's own codes: 'GDP', 'CZRK', 'CPI', ...) | 指标名称 | 地区代码 (GB/T 2260)
    统计期 ('2023年', '2023年第一季度', '2023年3月') | 指标值 (a number cell, sometimes text
    '12,345.67' or '１２３４５．６７') | 计量单位

    manifest = generate_indicator_workbook(Path("var/demo/tjj-indicators.xlsx"), 1000, seed=11)

The regions are the demo city (330100) and its districts; the periods 2019 to 2023. Each
(indicator, region, period) occurs once, so a row's key is its place in the table.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path

from .common import (
    CITY_DIVISION,
    FULLWIDTH,
    Manifest,
    Tally,
    check_kinds,
    city_counties,
    dirty_rows,
    division_name_for,
    pad,
    write_workbook,
)

INDICATOR_SHEET = "指标数据"
HEADER = ("指标代码", "指标名称", "地区代码", "统计期", "指标值", "计量单位")

#: the bureau's indicator codes -> (national code, name, unit, periodicity, whole city only, low, high)
INDICATORS = {
    "GDP": ("A0201", "地区生产总值", "亿元", "Q", False, 50, 2000),
    "CZRK": ("A0301", "常住人口", "万人", "Y", False, 20, 1300),
    "CPI": ("A0901", "居民消费价格指数", "上年同期=100", "M", True, 97, 104),
    "SHXFPLSZE": ("A0601", "社会消费品零售总额", "亿元", "M", False, 5, 800),
    "GYZJZZS": ("A0501", "规模以上工业增加值增速", "%", "M", False, -5, 15),
}
YEARS = range(2019, 2024)

DEFAULT_DIRT: Mapping[str, float] = {
    "value_grouped": 0.03,       # 指标值 as text grouped in thousands: '12,345.67'
    "value_fullwidth": 0.02,     # 指标值 as full-width text: '１２３４５．６７'
    "value_missing": 0.01,       # 指标值 empty
    "value_dash": 0.01,          # 指标值 '—' or '…' (统计 for "no data")
    "period_compact": 0.03,      # 统计期 '202303' or '2023Q1' instead of '2023年3月'
    "region_name": 0.03,         # 地区代码 as a name ('上城区', '浙江省杭州市') instead of the code
    "unmapped_indicator": 0.01,  # 指标代码 the adapter's table does not know ('ZDL' 总电量)
    "stray_spaces": 0.02,        # spaces around 指标代码 or 地区代码
    "duplicate": 0.01,           # an exact copy of an earlier row
}

DIRT_OUTCOMES: Mapping[str, tuple[str, str] | None] = {
    "value_grouped": None,
    "value_fullwidth": None,
    "value_missing": ("map", "field.required"),
    "value_dash": ("clean", "number.format"),
    "period_compact": None,
    "region_name": None,
    "unmapped_indicator": ("map", "code.unmapped"),
    "stray_spaces": None,
    "duplicate": ("compare", "duplicate"),
}

_QUARTERS = "一二三四"


def generate_indicator_workbook(path: Path | str, n: int, seed: int = 0,
                                dirt: Mapping[str, float] = DEFAULT_DIRT) -> Manifest:
    """(Re)write the workbook at ``path`` with ``n`` rows (at most one per indicator, region and period)."""
    check_kinds(dirt, DEFAULT_DIRT)
    path = Path(path)
    cells = _cells(seed)
    if n > len(cells):
        raise ValueError(f"the indicator table has {len(cells)} (indicator, region, period) cells; asked for {n}")
    tally = Tally(dirt)
    write_workbook(path, INDICATOR_SHEET, HEADER,
                   tally.rows(dirty_rows(n, seed, dirt, _clean_rows(seed, cells), _soil)))
    return tally.manifest(str(path), INDICATOR_SHEET, n, seed)


def _cells(seed: int) -> list[tuple[str, str, str]]:
    """Every (indicator, region, period) the table can hold, shuffled by the seed."""
    cells = []
    for code, (_, _, _, periodicity, city_only, _, _) in INDICATORS.items():
        regions = (CITY_DIVISION,) if city_only else (CITY_DIVISION, *city_counties())
        for region in regions:
            for period in _periods(periodicity):
                cells.append((code, region, period))
    random.Random(f"tjj-cells-{seed}").shuffle(cells)
    return cells


def _periods(periodicity: str) -> Iterator[str]:
    for year in YEARS:
        if periodicity == "Y":
            yield f"{year}年"
        elif periodicity == "Q":
            yield from (f"{year}年第{q}季度" for q in _QUARTERS)
        else:
            yield from (f"{year}年{m}月" for m in range(1, 13))


def _clean_rows(seed: int, cells: list[tuple[str, str, str]]) -> Iterator[dict[str, object]]:
    rng = random.Random(f"tjj-{seed}")
    for code, region, period in cells:
        _, name, unit, _, _, low, high = INDICATORS[code]
        yield {"指标代码": code, "指标名称": name, "地区代码": region, "统计期": period,
               "指标值": rng.randint(low * 100, high * 100) / 100, "计量单位": unit}


def _soil(kind: str, row: dict[str, object], rng: random.Random) -> bool:
    value = Decimal(str(row["指标值"]))
    if kind == "value_grouped":
        row["指标值"] = f"{value:,.2f}"
    elif kind == "value_fullwidth":
        row["指标值"] = f"{value:.2f}".translate(FULLWIDTH)
    elif kind == "value_missing":
        row["指标值"] = None
    elif kind == "value_dash":
        row["指标值"] = rng.choice(["—", "…", "-"])
    elif kind == "period_compact":
        if str(row["统计期"]).endswith("年"):
            return False  # a year has no shorter form
        row["统计期"] = _compact(str(row["统计期"]))
    elif kind == "region_name":
        name = division_name_for(str(row["地区代码"]), rng)
        if name is None:
            return False
        row["地区代码"] = name
    elif kind == "unmapped_indicator":
        row["指标代码"] = rng.choice(["ZDL", "GDP_OLD", "CZSR"])
    elif kind == "stray_spaces":
        column = rng.choice(["指标代码", "地区代码"])
        row[column] = pad(row[column], rng)
    return True


def _compact(period: str) -> str:
    """'2023年3月' -> '202303', '2023年第一季度' -> '2023Q1'."""
    year = period[:4]
    if "季度" in period:
        return f"{year}Q{_QUARTERS.index(period[6]) + 1}"
    return f"{year}{int(period[5:-1]):02d}"
