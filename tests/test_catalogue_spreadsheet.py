"""The catalogue as the 目录编制 spreadsheet: the template, export, import (all or nothing, every problem
by sheet, row and column), check-only, and the command line."""

from __future__ import annotations

import argparse
import io
import re
import zipfile
from datetime import date

import openpyxl
import pytest
from sqlalchemy import select, update

from directory.catalogue import cli, spreadsheet, template, workflow
from registry.db import unit_of_work
from registry.errors import InvalidWorkbook
from registry.models import AuditEntry, CatalogueEntry
from tests.test_catalogue_workflow import make_city, metadata

HEADERS = [c.header for c in template.COLUMNS]


@pytest.fixture
def city(sessions, settings):
    """The catalogue workflow's tests' departments and accounts."""
    return make_city(sessions, settings)


def published(city, user: str = "wang.qiang", **changes) -> str:
    code = workflow.create(city(user), metadata=metadata(**changes)).resource_code
    workflow.submit(city(user), resource_code=code)
    workflow.approve(city("shen.li"), resource_code=code)
    workflow.publish(city("shen.li"), resource_code=code)
    return code


def workbook(rows: list[dict], items: list[tuple] = (), *, base: bytes | None = None) -> bytes:
    """The template (or ``base``, an export) with ``rows`` (header -> value) appended to 目录编制 and
    ``items`` (所属资源, 名称, 数据类型, 长度) to 信息项."""
    book = openpyxl.load_workbook(io.BytesIO(base or template.write()))
    sheet, item_sheet = book[template.RESOURCES], book[template.ITEMS]
    headers = [template.header_text(c.value) for c in sheet[1]]
    for row in rows:
        sheet.append([row.get(h) for h in headers])
    for item in items:
        item_sheet.append(list(item))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def row(**changes) -> dict:
    """A new resource's row of 目录编制, by header."""
    data = {"资源分类": "101002 出生信息", "资源名称": "死亡医学证明信息", "提供方内部部门": "妇幼健康科",
            "资源摘要": "本市医疗机构签发的死亡医学证明信息。", "格式分类": "数据库", "格式类型": "oracle",
            "共享类型": "无条件共享", "共享方式": "接口", "是否向社会开放": "否", "更新周期": "每月"}
    data.update(changes)
    return data


def problems(refused: pytest.ExceptionInfo[InvalidWorkbook]) -> list[tuple]:
    return [(e.sheet, e.row, e.column, e.field) for e in refused.value.errors]


def entries(sessions) -> dict[str, tuple]:
    with sessions() as s:
        return {e.resource_code: (e.name, e.status, e.version) for e in s.scalars(select(CatalogueEntry))}


# --------------------------------------------------------------------------- the template


def test_the_template_has_the_metadata_headers_drop_downs_and_instructions(city):
    book = openpyxl.load_workbook(io.BytesIO(spreadsheet.template_workbook(city("li.na"))))
    assert book.sheetnames == ["目录编制", "信息项", "说明", "代码表"]
    sheet = book["目录编制"]
    headers = [c.value for c in sheet[1]]
    assert headers[:8] == ["资源代码(只读)", "资源分类 *", "资源名称 *", "提供方内部部门", "资源摘要 *", "格式分类 *",
                           "格式类型 *", "共享类型 *"]
    assert {"共享条件", "不予共享依据", "共享方式", "是否向社会开放 *", "开放条件", "更新周期 *", "发布日期",
            "关联资源代码", "逻辑集中", "版本(只读)"} <= set(headers)
    assert sheet.freeze_panes == "B2" and sheet.max_row == 1
    assert sheet.column_dimensions["E"].width == 40  # 资源摘要
    assert "必填" in sheet["C1"].comment.text
    lists = {str(dv.sqref).split(":")[0]: dv.formula1 for dv in sheet.data_validations.dataValidation}
    column = {h.split()[0].removesuffix("(只读)"): openpyxl.utils.get_column_letter(n)
              for n, h in enumerate(headers, 1)}
    codes = book["代码表"]
    for header in ("共享类型", "共享方式", "更新周期", "格式分类", "是否向社会开放"):
        source = lists[f"{column[header]}2"]
        letter, last = re.match(r"'代码表'!\$([A-Z])\$2:\$[A-Z]\$(\d+)", source).groups()
        offered = [codes[f"{letter}{n}"].value for n in range(2, int(last) + 1)]
        expected = {"共享类型": ["无条件共享", "有条件共享", "不予共享"], "是否向社会开放": ["是", "否"]}.get(header)
        assert expected is None or offered == expected
    assert "101002 出生信息" in [c.value for c in codes["A"]]
    assert [c.value for c in book["信息项"][1]] == ["所属资源 *", "信息项名称 *", "数据类型 *", "长度"]
    guide = [r[0] for r in book["说明"].iter_rows(values_only=True)]
    assert any("任何一行有误则整份工作簿都不导入" in (line or "") for line in guide)


