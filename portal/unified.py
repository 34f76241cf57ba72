"""How the portal shows a record's values: a code with its name from the standard's table.

    shown("{…/population/1.0}Person", "sex", "2")                 -> "女性 (2)"
    shown("{…/population/1.0}Person", "ethnicity", "01")          -> "汉族 (01)"
    shown("{…/population/1.0}Person", "maritalStatus", "10")      -> "未婚 (10)"
    shown("{…/population/1.0}Person", "education", "21")          -> "大学本科 (21)"
    shown("{…/population/1.0}Person", "domicileDivision", "330102") -> "上城区 (330102)"

A field's code table follows from its type in the format's schema (``c:SexCode`` is GB/T
2261.1, ``c:EthnicityCode`` GB/T 3304, ``c:MaritalStatusCode`` GB/T 2261.2, ``c:EducationCode``
GB/T 4658, ``c:DivisionCode`` GB/T 2260: :mod:`xsd.codes`).  A masked value (``3301**``), a value
of no table and a code the table does not know are shown as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from xsd import codes
from xsd.registry import find

#: a code type of common.xsd -> the name of one of its codes (None when the table lacks it)
NAMES: dict[str, Callable[[str], str | None]] = {
    "SexCode": lambda code: codes.code_names("SexCode").get(code),
    "EthnicityCode": lambda code: codes.ethnicities().get(code),
    "MaritalStatusCode": lambda code: codes.code_names("MaritalStatusCode").get(code),
    "EducationCode": codes.education_name,
    "DivisionCode": codes.division_name,
}


@cache
def _field_types(record_type: str) -> dict[str, str]:
    """Field -> the local name of its type in the format's schema."""
    fmt = find(record_type)
    if fmt is None:
        return {}
    element = fmt.xmlschema.elements[fmt.qname.split("}")[-1]]
    return {child.local_name: child.type.local_name or "" for child in element.type.content.iter_elements()}


def shown(record_type: str, field: str, value: Any) -> str:
    """``value`` of ``field`` as a person reads it: a code with its name."""
    text = "" if value is None else str(value)
    name_of = NAMES.get(_field_types(record_type).get(field, ""))
    if name_of is None or not text or "*" in text:
        return text
    name = name_of(text)
    return f"{name} ({text})" if name else text
