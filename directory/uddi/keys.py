"""UDDI v3 keys (spec 4.4): ``uddi:<domain>[:<kss>]*``, compared case-insensitively.

Keys are stored in lower case.  A publisher may assign a key only inside a key
partition it owns: its department's domain (``uddi:gaj.govshare.local``) or a domain
whose ``uddi:<domain>:keygenerator`` tModel it saved first.  Keys it leaves out are
generated as ``uddi:<node domain>:<uuid4>``.
"""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.models import KeyPartition

from .errors import UddiError

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


def keygenerator_domain(key: str) -> str | None:
    """For ``uddi:<x>:keygenerator`` the partition ``uddi:<x>`` it governs, else None."""
    if key.endswith(":keygenerator"):
        return key[: -len(":keygenerator")]
    return None
