"""The reading side of an adapter run: source rows → mapped, compared (比对), validated chunks.

    source ──rows──▶ Reader ──Prepared chunks──▶ the run (adapters.pipeline): one transaction each

A :class:`Reader` does everything a run does to a row short of storing it: map and clean it,
drop it as a duplicate of a key already read, compare its hash (row-hash runs), validate and
render the records of a chunk as the batch the input tier will keep (:func:`seal`).  It needs
no database but the source, so a large run reads in a process of its own
(:class:`ReadingProcess`) while the run's process stores the chunk before: the two cores
overlap.  When the run's process waits for chunks, the reading process hands its next chunk
on unsealed and the run seals it (work sharing: whichever side is faster takes the validation,
so the two stay busy on any machine).  Small runs read in the run's own process; every way
gives the same chunks.

Source errors are retried here: a retry forgets the part of the chunk not yet handed on,
opens the source again and reads on after the rows of the chunks handed on, which the run
commits in order (or the run fails).
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import NoReturn

from sqlalchemy.exc import OperationalError

from registry.clock import utcnow
from xsd.prepared import PreparedBatch, prepare_records

from .config import AdapterConfig
from .mapping import Mapper, mapper_for
from .sources import Source, SourceError, open_source

log = logging.getLogger(__name__)
RUN_NAMESPACE = uuid.UUID("6f0c51f4-6a0e-4b8e-9a57-2f4a1c0d0b77")
#: rows fetched from a source's cursor at a time: a fetch of 5,000 held 5 MiB more at its peak
#: than one of 1,000 and read no faster
FETCH = 1000


def fingerprint(key: str) -> bytes:
    """A key as 96 bits (12 bytes of BLAKE2b): what a run's key sets hold.

    Two of a million keys share one with a chance of about 1 in 10^16.
    """
    return hashlib.blake2b(key.encode(), digest_size=12).digest()


def row_hash(row: dict) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()


def row_identity(source_key: str, row: dict) -> str:
    """What names a source row in the adapter quarantine (``row_identity``): SHA-256 of its key
    (as ``source_key`` keeps it), or of the whole row when it has no key."""
    text = f"key\0{source_key}" if source_key else "row\0" + json.dumps(row, sort_keys=True, ensure_ascii=False,
                                                                         default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def timestamp(value: object) -> datetime | None:
    """A change-tracking value as a naive datetime (drivers hand back datetimes or ISO text)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is None else value.replace(tzinfo=None)


def key_mapper(config: AdapterConfig) -> Mapper:
    """A mapper of the key fields alone: the core key of a row whose other fields fail."""
    key_fields = set(config.format.key_fields)
    return Mapper(replace(config, fields=tuple(f for f in config.fields if f.target in key_fields)))


def core_key(config: AdapterConfig, fields: dict | None) -> str | None:
    """The core tier's key (``record_key``) of mapped ``fields``, or None if a key field is missing."""
    if fields is None:
        return None
    parts = [fields.get(name) for name in config.format.key_fields]
    return None if any(p is None for p in parts) else "|".join(str(p) for p in parts)


class ReadingFailed(RuntimeError):
    """The reading process failed in a way its exception could not carry across, or ended."""


class Fingerprints:
    """A set of fingerprints with a few flag bits each, about 13 bytes a key.

    A run holds the fingerprint of every key it reads, a million and more: as Python ints in
    a set that took about 80 bytes each.  Here the first 12 bits choose one of 4,096 buckets,
    and a bucket is a ``bytearray`` of 12-byte entries - the fingerprint but its first byte,
    and a byte of flags - searched with ``bytearray.find`` (about 3 KB at a million keys).
    Fewer, larger buckets hold a key in less: with 65,536 buckets of 11-byte entries a million
    keys took 20 MiB (each bucket an object, each grown in steps), with these 13 MiB, and a
    look-up and an insertion cost 1.5 µs instead of 1.1.
    """

    ENTRY = 12

    def __init__(self) -> None:
        self._buckets = [bytearray() for _ in range(1 << 12)]

    def flags(self, mark: bytes) -> int:
        """The flags of ``mark``; 0 when it is not in the set."""
        bucket = self._buckets[mark[0] << 4 | mark[1] >> 4]
        at = self._find(bucket, mark[1:])
        return 0 if at < 0 else bucket[at + 11]

    def set(self, mark: bytes, flags: int) -> int:
        """Set ``flags`` on ``mark`` (adding it); returns the flags it did not have."""
        bucket = self._buckets[mark[0] << 4 | mark[1] >> 4]
        at = self._find(bucket, mark[1:])
        if at < 0:
            bucket += mark[1:] + bytes((flags,))
            return flags
        new = flags & ~bucket[at + 11]
        bucket[at + 11] |= flags
        return new

    def clear(self, mark: bytes, flags: int) -> None:
        """Clear ``flags`` on ``mark``; a mark left without flags leaves the set."""
        bucket = self._buckets[mark[0] << 4 | mark[1] >> 4]
        at = self._find(bucket, mark[1:])
        if at < 0:
            return
        left = bucket[at + 11] & ~flags
        if left:
            bucket[at + 11] = left
        else:
            del bucket[at:at + self.ENTRY]

    def __len__(self) -> int:
        return sum(len(b) for b in self._buckets) // self.ENTRY

    @staticmethod
    def _find(bucket: bytearray, rest: bytes) -> int:
        at = bucket.find(rest)
        while at > 0 and at % Fingerprints.ENTRY:  # a match across two entries: look on
            at = bucket.find(rest, at + 1)
        return at