# --------------------------------------------------------------------------- export and the round trip


def test_an_export_imported_again_changes_nothing(city, sessions):
    own = workflow.create(city("li.na"), metadata=metadata(publish_date="2026-01-15",
                                                           related_codes=[])).resource_code
    theirs = published(city, name="户籍人口信息", open_to_public=True, open_condition="无条件开放",
                       sharing_type="无条件共享", sharing_condition="")
    before = entries(sessions)
    exported = spreadsheet.export(city("li.na"))
    assert exported.count == 2
    result = spreadsheet.import_workbook(city("li.na"), content=exported.content)
    assert [(r.row, r.outcome, r.resource_code) for r in result.rows] == [
        (2, "unchanged", own), (3, "unchanged", theirs)]
    assert entries(sessions) == before


def test_an_export_shows_what_the_caller_sees_with_the_filters(city):
    draft = workflow.create(city("wang.qiang"), metadata=metadata(name="草稿条目")).resource_code
    public = published(city)
    seen = openpyxl.load_workbook(io.BytesIO(spreadsheet.export(city("li.na")).content))["目录编制"]
    assert [r[0] for r in seen.iter_rows(min_row=2, values_only=True)] == [public]  # not 公安局's draft
    mine = spreadsheet.export(city("wang.qiang"), chosen={"status": "draft"})
    sheet = openpyxl.load_workbook(io.BytesIO(mine.content))
    assert [r[0] for r in sheet["目录编制"].iter_rows(min_row=2, values_only=True)] == [draft]
    assert [r for r in sheet["信息项"].iter_rows(min_row=2, values_only=True)] == [
        (draft, "新生儿姓名", "字符型", 50), (draft, "出生日期", "日期型", None)]
    assert spreadsheet.export(city("wang.qiang"), chosen={"provider": "wsjw"}).count == 0


# --------------------------------------------------------------------------- creating and editing


def test_rows_without_a_code_become_drafts_with_their_items(city, sessions):
    content = workbook([row(), row(资源名称="出生证明补发信息", 发布日期=date(2026, 3, 1))],
                       [(2, "姓名", "字符型", 50), (2, "死亡日期", "D", None), (3, "证明编号", "C", "20")])
    result = spreadsheet.import_workbook(city("li.na"), content=content)
    assert [(r.row, r.outcome, r.resource_code, r.name) for r in result.rows] == [
        (2, "created", "101002/000001", "死亡医学证明信息"), (3, "created", "101002/000002", "出生证明补发信息")]
    first = workflow.show(city("li.na"), resource_code="101002/000001")
    assert first.entry.status == "draft" and first.entry.provider == "wsjw"
    assert [(i.name, i.data_type, i.length) for i in first.entry.items] == [("姓名", "C", 50), ("死亡日期", "D", None)]
    assert [(v.action, v.changed_by) for v in first.history] == [("create", "li.na")]
    second = workflow.show(city("li.na"), resource_code="101002/000002").entry
    assert second.publish_date == date(2026, 3, 1) and [i.length for i in second.items] == [20]


