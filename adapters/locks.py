"""Run locks: two runs of one adapter never overlap, also across processes (互斥).

    with run_lock(engine, settings, "gaj-household"):
        ...   # the only run of gaj-household anywhere on this database

The lock lives where every process that writes the core can see it, and dies with the
process that holds it, so a killed run never leaves a stale lock behind:

* PostgreSQL: a session-level advisory lock,
  ``pg_try_advisory_lock(hashtext('govshare.sync:' || name))``, held on a connection of its
  own for the whole run (the run's own transactions come and go on other connections).
  It covers every process on every host that uses the database.
* SQLite (and any other database): an exclusive ``flock`` on
  ``<var_dir>/locks/sync-<name>.lock``.  A SQLite database is a file on one host, so a
  file lock next to it covers every process that can write it; the kernel drops the lock
  when the holder dies.  A lock row in ``sync_run`` would need a heartbeat and a timeout to
  tell a dead holder from a slow one; the file lock needs neither.

Either way a second run fails at once with :class:`AlreadyRunning` — it does not wait.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, func, select

from registry.errors import AlreadyRunning
from registry.settings import Settings


def lock_file(settings: Settings, name: str) -> Path:
    """The lock file of adapter ``name`` for databases without advisory locks."""
    return Path(settings.var_dir) / "locks" / f"sync-{name}.lock"


@contextmanager
def run_lock(engine: Engine, settings: Settings, name: str) -> Iterator[None]:
    """Hold adapter ``name``'s run lock for the block; raise :class:`AlreadyRunning` if taken."""
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, name):
            yield
    else:
        with _file_lock(lock_file(settings, name), name):
            yield


@contextmanager
def _advisory_lock(engine: Engine, name: str) -> Iterator[None]:
    key = func.hashtext(f"govshare.sync:{name}")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if not conn.scalar(select(func.pg_try_advisory_lock(key))):
            raise AlreadyRunning(name)
        try:
            yield
        finally:
            conn.scalar(select(func.pg_advisory_unlock(key)))


@contextmanager
def _file_lock(path: Path, name: str) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(name) from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
