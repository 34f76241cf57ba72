"""The adapter quarantine (隔离区): list, correct, replay and discard the source rows a run rejected.

A run keeps every row it could not map or clean as an ``AdapterQuarantine`` item: the
source row as read, its key, the stage and rule that failed and a message.  An item is a
source row, not a sighting of one: a source row has at most one open item (a unique index
holds it), so the open list is what the sources hold wrong now::

    run #1 rejects key 330102199001021234 (XB "?")  -> item #17 open, seen in run #1
    run #2 rejects it again                         -> item #17 refreshed: the row as read, its
                                                       problem, seen in run #2 (a correction stays)
    run #3 reads it mapping cleanly (fixed at the source)  -> item #17 resolved
    a full run does not find the row any more              -> item #17 resolved

An item a person replayed or discarded stays closed while the source holds the row as it
was then; if the row changes and still fails, a new item opens.  A person corrects *source
columns* - never the mapped fields - so a corrected item goes through exactly the mapping,
cleaning and validation a fresh source row would::

    item #17  gaj-household  map  code.unmapped  sex  key 330102199001021234
        row         {"GMSFHM": "330102199001021234", "XB": "?", ...}
    correct(ctx, item_id=17, values={"XB": "男"})
        correction  {"XB": "男"}           corrected row = row updated with the correction
        problems    []                    -> ready to replay
    replay(ctx, ids=[17])
        -> one batch through the SubmitBatch path, item #17 replayed

Outcomes of a replay - every item asked for lands in exactly one, so the counts add up::

    asked = replayed + still_failing + quarantined_by_validation

* **replayed** - the corrected row mapped, passed the exchange's validators and was
  accepted into the core (as a new version, or unchanged).  The item is marked
  ``replayed`` and its message records the batch.
* **still_failing** - the corrected row still fails mapping, cleaning or validation.
  Validation runs here *before* submitting, with the exchange's own validators, so such
  rows stay here, open, with their new problem, to be corrected at the source-column
  level - they never reach the exchange.
* **quarantined_by_validation** - the exchange quarantined the record all the same.  It
  now lives in the exchange quarantine (``QuarantineRecord`` of the replay batch); the
  item is marked ``replayed`` - it left this quarantine - and its message names the
  exchange record, so it is held in exactly one place and never counted twice.

The clean rows of one replay form ONE batch whose id is derived from the adapter, the item
ids and the records' digest: replaying the same items again resubmits the same batch and
gets the first receipt back, changing nothing.

``discard`` closes an item that should never be loaded; a reason is required and kept.
A resolved item, like a discarded one, cannot be replayed: the source's own row is current.

Each operation is an action: ``quarantine.list`` and ``quarantine.show`` (monitoring's:
admins and auditors), ``quarantine.correct``, ``quarantine.replay`` and
``quarantine.discard`` (the quarantine's: admins).  An item's adapter file is read from the
adapters folder (:func:`adapters.sync.adapter_config`) when a correction or a replay needs its
mapping.  The portal shows an item's problem in Chinese (:func:`problem_zh`, :data:`RULE_NAMES`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from exchange.submit import submit_document
from registry.errors import Conflict, GovshareError, InvalidInput, NotFound
from registry.models import AdapterQuarantine, QuarantineReason, QuarantineRecord
from trust.actions import Context, action
from xsd.batch import build_batch, records_digest
from xsd.validation import validate_record

from .config import AdapterConfig
from .mapping import Problem, mapper_for
from .pipeline import _resolve
from .schedule import load_folder
from .sync import adapter_config, adapters_folder, unknown_adapter

STATUSES = ("open", "replayed", "discarded", "resolved")
VALIDATE = "validate"
_REPLAY_NAMESPACE = uuid.UUID("0b9d3f5e-2c61-4f7a-8d0e-5a4b9c2e7f13")

#: the statuses and stages of an item, and the rules of mapping, cleaning and validation, as the portal names them
STATUS_NAMES = {"open": "待处理", "replayed": "已重放", "discarded": "已丢弃", "resolved": "已消除"}
STAGE_NAMES = {"map": "映射", "clean": "清洗", "validate": "校验", "compare": "比对"}
RULE_NAMES = {
    "code.unmapped": "代码不在代码表中", "field.required": "必填项为空",
    "date.format": "不是日期", "date.invalid": "不是有效的日历日期", "datetime.format": "不是日期时间",
    "number.format": "不是数字", "period.format": "不是统计期", "period.invalid": "统计期不存在",
    "geometry.format": "不是有效的几何图形",
    "structure": "不符合交换格式 (XSD)", "format.unregistered": "记录类型未登记", "format.mismatch": "记录类型不符",
    "id_number.checksum": "公民身份号码校验位错误", "id_number.date": "公民身份号码中的出生日期无效",
    "id_number.region": "公民身份号码中的行政区划代码无效", "birth_date.matches_id": "出生日期与公民身份号码不符",
    "birth_date.not_future": "出生日期晚于今天", "sex.matches_id": "性别与公民身份号码不符",
    "ethnicity.known": "民族代码不存在", "credit_code.checksum": "统一社会信用代码校验位错误",
    "credit_code.organization_code": "统一社会信用代码中的组织机构代码错误",
    "division_code.exists": "行政区划代码不存在", "status_date.not_future": "状态日期晚于今天",
    "founding_date.not_future": "成立日期晚于今天", "registered_capital.non_negative": "注册资本为负数",
    "period.not_future": "统计期晚于今天", "geometry.matches_kind": "几何类型与要素类型不符",
    "geometry.ring_size": "多边形的环点数不足", "geometry.ring_closed": "多边形的环未闭合",
    "geometry.within_china": "坐标不在中国境内", "area.positive": "面积必须大于 0",
}


@dataclass(frozen=True)
class Item:
    """One quarantined source row, with its problem and any correction.

    ``problems`` is what the last check of the corrected row found (filled by ``correct``;
    ``None`` when the item was not checked): empty means the item is ready to replay.
    ``label`` is the failing field's name in its format (性别) and ``columns`` the source
    columns it is made from, when the adapter's file says.
    """

    id: int
    run_id: int
    adapter: str
    source_key: str
    stage: str
    rule: str
    field: str
    message: str
    row: dict
    correction: dict | None
    status: str
    created: datetime  # when run ``run_id`` first quarantined the row
    seen_run: int  # the last run that rejected it
    seen: datetime
    problems: list[Problem] | None = None
    label: str = ""
    columns: tuple[str, ...] = ()

    @property
    def corrected_row(self) -> dict:
        """The source row as it will be replayed: the row updated with the correction."""
        return {**self.row, **(self.correction or {})}


@dataclass(frozen=True)
class Group:
    """How many items of ``adapter`` are in ``status`` for one stage and rule."""

    adapter: str
    stage: str
    rule: str
    count: int


@dataclass(frozen=True)
class Listing:
    """How many items match, the page of them from ``offset`` (oldest first), and the open
    items of the same adapter by stage and rule."""

    total: int
    offset: int
    items: list[Item]
    groups: list[Group]


@dataclass
class ReplayResult:
    """Where each item of a replay went (item ids); ``asked`` is every item considered."""

    adapter: str = ""
    asked: list[int] = field(default_factory=list)
    replayed: list[int] = field(default_factory=list)
    still_failing: list[int] = field(default_factory=list)
    quarantined_by_validation: list[int] = field(default_factory=list)
    batch_id: str | None = None
    duplicate: bool = False  # the batch had been received before: the first receipt came back

    @property
    def balanced(self) -> bool:
        return len(self.asked) == len(self.replayed) + len(self.still_failing) + len(self.quarantined_by_validation)


def problem_zh(item: Item, problems: Sequence[Problem] | None = None) -> str:
    """The problem of ``item`` (or ``problems``, a check's) in Chinese: the field, the rule, the source columns::

        性别 (sex): 代码不在代码表中 — 源字段 XB 的值为 "?"
    """
    found = problems if problems is not None else [Problem(item.stage, item.rule, item.field or None, item.message)]
    texts = []
    for problem in found:
        rule = RULE_NAMES.get(problem.rule, problem.rule)
        same_field = (problem.field or "") == item.field
        where = (f"{item.label} ({problem.field})" if item.label and same_field else problem.field) or "整条记录"
        text = f"{where}: {rule}"
        if same_field and item.columns:
            values = "、".join(f"{c} 的值为 “{_text(item.corrected_row.get(c))}”" for c in item.columns)
            text += f" — 源字段 {values}"
        texts.append(text)
    return "; ".join(texts)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _item(row: AdapterQuarantine, problems: list[Problem] | None = None,
          config: AdapterConfig | None = None) -> Item:
    label, columns = "", ()
    if config is not None and row.field:
        label = next((f.label for f in config.format.fields if f.name == row.field), "")
        columns = next((tuple(m.columns) for m in config.fields if m.target == row.field), ())
    return Item(id=row.id, run_id=row.run_id, adapter=row.adapter, source_key=row.source_key, stage=row.stage,
                rule=row.rule, field=row.field, message=row.message, row=dict(row.row),
                correction=dict(row.correction) if row.correction else None, status=row.status,
                created=row.created, seen_run=row.seen_run, seen=row.seen, problems=problems, label=label,
                columns=columns)


def _config_of(adapter: str, folder: Path | str | None) -> AdapterConfig | None:
    """The adapter's file, to name fields and columns; None when it no longer loads."""
    try:
        return adapter_config(adapter, folder)
    except GovshareError:
        return None


def _get(session: Session, item_id: int) -> AdapterQuarantine:
    row = session.get(AdapterQuarantine, item_id)
    if row is None:
        raise NotFound(f"no quarantined item #{item_id}", code="QuarantineNotFound",
                       zh=f"没有编号为 {item_id} 的隔离记录。", field="id")
    return row


def _open(session: Session, item_id: int, doing: str, zh_doing: str) -> AdapterQuarantine:
    row = _get(session, item_id)
    if row.status != "open":
        raise Conflict(f"item #{item_id} is {row.status}; only open items can be {doing}", code="QuarantineClosed",
                       zh=f"隔离记录 #{item_id} {STATUS_NAMES.get(row.status, row.status)}, 只有待处理的记录可以"
                          f"{zh_doing}。")
    return row


@action("quarantine.list")
def list_items(ctx: Context, *, adapter: str | None = None, rule: str | None = None, status: str | None = "open",
               offset: int = 0, limit: int = 50, clamp: bool = False, folder: Path | str | None = None) -> Listing:
    """Quarantined items, oldest first, ``limit`` from ``offset`` (with ``clamp``, an offset past the
    last item gives the last page); ``status=None`` lists every status.  An adapter that neither
    an adapter file nor an item names is refused (``UnknownAdapter``)."""
    session = ctx.session
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"unknown status {status!r}; use one of {', '.join(STATUSES)}", field="status",
                           zh="状态只能是待处理、已重放、已丢弃或已消除。")
    if adapter is not None:
        _known(session, adapter, folder)
    conditions = [c for c in (AdapterQuarantine.adapter == adapter if adapter is not None else None,
                              AdapterQuarantine.rule == rule if rule is not None else None,
                              AdapterQuarantine.status == status if status is not None else None) if c is not None]
    total = session.scalar(select(func.count()).select_from(AdapterQuarantine).where(*conditions)) or 0
    limit, offset = max(limit, 1), max(offset, 0)
    if clamp and total and offset >= total:
        offset = (total - 1) // limit * limit
    rows = list(session.scalars(select(AdapterQuarantine).where(*conditions).order_by(AdapterQuarantine.id)
                                .offset(offset).limit(limit)))
    configs = {name: _config_of(name, folder) for name in {row.adapter for row in rows}}
    items = [_item(row, config=configs[row.adapter]) for row in rows]
    ctx.note(record_count=len(items))
    return Listing(total, offset, items, groups(session, adapter=adapter))


