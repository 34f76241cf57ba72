"""Cleaning steps: one behaviour each."""

from __future__ import annotations

from datetime import date, datetime

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
