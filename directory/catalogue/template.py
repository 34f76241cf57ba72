"""The catalogue's spreadsheet (目录编制模板, .xlsx): the workbook a department's cataloguers fill in, and
the one the catalogue is exported as — the same layout, so an export can be edited and imported again.

    目录编制   one resource a row; row 1 the headers (frozen), the core metadata of GB/T 21063.3:
               资源代码      | 资源分类        | 资源名称         | ... | 共享类型   | ... | 状态 | 版本
               (blank: new)  | 101002 出生信息 | 出生医学证明信息 | ... | 有条件共享 | ... |      |
               101002/000001 | 101002 出生信息 | 出生证明         | ... | 无条件共享 | ... | 草稿 | 2
    信息项     one information item a row, keyed by its resource: its 资源代码, or for a resource
               without a code yet its row number in 目录编制:
               所属资源      | 信息项名称 | 数据类型 | 长度
               2             | 新生儿姓名 | 字符型   | 50
               101002/000001 | 出生日期   | 日期型   |
    说明       what each column holds, whether it is required, the values allowed
    代码表     the code lists the drop-downs offer (资源分类, 格式, 共享类型, 共享方式, 更新周期, 数据类型)

The headers are the metadata's Chinese names (``metadata.FIELD_LABELS``); a header may carry a
trailing ``*`` (required) or ``(只读)``.  资源代码, 提供方名称, 状态 and 版本 are the platform's: an export
fills them, a new row leaves them blank; 版本 tells an import whether the entry changed since the
export.  This module knows the layout only - writing a workbook and reading one into plain rows;
what a row means to the catalogue is ``spreadsheet``'s.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation

from registry.errors import CellError

from ..taxonomies import FORMAT_TYPES, SHARING_METHODS, SHARING_TYPES, UPDATE_CYCLES
from . import classification
from .metadata import DATA_TYPES, FIELD_LABELS, MAX_LENGTHS, REQUIRED
from .workflow import STATUS_LABELS, Entry

RESOURCES, ITEMS, GUIDE, CODE_LISTS = "目录编制", "信息项", "说明", "代码表"
#: the most resource rows (and information-item rows) one workbook holds: a department's catalogue, not a dump
MAX_ROWS, MAX_ITEM_ROWS = 10_000, 100_000
#: the largest workbook read (bytes, compressed)
MAX_BYTES = 20 * 1024 * 1024
YES, NO = "是", "否"
READ_ONLY_MARK = "(只读)"
#: what separates the codes of 关联资源代码 in one cell
_CODE_SEPARATORS = re.compile(r"[\s,，;；、]+")
_DATA_TYPE_BY_NAME = {name: letter for letter, name in DATA_TYPES.items()}


@dataclass(frozen=True)
class Column:
    """A column of 目录编制: the field it holds, its header, width, kind of value and drop-down."""

    field: str
    width: int
    kind: str = "text"  # text | class | yesno | flag | date | codes | status | number
    choices: str = ""  # the code list (代码表) of its drop-down
    note: str = ""
    platform: bool = False  # the platform's: filled by an export, blank in a new row

    @property
    def header(self) -> str:
        return FIELD_LABELS[self.field]

    @property
    def required(self) -> bool:
        return self.field in REQUIRED


COLUMNS = (
    Column("resource_code", 16, platform=True,
           note="平台生成 (分类码/顺序码)。新建条目留空; 修改已有条目时保留导出的代码。"),
    Column("classification", 26, "class", "资源分类",
           "选到项、目或细目, 如“101002 出生信息”; 可只填代码。已有条目的分类不能修改。"),
    Column("name", 28, note="信息资源名称。"),
    Column("provider_unit", 16, note="提供方内部部门 (处室), 可空。"),
    Column("abstract", 40, note="信息资源摘要: 内容、范围、用途。"),
    Column("format_class", 12, choices="格式分类", note="信息资源格式的分类。"),
    Column("format_type", 14, choices="格式类型", note="须为所选格式分类下的类型; 格式分类为“自定义”时可填其他类型。"),
    Column("sharing_type", 12, choices="共享类型", note="无条件共享、有条件共享或不予共享。"),
    Column("sharing_condition", 30, note="有条件共享时必填 (哪些部门可以使用、用于什么业务); 其他共享类型留空。"),
    Column("not_shared_basis", 30, note="不予共享时必填 (法律、法规和政策依据); 其他共享类型留空。"),
    Column("sharing_method", 12, choices="共享方式", note="无条件共享、有条件共享时必填; 不予共享时留空。"),
    Column("open_to_public", 10, "yesno", "是否", note="是否向社会开放: 是 / 否。"),
    Column("open_condition", 24, note="向社会开放时必填 (可写“无条件开放”); 不开放时留空。"),
    Column("update_cycle", 10, choices="更新周期", note="实时、每日、每周、每月、每季度、每半年、每年。"),
    Column("publish_date", 12, "date", note="日期, 如 2026-02-28; 可空 (发布时取当天)。"),
    Column("related_codes", 24, "codes", note="关联资源的资源代码, 多个用空格或逗号分隔; 可空。"),
    Column("wsdl_path", 24, note="已发布的 WSDL 路径, 如 gaj/query.wsdl; 可空。"),
    Column("access_point", 28, note="服务地址, http:// 或 https:// 开头; 可空。"),
    Column("logical", 10, "flag", "是否",
           note="逻辑集中 (由提供方服务实时应答): 是 / 否, 空为否; 选“是”须填 WSDL 路径。"),
    Column("provider", 10, note="提供部门的部门代码。留空为本部门; 只有平台管理员可以为其他部门编目。"),
    Column("provider_name", 20, platform=True, note="平台填写: 保留导出的值, 新建条目留空 (改动会被指出)。"),
    Column("status", 8, "status", platform=True,
           note="平台填写 (草稿、待审核、已发布……): 保留导出的值, 新建条目留空 (改动会被指出)。"),
    Column("version", 6, "number", platform=True,
           note="平台填写。导入时若条目在导出后已被他人修改 (版本变了), 该行不导入, 请重新导出。"),
)
BY_HEADER = {c.header: c for c in COLUMNS}
BY_FIELD = {c.field: c for c in COLUMNS}
#: the columns an import compares with the entry and may change
EDITABLE = tuple(c for c in COLUMNS if not c.platform and c.field != "provider")
ITEM_HEADERS = ("所属资源", "信息项名称", "数据类型", "长度")
ITEM_NOTES = ("资源代码; 还没有代码的新条目填它在“目录编制”表中的行号 (如 2)。", "信息项名称, 同一资源内不重名。",
              "数据类型: " + "、".join(f"{v} ({k})" for k, v in DATA_TYPES.items()) + "。",
              "字符型 C 填 1-4000, 数值型 N、浮点型 F 填总位数 1-38; 其他类型留空。")


def code_lists() -> dict[str, tuple[str, ...]]:
    """The values each drop-down offers, by the name of its list (代码表's columns)."""
    values = classification.classification_values()
    return {
        "资源分类": tuple(f"{code} {name}" for code, name in sorted(values.items())
                      if classification.node(code).level != "类"),
        "格式分类": tuple(FORMAT_TYPES),
        "格式类型": tuple(dict.fromkeys(t for types in FORMAT_TYPES.values() for t in types)),
        "共享类型": SHARING_TYPES,
        "共享方式": SHARING_METHODS,
        "更新周期": UPDATE_CYCLES,
        "是否": (YES, NO),
        "数据类型": tuple(DATA_TYPES.values()),
    }


# ----------------------------------------------------------------------------- writing


def write(entries: Iterable[Entry] = ()) -> bytes:
    """The workbook: the template when ``entries`` is empty, else those entries (an export)."""
    book = Workbook(write_only=True)
    lists = code_lists()
    resources, items = book.create_sheet(RESOURCES), book.create_sheet(ITEMS)
    _guide(book.create_sheet(GUIDE))
    list_sheet = book.create_sheet(CODE_LISTS)
    list_ranges = _code_list_sheet(list_sheet, lists)

    resources.freeze_panes, items.freeze_panes = "B2", "A2"
    for n, column in enumerate(COLUMNS, 1):
        resources.column_dimensions[get_column_letter(n)].width = column.width
    for n, width in enumerate((16, 24, 10, 8), 1):
        items.column_dimensions[get_column_letter(n)].width = width
    resources.append([_header(resources, c.header, c.note, required=c.required, platform=c.platform)
                      for c in COLUMNS])
    items.append([_header(items, h, note, required=n < 3) for n, (h, note) in enumerate(zip(ITEM_HEADERS, ITEM_NOTES,
                                                                                             strict=True))])
    count, item_rows = 0, []
    for entry in entries:
        resources.append([_cell(resources, c, value) for c, value in zip(COLUMNS, cells(entry), strict=True)])
        item_rows += [(entry.resource_code, i.name, DATA_TYPES.get(i.data_type, i.data_type), i.length)
                      for i in entry.items]
        count += 1
    for row in item_rows:
        items.append([_text_cell(items, row[0]), *row[1:]])
    last = max(count, MAX_ROWS) + 1
    for n, column in enumerate(COLUMNS, 1):
        letter = get_column_letter(n)
        if column.choices:
            _drop_down(resources, list_ranges[column.choices], f"{letter}2:{letter}{last}",
                       strict=column.field not in ("format_type", "classification"))
        elif column.kind == "date":
            check = DataValidation(type="date", operator="greaterThan", formula1="1", allow_blank=True,
                                   errorTitle="日期", error="请填写日期, 如 2026-02-28。", showErrorMessage=True)
            check.add(f"{letter}2:{letter}{last}")
            resources.data_validations.append(check)
    _drop_down(items, list_ranges["数据类型"], f"C2:C{max(len(item_rows), MAX_ITEM_ROWS) + 1}", strict=False)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def cells(entry: Entry) -> list[Any]:
    """The entry's row of 目录编制, a value for each column."""
    node = _class_name(entry.classification)
    values = {**entry.as_dict(), "classification": f"{entry.classification} {node}".strip(),
              "open_to_public": YES if entry.open_to_public else NO, "logical": YES if entry.logical else NO,
              "publish_date": entry.publish_date, "related_codes": " ".join(entry.related_codes),
              "status": STATUS_LABELS.get(entry.status, entry.status)}
    return [values[c.field] for c in COLUMNS]


def values(entry: Entry) -> dict[str, Any]:
    """The entry's row as :func:`read` gives it back: what an unedited export row holds."""
    return {c.field: _value(c, raw, [], 0) for c, raw in zip(COLUMNS, cells(entry), strict=True)}


def _header(sheet, text: str, note: str, *, required: bool, platform: bool = False) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=text + (" *" if required else "") + (READ_ONLY_MARK if platform else ""))
    cell.font = Font(bold=True, color="C00000" if required else "000000")
    cell.fill = PatternFill("solid", fgColor="D9D9D9" if platform else "DDEBF7")
    cell.alignment = Alignment(vertical="center", wrap_text=True)
    cell.comment = Comment(("必填。" if required else "") + note, "govshare", width=260, height=110)
    return cell


