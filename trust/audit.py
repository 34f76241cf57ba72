"""The tamper-evident audit log (审计日志, S4): who read or changed what, when, why, with what result.

Every exchange call and every directory publication appends one entry, in a transaction of
its own (or with the entries of the reads the call ran) that is always committed — a refused
or failed request rolls its own work back but keeps its entry.  Entries form a hash chain,
each entry's hash keyed by the platform's audit key (审计密钥) as well::

    seq 1: prev_hash = 000…0      entry_hash = SHA-256(canonical(entry 1))  entry_mac = HMAC(key, hash(1))
    seq 2: prev_hash = hash(1)    entry_hash = SHA-256(canonical(entry 2))  entry_mac = HMAC(key, hash(2))
    …
    checkpoint: {"seq": 1000, "entry_hash": hash(1000), …} signed by the platform key (RSA-SHA256)

``canonical(entry)`` is the UTF-8 JSON of every column but ``entry_hash`` and ``entry_mac``
plus ``"chain": "govshare-audit/1"``, keys sorted, no spaces (``separators=(",", ":")``),
non-ASCII as is; ``recorded_at`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC), absent values as
``null`` - except ``channel`` and ``system_code``, which are left out when null (entries written
before migrations 0019 and 0021 have none, and their hashes stay as they were)::

    {"certificate_serial":null,"chain":"govshare-audit/1","department_code":"mzj","department_id":2,
     "detail":"","operation":"exchange.QueryRecords","prev_hash":"9f2c…","purpose":null,
     "query_digest":"41d0…","record_count":3,"recorded_at":"2024-05-01T08:00:00.123456Z",
     "request_digest":"c3ab…","resource_code":"101001/000002","response_digest":"77e1…",
     "result":"ok","seq":2,"user":null}

``entry_mac`` is HMAC-SHA256 over the 64 hex digits of ``entry_hash`` (ASCII), in hex.  The
key is not in the database: ``GOVSHARE_AUDIT_KEY``, else ``<var>/pki/audit-key`` (mode 0600,
made by the first append that finds none; every server process must read the same one).

An altered entry no longer matches its hash; a deleted one leaves a gap in ``seq``; moved
entries no longer match their position and break the prev-hash links; a deleted tail or a
chain rewritten consistently no longer matches a signed checkpoint.  After the last signed
checkpoint the keyed chain speaks: an entry appended, or rewritten with its chain recomputed,
by a writer without the key has no MAC or a wrong one.  An entry's MAC covers, through
``prev_hash``, every entry before it, so entries written before the keyed chain (migration
0018: a null ``entry_mac``) are vouched for by the first keyed entry after them.  What no
check can see: entries appended after the last checkpoint and then deleted with it — hence
checkpoints every ``GOVSHARE_AUDIT_CHECKPOINT`` entries, once the oldest unsigned entry is
``GOVSHARE_AUDIT_CHECKPOINT_SECONDS`` old (checked on append, no background thread: a quiet
log is signed at its next entry), and on demand (``govshare audit checkpoint``), and exports
kept outside the database.

Appends are serialised so the chain stays one line across threads and processes: on
PostgreSQL by a transaction-scoped advisory lock, on SQLite by the database write lock
(``BEGIN IMMEDIATE``).  A process links a lone entry to the head it appended last in one
autocommitted statement that inserts nothing unless that head is still the chain's last
entry (``_Chain``); otherwise it reads the head under the lock.  Either way an entry is
durable before the request it records is answered.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from sqlalchemy import Connection, Engine, bindparam, exists, func, insert, select, type_coerce
from sqlalchemy import event as orm_events
from sqlalchemy.orm import Session, sessionmaker

from registry.clock import utcnow
from registry.errors import Conflict, GovshareError
from registry.models import AuditCheckpoint, AuditEntry, EvidenceMessage
from registry.settings import Settings

from . import pki

log = logging.getLogger(__name__)

CHAIN = "govshare-audit/1"
GENESIS = "0" * 64
#: the columns an entry's hash covers, in the order exports list them
HASHED = ("seq", "recorded_at", "department_id", "department_code", "user", "certificate_serial", "operation",
          "resource_code", "query_digest", "purpose", "result", "detail", "record_count", "request_digest",
          "response_digest", "prev_hash", "channel", "system_code")
#: columns added after the chain began: left out of the hash when null, so older entries verify as before
_OPTIONAL = {"channel", "system_code"}
COLUMNS = (*HASHED, "entry_hash", "entry_mac")
#: where the audit key comes from, before the file under ``<var>/pki/``
KEY_ENV = "GOVSHARE_AUDIT_KEY"
MIN_KEY_LENGTH = 32
#: how far from its place a moved entry is still recognised as moved rather than altered
REORDER_WINDOW = 64
#: the key of the PostgreSQL advisory lock that serialises appends
_LOCK = "govshare.audit"

_entries = AuditEntry.__table__
_checkpoints = AuditCheckpoint.__table__
_evidence = EvidenceMessage.__table__
#: the columns of an evidence row an append is given (``trust.evidence.row``); ``audit_seq`` is the append's
EVIDENCE_COLUMNS = ("received_at", "answered_at", "operation", "certificate_serial", "signer_subject", "compression",
                    "request", "request_sha256", "response", "response_sha256")


# ----------------------------------------------------------------------------- what is recorded


@dataclass
class AuditEvent:
    """One access or refusal, filled in as a request is handled and then recorded."""

    operation: str  # the action: exchange.query_records, sharing.apply, uddi.save_service, ...; exchange.request
    result: str = "ok"  # ok | refused:<code> | fault:<code>
    department_id: int | None = None
    department_code: str | None = None
    user: str | None = None
    certificate_serial: str | None = None
    resource_code: str | None = None
    query_digest: str | None = None
    purpose: str | None = None
    record_count: int = 0
    request_digest: str | None = None
    response_digest: str | None = None
    detail: str = ""
    channel: str | None = None  # soap | portal | cli | node | federation | job | harvest (trust.auth.CHANNELS)
    system_code: str | None = None  # the department's 应用系统 that called, when one signed

    def identify(self, caller: Any) -> None:
        """Take the identity of ``caller`` (a ``Caller``, or the signer WS-Security verified), keeping
        what the request itself said where the caller is silent."""
        for name in ("department_id", "department_code", "user", "certificate_serial", "system_code"):
            value = getattr(caller, name, None)
            if value is not None:
                setattr(self, name, value)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def query_digest(parameters: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a query's parameters (keys sorted, no spaces)."""
    return digest(json.dumps(parameters, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                             default=str).encode())