def test_edited_rows_edit_drafts_and_the_others_are_unchanged(city, sessions):
    first = workflow.create(city("li.na"), metadata=metadata()).resource_code
    second = workflow.create(city("li.na"), metadata=metadata(name="第二个条目")).resource_code
    book = openpyxl.load_workbook(io.BytesIO(spreadsheet.export(city("li.na")).content))
    sheet = book["目录编制"]
    name = HEADERS.index("资源名称") + 1
    sheet.cell(2, name).value = "出生医学证明信息(修订)"
    book["信息项"].append([first, "签发机构", "字符型", 100])
    out = io.BytesIO()
    book.save(out)
    result = spreadsheet.import_workbook(city("li.na"), content=out.getvalue())
    assert [(r.resource_code, r.outcome) for r in result.rows] == [(first, "edited"), (second, "unchanged")]
    edited = workflow.show(city("li.na"), resource_code=first)
    assert edited.entry.name == "出生医学证明信息(修订)" and edited.entry.version == 2
    assert [i.name for i in edited.entry.items] == ["新生儿姓名", "出生日期", "签发机构"]
    assert workflow.show(city("li.na"), resource_code=second).entry.version == 1


def test_a_row_that_only_respells_its_values_is_unchanged(city, sessions):
    code = workflow.create(city("li.na"), metadata=metadata()).resource_code
    content = workbook([row(资源代码=code, 资源名称="出生医学证明信息", 资源摘要="本市医疗机构签发的出生医学证明信息。",
                            共享类型="有条件共享", 共享条件="仅限户籍登记与社会救助业务使用", 更新周期="每日",
                            格式类型="ORACLE", 资源分类="101002")],
                       [(code, "新生儿姓名", "c", 50), (code, "出生日期", "日期型", None)])
    result = spreadsheet.import_workbook(city("li.na"), content=content)
    assert [r.outcome for r in result.rows] == ["unchanged"]
    assert entries(sessions)[code][2] == 1


def test_the_platforms_columns_are_kept_as_exported_and_left_blank_in_a_new_row(city):
    code = workflow.create(city("li.na"), metadata=metadata()).resource_code
    content = workbook([row(状态="已发布")], [(3, "姓名", "C", 20)], base=spreadsheet.export(city("li.na")).content)
    book = openpyxl.load_workbook(io.BytesIO(content))
    book["目录编制"].cell(2, HEADERS.index("状态") + 1).value = "已发布"
    with pytest.raises(InvalidWorkbook) as refused:
        spreadsheet.import_workbook(city("li.na"), content=_saved(book))
    assert [(e.row, e.column, e.message) for e in refused.value.errors] == [
        (2, "状态", "由平台设置, 不能填写或修改"), (3, "状态", "由平台设置, 不能填写或修改")]
    assert workflow.show(city("li.na"), resource_code=code).entry.status == "draft"


def test_an_admin_names_the_provider_and_a_cataloguer_may_not(city):
    result = spreadsheet.import_workbook(city("root"), content=workbook([row(提供方="gaj")], [(2, "姓名", "C", 20)]))
    assert workflow.show(city("root"), resource_code=result.rows[0].resource_code).entry.provider == "gaj"
    with pytest.raises(InvalidWorkbook) as refused:
        spreadsheet.import_workbook(city("li.na"), content=workbook([row(提供方="gaj")], [(2, "姓名", "C", 20)]))
    [error] = refused.value.errors
    assert (error.row, error.column) == (2, "提供方")
    assert error.message == "只有平台管理员可以为其他部门编目; 请为本部门编目。"


# --------------------------------------------------------------------------- every problem, nothing saved