SOURCE, CORE = 1, 2  # a key read from the source (duplicates are dropped); a core key read (not deleted)


class Keys:
    """The keys a run has read, as fingerprints: source keys (to drop duplicates) and, in
    full runs, core keys (what delete detection must keep).  Flags added since the last
    commit can be forgotten."""

    def __init__(self) -> None:
        self.marks = Fingerprints()
        self._since: list[tuple[bytes, int]] = []

    def seen(self, mark: bytes) -> bool:
        return bool(self.marks.flags(mark) & SOURCE)

    def present(self, mark: bytes) -> bool:
        return bool(self.marks.flags(mark) & CORE)

    def add(self, mark: bytes, flags: int) -> int:
        """Set ``flags`` on ``mark``; returns the ones it did not have."""
        new = self.marks.set(mark, flags)
        if new:
            self._since.append((mark, new))
        return new

    def commit(self) -> None:
        self._since = []

    def roll_back(self) -> None:
        for mark, flags in reversed(self._since):
            self.marks.clear(mark, flags)
        self._since = []


@dataclass(frozen=True)
class Plan:
    """What a reader needs to know of its run (picklable: it is sent to a reading process)."""

    config: AdapterConfig
    mode: str  # full | incremental | rowhash
    since: datetime | None  # the watermark to read from (incremental runs)
    run_id: int
    provider_code: str
    resource_code: str
    chunk: int  # records per batch
    limit: int  # the largest batch request, in bytes
    attempts: int  # reads of the source before the run gives up
    backoff: float  # seconds before the second attempt; doubled before each further one
    #: the rows earlier runs left open in the adapter quarantine (``row_identity``): which of them map now
    open_rows: frozenset[str] = frozenset()


@dataclass
class Prepared:
    """One chunk, ready to store: what its rows add to the run's tally, the rows the adapter
    refused, the row hashes to remember and the batch of its records."""

    number: int
    read: int = 0
    filtered: int = 0
    quarantined: int = 0  # refused by mapping or cleaning (validation's refusals come with the receipt)
    unchanged: int = 0  # row-hash runs: rows whose hash is the one remembered
    problems: list[dict] = field(default_factory=list)  # adapter_quarantine columns
    mapped_now: list[str] = field(default_factory=list)  # rows of ``Plan.open_rows`` that map now
    hashes: dict[str, str] = field(default_factory=dict)
    batch: PreparedBatch | None = None
    records: list[dict] | None = None  # mapped records still to seal (validate and render) into ``batch``
    position: str = ""  # the last source key read
    newest: datetime | None = None  # the watermark reached

    @property
    def empty(self) -> bool:
        return not self.read