def _timestamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The bytes an entry's hash is taken over (see the module docstring)."""
    doc: dict[str, Any] = {"chain": CHAIN}
    for name in HASHED:
        value = fields.get(name)
        if name in _OPTIONAL and value is None:  # channel: from 0019 on; system_code: 0021
            continue
        doc[name] = _timestamp(value) if isinstance(value, datetime) else value
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(fields: Mapping[str, Any]) -> str:
    return digest(canonical(fields))


def _blank_to_none(value: str | None) -> str | None:
    # one spelling of "absent", so a CSV export (empty cell) re-hashes the same as the database
    return value if value else None


# ----------------------------------------------------------------------------- the audit key


class AuditKeyError(RuntimeError):
    """The audit key cannot be used, with what to do instead."""


def key_file(settings: Settings) -> Path:
    return pki.pki_dir(settings) / "audit-key"


def audit_key(settings: Settings, *, create: bool = False) -> bytes | None:
    """The platform's audit key: ``GOVSHARE_AUDIT_KEY``, else ``<var>/pki/audit-key``; made there
    on first use when ``create`` (an appender's first use; verification never makes one), else
    None when there is none."""
    value, source = os.environ.get(KEY_ENV), KEY_ENV
    if not value:
        path = key_file(settings)
        source = str(path)
        try:
            value = path.read_text()
        except FileNotFoundError:
            if not create:
                return None
            value = _make_key_file(path)
        except OSError as exc:
            raise AuditKeyError(f"cannot read the audit key {path}: {exc.strerror}") from None
    value = value.strip()
    if len(value) < MIN_KEY_LENGTH:
        raise AuditKeyError(f"the audit key in {source} is {len(value)} characters long: use at least "
                            f"{MIN_KEY_LENGTH} random ones (python3 -c 'import secrets; print(secrets.token_hex(32))')")
    return value.encode()


def _make_key_file(path: Path) -> str:
    """Write a new random key at ``path`` unless another process does first; the key the file holds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, draft = tempfile.mkstemp(prefix=".audit-key-", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:  # a link appears whole or not at all: no process reads a key half written
            os.link(draft, path)
        except FileExistsError:  # another process made it first: its key is the platform's
            pass
    finally:
        os.unlink(draft)
    return path.read_text()


def entry_mac(key: bytes, hash_: str) -> str:
    """An entry's keyed hash: HMAC-SHA256 over its ``entry_hash`` (64 hex digits, ASCII), in hex."""
    return hmac.digest(key, hash_.encode(), "sha256").hex()


# ----------------------------------------------------------------------------- appending


def _engine(sessions: sessionmaker[Session] | Session | Engine) -> Engine:
    if isinstance(sessions, Engine):
        return sessions
    if isinstance(sessions, Session):
        return sessions.get_bind()
    return sessions.kw["bind"]


