"""部门登记 (the connection guide's 登记阶段): a department applies to join the platform, the platform's
administrator approves or refuses; once approved it is a department of the platform, with its key
partition and its businessEntity in the directory.  A department may be suspended (暂停接入) and
reinstated, and registers its application systems (应用系统, as X-Road's subsystems: a code of their own,
certificates of their own, grants of their own).  The life cycles, as actions (who may run each is
its check in ``trust.auth``)::

    department.apply      (anyone: the portal's public 申请登记 form)  -> submitted
    department.approve    (admin)          submitted -> approved: the department is registered
                                           (``directory.accounts.register_department``)
    department.refuse     (admin, reason)  submitted -> refused
    department.suspend    (admin, reason)  active -> suspended: its people are signed out and refused on
                                           every channel, its adapters' runs refused; nothing is deleted
    department.reinstate  (admin)          suspended -> active
    system.register       (its department) -> active, code <department>.<name>, e.g. mzj.dibao
    system.suspend        (its department, reason)  active -> suspended: refused like a suspended department
    system.reinstate      (its department)          suspended -> active

The application (附件二 部门所需填写的申请表格), every rule checked at once, each problem named by its field::

    code             部门代码       [a-z][a-z0-9]{1,15}; no department's, no pending application's
    name             部门名称       at most 200 characters; no department's, no pending application's
    english_name     英文名称       optional; at most 200 characters (the directory's name in English)
    credit_code      统一社会信用代码  GB 32100 (stdnum.cn.uscc) with its GB 11714 organisation code;
                                   no department's, no pending application's
    division_code    行政区划代码    six digits, a GB/T 2260 code in use (xsd.codes)
    connection_mode  接入方式       CONNECTION_MODES
    contact_name     联系人         at most 50 characters
    contact_phone    联系电话       7 to 30 digits, spaces, + - ( )
    contact_email    电子邮箱       optional; name@domain
    description      部门职责说明    optional; at most 1000 characters
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from stdnum.cn import uscc

from directory.accounts import register_department
from directory.lookups import department_by_code
from directory.uddi.keys import department_partition
from registry.clock import china_text
from registry.errors import Conflict, InvalidInput, InvalidRegistration, NotFound
from registry.models import AppSystem, AuthToken, Department, DepartmentApplication, KeyPartition, User
from trust.actions import Context, action
from trust.auth import refuse_suspended
from trust.notices import notify
from xsd import codes

#: 接入方式, as the connection guide names them (第三章 3.1-3.4)
CONNECTION_MODES = {
    "app_system": "应用系统节点",
    "front_node": "前置交换节点",
    "catalogue_node": "目录管理节点",
    "platform_node": "部门平台节点",
}
SUBMITTED, APPROVED, REFUSED = "submitted", "approved", "refused"
#: a 登记申请's status as the portal names it
APPLICATION_LABELS = {SUBMITTED: "待审核", APPROVED: "已批准", REFUSED: "已拒绝"}
ACTIVE, SUSPENDED = "active", "suspended"
#: a department's or system's status as the portal names it
STATUS_LABELS = {ACTIVE: "正常", SUSPENDED: "已暂停"}
#: the longest reason of a refusal or a suspension
REASON_LENGTH = 500
DESCRIPTION_LENGTH = 1000
#: applications the public form takes from one network address in an hour
APPLICATIONS_PER_HOUR = 5

DEPARTMENT_CODE = re.compile(r"[a-z][a-z0-9]{1,15}")
SYSTEM_NAME = re.compile(r"[a-z][a-z0-9-]{1,30}")
PHONE = re.compile(r"[0-9+\-() ]{7,30}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")

#: a field of a 登记 form: its Chinese label and its longest value
FIELDS = {
    "code": ("部门代码", 16), "name": ("部门名称", 200), "english_name": ("英文名称", 200),
    "credit_code": ("统一社会信用代码", 18),
    "division_code": ("行政区划代码", 6), "connection_mode": ("接入方式", 16), "contact_name": ("联系人", 50),
    "contact_phone": ("联系电话", 30), "contact_email": ("电子邮箱", 100),
    "description": ("说明", DESCRIPTION_LENGTH),
}

Problems = dict[str, tuple[str, str]]  # field -> (English, Chinese)


# --------------------------------------------------------------------------- results


class Labelled:
    """A department's status and connection mode in the portal's words."""

    status: str
    connection_mode: str

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def mode_label(self) -> str:
        return CONNECTION_MODES.get(self.connection_mode, self.connection_mode)


@dataclass(frozen=True)
class Registration(Labelled):
    """A department's 登记申请 as the administrator reviews it (its status in the application's words)."""

    id: int
    code: str
    name: str
    credit_code: str
    division_code: str
    division_name: str
    connection_mode: str
    description: str
    contact_name: str
    contact_phone: str
    contact_email: str
    status: str
    submitted_by: str  # an account, or "" (the public form)
    submitted_at: datetime
    decided_by: str
    decided_at: datetime | None
    reason: str
    department_code: str | None  # once approved
    english_name: str = ""
    submitted_from: str = ""  # the network address the public form was sent from

    @classmethod
    def of(cls, row: DepartmentApplication) -> Registration:
        return cls(row.id, row.code, row.name, row.credit_code, row.division_code,
                   codes.division_name(row.division_code) or "", row.connection_mode, row.description,
                   row.contact_name, row.contact_phone, row.contact_email, row.status, row.submitted_by,
                   row.submitted_at, row.decided_by, row.decided_at, row.reason,
                   row.department.code if row.department else None, row.english_name or "",
                   row.submitted_from or "")

    @property
    def status_label(self) -> str:
        return APPLICATION_LABELS.get(self.status, self.status)


@dataclass(frozen=True)
class System:
    """An application system (应用系统) of a department."""

    id: int
    code: str  # <department>.<name>, e.g. mzj.dibao
    name: str
    description: str
    department_code: str
    department_name: str
    status: str
    created: datetime
    created_by: str
    suspended_at: datetime | None
    suspension_reason: str

    @classmethod
    def of(cls, row: AppSystem) -> System:
        return cls(row.id, row.code, row.name, row.description, row.department.code, row.department.name,
                   row.status, row.created, row.created_by, row.suspended_at, row.suspension_reason)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


@dataclass(frozen=True)
class Member(Labelled):
    """A department of the platform (成员部门) as its register shows it, with its application systems."""

    id: int
    code: str
    name: str
    credit_code: str
    division_code: str
    division_name: str
    business_key: str
    connection_mode: str
    contact_name: str
    contact_phone: str
    contact_email: str
    status: str
    created: datetime
    suspended_at: datetime | None
    suspension_reason: str
    users: int
    systems: tuple[System, ...]

    @classmethod
    def of(cls, session: Session, row: Department) -> Member:
        users = session.scalar(select(func.count()).select_from(User).where(User.department_id == row.id))
        systems = tuple(System.of(s) for s in sorted(row.systems, key=lambda s: s.code))
        return cls(row.id, row.code, row.name, row.credit_code, row.division_code,
                   codes.division_name(row.division_code) or "", row.business_key, row.connection_mode,
                   row.contact_name, row.contact_phone, row.contact_email, row.status, row.created,
                   row.suspended_at, row.suspension_reason, users or 0, systems)


# --------------------------------------------------------------------------- 登记申请


@action("department.apply")
def apply(ctx: Context, *, code: str, name: str, credit_code: str, division_code: str, connection_mode: str,
          contact_name: str, contact_phone: str, contact_email: str = "", description: str = "",
          english_name: str = "", address: str | None = None) -> Registration:
    """File a department's 登记申请 (anyone may: it is the public form, and ``address`` - the filer's network
    address - is kept with it and goes into the audit entry); every problem is reported at once.  One
    address files at most APPLICATIONS_PER_HOUR without an account in an hour (the form is open)."""
    form = _form(code=code, name=name, credit_code=credit_code, division_code=division_code,
                 connection_mode=connection_mode, contact_name=contact_name, contact_phone=contact_phone,
                 contact_email=contact_email, description=description, english_name=english_name)
    form["code"], form["credit_code"] = form["code"].lower(), form["credit_code"].upper()
    problems = _form_problems(form)
    problems.update({f: p for f, p in _taken(ctx.session, ctx.settings.node_domain, form).items() if f not in problems})
    if problems:
        raise InvalidRegistration(problems)
    address = (address or "")[:64]
    if address and ctx.caller.user is None:
        _not_flooding(ctx, address)
    row = DepartmentApplication(**form, status=SUBMITTED, submitted_by=ctx.caller.user or "", submitted_from=address,
                                submitted_at=ctx.now, decided_by="", reason="")
    ctx.session.add(row)
    ctx.session.flush()
    ctx.note(detail=f"登记申请 #{row.id}: {row.code} {row.name} ({row.credit_code}) from "
                    f"{address or 'an unknown address'}")
    notify(ctx, capability="onboard", subject="registration", ref=row.id,
           text=f"{row.name} ({row.code}) 提交了部门登记申请 #{row.id} "
                f"({CONNECTION_MODES.get(row.connection_mode, row.connection_mode)}), 待审核。")
    return Registration.of(row)


def _not_flooding(ctx: Context, address: str) -> None:
    """Refuse the public form's next application from ``address`` once it has filed
    APPLICATIONS_PER_HOUR in the last hour."""
    since = ctx.now - timedelta(hours=1)
    filed = ctx.session.scalar(select(func.count()).select_from(DepartmentApplication).where(
        DepartmentApplication.submitted_from == address, DepartmentApplication.submitted_by == "",
        DepartmentApplication.submitted_at >= since))
    if filed >= APPLICATIONS_PER_HOUR:
        raise Conflict(f"{filed} applications were filed from {address} in the last hour; the public form takes "
                       f"at most {APPLICATIONS_PER_HOUR} an hour from one address: try again later, or ask the "
                       "platform's administrator to enter it", code="TooManyApplications",
                       zh=f"同一网络地址一小时内最多提交 {APPLICATIONS_PER_HOUR} 份登记申请, 请稍后再试, "
                          "或请平台管理员代为录入。")


@action("department.applications")
def applications(ctx: Context, *, status: str | None = None) -> list[Registration]:
    """登记申请, oldest first; ``status`` (submitted, approved, refused) keeps those only."""
    if status and status not in APPLICATION_LABELS:
        raise InvalidInput(f"status: {status!r} is not one of {', '.join(APPLICATION_LABELS)}", field="status",
                           code="UnknownStatus", zh=f"未知的状态 {status}。")
    stmt = select(DepartmentApplication).order_by(DepartmentApplication.id)
    if status:
        stmt = stmt.where(DepartmentApplication.status == status)
    rows = [Registration.of(r) for r in ctx.session.scalars(stmt)]
    ctx.note(record_count=len(rows))
    return rows


@action("department.approve")
def approve(ctx: Context, *, application_id: int) -> Member:
    """Approve a submitted 登记申请: the department is registered - its row, its key partition
    ``uddi:<code>.<node domain>`` and its businessEntity (names, contact, the identifierBag's
    统一社会信用代码) - as the application gave it."""
    row = _pending(ctx.session, application_id, "approve")
    taken = _taken(ctx.session, ctx.settings.node_domain, _values(row), but=row.id)
    if taken:
        raise Conflict(f"登记申请 #{row.id} cannot be approved: "
                       + "; ".join(f"{f}: {english}" for f, (english, _) in taken.items()),
                       code="RegistrationTaken", field=next(iter(taken)),
                       zh=f"登记申请 #{row.id} 不能批准: " + " ".join(zh for _, zh in taken.values()))
    department = register_department(
        ctx.session, ctx.settings, code=row.code, name=row.name, credit_code=row.credit_code,
        division_code=row.division_code, description=row.description, english_name=row.english_name,
        connection_mode=row.connection_mode,
        contact_name=row.contact_name, contact_phone=row.contact_phone, contact_email=row.contact_email)
    row.status, row.decided_by, row.decided_at, row.department_id = APPROVED, ctx.caller.who, ctx.now, department.id
    ctx.session.flush()
    ctx.note(department_id=department.id, department_code=department.code,
             detail=f"登记申请 #{row.id} approved: {department.code} ({department.business_key})")
    notify(ctx, capability=None, subject="registration", ref=row.id, usernames=_account(row), clears=["registration"],
           text=f"{department.name} ({department.code}) 的部门登记申请 #{row.id} 已获批准, 已成为平台成员部门。")
    # a lower platform (目录管理节点, 部门平台节点) reports its catalogue itself: its people may need no account
    needs = ("其目录由其平台上报; 如其人员需要使用门户, 请为其开设账号。"
             if row.connection_mode in ("catalogue_node", "platform_node")
             else "请为其开设账号 (编目、提供、使用等角色)。")
    notify(ctx, capability="users", subject="account", ref=department.code,
           text=f"{department.name} ({department.code}) 的登记申请 #{row.id} 已批准, 已成为平台成员部门 "
                f"({CONNECTION_MODES.get(row.connection_mode, row.connection_mode)}); {needs}")
    return Member.of(ctx.session, department)


@action("department.refuse")
def refuse(ctx: Context, *, application_id: int, reason: str | None) -> Registration:
    """Refuse a submitted 登记申请; the reason is required (the applicant is told it)."""
    reason = _reason(reason, "refuse a 登记申请", "拒绝理由")
    row = _pending(ctx.session, application_id, "refuse")
    row.status, row.decided_by, row.decided_at, row.reason = REFUSED, ctx.caller.who, ctx.now, reason
    ctx.session.flush()
    ctx.note(detail=f"登记申请 #{row.id} refused: {reason}")
    notify(ctx, capability=None, subject="registration", ref=row.id, usernames=_account(row), clears=["registration"],
           text=f"{row.name} ({row.code}) 的部门登记申请 #{row.id} 未获批准: {reason}")
    return Registration.of(row)


def _account(row: DepartmentApplication) -> list[str]:
    """The account that filed a 登记申请, to be told of the decision (the public form's filer has none: the
    contact it gave is told by the administrators)."""
    return [row.submitted_by] if row.submitted_by else []


# --------------------------------------------------------------------------- departments


@action("department.list")
def departments(ctx: Context, *, status: str | None = None) -> list[Member]:
    """The departments of the platform by code; ``status`` (active, suspended) keeps those only."""
    if status and status not in STATUS_LABELS:
        raise InvalidInput(f"status: {status!r} is not one of {', '.join(STATUS_LABELS)}", field="status",
                           code="UnknownStatus", zh=f"未知的状态 {status}。")
    stmt = select(Department).order_by(Department.code)
    if status:
        stmt = stmt.where(Department.status == status)
    rows = [Member.of(ctx.session, d) for d in ctx.session.scalars(stmt)]
    ctx.note(record_count=len(rows))
    return rows


@action("department.show")
def show(ctx: Context, *, department: str) -> Member:
    """One department (by code or 统一社会信用代码) with its contact, status and systems."""
    row = department_by_code(ctx.session, department)
    ctx.note(detail=row.code)
    return Member.of(ctx.session, row)


@action("department.suspend")
def suspend(ctx: Context, *, department: str, reason: str | None) -> Member:
    """Suspend a department (暂停接入): nothing is deleted; its people's portal sessions and UDDI authTokens end
    now, and every channel refuses them (``trust.auth.refuse_suspended``) until it is reinstated."""
    reason = _reason(reason, "suspend a department", "暂停原因")
    row = department_by_code(ctx.session, department)
    ctx.note(department_id=row.id, department_code=row.code, detail=f"suspended: {reason}")
    if row.status == SUSPENDED:
        raise Conflict(f"{row.code} is already suspended (since {row.suspended_at:%Y-%m-%d}: {row.suspension_reason})",
                       code="AlreadySuspended", field="department",
                       zh=f"{row.name} 已于 {row.suspended_at:%Y-%m-%d} 暂停接入 (原因: {row.suspension_reason})。")
    row.status, row.suspended_at, row.suspension_reason = SUSPENDED, ctx.now, reason
    # its people are signed out: a portal session begun before now no longer signs anyone in, reinstated or
    # not, and their UDDI authTokens are discarded
    people = select(User.id).where(User.department_id == row.id)
    ctx.session.execute(update(User).where(User.department_id == row.id).values(sessions_valid_from=ctx.now))
    ctx.session.execute(update(AuthToken).where(AuthToken.user_id.in_(people)).values(discarded=True))
    ctx.session.flush()
    notify(ctx, capability="search", department_id=row.id, subject="access", ref=row.code,
           text=f"本部门 ({row.name}) 已于 {china_text(ctx.now)} 被暂停接入: {reason}。暂停期间, 本部门的账号、"
                "应用系统和证书在各渠道均被拒绝; 如有疑问, 请联系平台管理员。")
    return Member.of(ctx.session, row)


@action("department.reinstate")
def reinstate(ctx: Context, *, department: str) -> Member:
    """Reinstate a suspended department: its people may sign in again."""
    row = department_by_code(ctx.session, department)
    ctx.note(department_id=row.id, department_code=row.code, detail="reinstated")
    if row.status != SUSPENDED:
        raise Conflict(f"{row.code} is not suspended", code="NotSuspended", field="department",
                       zh=f"{row.name} 未被暂停接入, 无需恢复。")
    row.status, row.suspended_at, row.suspension_reason = ACTIVE, None, ""
    ctx.session.flush()
    notify(ctx, capability="search", department_id=row.id, subject="access", ref=row.code, clears=["access"],
           text=f"本部门 ({row.name}) 已恢复接入, 可以重新登录和调用平台服务。")
    return Member.of(ctx.session, row)


# --------------------------------------------------------------------------- application systems (应用系统)


@action("system.register")
def register_system(ctx: Context, *, code: str, name: str, description: str = "",
                    department: str | None = None) -> System:
    """Register an application system of the caller's department (an admin: of ``department``); ``code`` is
    the system's own part (``dibao``) or the whole code (``mzj.dibao``)."""
    owner = _department_of(ctx, department)
    refuse_suspended(owner)
    part = (code or "").strip().lower().removeprefix(f"{owner.code}.")
    name, description = (name or "").strip(), (description or "").strip()
    problems: Problems = {}
    if not SYSTEM_NAME.fullmatch(part):
        problems["code"] = (f"{part!r}: 2 to 31 lower-case letters, digits and '-', starting with a letter "
                            f"(the system's code is {owner.code}.<it>)",
                            "系统代码须为 2 至 31 位小写字母、数字或连字符, 以字母开头。")
    elif ctx.session.scalar(select(AppSystem.id).where(AppSystem.code == f"{owner.code}.{part}")) is not None:
        problems["code"] = (f"{owner.code}.{part} is registered already", f"系统代码 {owner.code}.{part} 已被登记。")
    if not name:
        problems["name"] = ("required", "请填写系统名称。")
    elif len(name) > 200:
        problems["name"] = (f"at most 200 characters (it has {len(name)})",
                            f"系统名称最多 200 个字 (现有 {len(name)} 个)。")
    elif ctx.session.scalar(select(AppSystem.id).where(AppSystem.department_id == owner.id,
                                                       AppSystem.name == name)) is not None:
        problems["name"] = (f"{owner.code} has a system named {name} already", f"本部门已有名为 {name} 的应用系统。")
    if len(description) > DESCRIPTION_LENGTH:
        problems["description"] = (f"at most {DESCRIPTION_LENGTH} characters (it has {len(description)})",
                                   f"说明最多 {DESCRIPTION_LENGTH} 个字 (现有 {len(description)} 个)。")
    if problems:
        raise InvalidRegistration(problems)
    row = AppSystem(department_id=owner.id, code=f"{owner.code}.{part}", name=name, description=description,
                    status=ACTIVE, created=ctx.now, created_by=ctx.caller.who, suspension_reason="")
    ctx.session.add(row)
    ctx.session.flush()
    ctx.note(department_id=owner.id, department_code=owner.code, detail=f"application system {row.code}")
    return System.of(row)


