"""Masking (脱敏): how sensitive fields look to a consumer department.

    id_number   330102199001021235 -> 330102********1235   (first 6 and last 4 kept)
    phone       13812345678        -> 138****5678          (first 3 and last 4 kept)
    name        欧阳娜娜            -> 欧***                 (the first character kept)
    full        anything           -> every character a *
    none        shown as it is

The method of a field is the resource's own ``MaskingRule`` if its provider set one
(``govshare sharing mask``), else the default by field name below: ID numbers and phone
numbers are masked, names are not (a resource that needs it sets ``name``).  The standard
formats (xsd/) name their ID numbers ``idNumber``; phone fields appear in departments' own
formats, recognised by name (``phone``, ``mobile``, ``telephone``, ``联系电话``, ...).

A masked value no longer matches its XSD pattern: a consumer's records are a view of the
standard format (granted fields only, sensitive ones masked), not records to load as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from registry.models import MaskingRule

NONE, ID_NUMBER, PHONE, NAME, FULL = "none", "id_number", "phone", "name", "full"
#: each method as the portal names it
LABELS = {NONE: "不脱敏", ID_NUMBER: "证件号脱敏", PHONE: "电话脱敏", NAME: "姓名脱敏", FULL: "全部遮盖"}


def mask_id_number(value: str) -> str:
    if len(value) <= 10:
        return mask_full(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    if len(value) <= 7:  # a short landline number: only its last 4 digits
        return mask_full(value) if len(value) <= 4 else "*" * (len(value) - 4) + value[-4:]
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str) -> str:
    return value[:1] + "*" * (len(value) - 1) if value else value


def mask_full(value: str) -> str:
    return "*" * len(value)


METHODS: dict[str, Callable[[str], str] | None] = {
    NONE: None, ID_NUMBER: mask_id_number, PHONE: mask_phone, NAME: mask_name, FULL: mask_full,
}

_ID_RE = re.compile(r"(^|_)id_?number$|idcard|身份号码|身份证", re.IGNORECASE)
_PHONE_RE = re.compile(r"phone|mobile|telephone|(^|_)tel$|电话|手机", re.IGNORECASE)


@lru_cache(maxsize=4096)
def default_method(name: str) -> str:
    """The masking of a field no rule names, by the field's name."""
    if _ID_RE.search(name):
        return ID_NUMBER
    if _PHONE_RE.search(name):
        return PHONE
    return NONE


_RULES_OF = select(MaskingRule.field, MaskingRule.method).where(MaskingRule.entry_id == bindparam("entry_id"))


def rules_of(session: Session, entry_id: int) -> dict[str, str]:
    """The masking rules a resource's provider set: field -> method."""
    rows = session.execute(_RULES_OF, {"entry_id": entry_id})
    return {name: method for name, method in rows}


def apply(method: str, value: object) -> object:
    """``value`` masked by ``method``; values that are not text (dates, numbers) are shown as they are."""
    mask = METHODS.get(method)
    if mask is None or not isinstance(value, str):
        return value
    return mask(value)


@dataclass(frozen=True)
class Masking:
    """The masking one consumer sees for one resource: the provider's rules, then the defaults."""

    rules: Mapping[str, str] = field(default_factory=dict)
    clear: frozenset[str] = frozenset()  # fields a grant shows this consumer unmasked

    def method(self, name: str) -> str:
        if name in self.clear:
            return NONE
        return self.rules.get(name) or default_method(name)

    def masks(self, name: str) -> bool:
        return self.method(name) != NONE

    def value(self, name: str, value: object) -> object:
        return apply(self.method(name), value)

    def record(self, fields: Mapping[str, object]) -> dict[str, object]:
        methods = self._methods
        out = {}
        for name, value in fields.items():
            method = methods.get(name)
            if method is None:
                method = methods[name] = self.method(name)
            out[name] = value if method == NONE or not isinstance(value, str) else apply(method, value)
        return out

    @property
    def _methods(self) -> dict[str, str]:
        """The method of each field met so far (a record page asks the same fields again and again)."""
        found = self.__dict__.get("_seen")
        if found is None:
            found = {}
            object.__setattr__(self, "_seen", found)
        return found