def test_every_bad_row_is_reported_by_row_and_column_and_nothing_is_saved(city, sessions):
    content = workbook([
        row(),                                                           # 2: fine
        row(共享类型="有条件共享"),                                         # 3: no 共享条件
        row(资源名称="", 更新周期="每两天"),                                 # 4: two problems
        row(资源分类="1", 发布日期="2026-02-30", 关联资源代码="1010/01"),  # 5: three
        row(是否向社会开放="是"),                                           # 6: no 开放条件
        row(),                                                           # 7: no items
    ], [(2, "姓名", "C", 20), (3, "姓名", "C", 20), (4, "姓名", "C", 20), (5, "姓名", "C", 20), (6, "姓名", "N", None),
        (6, "姓名", "C", 5000), (9, "编号", "C", 10)])
    with pytest.raises(InvalidWorkbook) as refused:
        spreadsheet.import_workbook(city("li.na"), content=content)
    assert problems(refused) == [
        ("目录编制", 3, "共享条件", "sharing_condition"),
        ("目录编制", 4, "资源名称", "name"),
        ("目录编制", 4, "更新周期", "update_cycle"),
        ("目录编制", 5, "资源分类", "classification"),
        ("目录编制", 5, "发布日期", "publish_date"),
        ("目录编制", 5, "关联资源代码", "related_codes[1]"),
        ("目录编制", 6, "开放条件", "open_condition"),
        ("目录编制", 7, "信息项", "items"),
        ("信息项", 6, "长度", "items[1].length"),
        ("信息项", 7, "信息项名称", "items[2].name"),
        ("信息项", 7, "长度", "items[2].length"),
        ("信息项", 8, "所属资源", "items"),
    ]
    messages = {(e.row, e.field): e.message for e in refused.value.errors}
    assert messages[(3, "sharing_condition")].startswith("共享类型为有条件共享时必填")
    assert messages[(7, "items")] == "至少要有一个信息项: 在“信息项”表中添加“所属资源”为 7 的行"
    assert messages[(8, "items")] == "“目录编制”表第 9 行没有资源; 新条目填它所在的行号"
    assert str(refused.value.errors[0]).startswith(
        "目录编制!3 共享条件 (sharing_condition): 共享类型为有条件共享时必填")
    assert entries(sessions) == {}


def test_checking_only_saves_nothing_and_says_what_an_import_would_do(city, sessions):
    code = workflow.create(city("li.na"), metadata=metadata()).resource_code
    base = spreadsheet.export(city("li.na")).content
    content = workbook([row()], [(3, "姓名", "C", 20)], base=base)
    result = spreadsheet.import_workbook(city("li.na"), content=content, check=True)
    assert result.checked_only
    assert [(r.row, r.outcome, r.resource_code) for r in result.rows] == [(2, "unchanged", code), (3, "created", "")]
    assert list(entries(sessions)) == [code]


def test_a_published_entry_is_not_edited_by_an_import(city, sessions):
    code = published(city)
    book = openpyxl.load_workbook(io.BytesIO(spreadsheet.export(city("wang.qiang")).content))
    book["目录编制"].cell(2, HEADERS.index("资源名称") + 1).value = "改名"
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(InvalidWorkbook) as refused:
        spreadsheet.import_workbook(city("wang.qiang"), content=out.getvalue())
    [error] = refused.value.errors
    assert (error.row, error.column, error.field) == (2, "资源代码", "resource_code")
    assert error.message.startswith(f"目录条目 {code} 当前为“已发布”, 不能修改")


def test_another_departments_entry_is_refused_in_its_row(city, sessions):
    code = published(city)
    content = workbook([row(资源代码=code, 资源名称="改名", 共享类型="有条件共享",
                            共享条件="仅限户籍登记与社会救助业务使用", 更新周期="每日")],
                       [(code, "新生儿姓名", "C", 50)])
    with pytest.raises(InvalidWorkbook) as refused:
        spreadsheet.import_workbook(city("li.na"), content=content)
    [error] = refused.value.errors
    assert (error.row, error.column) == (2, "资源代码")
    assert error.message == f"目录条目 {code} 属于其他部门, 只有提供部门才能修改。"


def test_an_entry_from_a_lower_platform_is_refused_in_its_row_not_crashed_on(city, sessions):
    code = workflow.create(city("li.na"), metadata=metadata()).resource_code
    with unit_of_work(sessions) as s:
        s.execute(update(CatalogueEntry).where(CatalogueEntry.resource_code == code)
                  .values(origin_code="101002/000077"))
    book = openpyxl.load_workbook(io.BytesIO(spreadsheet.export(city("li.na")).content))
    assert spreadsheet.import_workbook(city("li.na"), content=_saved(book)).rows[0].outcome == "unchanged"
    book["目录编制"].cell(2, HEADERS.index("资源摘要") + 1).value = "在市级平台改写的摘要"
    with pytest.raises(InvalidWorkbook) as refused:
        spreadsheet.import_workbook(city("li.na"), content=_saved(book))
    [error] = refused.value.errors
    assert (error.row, error.column) == (2, "资源代码") and "来自下级目录管理节点" in error.message
    assert "FederatedEntry" not in error.message and entries(sessions)[code][2] == 1