@action("system.list")
def systems(ctx: Context, *, department: str | None = None) -> list[System]:
    """The application systems of the caller's department; an admin's or security administrator's: of
    ``department``, or every department's."""
    stmt = select(AppSystem).order_by(AppSystem.code)
    if department or not (ctx.caller.is_admin or "security" in ctx.caller.roles):
        stmt = stmt.where(AppSystem.department_id == _department_of(ctx, department).id)
    rows = [System.of(s) for s in ctx.session.scalars(stmt)]
    ctx.note(record_count=len(rows))
    return rows


@action("system.suspend")
def suspend_system(ctx: Context, *, system: str, reason: str | None) -> System:
    """Suspend an application system: refused on every channel until reinstated; nothing is deleted."""
    reason = _reason(reason, "suspend an application system", "暂停原因")
    row = system_by_code(ctx.session, system)
    ctx.note(detail=f"{row.code} suspended: {reason}")
    if row.status == SUSPENDED:
        raise Conflict(f"{row.code} is already suspended", code="AlreadySuspended", field="system",
                       zh=f"应用系统 {row.code} 已处于暂停状态。")
    row.status, row.suspended_at, row.suspension_reason = SUSPENDED, ctx.now, reason
    ctx.session.flush()
    notify(ctx, capability="connect", department_id=row.department_id, subject="access", ref=row.code,
           text=f"应用系统 {row.code} ({row.name}) 已于 {china_text(ctx.now)} 被暂停: {reason}。暂停期间, 该系统的"
                "调用和证书在各渠道均被拒绝。")
    return System.of(row)