def _known(session: Session, adapter: str, folder: Path | str | None) -> None:
    folder = Path(folder) if folder is not None else adapters_folder()
    names = {c.name for c in load_folder(folder)[0]}
    if adapter not in names and not session.scalar(select(exists().where(AdapterQuarantine.adapter == adapter))):
        raise unknown_adapter(adapter, folder, names)


def groups(session: Session, adapter: str | None = None, status: str = "open") -> list[Group]:
    """The items in ``status`` by adapter, stage and rule, largest groups first."""
    count = func.count().label("n")
    query = (select(AdapterQuarantine.adapter, AdapterQuarantine.stage, AdapterQuarantine.rule, count)
             .where(AdapterQuarantine.status == status)
             .group_by(AdapterQuarantine.adapter, AdapterQuarantine.stage, AdapterQuarantine.rule)
             .order_by(count.desc(), AdapterQuarantine.adapter, AdapterQuarantine.rule))
    if adapter is not None:
        query = query.where(AdapterQuarantine.adapter == adapter)
    return [Group(a, s, r, n) for a, s, r, n in session.execute(query)]


@action("quarantine.show")
def show(ctx: Context, *, item_id: int, folder: Path | str | None = None) -> Item:
    """One item: its source row, its problem and any correction."""
    row = _get(ctx.session, item_id)
    ctx.note(record_count=1, detail=f"item #{item_id} of {row.adapter}")
    return _item(row, config=_config_of(row.adapter, folder))