def _take_chain(conn: Connection) -> tuple[int, str]:
    """Open the append transaction, wait for the chain, and return its head (seq, hash)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(_LOCK))))
    else:  # elsewhere, a table lock would do; the centre runs on PostgreSQL or SQLite
        raise NotImplementedError(f"the audit log needs PostgreSQL or SQLite, not {conn.dialect.name}")
    head = conn.execute(select(_entries.c.seq, _entries.c.entry_hash).order_by(_entries.c.seq.desc()).limit(1)).first()
    return (head.seq, head.entry_hash) if head is not None else (0, GENESIS)


def record(sessions: sessionmaker[Session] | Session | Engine, settings: Settings,
           event: AuditEvent, *, evidence: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """Append ``event`` to the chain and return its entry's columns once committed; None when
    the audit log is off (``GOVSHARE_AUDIT=0``).  (Columns, not an ``AuditEntry``: building the
    ORM object took 55 µs, a third of an append, for callers that do not look at it.)

    The entry is written in a transaction of its own (a ``Session`` only lends its engine) by
    the calling thread itself, so an uncontended append costs one short transaction and no
    hand-over to another thread.  Requests arriving while another thread of the process is
    appending wait for it and are then appended together, under one lock and one commit
    (group commit); each caller returns only when its own entry is durable.  On SQLite, do not
    call this while a session holds the write lock (wait for its commit).

    ``evidence``: the evidence log's row of a signed exchange (``EVIDENCE_COLUMNS``, from
    ``trust.evidence.row``), written with the entry and linked to it, in the same statement on
    PostgreSQL, the same transaction elsewhere: the two are durable together or not at all.
    """
    if not settings.audit:
        return None
    return _append(sessions, settings, [_Waiter(event, evidence)])[0]


def record_all(sessions: sessionmaker[Session] | Session | Engine, settings: Settings,
               events: Sequence[AuditEvent]) -> list[dict[str, Any]] | None:
    """Append ``events`` in their order, as ``record`` appends one, and return their entries' columns
    once committed: together, under one lock and one commit (an action and the reads it ran)."""
    if not settings.audit:
        return None
    return _append(sessions, settings, [_Waiter(event) for event in events])


def _append(sessions: sessionmaker[Session] | Session | Engine, settings: Settings,
            waiters: list[_Waiter]) -> list[dict[str, Any]]:
    if waiters:
        _chain(_engine(sessions), settings).append(waiters)
    for waiter in waiters:
        if waiter.error is not None:
            raise waiter.error
    return [waiter.entry for waiter in waiters]


def _row(event: AuditEvent, seq: int, prev: str, now: datetime, key: bytes) -> dict[str, Any]:
    values = {
        "seq": seq, "recorded_at": now, "department_id": event.department_id,
        "department_code": _blank_to_none(event.department_code), "user": _blank_to_none(event.user),
        "certificate_serial": _blank_to_none(event.certificate_serial), "operation": event.operation,
        "channel": event.channel, "system_code": _blank_to_none(event.system_code),
        "resource_code": _blank_to_none(event.resource_code), "query_digest": _blank_to_none(event.query_digest),
        "purpose": _blank_to_none(event.purpose), "result": event.result, "detail": event.detail or "",
        "record_count": event.record_count if event.result == "ok" else 0,
        "request_digest": _blank_to_none(event.request_digest),
        "response_digest": _blank_to_none(event.response_digest), "prev_hash": prev,
    }
    values["entry_hash"] = entry_hash(values)
    values["entry_mac"] = entry_mac(key, values["entry_hash"])
    return values


def _sign_at(conn: Connection, settings: Settings, row: dict[str, Any], reason: str) -> bool:
    """Sign a checkpoint at ``row`` on ``conn``; False, and a warning logged, when it cannot be
    signed (no platform CA): the entries matter more than the checkpoint."""
    try:
        _sign_checkpoint(conn, settings, row["seq"], row["entry_hash"], reason)
    except GovshareError as exc:  # no platform CA, or its key cannot be read
        log.warning("audit checkpoint (%s) at seq %s not signed: %s", reason, row["seq"], exc)
        return False
    return True


def _unsigned_since(conn: Connection) -> datetime | None:
    """When the oldest entry after the last checkpoint was recorded; None when there is none."""
    last = select(func.coalesce(func.max(_checkpoints.c.seq), 0)).scalar_subquery()
    return conn.execute(select(_entries.c.recorded_at).where(_entries.c.seq > last)
                        .order_by(_entries.c.seq).limit(1)).scalar()


class _Waiter:
    __slots__ = ("event", "evidence", "done", "entry", "error")

    def __init__(self, event: AuditEvent, evidence: Mapping[str, Any] | None = None):
        self.event, self.evidence = event, evidence
        self.done = False
        self.entry: dict[str, Any] | None = None
        self.error: BaseException | None = None


class _Chain:
    """The appends of one process to one database's chain (leader/follower group commit).

    A caller queues its entry and takes the process's append lock; whoever holds it appends
    every entry queued so far.  A caller that finds its entry appended by the previous holder
    returns at once.

    A lone entry takes the fast path: one autocommitted statement on a connection the chain
    keeps open, linked to the head this process appended last and guarded in the statement
    itself (``_link``): it inserts nothing unless that head is still the chain's last entry,
    and ``seq`` is the primary key, so an entry another process appended meanwhile makes it
    insert nothing or fail.  Then, and for batches, the slow path reads the head under the
    database lock (``_take_chain``) in a transaction of its own.  Either way the chain stays
    one line across threads and processes.

    The audit key is read once, by the first append.  Whether a checkpoint is due by time is
    asked of the database only when this process's reckoning (``time_due``) says it may be:
    about once every ``GOVSHARE_AUDIT_CHECKPOINT_SECONDS``, not at every append."""

    BATCH = 500

    def __init__(self, engine: Engine, settings: Settings):
        self.engine, self.settings = engine, settings
        self.pending: list[_Waiter] = []
        self.pending_lock = threading.Lock()  # guards ``pending`` only, never held across I/O
        self.append_lock = threading.Lock()   # held by the thread appending
        self.head: tuple[int, str] | None = None  # (seq, hash) this process appended last
        self.conn: Connection | None = None  # autocommit, for the fast path; under append_lock
        self.sql, self.parameters = "", None  # the fast path's statement, compiled for it
        self.sql_kept, self.parameters_kept = "", None  # the same with an evidence row (PostgreSQL only)
        self.key: bytes | None = None  # the audit key, read by the first append
        self.time_due: datetime | None = None  # no checkpoint is due by time before then

    def append(self, waiters: list[_Waiter]) -> None:
        """Append ``waiters``' entries, in order, together with any queued meanwhile (appends go in the
        order they were queued: once the last of them is done, all are)."""
        with self.pending_lock:
            self.pending.extend(waiters)
        last = waiters[-1]
        while not last.done:
            with self.append_lock:
                if last.done:  # the previous holder appended them
                    return
                with self.pending_lock:
                    batch, self.pending = self.pending[:self.BATCH], self.pending[self.BATCH:]
                try:
                    if self.key is None:
                        self.key = audit_key(self.settings, create=True)
                    rows = self._fast(batch[0]) if len(batch) == 1 else None
                    if rows is None:
                        rows = self._locked(batch)
                    self.head = (rows[-1]["seq"], rows[-1]["entry_hash"])
                    for each, row in zip(batch, rows, strict=True):
                        each.entry = row
                except BaseException as exc:  # every waiter learns that its entry was not written
                    self.head = None
                    for each in batch:
                        each.error = exc
                finally:
                    for each in batch:
                        each.done = True

    def _fast(self, waiter: _Waiter) -> list[dict[str, Any]] | None:
        """Append ``waiter``'s entry (and evidence row) after ``self.head`` in one statement; None when
        that cannot be done (no head known yet, another process appended since, the database busy, an
        evidence row on SQLite)."""
        if self.head is None:
            return None
        seq, prev = self.head
        row = _row(waiter.event, seq + 1, prev, utcnow(), self.key)
        try:
            if self.conn is None:
                self._connect()
            if waiter.evidence is None:
                sql, parameters = self.sql, self.parameters({**row, "prev_seq": seq})
            elif self.parameters_kept is not None:
                kept = {"evidence_" + name: waiter.evidence[name] for name in EVIDENCE_COLUMNS}
                sql, parameters = self.sql_kept, self.parameters_kept({**row, "prev_seq": seq, **kept})
            else:
                return None
            cursor = self.conn.connection.driver_connection.cursor()
            try:
                cursor.execute(sql, parameters)
                inserted = cursor.fetchone()
            finally:
                cursor.close()
        except Exception:  # noqa: BLE001 - a lost race or a broken connection: the slow path decides
            self._drop_connection()
            return None
        if inserted is None or inserted[0] != row["seq"]:
            return None
        if self._checkpoint_may_be_due([row]):
            with self.engine.connect() as conn:
                self._sign_due_checkpoints(conn, [row])
                conn.commit()
        return [row]

    def _locked(self, waiters: list[_Waiter]) -> list[dict[str, Any]]:
        """Append ``waiters``' entries under the database lock, in one transaction, in order, with
        their evidence rows, and commit."""
        with self.engine.connect() as conn:
            seq, prev = _take_chain(conn)
            now, rows = utcnow(), []
            for waiter in waiters:
                seq += 1
                rows.append(_row(waiter.event, seq, prev, now, self.key))
                prev = rows[-1]["entry_hash"]
            conn.execute(insert(_entries), rows)
            kept = [{**waiter.evidence, "audit_seq": row["seq"]}
                    for waiter, row in zip(waiters, rows, strict=True) if waiter.evidence is not None]
            if kept:
                conn.execute(insert(_evidence), kept)
            if self._checkpoint_may_be_due(rows):
                self._sign_due_checkpoints(conn, rows)
            conn.commit()
        return rows

    def _checkpoint_may_be_due(self, rows: list[dict[str, Any]]) -> bool:
        every, seconds = self.settings.audit_checkpoint_every, self.settings.audit_checkpoint_seconds
        return ((every > 0 and any(row["seq"] % every == 0 for row in rows))
                or (seconds > 0 and (self.time_due is None or rows[-1]["recorded_at"] >= self.time_due)))

    def _sign_due_checkpoints(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """On ``conn`` (its caller commits), sign a checkpoint at every ``GOVSHARE_AUDIT_CHECKPOINT``-th
        entry among ``rows``, and one at the last of them if the oldest entry no checkpoint covers
        is ``GOVSHARE_AUDIT_CHECKPOINT_SECONDS`` old.  One that cannot be signed is tried again by
        count at the next multiple, by time after as many seconds."""
        every, seconds = self.settings.audit_checkpoint_every, self.settings.audit_checkpoint_seconds
        head = rows[-1]
        head_signed = False
        for row in rows if every > 0 else ():
            if row["seq"] % every == 0:
                head_signed = _sign_at(conn, self.settings, row, "interval") and row is head
        if seconds <= 0:
            return
        now, period = head["recorded_at"], timedelta(seconds=seconds)
        if head_signed:
            self.time_due = now + period
        elif self.time_due is None or now >= self.time_due:
            since = _unsigned_since(conn)  # another process may have signed since this one looked
            if since is not None and now - since >= period:
                _sign_at(conn, self.settings, head, "time")
                since = now
            self.time_due = (since or now) + period

    def _connect(self) -> None:
        """Open the fast path's autocommit connection and compile its one statement for it: the
        statement runs on the driver's cursor, in the driver's parameter style, without the
        per-execution work of a SQLAlchemy execute (it costs about what the insert costs)."""
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        dialect = conn.dialect
        postgresql = dialect.name == "postgresql"
        if postgresql:  # one statement, always the same plan: plan it once
            conn.exec_driver_sql("SET plan_cache_mode = auto")
        types = {c.name: c.type for c in _entries.c}
        self.sql, self.parameters = _compiled(_link[postgresql], dialect, types)
        if postgresql:  # SQLite has no INSERT in a WITH: an evidence row goes by the slow path there
            self.sql_kept, self.parameters_kept = _compiled(_link_with_evidence, dialect, {
                **types, **{"evidence_" + name: _evidence.c[name].type for name in EVIDENCE_COLUMNS}})
        self.conn = conn

    def _drop_connection(self) -> None:
        if self.conn is not None:
            try:
                self.conn.invalidate()
                self.conn.close()
            except Exception:  # noqa: BLE001 - it is being thrown away
                pass
            self.conn = None


def _link_statement(postgresql: bool):
    """The fast path's statement: the entry, inserted only if ``prev_seq`` is the chain's last
    entry and ``prev_hash`` its hash.  On PostgreSQL it also takes the append lock before the
    row is written, so a slow-path append holding the lock never meets it half-way; the
    primary key refuses the entry if one with its ``seq`` was committed meanwhile."""
    last = select(func.max(_entries.c.seq)).scalar_subquery()  # the primary key's last entry, read backwards
    guards = [exists().where(_entries.c.seq == bindparam("prev_seq"), _entries.c.entry_hash == bindparam("prev_hash"),
                             _entries.c.seq == last)]
    if postgresql:
        guards.append(func.pg_advisory_xact_lock(func.hashtext(_LOCK)).isnot(None))
    values = select(*[type_coerce(bindparam(c.name), c.type) for c in _entries.c]).where(*guards)
    return insert(_entries).from_select([c.name for c in _entries.c], values).returning(_entries.c.seq)


_link = {False: _link_statement(False), True: _link_statement(True)}
#: the fast path's statement with the evidence row of a signed exchange, linked to the entry it inserts: the
#: evidence insert reads the entry's ``seq`` from the entry's, so it inserts nothing when that inserts nothing
_link_entry = _link[True].cte("entry")
_link_with_evidence = insert(_evidence).from_select(
    ["audit_seq", *EVIDENCE_COLUMNS],
    select(_link_entry.c.seq, *[type_coerce(bindparam("evidence_" + name), _evidence.c[name].type)
                                for name in EVIDENCE_COLUMNS]),
).returning(_evidence.c.audit_seq)


def _compiled(statement, dialect, types: Mapping[str, Any]):
    """``statement`` compiled for ``dialect``, and the function that turns its values (by bind name:
    ``types`` gives each one's type) into the driver's parameters, as the statement's own
    SQLAlchemy execute would."""
    compiled = statement.compile(dialect=dialect)
    processors = {name: type_.bind_processor(dialect) for name, type_ in types.items()}
    processors = {name: process for name, process in processors.items() if process is not None}
    constants = {name: value for name, value in compiled.params.items() if name not in types and name != "prev_seq"}
    order = compiled.positiontup

    def parameters(values: dict[str, Any]):
        full = {**constants, **values}
        for name, process in processors.items():
            full[name] = process(full[name])
        return [full[name] for name in order] if order else full

    return str(compiled), parameters


_chains_lock = threading.Lock()
#: every chain of this process, for a forked child to forget
_all_chains: weakref.WeakSet[_Chain] = weakref.WeakSet()


def _chain(engine: Engine, settings: Settings) -> _Chain:
    """The chain appender of ``engine`` (kept on the engine, so that it goes with it) for ``settings``;
    disposing of the engine closes the appender's connection."""
    with _chains_lock:
        chains = engine.__dict__.get("_govshare_audit_chains")
        if chains is None:
            chains = engine.__dict__["_govshare_audit_chains"] = {}
            orm_events.listen(engine, "engine_disposed", _close_chains)
        chain = chains.get(settings)
        if chain is None:
            chain = chains[settings] = _Chain(engine, settings)
            _all_chains.add(chain)
        return chain


def _close_chains(engine: Engine) -> None:
    for chain in list(engine.__dict__.get("_govshare_audit_chains", {}).values()):
        with chain.append_lock:
            chain._drop_connection()


#: connections a forked child inherited: kept, never used, so that collecting them cannot
#: close or reset a connection that belongs to the parent
_inherited: list[Connection] = []


def _forget_chains() -> None:  # a forked child must not inherit a lock held by a parent's thread
    global _chains_lock
    _chains_lock = threading.Lock()
    for chain in list(_all_chains):
        if chain.conn is not None:
            _inherited.append(chain.conn)
        chain.conn, chain.head, chain.pending = None, None, []
        chain.pending_lock, chain.append_lock = threading.Lock(), threading.Lock()


os.register_at_fork(after_in_child=_forget_chains)


# ----------------------------------------------------------------------------- checkpoints


def _signed_text(seq: int, hash_: str, created: datetime, reason: str) -> bytes:
    return json.dumps({"chain": CHAIN, "created": _timestamp(created), "entry_hash": hash_, "reason": reason,
                       "seq": seq}, sort_keys=True, separators=(",", ":")).encode()


def _sign_checkpoint(conn: Connection, settings: Settings, seq: int, hash_: str, reason: str) -> AuditCheckpoint:
    with Session() as session:  # platform_identity reads files; it asks nothing of the database
        key, certificate = pki.platform_identity(session, settings)
    created = utcnow()
    signature = key.sign(_signed_text(seq, hash_, created, reason), padding.PKCS1v15(), hashes.SHA256())
    values = {"seq": seq, "entry_hash": hash_, "created": created, "reason": reason,
              "certificate": certificate.public_bytes(serialization.Encoding.PEM).decode(),
              "signature": base64.b64encode(signature).decode()}
    row_id = conn.execute(insert(_checkpoints).returning(_checkpoints.c.id), values).scalar_one()
    return AuditCheckpoint(id=row_id, **values)


def checkpoint_if_due(sessions: sessionmaker[Session] | Session | Engine, settings: Settings,
                      now: datetime | None = None) -> AuditCheckpoint | None:
    """Sign the head of an idle chain whose oldest unsigned entry is ``GOVSHARE_AUDIT_CHECKPOINT_SECONDS``
    old (an append signs a busy chain's by itself); None when none is due.  Under the chain's lock, so
    processes that ask together sign once (the background job ``audit_checkpoint``, operations/)."""
    if settings.audit_checkpoint_seconds <= 0:
        return None
    with _engine(sessions).connect() as conn:
        seq, hash_ = _take_chain(conn)
        since = _unsigned_since(conn)
        period = timedelta(seconds=settings.audit_checkpoint_seconds)
        if seq == 0 or since is None or (now or utcnow()) - since < period:
            conn.rollback()
            return None
        row = _sign_checkpoint(conn, settings, seq, hash_, "time")
        conn.commit()
    return row


def checkpoint(sessions: sessionmaker[Session] | Session | Engine, settings: Settings) -> AuditCheckpoint:
    """Sign the current head of the chain now (raises ``Unavailable`` without a platform CA, ``Conflict``
    when the log is empty)."""
    with _engine(sessions).connect() as conn:
        seq, hash_ = _take_chain(conn)
        if seq == 0:
            raise Conflict("the audit log is empty: there is no head to sign", code="NothingToCheckpoint")
        row = _sign_checkpoint(conn, settings, seq, hash_, "manual")
        conn.commit()
    return row


def _signature_problem(row: Any, ca: x509.Certificate) -> str | None:
    """Why a checkpoint's signature cannot be trusted, or None when it verifies."""
    try:
        certificate = x509.load_pem_x509_certificate(row.certificate.encode())
    except ValueError:
        return "its certificate is not a PEM X.509 certificate"
    if not pki.chains_to(certificate, ca):
        return f"its certificate ({certificate.subject.rfc4514_string()}) was not issued by the platform CA"
    try:
        certificate.public_key().verify(base64.b64decode(row.signature),
                                        _signed_text(row.seq, row.entry_hash, row.created, row.reason),
                                        padding.PKCS1v15(), hashes.SHA256())
    except Exception:  # noqa: BLE001 - a bad signature, bad base64 or a non-RSA key alike
        return "the signature does not verify over its seq, hash and time"
    return None


# ----------------------------------------------------------------------------- verification


@dataclass
class Problem:
    """One thing wrong with the log; ``seq``..``last`` name the entries concerned."""

    kind: str  # altered | deleted | reordered | link | forged | unkeyed | key | truncated | checkpoint | signature
    seq: int | None
    message: str
    last: int | None = None

    def __str__(self) -> str:
        where = "" if self.seq is None else f"seq {self.seq}" + (f"..{self.last}" if self.last not in
                                                                 (None, self.seq) else "")
        return f"{self.kind:<10} {where:<14} {self.message}"


@dataclass(frozen=True)
class Notice:
    """Something a verifier should know that is no problem of the log (yet), in English and Chinese."""

    message: str
    zh: str

    def __str__(self) -> str:
        return self.message


@dataclass
class Report:
    entries: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    checkpoints: int = 0
    checkpoints_verified: int = 0
    signed_seq: int = 0  # the last entry a verified checkpoint signed (0: none)
    unsigned: int = 0  # entries after it, which the keyed chain alone vouches for
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Notice] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _moved_from(fields: Mapping[str, Any], seq: int) -> int | None:
    """The position an entry found at ``seq`` was recorded at, if its hash fits another one nearby."""
    for distance in range(1, REORDER_WINDOW + 1):
        for candidate in (seq - distance, seq + distance):
            if candidate > 0 and entry_hash({**fields, "seq": candidate}) == fields["entry_hash"]:
                return candidate
    return None