@action("system.reinstate")
def reinstate_system(ctx: Context, *, system: str) -> System:
    """Reinstate a suspended application system."""
    row = system_by_code(ctx.session, system)
    ctx.note(detail=f"{row.code} reinstated")
    if row.status != SUSPENDED:
        raise Conflict(f"{row.code} is not suspended", code="NotSuspended", field="system",
                       zh=f"应用系统 {row.code} 未被暂停, 无需恢复。")
    row.status, row.suspended_at, row.suspension_reason = ACTIVE, None, ""
    ctx.session.flush()
    notify(ctx, capability="connect", department_id=row.department_id, subject="access", ref=row.code,
           clears=["access"], text=f"应用系统 {row.code} ({row.name}) 已恢复, 可以重新调用平台服务。")
    return System.of(row)


def system_by_code(session: Session, code: str) -> AppSystem:
    """The application system ``mzj.dibao``, or NotFound."""
    wanted = (code or "").strip().lower()
    row = session.scalar(select(AppSystem).where(AppSystem.code == wanted))
    if row is None:
        raise NotFound(f"no application system {wanted!r}", code="UnknownSystem", field="system",
                       zh=f"没有代码为 {wanted} 的应用系统。")
    return row


def active_systems(session: Session, department_id: int) -> list[AppSystem]:
    """A department's systems that may act now (for a form's choice of system)."""
    return list(session.scalars(select(AppSystem).where(AppSystem.department_id == department_id,
                                                        AppSystem.status == ACTIVE).order_by(AppSystem.code)))


