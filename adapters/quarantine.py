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
    correct(session, config, 17, {"XB": "男"})
        correction  {"XB": "男"}           corrected row = row updated with the correction
        problems    []                    -> ready to replay
    replay(sessions, settings, config, [17])
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
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from exchange.submit import EXCHANGE_NS, submit_document
from registry.db import unit_of_work
from registry.models import AdapterQuarantine, QuarantineReason, QuarantineRecord
from registry.settings import Settings
from xsd.batch import build_batch, records_digest
from xsd.validation import validate_record

from .config import AdapterConfig
from .mapping import Problem, mapper_for
from .pipeline import _resolve

STATUSES = ("open", "replayed", "discarded", "resolved")
VALIDATE = "validate"
_REPLAY_NAMESPACE = uuid.UUID("0b9d3f5e-2c61-4f7a-8d0e-5a4b9c2e7f13")


class QuarantineError(ValueError):
    """A request the quarantine cannot carry out: an unknown item, a wrong state, a bad correction."""


@dataclass(frozen=True)
class Item:
    """One quarantined source row, with its problem and any correction.

    ``problems`` is what the last check of the corrected row found (filled by ``correct``;
    ``None`` when the item was not checked): empty means the item is ready to replay.
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

    @property
    def corrected_row(self) -> dict:
        """The source row as it will be replayed: the row updated with the correction."""
        return {**self.row, **(self.correction or {})}


@dataclass
class ReplayResult:
    """Where each item of a replay went (item ids); ``asked`` is every item considered."""

    asked: list[int] = field(default_factory=list)
    replayed: list[int] = field(default_factory=list)
    still_failing: list[int] = field(default_factory=list)
    quarantined_by_validation: list[int] = field(default_factory=list)
    batch_id: str | None = None
    duplicate: bool = False  # the batch had been received before: the first receipt came back

    @property
    def balanced(self) -> bool:
        return len(self.asked) == len(self.replayed) + len(self.still_failing) + len(self.quarantined_by_validation)


def _item(row: AdapterQuarantine, problems: list[Problem] | None = None) -> Item:
    return Item(id=row.id, run_id=row.run_id, adapter=row.adapter, source_key=row.source_key, stage=row.stage,
                rule=row.rule, field=row.field, message=row.message, row=dict(row.row),
                correction=dict(row.correction) if row.correction else None, status=row.status,
                created=row.created, seen_run=row.seen_run, seen=row.seen, problems=problems)


def _get(session: Session, item_id: int) -> AdapterQuarantine:
    row = session.get(AdapterQuarantine, item_id)
    if row is None:
        raise QuarantineError(f"no quarantined item #{item_id}")
    return row


def _open(session: Session, item_id: int, action: str) -> AdapterQuarantine:
    row = _get(session, item_id)
    if row.status != "open":
        raise QuarantineError(f"item #{item_id} is {row.status}; only open items can be {action}")
    return row


def list_quarantine(session: Session, *, adapter: str | None = None, rule: str | None = None,
                    status: str | None = "open", limit: int = 50) -> list[Item]:
    """Quarantined items, oldest first; ``status=None`` lists every status."""
    if status is not None and status not in STATUSES:
        raise QuarantineError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
    query = select(AdapterQuarantine).order_by(AdapterQuarantine.id).limit(limit)
    if adapter is not None:
        query = query.where(AdapterQuarantine.adapter == adapter)
    if rule is not None:
        query = query.where(AdapterQuarantine.rule == rule)
    if status is not None:
        query = query.where(AdapterQuarantine.status == status)
    return [_item(row) for row in session.scalars(query)]


def summary(session: Session, adapter: str | None = None, status: str = "open") -> list[tuple[str, str, str, int]]:
    """(adapter, stage, rule, count) of the items in ``status``, largest groups first."""
    count = func.count().label("n")
    query = (select(AdapterQuarantine.adapter, AdapterQuarantine.stage, AdapterQuarantine.rule, count)
             .where(AdapterQuarantine.status == status)
             .group_by(AdapterQuarantine.adapter, AdapterQuarantine.stage, AdapterQuarantine.rule)
             .order_by(count.desc(), AdapterQuarantine.adapter, AdapterQuarantine.rule))
    if adapter is not None:
        query = query.where(AdapterQuarantine.adapter == adapter)
    return [(a, s, r, n) for a, s, r, n in session.execute(query)]


def show(session: Session, item_id: int) -> Item:
    """One item: its source row, its problem and any correction."""
    return _item(_get(session, item_id))


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


def _belongs(row: AdapterQuarantine, config: AdapterConfig) -> None:
    if row.adapter != config.name:
        raise QuarantineError(f"item #{row.id} belongs to adapter {row.adapter}, not {config.name}")


def correct(session: Session, config: AdapterConfig, item_id: int, fields: Mapping[str, str]) -> Item:
    """Store corrections of source columns and check the corrected row at once.

    Corrections add to earlier ones.  The item stays open; when problems remain its stored
    problem becomes the first of them, and ``Item.problems`` lists them all.  When none
    remain (``problems == []``, ready to replay) the stored problem stays the one that put
    the row here.
    """
    row = _open(session, item_id, "corrected")
    _belongs(row, config)
    if not fields:
        raise QuarantineError("nothing to correct: give COLUMN=VALUE")
    unknown = sorted(set(fields) - set(row.row))
    if unknown:
        raise QuarantineError(f"item #{item_id} has no source column {', '.join(unknown)}; "
                              f"its columns are {', '.join(row.row)}")
    row.correction = {**(row.correction or {}), **fields}
    problems, _ = _check(config, {**row.row, **row.correction})
    if problems:
        _record_problem(row, problems)
    session.flush()
    return _item(row, problems)


def discard(session: Session, item_id: int, reason: str) -> Item:
    """Close an open item that must never be loaded; the reason is kept in its message."""
    if not reason or not reason.strip():
        raise QuarantineError(f"discarding item #{item_id} needs a reason")
    row = _open(session, item_id, "discarded")
    row.status = "discarded"
    _note(row, f"discarded: {reason.strip()}")
    session.flush()
    return _item(row)


def _batch_id(adapter: str, ids: Iterable[int], records: list[etree._Element]) -> uuid.UUID:
    # the records' digest too: after a change to the adapter file the same items make a new batch
    return uuid.uuid5(_REPLAY_NAMESPACE, f"{adapter}/{','.join(map(str, ids))}/{records_digest(records)}")


def replay(sessions: sessionmaker[Session], settings: Settings, config: AdapterConfig,
           item_ids: Iterable[int] | None = None) -> ReplayResult:
    """Map the corrected rows again and submit the clean ones as one batch (see the module).

    ``item_ids`` None replays every open item of ``config``.  Items already replayed may be
    asked again: they are rebuilt the same way, so the batch and its receipt are the first
    (should one no longer map - the adapter file changed - it is counted as still failing and
    keeps its status and record).  Discarded and resolved items are refused.  Everything commits
    together or not at all.
    """
    result = ReplayResult()
    with unit_of_work(sessions) as session:
        if item_ids is None:
            rows = list(session.scalars(select(AdapterQuarantine).where(
                AdapterQuarantine.adapter == config.name, AdapterQuarantine.status == "open")
                .order_by(AdapterQuarantine.id)))
        else:
            rows = [_get(session, item_id) for item_id in sorted(set(item_ids))]
        for row in rows:
            _belongs(row, config)
            if row.status in ("discarded", "resolved"):
                raise QuarantineError(f"item #{row.id} is {row.status}; it cannot be replayed")
        result.asked = [row.id for row in rows]

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
        receipt = submit_document(session, batch, settings.max_batch_bytes)
        result.batch_id = str(batch_id)
        result.duplicate = receipt.findtext(f"{{{EXCHANGE_NS}}}receipt/{{{EXCHANGE_NS}}}duplicate") == "true"
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