def test_a_row_changed_by_someone_since_the_export_is_refused(city, sessions):
    code = workflow.create(city("li.na"), metadata=metadata()).resource_code
    book = openpyxl.load_workbook(io.BytesIO(spreadsheet.export(city("li.na")).content))
    workflow.edit(city("li.na"), resource_code=code, changes={"update_cycle": "每周"})
    book["目录编制"].cell(2, HEADERS.index("资源名称") + 1).value = "改名"
    with pytest.raises(InvalidWorkbook) as refused:
        spreadsheet.import_workbook(city("li.na"), content=_saved(book))
    [error] = refused.value.errors
    assert (error.column, error.field) == ("版本", "version") and "导出时为第 1 版, 现为第 2 版" in error.message


def test_duplicate_and_unknown_codes_are_refused(city, sessions):
    code = workflow.create(city("li.na"), metadata=metadata()).resource_code
    base = spreadsheet.export(city("li.na")).content
    content = workbook([{**row(), "资源代码": code}, {**row(), "资源代码": "101002/000099"}], base=base)
    with pytest.raises(InvalidWorkbook) as refused:
        spreadsheet.import_workbook(city("li.na"), content=content)
    assert [(e.row, e.column, e.message) for e in refused.value.errors] == [
        (3, "资源代码", f"资源代码 {code} 与第 2 行重复; 一个条目在工作簿中只能有一行"),
        (4, "资源代码",
         "没有资源代码为 101002/000099 的目录条目, 或您无权查看; 新建条目请将资源代码留空 (代码由平台生成)")]


def test_formula_cells_are_read_as_their_computed_values(city):
    book = openpyxl.load_workbook(io.BytesIO(workbook([row(资源名称='="死亡"&"证明信息"')], [(2, "姓名", "C", 20)])))
    content = _saved(book)
    # Excel keeps each formula's last value beside it; openpyxl writes none, so put Excel's in
    with zipfile.ZipFile(io.BytesIO(content)) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    sheet = re.sub(r'<c r="C2"([^>]*)><f>(.*?)</f><v\s*/?>(</v>)?', r'<c r="C2" t="str"><f>\2</f><v>死亡证明信息</v>',
                   sheet)
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    result = spreadsheet.import_workbook(city("li.na"), content=out.getvalue())
    assert result.rows[0].name == "死亡证明信息"


# --------------------------------------------------------------------------- the wrong file


def _saved(book) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _renamed_sheet() -> bytes:
    book = openpyxl.load_workbook(io.BytesIO(template.write()))
    book["目录编制"].title = "Sheet1"
    return _saved(book)


def _renamed_header() -> bytes:
    book = openpyxl.load_workbook(io.BytesIO(template.write()))
    book["目录编制"]["C1"] = "资源名"
    return _saved(book)


@pytest.mark.parametrize(("content", "said"), [
    (lambda: b"", "文件是空的"),
    (lambda: "资源名称,资源摘要\n出生,证明\n".encode(), "文件不是 Excel 工作簿 (.xlsx)"),
    (lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "旧版 Excel 97-2003 工作簿 (.xls)"),
    (lambda: b"PK\x03\x04 not really a zip", "不是有效的 Excel 工作簿"),
    (_renamed_sheet, "工作簿中没有“目录编制”表 (现有: Sheet1、信息项、说明、代码表)"),
    (_renamed_header, "不是目录编制模板的列 (C 列“资源名”)"),
    (template.write, "“目录编制”表中没有数据行"),
], ids=["empty", "csv", "xls", "broken-zip", "no-sheet", "wrong-header", "no-rows"])
def test_a_file_that_is_not_a_filled_template_is_refused_with_what_to_do(city, sessions, content, said):
    with pytest.raises(InvalidWorkbook) as refused:
        spreadsheet.import_workbook(city("li.na"), content=content())
    assert said in refused.value.errors[0].message, refused.value.errors
    assert entries(sessions) == {}


