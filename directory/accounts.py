"""Departments (部门) and their user accounts.

Registering a department creates, in one unit of work, its row, its key partition
(``uddi:<code>.<node domain>``) and its businessEntity in the directory.  An account's roles
are the role model's (``trust.auth.ROLES``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.clock import utcnow
from registry.models import Department, KeyPartition, User
from registry.settings import Settings
from trust.auth import ROLES

from .taxonomies import PROVIDER_CODE
from .uddi import keys, store

_SCRYPT = dict(n=2**14, r=8, p=1)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, salt_hex, digest_hex = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), **_SCRYPT)
    return hmac.compare_digest(digest.hex(), digest_hex)


def business_key(code: str, settings: Settings) -> str:
    return f"{keys.department_partition(code, settings.node_domain)}:business"


def register_department(
    session: Session,
    settings: Settings,
    *,
    code: str,
    name: str,
    credit_code: str,
    division_code: str = "",
    description: str = "",
    english_name: str = "",
) -> Department:
    """A new department with its key partition and businessEntity."""
    now = utcnow()
    dept = Department(
        code=code.lower(), name=name, credit_code=credit_code, division_code=division_code,
        business_key=business_key(code, settings), created=now,
    )
    session.add(dept)
    session.flush()
    session.add(KeyPartition(prefix=keys.department_partition(code, settings.node_domain), department_id=dept.id))
    entity = store.fresh("businessEntity", {"businessKey": dept.business_key})
    store.sub(entity, "name", {store.XML_LANG: "zh-CN"}, name)
    if english_name:
        store.sub(entity, "name", {store.XML_LANG: "en"}, english_name)
    if description:
        store.sub(entity, "description", {store.XML_LANG: "zh-CN"}, description)
    ids = store.sub(entity, "identifierBag")
    store.sub(ids, "keyedReference", {"tModelKey": PROVIDER_CODE, "keyName": "统一社会信用代码",
                                      "keyValue": credit_code})
    store.put(session, "business", entity, parent_key=None, owner_id=dept.id, authorized_name=code.lower(), now=now)
    return dept


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    department: Department | None,
    roles: tuple[str, ...] = ("provider",),
    display_name: str = "",
) -> User:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; known: {', '.join(ROLES)}")
    user = User(
        username=username, password_hash=hash_password(password), department=department,
        roles=",".join(roles), display_name=display_name or username, active=True,
    )
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))
