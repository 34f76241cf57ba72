"""Cleaning steps: one behaviour each."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from adapters import cleaning
from xsd.rules import CHINA


def test_strip_removes_surrounding_whitespace_including_the_ideographic_space():
    value = "\u3000 张伟\t "
    assert cleaning.strip(value) == "张伟"


def test_invisible_removes_zero_width_characters_and_byte_order_marks():
    assert cleaning.invisible("\ufeff张\u200b伟\u2060") == "张伟"


def test_invisible_turns_non_breaking_spaces_into_plain_spaces():
    assert cleaning.invisible("解放路\u00a08号") == "解放路 8号"


def test_halfwidth_turns_full_width_digits_and_letters_into_ascii():
    assert cleaning.halfwidth("３３０１０２１９９００１０２１２３Ｘ") == "33010219900102123X"


def test_nospace_removes_spaces_inside_a_number():
    assert cleaning.nospace("330102 1990 0102 123X") == "33010219900102123X"


def test_upper_capitalises_the_id_check_letter():
    assert cleaning.upper("33010219900102123x") == "33010219900102123X"


@pytest.mark.parametrize("value", ["", "   ", "\t"])
def test_blank_makes_empty_text_none(value):
    assert cleaning.blank(value) is None


@pytest.mark.parametrize("text", ["1990-01-02", "1990/1/2", "1990.1.2", "19900102", "1990年1月2日", " 1990-1-2 "])
def test_date_reads_the_legacy_date_forms(text):
    assert cleaning.to_date(text) == date(1990, 1, 2)


def test_date_of_a_driver_datetime_is_its_date_part():
    assert cleaning.to_date(datetime(1990, 1, 2, 0, 0)) == date(1990, 1, 2)


def test_date_that_is_not_a_date_raises_a_named_rule():
    with pytest.raises(cleaning.CleaningError) as caught:
        cleaning.to_date("九零年")
    assert caught.value.rule == "date.format"


def test_date_that_is_not_in_the_calendar_raises_a_named_rule():
    with pytest.raises(cleaning.CleaningError) as caught:
        cleaning.to_date("1990-02-30")
    assert caught.value.rule == "date.invalid"


def test_datetime_takes_a_naive_value_as_china_time():
    assert cleaning.to_datetime("2024-05-01 09:30:00") == datetime(2024, 5, 1, 9, 30, tzinfo=CHINA)


def test_steps_pass_none_through():
    assert all(step(None) is None for step in cleaning.STEPS.values())


def test_character_table_steps_change_only_non_ascii_characters():
    # the mapping skips translate for ASCII text; a table entry below 128 would break that
    assert all(char >= 128 for table in cleaning.TRANSLATIONS.values() for char in table)


@pytest.mark.parametrize(("text", "number"), [("12,345.60", "12345.60"), ("12 345.60", "12345.60"), ("-3.5", "-3.5"),
                                              ("1234", "1234"), (" 1,000,000 ", "1000000")])
def test_number_reads_text_grouped_in_thousands(text, number):
    assert cleaning.to_number(text) == Decimal(number)


def test_number_of_a_driver_float_is_its_shortest_decimal():
    assert cleaning.to_number(0.1) == Decimal("0.1") and cleaning.to_number(7) == Decimal(7)


@pytest.mark.parametrize("text", ["—", "1,23", "12.3.4", "约100"])
def test_number_that_is_not_a_number_raises_a_named_rule(text):
    with pytest.raises(cleaning.CleaningError) as caught:
        cleaning.to_number(text)
    assert caught.value.rule == "number.format"


@pytest.mark.parametrize(("text", "period"), [
    ("2023", "2023"), ("2023年", "2023"), ("2023年度", "2023"), (2023, "2023"),
    ("2023年第一季度", "2023-Q1"), ("2023年3季度", "2023-Q3"), ("2023Q4", "2023-Q4"), ("2023-Q2", "2023-Q2"),
    ("2023年3月", "2023-03"), ("2023-3", "2023-03"), ("2023.11", "2023-11"), ("202303", "2023-03"),
])
def test_period_reads_the_forms_statistics_tables_use(text, period):
    assert cleaning.to_period(text) == period


@pytest.mark.parametrize(("text", "rule"), [("23年", "period.format"), ("2023年13月", "period.invalid"),
                                            ("上半年", "period.format")])
def test_period_that_cannot_be_read_raises_a_named_rule(text, rule):
    with pytest.raises(cleaning.CleaningError) as caught:
        cleaning.to_period(text)
    assert caught.value.rule == rule


def test_wkt_point_becomes_a_point_longitude_first():
    assert cleaning.to_wkt_geometry("POINT (120.15 30.28)") == {"type": "Point", "coordinates": [120.15, 30.28]}


def test_wkt_polygon_keeps_its_rings_in_order():
    geometry = cleaning.to_wkt_geometry("POLYGON ((120 30, 121 30, 121 31, 120 30), (120.2 30.2, 120.3 30.2, "
                                        "120.3 30.3, 120.2 30.2))")
    assert geometry["type"] == "Polygon"
    assert [len(ring) for ring in geometry["coordinates"]] == [4, 4]
    assert geometry["coordinates"][0][1] == [121.0, 30.0]


@pytest.mark.parametrize("text", ["POLYGON((120.1 30.2, 120.2", "LINESTRING (1 2, 3 4)", "POINT (120.1)", "120 30"])
def test_wkt_that_cannot_be_read_raises_a_named_rule(text):
    with pytest.raises(cleaning.CleaningError) as caught:
        cleaning.to_wkt_geometry(text)
    assert caught.value.rule == "geometry.format"


@pytest.mark.parametrize("text", ["120.15 30.28", "120.15,30.28", "120.15, 30.28"])
def test_point_reads_longitude_and_latitude_from_joined_columns(text):
    assert cleaning.to_point(text) == {"type": "Point", "coordinates": [120.15, 30.28]}


def test_point_with_one_coordinate_missing_raises_a_named_rule():
    with pytest.raises(cleaning.CleaningError) as caught:
        cleaning.to_point(" 30.28")
    assert caught.value.rule == "geometry.format"
