"""The export file of the submit measurement: a CSV of 人口基础信息 records as a department's
system writes it, a header of the ``Person`` format's field names and a record per row::

    idNumber,name,sex,ethnicity,birthDate,birthplaceDivision,domicileDivision,domicileAddress,...
    532932196811127420,高桂芝,2,01,1968-11-12,532932,532932,云南省大理白族自治州鹤庆县李路567号,...

The rows are ``xsd.samples.population_fields`` records (valid, distinct ID numbers), their
values written as the format encodes them (dates ISO 8601); an absent optional field is an
empty cell, which the client leaves out of the record.  ``skip`` records of the same draw are
passed over first: the batches of the baseline measurement (``bench.exchange.workload.batches``
with the same seed) hold exactly those, so no row of the file repeats a record the platform has.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from bench.exchange.workload import PERSON
from xsd import registry, samples

#: the Person fields population_fields draws, in the XSD's order (formerName it never gives)
COLUMNS = tuple(f.name for f in registry.lookup(PERSON).fields if f.name != "formerName")


def _cell(value: object) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, date) else str(value)


def write_population_csv(path: Path, rows: int, *, seed: int, skip: int = 0) -> int:
    """Write ``rows`` records to ``path``; its size in bytes."""
    draw = samples.population_fields(skip + rows, seed)
    for _ in range(skip):
        next(draw)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows([_cell(fields[c]) for c in COLUMNS] for fields in draw)
    return path.stat().st_size
