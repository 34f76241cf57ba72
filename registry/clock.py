"""The platform's one notion of now: naive UTC, second precision (portable across databases)."""

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
