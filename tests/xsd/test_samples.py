"""Sample generators: deterministic by seed, distinct keys, correct check characters."""

from __future__ import annotations

from lxml import etree
from stdnum.cn import ric, uscc

from tests.xsd.format_samples import fmt
from xsd import samples


def _bytes(elements: object) -> list[bytes]:
    return [etree.tostring(e) for e in elements]


def test_same_seed_gives_the_same_records() -> None:
    assert _bytes(samples.population_records(50, seed=9)) == _bytes(samples.population_records(50, seed=9))


def test_another_seed_gives_other_records() -> None:
    assert _bytes(samples.population_records(5, seed=1)) != _bytes(samples.population_records(5, seed=2))


def test_keys_are_distinct() -> None:
    for name, generate in [("population", samples.population_fields), ("legal_entity", samples.legal_entity_fields),
                           ("macro_economy", samples.indicator_fields), ("spatial", samples.spatial_fields)]:
        keys = [fmt(name).key(f) for f in generate(2000, seed=3)]
        assert len(set(keys)) == 2000, name


def test_generated_id_numbers_pass_stdnum_strictly() -> None:
    assert all(ric.is_valid(f["idNumber"]) for f in samples.population_fields(500, seed=4))


def test_generated_credit_codes_pass_stdnum() -> None:
    assert all(uscc.is_valid(f["creditCode"]) for f in samples.legal_entity_fields(500, seed=4))
    assert uscc.is_valid(samples.provider_code(7))


def test_batch_id_derives_from_the_seed() -> None:
    first = samples.make_batch(samples.population_records(2, seed=1), samples.provider_code(), "101001/000002", seed=5)
    again = samples.make_batch(samples.population_records(2, seed=1), samples.provider_code(), "101001/000002", seed=5)
    assert first == again


def test_sex_and_birth_date_agree_with_the_id_number() -> None:
    for person in samples.population_fields(200, seed=6):
        number = person["idNumber"]
        assert ric.get_birth_date(number) == person["birthDate"]
        assert int(number[16]) % 2 == (person["sex"] == "1")