def _cell(sheet, column: Column, value: Any) -> Any:
    if column.kind in ("class", "codes") or column.field == "resource_code":
        return _text_cell(sheet, value)
    if column.kind == "date" and value is not None:
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    return value


def _text_cell(sheet, value: Any) -> WriteOnlyCell:
    """A cell Excel keeps as text: a code like 101002 stays a code, not the number 101002."""
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = "@"
    return cell


def _drop_down(sheet, source: str, where: str, *, strict: bool) -> None:
    """A drop-down of the values at ``source``; ``strict`` refuses others in Excel, else only warns."""
    check = DataValidation(type="list", formula1=source, allow_blank=True, showDropDown=False,
                           showErrorMessage=True, errorStyle="stop" if strict else "warning",
                           errorTitle="取值不在列表中", error="请从下拉列表中选择。")
    check.add(where)
    sheet.data_validations.append(check)


def _code_list_sheet(sheet, lists: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Write each list as a column of 代码表; the range of each, for the drop-downs."""
    names = list(lists)
    for n, name in enumerate(names, 1):
        sheet.column_dimensions[get_column_letter(n)].width = 30 if name == "资源分类" else 14
    sheet.append([_header(sheet, name, "", required=False) for name in names])
    for i in range(max(len(v) for v in lists.values())):
        sheet.append([_text_cell(sheet, lists[name][i]) if i < len(lists[name]) else None for name in names])
    return {name: f"'{CODE_LISTS}'!${get_column_letter(n)}$2:${get_column_letter(n)}${len(lists[name]) + 1}"
            for n, name in enumerate(names, 1)}


def _guide(sheet) -> None:
    sheet.column_dimensions["A"].width, sheet.column_dimensions["B"].width = 18, 22
    sheet.column_dimensions["C"].width, sheet.column_dimensions["D"].width = 8, 90
    for line in (
        "政务信息资源目录编制模板 (GB/T 21063.3 核心元数据)",
        "每个信息资源在“目录编制”表中占一行, 它的信息项在“信息项”表中各占一行, 以“所属资源”对应。",
        "新建条目: 资源代码留空, 信息项的“所属资源”填该资源在“目录编制”表中的行号; 导入后为草稿, 代码由平台生成。",
        "修改条目: 导出本部门的目录, 修改后导入; 草稿、已退回、已下架的条目可以修改 (修改后为草稿), "
        "待审核、已审核、已发布的条目不能在此修改。没有改动的行不受影响, 其他部门的条目只能原样保留。",
        "导入时逐行校验, 任何一行有误则整份工作簿都不导入, 并按“表!行 列: 问题”列出每一处; 可先“仅校验”。",
        f"一份工作簿最多 {MAX_ROWS} 个资源、{MAX_ITEM_ROWS} 个信息项。"
        f"标 * 的列必填; 标{READ_ONLY_MARK}的列由平台填写。",
        "",
    ):
        sheet.append([line])
    sheet.append([_header(sheet, h, "", required=False) for h in ("列名", "字段", "必填", "说明")])
    for column in COLUMNS:
        limit = MAX_LENGTHS.get(column.field)
        sheet.append([column.header, column.field, "是" if column.required else "",
                      column.note + (f" 最多 {limit} 个字。" if limit else "")])
    for header, note in zip(ITEM_HEADERS, ITEM_NOTES, strict=True):
        sheet.append([f"{ITEMS}: {header}", "items", "是" if header != "长度" else "", note])


def _class_name(code: str) -> str:
    try:
        return classification.node(code).name
    except KeyError:
        return ""


# ----------------------------------------------------------------------------- reading


@dataclass
class ItemRow:
    """An information item as read from 信息项."""

    row: int
    name: Any
    data_type: Any
    length: Any


@dataclass
class ResourceRow:
    """A resource as read from 目录编制: the value of each column the sheet has, normalised (text trimmed,
    是/否 as True/False, dates as dates, 关联资源代码 as a list), and its information items."""

    row: int
    values: dict[str, Any]
    items: list[ItemRow] = field(default_factory=list)


@dataclass
class Sheets:
    """What :func:`read` found: the resource rows and every problem of the layout or of a row's cells."""

    rows: list[ResourceRow]
    given: tuple[Column, ...]
    errors: list[CellError]


def read(content: bytes) -> Sheets:
    """Read a workbook's 目录编制 and 信息项 (formulas as their last computed values); raises nothing for a
    row's problems (they are in ``errors``), InvalidWorkbook-worthy problems of the file as a whole are
    ``errors`` with no row and no rows."""
    problem = _file_problem(content)
    if problem:
        return Sheets([], (), [CellError("工作簿", None, "", "", problem[0], problem[1])])
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError) as exc:
        return Sheets([], (), [CellError("工作簿", None, "", "", "文件不是有效的 Excel 工作簿 (.xlsx), 无法读取; "
                                         "请用本平台的“目录编制模板”填写后另存为 .xlsx",
                                         f"not a readable .xlsx workbook: {exc.__class__.__name__}: {exc}")])
    try:
        return _read_book(book)
    finally:
        book.close()


