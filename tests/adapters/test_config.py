"""Adapter files: a valid file parses into typed settings; a wrong one is reported in full."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.config import AdapterConfigError, load_adapter, load_adapters
from tests.adapters.conftest import GAJ_FILE, MINIMAL


def _problems(path) -> list[tuple[str, str]]:
    with pytest.raises(AdapterConfigError) as caught:
        load_adapter(path)
    return caught.value.problems


def test_demo_adapter_file_parses_into_typed_settings(gaj_env):
    config = load_adapter(GAJ_FILE)
    assert config.name == "gaj-household"
    assert config.resource_name == "户籍登记信息"
    assert config.format.name == "population"
    assert config.source.kind == "database" and config.source.table == "HJ_RKXX"
    assert config.change.timestamp == "GXSJ" and config.change.overlap == timedelta(seconds=300)
    assert config.schedule.interval == timedelta(minutes=15)
    assert config.priority == 100


def test_field_steps_are_the_file_defaults_then_the_fields_own(gaj_env):
    config = load_adapter(GAJ_FILE)
    id_number = next(f for f in config.fields if f.target == "idNumber")
    assert id_number.clean == ("invisible", "strip", "blank", "halfwidth", "nospace", "upper")


def test_resource_given_as_a_code_has_no_name_to_resolve(write_adapter):
    config = load_adapter(write_adapter(MINIMAL.replace('"name:户籍登记信息"', '"101001002"')))
    assert config.resource == "101001002" and config.resource_name is None


def test_url_takes_environment_variables_with_defaults(write_adapter, monkeypatch):
    monkeypatch.delenv("GAJ_TEST_URL", raising=False)
    path = write_adapter(MINIMAL.replace('"sqlite:///legacy.db"', '"${GAJ_TEST_URL:-sqlite:///fallback.db}"'))
    assert load_adapter(path).source.url == "sqlite:///fallback.db"
    monkeypatch.setenv("GAJ_TEST_URL", "mysql+pymysql://root@db/legacy")
    assert load_adapter(path).source.url == "mysql+pymysql://root@db/legacy"


def test_syntax_error_reports_line_and_column(write_adapter):
    path = write_adapter(MINIMAL.replace('name = "minimal"', 'name = "minimal'))
    [(where, message)] = _problems(path)
    assert where.startswith("line 1, col")
    assert "TOML syntax" in message


def test_unknown_key_is_reported_with_its_line(write_adapter):
    path = write_adapter(MINIMAL.replace('table = "HJ_RKXX"', 'tabel = "HJ_RKXX"'))
    problems = dict(_problems(path))
    assert "unknown key 'tabel'" in problems["line 8, source.tabel"]


def test_unknown_target_field_names_the_record_type(write_adapter):
    path = write_adapter(MINIMAL.replace('name = "XM"', 'fullName = "XM"'))
    problems = dict(_problems(path))
    assert "fullName is not a field of {http://govshare.local/xsd/population/1.0}Person" in problems[
        "line 13, fields.fullName"]


def test_missing_code_table_names_the_tables_defined(write_adapter):
    path = write_adapter(MINIMAL.replace('codes = "status"', 'codes = "zt"'))
    problems = dict(_problems(path))
    assert problems["line 19, fields.status.codes"] == (
        "code table 'zt' is not defined in [codes] (defined: sex, ethnicity, status)")


def test_every_problem_of_a_file_is_reported_at_once(write_adapter):
    text = (MINIMAL.replace('table = "HJ_RKXX"', 'tabel = "HJ_RKXX"')
            .replace('name = "XM"', 'fullName = "XM"')
            .replace('codes = "status"', 'codes = "zt"')
            .replace('url = "sqlite:///legacy.db"', 'url = "db2://legacy"'))
    keys = [where.split(", ")[-1] for where, _ in _problems(write_adapter(text))]
    assert {"source.tabel", "source.url", "source", "fields.fullName", "fields.status.codes"} <= set(keys)
    assert "fields" in keys  # the required field name is no longer mapped


def test_unmapped_required_field_is_reported(write_adapter):
    problems = dict(_problems(write_adapter(MINIMAL.replace('domicileAddress = "HJDZ"\n', ""))))
    assert any("required field domicileAddress (户籍地址)" in m for m in problems.values())


def test_missing_required_setting_is_reported(write_adapter):
    problems = dict(_problems(write_adapter(MINIMAL.replace('department = "11330100002501028W"\n', ""))))
    assert problems["department"] == "is required"


def test_department_must_be_a_valid_credit_code(write_adapter):
    problems = dict(_problems(write_adapter(MINIMAL.replace("11330100002501028W", "11330100002501028X"))))
    assert "统一社会信用代码" in problems["line 2, department"]


def test_unsupported_database_is_reported(write_adapter):
    problems = dict(_problems(write_adapter(MINIMAL.replace("sqlite:///legacy.db", "db2://legacy"))))
    assert "unsupported database 'db2'" in problems["line 7, source.url"]


def test_unknown_cleaning_step_is_reported(write_adapter):
    problems = dict(_problems(write_adapter(MINIMAL.replace('clean = ["date"]', 'clean = ["dates"]'))))
    assert "unknown cleaning step 'dates'" in problems["line 16, fields.birthDate.clean"]


def test_unknown_builtin_code_table_is_reported(write_adapter):
    problems = dict(_problems(write_adapter(MINIMAL.replace('"builtin:sex"', '"builtin:gender"'))))
    assert "'builtin:gender' is not a built-in code table" in problems["line 22, codes.sex"]


@pytest.mark.parametrize("schedule", ["15m", "1h", "30s", "1d", "*/15 * * * *", "0 2 * * 1-5", "0,30 8-18 * * *"])
def test_interval_and_cron_schedules_are_accepted(write_adapter, schedule):
    config = load_adapter(write_adapter(f'schedule = "{schedule}"\n' + MINIMAL))
    assert config.schedule.text == schedule


def test_cron_fields_expand_to_the_values_they_allow(write_adapter):
    config = load_adapter(write_adapter('schedule = "*/15 8-9 * * 1"\n' + MINIMAL))
    minutes, hours, days, months, weekdays = config.schedule.cron
    assert minutes == {0, 15, 30, 45} and hours == {8, 9} and weekdays == {1} and len(days) == 31


@pytest.mark.parametrize("schedule", ["15 minutes", "0m", "61 * * * *", "* * *", "*/0 * * * *"])
def test_bad_schedule_is_reported(write_adapter, schedule):
    problems = dict(_problems(write_adapter(f'schedule = "{schedule}"\n' + MINIMAL)))
    assert "line 1, schedule" in problems


def test_row_hash_change_tracking_when_there_is_no_timestamp(write_adapter):
    config = load_adapter(write_adapter('change = "none"\n' + MINIMAL))
    assert config.change.mode == "row_hash"


def test_csv_source_path_is_relative_to_the_adapter_file(write_adapter, tmp_path):
    text = MINIMAL.replace('url = "sqlite:///legacy.db"\ntable = "HJ_RKXX"', 'csv = "exports/rk.csv"\nencoding = "gbk"')
    config = load_adapter(write_adapter(text))
    assert config.source.path == tmp_path / "exports" / "rk.csv" and config.source.encoding == "gbk"


def test_table_on_a_file_source_is_reported(write_adapter):
    text = MINIMAL.replace('url = "sqlite:///legacy.db"', 'csv = "rk.csv"')
    problems = dict(_problems(write_adapter(text)))
    assert "applies to database sources" in problems["line 8, source.table"]


def test_folder_of_adapters_loads_every_file(write_adapter):
    write_adapter(MINIMAL, "a.toml")
    write_adapter(MINIMAL.replace('name = "minimal"', 'name = "second"'), "b.toml")
    assert [c.name for c in load_adapters(write_adapter(MINIMAL, "a.toml").parent)] == ["minimal", "second"]


def test_two_files_with_one_adapter_name_are_refused(write_adapter):
    write_adapter(MINIMAL, "a.toml")
    with pytest.raises(AdapterConfigError, match="also used by"):
        load_adapters(write_adapter(MINIMAL, "b.toml").parent)
