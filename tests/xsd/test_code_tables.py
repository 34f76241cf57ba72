"""The code tables behind the rules: GB/T 2260 from python-stdnum, GB/T 3304 from common.xsd."""

from __future__ import annotations

from stdnum.cn import uscc

from xsd import codes


def test_division_table_holds_province_prefecture_and_county_codes() -> None:
    assert codes.division_name("330000") == "浙江省"
    assert codes.division_name("330100") == "杭州市"
    assert codes.division_name("330102") == "上城区"


def test_division_codes_of_any_year_exist() -> None:
    assert codes.division_exists("110103")  # 崇文区, abolished in 2010
    assert codes.divisions()["110103"][0].last_year == 2010


def test_renamed_division_code_keeps_every_name_with_its_years() -> None:
    names = codes.divisions()["120110"]
    assert [(n.name, n.first_year, n.last_year) for n in names] == [("东郊区", None, 1991), ("东丽区", 1992, None)]


def test_unknown_division_code_does_not_exist() -> None:
    assert not codes.division_exists("999999")


def test_ethnicity_table_has_58_named_codes() -> None:
    table = codes.ethnicities()
    assert len(table) == 58
    assert (table["01"], table["56"]) == ("汉族", "基诺族")
    assert (table["97"], table["98"]) == ("其他未识别民族", "外国血统中国籍人士")


def test_gb11714_check_character_of_a_published_credit_code() -> None:
    code = "91110000600037341L"  # python-stdnum's documented example
    assert uscc.is_valid(code)
    assert codes.organization_code_check_char(code[8:16]) == code[16]


def test_gb11714_check_values_10_and_11_are_written_x_and_0() -> None:
    assert codes.organization_code_check_char("00000006") == "X"  # 6 * 2 = 12: 11 - 1 = 10
    assert codes.organization_code_check_char("00000000") == "0"  # 0: 11 - 0 = 11


def test_id_check_digit_matches_the_standard_example() -> None:
    # GB 11643-1999 appendix: 11010519491231002X
    assert codes.id_check_digit("11010519491231002") == "X"