class _KeyedTail:
    """The keyed chain's verdict on the entries after the last signed checkpoint.  An entry is
    vouched for by its own MAC or by a later one (which covers its hash through ``prev_hash``):
    runs of wrong MACs are forged, entries without a MAC that no later MAC covers are unkeyed."""

    def __init__(self, key: bytes):
        self.key = key
        self.forged: list[list[int]] = []  # [first, last] runs of entries whose MAC does not match
        self.unkeyed: int | None = None  # the first entry without a MAC that no later MAC covers

    def see(self, seq: int, hash_: str, mac: str | None) -> None:
        # a plain ==, not compare_digest: that raises on a non-ASCII value written into the
        # column, and verification answers no one who could time it
        if mac is None:
            if self.unkeyed is None:
                self.unkeyed = seq
        elif mac == entry_mac(self.key, hash_):
            self.unkeyed = None
        elif self.forged and self.forged[-1][1] == seq - 1:
            self.forged[-1][1] = seq
        else:
            self.forged.append([seq, seq])

    def forget(self, seq: int) -> None:
        """Entry ``seq``, just seen, is reported already (its rewrite broke the next link)."""
        if self.forged and self.forged[-1][1] == seq:
            self.forged[-1][1] -= 1
            if self.forged[-1][1] < self.forged[-1][0]:
                self.forged.pop()

    def problems(self, head_seq: int) -> list[Problem]:
        found = [Problem("forged", first, "its keyed hash (entry_mac) does not match: written or rewritten "
                         "without the audit key", last) for first, last in self.forged]
        if self.unkeyed is not None:
            found.append(Problem("unkeyed", self.unkeyed, "no signed checkpoint and no keyed hash vouch for "
                                 "these entries: appended without the audit key", head_seq))
        return found


