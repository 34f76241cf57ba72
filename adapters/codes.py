"""Code tables (代码表): legacy department codes -> the national codes of the standard formats.

A code table maps a cleaned legacy value to a standard code, or says it cannot. Adapter files
define their own tables inline (legacy status codes) or name a built-in one::

    [codes]
    sex = "builtin:sex"              # '男', 'M', '1', 'male' -> '1'   (GB/T 2261.1)
    ethnicity = "builtin:ethnicity"  # '汉', '汉族', '01' -> '01'      (GB/T 3304)
    division = "builtin:division"    # '上城区', '浙江省杭州市上城区', '330102' -> '330102' (GB/T 2260)

    [codes.status]                   # 人员状态 of the 公安局's 户籍 system
    "10" = "正常"
    "20" = "迁出"

    builtin("sex").lookup("Ｍ".lower())  ->  None   (tables see values after cleaning)
    builtin("sex").lookup("male")        ->  "1"

Built-in tables:

- ``sex``: GB/T 2261.1 - 1 男性, 2 女性, 0 未知的性别 (the sex is not known: '未知', 'U'),
  9 未说明的性别 (known but not stated: '未说明', '不详' as legacy forms use it).
- ``ethnicity``: GB/T 3304 names with and without 族 (汉族, 汉), and the codes themselves,
  read from ``xsd.codes.ethnicities()`` so the schema stays the one list.
- ``division``: GB/T 2260 codes, county names where unique in the country, and full names
  (浙江省杭州市上城区, 杭州市上城区), each also without its 省/市/区/县 suffix. Names shared by
  several places (鼓楼区 is in four cities) are ambiguous and left unmapped rather than guessed.
- ``person_status``: 人员状态 names of the population format and common synonyms (在册 -> 正常).
- ``marital_status``: GB/T 2261.2 婚姻状况 - 10 未婚, 20 已婚 (21 初婚, 22 再婚, 23 复婚), 30 丧偶,
  40 离婚, 90 未说明; from the codes, the names and the synonyms registers use (离异, 有配偶).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache

from xsd import codes as national

BUILTIN_PREFIX = "builtin:"


@dataclass(frozen=True)
class CodeTable:
    """One code table: ``lookup`` gives the standard code of a legacy value, or None."""

    name: str
    entries: Mapping[str, str]
    #: turns a value into the form the entries are keyed by (case, suffixes)
    normalize: Callable[[str], str] = str
    #: keys that name several codes; reported as ambiguous instead of unmapped
    ambiguous: frozenset[str] = field(default_factory=frozenset)

    def lookup(self, value: object) -> str | None:
        return self.entries.get(self.normalize(str(value)))

    def explain(self, value: object) -> str:
        """Why ``value`` has no code, for the problem message."""
        if self.normalize(str(value)) in self.ambiguous:
            return f"{value!r} names several codes in code table {self.name}; give the code or the full name"
        return f"{value!r} is not in code table {self.name}"


def inline(name: str, entries: Mapping[str, str]) -> CodeTable:
    """A table defined in an adapter file: exact matches on the cleaned value."""
    return CodeTable(name, dict(entries))


def builtin_names() -> tuple[str, ...]:
    return tuple(_BUILTINS)


def builtin(name: str) -> CodeTable:
    """The built-in table ``name`` (``sex``, ``ethnicity``, ``division``, ``person_status``, ``marital_status``)."""
    return _BUILTINS[name]()


# -- 性别 GB/T 2261.1 ------------------------------------------------------------------------------

_SEX = {
    "1": "1", "男": "1", "男性": "1", "m": "1", "male": "1",
    "2": "2", "女": "2", "女性": "2", "f": "2", "female": "2",
    "0": "0", "未知": "0", "未知的性别": "0", "u": "0", "unknown": "0",
    "9": "9", "未说明": "9", "未说明的性别": "9", "不详": "9",
}


@cache
def _sex() -> CodeTable:
    return CodeTable("builtin:sex", _SEX, normalize=str.lower)


# -- 民族 GB/T 3304 --------------------------------------------------------------------------------

@cache
def _ethnicity() -> CodeTable:
    entries: dict[str, str] = {}
    for code, name in national.ethnicities().items():
        entries[code] = code
        entries[name] = code
        # 汉族 -> 汉; but 其他 / 外国血统中国籍人士 have no 族 to drop
        if name.endswith("族"):
            entries[name[:-1]] = code
    return CodeTable("builtin:ethnicity", entries)


# -- 行政区划 GB/T 2260 ----------------------------------------------------------------------------

_SUFFIXES = ("省", "市", "区", "县")
# groupings of GB/T 2260, not places: never a name to map to
_PLACEHOLDERS = {"市辖区", "县", "市区", "郊区", "省直辖县级行政区划", "自治区直辖县级行政区划",
                 "省直辖行政单位", "省直辖县级行政单位"}


def _division_key(name: str) -> str:
    """上城区 -> 上城, 浙江省 -> 浙江; two-character names keep their suffix (东区 stays)."""
    if len(name) > 2 and name.endswith(_SUFFIXES):
        return name[:-1]
    return name


def _division_names(code: str, names: tuple[national.DivisionName, ...]) -> list[tuple[str, bool]]:
    """(name, current) pairs a code is known by: its own names and its full names."""
    province = national.division_name(code[:2] + "0000")
    prefecture = national.division_name(code[:4] + "00") if code[2:4] != "00" else None
    found = []
    for entry in names:
        if entry.name in _PLACEHOLDERS:
            continue
        current = entry.last_year is None
        found.append((entry.name, current))
        if code[4:] != "00" and prefecture and prefecture not in _PLACEHOLDERS:
            found.append((prefecture + entry.name, current))
            found.append((province + prefecture + entry.name, current))
        if code[2:] != "0000" and province:
            found.append((province + entry.name, current))
    return found


@cache
def _division() -> CodeTable:
    current: dict[str, set[str]] = {}
    historical: dict[str, set[str]] = {}
    for code, names in national.divisions().items():
        for name, is_current in _division_names(code, names):
            (current if is_current else historical).setdefault(_division_key(name), set()).add(code)
    entries: dict[str, str] = {}
    ambiguous: set[str] = set()
    # a name in use today means today's place; an old name counts only if nothing uses it now
    for key, found in [*current.items(), *((k, v) for k, v in historical.items() if k not in current)]:
        if len(found) == 1:
            entries[key] = next(iter(found))
        else:
            ambiguous.add(key)
    entries.update((code, code) for code in national.divisions())
    return CodeTable("builtin:division", entries, normalize=_division_key, ambiguous=frozenset(ambiguous))


# -- 人员状态 (population format) -------------------------------------------------------------------

_PERSON_STATUS = {
    "正常": "正常", "在册": "正常", "迁出": "迁出", "已迁出": "迁出",
    "死亡": "死亡", "已死亡": "死亡", "注销": "注销", "已注销": "注销",
}


@cache
def _person_status() -> CodeTable:
    return CodeTable("builtin:person_status", _PERSON_STATUS)


# -- 婚姻状况 GB/T 2261.2 -----------------------------------------------------------------------------

_MARITAL_STATUS = {
    "10": "10", "未婚": "10",
    "20": "20", "已婚": "20", "有配偶": "20",
    "21": "21", "初婚": "21", "22": "22", "再婚": "22", "23": "23", "复婚": "23",
    "30": "30", "丧偶": "30",
    "40": "40", "离婚": "40", "离异": "40",
    "90": "90", "未说明": "90", "未说明的婚姻状况": "90",
}


@cache
def _marital_status() -> CodeTable:
    return CodeTable("builtin:marital_status", _MARITAL_STATUS)


_BUILTINS: dict[str, Callable[[], CodeTable]] = {
    "sex": _sex,
    "ethnicity": _ethnicity,
    "division": _division,
    "person_status": _person_status,
    "marital_status": _marital_status,
}
