"""Start-up: the tModels the node registers for itself, idempotently."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy.orm import Session

from registry.settings import Settings

from . import taxonomies
from .catalogue.classification import classification_values


def bootstrap_node(session: Session, settings: Settings) -> None:
    """Make sure every tModel this node relies on is registered."""
    taxonomies.register_all(session, classification_values(), settings.node_domain)


@lru_cache(maxsize=1)
def checked_values() -> dict[str, dict[str, str]]:
    """tModelKey -> allowed keyValues of every checked taxonomy this node validates."""
    return taxonomies.checked_values(classification_values())
