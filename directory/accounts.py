"""Departments (部门) and their user accounts.

Registering a department creates, in one unit of work, its row, its key partition
(``uddi:<code>.<node domain>``) and its businessEntity in the directory.  An account's roles
are the role model's (``trust.auth.ROLES``).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.clock import utcnow
from registry.models import Department, KeyPartition, User
from registry.settings import Settings
from trust.auth import ROLES
from trust.passwords import hash_password

from .taxonomies import PROVIDER_CODE
from .uddi import keys, store


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
    connection_mode: str = "app_system",
    contact_name: str = "",
    contact_phone: str = "",
    contact_email: str = "",
) -> Department:
    """A new department with its key partition and businessEntity; its contact (联系人), when given, is
    the businessEntity's ``contact``::

        <contacts><contact useType="联系人"><personName>王明</personName><phone>0571-87000001</phone>
          <email>wjw@linjiang.gov.cn</email></contact></contacts>
    """
    now = utcnow()
    dept = Department(
        code=code.lower(), name=name, credit_code=credit_code, division_code=division_code,
        business_key=business_key(code, settings), created=now, connection_mode=connection_mode,
        contact_name=contact_name, contact_phone=contact_phone, contact_email=contact_email,
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
    if contact_name:
        contact = store.sub(store.sub(entity, "contacts"), "contact", {"useType": "联系人"})
        store.sub(contact, "personName", {}, contact_name)
        if contact_phone:
            store.sub(contact, "phone", {}, contact_phone)
        if contact_email:
            store.sub(contact, "email", {}, contact_email)
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
    must_change_password: bool = False,
    created_by: str = "",
) -> User:
    """Store an account: the low-level helper under the ``user.create`` action (governance.users), which
    checks the name, the roles (三员分立) and the password policy first; this checks only that the roles
    exist, so that tests and the demo may make accounts with passwords like ``pw``."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; known: {', '.join(ROLES)}")
    now = utcnow()
    user = User(
        username=username, password_hash=hash_password(password), department=department,
        roles=",".join(roles), display_name=display_name or username, active=True, failed_logins=0,
        password_changed_at=now, must_change_password=must_change_password, password_history=[], created=now,
        created_by=created_by,
    )
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))
