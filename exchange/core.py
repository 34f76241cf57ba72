"""The core tier (核心库): the four base databases, with history and lineage.

Each accepted record becomes, per natural key, a version row of ``core_record``::

    id  base        record_key          fields {...}   source  batch  effective_from  effective_to
    17  population  330102199001021235  {"name": ...}  gaj     b-1    2026-11-20      2026-11-24
    58  population  330102199001021235  {"name": ...}  mzj     b-7    2026-11-24      NULL   <- current

A record equal to the current version changes nothing.  Where two departments give
different values for a field, both values and their sources are kept in
``core_lineage``; which value is current is decided field by field by the sources'
priorities (:mod:`exchange.integration`), the newer value winning between equals.
Writers of one base database take turns, so ``id`` order is commit order and can serve as
the GetChanges watermark.  ``core.history`` (an action: the platform operator's) shows a record's
versions and lineage.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, String, any_, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from registry.models import CoreContribution, CoreLineage, CoreRecord, Department
from trust import audit
from trust.actions import Context, action
from xsd.prepared import dumps, jsonable

from . import integration


@dataclass
class Accepted:
    """A record that passed validation, ready for the core tier: its validated ``fields``, or
    what the core stores of them (``jsonable(fields)``) as a dict or as JSON text."""

    key: str
    record_type: str
    fields: dict[str, Any] | None
    stored: dict[str, Any] | None = None
    text: str | None = None  # ``dumps(stored)``

    def as_stored(self) -> dict[str, Any]:
        if self.stored is None:
            self.stored = json.loads(self.text) if self.text is not None else jsonable(self.fields)
        return self.stored

    def as_text(self) -> str:
        if self.text is None:
            self.text = dumps(self.as_stored())
        return self.text


@dataclass
class LoadCounts:
    changed: int = 0
    unchanged: int = 0


def take_turn(session: Session, base: str) -> None:
    """Serialise writers of one base database until commit (ids then follow commit order)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"govshare.core:{base}"))))


