"""Cleaning steps (清洗): small single-purpose functions that turn a legacy value into a clean one.

An adapter file names the steps per field, and they run left to right after the column is read
and before the code table is applied::

    [fields.idNumber]
    column = "GMSFHM"
    clean = ["invisible", "halfwidth", "strip", "nospace", "upper"]

    " ３３０１０２１９９００１０２１２３ｘ\\u200b"  ->  "33010219900102123X"
    "1990年1月2日" --date-->  date(1990, 1, 2)
    "12,345.60"    --number-->  Decimal("12345.60")
    "2023年第一季度" --period-->  "2023-Q1"
    "POLYGON((120.1 30.2, 120.2 30.2, 120.2 30.3, 120.1 30.2))" --wkt-->  {"type": "Polygon", ...}
    "120.15 30.28" --point-->  {"type": "Point", "coordinates": [120.15, 30.28]}

Every step takes a value (``None``, ``str``, or whatever the database driver returned) and
returns the cleaned value; ``None`` passes through untouched. A value a step cannot make
sense of raises ``CleaningError`` with a rule name (``date.format``), which the mapping
reports as a problem of stage "clean" - a step never guesses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from registry.clock import CHINA

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


# A plain number, or one grouped in thousands by commas or spaces; a lone comma is refused:
# "1,234" is a thousand and more, but "1,23" may be a decimal comma, and a step never guesses.
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_GROUPED_NUMBER = re.compile(r"[+-]?\d{1,3}([, ]\d{3})+(\.\d*)?")


def to_number(value: object) -> object:
    """'12,345.60', '12 345.60', '-3.5', '１２３' (after halfwidth) -> Decimal; driver numbers too.

    Statistics tables and registers keep amounts as text, grouped in thousands; a value like
    '—' or '1,23' raises ``number.format``. A float is taken by its shortest repr (0.1, not
    0.1000000000000000055...).
    """
    if value is None or value.__class__ is Decimal:
        return value
    if isinstance(value, bool):
        raise CleaningError("number.format", f"{value!r} is not a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    text = str(value).strip()
    if _GROUPED_NUMBER.fullmatch(text):
        text = text.replace(",", "").replace(" ", "")
    elif not _PLAIN_NUMBER.fullmatch(text):
        raise CleaningError("number.format", f"{text!r} is not a number (12345.6, 12,345.6)")
    return Decimal(text)


_CHINESE_QUARTERS = {"一": "1", "二": "2", "三": "3", "四": "4"}
_YEAR = re.compile(r"(\d{4})(?:年度?)?")
_QUARTER = re.compile(r"(\d{4})(?:年|[-./])?(?:第?([1-4一二三四])季度?|[Qq]([1-4]))")
_MONTH = re.compile(r"(\d{4})(?:年(\d{1,2})月(?:份)?|[-./](\d{1,2})|(\d{2}))")


def to_period(value: object) -> object:
    """A statistical period (统计时期) -> '2023', '2023-Q1' or '2023-03' as the macro-economy format writes it.

    '2023年', '2023年度' -> '2023'; '2023年第一季度', '2023年1季度', '2023Q1', '2023-Q1' -> '2023-Q1';
    '2023年3月', '2023-3', '2023.03', '202303' -> '2023-03'. A year as a number (2023) is a year.
    """
    if value is None:
        return None
    text = re.sub(r"\s+", "", str(value))
    if _YEAR.fullmatch(text):
        return text[:4]
    quarter = _QUARTER.fullmatch(text)
    if quarter:
        number = quarter[2] or quarter[3]
        return f"{quarter[1]}-Q{_CHINESE_QUARTERS.get(number, number)}"
    month = _MONTH.fullmatch(text)
    if month:
        number = int(month[2] or month[3] or month[4])
        if not 1 <= number <= 12:
            raise CleaningError("period.invalid", f"{text!r}: there is no month {number}")
        return f"{month[1]}-{number:02d}"
    raise CleaningError("period.format", f"{text!r} is not a period (2023, 2023年第一季度, 2023-Q1, 2023年3月, 202303)")


_WKT = re.compile(r"(POINT|POLYGON)\s*(\(.*\))", re.IGNORECASE | re.DOTALL)
_RING = re.compile(r"\(([^()]*)\)")


def _position(text: str, source: object) -> list[float]:
    parts = text.replace(",", " ").split()
    try:
        if len(parts) != 2:
            raise ValueError
        return [float(parts[0]), float(parts[1])]
    except ValueError:
        raise CleaningError("geometry.format", f"{source!r}: {text.strip()!r} is not a position "
                            "(longitude latitude)") from None


def to_wkt_geometry(value: object) -> object:
    """Well-known text (WKT) -> the geometry dict of the spatial format (GeoJSON-like).

    ``POINT (lon lat)`` and ``POLYGON ((lon lat, ...), (...))``, x before y as GIS software writes
    WKT (longitude first, whatever axis order EPSG:4490 itself declares). Whether positions lie
    in China and rings close is for validation (geometry.within_china, geometry.ring_closed)::

        "POINT (120.15 30.28)" -> {"type": "Point", "coordinates": [120.15, 30.28]}
    """
    if value is None or isinstance(value, dict):
        return value
    text = str(value).strip()
    match = _WKT.fullmatch(text)
    if match is None:
        raise CleaningError("geometry.format", f"{text[:60]!r} is not a WKT POINT or POLYGON")
    kind, body = match[1].upper(), match[2]
    if kind == "POINT":
        inner = _RING.fullmatch(body)
        if inner is None:
            raise CleaningError("geometry.format", f"{text[:60]!r}: a POINT is POINT (lon lat)")
        return {"type": "Point", "coordinates": _position(inner[1], text[:60])}
    outer = body[1:-1].strip()
    rings = _RING.findall(outer)
    if not rings or _RING.sub("", outer).replace(",", "").strip():
        raise CleaningError("geometry.format", f"{text[:60]!r}: a POLYGON is POLYGON ((lon lat, ...), ...)")
    return {"type": "Polygon",
            "coordinates": [[_position(p, text[:60]) for p in ring.split(",")] for ring in rings]}


def to_point(value: object) -> object:
    """'120.15 30.28' or '120.15,30.28' (longitude, latitude) -> a Point geometry dict.

    For sources that keep a point as two columns: join them with a template
    (``{ template = "{JD} {WD}", clean = ["point"] }``).
    """
    if value is None or isinstance(value, dict):
        return value
    return {"type": "Point", "coordinates": _position(str(value), value)}


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
    "number": to_number,
    "period": to_period,
    "wkt": to_wkt_geometry,
    "point": to_point,
}

#: The steps that are character tables, so that runs of them can be fused into one translate.
TRANSLATIONS: dict[str, dict[int, str | None]] = {
    "invisible": _INVISIBLE_TABLE,
    "halfwidth": _HALFWIDTH_TABLE,
}