def _file_problem(content: bytes) -> tuple[str, str] | None:
    if not content:
        return "文件是空的, 请选择填写好的目录编制模板 (.xlsx)", "the file is empty"
    if len(content) > MAX_BYTES:
        return (f"文件太大 ({len(content) // 1024 // 1024} MB), 最多 {MAX_BYTES // 1024 // 1024} MB; 请分批导入",
                f"the file is {len(content)} bytes, over the limit of {MAX_BYTES}")
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        return ("文件是旧版 Excel 97-2003 工作簿 (.xls), 请在 Excel 中另存为“Excel 工作簿 (.xlsx)”后再导入",
                "an Excel 97-2003 (.xls) file; save it as .xlsx")
    if not content.startswith(b"PK"):
        return ("文件不是 Excel 工作簿 (.xlsx); 请用本平台的“目录编制模板”填写, 不要上传 CSV、WPS 或其他格式",
                "not an .xlsx workbook (no zip signature)")
    return None


def _read_book(book) -> Sheets:
    errors: list[CellError] = []
    for wanted in (RESOURCES, ITEMS):
        if wanted not in book.sheetnames:
            errors.append(CellError(wanted, None, "", "", f"工作簿中没有“{wanted}”表 (现有: "
                                    f"{'、'.join(book.sheetnames)}); 请使用本平台的“目录编制模板”",
                                    f"no sheet {wanted!r}; sheets: {book.sheetnames}"))
    if errors:
        return Sheets([], (), errors)
    lines = book[RESOURCES].iter_rows(values_only=True)
    given, header_errors = _headers(next(lines, ()))
    item_lines = book[ITEMS].iter_rows(values_only=True)
    item_header = [header_text(v) for v in next(item_lines, ())]
    while item_header and not item_header[-1]:
        item_header.pop()
    if tuple(item_header) != ITEM_HEADERS:
        header_errors.append(CellError(ITEMS, 1, "", "", f"表头须为 {' | '.join(ITEM_HEADERS)} (现为 "
                                       f"{' | '.join(h or '空' for h in item_header) or '空'}); 请使用本平台的模板",
                                       f"the item headers must be {ITEM_HEADERS}, got {tuple(item_header)}"))
    if header_errors:
        return Sheets([], given, header_errors)

    rows: list[ResourceRow] = []
    for number, line in enumerate(lines, 2):
        if _blank(line):
            continue
        if len(rows) == MAX_ROWS:
            return Sheets([], given, [CellError(RESOURCES, number, "", "", f"资源行太多: 一份工作簿最多 {MAX_ROWS} 行, "
                                                "请拆成几份分批导入", f"more than {MAX_ROWS} resource rows")])
        values = {column.field: _value(column, line[n] if n < len(line) else None, errors, number)
                  for n, column in enumerate(given) if column is not None}
        rows.append(ResourceRow(number, values))
    items = []
    for number, line in enumerate(item_lines, 2):
        if _blank(line):
            continue
        if len(items) == MAX_ITEM_ROWS:
            return Sheets([], given, [CellError(ITEMS, number, "", "", f"信息项行太多: 一份工作簿最多 "
                                                f"{MAX_ITEM_ROWS} 行, 请拆成几份分批导入",
                                                f"more than {MAX_ITEM_ROWS} item rows")])
        line = tuple(line) + (None,) * (4 - len(line))
        items.append((number, line[0], ItemRow(number, _text(line[1]), _text(line[2]), _length(line[3]))))
    if not rows:
        errors.append(CellError(RESOURCES, None, "", "", "“目录编制”表中没有数据行; 请从第 2 行起每行填写一个资源",
                                "no resource rows"))
    _attach(rows, items, errors)
    return Sheets(rows, given, errors)