def _check(config: AdapterConfig, row: Mapping[str, object]) -> tuple[list[Problem], etree._Element | None]:
    """Map ``row`` and validate the record with the exchange's validators: its problems, or its record."""
    mapped = mapper_for(config).map(row)
    if mapped.problems:
        return list(mapped.problems), None
    record = config.format.encode(mapped.fields)
    result = validate_record(record, record_type=config.record_type, version=config.format.version)
    if result.violations:
        return [Problem(VALIDATE, v.rule, v.field, v.message) for v in result.violations], None
    return [], record


def _record_problem(row: AdapterQuarantine, problems: list[Problem]) -> None:
    first = problems[0]
    row.stage, row.rule, row.field = first.stage, first.rule, first.field or ""
    row.message = "; ".join(p.message for p in problems)


def _note(row: AdapterQuarantine, text: str) -> None:
    row.message = f"{row.message}\n{text}"


@action("quarantine.correct")
def correct(ctx: Context, *, item_id: int, values: Mapping[str, str], folder: Path | str | None = None) -> Item:
    """Store corrections of source columns and check the corrected row at once.

    A value equal to the column as read, where the column has no correction yet, is no
    correction (a form sends every column).  Corrections add to earlier ones.  The item stays
    open; when problems remain its stored problem becomes the first of them, and
    ``Item.problems`` lists them all.  When none remain (``problems == []``, ready to replay)
    the stored problem stays the one that put the row here.
    """
    row = _open(ctx.session, item_id, "corrected", "更正")
    earlier = row.correction or {}
    changed = {column: value for column, value in values.items()
               if column in earlier or _text(row.row.get(column)) != value}
    if not changed:
        raise InvalidInput(f"nothing to correct in item #{item_id}: give COLUMN=VALUE with a new value",
                           code="InvalidCorrection", zh="没有修改任何源字段: 请在更正值一栏填写新的值。",
                           field="values")
    unknown = sorted(set(changed) - set(row.row))
    if unknown:
        raise InvalidInput(f"item #{item_id} has no source column {', '.join(unknown)}; "
                           f"its columns are {', '.join(row.row)}", code="InvalidCorrection",
                           zh=f"该隔离记录没有源字段 {'、'.join(unknown)}。", field="values")
    config = adapter_config(row.adapter, folder)
    row.correction = {**earlier, **changed}
    problems, _ = _check(config, {**row.row, **row.correction})
    if problems:
        _record_problem(row, problems)
    ctx.session.flush()
    ctx.note(detail=f"item #{item_id} of {row.adapter}: {', '.join(sorted(changed))} corrected"
                    + (f", still failing {problems[0].rule}" if problems else ", maps cleanly"))
    return _item(row, problems, config)


