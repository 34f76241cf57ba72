"""The demo city's members, taken on as a real platform takes its departments (登记阶段), then its
catalogue (``directory.demo``).

Every step is an action of the platform, audited as when a person does it in the portal or at the
console - the demo has no side door into the tables:

1. The platform's own department (临江市政务服务和数据管理局, ``sjj``) files its 登记申请 and the
   operator approves it at the console; the operator then opens the platform's staff accounts:
   ``admin`` (系统管理员 and 目录审核员), ``security`` (安全管理员), ``reviewer``, ``auditor`` - no
   account holds two of the three duties (三员分立).
2. Each other department files its 登记申请 (as the public form does: no account), ``admin``
   approves it - its businessEntity is published - and ``security`` opens its account.
3. 民政局 registers its 低保 system (``mzj.dibao``) and asks for the system's certificate with a
   PKCS#10 request; the key is made for it under ``var/demo/certs/`` (standing in for 民政局's own
   machine) and never sent; ``security`` approves the request.

Seeding twice changes nothing: what exists is left as it is."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from directory import demo
from registry.models import AppSystem, Certificate, Department, User
from registry.settings import Settings
from trust import certificates, pki
from trust.actions import Context
from trust.auth import Caller
from trust.console import caller

from . import onboarding, users

#: the platform's staff at 临江市政务服务和数据管理局: user name, roles, display name
PLATFORM_STAFF = (
    ("admin", ("admin", "reviewer"), "平台管理员"),
    ("security", ("security",), "安全管理员"),
    ("reviewer", ("reviewer",), "目录审核员"),
    ("auditor", ("auditor",), "审计员"),
)
#: each demo department's one account, named after the department
DEPARTMENT_ROLES = ("cataloguer", "provider", "consumer")
#: the demo's application system (应用系统): 民政局's 低保 review system, with a certificate from its CSR
DEMO_SYSTEM = ("mzj", "dibao", "最低生活保障审核系统", "低保对象资格审核时核验户籍、婚姻和社保信息。")


def seed(sessions: sessionmaker[Session], settings: Settings) -> dict[str, int]:
    """Take on whatever member of the demo is missing, then catalogue what is missing; the counts
    afterwards (departments, published resources)."""
    seed_members(sessions, settings)
    seed_system(sessions, settings)
    return demo.seed_catalogue(sessions, settings)


def seed_members(sessions: sessionmaker[Session], settings: Settings) -> None:
    """The demo's departments (登记申请, approval) and accounts, each by the action a person would run."""
    operator = Context(Caller.platform("cli"), sessions, settings)
    with sessions() as session:
        joined = set(session.scalars(select(Department.code)))
        accounts = set(session.scalars(select(User.username)))
    platform, *members = demo.DEPARTMENTS
    if platform.code not in joined:
        _join(operator, platform, number=0)
    for username, roles, display_name in PLATFORM_STAFF:
        if username not in accounts:
            users.create(operator.again(), username=username, display_name=display_name, department=platform.code,
                         roles=roles, password=demo.DEMO_PASSWORD, temporary=False)
    if platform.code not in accounts:  # the department's own account, as every department has
        users.create(operator.again(), username=platform.code, display_name=f"{platform.name}用户",
                     department=platform.code, roles=("admin", "reviewer"), password=demo.DEMO_PASSWORD,
                     temporary=False)
    admin, security = _as(sessions, settings, "admin"), _as(sessions, settings, "security")
    for number, member in enumerate(members, start=1):
        if member.code not in joined:
            _join(admin, member, number=number)
        if member.code not in accounts:
            users.create(security.again(), username=member.code, display_name=f"{member.name}用户",
                         department=member.code, roles=DEPARTMENT_ROLES, password=demo.DEMO_PASSWORD,
                         temporary=False)


def _join(approver: Context, member: demo.DemoDepartment, *, number: int) -> None:
    """``member`` files its 登记申请 as the public form does, and ``approver`` approves it."""
    public = Context(Caller(channel="cli"), approver.sessions, approver.settings)
    filed = onboarding.apply(
        public, code=member.code, name=member.name, english_name=member.english,
        credit_code=demo.credit_code_for(member.org8), division_code=demo.CITY_DIVISION,
        connection_mode=member.connection_mode, contact_name=f"{member.name}信息中心",
        contact_phone=f"0571-8710{number:04d}", contact_email=f"xxzx@{member.code}.linjiang.gov.cn",
        description=member.description)
    onboarding.approve(approver.again(), application_id=filed.id)


def seed_system(sessions: sessionmaker[Session], settings: Settings) -> Path | None:
    """民政局's 低保 system and its certificate from a CSR; the certificate's file when one was made now."""
    code, part, name, description = DEMO_SYSTEM
    department, security = _as(sessions, settings, code), _as(sessions, settings, "security")
    with sessions() as session:
        system = session.scalar(select(AppSystem).where(AppSystem.code == f"{code}.{part}"))
        certified = system is not None and session.scalar(select(Certificate.serial).where(
            Certificate.system_id == system.id, Certificate.status == "valid")) is not None
    if system is None:
        onboarding.register_system(department.again(), code=part, name=name, description=description)
    folder = demo_certs(settings)
    if certified and (folder / f"{code}.{part}.key").exists():
        return None
    if pki.ca_certificate(settings) is None:
        certificates.init(security.again())
    folder.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # at the department: it stays there
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{code}.{part}")]))
           .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    asked = certificates.request(department.again(), csr=csr, system=f"{code}.{part}")
    approved = certificates.approve(security.again(), request_id=asked.id)
    fd = os.open(folder / f"{code}.{part}.key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    (folder / f"{code}.{part}.pem").write_text(approved.pem)
    return folder / f"{code}.{part}.pem"


def demo_certs(settings: Settings) -> Path:
    """Where the demo keeps its departments' and system's keys and certificates (their side, not the centre's)."""
    return settings.var_dir / "demo" / "certs"


def _as(sessions: sessionmaker[Session], settings: Settings, username: str) -> Context:
    return Context(caller(sessions, username), sessions, settings)
