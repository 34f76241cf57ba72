"""Built-in code tables: legacy values to GB/T 2261.1, GB/T 3304 and GB/T 2260 codes."""

from __future__ import annotations

import pytest

from adapters.codes import builtin, inline


@pytest.mark.parametrize(("legacy", "code"), [("男", "1"), ("M", "1"), ("1", "1"), ("male", "1"), ("女", "2"),
                                               ("F", "2"), ("2", "2"), ("未知", "0"), ("未说明", "9")])
def test_sex_maps_legacy_forms_to_gb_t_2261_1(legacy, code):
    assert builtin("sex").lookup(legacy) == code


def test_sex_leaves_an_unrecognised_value_unmapped():
    assert builtin("sex").lookup("?") is None


@pytest.mark.parametrize(("name", "code"), [("汉族", "01"), ("汉", "01"), ("蒙古族", "02"), ("01", "01")])
def test_ethnicity_maps_names_with_and_without_zu(name, code):
    assert builtin("ethnicity").lookup(name) == code


def test_ethnicity_leaves_a_group_outside_gb_t_3304_unmapped():
    assert builtin("ethnicity").lookup("穿青人") is None


@pytest.mark.parametrize("name", ["上城区", "上城", "杭州市上城区", "浙江省杭州市上城区", "330102"])
def test_division_maps_names_with_suffix_tolerance(name):
    assert builtin("division").lookup(name) == "330102"


def test_division_maps_a_municipality_district_by_its_full_name():
    assert builtin("division").lookup("北京市朝阳区") == "110105"


def test_division_leaves_a_name_shared_by_several_places_unmapped_and_says_why():
    table = builtin("division")
    assert table.lookup("鼓楼区") is None
    assert "names several codes" in table.explain("鼓楼区")


def test_inline_table_matches_exactly():
    table = inline("status", {"10": "正常", "20": "迁出"})
    assert (table.lookup("10"), table.lookup("10 ")) == ("正常", None)


@pytest.mark.parametrize(("legacy", "code"), [("未婚", "10"), ("已婚", "20"), ("初婚", "21"), ("再婚", "22"),
                                               ("丧偶", "30"), ("离婚", "40"), ("离异", "40"), ("20", "20")])
def test_marital_status_maps_names_and_codes_to_gb_t_2261_2(legacy, code):
    assert builtin("marital_status").lookup(legacy) == code


def test_marital_status_leaves_a_state_outside_the_standard_unmapped():
    assert builtin("marital_status").lookup("同居") is None
