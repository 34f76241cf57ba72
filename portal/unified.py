"""Unified query (统一查询): one person or enterprise across every resource a department may read.

    lookup(session, settings, department, "330102199001021235", purpose="办理低保审核")
    -> Lookup(base="population", key="330102199001021235",
              hits=[Hit(entry=户籍登记信息, source="central", fields={...}, origin={"name": 公安局, ...},
                        lineage={"domicileAddress": [("杭州市…", 民政局)]}),
                    Hit(entry=公民身份信息, source="provider", ...)],   # 逻辑集中: asked live
              skipped=[(结婚登记信息, "NotAuthorized: …")])

The key says which base database is asked: a 公民身份号码 (GB 11643, check digit verified) the
人口 base, a 统一社会信用代码 (GB 32100) the 法人单位 base.  Every published resource of that
base is tried; each read goes through ``exchange.output.read_view`` (``governance.sharing.authorize``):
resources the department may not read are listed with the reason, never read.  A resource
the centre holds (物理集中) is read with ``output.query``; a 逻辑集中 one is forwarded live to
its provider with ``exchange.logical.forward_query`` - exactly as QueryRecords does.

For a central record each field names the department its value came from (the record's
source, or ``CoreRecord.field_sources`` where another source's value was kept, 比对) and
its lineage (血缘): the other values other sources gave (``core_lineage``), shown under the
same field visibility and masking as the value itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from stdnum.cn import ric, uscc

from directory.lookups import base_of_class
from exchange import output
from exchange.logical import forward_query
from registry.errors import GovshareError
from registry.models import CatalogueEntry, CoreLineage, CoreRecord, Department
from registry.settings import Settings
from xsd.registry import Format, formats

ID_NUMBER = re.compile(r"[1-9][0-9]{5}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9X]")
KEY_LABELS = {"population": "公民身份号码", "legal_entity": "统一社会信用代码"}


class UnknownKey(ValueError):
    """The key is neither a valid 公民身份号码 nor a valid 统一社会信用代码 (message in Chinese)."""


@dataclass
class Hit:
    entry: CatalogueEntry
    source: str  # central | provider
    fields: dict[str, Any]
    origin: dict[str, str] = field(default_factory=dict)  # field -> department name
    lineage: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # field -> [(value, department)]
    basis: str = ""  # provider | unconditional | grant


@dataclass
class Lookup:
    base: str
    key: str
    fmt: Format
    hits: list[Hit] = field(default_factory=list)
    skipped: list[tuple[CatalogueEntry, str]] = field(default_factory=list)  # not readable: why
    failed: list[tuple[CatalogueEntry, str]] = field(default_factory=list)  # readable, but the read failed
    empty: list[CatalogueEntry] = field(default_factory=list)  # readable, no such record

    def merged(self) -> list[dict[str, Any]]:
        """One row per field of the format that some hit shows: the clearest value (fewest mask
        characters) with its department and the resource it came through, plus every other
        value seen (other resources, lineage)."""
        rows = []
        for f in self.fmt.fields:
            shown = [(h, h.fields[f.name]) for h in self.hits if h.fields.get(f.name) not in (None, "")]
            if not shown:
                continue
            hit, value = min(shown, key=lambda pair: str(pair[1]).count("*"))
            others: list[tuple[str, str]] = []
            for h, v in shown:
                if str(v) != str(value) and "*" not in str(v):
                    others.append((str(v), h.origin.get(f.name, h.entry.provider.name)))
            for h in self.hits:
                for pair in h.lineage.get(f.name, []):
                    if pair[0] != str(value) and pair not in others:
                        others.append(pair)
            rows.append({"field": f.name, "label": f.label, "value": value,
                         "department": hit.origin.get(f.name, hit.entry.provider.name),
                         "via": hit.entry, "others": others})
        return rows


def base_of_key(key: str) -> str:
    """``population`` for a 公民身份号码, ``legal_entity`` for a 统一社会信用代码; else UnknownKey."""
    if ID_NUMBER.fullmatch(key):
        if ric.calc_check_digit(key) == key[17]:
            return "population"
        raise UnknownKey(f"{key} 不是有效的公民身份号码: 校验码应为 {ric.calc_check_digit(key)}")
    try:
        valid = uscc.is_valid(key)
    except Exception:  # noqa: BLE001 - stdnum raises KeyError on some malformed input
        valid = False
    if valid:
        return "legal_entity"
    raise UnknownKey(f"“{key}” 既不是有效的公民身份号码 (18 位, GB 11643), "
                       "也不是有效的统一社会信用代码 (18 位, GB 32100)")


def _entry_base(session: Session, entry: CatalogueEntry) -> str | None:
    base = base_of_class(entry.class_code)
    if base is not None:
        return base
    if entry.logical:
        return None
    return session.scalar(select(CoreRecord.base).where(CoreRecord.resource_code == entry.resource_code).limit(1))


def candidates(session: Session, base: str) -> list[CatalogueEntry]:
    """Published resources whose records are of ``base``."""
    entries = session.scalars(select(CatalogueEntry).where(CatalogueEntry.status == "published")
                              .options(selectinload(CatalogueEntry.provider))
                              .order_by(CatalogueEntry.resource_code))
    return [e for e in entries if _entry_base(session, e) == base]


def lookup(session: Session, settings: Settings, requester: Department, key: str, *,
           purpose: str | None = None) -> Lookup:
    """Read ``key`` from every resource of its base database that ``requester`` may read."""
    key = key.strip().upper()
    base = base_of_key(key)
    fmt = next(f for f in formats() if f.name == base)
    result = Lookup(base, key, fmt)
    names = dict(session.execute(select(Department.id, Department.name)).all())
    for entry in candidates(session, base):
        try:
            view = output.read_view(session, requester, entry, purpose=purpose)
        except GovshareError as exc:
            result.skipped.append((entry, exc.message))
            continue
        basis = view.decision.basis if view.decision else ""
        try:
            if entry.logical:
                found, records = forward_query(session, settings, view, [key])
                if not found:
                    result.empty.append(entry)
                    continue
                fields = fmt.decode(records[0])
                result.hits.append(Hit(entry, "provider", fields, {f: entry.provider.name for f in fields},
                                       basis=basis))
                continue
            _total, rows = output.query(session, view, keys=[key], filters=[], offset=0, page_size=1)
        except GovshareError as exc:
            result.failed.append((entry, f"{exc.code}: {exc.message}"))
            continue
        if not rows:
            result.empty.append(entry)
            continue
        row = rows[0]
        result.hits.append(_central_hit(session, view, entry, row, names, basis))
    return result


def _central_hit(session: Session, view: output.View, entry: CatalogueEntry, row: output.Row,
                 names: dict[int, str], basis: str) -> Hit:
    record = session.get(CoreRecord, row.sequence)
    owners = record.field_sources or {}
    origin = {name: names.get(owners.get(name, record.source_id), "") for name in row.fields}
    lineage: dict[str, list[tuple[str, str]]] = {}
    latest: dict[tuple[str, int], str] = {}
    for name, value, source in session.execute(
            select(CoreLineage.field, CoreLineage.value, CoreLineage.source_id)
            .where(CoreLineage.base == record.base, CoreLineage.record_key == record.record_key)
            .order_by(CoreLineage.id)):
        latest[(name, source)] = value  # each source's latest value of the field
    for (name, source), value in latest.items():
        if view.fields is not None and name not in view.fields:
            continue  # lineage never shows a field the value itself may not show
        kept = record.fields.get(name)
        if kept is not None and str(kept) == value:
            continue
        shown = view.masking.value(name, value) if view.masking is not None else value
        lineage.setdefault(name, []).append((str(shown), names.get(source, str(source))))
    return Hit(entry, "central", row.fields, origin, lineage, basis)
