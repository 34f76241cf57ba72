"""Cleaning steps (清洗): small single-purpose functions that turn a legacy value into a clean one.

An adapter file names the steps per field, and they run left to right after the column is read
and before the code table is applied::

    [fields.idNumber]
    column = "GMSFHM"
    clean = ["invisible", "halfwidth", "strip", "nospace", "upper"]

    " ３３０１０２１９９００１０２１２３ｘ\\u200b"  ->  "33010219900102123X"
    "1990年1月2日" --date-->  date(1990, 1, 2)

Every step takes a value (``None``, ``str``, or whatever the database driver returned) and
returns the cleaned value; ``None`` passes through untouched. A value a step cannot make
sense of raises ``CleaningError`` with a rule name (``date.format``), which the mapping
reports as a problem of stage "clean" - a step never guesses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime

from xsd.rules import CHINA

Step = Callable[[object], object]


class CleaningError(ValueError):
    """A value a step cannot clean; ``rule`` names what was wrong (``date.format``)."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


# Zero-width space/joiners, word joiner, BOM, soft hyphen: copy-paste from Word and web forms
# leaves them inside names and numbers where nobody can see them.
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
# Spaces that str.strip() keeps or that break equality: NBSP, ideographic space, narrow NBSP.
ODD_SPACES = "\u00a0\u3000\u202f"

_INVISIBLE_TABLE = str.maketrans({**dict.fromkeys(INVISIBLE, None), **dict.fromkeys(ODD_SPACES, " ")})
# Full-width ASCII (U+FF01-U+FF5E) sits at a fixed offset from ASCII; the ideographic space
# is the full-width space.
_HALFWIDTH_TABLE = str.maketrans({**{chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}, "\u3000": " "})
_WHITESPACE = re.compile(r"\s+")


def strip(value: object) -> object:
    """Leading and trailing whitespace removed (also the ideographic space U+3000)."""
    return value.strip() if isinstance(value, str) else value


def invisible(value: object) -> object:
    """Zero-width characters and BOMs removed; NBSP and other odd spaces become plain spaces."""
    return value.translate(_INVISIBLE_TABLE) if isinstance(value, str) else value


def halfwidth(value: object) -> object:
    """Full-width digits, letters and punctuation (３３０１ｘ) -> ASCII (3301x)."""
    return value.translate(_HALFWIDTH_TABLE) if isinstance(value, str) else value


def nospace(value: object) -> object:
    """Every whitespace removed: codes and numbers typed in groups ("330102 1990 0102 123X")."""
    return _WHITESPACE.sub("", value) if isinstance(value, str) else value


def upper(value: object) -> object:
    """Upper case: the ID check letter x -> X, credit codes typed in lower case."""
    return value.upper() if isinstance(value, str) else value


def blank(value: object) -> object:
    """An empty or all-whitespace string -> None (the field is then absent)."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_COMPACT_DATE = re.compile(r"\d{8}")


def to_date(value: object) -> object:
    """'1990-01-02', '1990/1/2', '1990.1.2', '19900102', '1990年1月2日' -> date(1990, 1, 2).

    A datetime (a DATE column read by Oracle drivers) gives its date part; a date passes.
    """
    if value is None or value.__class__ is date:
        return value
    if isinstance(value, datetime):
        return value.date()
    text = str(value).strip()
    if _COMPACT_DATE.fullmatch(text):
        parts = int(text[:4]), int(text[4:6]), int(text[6:])
    else:
        match = _DATE.fullmatch(text)
        if match is None:
            raise CleaningError("date.format", f"{text!r} is not a date (1990-01-02, 1990/1/2, 19900102, 1990年1月2日)")
        parts = int(match[1]), int(match[2]), int(match[3])
    try:
        return date(*parts)
    except ValueError as exc:
        raise CleaningError("date.invalid", f"{text!r} is not a calendar date: {exc}") from None


def to_datetime(value: object) -> object:
    """ISO 8601 text or a driver datetime -> datetime; a naive one is taken as China time.

    Legacy department databases store local time (Asia/Shanghai, no DST) without an offset.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(text.replace("/", "-"))
        except ValueError:
            raise CleaningError("datetime.format", f"{text!r} is not a date and time (2024-05-01 09:30:00)") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=CHINA)


#: The steps an adapter file may name, by name.
STEPS: dict[str, Step] = {
    "strip": strip,
    "invisible": invisible,
    "halfwidth": halfwidth,
    "nospace": nospace,
    "upper": upper,
    "blank": blank,
    "date": to_date,
    "datetime": to_datetime,
}

#: The steps that are character tables, so that runs of them can be fused into one translate.
TRANSLATIONS: dict[str, dict[int, str | None]] = {
    "invisible": _INVISIBLE_TABLE,
    "halfwidth": _HALFWIDTH_TABLE,
}