def _headers(line: tuple) -> tuple[tuple[Column | None, ...], list[CellError]]:
    """The column of each header cell (None past the last), and the header's problems."""
    texts = [header_text(v) for v in line]
    while texts and not texts[-1]:
        texts.pop()
    given: list[Column | None] = []
    errors: list[CellError] = []
    seen: set[str] = set()
    for n, text in enumerate(texts, 1):
        column = BY_HEADER.get(text)
        letter = get_column_letter(n)
        if column is None:
            errors.append(CellError(RESOURCES, 1, text or f"第 {letter} 列", "",
                                    f"不是目录编制模板的列 ({letter} 列“{text or '空'}”); 请使用本平台的模板, "
                                    "不要增加、删除或改名列", f"unknown header {text!r} in column {letter}"))
        elif text in seen:
            errors.append(CellError(RESOURCES, 1, text, column.field, f"列“{text}”出现了两次 ({letter} 列)",
                                    f"header {text!r} twice"))
        seen.add(text)
        given.append(column)
    missing = [c.header for c in COLUMNS if c.required and c.header not in seen]
    if missing:
        errors.append(CellError(RESOURCES, 1, "", "", f"缺少必填列: {'、'.join(missing)}; 请使用本平台的目录编制模板",
                                f"missing columns: {', '.join(missing)}"))
    if "资源代码" not in seen and not errors:
        errors.append(CellError(RESOURCES, 1, "", "", "缺少“资源代码”列; 请使用本平台的目录编制模板",
                                "missing column 资源代码"))
    return tuple(given), errors