def test_a_workbook_over_the_row_limit_is_refused_as_a_whole(city, monkeypatch):
    monkeypatch.setattr(template, "MAX_ROWS", 3)
    content = workbook([row(资源名称=f"资源{n}") for n in range(4)])
    with pytest.raises(InvalidWorkbook) as refused:
        spreadsheet.import_workbook(city("li.na"), content=content)
    assert [(e.row, e.message) for e in refused.value.errors] == [
        (5, "资源行太多: 一份工作簿最多 3 行, 请拆成几份分批导入")]


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(city, monkeypatch):
    monkeypatch.setattr(template, "MAX_BYTES", 1024 * 1024)
    with pytest.raises(InvalidWorkbook) as refused:
        spreadsheet.import_workbook(city("li.na"), content=b"PK" + b"\0" * (3 * 1024 * 1024))
    assert refused.value.errors[0].message == "文件太大 (3 MB), 最多 1 MB; 请分批导入"


# --------------------------------------------------------------------------- the action: rights and the audit log


def test_each_import_is_one_audit_entry_refused_or_not(city, sessions):
    spreadsheet.import_workbook(city("li.na"), content=workbook([row()], [(2, "姓名", "C", 20)]), check=True)
    spreadsheet.import_workbook(city("li.na"), content=workbook([row()], [(2, "姓名", "C", 20)]))
    with pytest.raises(InvalidWorkbook):
        spreadsheet.import_workbook(city("li.na"), content=workbook([row()]))
    spreadsheet.export(city("zhao.min"))
    with sessions() as s:
        found = [(e.operation, e.user, e.result, e.record_count, e.detail) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.operation.like("catalogue.%")).order_by(AuditEntry.seq))]
    assert found[:2] == [("catalogue.import", "li.na", "ok", 1, "check only: created 1, edited 0, unchanged 0"),
                         ("catalogue.import", "li.na", "ok", 1, "created 1, edited 0, unchanged 0")]
    assert found[2][:3] == ("catalogue.import", "li.na", "refused:InvalidWorkbook")
    assert found[3][:4] == ("catalogue.export", "zhao.min", "ok", 0)  # li.na's drafts are hers


# --------------------------------------------------------------------------- command line


def run_cli(sessions, settings, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.handler(args, sessions, settings)


def test_cli_writes_the_template_and_exports(city, sessions, settings, tmp_path, capsys):
    workflow.create(city("li.na"), metadata=metadata())
    assert run_cli(sessions, settings, "catalogue", "template", "--user", "li.na", str(tmp_path / "t.xlsx")) == 0
    assert openpyxl.load_workbook(tmp_path / "t.xlsx").sheetnames[0] == "目录编制"
    assert run_cli(sessions, settings, "catalogue", "export", "--user", "li.na", "--status", "draft",
                   str(tmp_path / "e.xlsx")) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"1 entries -> {tmp_path / 'e.xlsx'}"


def test_cli_import_checks_imports_and_prints_each_problem_with_exit_status_2(city, sessions, settings, tmp_path,
                                                                               capsys):
    good, bad = tmp_path / "good.xlsx", tmp_path / "bad.xlsx"
    good.write_bytes(workbook([row()], [(2, "姓名", "C", 20)]))
    bad.write_bytes(workbook([row(), row(共享类型="有条件共享")], [(2, "姓名", "C", 20)]))
    assert run_cli(sessions, settings, "catalogue", "import", "--user", "li.na", "--check", str(good)) == 0
    assert capsys.readouterr().out.splitlines() == [
        "目录编制!2\tcreated\t-\t死亡医学证明信息",
        "check only, nothing saved: would be created 1, edited 0, unchanged 0"]
    assert run_cli(sessions, settings, "catalogue", "import", "--user", "li.na", str(bad)) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("目录编制!3 共享条件 (sharing_condition): 共享类型为有条件共享时必填")
    assert err[1].startswith("目录编制!3 信息项 (items): 至少要有一个信息项")
    assert err[2].startswith("error: the workbook was not imported (2 problems)")
    assert run_cli(sessions, settings, "catalogue", "import", "--user", "li.na", str(good)) == 0
    assert capsys.readouterr().out.splitlines()[0] == "目录编制!2\tcreated\t101002/000001\t死亡医学证明信息"
    assert run_cli(sessions, settings, "catalogue", "import", "--user", "zhao.min", str(good)) == 2
    assert "may not catalogue" in capsys.readouterr().err
