"""The platform's one notion of now: naive UTC, second precision (portable across databases)."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
