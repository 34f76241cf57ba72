"""Sources: SQLite and MariaDB tables, SQL queries, CSV (GBK) and XLSX files; compiled SQL per dialect."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from adapters.config import load_adapter
from adapters.demo_sources import generate_household_registry
from adapters.mapping import map_row
from adapters.sources import DIALECTS, SourceError, dialect, open_source, source_names
from tests.adapters.conftest import GAJ_FILE, MINIMAL
from xsd.rules import CHINA

WATERMARK = datetime(2024, 6, 1, 8, 0)


@pytest.fixture
def gaj_source(gaj_env):
    source = open_source(load_adapter(GAJ_FILE))
    yield source
    source.close()


def _count(url: str, where: str = "") -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(text(f"SELECT count(*) FROM HJ_RKXX {where}")).scalar_one()
    engine.dispose()
    return count


def test_sqlite_source_streams_every_row(gaj_source, gaj_registry):
    assert sum(1 for _ in gaj_source.rows(chunk=500)) == gaj_registry.rows


def test_rows_are_dicts_keyed_by_the_legacy_columns(gaj_source):
    row = next(iter(gaj_source.rows()))
    assert list(row) == ["GMSFHM", "XM", "XB", "MZ", "CSRQ", "HJDZ", "HJDZ_XZQH", "JZDZ", "ZT", "GXSJ"]


def test_incremental_rows_start_the_overlap_window_before_the_watermark(gaj_source, gaj_registry):
    since = WATERMARK - timedelta(seconds=300)
    expected = _count(gaj_registry.url, f"WHERE GXSJ >= '{since:%Y-%m-%d %H:%M:%S}'")
    assert 0 < sum(1 for _ in gaj_source.rows(since=WATERMARK)) == expected


def test_an_aware_watermark_is_compared_as_china_time(gaj_source):
    aware = WATERMARK.replace(tzinfo=CHINA).astimezone(tz=None)
    assert sum(1 for _ in gaj_source.rows(since=aware)) == sum(1 for _ in gaj_source.rows(since=WATERMARK))


def test_rows_come_in_timestamp_then_key_order(gaj_source):
    stamps = [(r["GXSJ"], r["GMSFHM"]) for r in gaj_source.rows(since=WATERMARK)]
    assert stamps == sorted(stamps)


def test_sql_source_reads_the_adapters_query(write_adapter, gaj_registry):
    text_ = MINIMAL.replace('url = "sqlite:///legacy.db"', f'url = "{gaj_registry.url}"').replace(
        'table = "HJ_RKXX"', "sql = \"SELECT * FROM HJ_RKXX WHERE ZT = '10'\"")
    source = open_source(load_adapter(write_adapter(text_)))
    assert {r["ZT"] for r in source.rows()} == {"10"}
    source.close()


@pytest.mark.parametrize(("name", "predicate"), [
    ("sqlite", '"HJ_RKXX"."GXSJ" >= ?'),
    ("mysql", "`HJ_RKXX`.`GXSJ` >= %(since)s"),
    ("postgresql", '"HJ_RKXX"."GXSJ" >= %(since)s'),
    ("oracle", '"HJ_RKXX"."GXSJ" >= :since'),
    ("mssql", "[HJ_RKXX].[GXSJ] >= %(since)s"),
])
def test_compiled_sql_has_the_watermark_predicate_in_each_dialect(gaj_source, name, predicate):
    assert predicate in gaj_source.compiled_sql(name)


@pytest.mark.parametrize("name", list(DIALECTS))
def test_compiled_sql_orders_by_timestamp_then_key(gaj_source, name):
    sql = " ".join(gaj_source.compiled_sql(name).split())
    quote = {"mysql": "`%s`", "mssql": "[%s]"}.get(name, '"%s"')
    table, stamp, key = (quote % n for n in ("HJ_RKXX", "GXSJ", "GMSFHM"))
    assert sql.endswith(f"ORDER BY {table}.{stamp}, {table}.{key}")


def test_row_hash_source_reads_everything_without_a_predicate(write_adapter):
    source = open_source(load_adapter(write_adapter(MINIMAL)))
    assert "WHERE" not in source.compiled_sql("oracle")


def test_sql_source_compiles_as_a_subquery(write_adapter):
    config = load_adapter(write_adapter(MINIMAL.replace('table = "HJ_RKXX"', 'sql = "SELECT * FROM RK"')))
    assert "FROM (SELECT * FROM RK) AS src" in " ".join(open_source(config).compiled_sql("mssql").split())


def test_oracle_result_names_are_given_back_in_upper_case():
    assert source_names(dialect("oracle"), ["gmsfhm", "hjdz_xzqh"]) == ["GMSFHM", "HJDZ_XZQH"]


def _file_adapter(option: str) -> str:
    return MINIMAL.replace('url = "sqlite:///legacy.db"\ntable = "HJ_RKXX"', option)


def _write_csv(path, rows, encoding):
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


LEGACY = [{"GMSFHM": "330102199001021235", "XM": "张伟", "XB": "男", "MZ": "汉族", "CSRQ": "1990/1/2",
           "HJDZ_XZQH": "330102", "HJDZ": "浙江省杭州市上城区解放路8号", "ZT": "10"}]


def test_gbk_csv_source_reads_chinese_text(write_adapter, tmp_path):
    _write_csv(tmp_path / "rk.csv", LEGACY, "gbk")
    config = load_adapter(write_adapter(_file_adapter('csv = "rk.csv"\nencoding = "gbk"')))
    [row] = list(open_source(config).rows())
    assert map_row(config, row).fields["name"] == "张伟"


def test_csv_in_the_wrong_encoding_is_a_source_error(write_adapter, tmp_path):
    _write_csv(tmp_path / "rk.csv", LEGACY, "gbk")
    config = load_adapter(write_adapter(_file_adapter('csv = "rk.csv"\nencoding = "utf-8"')))
    with pytest.raises(SourceError, match="is not utf-8"):
        list(open_source(config).rows())


def test_csv_rows_are_filtered_by_the_watermark(write_adapter, tmp_path):
    rows = [{**LEGACY[0], "GXSJ": "2024-05-01 09:00:00"}, {**LEGACY[0], "GXSJ": "2024-06-02 09:00:00"}]
    _write_csv(tmp_path / "rk.csv", rows, "gb18030")
    text_ = _file_adapter('csv = "rk.csv"\nencoding = "gb18030"')
    config = load_adapter(write_adapter(text_.replace("[fields]", '[change]\ntimestamp = "GXSJ"\n\n[fields]')))
    assert [r["GXSJ"] for r in open_source(config).rows(since=WATERMARK)] == ["2024-06-02 09:00:00"]


def test_xlsx_source_reads_the_named_sheet(write_adapter, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "说明"
    sheet = book.create_sheet("人口")
    sheet.append(list(LEGACY[0]))
    sheet.append(list(LEGACY[0].values()))
    sheet.append([None] * len(LEGACY[0]))  # formatted but empty: not a row
    book.save(tmp_path / "rk.xlsx")
    config = load_adapter(write_adapter(_file_adapter('xlsx = "rk.xlsx"\nsheet = "人口"')))
    [row] = list(open_source(config).rows())
    assert map_row(config, row).fields["birthDate"].isoformat() == "1990-01-02"


def test_xlsx_without_the_named_sheet_is_a_source_error(write_adapter, tmp_path):
    from openpyxl import Workbook

    Workbook().save(tmp_path / "rk.xlsx")
    config = load_adapter(write_adapter(_file_adapter('xlsx = "rk.xlsx"\nsheet = "人口"')))
    with pytest.raises(SourceError, match="has no sheet '人口'"):
        list(open_source(config).rows())


def test_mariadb_source_streams_the_generated_registry(mariadb_url, monkeypatch):
    manifest = generate_household_registry(mariadb_url, 2000, seed=11)
    monkeypatch.setenv("GOVSHARE_GAJ_URL", mariadb_url)
    config = load_adapter(GAJ_FILE)
    source = open_source(config)
    try:
        mapped = [map_row(config, row) for row in source.rows(chunk=300)]
    finally:
        source.close()
    assert len(mapped) == manifest.rows
    unmapped = sum(1 for m in mapped for p in m.problems if p.rule == "code.unmapped")
    assert unmapped == manifest.counts["unmapped_code"]


def test_mariadb_incremental_read_uses_the_watermark(mariadb_url, monkeypatch):
    generate_household_registry(mariadb_url, 2000, seed=11)
    monkeypatch.setenv("GOVSHARE_GAJ_URL", mariadb_url)
    source = open_source(load_adapter(GAJ_FILE))
    try:
        since = WATERMARK - timedelta(seconds=300)
        assert sum(1 for _ in source.rows(since=WATERMARK)) == _count(mariadb_url, f"WHERE GXSJ >= '{since}'")
    finally:
        source.close()


def test_mariadb_source_sorts_whole_rows_not_row_ids(mariadb_url, monkeypatch):
    """HJ_RKXX's columns total more than MariaDB's default max_length_for_sort_data: sorted by
    row ids, every row would be read twice, the second time at random (40 s for a million)."""
    generate_household_registry(mariadb_url, 500, seed=11)
    monkeypatch.setenv("GOVSHARE_GAJ_URL", mariadb_url)
    source = open_source(load_adapter(GAJ_FILE))
    plain = create_engine(mariadb_url)
    try:
        sql = str(source.query().compile(dialect=source.engine.dialect))

        def sort_mode(engine) -> str:
            with engine.connect() as conn:
                return conn.exec_driver_sql(f"ANALYZE FORMAT=JSON {sql}").scalar_one()

        assert '"r_sort_mode": "packed_sort_key,rowid"' in sort_mode(plain)  # the server's default
        assert '"r_sort_mode": "packed_sort_key,packed_addon_fields"' in sort_mode(source.engine)
    finally:
        source.close()
        plain.dispose()
