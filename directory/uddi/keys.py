"""UDDI v3 keys (spec 4.4): ``uddi:<domain>[:<kss>]*``, compared case-insensitively.

Keys are stored in lower case.  A publisher may assign a key only inside a key
partition it owns: its department's domain (``uddi:gaj.govshare.local``) or a domain
whose ``uddi:<domain>:keygenerator`` tModel it saved first.  Keys it leaves out are
generated as ``uddi:<node domain>:<uuid4>``.

Some domains no department may claim, whatever it saves: the node's own
(``uddi:govshare.local``, where the platform registers itself and generates keys), the
platform taxonomies' ``uddi:govshare``, the specification's ``uddi:uddi.org`` and every
``uddi:<code>.<node domain>``, kept for the department whose code it is (registered or
not yet).
"""

from __future__ import annotations

import re
import uuid

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from registry.db import like_prefix
from registry.errors import UddiError
from registry.models import KeyPartition, UddiEntity

_KEY_RE = re.compile(
    r"^uddi:"
    r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # uuidKey
    r"|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*)"  # domainKey
    r"(?::[a-z0-9\-.()+,;=@!$'*%_~]+)*$"  # kss segments (derived keys)
)


def normalize(key: str) -> str:
    return key.strip().lower()


def check_syntax(key: str) -> str:
    """The normalised key, or E_invalidKeyPassed naming what is wrong with it."""
    norm = normalize(key)
    if len(norm) > 255:
        raise UddiError("E_invalidKeyPassed", f"key '{key[:60]}...' is longer than 255 characters")
    if not _KEY_RE.match(norm):
        raise UddiError(
            "E_invalidKeyPassed",
            f"'{key}' is not a UDDI v3 key: expected uddi:<domain>[:<segment>]... "
            "(letters, digits and - . _ ~ in each segment)",
        )
    return norm


#: key domains kept for the platform besides the node's own, and why
PLATFORM_DOMAINS = {
    "govshare": "the domain of the platform taxonomies",
    "uddi.org": "the domain of the UDDI specification's own tModels",
}


def domain_of(key: str) -> str:
    """The domain of a key: ``gaj.govshare.local`` for ``uddi:gaj.govshare.local:resource:x``."""
    return key.split(":", 2)[1]


def platform_domain(key: str, node_domain: str) -> str | None:
    """Why the domain of ``key`` is the platform's (a phrase), or None if it is not."""
    domain = domain_of(key)
    if domain == node_domain:
        return "the node's own key domain"
    return PLATFORM_DOMAINS.get(domain)


def department_domain(key: str, node_domain: str) -> str | None:
    """The partition ``uddi:<code>.<node domain>`` that ``key`` lies in, or None."""
    domain = domain_of(key)
    return f"uddi:{domain}" if domain.endswith("." + node_domain) else None


def generate(node_domain: str) -> str:
    return f"uddi:{node_domain}:{uuid.uuid4()}"


def department_partition(code: str, node_domain: str) -> str:
    return f"uddi:{code.lower()}.{node_domain}"


def partition_owner(session: Session, key: str) -> int | None:
    """The department owning the longest partition that contains ``key``."""
    prefixes = []
    parts = key.split(":")
    for i in range(2, len(parts) + 1):
        prefixes.append(":".join(parts[:i]))
    row = session.execute(
        select(KeyPartition.department_id, KeyPartition.prefix)
        .where(KeyPartition.prefix.in_(prefixes))
        .order_by(KeyPartition.prefix.desc())
    ).first()
    return row[0] if row else None


def foreign_holdings(session: Session, partition: str, department_id: int) -> str | None:
    """A key inside ``partition`` (an entity, or a narrower partition) that belongs to someone
    other than the department, or None: a partition holding another's keys cannot be claimed."""
    inside = or_(UddiEntity.key == partition, like_prefix(UddiEntity.key, partition + ":"))
    entity = session.scalar(select(UddiEntity.key).where(
        inside, or_(UddiEntity.owner_id.is_(None), UddiEntity.owner_id != department_id)).limit(1))
    if entity is not None:
        return entity
    return session.scalar(select(KeyPartition.prefix).where(
        like_prefix(KeyPartition.prefix, partition + ":"), KeyPartition.department_id != department_id).limit(1))


def keygenerator_domain(key: str) -> str | None:
    """For ``uddi:<x>:keygenerator`` the partition ``uddi:<x>`` it governs, else None."""
    if key.endswith(":keygenerator"):
        return key[: -len(":keygenerator")]
    return None
