"""Semantic rules (语义校验): what a schema cannot say about a record.

Each rule has a dotted name and, when it fails, yields a ``Violation`` whose message tells a
person what is wrong and what the value should be::

    Violation(rule="id_number.checksum", field="idNumber",
              message="公民身份号码 330102199001021235: check digit should be X")

``check(fmt, fields)`` runs the rules of a format on a decoded schema-valid record
(``Format.decode``); each rule is also a plain function of plain values, for adapters that
check a mapped legacy row before serialising it:

- 人口 (population): id_number.checksum, id_number.date, id_number.region (only with
  ``RuleSettings.id_region_in_birth_year``), birth_date.not_future, birth_date.matches_id,
  sex.matches_id, ethnicity.known, division_code.exists, status_date.not_future
- 法人单位 (legal_entity): credit_code.checksum, credit_code.organization_code,
  founding_date.not_future, registered_capital.non_negative, division_code.exists,
  status_date.not_future
- 宏观经济 (macro_economy): division_code.exists (000000 = 全国 allowed), period.not_future
- 空间地理 (spatial): division_code.exists, geometry.matches_kind, geometry.ring_size,
  geometry.ring_closed, geometry.within_china, area.positive

python-stdnum is wrapped: its functions raise on malformed input (KeyError and ValueError
as well as its own ValidationError), and a rule must report, never raise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from registry.clock import CHINA  # re-exported: the node reads China time here

from . import codes
from .registry import Format

#: The region code of national totals in macro-economic records (全国).
NATIONAL = "000000"
#: Rough bounds of China in EPSG:4490, islands of the South China Sea included.
CHINA_LONGITUDE = (73.0, 136.0)
CHINA_LATITUDE = (3.0, 54.0)
#: GB/T 2261.1 sexes the 17th digit of an ID number decides; 0 and 9 (unknown, unstated) pass.
_SEX_OF_PARITY = {1: "1", 0: "2"}


@dataclass(frozen=True)
class Violation:
    """One broken rule: its name, the field it concerns (None: the whole record), a message."""

    rule: str
    field: str | None
    message: str


@dataclass(frozen=True)
class RuleSettings:
    """Behaviour switches of the semantic rules.

    ``id_region_in_birth_year``: also require the first six digits of an ID number to be a
    GB/T 2260 code that was valid in the birth year (stdnum's strict birthplace check, rule
    id_number.region). Off by default: an ID number carries the 地址码 of where it was first
    issued, which can postdate the birth (someone born in 1980 in a county created in 1983
    carries the 1983 code), so the strict check rejects real people.
    """

    id_region_in_birth_year: bool = False


def today_in_china() -> date:
    """The current calendar date in China, the "today" of the not_future rules."""
    return datetime.now(CHINA).date()


def check(fmt: Format, fields: Mapping[str, Any], *, today: date | None = None,
          settings: RuleSettings | None = None) -> list[Violation]:
    """Run every semantic rule of ``fmt`` on a decoded record."""
    context = _Context(fmt, fields, today or today_in_china(), settings or RuleSettings())
    return [v for v in _RULES[fmt.name](context) if v is not None]


@dataclass(slots=True)  # one per record checked: not frozen, whose __init__ costs several times more
class _Context:
    fmt: Format
    fields: Mapping[str, Any]
    today: date
    settings: RuleSettings

    def label(self, field: str) -> str:
        return self.fmt.label(field)


# -- 公民身份号码 (GB 11643) ---------------------------------------------------------------------

def id_number_checksum(number: str, field: str = "idNumber") -> Violation | None:
    """The 18th character is the ISO 7064 MOD 11-2 check digit of the first 17."""
    try:
        expected = codes.id_check_digit(number[:17])
    except (ValueError, KeyError, IndexError):
        return Violation("id_number.checksum", field, f"公民身份号码 {number}: the first 17 characters must be digits")
    if number[17:] != expected:
        return Violation("id_number.checksum", field, f"公民身份号码 {number}: check digit should be {expected}")
    return None


def id_birth_date(number: str) -> date | None:
    """The birth date written in digits 7-14 of an ID number, None if it is no calendar date."""
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def id_number_date(number: str, field: str = "idNumber") -> Violation | None:
    if id_birth_date(number) is None:
        return Violation("id_number.date", field,
                         f"公民身份号码 {number}: digits 7-14 ({number[6:14]}) are not a calendar date")
    return None


def id_number_region(number: str, field: str = "idNumber") -> Violation | None:
    """Strict: the 地址码 was a GB/T 2260 code in the birth year (python-stdnum's birthplace check)."""
    try:
        ric.get_birth_place(number)
        return None
    except (ValidationError, KeyError, ValueError):
        # KeyError: a province-level 地址码 has no county entry in stdnum's table
        pass
    birth = id_birth_date(number)
    year = f" in {birth.year}, the birth year" if birth else ""
    return Violation("id_number.region", field,
                     f"公民身份号码 {number}: 地址码 {number[:6]} was not a GB/T 2260 行政区划代码{year}")


def birth_date_matches_id(birth: date, number: str) -> Violation | None:
    in_id = id_birth_date(number)
    if in_id is not None and in_id != birth:
        return Violation("birth_date.matches_id", "birthDate", f"出生日期 {birth.isoformat()} differs from "
                         f"{in_id.isoformat()}, the date in 公民身份号码 {number}")
    return None


def sex_matches_id(sex: str, number: str) -> Violation | None:
    """GB 11643: the 17th digit is odd for men (性别 1) and even for women (性别 2)."""
    if sex not in _SEX_OF_PARITY.values() or not number[16:17].isdigit():
        return None
    implied = _SEX_OF_PARITY[int(number[16]) % 2]
    if sex == implied:
        return None
    parity = "odd" if implied == "1" else "even"
    return Violation("sex.matches_id", "sex", f"性别 {sex} ({codes.SEX_NAMES[sex]}) contradicts 公民身份号码 {number}: "
                     f"its 17th digit {number[16]} is {parity}, which means {implied} ({codes.SEX_NAMES[implied]})")


def ethnicity_known(code: str) -> Violation | None:
    if code in codes.ethnicities():
        return None
    return Violation("ethnicity.known", "ethnicity",
                     f"民族 {code} is not a GB/T 3304 民族代码 (01-56, 97 其他未识别民族, 98 外国血统中国籍人士)")


# -- 统一社会信用代码 (GB 32100) and 组织机构代码 (GB 11714) ------------------------------------------

def credit_code_checksum(code: str, field: str = "creditCode") -> Violation | None:
    try:
        expected = codes.credit_code_check_char(code[:17])
    except (ValueError, KeyError, IndexError):
        return Violation("credit_code.checksum", field, f"统一社会信用代码 {code}: uses characters outside "
                         f"{codes.CREDIT_CODE_ALPHABET}")
    if code[17:] != expected:
        return Violation("credit_code.checksum", field,
                         f"统一社会信用代码 {code}: check character (18th) should be {expected}")
    return None


def credit_code_organization_code(code: str, field: str = "creditCode") -> Violation | None:
    """Characters 9-17 are a GB 11714 组织机构代码 whose last character checks the other eight."""
    body, check_char = code[8:16], code[16:17]
    try:
        expected = codes.organization_code_check_char(body)
    except ValueError:
        return Violation("credit_code.organization_code", field,
                         f"统一社会信用代码 {code}: 组织机构代码 {code[8:17]} is not 8 digits or letters "
                         "and a check character")
    if check_char != expected:
        return Violation("credit_code.organization_code", field,
                         f"统一社会信用代码 {code}: its 组织机构代码 {body}-{check_char} (characters 9-17) "
                         f"should end in {expected} (GB 11714 check character)")
    return None


# -- codes, dates and ranges -----------------------------------------------------------------------

def division_code_exists(code: str, field: str, label: str, *, national: bool = False) -> Violation | None:
    """Any code of stdnum's GB/T 2260 table, whatever its years (see ``codes.division_exists``)."""
    if codes.division_exists(code) or (national and code == NATIONAL):
        return None
    also = f" nor {NATIONAL} (全国)" if national else ""
    return Violation("division_code.exists", field, f"{label} {code} is not a GB/T 2260 行政区划代码{also}")


def not_future(value: date, today: date, rule: str, field: str, label: str) -> Violation | None:
    if value > today:
        return Violation(rule, field, f"{label} {value.isoformat()} is after today ({today.isoformat()})")
    return None


def not_negative(value: Decimal, rule: str, field: str, label: str) -> Violation | None:
    if value < 0:
        return Violation(rule, field, f"{label} {value} is negative")
    return None


def period_start(period: str) -> date:
    """First day of a 统计时期: 2024 -> 2024-01-01, 2024-Q3 -> 2024-07-01, 2024-07 -> 2024-07-01."""
    year, _, rest = period.partition("-")
    if rest.startswith("Q"):
        return date(int(year), 3 * int(rest[1:]) - 2, 1)
    return date(int(year), int(rest or 1), 1)


def period_not_future(period: str, today: date) -> Violation | None:
    try:
        start = period_start(period)
    except ValueError:
        return Violation("period.not_future", "period", f"统计时期 {period} is not YYYY, YYYY-Qn or YYYY-MM")
    if start > today:
        return Violation("period.not_future", "period",
                         f"统计时期 {period} has not begun: it starts {start.isoformat()}, "
                         f"today is {today.isoformat()}")
    return None


# -- geometry (GeoJSON-like dicts from Format.decode: positions are [lon, lat]) ------------------

_KIND_GEOMETRY = {"地址点": "Point", "地块": "Polygon", "行政区划": "Polygon"}


def geometry_matches_kind(kind: str, geometry: Mapping[str, Any]) -> Violation | None:
    expected = _KIND_GEOMETRY.get(kind)
    if expected is None or geometry["type"] == expected:
        return None
    return Violation("geometry.matches_kind", "geometry",
                     f"a {kind} has a gml:{expected} geometry, not gml:{geometry['type']}")


def ring_violations(geometry: Mapping[str, Any]) -> Iterator[Violation]:
    """geometry.ring_size and geometry.ring_closed for every ring of a polygon."""
    if geometry["type"] != "Polygon":
        return
    for i, ring in enumerate(geometry["coordinates"]):
        name = "exterior ring" if i == 0 else f"interior ring {i}"
        if len(ring) < 4:
            yield Violation("geometry.ring_size", "geometry", f"the {name} has {len(ring)} positions; a closed "
                            "ring needs at least 4 (three corners and the first one repeated)")
        elif ring[0] != ring[-1]:
            yield Violation("geometry.ring_closed", "geometry",
                            f"the {name} is not closed: it starts at {_lat_lon(ring[0])} but ends at "
                            f"{_lat_lon(ring[-1])} (lat lon); repeat the first position at the end")


def geometry_within_china(geometry: Mapping[str, Any]) -> Violation | None:
    for lon, lat in _all_positions(geometry):
        if not (CHINA_LONGITUDE[0] <= lon <= CHINA_LONGITUDE[1] and CHINA_LATITUDE[0] <= lat <= CHINA_LATITUDE[1]):
            swapped = (CHINA_LONGITUDE[0] <= lat <= CHINA_LONGITUDE[1]
                       and CHINA_LATITUDE[0] <= lon <= CHINA_LATITUDE[1])
            hint = ("; EPSG:4490 writes latitude first - are latitude and longitude swapped?" if swapped else "")
            return Violation("geometry.within_china", "geometry",
                             f"position {_lat_lon([lon, lat])} (lat lon) is outside China (latitude "
                             f"{CHINA_LATITUDE[0]:g}-{CHINA_LATITUDE[1]:g}, longitude "
                             f"{CHINA_LONGITUDE[0]:g}-{CHINA_LONGITUDE[1]:g}){hint}")
    return None


def _all_positions(geometry: Mapping[str, Any]) -> Iterator[list[float]]:
    if geometry["type"] == "Point":
        yield geometry["coordinates"]
    else:
        for ring in geometry["coordinates"]:
            yield from ring


def _lat_lon(position: list[float]) -> str:
    return f"{position[1]:g} {position[0]:g}"


def area_positive(area: Decimal) -> Violation | None:
    if area <= 0:
        return Violation("area.positive", "area", f"面积 {area} m² must be greater than 0")
    return None


# -- per-format rule sets ------------------------------------------------------------------------

def _division(c: _Context, field: str, *, national: bool = False) -> Violation | None:
    code = c.fields.get(field)
    if code is None or codes.division_exists(code):  # the common case, without looking the label up
        return None
    return division_code_exists(code, field, c.label(field), national=national)


def _dated(c: _Context, field: str, rule: str) -> Violation | None:
    value = c.fields.get(field)
    return None if value is None or value <= c.today else not_future(value, c.today, rule, field, c.label(field))


def _population(c: _Context) -> Iterator[Violation | None]:
    f = c.fields
    number = f["idNumber"]
    yield id_number_checksum(number)
    date_problem = id_number_date(number)
    yield date_problem
    if c.settings.id_region_in_birth_year:
        yield id_number_region(number)
    yield _dated(c, "birthDate", "birth_date.not_future")
    if date_problem is None:
        yield birth_date_matches_id(f["birthDate"], number)
    yield sex_matches_id(f["sex"], number)
    yield ethnicity_known(f["ethnicity"])
    yield _division(c, "birthplaceDivision")
    yield _division(c, "domicileDivision")
    yield _dated(c, "statusDate", "status_date.not_future")


def _legal_entity(c: _Context) -> Iterator[Violation | None]:
    f = c.fields
    yield credit_code_checksum(f["creditCode"])
    yield credit_code_organization_code(f["creditCode"])
    yield _dated(c, "foundingDate", "founding_date.not_future")
    if f.get("registeredCapital") is not None:
        yield not_negative(f["registeredCapital"], "registered_capital.non_negative", "registeredCapital",
                           c.label("registeredCapital"))
    yield _division(c, "domicileDivision")
    yield _dated(c, "statusDate", "status_date.not_future")


def _macro_economy(c: _Context) -> Iterator[Violation | None]:
    yield _division(c, "regionCode", national=True)
    yield period_not_future(c.fields["period"], c.today)


def _spatial(c: _Context) -> Iterator[Violation | None]:
    f = c.fields
    geometry = f["geometry"]
    yield _division(c, "divisionCode")
    yield geometry_matches_kind(f["featureKind"], geometry)
    yield from ring_violations(geometry)
    yield geometry_within_china(geometry)
    if f.get("area") is not None:
        yield area_positive(f["area"])


_RULES: dict[str, Callable[[_Context], Iterator[Violation | None]]] = {
    "population": _population,
    "legal_entity": _legal_entity,
    "macro_economy": _macro_economy,
    "spatial": _spatial,
}
