"""Catalogue import and export as the 目录编制 spreadsheet (``template`` is its layout): three actions.

    template(ctx) -> bytes                                         the empty 目录编制模板 (.xlsx)
    export(ctx, chosen={"provider": "gaj", "status": "draft"}) -> Exported(content, count)  what it sees
    import_workbook(ctx, content=xlsx_bytes, check=True)
    -> ImportResult(checked_only=True, rows=(RowOutcome(2, "created", "", "出生医学证明信息"),
                                             RowOutcome(3, "unchanged", "101002/000001", "死亡医学证明信息")))
    -> InvalidWorkbook([CellError("目录编制", 5, "共享条件", "sharing_condition",
                                  "共享类型为有条件共享时必填: 写明哪些部门可以使用、用于什么业务"), ...])

An export shows what ``catalogue.search`` would (``search.visible_to``), with the same filters.
An import reads every row and checks it with the catalogue's own rules before it saves any: a row
without 资源代码 is a new entry of the caller's department (an admin names another in 提供方), checked
as ``catalogue.create`` checks it; a row with one names an entry the caller sees, and is
*unchanged* when it holds what an export of that entry would (whoever's entry it is), else an edit
checked as ``catalogue.edit`` checks it - the entry must be the caller's department's, catalogued
here (not sent up by a lower platform) and in a status that allows editing, and its 版本, when
given, must still be the entry's (nobody changed it since the export).  Any problem in any row,
and nothing is saved: ``InvalidWorkbook`` lists them all by sheet, row and column.  ``check``
stops after the checks.  The import is one action, one audit entry; each entry it creates or
edits gets its version (create, edit) as through the form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from registry.errors import CellError, InvalidMetadata, InvalidWorkbook, MetadataError
from registry.models import CatalogueEntry, Department
from trust import audit
from trust.actions import Context, action
from trust.auth import catalogue_visibility, provider_refusal

from . import template, workflow
from .metadata import Metadata
from .search import FACETS, find, visible_to
from .template import ITEM_HEADERS, ITEMS, RESOURCES, ResourceRow

CREATED, EDITED, UNCHANGED = "created", "edited", "unchanged"
OUTCOME_LABELS = {CREATED: "新建", EDITED: "修改", UNCHANGED: "无变化"}
_ITEM_COLUMNS = {"name": ITEM_HEADERS[1], "data_type": ITEM_HEADERS[2], "length": ITEM_HEADERS[3]}
_CHUNK = 500  # codes per IN (...) of a look-up


@dataclass(frozen=True)
class RowOutcome:
    """What an import did (or, checking only, would do) with one row of 目录编制."""

    row: int
    outcome: str  # created | edited | unchanged
    resource_code: str  # "" for an entry a check would create
    name: str


@dataclass(frozen=True)
class ImportResult:
    """What an import did with each row of 目录编制 (checking only: what it would do)."""

    checked_only: bool
    rows: tuple[RowOutcome, ...]

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)

    def summary(self) -> str:
        return ", ".join(f"{outcome} {self.count(outcome)}" for outcome in (CREATED, EDITED, UNCHANGED))


@action("catalogue.template")
def template_workbook(ctx: Context) -> bytes:
    """The empty 目录编制模板."""
    return template.write()


@dataclass(frozen=True)
class Exported:
    """An export: the workbook and how many entries it holds."""

    content: bytes  # the .xlsx workbook
    count: int  # the entries in it


@action("catalogue.export")
def export(ctx: Context, *, text: str = "", chosen: Mapping[str, str] | None = None, mine: bool = False) -> Exported:
    """The entries the caller sees that match ``text`` and the chosen facets (``search.FACETS``: provider,
    status, classification, ...), as the 目录编制 workbook, by resource code."""
    found = find(ctx.session, visible_to(ctx.caller, mine), FACETS, text=text, chosen=chosen, counts=False)
    ctx.note(record_count=found.total, query_digest=audit.query_digest({"text": text, "chosen": chosen,
                                                                        "mine": mine}))
    return Exported(template.write(found.entries), found.total)


@action("catalogue.import")
def import_workbook(ctx: Context, *, content: bytes, check: bool = False) -> ImportResult:
    """Check every row of a 目录编制 workbook, then (unless ``check``) save them all, or nothing."""
    sheets = template.read(content)
    errors = list(sheets.errors)
    if not sheets.rows:
        raise InvalidWorkbook(template.sorted_errors(errors))
    given = {c.field for c in sheets.given if c is not None}
    importer = _Importer(ctx, given, errors, lock=not check)
    plans = importer.plan(sheets.rows)
    if errors:
        raise InvalidWorkbook(template.sorted_errors(errors))
    outcomes = tuple(importer.save(plan) if not check else plan.outcome() for plan in plans)
    result = ImportResult(check, outcomes)
    ctx.note(record_count=len(outcomes), detail=("check only: " if check else "") + result.summary())
    return result


@dataclass
class _Plan:
    row: ResourceRow
    outcome_name: str
    meta: Metadata | None = None
    department: Department | None = None
    entry: CatalogueEntry | None = None

    def outcome(self, code: str | None = None) -> RowOutcome:
        name = self.meta.name if self.meta is not None else self.entry.name
        return RowOutcome(self.row.row, self.outcome_name,
                          code or (self.entry.resource_code if self.entry is not None else ""), name)


class _Importer:
    """One import's checks: every row's problems into ``errors``, a plan for each row without any."""

    def __init__(self, ctx: Context, given: set[str], errors: list[CellError], *, lock: bool):
        self.ctx, self.given, self.errors, self.lock = ctx, given, errors, lock
        self.departments: dict[str, Department] = {}
        self.visible: dict[str, bool] = {}

    def plan(self, rows: list[ResourceRow]) -> list[_Plan]:
        entries = self._entries([r.values.get("resource_code") for r in rows if r.values.get("resource_code")])
        first_row: dict[str, int] = {}
        plans = []
        for row in rows:
            code = row.values.get("resource_code") or ""
            if not code:
                plan = self._create(row)
            elif code in first_row:
                plan = self._fail(row, "resource_code", f"资源代码 {code} 与第 {first_row[code]} 行重复; "
                                  "一个条目在工作簿中只能有一行",
                                  f"{code} appears again (first in row {first_row[code]})")
            else:
                first_row[code] = row.row
                entry = entries.get(code)
                plan = self._edit(row, entry) if entry is not None else self._fail(
                    row, "resource_code", f"没有资源代码为 {code} 的目录条目, 或您无权查看; 新建条目请将资源代码留空 "
                    "(代码由平台生成)", f"no catalogue entry {code} is visible to you")
            if plan is not None:
                plans.append(plan)
        return plans

    def save(self, plan: _Plan) -> RowOutcome:
        if plan.outcome_name == CREATED:
            return plan.outcome(workflow.insert_entry(self.ctx, plan.department, plan.meta).resource_code)
        if plan.outcome_name == EDITED:
            workflow.apply_edit(self.ctx, plan.entry, plan.meta)
        return plan.outcome()

    # ------------------------------------------------------------------ one row

    def _create(self, row: ResourceRow) -> _Plan | None:
        provider = row.values.get("provider") or None
        refusal = provider_refusal(self.ctx.caller, provider)
        if refusal is not None:
            return self._fail(row, "provider", refusal.user_message, refusal.message)
        try:
            department = self._department(provider)
            metadata = self._metadata(row, read_only=("status", "provider_name", "version"))
            meta = workflow.validate_new(self.ctx, metadata, department, resource_exists=self._exists)
        except InvalidMetadata as exc:
            return self._invalid(row, exc)
        return _Plan(row, CREATED, meta, department)

    def _edit(self, row: ResourceRow, entry: CatalogueEntry) -> _Plan | None:
        if self._as_exported(row, entry):
            return _Plan(row, UNCHANGED, entry=entry)
        refusal = workflow.edit_refusal(self.ctx, entry)
        if refusal is not None:
            return self._fail(row, "resource_code", refusal.user_message, refusal.message)
        version = row.values.get("version")
        if version is not None and version != entry.version:
            return self._fail(row, "version", f"条目 {entry.resource_code} 在导出后已被修改 (导出时为第 {version} 版, "
                              f"现为第 {entry.version} 版); 请重新导出后再修改, 以免覆盖他人的修改",
                              f"{entry.resource_code} is at version {entry.version}, the workbook has {version}")
        try:
            meta = workflow.validate_changes(self.ctx, entry, self._metadata(row, read_only=("status", "provider_name",
                                                                                            "provider")),
                                             resource_exists=self._exists)
        except InvalidMetadata as exc:
            return self._invalid(row, exc)
        return _Plan(row, UNCHANGED if workflow.changes_nothing(entry, meta) else EDITED, meta, entry=entry)

    def _as_exported(self, row: ResourceRow, entry: CatalogueEntry) -> bool:
        """Whether the row holds what an export of ``entry`` holds (its items included)."""
        exported = template.values(workflow.Entry.of(entry))
        fields = [c.field for c in template.EDITABLE if c.field in self.given]
        if any(row.values[f] != exported[f] for f in fields):
            return False
        if row.values.get("provider") not in (None, "", exported["provider"]):
            return False
        if row.values.get("version") in (None, entry.version) and any(
                row.values.get(f) not in (None, "", exported[f]) for f in ("status", "provider_name")):
            return False  # the platform's columns changed by hand (an older export's may differ: the entry moved on)
        items = [(i.name, template.data_type_letter(i.data_type), i.length) for i in row.items]
        return items == [(i.name, i.data_type, i.length) for i in entry.items]

    def _metadata(self, row: ResourceRow, *, read_only: tuple[str, ...]) -> dict[str, Any]:
        """The row as metadata (and the platform's columns it fills, which the rules refuse when they differ)."""
        data = {c.field: row.values[c.field] for c in template.EDITABLE if c.field in self.given}
        data.update({f: row.values[f] for f in read_only if row.values.get(f) not in (None, "")})
        data["items"] = [{"name": i.name, "data_type": i.data_type, "length": i.length} for i in row.items]
        return data

    # ------------------------------------------------------------------ problems

    def _fail(self, row: ResourceRow, field: str, message: str, detail: str) -> None:
        self.errors.append(CellError(RESOURCES, row.row, template.FIELD_LABELS[field], field, message, detail))

    def _invalid(self, row: ResourceRow, exc: InvalidMetadata) -> None:
        for error in exc.errors:
            self.errors.append(self._where(row, error))

    def _where(self, row: ResourceRow, error: MetadataError) -> CellError:
        """The cell a broken rule points at: its column of the row, or an item's row of 信息项."""
        field, detail = error.field, str(error)
        if field.startswith("items["):
            index, _, part = field[len("items["):].partition("]")
            item = row.items[int(index) - 1]
            return CellError(ITEMS, item.row, _ITEM_COLUMNS.get(part.lstrip("."), ""), field, error.zh, detail)
        if field == "items":
            owner = row.values.get("resource_code") or row.row
            message = (f"至少要有一个信息项: 在“{ITEMS}”表中添加“所属资源”为 {owner} 的行"
                       if error.rule == "required" else error.zh)
            return CellError(RESOURCES, row.row, template.FIELD_LABELS["items"], field, message, detail)
        column = "related_codes" if field.startswith("related_codes[") else \
            "provider" if field == "provider_code" else field
        header = template.BY_FIELD[column].header if column in template.BY_FIELD else ""
        return CellError(RESOURCES, row.row, header, field, error.zh, detail)

    # ------------------------------------------------------------------ look-ups

    def _entries(self, codes: list[str]) -> dict[str, CatalogueEntry]:
        """The entries of ``codes`` the caller sees (locked against other changes until the import ends)."""
        found: dict[str, CatalogueEntry] = {}
        unique = sorted(set(codes))
        for start in range(0, len(unique), _CHUNK):
            query = (select(CatalogueEntry)
                     .where(CatalogueEntry.resource_code.in_(unique[start:start + _CHUNK]),
                            *catalogue_visibility(self.ctx.caller))
                     .options(selectinload(CatalogueEntry.provider), selectinload(CatalogueEntry.items)))
            if self.lock:
                query = query.with_for_update(of=CatalogueEntry)
            found.update((e.resource_code, e) for e in self.ctx.session.scalars(query))
        self.visible.update((code, True) for code in found)
        return found

    def _exists(self, code: str) -> bool:
        if code not in self.visible:
            self.visible[code] = self.ctx.session.scalar(
                select(CatalogueEntry.id).where(CatalogueEntry.resource_code == code,
                                                *catalogue_visibility(self.ctx.caller))) is not None
        return self.visible[code]

    def _department(self, provider: str | None) -> Department:
        key = provider or ""
        if key not in self.departments:
            self.departments[key] = workflow.provider_for(self.ctx, provider)
        return self.departments[key]