# --------------------------------------------------------------------------- the form's rules


def _form(**inputs: str | None) -> dict[str, str]:
    return {name: (value or "").strip() for name, value in inputs.items()}


def _values(row: DepartmentApplication) -> dict[str, str]:
    return {name: getattr(row, name) for name in FIELDS}


def _form_problems(form: dict[str, str]) -> Problems:
    """What is wrong with each field on its own (required, length, pattern, check characters, known codes)."""
    problems: Problems = {}
    optional = {"english_name", "contact_email", "description"}
    for name, (label, longest) in FIELDS.items():
        value = form[name]
        if not value and name not in optional:
            problems[name] = ("required", f"请填写{label}。")
        elif len(value) > longest:
            problems[name] = (f"at most {longest} characters (it has {len(value)})",
                              f"{label}最多 {longest} 个字符 (现有 {len(value)} 个)。")
        elif value and name in RULES:
            problem = RULES[name](value)
            if problem is not None:
                problems[name] = problem
    return problems


def _code_rule(value: str) -> tuple[str, str] | None:
    if DEPARTMENT_CODE.fullmatch(value):
        return None
    return (f"{value!r}: 2 to 16 lower-case letters and digits, starting with a letter (e.g. wjw)",
            "部门代码须为 2 至 16 位小写字母或数字, 以字母开头 (如 wjw)。")