def header_text(value: Any) -> str:
    """A header as the layout names it: without a trailing * (required) or (只读)."""
    text = str(value).strip() if value is not None else ""
    text = text.removesuffix(READ_ONLY_MARK).removesuffix("（只读）").strip()
    return text.removesuffix("*").strip()


def _blank(line: tuple) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in line)


def _value(column: Column, raw: Any, errors: list[CellError], row: int) -> Any:
    """A cell as the metadata rules take it; what no rule could read is left as it is for them to refuse."""
    if column.kind == "yesno":
        return _yes_no(raw, None)
    if column.kind == "flag":
        return _yes_no(raw, False)
    if column.kind == "date":
        if isinstance(raw, datetime):
            return raw.date()
        return raw if isinstance(raw, date) else (_text(raw) or None)
    if column.kind == "codes":
        return [c for c in _CODE_SEPARATORS.split(_text(raw)) if c]
    if column.kind == "class":
        text = _text(raw)
        return text.split()[0] if text else ""
    if column.kind == "number":
        text = _text(raw)
        if text and not text.isdigit():
            errors.append(CellError(RESOURCES, row, column.header, column.field, "须为导出时的版本号 (整数), 或留空",
                                    f"not a version number: {raw!r}"))
            return None
        return int(text) if text else None
    if column.kind == "status":
        text = _text(raw)
        return {label: status for status, label in STATUS_LABELS.items()}.get(text, text)
    return _text(raw)


