"""Start-up, idempotently: the tModels the node registers for itself, and the index rows a
node of an earlier version did not keep (discoveryURLs)."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy.orm import Session

from registry.settings import Settings

from . import taxonomies
from .catalogue.classification import classification_values
from .uddi import store


def bootstrap_node(session: Session, settings: Settings) -> None:
    """Make sure every tModel this node relies on is registered, and every discoveryURL indexed."""
    taxonomies.register_all(session, classification_values(), settings.node_domain)
    store.index_discovery_urls(session)


@lru_cache(maxsize=1)
def checked_values() -> dict[str, dict[str, str]]:
    """tModelKey -> allowed keyValues of every checked taxonomy this node validates."""
    return taxonomies.checked_values(classification_values())
