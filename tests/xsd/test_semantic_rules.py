"""Each semantic rule fires on a crafted bad record, under its name, with a message one can act on."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from stdnum.cn import ric

from tests.xsd.format_samples import TODAY, fields, fmt, record, rules, spatial_kind, validate
from xsd import codes, samples
from xsd.rules import RuleSettings


def _wrong(correct: str) -> str:
    return "0" if correct != "0" else "1"


# -- 公民身份号码 --------------------------------------------------------------------------------

def test_id_number_with_a_wrong_check_digit() -> None:
    number = fields("population")["idNumber"]
    bad = number[:17] + _wrong(number[17])
    result = validate(record("population", idNumber=bad))
    assert rules(result) == ["id_number.checksum"]
    assert result.violations[0].field == "idNumber"
    assert result.violations[0].message == f"公民身份号码 {bad}: check digit should be {number[17]}"


def test_id_number_whose_date_is_not_a_calendar_date() -> None:
    first17 = "33010219900230123"
    result = validate(record("population", idNumber=first17 + codes.id_check_digit(first17)))
    assert rules(result) == ["id_number.date"]
    assert "19900230" in result.violations[0].message


def test_id_region_not_valid_in_the_birth_year_passes_by_default() -> None:
    # 110103 崇文区 was merged into 东城区 in 2010; this person was born in 2015
    number = samples.id_number("110103", date(2015, 5, 1), 124)
    assert validate(record("population", idNumber=number, birthDate=date(2015, 5, 1), sex="2")).ok


def test_id_region_not_valid_in_the_birth_year_fails_when_strict() -> None:
    number = samples.id_number("110103", date(2015, 5, 1), 124)
    result = validate(record("population", idNumber=number, birthDate=date(2015, 5, 1), sex="2"),
                      settings=RuleSettings(id_region_in_birth_year=True))
    assert rules(result) == ["id_number.region"]
    assert "110103" in result.violations[0].message and "2015" in result.violations[0].message


def test_strict_region_check_agrees_with_stdnum() -> None:
    number = samples.id_number("110103", date(2015, 5, 1), 124)
    assert not ric.is_valid(number)
    assert ric.is_valid(samples.id_number("110103", date(2005, 5, 1), 124))


def test_birth_date_in_the_future() -> None:
    born = TODAY + timedelta(days=30)
    number = samples.id_number("330102", born, 123)
    result = validate(record("population", idNumber=number, birthDate=born, sex="1"))
    assert rules(result) == ["birth_date.not_future"]
    assert result.violations[0].message == f"出生日期 {born.isoformat()} is after today ({TODAY.isoformat()})"


def test_birth_date_different_from_the_id_number() -> None:
    sample = fields("population")
    other = sample["birthDate"] + timedelta(days=1)
    result = validate(record("population", birthDate=other))
    assert rules(result) == ["birth_date.matches_id"]
    assert sample["birthDate"].isoformat() in result.violations[0].message
    assert result.violations[0].field == "birthDate"


def test_sex_contradicting_the_id_number() -> None:
    sample = fields("population")
    flipped = "2" if sample["sex"] == "1" else "1"
    result = validate(record("population", sex=flipped))
    assert rules(result) == ["sex.matches_id"]
    assert f"17th digit {sample['idNumber'][16]}" in result.violations[0].message


def test_unstated_sex_does_not_contradict_the_id_number() -> None:
    assert validate(record("population", sex="9")).ok


def test_unknown_ethnicity() -> None:
    result = validate(record("population", ethnicity="57"))
    assert rules(result) == ["ethnicity.known"]
    assert result.violations[0].message.startswith("民族 57 is not a GB/T 3304 民族代码")


def test_ethnicity_97_and_98_are_known() -> None:
    assert validate(record("population", ethnicity="97")).ok
    assert validate(record("population", ethnicity="98")).ok


def test_unknown_division_code() -> None:
    result = validate(record("population", domicileDivision="999999"))
    assert rules(result) == ["division_code.exists"]
    assert result.violations[0].message == "户籍地行政区划代码 999999 is not a GB/T 2260 行政区划代码"


def test_province_prefecture_and_historical_division_codes_exist() -> None:
    for code in ("330000", "330100", "110103"):
        assert validate(record("population", domicileDivision=code)).ok, code


def test_status_date_in_the_future() -> None:
    result = validate(record("population", status="迁出", statusDate=TODAY + timedelta(days=1)))
    assert rules(result) == ["status_date.not_future"]


# -- 统一社会信用代码 -----------------------------------------------------------------------------

def test_credit_code_with_a_wrong_check_character() -> None:
    code = fields("legal_entity")["creditCode"]
    bad = code[:17] + _wrong(code[17])
    result = validate(record("legal_entity", creditCode=bad))
    assert rules(result) == ["credit_code.checksum"]
    assert result.violations[0].message == f"统一社会信用代码 {bad}: check character (18th) should be {code[17]}"


def test_credit_code_with_a_wrong_organization_code_check_character() -> None:
    code = fields("legal_entity")["creditCode"]
    first17 = code[:16] + _wrong(code[16])
    bad = first17 + codes.credit_code_check_char(first17)  # the outer check is right, GB 11714's is not
    result = validate(record("legal_entity", creditCode=bad))
    assert rules(result) == ["credit_code.organization_code"]
    assert f"should end in {code[16]} (GB 11714" in result.violations[0].message


def test_negative_registered_capital() -> None:
    result = validate(record("legal_entity", registeredCapital=Decimal("-1.00"), registeredCapitalCurrency="CNY"))
    assert rules(result) == ["registered_capital.non_negative"]
    assert result.violations[0].message == "注册资本 -1.00 is negative"


def test_founding_date_in_the_future() -> None:
    result = validate(record("legal_entity", foundingDate=TODAY + timedelta(days=1), statusDate=None))
    assert rules(result) == ["founding_date.not_future"]
    assert result.violations[0].message.startswith("成立日期 ")


# -- 宏观经济 ------------------------------------------------------------------------------------

def test_indicator_for_a_period_that_has_not_begun() -> None:
    result = validate(record("macro_economy", period="2024-Q4"))
    assert rules(result) == ["period.not_future"]
    assert "starts 2024-10-01" in result.violations[0].message


def test_indicator_for_the_current_month_is_accepted() -> None:
    assert validate(record("macro_economy", period=f"{TODAY:%Y-%m}")).ok


def test_national_total_region_is_accepted_for_indicators_only() -> None:
    assert validate(record("macro_economy", regionCode="000000")).ok
    assert rules(validate(record("population", domicileDivision="000000"))) == ["division_code.exists"]


def test_indicator_with_an_unknown_region() -> None:
    result = validate(record("macro_economy", regionCode="990000"))
    assert rules(result) == ["division_code.exists"]
    assert "nor 000000 (全国)" in result.violations[0].message


# -- 空间地理 ------------------------------------------------------------------------------------

def _parcel(ring: list[list[float]]) -> dict[str, object]:
    return spatial_kind("地块") | {"geometry": {"type": "Polygon", "coordinates": [ring]}}


def test_polygon_ring_that_is_not_closed() -> None:
    ring = [[120.0, 30.0], [120.01, 30.0], [120.01, 30.01], [120.0, 30.01]]
    result = validate(fmt("spatial").encode(_parcel(ring)))
    assert rules(result) == ["geometry.ring_closed"]
    assert "starts at 30 120 but ends at 30.01 120" in result.violations[0].message


def test_polygon_ring_with_fewer_than_four_positions() -> None:
    result = validate(fmt("spatial").encode(_parcel([[120.0, 30.0], [120.01, 30.0], [120.0, 30.0]])))
    assert rules(result) == ["geometry.ring_size"]
    assert "has 3 positions" in result.violations[0].message


def test_coordinates_outside_china() -> None:
    ring = [[2.35, 48.85], [2.36, 48.85], [2.36, 48.86], [2.35, 48.85]]
    result = validate(fmt("spatial").encode(_parcel(ring)))
    assert rules(result) == ["geometry.within_china"]
    assert "48.85 2.35 (lat lon) is outside China" in result.violations[0].message


def test_swapped_axes_are_named_as_the_likely_cause() -> None:
    sample = spatial_kind("地址点") | {"geometry": {"type": "Point", "coordinates": [30.25, 120.16]}}
    result = validate(fmt("spatial").encode(sample))
    assert rules(result) == ["geometry.within_china"]
    assert "latitude and longitude swapped" in result.violations[0].message


def test_address_point_with_a_polygon() -> None:
    ring = [[120.0, 30.0], [120.01, 30.0], [120.01, 30.01], [120.0, 30.0]]
    sample = spatial_kind("地址点") | {"geometry": {"type": "Polygon", "coordinates": [ring]}}
    result = validate(fmt("spatial").encode(sample))
    assert rules(result) == ["geometry.matches_kind"]
    assert result.violations[0].message == "a 地址点 has a gml:Point geometry, not gml:Polygon"


def test_area_that_is_not_positive() -> None:
    result = validate(fmt("spatial").encode(spatial_kind("地块") | {"area": Decimal("0")}))
    assert rules(result) == ["area.positive"]


def test_position_list_of_odd_length_is_a_structure_error() -> None:
    element = fmt("spatial").encode(spatial_kind("地块"))
    pos_list = element.find(".//{http://www.opengis.net/gml/3.2}posList")
    pos_list.text += " 30.0"
    result = validate(element)
    assert rules(result) == ["structure"]
    assert "latitude-longitude pairs" in result.violations[0].message
