"""Inquiry answers kept per process while the directory stays the same.

An inquiry answer (find_*, get_*) depends only on the request and the four UDDI tables.
Triggers bump ``directory_generation`` on every change to those tables (migration 0007),
whoever makes it and in whichever process, so an answer stored under generation *G* is
the right answer for as long as the counter reads *G*::

    generation = read directory_generation      # first, in the request's own session
    answer = cache.get(generation, request)     # a hit: the envelope as sent last time
    ... else run the operation, then cache.put(generation, request, envelope)

Reading the counter before the search keeps this right under concurrent publishing: a
change commits its rows and the bumped counter together, so a request that reads *G*
started before any later change committed, and its answer shows the directory as it was
at *G* or later - never earlier.  When the generation moves on, every older answer is
dropped at once.

The cache is bounded by the bytes of the envelopes it holds (least recently used go
first); ``GOVSHARE_INQUIRY_CACHE_MB=0`` turns it off.  Faults are never cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from registry.models import DirectoryGeneration

#: built once: a Core statement on the session's connection, not the ORM's execution per request
_GENERATION = select(DirectoryGeneration.value).where(DirectoryGeneration.id == 1)


def generation(session: Session) -> int | None:
    """The directory's generation now, or None if the database has no counter (no caching)."""
    try:
        return session.connection().scalar(_GENERATION)
    except SQLAlchemyError:
        session.rollback()
        return None


class AnswerCache:
    """Response envelopes by (generation, request element bytes), LRU within ``limit_bytes``."""

    def __init__(self, limit_bytes: int):
        self.limit = limit_bytes
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._answers: OrderedDict[bytes, bytes] = OrderedDict()
        self._size = 0
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def get(self, gen: int, request: bytes) -> bytes | None:
        with self._lock:
            answer = self._answers.get(request) if gen == self._generation else None
            if answer is None:
                self.misses += 1
                return None
            self._answers.move_to_end(request)
            self.hits += 1
            return answer

    def put(self, gen: int, request: bytes, answer: bytes) -> None:
        cost = len(request) + len(answer)
        if cost > self.limit // 8:  # one huge answer must not flush everything else
            return
        with self._lock:
            if gen != self._generation:  # the directory changed (or a request raced a change): start over
                self._answers.clear()
                self._size = 0
                self._generation = gen
            old = self._answers.pop(request, None)
            if old is not None:
                self._size -= len(request) + len(old)
            self._answers[request] = answer
            self._size += cost
            while self._size > self.limit:
                key, value = self._answers.popitem(last=False)
                self._size -= len(key) + len(value)

    def __len__(self) -> int:
        return len(self._answers)