def _key_for_tail(settings: Settings) -> tuple[bytes | None, str]:
    """The audit key, and what to say when it is None: why there is none to use."""
    try:
        key = audit_key(settings)
    except AuditKeyError as exc:
        return None, str(exc)
    return key, f"no audit key here: set {KEY_ENV} or copy {key_file(settings)} from the platform"


def verify(sessions: sessionmaker[Session] | Session | Engine, settings: Settings) -> Report:
    """Check the whole chain, every checkpoint, and the keyed chain after the last signed
    checkpoint; the report names each problem's entries and counts the entries no signature
    covers yet."""
    report = Report()
    with _engine(sessions).connect() as conn:
        checkpoints = conn.execute(select(_checkpoints).order_by(_checkpoints.c.seq, _checkpoints.c.id)).all()
        report.checkpoints, verdicts = len(checkpoints), _signature_verdicts(checkpoints, settings)
        report.signed_seq = max((row.seq for row, why in verdicts or () if why is None), default=0)
        key, no_key = _key_for_tail(settings)
        tail = _KeyedTail(key) if key is not None else None
        watched = {row.seq for row in checkpoints}
        hash_at: dict[int, str] = {}
        expected, prev_hash, prev_moved = 1, GENESIS, False
        rows = conn.execution_options(yield_per=2000).execute(select(_entries).order_by(_entries.c.seq))
        for row in rows:
            fields = row._mapping
            report.entries += 1
            gap = row.seq > expected
            if gap:
                report.problems.append(Problem("deleted", expected, "missing from the chain (deleted)", row.seq - 1))
            moved = False
            if entry_hash(fields) != row.entry_hash:
                origin = _moved_from(fields, row.seq)
                if origin is not None:
                    moved = True
                    report.problems.append(Problem("reordered", row.seq, f"was recorded as seq {origin}: "
                                                   "entries were moved"))
                else:
                    report.problems.append(Problem("altered", row.seq, "its fields no longer match its hash"))
            elif row.prev_hash != prev_hash and not gap and not prev_moved:
                report.problems.append(Problem("link", row.seq - 1, f"entry {row.seq} was chained to another "
                                               f"entry {row.seq - 1} than the one there now: entry {row.seq - 1} "
                                               "was rewritten (its hash recomputed) or replaced", row.seq))
                if tail is not None:
                    tail.forget(row.seq - 1)
            if row.seq > report.signed_seq:
                report.unsigned += 1
                if tail is not None:
                    tail.see(row.seq, row.entry_hash, row.entry_mac)
            if row.seq in watched:
                hash_at[row.seq] = row.entry_hash
            expected, prev_hash, prev_moved = row.seq + 1, row.entry_hash, moved
            report.head_seq, report.head_hash = row.seq, row.entry_hash
    if report.unsigned:
        report.problems.extend(tail.problems(report.head_seq) if tail is not None else
                               [Problem("key", None, f"the {report.unsigned} entries after the last signed "
                                        f"checkpoint cannot be checked: {no_key}")])
    _match_checkpoints(report, verdicts, hash_at, settings)
    return report


