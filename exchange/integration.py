"""Comparison across sources (比对): whose value of a field the core keeps, and the conflicts.

Several departments send records of the same person or enterprise: 公安局's household
registry and 民政局's marriage registry both know a citizen's address.  The core keeps one
integrated current version per key, field by field:

* a field the current version lacks takes the new value;
* a field the same source gave before takes its new value (the source corrects itself,
  or clears the field);
* a field another source gave keeps that value unless the new source's priority for the
  field is at least as high (equal priorities: the newer value wins);
* a source that does not give a field leaves the other sources' value alone.

Priorities are configured per base database and department (``source_priority``), with an
optional override per field: the adapter file's ``priority`` sets them at every run; a
department never configured has priority 0.  Each version row records, in
``field_sources``, the fields whose value came from another source than the row's own, so
the next comparison knows every field's owner.  Every disagreement - both values and both
sources - goes to ``core_lineage`` (血缘), whichever value won; :func:`conflicts` reports them
against what the core keeps now.

The actions (the platform operator's, ``govshare core``): ``core.priorities`` (who counts how
much in a base), ``core.priority`` (set a department's) and ``core.conflicts`` (the report).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from directory import lookups
from registry.errors import InvalidInput, NotFound
from registry.models import CoreLineage, CoreRecord, Department, SourcePriority
from trust import audit
from trust.actions import Context, action

Priority = Callable[[int, str], int]  # (source id, field) -> priority


def set_priority(session: Session, base: str, source_id: int, priority: int,
                 fields: Mapping[str, int] | None = None) -> None:
    """Configure ``source_id``'s priority in ``base`` (and per field), replacing what was set."""
    session.execute(delete(SourcePriority).where(SourcePriority.base == base,
                                                 SourcePriority.source_id == source_id))
    session.add(SourcePriority(base=base, source_id=source_id, field="", priority=priority))
    for name, value in (fields or {}).items():
        session.add(SourcePriority(base=base, source_id=source_id, field=name, priority=value))
    session.flush()


def priorities(session: Session, base: str) -> Priority:
    """The priority of (source, field) in ``base`` as configured now."""
    table: dict[tuple[int, str], int] = {
        (row.source_id, row.field): row.priority
        for row in session.scalars(select(SourcePriority).where(SourcePriority.base == base))
    }
    if not table:
        return lambda source_id, name: 0

    def lookup(source_id: int, name: str) -> int:
        found = table.get((source_id, name))
        return found if found is not None else table.get((source_id, ""), 0)

    return lookup


@dataclass
class Merged:
    fields: dict[str, Any]
    field_sources: dict[str, int] | None  # fields whose value another source than the new one gave
    disagreements: list[tuple[str, Any, int, Any, int]]  # (field, kept-before value, its source, new value, source)
    agreements: list[tuple[str, Any, int]] = field(default_factory=list)  # (field, value, source): same as kept


def merge(old_fields: Mapping[str, Any], old_source: int, old_field_sources: Mapping[str, int] | None,
          new_fields: Mapping[str, Any], new_source: int, priority: Priority) -> Merged:
    """The integrated version after ``new_source`` sends ``new_fields`` for a key whose current
    version holds ``old_fields`` (given by ``old_source``, except the fields of ``old_field_sources``)."""
    owners = dict(old_field_sources or {})
    fields: dict[str, Any] = {}
    sources: dict[str, int] = {}
    disagreements, agreements = [], []
    for name in dict.fromkeys([*old_fields, *new_fields]):
        before, after = old_fields.get(name), new_fields.get(name)
        owner = owners.get(name, old_source)
        if before is None:  # nothing kept: the new value, if any
            take = True
        elif owner == new_source:  # the source that gave it corrects or clears it
            take = True
        elif after is None:  # the new source does not know this field
            take = False
        elif after == before:
            take = False  # the same value: it keeps its owner (and stays with the stronger source)
            agreements.append((name, after, new_source))
        else:
            disagreements.append((name, before, owner, after, new_source))
            take = priority(new_source, name) >= priority(owner, name)
        if take:
            if after is not None:
                fields[name] = after
        else:
            fields[name] = before
            if owner != new_source:
                sources[name] = owner
    return Merged(fields, sources or None, disagreements, agreements)