class Reader:
    """Reads one run's source into :class:`Prepared` chunks (``chunks``) and, after a full
    read, finds the keys the source no longer has (``gone``)."""

    def __init__(self, plan: Plan, known_hashes: dict[str, str] | None = None,
                 opener: Callable[[AdapterConfig], Source] = open_source,
                 unsealed: Callable[[], bool] | None = None) -> None:
        """``unsealed``: asked as each chunk is complete, True to hand it on for the run to seal."""
        self.plan, self.config, self.opener, self.unsealed = plan, plan.config, opener, unsealed
        self.known_hashes = known_hashes or {}
        self.keys = Keys()
        self.mapper = mapper_for(plan.config)
        self.keys_only = key_mapper(plan.config) if plan.mode == "full" else None
        self.newest = plan.since  # as of the last chunk handed on
        self.handed = 0  # rows read into the chunks handed on
        self.number = 0

    def chunks(self) -> Iterator[Prepared]:
        """The run's chunks in source order; raises SourceError once the source failed ``attempts`` times."""
        plan = self.plan
        source = self.opener(self.config)
        try:
            for attempt in range(1, plan.attempts + 1):
                self.keys.roll_back()
                chunk, skip = self._chunk(), self.handed
                try:
                    for row in source.rows(since=plan.since, chunk=FETCH):
                        if skip:  # read and handed on before the source failed
                            skip -= 1
                            continue
                        if self._take(row, chunk) and len(self._records) >= plan.chunk:
                            yield self._seal(chunk)
                            chunk = self._chunk()
                    if not chunk.empty:
                        yield self._seal(chunk)
                    return
                except (OperationalError, SourceError) as exc:
                    if attempt == plan.attempts:
                        raise SourceError(f"the source failed {plan.attempts} times; last: {first_line(exc)}") \
                            from exc
                    log.warning("%s: source error (attempt %d of %d), retrying: %s", self.config.name, attempt,
                                plan.attempts, first_line(exc))
                    source.close()
                    time.sleep(plan.backoff * 2 ** (attempt - 1))
                    source = self.opener(self.config)
        finally:
            source.close()

    def gone(self, current: Iterable[str]) -> list[str]:
        """Delete detection (删除识别): of ``current`` (the keys this adapter's resource holds
        current in the core), those no row of this full read had as its core key.

        Every row counts, whatever became of it: rows that failed mapping or validation are
        in quarantine, not gone, and stay.
        """
        present = self.keys.present
        return [key for key in current if not present(fingerprint(key))]

    # -- one chunk -----------------------------------------------------------------------------

    def _chunk(self) -> Prepared:
        self._records: list[dict] = []
        self._newest = self.newest
        return Prepared(self.number + 1)

    def _take(self, row: dict, chunk: Prepared) -> bool:
        """Take one source row into ``chunk``; True when it became one of the chunk's records."""
        config, keys = self.config, self.keys
        chunk.read += 1
        stamp = config.change.timestamp
        if stamp is not None:
            changed = timestamp(row.get(stamp))
            if changed is not None and (self._newest is None or changed > self._newest):
                self._newest = changed
        mapped = self.mapper.map(row)
        key = chunk.position = mapped.key or ""
        mark, kept = fingerprint(key), None  # kept: the core key's fingerprint, in full runs
        if self.keys_only is not None:
            in_core = core_key(config, mapped.fields if not mapped.problems else self.keys_only.map(row).fields)
            kept = None if in_core is None else mark if in_core == key else fingerprint(in_core)
        if kept == mark and not mapped.problems:  # the common case, in one look-up of the key set
            fresh = bool(keys.add(mark, SOURCE | CORE) & SOURCE)
        else:
            fresh = not mapped.problems and not keys.seen(mark)
            if fresh:
                keys.add(mark, SOURCE)
            if kept is not None:
                keys.add(kept, CORE)
        if mapped.problems:
            chunk.quarantined += 1
            first = mapped.problems[0]
            kept = json.loads(json.dumps(row, default=str, ensure_ascii=False))
            chunk.problems.append({
                "adapter": config.name, "source_key": key[:255], "row_identity": row_identity(key[:255], kept),
                "stage": first.stage, "rule": first.rule, "field": first.field or "",
                "message": "; ".join(p.message for p in mapped.problems), "row": kept, "created": utcnow()})
            return False
        if self.plan.open_rows:
            identity = row_identity(key[:255], row)
            if identity in self.plan.open_rows:
                chunk.mapped_now.append(identity)
        if not fresh:  # the same natural key twice in one run: the first read wins (比对)
            chunk.filtered += 1
            return False
        if self.plan.mode == "rowhash":
            digest = row_hash(row)
            if self.known_hashes.get(key) == digest:
                chunk.unchanged += 1
                return False
            chunk.hashes[key] = digest
        self._records.append(mapped.fields)
        return True

    def _seal(self, chunk: Prepared) -> Prepared:
        """The chunk, handed on: sealed here, or unsealed when the run asks for it."""
        if self._records:
            chunk.records = self._records
            if self.unsealed is None or not self.unsealed():
                seal(self.plan, chunk)
        chunk.newest = self.newest = self._newest
        self.handed += chunk.read
        self.number = chunk.number
        self.keys.commit()
        return chunk


def seal(plan: Plan, chunk: Prepared) -> Prepared:
    """Validate and render ``chunk.records`` as its batch (the input tier's request, the records
    as the intake takes them); the records are let go of as they are taken."""
    if chunk.records:
        chunk.batch = prepare_records(
            _draining(chunk.records), fmt=plan.config.format, provider_code=plan.provider_code,
            resource_code=plan.resource_code, batch_id=batch_id(plan.config.name, plan.run_id, chunk.number),
            sequence_number=chunk.number, created=datetime.now(UTC), limit=plan.limit)
    chunk.records = None
    return chunk