def _credit_code_rule(value: str) -> tuple[str, str] | None:
    """GB 32100 through python-stdnum, then the GB 11714 check character of the organisation code
    inside it (characters 9-17), which stdnum does not check."""
    try:
        uscc.validate(value)
    except Exception as exc:  # noqa: BLE001 - stdnum raises KeyError as well as ValidationError on odd input
        detail = getattr(exc, "message", exc.__class__.__name__)
        return (f"{value!r} is not a valid 统一社会信用代码 (GB 32100): {detail}",
                f"{value} 不是有效的统一社会信用代码 (18 位, GB 32100), 请核对。")
    expected = codes.organization_code_check_char(value[8:16])
    if value[16] != expected:
        return (f"{value}: its 组织机构代码 {value[8:16]}-{value[16]} should end in {expected} (GB 11714)",
                f"{value} 不是有效的统一社会信用代码: 其中的组织机构代码 (第 9-17 位) 校验位不对, 请核对。")
    return None


def _division_rule(value: str) -> tuple[str, str] | None:
    names = codes.divisions().get(value) if re.fullmatch(r"[0-9]{6}", value) else None
    if names is None:
        return (f"{value!r} is not a GB/T 2260 行政区划代码 (six digits, e.g. 330100)",
                f"{value} 不是有效的行政区划代码 (6 位数字, 如 330100)。")
    if names[-1].last_year is not None:
        return (f"{value} ({names[-1].name}) was abolished after {names[-1].last_year}",
                f"行政区划代码 {value} ({names[-1].name}) 已于 {names[-1].last_year} 年后停用, 请填写现行代码。")
    return None


