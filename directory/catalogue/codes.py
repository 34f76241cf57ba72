"""Resource codes (政务信息资源代码): 前段码 (分类码) "/" 后段码 (顺序码).

The 前段码 is the classification code of the entry (see ``classification``); the
后段码 is a sequence number unique within that classification, six digits with
leading zeros::

    101002/000023      the 23rd resource catalogued under 101002 人口 › 出生信息
    1010/000001        refused: 4 digits is no level of the classification scheme

Codes are generated, never typed: the next sequence of a classification is one more
than its largest.  Creations under one classification take turns (a transaction-level
advisory lock on PostgreSQL, the database write lock on SQLite), and a clash with a
code that arrived another way (the unique constraints on ``(class_code, sequence)``
and ``resource_code``) is retried with the next number.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry.errors import CodeAllocationFailed
from registry.models import CatalogueEntry

from .classification import CODE_LENGTHS

SEQUENCE_DIGITS = 6
ATTEMPTS = 8

_CODE_RE = re.compile(rf"^(\d+)/(\d{{{SEQUENCE_DIGITS}}})$")


def format_code(class_code: str, sequence: int) -> str:
    """``("101002", 23)`` -> ``"101002/000023"``."""
    if not 0 < sequence < 10**SEQUENCE_DIGITS:
        raise ValueError(f"sequence {sequence} does not fit in {SEQUENCE_DIGITS} digits (顺序码)")
    return f"{class_code}/{sequence:0{SEQUENCE_DIGITS}d}"


def parse_code(code: str) -> tuple[str, int]:
    """``"101002/000023"`` -> ``("101002", 23)``; ValueError naming the expected form otherwise."""
    match = _CODE_RE.match(code.strip())
    if not match or len(match.group(1)) not in CODE_LENGTHS or int(match.group(2)) == 0:
        raise ValueError(f"'{code}' is not a resource code: expected 分类码/顺序码 such as 101002/000023 "
                         f"(classification code of {'/'.join(map(str, CODE_LENGTHS))} digits, "
                         f"'/', {SEQUENCE_DIGITS}-digit sequence from 000001)")
    return match.group(1), int(match.group(2))


def is_well_formed(code: str) -> bool:
    try:
        parse_code(code)
    except ValueError:
        return False
    return True


def next_sequence(session: Session, class_code: str) -> int:
    """One more than the largest sequence already used under ``class_code``."""
    largest = session.scalar(select(func.max(CatalogueEntry.sequence)).where(CatalogueEntry.class_code == class_code))
    return (largest or 0) + 1


def insert_with_code(session: Session, entry: CatalogueEntry) -> CatalogueEntry:
    """Give a new ``entry`` the next free code of its ``class_code`` and insert it."""
    _take_turn(session, entry.class_code)
    for _ in range(ATTEMPTS):
        entry.sequence = next_sequence(session, entry.class_code)
        entry.resource_code = format_code(entry.class_code, entry.sequence)
        try:
            # The savepoint lets a clash undo only this insert, not the caller's transaction.
            with session.begin_nested():
                session.add(entry)
        except IntegrityError:
            continue
        return entry
    raise CodeAllocationFailed(f"no free resource code under {entry.class_code} after {ATTEMPTS} attempts; try again")


def _take_turn(session: Session, class_code: str) -> None:
    """Wait until no other transaction is numbering resources under ``class_code``.

    Without this, concurrent creators all read the same largest sequence and all but one
    retry, round after round.  On PostgreSQL the advisory lock is held until commit.  On
    SQLite a no-op UPDATE takes the write lock, which also opens the transaction before
    the savepoint: pysqlite begins one only at the first INSERT/UPDATE/DELETE, so a
    SAVEPOINT issued first would open it instead — and releasing it would commit the
    caller's work.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"govshare.catalogue:{class_code}"))))
    elif dialect == "sqlite":
        session.execute(
            update(CatalogueEntry).where(CatalogueEntry.id == -1).values(sequence=CatalogueEntry.sequence),
            execution_options={"synchronize_session": False},
        )
