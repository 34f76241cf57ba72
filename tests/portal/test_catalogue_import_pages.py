"""The catalogue's spreadsheet in the portal over real HTTP: 导出 Excel and 下载模板 on the catalogue page,
and 目录导入 - check, then import, or the table of every problem by sheet, row and column, in Chinese."""

from __future__ import annotations

import html
import io
import re

import openpyxl
from sqlalchemy import select

from registry.models import AuditEntry, CatalogueEntry
from tests.test_catalogue_spreadsheet import row, workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ENGLISH = re.compile(r"\b(must|required|may not|got|characters|allowed|cannot|govshare)\b")


def _upload(browser, content: bytes, mode: str, name: str = "目录.xlsx"):
    browser.get("/catalogue/import")
    return browser.post("/catalogue/import", {"mode": mode}, files={"workbook": (name, content, XLSX)})


def _table(page: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    cells = r"<td[^>]*>(.*?)</td>"
    return [[html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(cells, tr, re.S)]
            for tr in rows]


def _named(sessions, name: str) -> list[CatalogueEntry]:
    with sessions() as s:
        return list(s.scalars(select(CatalogueEntry).where(CatalogueEntry.name == name)))


def test_the_catalogue_page_exports_what_it_shows_and_offers_the_template(browser, city):
    gaj = browser("gaj")
    page = gaj.get("/catalogue?provider=gaj").text
    link = html.unescape(re.search(r'<a id="export-link" href="([^"]+)"', page).group(1))
    assert link == "/portal/catalogue/export.xlsx?provider=gaj"
    exported = gaj.get(link.removeprefix("/portal"))
    assert exported.status_code == 200 and exported.headers["Content-Type"] == XLSX
    assert "attachment" in exported.headers["Content-Disposition"]
    codes = [r[0] for r in openpyxl.load_workbook(io.BytesIO(exported.content))["目录编制"]
             .iter_rows(min_row=2, values_only=True)]
    assert codes == sorted([city.conditional, city.unconditional])
    assert 'id="template-link"' in page
    blank = gaj.get("/catalogue/template.xlsx")
    assert openpyxl.load_workbook(io.BytesIO(blank.content)).sheetnames == ["目录编制", "信息项", "说明", "代码表"]


def test_cataloguers_find_the_import_page_in_their_menu_and_others_are_kept_out(browser, city):
    assert '>目录导入</a>' in browser("gaj").get("/catalogue").text
    auditor = browser("auditor")
    assert '>目录导入</a>' not in auditor.get("/catalogue").text
    assert auditor.get("/catalogue/import").status_code == 403


def test_a_workbook_is_checked_then_imported_as_drafts(browser, city, sessions):
    gaj = browser("gaj")
    content = workbook([row(资源名称="临时居住登记信息")], [(2, "公民身份号码", "C", 18)])
    checked = _upload(gaj, content, "check")
    assert checked.status_code == 200
    assert "校验通过 (目录.xlsx), 尚未保存: 导入后将新建 1 条、修改 0 条, 0 条无变化" in checked.text
    assert _table(checked.text, "import-rows") == [["2", "新建", "(导入后生成)", "临时居住登记信息"]]
    assert _named(sessions, "临时居住登记信息") == []
    imported = _upload(gaj, content, "import")
    assert "导入完成 (目录.xlsx): 新建 1 条、修改 0 条, 0 条无变化" in imported.text
    [entry] = _named(sessions, "临时居住登记信息")
    assert entry.status == "draft" and _table(imported.text, "import-rows") == [
        ["2", "新建", entry.resource_code, "临时居住登记信息"]]
    with sessions() as s:
        audited = [(e.operation, e.user, e.channel, e.result, e.detail) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.operation == "catalogue.import").order_by(AuditEntry.seq))]
    assert audited == [("catalogue.import", "gaj", "portal", "ok", "check only: created 1, edited 0, unchanged 0"),
                       ("catalogue.import", "gaj", "portal", "ok", "created 1, edited 0, unchanged 0")]


def test_every_problem_is_a_row_of_the_error_table_and_nothing_is_imported(browser, city, sessions):
    content = workbook([row(资源名称="甲"), row(资源名称="乙", 共享类型="有条件共享"),
                        row(资源名称="丙", 更新周期="每两天")],
                       [(2, "编号", "C", 10), (3, "编号", "C", 10), (4, "编号", "X", 10)])
    r = _upload(browser("gaj"), content, "import")
    assert r.status_code == 422
    assert "目录.xlsx 有 3 处需要修改, 没有导入任何条目" in r.text
    rows = _table(r.text, "problems")
    assert [cells[:3] for cells in rows] == [["目录编制", "3", "共享条件"], ["目录编制", "4", "更新周期"],
                                             ["信息项", "4", "数据类型"]]
    assert rows[0][3].startswith("共享类型为有条件共享时必填")
    assert not [cells for cells in rows if ENGLISH.search(cells[3])]
    assert _named(sessions, "甲") == []


def test_a_file_that_is_not_a_workbook_and_a_missing_file_are_said_so(browser, city):
    gaj = browser("gaj")
    r = _upload(gaj, "名称,摘要\n".encode(), "check", name="目录.csv")
    assert r.status_code == 422 and "文件不是 Excel 工作簿 (.xlsx)" in _table(r.text, "problems")[0][3]
    gaj.get("/catalogue/import")
    r = gaj.post("/catalogue/import", {"mode": "check"})
    assert r.status_code == 422 and "请选择要导入的工作簿 (.xlsx 文件)。" in r.text


def test_an_upload_without_the_forms_token_is_refused_and_changes_nothing(browser, city, sessions):
    gaj = browser("gaj")
    content = workbook([row(资源名称="无令牌条目")], [(2, "编号", "C", 10)])
    r = gaj.post("/catalogue/import", {"mode": "import"}, csrf=False, files={"workbook": ("目录.xlsx", content, XLSX)})
    assert r.status_code == 400 and _named(sessions, "无令牌条目") == []