def _mode_rule(value: str) -> tuple[str, str] | None:
    if value in CONNECTION_MODES:
        return None
    return (f"{value!r} is not one of {', '.join(CONNECTION_MODES)}",
            f"接入方式须为{'、'.join(CONNECTION_MODES.values())}之一。")


def _phone_rule(value: str) -> tuple[str, str] | None:
    if PHONE.fullmatch(value) and sum(c.isdigit() for c in value) >= 7:
        return None
    return (f"{value!r} is not a telephone number (digits, spaces, + - ( ), at least 7 digits)",
            "联系电话须为电话号码 (数字, 可含空格和 + - ( ), 至少 7 位数字), 如 0571-87000001。")


def _email_rule(value: str) -> tuple[str, str] | None:
    if EMAIL.fullmatch(value):
        return None
    return f"{value!r} is not an e-mail address", f"{value} 不是有效的电子邮箱地址。"


RULES: dict[str, Callable[[str], tuple[str, str] | None]] = {
    "code": _code_rule, "credit_code": _credit_code_rule, "division_code": _division_rule,
    "connection_mode": _mode_rule, "contact_phone": _phone_rule, "contact_email": _email_rule,
}


def _taken(session: Session, node_domain: str, form: dict[str, str], *, but: int | None = None) -> Problems:
    """The code, name and 统一社会信用代码 already a department's or a pending application's (other than ``but``)."""
    problems: Problems = {}
    for name, column, what in (("code", "code", "部门代码"), ("name", "name", "部门名称"),
                               ("credit_code", "credit_code", "统一社会信用代码")):
        value = form[name]
        if not value:
            continue
        if session.scalar(select(Department.id).where(getattr(Department, column) == value)) is not None:
            problems[name] = (f"{value} is a registered department's already", f"{what} {value} 已有部门登记。")
            continue
        pending = select(DepartmentApplication.id).where(getattr(DepartmentApplication, column) == value,
                                                         DepartmentApplication.status == SUBMITTED)
        if but is not None:
            pending = pending.where(DepartmentApplication.id != but)
        other = session.scalar(pending)
        if other is not None:
            problems[name] = (f"{value} is asked for by 登记申请 #{other}, which awaits review",
                              f"{what} {value} 已有待审核的登记申请 (#{other}), 请勿重复申请。")
    code = form["code"]
    if "code" not in problems and code and session.get(KeyPartition, department_partition(code, node_domain)):
        problems["code"] = (f"the directory's key partition of {code} is taken", f"部门代码 {code} 已被占用。")
    return problems