def _draining(items: list) -> Iterator:
    """Each item of ``items``, let go of once taken (a chunk's mapped records, as it is validated)."""
    for index, item in enumerate(items):
        items[index] = None
        yield item
    items.clear()


def batch_id(adapter: str, run_id: int, chunk: int | str) -> uuid.UUID:
    """The batch id of a chunk of a run: the same chunk read again is the same batch."""
    return uuid.uuid5(RUN_NAMESPACE, f"{adapter}/{run_id}/{chunk}")


def first_line(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


# -- reading in a process of its own -----------------------------------------------------------------

KEYS_PER_MESSAGE = 50_000
#: glibc's allocator in the reading process, unless the environment says otherwise: one arena
#: (the courier thread would have one of its own), and blocks of 256 KiB and more mapped and
#: given back when freed (by default the threshold rises to the largest block freed, so that
#: a chunk's pickles of a few MB each then come from the heap and fragment it); measured at a
#: million rows: peak RSS 157 -> 148-153 MiB, the same speed
_MALLOC = {"MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_THRESHOLD_": str(256 << 10)}


class ReadingProcess:
    """A :class:`Reader` in a child process, as an iterator of its chunks and its ``gone``.

    The child is a fresh interpreter (``python -c``, never a fork: the server runs threads)
    that talks over two pipes, and it only reads: it holds no connection to the centre, so a
    run killed at any point leaves nothing of the child's behind.  It ends when its pipes
    close, and on Linux the kernel kills it when the run's process dies.  While the run stores
    a chunk, at most two more are on their way (one in the pipe, one waiting to be sent: see
    ``_Courier``) and the reader reads the next, which bounds memory.

    Work sharing: when the run finds no chunk waiting, it says so (``hungry``), and the reader
    hands its next chunk on unsealed for the run to validate and render.  So the side with
    time to spare takes part of the other's work, in whatever proportion the machine's speeds
    for Python and for the databases make right (measured: storing is mostly the database's
    work and reading all Python, and their ratio differs threefold between two machines).
    """

    def __init__(self, plan: Plan, known_hashes: dict[str, str] | None = None) -> None:
        theirs_in, ours_out = os.pipe()  # run -> reader
        ours_in, theirs_out = os.pipe()  # reader -> run
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", "from adapters.reading import serve; serve()", str(theirs_in),
                 str(theirs_out), str(os.getpid())], pass_fds=(theirs_in, theirs_out), stdin=subprocess.DEVNULL,
                env={**_MALLOC, **os.environ})
        except BaseException:
            for fd in (theirs_in, ours_out, ours_in, theirs_out):
                os.close(fd)
            raise
        os.close(theirs_in)
        os.close(theirs_out)
        self.plan, self.sealed_here = plan, 0
        self._out = Connection(ours_out, readable=False)
        self._in = Connection(ours_in, writable=False)
        self._send((plan, known_hashes))

    def chunks(self) -> Iterator[Prepared]:
        while True:
            if not self._in.poll():  # the reader is behind: offer to seal its next chunk
                self._send(("hungry", None))
            kind, value = self._receive()
            if kind == "chunk":
                if value.records is not None:
                    seal(self.plan, value)
                    self.sealed_here += 1
                yield value
            elif kind == "read":
                return
            else:
                raise value

    def gone(self, current: Iterable[str]) -> list[str]:
        batch: list[str] = []
        for key in current:
            batch.append(key)
            if len(batch) == KEYS_PER_MESSAGE:
                self._send(("keys", batch))
                batch = []
        self._send(("keys", batch))
        self._send(("end", None))
        kind, value = self._receive()
        if kind != "gone":
            raise value
        return value

    def close(self) -> None:
        self._out.close()
        self._in.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    @property
    def pid(self) -> int:
        return self._process.pid

    def _send(self, message: object) -> None:
        try:
            self._out.send(message)
        except OSError:  # a broken pipe: the reader is gone
            self._ended()

    def _receive(self) -> tuple[str, object]:
        try:
            return self._in.recv()
        except (EOFError, OSError):
            self._ended()

    def _ended(self) -> NoReturn:
        try:
            code = self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        raise ReadingFailed(f"the reading process ended unexpectedly (exit code {code})") from None


