"""What one call of a UDDI operation works with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from registry.settings import Settings


@dataclass
class Call:
    session: Session
    settings: Settings
    now: datetime
    base_url: str = ""
    checked_values: dict[str, dict[str, str]] = field(default_factory=dict)
    caller: object | None = None  # who signed the request (trust.auth.Caller), if it was signed
    # where an action the operation runs opens its own unit of work (the publication API's actions)
    sessions: sessionmaker[Session] | None = None