def departures(kept: Mapping[str, Any], kept_source: int, kept_field_sources: Mapping[str, int] | None,
               given: Mapping[str, Any], source: int, priority: Priority) -> dict[str, bool]:
    """The fields where a current version (``kept``, from ``kept_source`` but the fields of
    ``kept_field_sources``) departs from ``source``'s values ``given`` under the rules above:
    what ``source`` contributes, not the whole record (一致性核查).

    Each field maps to True where an equally ranked source keeps its value: that is a departure
    only if ``source`` never gave its value there (it would win as the newer), which the
    lineage knows (:func:`last_given`).  Not a departure: a field another source keeps that
    ``source`` does not give, and one a source of higher priority keeps::

        departures({"address": "解放路12号", "maritalStatus": "20"}, gaj, {"maritalStatus": mzj},
                   {"address": "文三路88号", "maritalStatus": "20"}, mzj, priority)  -> {}   # gaj ranks higher
        departures(..., {"address": "文三路88号", "maritalStatus": "30"}, mzj, priority) -> {"maritalStatus": False}
    """
    owners = kept_field_sources or {}
    found: dict[str, bool] = {}
    for name in dict.fromkeys([*kept, *given]):
        before, after = kept.get(name), given.get(name)
        if before == after:
            continue
        owner = owners.get(name, kept_source)
        if before is None or owner == source:  # a value the core lacks, or its own, changed or cleared
            found[name] = False
        elif after is not None and priority(source, name) >= priority(owner, name):
            found[name] = priority(source, name) == priority(owner, name)
    return found


def last_given(session: Session, base: str, source_id: int, keys: list[str]) -> dict[tuple[str, str], str]:
    """(key, field) -> the value ``source_id`` last gave where sources disagreed about ``keys`` (血缘)."""
    given: dict[tuple[str, str], str] = {}
    for key, name, value in session.execute(
            select(CoreLineage.record_key, CoreLineage.field, CoreLineage.value)
            .where(CoreLineage.base == base, CoreLineage.source_id == source_id, CoreLineage.record_key.in_(keys))
            .order_by(CoreLineage.id)):
        given[(key, name)] = value
    return given


def lineage_rows(base: str, key: str, merged: Merged, batch_id: str, now: datetime) -> list[dict[str, Any]]:
    """``core_lineage`` rows of a merge: both values of each disagreement, each with its source,
    and the agreements (marked ``agrees``), which the core records only for a source that
    disagreed before - so that the report sees it has come round."""
    rows = []
    for name, before, owner, after, source in merged.disagreements:
        for value, by in ((before, owner), (after, source)):
            rows.append({"base": base, "record_key": key, "field": name, "value": str(value), "source_id": by,
                         "batch_id": batch_id, "recorded_at": now})
    for name, value, source in merged.agreements:
        rows.append({"base": base, "record_key": key, "field": name, "value": str(value), "source_id": source,
                     "batch_id": batch_id, "recorded_at": now, "agrees": True})
    return rows


# ----------------------------------------------------------------------------- the report


@dataclass
class Conflict:
    key: str
    field: str
    kept: str  # the value the core holds now
    kept_source: str
    others: list[tuple[str, str]]  # (value, department) of every other value a source gave


@dataclass
class ConflictReport:
    """Disagreements between sources (比对冲突) against the core's current values."""

    base: str
    keys: int = 0
    by_field: Counter = field(default_factory=Counter)  # field -> keys in conflict
    outcomes: Counter = field(default_factory=Counter)  # (field, kept department, overruled department) -> keys
    examples: list[Conflict] = field(default_factory=list)


