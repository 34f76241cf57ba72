"""What the demo generators share: the manifest, drawing dirt, writing rows, the demo city.

Every generator works the same way: a stream of valid legacy rows, and a separate random
generator that decides for each row whether it gets one kind of dirt (``dirty_rows``). A
"duplicate" is an exact copy of an earlier clean row; a kind that does not apply to the row
drawn (a lower-case check letter on an ID without one) leaves the row clean.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import islice
from pathlib import Path

from sqlalchemy import MetaData, Table, create_engine

from xsd import codes

from ..codes import builtin

#: 临江市 (the demo city) has the GB/T 2260 code of 杭州市; its districts and counties are real.
CITY_DIVISION = "330100"
#: The demo city's extent in EPSG:4490 (longitude, latitude), its urban core.
CITY_LONGITUDE = (119.90, 120.40)
CITY_LATITUDE = (30.10, 30.45)

FULLWIDTH = str.maketrans("0123456789.-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                          "０１２３４５６７８９．－ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ")
INVISIBLE = ("\u200b", "\ufeff", "\u00a0")
_CHUNK = 10_000
_KEPT = 1000  # clean rows remembered as originals for duplicates

Soil = Callable[[str, dict[str, object], random.Random], bool]


@dataclass(frozen=True)
class Manifest:
    """What was generated: ``rows`` in ``table`` at ``url``, and how many carry each kind of dirt.

    For a workbook, ``url`` is the file's path and ``table`` its sheet.
    """

    url: str
    table: str
    rows: int
    seed: int
    counts: dict[str, int] = field(default_factory=dict)
    #: source row numbers (0-based, insertion order) per kind, for tests that look at single rows
    rows_by_kind: dict[str, list[int]] = field(default_factory=dict, repr=False)
    #: rows about a record another department's source also holds (民政局's people in 公安局's
    #: registry), copies of such rows not counted
    shared: int = 0

    @property
    def clean(self) -> int:
        return self.rows - sum(self.counts.values())


def check_kinds(dirt: Mapping[str, float], known: Iterable[str]) -> None:
    unknown = set(dirt) - set(known)
    if unknown:
        raise ValueError(f"unknown dirt kinds {', '.join(sorted(unknown))}; known: {', '.join(known)}")


def draw(rng: random.Random, kinds: Sequence[tuple[str, float]]) -> str | None:
    """One kind of dirt at its rate, or None (most rows)."""
    roll = rng.random()
    for kind, rate in kinds:
        if roll < rate:
            return kind
        roll -= rate
    return None


def dirty_rows(n: int, seed: int, dirt: Mapping[str, float], rows: Iterator[dict[str, object]],
               soil: Soil) -> Iterator[tuple[str | None, dict[str, object]]]:
    """``n`` (dirt kind or None, row) pairs: ``rows`` with ``soil(kind, row, rng)`` applied at the rates."""
    rng = random.Random(f"dirt-{seed}")
    kinds = list(dirt.items())
    kept: list[dict[str, object]] = []
    for _ in range(n):
        kind = draw(rng, kinds)
        if kind == "duplicate" and kept:
            yield kind, dict(rng.choice(kept))
            continue
        row = next(rows)
        if kind and kind != "duplicate" and soil(kind, row, rng):
            yield kind, row
            continue
        if len(kept) < _KEPT:
            kept.append(row)
        yield None, row


class Tally:
    """Counts the dirt of (kind, row) pairs while passing the rows on: ``tally.rows(pairs)``."""

    def __init__(self, dirt: Mapping[str, float]) -> None:
        self.counts = dict.fromkeys(dirt, 0)
        self.rows_by_kind: dict[str, list[int]] = {kind: [] for kind in dirt}

    def rows(self, pairs: Iterable[tuple[str | None, dict[str, object]]]) -> Iterator[dict[str, object]]:
        for number, (kind, row) in enumerate(pairs):
            if kind:
                self.counts[kind] += 1
                self.rows_by_kind[kind].append(number)
            yield row

    def manifest(self, url: str, table: str, rows: int, seed: int, shared: int = 0) -> Manifest:
        return Manifest(url, table, rows, seed, self.counts, self.rows_by_kind, shared)


def write_table(url: str, metadata: MetaData, table: Table, rows: Iterable[dict[str, object]]) -> None:
    """(Re)create ``table`` at ``url`` (a missing SQLite folder is made) and insert ``rows`` in chunks."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    rows = iter(rows)
    try:
        metadata.drop_all(engine, tables=[table])
        metadata.create_all(engine, tables=[table])
        with engine.begin() as conn:
            while chunk := list(islice(rows, _CHUNK)):
                conn.execute(table.insert(), chunk)
    finally:
        engine.dispose()


def write_workbook(path: Path, sheet: str, header: Sequence[str], rows: Iterable[dict[str, object]]) -> None:
    """An XLSX workbook with one sheet: ``header`` in the first row, then ``rows``."""
    from openpyxl import Workbook

    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet)
    ws.append(list(header))
    for row in rows:
        ws.append([row.get(column) for column in header])
    book.save(path)


@cache
def city_counties() -> tuple[str, ...]:
    """The current districts and counties of the demo city (3301xx), without 市辖区."""
    return tuple(code for code, names in sorted(codes.divisions().items())
                 if code.startswith(CITY_DIVISION[:4]) and code != CITY_DIVISION and names[-1].last_year is None
                 and names[-1].name not in ("市辖区", "县"))


def full_name(code: str) -> str:
    """浙江省杭州市上城区 for 330102 (北京市朝阳区 for 110105: a 直辖市 has no prefecture name)."""
    parts = (code[:2] + "0000", code[:4] + "00", code)
    names = [codes.division_name(p) for p in dict.fromkeys(parts)]
    return "".join(n for n in names if n and n not in ("市辖区", "县"))


def pad(value: object, rng: random.Random) -> str:
    """``value`` with stray whitespace around it, as typed into old forms."""
    return rng.choice([" ", "  ", "\t", "\u3000"]) + str(value) + rng.choice(["", " ", "   "])


def hide(value: object, rng: random.Random) -> str:
    """``value`` with an invisible character in it (zero-width space inside; BOM or NBSP at an end)."""
    text = str(value)
    char = rng.choice(INVISIBLE)
    # NBSP only at the ends: inside a name it is a real (if odd) space, not dirt
    at = rng.randrange(1, len(text)) if char == "\u200b" and len(text) > 1 else rng.choice([0, len(text)])
    return text[:at] + char + text[at:]


def division_name_for(code: str, rng: random.Random) -> str | None:
    """A name clerks would type for ``code`` (上城区, 浙江省杭州市上城区) that still maps back to it, or None."""
    table = builtin("division")
    names = [n for n in (codes.division_name(code), full_name(code)) if n]
    rng.shuffle(names)
    return next((n for n in names if table.lookup(n) == code), None)