def _yes_no(raw: Any, blank: bool | None) -> Any:
    if isinstance(raw, bool):
        return raw
    text = _text(raw)
    if not text:
        return blank
    return {YES: True, NO: False}.get(text, text)


def _text(raw: Any) -> str:
    """A cell as text: numbers without a trailing .0 (a code typed as a number), dates as YYYY-MM-DD."""
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return YES if raw else NO
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, datetime):
        return raw.date().isoformat()
    if isinstance(raw, date):
        return raw.isoformat()
    return str(raw).strip()


def _length(raw: Any) -> Any:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw.strip())
    return raw


def data_type_letter(value: Any) -> Any:
    """字符型 -> C (the metadata rules take either; the comparison of an import takes one)."""
    text = _text(value)
    return _DATA_TYPE_BY_NAME.get(text, text.upper())


def _attach(rows: list[ResourceRow], items: list[tuple[int, Any, ItemRow]], errors: list[CellError]) -> None:
    """Give each resource row its information items, by 资源代码 or by its row number."""
    by_number = {r.row: r for r in rows}
    by_code: dict[str, ResourceRow] = {}
    for r in rows:  # a code given twice is refused; its items go with its first row
        by_code.setdefault(r.values.get("resource_code") or "", r)
    by_code.pop("", None)
    for number, key, item in items:
        text = _text(key)
        owner = by_code.get(text) or (by_number.get(int(text)) if text.isdigit() else None)
        if owner is None:
            if not text:
                message = "必填: 填写所属资源的资源代码, 新条目填它在“目录编制”表中的行号"
            elif text.isdigit():
                message = f"“目录编制”表第 {text} 行没有资源; 新条目填它所在的行号"
            else:
                message = f"“目录编制”表中没有资源代码为 {text} 的行"
            errors.append(CellError(ITEMS, number, ITEM_HEADERS[0], "items", message,
                                    f"no resource row for the item key {text!r}"))
            continue
        owner.items.append(item)


def sorted_errors(errors: Iterable[CellError]) -> list[CellError]:
    """Errors in the order a person goes through the workbook: by sheet, row, then column."""
    sheets = {RESOURCES: 0, ITEMS: 1}
    columns = {**{c.header: n for n, c in enumerate(COLUMNS)}, **{h: n for n, h in enumerate(ITEM_HEADERS)}}
    return sorted(errors, key=lambda e: (sheets.get(e.sheet, -1), e.row or 0, columns.get(e.column, len(columns))))