def conflicts(session: Session, base: str, *, field_name: str | None = None, examples: int = 10,
              chunk: int = 2000) -> ConflictReport:
    """Every (key, field) on which sources disagreed, with the value kept now and the others."""
    report = ConflictReport(base)
    names = dict(session.execute(select(Department.id, Department.name)).all())
    query = select(CoreLineage.record_key, CoreLineage.field, CoreLineage.value, CoreLineage.source_id).where(
        CoreLineage.base == base)
    if field_name:
        query = query.where(CoreLineage.field == field_name)
    disputed: dict[str, dict[str, dict[int, str]]] = defaultdict(lambda: defaultdict(dict))
    for key, name, value, source in session.execute(query.order_by(CoreLineage.id)):
        disputed[key][name][source] = value  # each source's latest value
    keys = list(disputed)
    for start in range(0, len(keys), chunk):
        part = keys[start:start + chunk]
        current = {
            row.record_key: row for row in session.execute(
                select(CoreRecord.record_key, CoreRecord.fields, CoreRecord.source_id, CoreRecord.field_sources)
                .where(CoreRecord.base == base, CoreRecord.record_key.in_(part), CoreRecord.effective_to.is_(None),
                       CoreRecord.deleted.is_(False)))
        }
        for key in part:
            row = current.get(key)
            if row is None:
                continue  # deleted since: nothing is kept to disagree with
            counted = False
            for name, values in disputed[key].items():
                kept = row.fields.get(name)
                kept_text = "" if kept is None else str(kept)
                owner = (row.field_sources or {}).get(name, row.source_id)
                others = [(value, names.get(source, str(source))) for source, value in values.items()
                          if value != kept_text and source != owner]  # not the owner's own earlier values
                if not others:
                    continue  # the sources agree now
                counted = True
                report.by_field[name] += 1
                for department in {department for _value, department in others}:
                    report.outcomes[(name, names.get(owner, str(owner)), department)] += 1
                if len(report.examples) < examples:
                    report.examples.append(Conflict(key, name, kept_text, names.get(owner, str(owner)), others))
            report.keys += counted
    return report


# ----------------------------------------------------------------------------- the actions

#: the four base databases (四大基础数据库)
BASES = tuple(dict.fromkeys(lookups.BASE_OF_CLASS.values()))


@dataclass(frozen=True)
class PrioritySetting:
    """One configured priority: a department's in a base, for every field (``field`` empty) or one."""

    base: str
    department_code: str
    department_name: str
    field: str
    priority: int


def base_database(base: str) -> str:
    """``base`` if it names a base database; InvalidInput otherwise."""
    if base not in BASES:
        raise InvalidInput(f"no base database {base!r}: one of {', '.join(BASES)}", field="base",
                           zh=f"没有基础数据库 {base}。")
    return base


def department_named(session: Session, name: str) -> Department:
    """A department by its code, its 统一社会信用代码 or its name."""
    found = session.scalar(select(Department).where(Department.name == (name or "").strip()))
    if found is not None:
        return found
    try:
        return lookups.department_by_code(session, name)
    except NotFound:
        raise NotFound(f"no department {name!r}: give its code, name or credit code", code="UnknownDepartment",
                       zh=f"没有名称、代码或统一社会信用代码为 {name} 的已登记部门。", field="department") from None


def _settings(session: Session, base: str) -> tuple[PrioritySetting, ...]:
    rows = session.execute(
        select(SourcePriority.field, SourcePriority.priority, Department.code, Department.name)
        .join(Department, Department.id == SourcePriority.source_id).where(SourcePriority.base == base)
        .order_by(SourcePriority.priority.desc(), SourcePriority.source_id, SourcePriority.field)).all()
    return tuple(PrioritySetting(base, code, name, field_name, priority) for field_name, priority, code, name in rows)


@action("core.priorities")
def show_priorities(ctx: Context, *, base: str) -> tuple[PrioritySetting, ...]:
    """The priorities configured in ``base``, highest first (none: every source counts the same)."""
    found = _settings(ctx.session, base_database(base))
    ctx.note(record_count=len(found))
    return found


@action("core.priority")
def configure_priority(ctx: Context, *, base: str, department: str, priority: int,
                       fields: Mapping[str, int] | None = None) -> tuple[PrioritySetting, ...]:
    """Set ``department``'s priority in ``base`` (and per field), replacing what was set; the
    priorities of ``base`` after it."""
    source = department_named(ctx.session, department)
    set_priority(ctx.session, base_database(base), source.id, priority, fields)
    ctx.note(detail=f"{base}: {source.code} {priority}" + "".join(
        f", {name}={value}" for name, value in sorted((fields or {}).items())))
    return _settings(ctx.session, base)


@action("core.conflicts")
def report_conflicts(ctx: Context, *, base: str, field: str | None = None, examples: int = 10) -> ConflictReport:
    """Where the sources of ``base`` disagree (比对冲突), on ``field`` or every field."""
    report = conflicts(ctx.session, base_database(base), field_name=field or None, examples=examples)
    ctx.note(record_count=report.keys, query_digest=audit.query_digest({"base": base, "field": field or ""}))
    return report