def _signature_verdicts(checkpoints: list, settings: Settings) -> list[tuple[Any, str | None]] | None:
    """Each checkpoint with why its signature cannot be trusted (None when it verifies); None
    without the platform CA to check them against."""
    ca = pki.ca_certificate(settings) if checkpoints else None
    return None if ca is None else [(row, _signature_problem(row, ca)) for row in checkpoints]


def _match_checkpoints(report: Report, verdicts: list[tuple[Any, str | None]] | None, hash_at: dict[int, str],
                       settings: Settings) -> None:
    if not report.checkpoints:
        if report.entries:
            report.warnings.append(Notice("no signed checkpoint yet: a deleted tail would not be noticed "
                                          "(govshare audit checkpoint)",
                                          "尚无签名检查点: 日志末尾的记录若被删除将无法发现。平台每记录一定数量的"
                                          "条目后自动签名检查点, 平台管理员也可随时签名。"))
        return
    if verdicts is None:
        report.problems.append(Problem("signature", None, f"{report.checkpoints} checkpoint signatures cannot be "
                                       f"checked: no platform CA under {pki.pki_dir(settings)}"))
        return
    for row, why in verdicts:
        if why is not None:
            report.problems.append(Problem("signature", row.seq, f"checkpoint #{row.id}: {why} (forged or altered)"))
            continue
        report.checkpoints_verified += 1
        if row.seq > report.head_seq:
            report.problems.append(Problem(
                "truncated", report.head_seq + 1, f"checkpoint #{row.id} signed the chain up to seq {row.seq}, "
                f"the log ends at {report.head_seq}: its tail was deleted", row.seq))
        elif row.seq in hash_at and hash_at[row.seq] != row.entry_hash:
            report.problems.append(Problem("checkpoint", row.seq, f"differs from signed checkpoint #{row.id}: "
                                           f"the chain up to seq {row.seq} was rewritten"))