def _pending(session: Session, application_id: int, verb: str) -> DepartmentApplication:
    """A submitted 登记申请, locked against a concurrent decision."""
    row = session.get(DepartmentApplication, application_id) if isinstance(application_id, int) else None
    if row is None:
        raise NotFound(f"no 登记申请 #{application_id}", code="RegistrationNotFound", field="application",
                       zh=f"没有编号为 {application_id} 的部门登记申请。")
    session.execute(select(DepartmentApplication.id).where(DepartmentApplication.id == row.id).with_for_update())
    session.refresh(row)
    if row.status != SUBMITTED:
        raise Conflict(f"登记申请 #{row.id} is {row.status}; only a submitted one can be {verb}d",
                       code="AlreadyAnswered", field="application",
                       zh=f"登记申请 #{row.id} {APPLICATION_LABELS.get(row.status, row.status)}, "
                          "只有待审核的申请可以审核。")
    return row


def _department_of(ctx: Context, department: str | None) -> Department:
    """``department`` (the check let only an admin name another), else the caller's own."""
    if (department or "").strip():
        return department_by_code(ctx.session, department)
    if ctx.caller.department_id is None:
        raise InvalidInput("department: required - whose application systems", field="department",
                           zh="请指定部门。")
    return ctx.session.get(Department, ctx.caller.department_id)


def _reason(reason: str | None, action_en: str, zh_name: str) -> str:
    """A required reason, stripped, at most REASON_LENGTH characters."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(f"reason: required to {action_en}", field="reason", code="ReasonRequired",
                           zh=f"请填写{zh_name}。")
    if len(reason) > REASON_LENGTH:
        raise InvalidInput(f"reason: at most {REASON_LENGTH} characters (it has {len(reason)})", field="reason",
                           code="ReasonTooLong", zh=f"{zh_name}最多 {REASON_LENGTH} 个字 (现有 {len(reason)} 个)。")
    return reason