def serve() -> None:
    """The reading process (``ReadingProcess``): argv holds its two pipes and the run's pid."""
    theirs_in, theirs_out, parent = (int(a) for a in sys.argv[1:4])
    _die_with(parent)
    pipe_in, pipe_out = Connection(theirs_in, writable=False), Connection(theirs_out, readable=False)
    try:
        plan, known_hashes = pipe_in.recv()
    except EOFError:
        return
    _serve(pipe_in, pipe_out, plan, known_hashes)


def _die_with(parent: int) -> None:
    """On Linux, have the kernel kill this process when the run's process dies."""
    try:
        import ctypes

        if ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL) != 0:  # PR_SET_PDEATHSIG
            return
    except (OSError, AttributeError, TypeError):  # not Linux: the closed pipes end it instead
        return
    if os.getppid() != parent:  # it died before the request was made
        os._exit(1)


def _serve(pipe_in: Connection, pipe_out: Connection, plan: Plan, known_hashes: dict[str, str] | None) -> None:
    """Send every chunk, then answer the run's delete detection."""
    try:
        reader = Reader(plan, known_hashes, unsealed=lambda: _asked(pipe_in))
        _collect_rarely()
        courier = _Courier(pipe_out)
        try:
            for chunk in reader.chunks():
                courier.send(("chunk", chunk))
            courier.send(("read", None))
        finally:
            courier.close()  # all it holds is sent (or the pipe broke) before anything else is
        kind, keys = _next(pipe_in)  # the run stores the last chunk, then asks for deletions or ends
        if kind == "keys":
            pipe_out.send(("gone", reader.gone(_received(pipe_in, keys))))
    except (BrokenPipeError, EOFError, ConnectionResetError):
        return  # the run ended (or was killed): nothing is left to do
    except BaseException as exc:  # noqa: BLE001 - every failure is the run's to report
        try:
            pipe_out.send(("error", _portable(exc)))
        except (BrokenPipeError, ConnectionResetError):
            pass
    finally:
        pipe_in.close()
        pipe_out.close()


class _Courier:
    """Sends the reader's messages from a thread of its own, holding at most one: the reader
    goes on with the next chunk while the run is still storing the one before and the one
    after waits (measured: a million rows 6,700 → 8,000 records/s, no more memory to speak of;
    with the run sealing a share of the chunks, which alone gained nothing: each side's time
    per chunk varies, and without a chunk in hand one side waited for the other)."""

    def __init__(self, pipe: Connection) -> None:
        self.pipe, self.error = pipe, None
        self._waiting: queue.Queue = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._deliver, name="courier", daemon=True)
        self._thread.start()

    def send(self, message: object) -> None:
        if self.error is not None:
            raise self.error
        self._waiting.put(message)

    def close(self) -> None:
        """Wait until every message is sent; raises what the pipe raised."""
        self._waiting.put(None)
        self._thread.join()
        if self.error is not None:
            raise self.error

    def _deliver(self) -> None:
        while (message := self._waiting.get()) is not None:
            if self.error is None:  # after an error, take what comes so the reader never blocks
                try:
                    self.pipe.send(message)
                except BaseException as exc:  # noqa: BLE001 - the reader raises it
                    self.error = exc


def _collect_rarely() -> None:
    """Tune the cyclic garbage collector for a process that only reads.

    Every row makes short-lived dicts and lists, and with the default thresholds the collector
    ran often enough, each time walking the compiled schemas, mappings and code tables, to
    cost about a fifth of the reading (measured: 59.5 against 48.5 µs a row at a million rows).
    What exists now is frozen out of its walks, and it runs after 100,000 allocations instead
    of 700.  Reading makes few reference cycles, so memory stays bounded by the chunks.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)


def _asked(pipe: Connection) -> bool:
    """Whether the run has said it waits for chunks since last asked (it says nothing else while
    chunks are read)."""
    asked = False
    while pipe.poll():
        pipe.recv()
        asked = True
    return asked


def _next(pipe: Connection) -> tuple[str, object]:
    """The run's next message but a late ``hungry``."""
    while True:
        kind, value = pipe.recv()
        if kind != "hungry":
            return kind, value


def _received(pipe, first: list[str]) -> Iterator[str]:
    yield from first
    while True:
        kind, keys = _next(pipe)
        if kind == "end":
            return
        yield from keys


def _portable(exc: BaseException) -> BaseException:
    """``exc`` as the run's process can raise it: itself where it survives pickling, else a
    ReadingFailed that says what it was and where (a driver's exception may not)."""
    try:
        if type(pickle.loads(pickle.dumps(exc))) is type(exc):
            return exc
    except Exception:  # noqa: BLE001 - any failure to pickle means the same: describe it instead
        pass
    return ReadingFailed(f"{first_line(exc)}\n{''.join(traceback.format_exception(exc)[-4:])}")