def keep_statistics(session: Session) -> None:
    """On PostgreSQL, ANALYZE ``core_record`` when it never was or has doubled since.

    Autovacuum does this where it runs, but it may be off or behind a bulk load; without
    statistics the planner takes the table for empty and looks current versions up by
    scanning every version of the base (seconds per chunk at a million rows).
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    found = session.execute(text(
        "SELECT c.reltuples, s.n_live_tup FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid "
        "WHERE c.relname = 'core_record' AND c.relnamespace = to_regnamespace(current_schema())")).one_or_none()
    if found is not None and found.n_live_tup > 2 * max(found.reltuples, 0) + _ANALYZE_SLACK:
        session.execute(text("ANALYZE core_record"))


_ANALYZE_SLACK = 10_000  # rows: a small table is planned well enough without fresh statistics


def load(
    session: Session,
    *,
    base: str,
    records: list[Accepted],
    source_id: int,
    resource_code: str,
    batch_id: str,
    now: datetime,
) -> LoadCounts:
    """Upsert ``records`` (distinct keys) into ``base`` as new versions where they changed."""
    counts = LoadCounts()
    if not records:
        return counts
    current = {
        row.record_key: row
        for row in session.execute(
            select(CoreRecord.id, CoreRecord.record_key, CoreRecord.fields, CoreRecord.source_id, CoreRecord.deleted,
                   CoreRecord.field_sources, CoreRecord.resource_code)
            .where(CoreRecord.base == base, _among(session, CoreRecord.record_key, [r.key for r in records]),
                   CoreRecord.effective_to.is_(None))
        )
    }
    closing: list[int] = []
    new_rows: list[dict[str, Any]] = []
    lineage: list[dict[str, Any]] = []
    contributed: list[dict[str, Any]] = []  # unchanged keys another resource's version holds
    priority: integration.Priority | None = None
    for record in records:
        old = current.get(record.key)
        if old is None:  # a new key: nothing to compare, its JSON text is all the insert needs
            counts.changed += 1
            new_rows.append({
                "base": base, "record_key": record.key, "record_type": record.record_type, "fields": None,
                "text": record.as_text(), "deleted": False, "source_id": source_id, "resource_code": resource_code,
                "batch_id": batch_id, "effective_from": now, "effective_to": None, "field_sources": None,
            })
            continue
        fields = record.as_stored()
        field_sources = None
        if old is not None and not old.deleted and (old.source_id != source_id or old.field_sources):
            # another department gave (some of) the current values: compare field by field (比对)
            if priority is None:
                priority = integration.priorities(session, base)
            merged = integration.merge(old.fields, old.source_id, old.field_sources, fields, source_id, priority)
            fields, field_sources = merged.fields, merged.field_sources
            lineage.extend(integration.lineage_rows(base, record.key, merged, batch_id, now))
        if (not old.deleted and old.fields == fields
                and _owners(fields, old.source_id, old.field_sources) == _owners(fields, source_id, field_sources)):
            counts.unchanged += 1  # the same values from the same departments, whoever sent them now
            if old.resource_code != resource_code:
                contributed.append({"resource_code": resource_code, "record_key": record.key, "base": base,
                                    "source_id": source_id, "batch_id": batch_id, "recorded_at": now})
            continue
        counts.changed += 1
        closing.append(old.id)
        new_rows.append({
            "base": base, "record_key": record.key, "record_type": record.record_type, "fields": fields,
            "text": record.text if fields is record.stored else None, "deleted": False, "source_id": source_id,
            "resource_code": resource_code, "batch_id": batch_id,
            "effective_from": now, "effective_to": None, "field_sources": field_sources,
        })
    if closing:
        session.execute(update(CoreRecord).where(CoreRecord.id.in_(closing)).values(effective_to=now))
    if new_rows:
        _insert_versions(session, new_rows)
    if lineage:
        _record_lineage(session, base, lineage)
    if contributed:
        _insert_ignoring_known(session, CoreContribution, contributed)
    return counts


def _among(session: Session, column, values: list[str]):
    """``column IN (values)``; on PostgreSQL ``column = ANY(array)``: one parameter instead of a
    thousand, which PostgreSQL plans several times faster (a chunk's lookup of current versions)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(String)))
    return column.in_(values)


def _insert_ignoring_known(session: Session, model, rows: list[dict[str, Any]]) -> None:
    """INSERT the rows whose primary key is not there yet (ON CONFLICT DO NOTHING)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # pragma: no cover - the centre runs on PostgreSQL or SQLite
        from sqlalchemy.dialects.mysql import insert as dialect_insert

        session.execute(dialect_insert(model).prefix_with("IGNORE"), rows)
        return
    session.execute(dialect_insert(model).on_conflict_do_nothing(), rows)


def _owners(fields: dict[str, Any], source_id: int, field_sources: dict | None) -> dict[str, int]:
    """Which department gave each field (``field_sources`` names the ones not from ``source_id``)."""
    others = field_sources or {}
    return {name: int(others.get(name, source_id)) for name in fields}


def _record_lineage(session: Session, base: str, rows: list[dict[str, Any]]) -> None:
    """Add what is not recorded yet: a source sending the same value again adds nothing, and
    an agreement counts only from a source that disagreed before (it has come round)."""
    known: dict[tuple, str] = {}  # (key, field, source) -> that source's latest value
    for key, name, value, source in session.execute(
        select(CoreLineage.record_key, CoreLineage.field, CoreLineage.value, CoreLineage.source_id)
        .where(CoreLineage.base == base, CoreLineage.record_key.in_({row["record_key"] for row in rows}))
        .order_by(CoreLineage.id)
    ):
        known[(key, name, source)] = value
    fresh = []
    for row in rows:
        said = (row["record_key"], row["field"], row["source_id"])
        agrees = row.pop("agrees", False)
        if known.get(said) == row["value"] or (agrees and said not in known):
            continue
        known[said] = row["value"]
        fresh.append(row)
    if fresh:
        session.execute(insert(CoreLineage), fresh)


def current_keys(session: Session, *, base: str, source_id: int, resource_code: str) -> Iterator[str]:
    """Keys whose current, undeleted version in ``base`` came from ``source_id`` under ``resource_code``."""
    yield from session.scalars(
        select(CoreRecord.record_key).where(
            CoreRecord.base == base, CoreRecord.effective_to.is_(None), CoreRecord.deleted.is_(False),
            CoreRecord.source_id == source_id, CoreRecord.resource_code == resource_code)
        .execution_options(yield_per=5000)
    )


def delete_keys(
    session: Session,
    base: str,
    keys: Iterable[str],
    source_id: int,
    resource_code: str,
    batch_id: str,
    now: datetime,
) -> int:
    """Logically delete ``keys`` from ``base``: a new current version with ``deleted`` set.

    The deleted version keeps the fields it had, so history shows what went; keys without a
    current version, or already deleted, are left alone.  Returns how many were deleted.
    A later ``load`` of the same key makes it current again.
    """
    deleted = 0
    pending = list(dict.fromkeys(keys))
    for start in range(0, len(pending), _IN_LIST):
        part = pending[start:start + _IN_LIST]
        current = session.execute(
            select(CoreRecord.id, CoreRecord.record_key, CoreRecord.record_type, CoreRecord.fields)
            .where(CoreRecord.base == base, CoreRecord.record_key.in_(part), CoreRecord.effective_to.is_(None),
                   CoreRecord.deleted.is_(False))
        ).all()
        if not current:
            continue
        session.execute(update(CoreRecord).where(CoreRecord.id.in_([row.id for row in current]))
                        .values(effective_to=now))
        _insert_versions(session, [{
            "base": base, "record_key": row.record_key, "record_type": row.record_type, "fields": row.fields,
            "deleted": True, "source_id": source_id, "resource_code": resource_code, "batch_id": batch_id,
            "effective_from": now, "effective_to": None, "field_sources": None,
        } for row in current])
        deleted += len(current)
    return deleted


_IN_LIST = 5000  # keys per IN (...): well under SQLite's 32766 bound parameters


_COPY_COLUMNS = ("base", "record_key", "record_type", "fields", "deleted", "source_id", "resource_code", "batch_id",
                 "effective_from", "effective_to", "field_sources")
_SQLITE_INSERT = f"INSERT INTO core_record ({', '.join(_COPY_COLUMNS)}) VALUES ({', '.join('?' * len(_COPY_COLUMNS))})"


def _insert_versions(session: Session, rows: list[dict[str, Any]]) -> None:
    """New version rows; ``fields`` JSON text is taken from a row's ``text`` where it has one.

    On PostgreSQL with COPY (about three times executemany's rate), on SQLite with the
    driver's executemany of the values as SQLAlchemy stores them (the ORM's bulk insert
    spends more per row than SQLite does)."""
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name == "sqlite":
        timestamp = _memo(CoreRecord.__table__.c.effective_from.type.dialect_impl(dialect).bind_processor(dialect))
        connection.exec_driver_sql(_SQLITE_INSERT, [
            (row["base"], row["record_key"], row["record_type"], row.get("text") or dumps(row["fields"]),
             1 if row["deleted"] else 0, row["source_id"], row["resource_code"], row["batch_id"],
             timestamp(row["effective_from"]), timestamp(row["effective_to"]),
             None if row["field_sources"] is None else dumps(row["field_sources"])) for row in rows])
        return
    if dialect.name != "postgresql":
        session.execute(insert(CoreRecord.__table__), [
            {c: row[c] if c != "fields" or row.get("text") is None else json.loads(row["text"])
             for c in _COPY_COLUMNS} for row in rows])
        return
    cursor = connection.connection.driver_connection.cursor()
    # Each row's foreign-key check (source_id) runs a cached plan inside PostgreSQL, and the
    # platform's sessions plan every execution anew (registry.db, force_custom_plan): for the
    # COPY alone, checks may keep their plan (measured: 200,000 versions 3.95 -> 2.56 s).
    cursor.execute("SELECT current_setting('plan_cache_mode'), set_config('plan_cache_mode', 'auto', true)")
    mode = cursor.fetchone()[0]
    with cursor.copy(f"COPY core_record ({', '.join(_COPY_COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row((row["base"], row["record_key"], row["record_type"],
                            row.get("text") or dumps(row["fields"]), row["deleted"], row["source_id"],
                            row["resource_code"], row["batch_id"], row["effective_from"], row["effective_to"],
                            None if row["field_sources"] is None else dumps(row["field_sources"])))
    cursor.execute("SELECT set_config('plan_cache_mode', %s, true)", (mode,))


def _memo(convert):
    """``convert`` (a bind processor, or None), each distinct value converted once: a chunk's
    versions share one or two timestamps."""
    seen: dict[Any, Any] = {}

    def converted(value: Any) -> Any:
        if value is None or convert is None:
            return value
        out = seen.get(value)
        if out is None:
            out = seen[value] = convert(value)
        return out

    return converted


def lineage_of(session: Session, base: str, key: str) -> list[CoreLineage]:
    """Every recorded disagreement about ``key``, oldest first."""
    return list(session.scalars(
        select(CoreLineage).where(CoreLineage.base == base, CoreLineage.record_key == key).order_by(CoreLineage.id)
    ))


def history_of(session: Session, base: str, key: str) -> list[CoreRecord]:
    """Every version of ``key``, oldest first."""
    return list(session.scalars(
        select(CoreRecord).where(CoreRecord.base == base, CoreRecord.record_key == key).order_by(CoreRecord.id)
    ))


@dataclass(frozen=True)
class Version:
    """One version of a record: who gave it and when, and the fields whose value another gave."""

    sequence: int
    department: str
    effective_from: datetime
    effective_to: datetime | None  # None: current
    deleted: bool
    fields: dict[str, Any]
    others: dict[str, str]  # field -> the department whose value it is, where not the version's


@dataclass(frozen=True)
class Disagreement:
    """A value a source gave where sources disagreed (血缘)."""

    field: str
    value: str
    department: str
    batch_id: str
    recorded_at: datetime


@dataclass(frozen=True)
class History:
    base: str
    key: str
    versions: tuple[Version, ...]
    lineage: tuple[Disagreement, ...]


@action("core.history")
def history(ctx: Context, *, base: str, key: str) -> History:
    """Every version of the record ``key`` of ``base``, oldest first, and every disagreement about it."""
    session = ctx.session
    integration.base_database(base)
    ctx.note(query_digest=audit.query_digest({"base": base, "key": key}))
    names = dict(session.execute(select(Department.id, Department.name)).all())
    versions = tuple(
        Version(v.id, names.get(v.source_id, str(v.source_id)), v.effective_from, v.effective_to, v.deleted,
                dict(v.fields or {}), {f: names.get(s, str(s)) for f, s in sorted((v.field_sources or {}).items())})
        for v in history_of(session, base, key))
    lineage = tuple(Disagreement(e.field, e.value, names.get(e.source_id, str(e.source_id)), e.batch_id, e.recorded_at)
                    for e in lineage_of(session, base, key))
    ctx.note(record_count=len(versions))
    return History(base, key, versions, lineage)