@action("quarantine.discard")
def discard(ctx: Context, *, item_id: int, reason: str) -> Item:
    """Close an open item that must never be loaded; the reason is kept in its message."""
    if not reason or not reason.strip():
        raise InvalidInput(f"discarding item #{item_id} needs a reason", code="ReasonRequired", field="reason",
                           zh="丢弃隔离记录须填写理由 (如: 测试数据, 不应入库)。")
    row = _open(ctx.session, item_id, "discarded", "丢弃")
    row.status = "discarded"
    _note(row, f"discarded: {reason.strip()}")
    ctx.session.flush()
    ctx.note(detail=f"item #{item_id} of {row.adapter} discarded: {reason.strip()}")
    return _item(row)


def _batch_id(adapter: str, ids: Iterable[int], records: list[etree._Element]) -> uuid.UUID:
    # the records' digest too: after a change to the adapter file the same items make a new batch
    return uuid.uuid5(_REPLAY_NAMESPACE, f"{adapter}/{','.join(map(str, ids))}/{records_digest(records)}")


@action("quarantine.replay")
def replay(ctx: Context, *, ids: Sequence[int] | None = None, adapter: str | None = None,
           folder: Path | str | None = None) -> ReplayResult:
    """Map the corrected rows again and submit the clean ones as one batch (see the module).

    Give item ``ids`` (of one adapter), or ``adapter`` alone for every open item of it.  Items
    already replayed may be asked again: they are rebuilt the same way, so the batch and its
    receipt are the first (should one no longer map - the adapter file changed - it is counted
    as still failing and keeps its status and record).  Discarded and resolved items are
    refused.  Everything commits together or not at all.
    """
    session = ctx.session
    if bool(ids) == (adapter is not None):
        raise InvalidInput("give item ids, or an adapter (--adapter NAME --all) for every open item of it",
                           code="InvalidRequest", field="ids", zh="请选择要重放的隔离记录。")
    if ids:
        rows = [_get(session, item_id) for item_id in sorted(set(ids))]
        adapters = {row.adapter for row in rows}
        if len(adapters) > 1:
            raise InvalidInput(f"the items belong to several adapters ({', '.join(sorted(adapters))}); replay each "
                               "adapter's items apart", field="ids", zh="所选隔离记录属于多个适配器, 请分别重放。")
        config = adapter_config(adapters.pop(), folder)
    else:
        config = adapter_config(adapter, folder)
        rows = list(session.scalars(select(AdapterQuarantine).where(
            AdapterQuarantine.adapter == config.name, AdapterQuarantine.status == "open")
            .order_by(AdapterQuarantine.id)))
    for row in rows:
        if row.status in ("discarded", "resolved"):
            raise Conflict(f"item #{row.id} is {row.status}; it cannot be replayed", code="QuarantineClosed",
                           zh=f"隔离记录 #{row.id} {STATUS_NAMES[row.status]}, 不能重放。")
    result = _replay(session, config, rows, ctx.settings.max_batch_bytes)
    ctx.note(record_count=len(result.replayed), detail=f"{config.name}: asked {len(result.asked)} = replayed "
             f"{len(result.replayed)} + still failing {len(result.still_failing)} + quarantined by validation "
             f"{len(result.quarantined_by_validation)}" + (f", batch {result.batch_id}" if result.batch_id else ""))
    return result


