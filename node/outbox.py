"""Outbound store-and-forward: files taken into the outbox as batches, batches delivered signed.

    drop folder ──take──▶ outbox (one transaction per file) ──deliver──▶ centre SubmitBatch
                                         ▲                                   │
                                         └──── signed receipt stored ◀───────┘

**Taking a file.** Its records (client.files: XML, CSV, XLSX) are cut into batches of
``batch_size``, each given its id and the next sequence number of the stream, and written with
the file's SHA-256 in one transaction; then the file is moved to the folder's ``sent/``.  Killed
before the commit, the file is taken again from the start; after it, the file is only moved (its
digest is known).  The same file put again is not taken twice.

**Delivering.** Per stream, the batch with the lowest sequence number still pending is sent
(signed, through :class:`client.exchange.Exchange`) - so a stream's batches reach the centre in
their order - and stays pending until the centre's answer is stored beside it: the receipt's
counts and the signed answer envelope as received.  The centre takes a batch id once: a batch
sent again (the node killed after the centre committed but before the receipt was stored, or a
connection cut mid-answer) is answered with the first receipt, marked ``duplicate``.  When the
centre cannot be reached or is unavailable, the stream waits ``retry_first`` seconds, doubled
at each failure up to ``retry_max``; a batch the centre refuses (its format, its rights) is
kept as ``refused`` with the refusal and the stream goes on.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import requests
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Engine

from client.exchange import Exchange, PreparedBatch
from client.faults import PlatformError, Unavailable, UntrustedAnswer
from client.files import FileError, RecordFile, file_digest, platform_schemas, shapes_from

from .config import NodeConfig, Outbound
from .store import aware, canonical, now, outbox, pack, record_type, release_memory, taken, unpack

log = logging.getLogger(__name__)
#: batch ids of a node: derived from the stream, the file's digest and the batch's number in it
NODE_BATCHES = uuid.UUID("0e3c1b8a-57d2-4f7e-9a43-6b1f0d2c8e15")
#: for the fault tests only: seconds to wait between the centre's answer and storing it
PAUSE_AFTER_ANSWER = "GOVSHARE_NODE_TEST_PAUSE_AFTER_ANSWER"


@dataclass(frozen=True)
class Taken:
    stream: str
    name: str
    batches: int
    records: int
    again: bool  # the file had been taken before (its digest is known): only moved


def take_file(engine: Engine, config: NodeConfig, stream: Outbound, path: Path) -> Taken:
    """Write the records of ``path`` into the outbox as batches of ``stream``, then move it to ``sent/``."""
    digest = file_digest(path)
    with engine.begin() as conn:
        before = conn.execute(select(taken.c.batches, taken.c.records).where(
            taken.c.stream == stream.name, taken.c.sha256 == digest)).first()
        if before is None:
            batches, records = _enqueue(conn, config, stream, path, digest)
            conn.execute(insert(taken).values(stream=stream.name, name=path.name, sha256=digest, batches=batches,
                                              records=records, taken_at=now()))
    _move_to_sent(path)
    if before is not None:
        return Taken(stream.name, path.name, before.batches, before.records, True)
    log.info("took %s into %s: %d records in %d batches", path.name, stream.name, records, batches)
    return Taken(stream.name, path.name, batches, records, False)


def _enqueue(conn, config: NodeConfig, stream: Outbound, path: Path, digest: str) -> tuple[int, int]:
    last = conn.scalar(select(func.max(outbox.c.sequence)).where(outbox.c.stream == stream.name)) or 0
    records = iter(RecordFile(path, lambda: shapes(config)))
    total, created = 0, now()
    for number in itertools.count(1):
        chunk = [canonical(record) for record in itertools.islice(records, config.batch_size)]
        if not chunk:
            return number - 1, total
        total += len(chunk)
        release_memory()
        conn.execute(insert(outbox).values(
            batch_id=str(uuid.uuid5(NODE_BATCHES, f"{config.credit_code}:{stream.name}:{digest}:{number}")),
            stream=stream.name, sequence=last + number, resource=stream.resource, record_count=len(chunk),
            records=pack(chunk), source=f"{path.name} #{number}", created=created, state="pending", attempts=0,
            next_attempt=created))
    raise AssertionError("unreachable")


_SHAPES: dict[str, list] = {}
_REPORTED: dict[Path, str] = {}  # drop-folder files not taken, and why (reported once)


def shapes_known(config: NodeConfig) -> bool:
    return config.centre in _SHAPES


def shapes(config: NodeConfig) -> list:
    """The standard formats' shapes, for a table's header: read from the centre's /xsd/ once per
    process and kept in the node's ``schemas/`` folder, so that tables are taken while the centre
    is down."""
    if config.centre not in _SHAPES:
        folder = config.folder / "schemas"
        try:
            schemas = platform_schemas(config.centre, timeout=30)
        except requests.RequestException as exc:
            schemas = {p.name: p.read_bytes() for p in sorted(folder.glob("*.xsd"))}
            if not schemas:
                raise FileError(f"the standard formats are not known yet: the node reads them from the centre once, "
                                f"and it cannot be reached ({type(exc).__name__}); tables wait, XML is taken") from None
        else:
            folder.mkdir(exist_ok=True)
            for name, data in schemas.items():
                part = folder / f".{name}.part"
                part.write_bytes(data)
                os.replace(part, folder / name)
        _SHAPES[config.centre] = shapes_from(schemas)
    return _SHAPES[config.centre]


def _move_to_sent(path: Path) -> None:
    sent = path.parent / "sent"
    sent.mkdir(exist_ok=True)
    target = sent / path.name
    if target.exists():
        target = sent / f"{path.stem}.{int(time.time())}{path.suffix}"
    shutil.move(str(path), target)


def take_folders(engine: Engine, config: NodeConfig) -> list[Taken]:
    """Take every export file waiting in the drop folders, oldest first."""
    found = []
    for stream in config.outbound:
        stream.folder.mkdir(parents=True, exist_ok=True)
        waiting = sorted((p for p in stream.folder.iterdir() if p.is_file() and not p.name.startswith(".")
                          and p.suffix.lower() in (".xml", ".csv", ".xlsx")), key=lambda p: p.stat().st_mtime)
        for path in waiting:
            try:
                found.append(take_file(engine, config, stream, path))
            except FileError as exc:  # this file waits (or is wrong); the others are taken
                if _REPORTED.get(path) != str(exc):  # once per file and problem, not every round
                    _REPORTED[path] = str(exc)
                    waits = not shapes_known(config)  # the formats come with the centre: it waits, not wrong
                    log.log(logging.WARNING if waits else logging.ERROR, "%s: not taken%s: %s", path.name,
                            " yet" if waits else "", exc)
    return found


class Courier:
    """Delivers the outbox's batches to the centre, stream by stream, in order."""

    #: a request prepared ahead is signed again when it waited longer than this (the centre takes
    #: a Timestamp for minutes)
    FRESH_FOR = timedelta(seconds=60)

    def __init__(self, engine: Engine, config: NodeConfig,
                 exchange: Callable[[], Exchange] | None = None):
        self.engine, self.config = engine, config
        self._make = exchange or (lambda: Exchange(config.centre, key=config.key, cert=config.cert, ca=config.ca,
                                                   timeout=120))
        self._exchange: Exchange | None = None
        # the stream's next batch, read, built and signed while the centre takes the one before
        self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prepare")
        self._ahead: Future | None = None

    def exchange(self) -> Exchange:
        if self._exchange is None:
            self._exchange = self._make()  # reads the centre's WSDL: fails while the centre is down
        return self._exchange

    def deliver_due(self) -> int:
        """Send each stream's next due batch until none is due; the number delivered."""
        delivered = 0
        while True:
            heads = self._heads()
            if not heads:
                return delivered
            progressed = False
            for head in heads:
                if self._deliver(head):
                    delivered += 1
                    progressed = True
            if not progressed:
                return delivered

    def _heads(self) -> list:
        """The lowest pending batch of each stream, if its time has come."""
        with self.engine.connect() as conn:
            firsts = select(outbox.c.stream, func.min(outbox.c.sequence).label("sequence")).where(
                outbox.c.state == "pending").group_by(outbox.c.stream).subquery()
            rows = conn.execute(select(outbox).join(firsts, (outbox.c.stream == firsts.c.stream)
                                                    & (outbox.c.sequence == firsts.c.sequence))).all()
        due = now()
        return [r for r in rows if aware(r.next_attempt) <= due]

    def _deliver(self, batch) -> bool:
        try:
            exchange = self.exchange()
            prepared = self._prepared(exchange, batch)
            self._ahead = self._helper.submit(self._prepare_next, exchange, batch)
            receipt = exchange.send_prepared(prepared)
            del prepared
            release_memory()
        except (requests.RequestException, Unavailable, UntrustedAnswer, OSError) as exc:
            self._exchange = None if isinstance(exc, requests.RequestException | OSError) else self._exchange
            self._later(batch, exc)
            return False
        except PlatformError as refusal:  # the centre will not take it as it is: kept, the stream goes on
            self._refused(batch, refusal)
            return True
        pause = float(os.environ.get(PAUSE_AFTER_ANSWER, "0") or 0)
        if pause:
            time.sleep(pause)
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == batch.id).values(
                state="delivered", delivered_at=now(), attempts=batch.attempts + 1, accepted=receipt.accepted,
                quarantined=receipt.quarantined, duplicate=receipt.duplicate, receipt=exchange.last_answer,
                last_error=None))
        log.info("delivered %s (%s #%d): %d accepted, %d quarantined%s", batch.batch_id, batch.stream, batch.sequence,
                 receipt.accepted, receipt.quarantined, ", taken before" if receipt.duplicate else "")
        return True

    def _prepared(self, exchange: Exchange, batch) -> PreparedBatch:
        """``batch``'s signed request: the one made ahead if it is this batch's and still fresh."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            try:
                made = ahead.result()
            except Exception:  # noqa: BLE001 - made again below, where a failure is the batch's to report
                made = None
            if made is not None and made[0] == batch.id and now() - made[1].signed_at < self.FRESH_FOR:
                return made[1]
        return self._prepare(exchange, batch)

    @staticmethod
    def _prepare(exchange: Exchange, batch) -> PreparedBatch:
        records = unpack(batch.records)
        return exchange.prepare_batch(batch.batch_id, batch.resource, records, sequence_number=batch.sequence,
                                      created=aware(batch.created), record_type=record_type(records[0]))

    def _prepare_next(self, exchange: Exchange, batch) -> tuple[int, PreparedBatch] | None:
        """The next pending batch of ``batch``'s stream, prepared (on the helper thread)."""
        with self.engine.connect() as conn:
            following = conn.execute(select(outbox).where(
                outbox.c.stream == batch.stream, outbox.c.state == "pending", outbox.c.sequence > batch.sequence)
                .order_by(outbox.c.sequence).limit(1)).first()
        if following is None:
            return None
        made = self._prepare(exchange, following)
        release_memory()
        return following.id, made

    def _later(self, batch, exc: BaseException) -> None:
        wait = min(self.config.retry_first * 2 ** batch.attempts, self.config.retry_max)
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == batch.id).values(
                attempts=batch.attempts + 1, next_attempt=now() + timedelta(seconds=wait), last_error=reason))
        log.warning("%s (%s #%d) not delivered (%s); again in %.1f s", batch.batch_id, batch.stream, batch.sequence,
                    reason, wait)

    def _refused(self, batch, refusal: PlatformError) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == batch.id).values(
                state="refused", attempts=batch.attempts + 1, delivered_at=now(),
                last_error=f"{refusal.code}: {refusal.message}"[:2000], receipt=self.exchange().last_answer))
        log.error("%s (%s #%d) refused by the centre: %s: %s", batch.batch_id, batch.stream, batch.sequence,
                  refusal.code, refusal.message)
