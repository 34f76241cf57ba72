"""validate_fields: a field dict validated as validate_record validates its encoded element,
with the schema's facets compiled where every field is a simple type."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from tests.xsd.format_samples import TODAY, fields, fmt
from xsd import samples
from xsd.batch import canonical
from xsd.prepared import jsonable
from xsd.validation import validate_fields, validate_record

GENERATORS = {
    "population": samples.population_records,
    "legal_entity": samples.legal_entity_records,
    "macro_economy": samples.indicator_records,
    "spatial": samples.spatial_features,
}

#: Values the population XSD refuses, each for a different facet or rule of structure.
REFUSED = [
    ("sex", "3"),  # enumeration
    ("name", ""),  # minLength
    ("name", "张" * 501),  # maxLength
    ("idNumber", "33010219900102123x"),  # pattern
    ("ethnicity", "1"),  # pattern
    ("education", "01"),  # pattern of an optional field
    ("domicileDivision", None),  # a required field missing
]

#: Values the compiled checks leave to the tree path, whatever it then says.
LEFT_TO_THE_TREE = [
    ("name", "A&B <公司>"),  # escaped characters
    ("name", "line\r\nbreak"),
    ("birthDate", "1990-01-02"),  # a date as text
    ("updated", datetime(2024, 5, 1, 9, 30, tzinfo=timezone(timedelta(hours=8, seconds=30)))),  # refused
]


def _both(name: str, record: dict):
    """(validate_fields, validate_record of the encoded element, its canonical form)."""
    f = fmt(name)
    element = f.encode(record)
    return (validate_fields(f, record, today=TODAY), validate_record(element, record_type=f.qname,
                                                                       version=f.version, today=TODAY),
            canonical(element))


def test_sample_records_give_the_same_result_and_canonical_form(format_name: str) -> None:
    f = fmt(format_name)
    for element in GENERATORS[format_name](200, seed=5):
        record = f.decode(element)
        checked, expected, form = _both(format_name, record)
        assert checked.result == expected
        assert checked.canonical == form


def test_population_records_are_checked_without_a_tree_and_their_texts_are_their_json_form() -> None:
    record = fields("population")
    checked = validate_fields(fmt("population"), record, today=TODAY)
    assert checked.result.ok and checked.texts is not None
    assert checked.texts == jsonable(checked.result.fields)


@pytest.mark.parametrize(("field", "value"), REFUSED, ids=[f"{f}={v!r}"[:40] for f, v in REFUSED])
def test_a_record_the_xsd_refuses_is_refused_with_rule_structure_in_the_same_words(field, value) -> None:
    record = {**fields("population"), field: value}
    checked, expected, form = _both("population", record)
    assert [v.rule for v in checked.result.violations] == ["structure"]
    assert checked.result == expected and checked.canonical == form
    assert checked.result.fields is None and checked.texts is None


@pytest.mark.parametrize(("field", "value"), LEFT_TO_THE_TREE, ids=[f for f, _ in LEFT_TO_THE_TREE])
def test_values_the_compiled_checks_cannot_vouch_for_get_the_tree_result(field, value) -> None:
    record = {**fields("population"), field: value}
    checked, expected, form = _both("population", record)
    assert checked.result == expected and checked.canonical == form
    assert checked.texts is None


def test_semantic_rules_run_on_compiled_records_too() -> None:
    record = {**fields("population"), "birthDate": date(1990, 1, 3)}
    checked, expected, _ = _both("population", record)
    assert "birth_date.matches_id" in [v.rule for v in checked.result.violations]
    assert checked.result == expected


def test_an_unknown_field_raises_as_encode_does() -> None:
    with pytest.raises(ValueError, match="no field nickname"):
        validate_fields(fmt("population"), {**fields("population"), "nickname": "小张"})
