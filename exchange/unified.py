"""Unified query (统一查询): one person or enterprise across every resource a department may read.

    unified_query(ctx, key="330102199001021235", purpose="办理低保审核")
    -> Unified(base="population", key="330102199001021235",
               hits=(Hit(resource=户籍登记信息, source="central", basis="grant", fields={...},
                         origin={"name": "临江市公安局", ...},
                         lineage={"domicileAddress": [("杭州市…", "临江市民政局")]}),
                     Hit(resource=公民身份信息, source="provider", ...)),        # 逻辑集中: asked live
               skipped=(Unread(resource=结婚登记信息, code="NotAuthorized", ...),), failed=(), empty=(...),
               merged=(Merged(field="domicileAddress", value=..., department="临江市公安局", via=户籍登记信息,
                              others=[...]), ...))

The key says which base database is asked: a 公民身份号码 (GB 11643, check digit verified) the
人口 base, a 统一社会信用代码 (GB 32100) the 法人单位 base.  Every published resource of that
base is tried for the caller's department: governance decides (``governance.sharing.authorize``)
which it may read - the others are listed with the reason, never read - and each readable one is
read by the ``exchange.query_records`` action, exactly as QueryRecords reads it (its own audit
entry, the same masking; a 逻辑集中 resource asked live of its provider).

For a central record each field names the department its value came from (the record's source,
or another source's value kept by 比对) and its lineage (血缘): the other values other sources
gave, under the same field visibility and masking as the value itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from stdnum.cn import ric, uscc

from directory.lookups import base_of_class
from governance.sharing import NOT_SHARED, PURPOSE_LENGTH, authorize, refusals
from registry.errors import GovshareError, InvalidInput
from registry.models import CatalogueEntry, CoreRecord
from trust import audit
from trust.actions import Context, action
from xsd.registry import Format, formats

from .queries import query_records, reader

ID_NUMBER = re.compile(r"[1-9][0-9]{5}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9X]")
KEY_LABELS = {"population": "公民身份号码", "legal_entity": "统一社会信用代码"}
#: governance's refusals (``authorize``): a resource refused is listed as skipped, not failed
REFUSALS = ("NotShared", "NotAuthorized")


@dataclass(frozen=True)
class Resource:
    """A published resource as the query names it."""

    code: str
    name: str
    provider_code: str
    provider_name: str
    sharing_type: str
    logical: bool

    @classmethod
    def of(cls, entry: CatalogueEntry) -> Resource:
        return cls(entry.resource_code, entry.name, entry.provider.code, entry.provider.name, entry.sharing_type,
                   bool(entry.logical))


@dataclass(frozen=True)
class Hit:
    """The record as one resource shows it."""

    resource: Resource
    source: str  # central | provider (逻辑集中, asked live)
    basis: str  # provider | unconditional | grant
    fields: dict[str, Any]
    origin: dict[str, str] = field(default_factory=dict)  # field -> department name
    lineage: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # field -> [(value, department)]


@dataclass(frozen=True)
class Unread:
    """A resource the query did not read: refused (``skipped``) or failed; with why, in both languages."""

    resource: Resource
    code: str
    message: str
    user_message: str


@dataclass(frozen=True)
class Merged:
    """One field of the format as the query found it: the clearest value (fewest mask characters),
    the department it came from and the resource it came through, and every other value seen."""

    field: str
    label: str
    value: Any
    department: str
    via: Resource
    others: tuple[tuple[str, str], ...]  # (value, department)


@dataclass(frozen=True)
class Unified:
    base: str
    key: str
    key_label: str
    record_type: str
    hits: tuple[Hit, ...]
    skipped: tuple[Unread, ...]
    failed: tuple[Unread, ...]
    empty: tuple[Resource, ...]
    merged: tuple[Merged, ...]


def base_of_key(key: str) -> str:
    """``population`` for a 公民身份号码, ``legal_entity`` for a 统一社会信用代码; else InvalidInput."""
    if ID_NUMBER.fullmatch(key):
        check = ric.calc_check_digit(key)
        if check == key[17]:
            return "population"
        raise InvalidInput(f"{key} is not a valid 公民身份号码: its check digit is wrong", field="key",
                           zh=f"{key} 不是有效的公民身份号码: 校验码不对, 请核对号码。")
    try:
        valid = uscc.is_valid(key)
    except Exception:  # noqa: BLE001 - stdnum raises KeyError on some malformed input
        valid = False
    if valid:
        return "legal_entity"
    raise InvalidInput(f"{key!r} is neither a 公民身份号码 (GB 11643) nor a 统一社会信用代码 (GB 32100)", field="key",
                       zh=f"“{key}” 既不是有效的公民身份号码 (18 位, GB 11643), 也不是有效的统一社会信用代码 "
                          "(18 位, GB 32100)。")


def candidates(session: Session, base: str) -> list[CatalogueEntry]:
    """Published resources whose records are of ``base``: by their class (a 基础信息资源 class), or
    else - under a 主题 or 部门 class - by the records the centre holds of them (逻辑集中 ones hold
    none), all of those found in one statement however many there are."""
    entries = list(session.scalars(select(CatalogueEntry).where(CatalogueEntry.status == "published")
                                   .options(selectinload(CatalogueEntry.provider))
                                   .order_by(CatalogueEntry.resource_code)))
    bases = {e.resource_code: base_of_class(e.class_code) for e in entries}
    unclassed = [e.resource_code for e in entries if bases[e.resource_code] is None and not e.logical]
    if unclassed:
        # (ordered as ix_core_resource is: else PostgreSQL may scan the whole table for a resource that
        # holds no records, expecting a LIMIT 1 to stop it early)
        held = (select(CoreRecord.base).where(CoreRecord.resource_code == CatalogueEntry.resource_code)
                .order_by(CoreRecord.resource_code, CoreRecord.record_key).limit(1)
                .correlate(CatalogueEntry).scalar_subquery())
        bases.update(session.execute(select(CatalogueEntry.resource_code, held)
                                     .where(CatalogueEntry.resource_code.in_(unclassed))).all())
    return [e for e in entries if bases[e.resource_code] == base]


@action("exchange.unified_query", read_only=True)
def unified_query(ctx: Context, *, key: str, purpose: str) -> Unified:
    """Read ``key`` from every resource of its base database that the caller's department may read."""
    key, purpose = (key or "").strip().upper(), (purpose or "").strip()
    if not key:
        raise InvalidInput("key: required - a 公民身份号码 or a 统一社会信用代码", field="key",
                           zh="请输入公民身份号码或统一社会信用代码。")
    if not purpose:
        raise InvalidInput("purpose: required - why the record is looked up (recorded in the audit log)",
                           field="purpose", zh="请填写查询事由 (记入审计日志)。")
    if len(purpose) > PURPOSE_LENGTH:
        raise InvalidInput(f"purpose: at most {PURPOSE_LENGTH} characters (it has {len(purpose)})", field="purpose",
                           zh=f"查询事由最多 {PURPOSE_LENGTH} 个字 (现有 {len(purpose)} 个)。")
    ctx.note(query_digest=audit.query_digest({"key": key}))
    base = base_of_key(key)
    fmt = next(f for f in formats() if f.name == base)
    requester = reader(ctx, None)
    readable, skipped = [], []
    entries = candidates(ctx.session, base)
    refused = refusals(ctx.session, requester, entries, ctx.now, ctx.caller.system_id)  # in four statements
    for entry in entries:
        if entry.id in refused:
            skipped.append(Unread(Resource.of(entry), refused[entry.id].code, refused[entry.id].message,
                                  refused[entry.id].user_message))
            continue
        if entry.sharing_type == NOT_SHARED:  # decided without a statement: the provider's own, or refused
            try:
                authorize(ctx.session, requester, entry, purpose=purpose, at=ctx.now, system_id=ctx.caller.system_id)
            except GovshareError as refusal:
                skipped.append(Unread(Resource.of(entry), refusal.code, refusal.message, refusal.user_message))
                continue
        readable.append(Resource.of(entry))  # its read asks governance what it may see
    hits, failed, empty = [], [], []
    for resource in readable:
        try:  # in this action's unit of work, its audit entry recorded with this one's
            found = query_records(ctx.again(), resource_code=resource.code, keys=[key], page_size=1,
                                  purpose=purpose, provenance=True)
        except GovshareError as error:
            # (refused only if its grant ended since ``refusals`` looked: skipped, as it would have been)
            (skipped if error.code in REFUSALS else failed).append(
                Unread(resource, error.code, error.message, error.user_message))
            continue
        if not found.records:
            empty.append(resource)
            continue
        row = found.records[0]
        origin = row.origin if row.origin is not None else {name: resource.provider_name for name in row.fields}
        hits.append(Hit(resource, found.source, found.basis, row.fields, origin, row.lineage or {}))
    ctx.note(record_count=len(hits))
    return Unified(base, key, KEY_LABELS[base], fmt.qname, tuple(hits), tuple(skipped), tuple(failed), tuple(empty),
                   _merged(fmt, hits))


def _merged(fmt: Format, hits: list[Hit]) -> tuple[Merged, ...]:
    rows = []
    for f in fmt.fields:
        shown = [(h, h.fields[f.name]) for h in hits if h.fields.get(f.name) not in (None, "")]
        if not shown:
            continue
        hit, value = min(shown, key=lambda pair: str(pair[1]).count("*"))
        others: list[tuple[str, str]] = []
        for h, v in shown:
            if str(v) != str(value) and "*" not in str(v):
                others.append((str(v), h.origin.get(f.name, h.resource.provider_name)))
        for h in hits:
            for pair in h.lineage.get(f.name, []):
                if pair[0] != str(value) and pair not in others:
                    others.append(pair)
        rows.append(Merged(f.name, f.label, value, hit.origin.get(f.name, hit.resource.provider_name), hit.resource,
                           tuple(others)))
    return tuple(rows)