def _replay(session: Session, config: AdapterConfig, rows: list[AdapterQuarantine], max_bytes: int) -> ReplayResult:
    result = ReplayResult(config.name, asked=[row.id for row in rows])
    clean: list[tuple[AdapterQuarantine, etree._Element]] = []
    for row in rows:
        problems, record = _check(config, {**row.row, **(row.correction or {})})
        if problems:
            if row.status == "open":  # a replayed item keeps the record of how it was loaded
                _record_problem(row, problems)
            result.still_failing.append(row.id)
        else:
            clean.append((row, record))
    if not clean:
        return result

    provider, entry = _resolve(session, config)
    records = [record for _, record in clean]
    batch_id = _batch_id(config.name, (row.id for row, _ in clean), records)
    batch = build_batch(records, provider_code=provider.credit_code, resource_code=entry.resource_code,
                        created=datetime.now(UTC), batch_id=batch_id)
    receipt = submit_document(session, batch, max_bytes)
    result.batch_id = str(batch_id)
    result.duplicate = receipt.duplicate
    held = dict(session.execute(select(QuarantineRecord.position, QuarantineRecord.id)
                                .where(QuarantineRecord.batch_id == str(batch_id))).all())
    for position, (row, _) in enumerate(clean, start=1):
        if position in held:
            _held_by_exchange(session, row, held[position], str(batch_id), result.duplicate)
            result.quarantined_by_validation.append(row.id)
        else:
            if not result.duplicate or row.status != "replayed":
                row.status = "replayed"
                _note(row, f"replayed in batch {batch_id}")
            result.replayed.append(row.id)
    return result


def _held_by_exchange(session: Session, row: AdapterQuarantine, record_id: int, batch_id: str,
                      duplicate: bool) -> None:
    """The exchange quarantined the record: it is held there now, so it leaves this quarantine."""
    if duplicate and row.status == "replayed":
        return
    reason = session.scalar(select(QuarantineReason).where(QuarantineReason.record_id == record_id)
                            .order_by(QuarantineReason.id).limit(1))
    if reason is not None:
        row.stage, row.rule, row.field = VALIDATE, reason.rule, reason.field
    row.status = "replayed"
    _note(row, f"held in the exchange quarantine as record #{record_id} of batch {batch_id}")
