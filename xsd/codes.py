"""National code tables and check characters the formats rely on.

- 行政区划代码 (GB/T 2260): the table python-stdnum ships (``stdnum/cn/loc.dat``, the one its
  ``stdnum.cn.ric`` birthplace check reads through ``stdnum.numdb``), with each code's
  validity years. It holds province (330000), prefecture (330100) and county (330102) codes
  back to 1980, and the codes of 台湾省, 香港 and 澳门. Lines look like::

      33 province="浙江省"
        0100 county="杭州市"
        0101 county="[1983-]市辖区"
        0110 county="[-1991]东郊区,[1992-]东丽区"

- 民族代码 (GB/T 3304): read from the ``EthnicityCodeList`` enumeration of ``common.xsd``,
  so the schema stays the one place that lists the codes.
- Check characters: GB 11643 (ID numbers, via ``stdnum.cn.ric``), GB 32100 (credit codes, via
  ``stdnum.cn.uscc``) and GB 11714 (the organisation code inside a credit code, which stdnum
  does not check).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lxml import etree
from stdnum import numdb
from stdnum.cn import ric, uscc

HERE = Path(__file__).resolve().parent
XSD = "http://www.w3.org/2001/XMLSchema"

#: GB/T 2261.1 性别代码 names
SEX_NAMES = {"0": "未知的性别", "1": "男性", "2": "女性", "9": "未说明的性别"}

#: The alphabet of GB 32100 (digits and upper-case letters without I, O, S, V, Z).
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

_GB11714_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_VALIDITY = re.compile(r"^\[(\d*)-(\d*)\](.*)$")


@dataclass(frozen=True)
class DivisionName:
    """One name a GB/T 2260 code carried, and the years it carried it (None: open-ended)."""

    name: str
    first_year: int | None
    last_year: int | None


@cache
def divisions() -> dict[str, tuple[DivisionName, ...]]:
    """Every GB/T 2260 code in stdnum's table -> the names it carried over time."""
    table: dict[str, tuple[DivisionName, ...]] = {}
    for _length, low, high, props, children in numdb.get("cn/loc").prefixes:
        for province in _expand(low, high):
            for _clength, clow, chigh, cprops, _ in children:
                for county in _expand(clow, chigh):
                    table[province + county] = tuple(_names(cprops.get("county") or props["province"]))
    return table


def _expand(low: str, high: str) -> list[str]:
    width = len(low)
    return [str(n).zfill(width) for n in range(int(low), int(high) + 1)]


def _names(value: str) -> list[DivisionName]:
    names = []
    for part in value.split(","):
        match = _VALIDITY.match(part)
        if match is None:
            names.append(DivisionName(part, None, None))
        else:
            first, last, name = match.groups()
            names.append(DivisionName(name, int(first) if first else None, int(last) if last else None))
    return names


def division_exists(code: str) -> bool:
    """True if ``code`` is in the GB/T 2260 table, whatever the years it was valid.

    Any year, because records carry historical codes legitimately: a person born in 1985 has
    the birthplace code of 1985, an entity keeps the code of its founding.
    """
    return code in divisions()


def division_name(code: str) -> str | None:
    """The latest name of a GB/T 2260 code (e.g. 330102 -> 上城区), None if unknown."""
    names = divisions().get(code)
    return names[-1].name if names else None


@cache
def ethnicities() -> dict[str, str]:
    """GB/T 3304 民族代码 -> name, from the ``EthnicityCodeList`` type of common.xsd."""
    return code_names("EthnicityCodeList")


@cache
def code_names(type_name: str) -> dict[str, str]:
    """Code -> name of an enumerated code type of common.xsd (``SexCode``, ``EthnicityCodeList``,
    ``MaritalStatusCode``): each enumeration's documentation is its name."""
    tree = etree.parse(str(HERE / "common.xsd"))
    ns = {"xsd": XSD}
    return {
        e.get("value"): e.findtext("xsd:annotation/xsd:documentation", namespaces=ns).strip()
        for e in tree.iterfind(f"xsd:simpleType[@name='{type_name}']//xsd:enumeration", ns)
    }


#: GB/T 4658-2006 学历代码: the groups (common.xsd's ``EducationCode``); a code within a group
#: (21 大学本科毕业, 23 大学本科肄业, ...) is named by its group
EDUCATION_GROUPS = {"10": "研究生", "20": "大学本科", "30": "大学专科", "40": "中等专科", "60": "普通高级中学",
                    "70": "初级中学", "80": "小学", "90": "其他"}


def education_name(code: str) -> str | None:
    """The 学历 group of a GB/T 4658 code (20 -> 大学本科, 21 -> 大学本科), None if it has none."""
    return EDUCATION_GROUPS.get(code) or (EDUCATION_GROUPS.get(code[0] + "0") if len(code) == 2 else None)


def id_check_digit(first17: str) -> str:
    """GB 11643 (ISO 7064 MOD 11-2) check digit for the first 17 digits of an ID number."""
    return ric.calc_check_digit(first17 + "?")


def credit_code_check_char(first17: str) -> str:
    """GB 32100 check character (18th) for the first 17 characters of a credit code."""
    return uscc.calc_check_digit(first17)


def organization_code_check_char(body: str) -> str:
    """GB 11714 check character of the 8-character body of an organisation code (组织机构代码).

    C9 = 11 - (sum of value * weight mod 11), value 0-9 for digits and 10-35 for A-Z,
    weights 3 7 9 10 5 8 4 2; 10 is written X and 11 is written 0.
    """
    total = sum(int(ch, 36) * w for ch, w in zip(body, _GB11714_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))
