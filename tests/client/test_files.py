"""Export files as departments have them (client.files): CSV and XLSX with a header row of a
standard format's field names, in any order, matched against the platform's own schemas; read a
record at a time, with how far the reading has got; wrong headers and rows named by row and column.
Then sent through the library and the command line to a server requiring WS-Security, a run
broken off and resumed from its journal."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from client.exchange import Exchange
from client.files import FORMAT_SCHEMAS, TYPE_SCHEMAS, FileError, RecordFile, shapes_from
from tests.trust.conftest import world  # noqa: F401 - the fixture
from xsd import samples
from xsd.registry import LEGAL_ENTITY_NS, POPULATION_NS, lookup

ROOT = Path(__file__).parents[2]
PERSON = lookup("{%s}Person" % POPULATION_NS)
SHAPES = shapes_from({name: (ROOT / "xsd" / name).read_bytes() for name in FORMAT_SCHEMAS + TYPE_SCHEMAS})
#: the client's side of the wire is what these tests are about: one database will do
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
#: a header in an order of the department's own, and fields left out that the format allows to be
COLUMNS = ["name", "idNumber", "birthDate", "sex", "ethnicity", "domicileDivision", "domicileAddress", "status",
           "maritalStatus"]


def _people(count: int, seed: int) -> list[dict]:
    return [{k: str(v) for k, v in fields.items() if k in COLUMNS} for fields in samples.population_fields(count, seed)]


def _csv(path: Path, people: list[dict], columns=COLUMNS) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:  # as Excel saves "CSV UTF-8"
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(people)
    return path


def _decoded(records) -> list[dict]:
    return [{k: str(v) for k, v in PERSON.decode(r).items()} for r in records]


def test_the_shapes_are_the_formats_own():
    by_name = {s.name: s for s in SHAPES}
    assert sorted(by_name) == ["Feature", "Indicator", "LegalEntity", "Person"]
    for shape in SHAPES:  # field for field what the platform's own registry reads from the same XSDs
        platform = lookup(shape.tag)
        assert shape.fields == tuple(f.name for f in platform.fields)
        assert shape.labels == tuple(f.label for f in platform.fields)
        assert shape.required == {f.name for f in platform.fields if f.required}
    assert by_name["Person"].labels[:2] == ("公民身份号码", "姓名")
    assert by_name["LegalEntity"].tag == "{%s}LegalEntity" % LEGAL_ENTITY_NS
    assert by_name["LegalEntity"].structured  # 注册资本: an amount with its currency


def test_a_csv_in_its_own_column_order_gives_the_formats_records(tmp_path):
    people = _people(7, seed=3)
    file = RecordFile(_csv(tmp_path / "people.csv", people), SHAPES)
    assert file.done == 0
    records = list(file)
    assert file.done == 1 and [r.tag for r in records] == [PERSON.qname] * 7
    assert _decoded(records) == people  # the platform's own decoder reads them back field for field
    assert [c.tag.split("}")[1] for c in records[0]] == [f for f in SHAPES[0].fields if f in COLUMNS]


def test_an_xlsx_with_dates_and_numbers_as_a_spreadsheet_holds_them(tmp_path):
    people = _people(5, seed=4)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "户籍人口"
    sheet.append(COLUMNS)
    for person in people:
        row = [person[c] for c in COLUMNS]
        row[COLUMNS.index("birthDate")] = date.fromisoformat(person["birthDate"])  # a date cell
        row[COLUMNS.index("ethnicity")] = person["ethnicity"]
        sheet.append(row)
    sheet.append([None] * len(COLUMNS))  # a blank row at the end, as spreadsheets often have
    book.save(tmp_path / "people.xlsx")
    assert _decoded(RecordFile(tmp_path / "people.xlsx", SHAPES)) == people


def test_the_columns_may_be_the_fields_chinese_names(tmp_path):
    people = _people(4, seed=8)
    person = next(s for s in SHAPES if s.name == "Person")
    label = dict(zip(person.fields, person.labels, strict=True))
    path = tmp_path / "户籍.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([label[c] for c in COLUMNS])
        writer.writerows([p[c] for c in COLUMNS] for p in people)
    assert "公民身份号码" in path.read_text(encoding="utf-8").splitlines()[0]
    assert _decoded(RecordFile(path, SHAPES)) == people


@pytest.mark.parametrize(("columns", "message"), [
    (["idNumber", "name", "colour"], "nearest is Person (no field colour; required sex, ethnicity, birthDate"),
    (["idNumber", "name", "idNumber"], "row 1: the header names idNumber twice"),
    (["creditCode", "name", "entityType", "legalRepresentative", "foundingDate", "registeredCapital", "domicile",
      "domicileDivision", "registrationAuthority", "operatingStatus"],
     "registeredCapital of LegalEntity has parts and cannot be a cell; send LegalEntity records as XML"),
])
def test_a_header_no_format_has_is_refused_with_what_is_wrong(tmp_path, columns, message):
    path = tmp_path / "bad.csv"
    path.write_text(",".join(columns) + "\n1,2,3\n", encoding="utf-8")
    with pytest.raises(FileError) as refused:
        list(RecordFile(path, SHAPES))
    assert message in str(refused.value) and "bad.csv" in str(refused.value)


def test_a_row_longer_than_the_header_is_named_by_its_number(tmp_path):
    people = _people(3, seed=5)
    path = _csv(tmp_path / "people.csv", people)
    path.write_text(path.read_text(encoding="utf-8-sig") + ",".join(["x"] * (len(COLUMNS) + 2)) + "\n",
                    encoding="utf-8")
    file = RecordFile(path, SHAPES)
    with pytest.raises(FileError) as refused:
        list(file)
    assert f"row 5: {len(COLUMNS) + 2} cells under a header of {len(COLUMNS)}" in str(refused.value)


def test_another_suffix_is_refused(tmp_path):
    (tmp_path / "people.txt").write_text("x", encoding="utf-8")
    with pytest.raises(FileError, match="an export file is .xml, .csv or .xlsx, not .txt"):
        RecordFile(tmp_path / "people.txt", SHAPES)


@SQLITE
def test_a_csv_is_sent_through_the_library_matched_against_the_platforms_schemas(world, tmp_path):  # noqa: F811
    people = _people(12, seed=6)
    path = _csv(tmp_path / "people.csv", people)
    gaj = Exchange(world.url, key=world.gaj.key, cert=world.gaj.cert, ca=world.ca_pem)
    receipts = list(gaj.submit_file(world.resource, path, batch_size=5))
    assert [(r.received, r.accepted, r.quarantined) for r in receipts] == [(5, 5, 0), (5, 5, 0), (2, 2, 0)]
    back = {r.fields["idNumber"]: r.fields["name"] for r in gaj.query(world.resource,
                                                                      keys=[p["idNumber"] for p in people])}
    assert back == {p["idNumber"]: p["name"] for p in people}


def _cli(world, folder: Path, *args: str) -> subprocess.CompletedProcess:  # noqa: F811
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GOVSHARE_CLIENT_")}
    environ.update(GOVSHARE_CLIENT_PLATFORM=world.url, GOVSHARE_CLIENT_KEY=str(world.gaj.key),
                   GOVSHARE_CLIENT_CERT=str(world.gaj.cert), GOVSHARE_CLIENT_CA=str(folder / "ca.pem"),
                   PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "client.cli", *args], capture_output=True, text=True, timeout=120,
                          env=environ, cwd=folder)


@SQLITE
def test_a_run_broken_off_is_resumed_from_its_journal_sending_only_what_is_left(world, tmp_path):  # noqa: F811
    (tmp_path / "ca.pem").write_bytes(world.ca_pem)
    people = _people(9, seed=7)
    path = _csv(tmp_path / "people.csv", people)
    journal = tmp_path / f"submit-{world.resource.replace('/', '-')}.json"

    first = _cli(world, tmp_path, "submit", world.resource, str(path), "--batch-size", "4")
    assert first.returncode == 0, first.stderr
    assert len(first.stdout.splitlines()) == 3 and "9 records sent: 9 accepted" in first.stderr
    assert json.loads(journal.read_text(encoding="utf-8"))["batches"] == 3

    kept = json.loads(journal.read_text(encoding="utf-8"))
    journal.write_text(json.dumps({**kept, "batches": 1}), encoding="utf-8")  # as if it stopped after batch 1
    resumed = _cli(world, tmp_path, "submit", world.resource, str(path), "--batch-size", "4", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming after batch 1" in resumed.stderr
    lines = resumed.stdout.splitlines()  # batches 2 and 3 only, already taken: nothing twice
    assert len(lines) == 2 and all("duplicate (taken before)" in line for line in lines)
    assert "5 records sent" in resumed.stderr

    other = _cli(world, tmp_path, "submit", world.resource, str(path), "--batch-size", "5", "--resume")
    assert other.returncode == 2 and "is of another run (batch_size 4, not 5)" in other.stderr


@SQLITE
def test_a_wrong_header_is_one_line_and_exit_2_before_anything_is_sent(world, tmp_path):  # noqa: F811
    (tmp_path / "ca.pem").write_bytes(world.ca_pem)
    path = tmp_path / "people.csv"
    path.write_text("公民身份号码,姓名,颜色\n110101199003071234,张三,红\n", encoding="utf-8")
    refused = _cli(world, tmp_path, "submit", world.resource, str(path))
    assert refused.returncode == 2 and refused.stdout == ""
    assert "no field 颜色" in refused.stderr
    assert "required sex, ethnicity, birthDate" in refused.stderr
    assert "its fields are idNumber (公民身份号码), name (姓名)" in refused.stderr


def test_the_progress_line_gives_how_much_of_the_file_is_read_and_the_time_left(capsys):
    from types import SimpleNamespace

    from client.cli import _Progress

    file = SimpleNamespace(done=0.25)
    progress = _Progress(file)
    progress.started -= 30  # 30 s in, a quarter of the file read: 90 s to go at this pace
    progress.show(12_000)
    line = capsys.readouterr().err.strip()
    assert line.startswith("sent 12,000 records, 400/s, 25% of the file, about 1 min 30 s left"), line
    file.done = 1.0
    progress.last = 0
    progress.show(48_000)
    assert "left" not in capsys.readouterr().err


def test_a_tables_canonical_records_are_the_exclusive_c14n_of_its_elements(tmp_path):
    from lxml import etree

    people = _people(6, seed=9)
    people[2]["domicileAddress"] = "临江市 A&B <东> 路\r8号"  # what canonicalisation escapes
    path = _csv(tmp_path / "people.csv", people)
    elements = list(RecordFile(path, SHAPES))
    canonical = RecordFile(path, SHAPES)
    assert list(canonical.canonical()) == [etree.tostring(e, method="c14n", exclusive=True) for e in elements]
    assert canonical.record_type == PERSON.qname and canonical.done == 1


def test_a_control_character_is_named_by_row_and_column(tmp_path):
    people = _people(3, seed=10)
    people[1]["name"] = "张\x07三"
    with pytest.raises(FileError, match=r"row 3, column name: a control character XML cannot hold"):
        list(RecordFile(_csv(tmp_path / "people.csv", people), SHAPES).canonical())
