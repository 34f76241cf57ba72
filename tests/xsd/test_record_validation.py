"""validate_record: structure against the XSD, then the semantic rules; never raises."""

from __future__ import annotations

import pytest
from lxml import etree

from tests.xsd.format_samples import fields, fmt, record, rules, validate
from xsd import samples
from xsd.rules import RuleSettings
from xsd.validation import validate_record

GENERATORS = {
    "population": samples.population_records,
    "legal_entity": samples.legal_entity_records,
    "macro_economy": samples.indicator_records,
    "spatial": samples.spatial_features,
}
P = "{http://govshare.local/xsd/population/1.0}"


def test_sample_records_are_valid(format_name: str) -> None:
    for element in GENERATORS[format_name](300, seed=11):
        result = validate(element, settings=RuleSettings(id_region_in_birth_year=True))
        assert result.ok, result.violations


def test_valid_record_gives_its_format_key_and_fields() -> None:
    sample = fields("population")
    result = validate(record("population"))
    assert result.format is fmt("population")
    assert result.key == (sample["idNumber"],)
    assert result.fields == {k: v for k, v in sample.items() if v is not None}


def test_structure_error_names_the_field_path_and_reason() -> None:
    result = validate(record("population", sex="3"))
    assert rules(result) == ["structure"]
    violation = result.violations[0]
    assert violation.field == "sex"
    assert violation.message == "/Person/sex: value must be one of ['0', '1', '2', '9']"


def test_missing_required_field_is_a_structure_error() -> None:
    element = record("population")
    element.remove(element.find(P + "name"))
    result = validate(element)
    assert rules(result) == ["structure"]
    assert "name" in result.violations[0].message


def test_structure_errors_skip_the_semantic_rules_but_keep_the_key() -> None:
    sample = fields("population")
    result = validate(record("population", sex="3", domicileDivision="999999"))
    assert result.fields is None
    assert rules(result) == ["structure"]
    assert result.key == (sample["idNumber"],)


def test_unregistered_record_type_is_a_violation() -> None:
    result = validate(etree.fromstring("<Car xmlns='urn:example'><plate>浙A12345</plate></Car>"))
    assert rules(result) == ["format.unregistered"]
    assert result.format is None
    assert "{urn:example}Car" in result.violations[0].message
    assert "{http://govshare.local/xsd/population/1.0}Person" in result.violations[0].message


def test_unregistered_version_is_a_violation() -> None:
    result = validate(record("population"), version="2.0")
    assert rules(result) == ["format.unregistered"]
    assert "version 2.0" in result.violations[0].message


def test_record_of_another_type_than_the_batch_declares() -> None:
    result = validate(record("legal_entity"), record_type=P + "Person")
    assert rules(result) == ["format.mismatch"]
    assert result.key == (fields("legal_entity")["creditCode"],)


def test_comment_in_place_of_a_record_is_a_structure_violation() -> None:
    assert rules(validate(etree.Comment("not a record"))) == ["structure"]


def test_unknown_element_in_a_record_is_a_structure_violation() -> None:
    element = record("population")
    etree.SubElement(element, "{urn:example}extra").text = "x"
    assert rules(validate(element)) == ["structure"]


def test_record_inside_a_batch_document_validates_in_place() -> None:
    batch = etree.fromstring(samples.make_batch(samples.population_records(3, seed=2), samples.provider_code(),
                                                "101001/000002"))
    records = batch.find("{http://govshare.local/xsd/batch/1.0}records")
    assert all(validate(r).ok for r in records)


def test_structure_error_inside_a_batch_has_the_same_path() -> None:
    batch = etree.fromstring(samples.make_batch([record("population", sex="3")], samples.provider_code(),
                                                "101001/000002"))
    result = validate(batch.find("{http://govshare.local/xsd/batch/1.0}records")[0])
    assert result.violations[0].message.startswith("/Person/sex: ")


@pytest.mark.parametrize("junk", [
    "<Person xmlns='http://govshare.local/xsd/population/1.0'/>",
    "<Person xmlns='http://govshare.local/xsd/population/1.0'>text<idNumber>x</idNumber></Person>",
    "<Person xmlns='http://govshare.local/xsd/population/1.0'><Person/><Person/></Person>",
])
def test_nonsense_gives_violations_not_exceptions(junk: str) -> None:
    result = validate_record(etree.fromstring(junk))
    assert result.violations and result.fields is None


def test_without_today_the_rules_use_the_current_date_in_china() -> None:
    assert validate_record(record("population")).ok
