"""Who may do what: the role model, declared once, the caller an action runs for, and the
authorisation check of every action, named after it.

    role        (portal name)  may
    admin       平台管理员      everything, for every department
    cataloguer  目录管理员      catalogue its department's resources (编目); answer 使用申请 and 纠错
    reviewer    审核员          review and publish entries (审核, 发布); read 考核
    provider    提供方          answer 使用申请 and 纠错 on its department's resources; send its batches
    consumer    使用方          apply (使用申请), read shared data, file 纠错
    auditor     审计员          search and verify the audit log; read monitoring and 考核

A person acts with the roles of their account.  A department's own system, signing with the
department's certificate (SOAP, the front-end node), acts as the department's ``provider`` and
``consumer``.  The platform itself (scheduled runs, start-up) and its operator at the command
line act as ``admin``.

Every action (:mod:`trust.actions`) has a check of the same name here, registered with
``@check("sharing.apply")``; the action calls it before it does anything, whatever the front
end.  A check raises :class:`~registry.errors.NotPermitted` (roles) or lets the action go on;
what a department may *read* of a resource is governance's decision (``governance.sharing``),
asked by the read path itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from registry.errors import NotPermitted

#: every role, with its name in the portal
ROLES = {
    "admin": "平台管理员",
    "cataloguer": "目录管理员",
    "reviewer": "审核员",
    "provider": "提供方",
    "consumer": "使用方",
    "auditor": "审计员",
}

#: what a department's own system may do when it signs with the department's certificate
SYSTEM_ROLES = frozenset({"provider", "consumer"})

#: capability -> the roles that have it (the portal's navigation shows what these allow)
CAPABILITIES: dict[str, frozenset[str]] = {
    "search": frozenset(ROLES),
    "catalogue": frozenset({"admin", "cataloguer", "provider"}),
    "review": frozenset({"admin", "reviewer"}),
    "apply": frozenset({"admin", "consumer"}),
    "inbox": frozenset({"admin", "provider", "cataloguer"}),
    "query": frozenset({"admin", "consumer"}),
    "submit": frozenset({"admin", "provider"}),
    "monitor": frozenset({"admin", "auditor"}),
    "quarantine": frozenset({"admin"}),
    "audit": frozenset({"admin", "auditor"}),
    "correction_file": frozenset({"admin", "consumer"}),
    "correction_answer": frozenset({"admin", "provider", "cataloguer"}),
    "assessment": frozenset({"admin", "auditor", "reviewer"}),
    "operate": frozenset({"admin"}),  # run adapters, keys and certificates, the core's priorities
}

#: what each capability lets a person do, as the portal says it
CAPABILITY_NAMES = {
    "search": "查看资源目录", "catalogue": "编目", "review": "审核发布", "apply": "提交使用申请",
    "inbox": "答复使用申请", "query": "统一查询", "submit": "提交数据", "monitor": "查看交换监控",
    "quarantine": "处理隔离区", "audit": "查看审计日志", "correction_file": "提交纠错",
    "correction_answer": "答复纠错", "assessment": "查看考核统计", "operate": "运维平台",
}

CHANNELS = ("soap", "portal", "cli", "node", "federation", "job")


@dataclass(frozen=True)
class Caller:
    """Who an action runs for, as the front end verified it (a signature, a login, the console)."""

    channel: str  # soap | portal | cli | node | federation | job
    roles: frozenset[str] = frozenset()
    department_id: int | None = None
    department_code: str | None = None
    department_name: str | None = None
    credit_code: str | None = None
    user: str | None = None  # the account of a person
    user_id: int | None = None
    certificate_serial: str | None = None  # the certificate that signed the request
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def of_user(cls, user: Any, channel: str, *, certificate_serial: str | None = None) -> Caller:
        """A person, by their account (``registry.models.User``); an inactive account has no roles."""
        dept = user.department
        return cls(channel=channel, roles=frozenset(user.role_set) if user.active else frozenset(),
                   department_id=dept.id if dept else None, department_code=dept.code if dept else None,
                   department_name=dept.name if dept else None, credit_code=dept.credit_code if dept else None,
                   user=user.username, user_id=user.id, certificate_serial=certificate_serial)

    @classmethod
    def of_department(cls, department: Any, channel: str, *, certificate_serial: str | None = None) -> Caller:
        """A department's own system, signing with the department's certificate."""
        return cls(channel=channel, roles=SYSTEM_ROLES, department_id=department.id,
                   department_code=department.code, department_name=department.name,
                   credit_code=department.credit_code, certificate_serial=certificate_serial)

    @classmethod
    def platform(cls, channel: str = "job") -> Caller:
        """The platform itself (start-up, scheduled work) or its operator at the console."""
        return cls(channel=channel, roles=frozenset({"admin"}), user="platform" if channel == "job" else "console")

    def can(self, capability: str) -> bool:
        return bool(self.roles & CAPABILITIES[capability])

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def who(self) -> str:
        """The caller as a message names it."""
        return self.user or self.department_name or self.department_code or "an unknown caller"


def role_names(roles: Iterable[str]) -> list[str]:
    return [ROLES.get(r, r) for r in roles]


def require(caller: Caller, capability: str) -> None:
    """Refuse unless ``caller`` has a role with ``capability``."""
    if caller.can(capability):
        return
    allowed = sorted(CAPABILITIES[capability])
    raise NotPermitted(
        f"{caller.who} may not {capability}: it needs one of the roles {', '.join(allowed)}",
        zh=f"您的角色不能{CAPABILITY_NAMES[capability]}; 需要以下角色之一: {'、'.join(role_names(allowed))}。")


def require_department(caller: Caller) -> int:
    """The caller's department; refuse a caller that belongs to none."""
    if caller.department_id is None:
        raise NotPermitted(f"{caller.who} belongs to no department", zh="您的账号不属于任何部门, 不能办理部门业务。")
    return caller.department_id


def require_own(caller: Caller, department_id: int | None, what: str, zh_what: str) -> None:
    """Refuse unless the caller is an admin or belongs to ``department_id``."""
    if caller.is_admin or (department_id is not None and caller.department_id == department_id):
        return
    raise NotPermitted(f"{caller.who} may not {what}: it belongs to another department",
                       zh=f"{zh_what}属于其他部门, 您不能操作。")


Check = Callable[..., None]
#: action name -> its check (filled by the ``@check`` functions below, imported with this module)
CHECKS: dict[str, Check] = {}


def check(name: str) -> Callable[[Check], Check]:
    """Register the check of the action ``name``."""

    def register(function: Check) -> Check:
        if name in CHECKS:
            raise ValueError(f"the action {name} has two checks")
        CHECKS[name] = function
        return function

    return register


def allowed(capability: str) -> Check:
    """The check of an action that needs only a role with ``capability``."""

    def role_check(ctx: Any, **_inputs: Any) -> None:
        require(ctx.caller, capability)

    return role_check


def anyone(ctx: Any, **_inputs: Any) -> None:
    """The check of an action every signed-in caller may run (what it sees is the action's to limit)."""


# ----------------------------------------------------------------------------- the checks, by package
# directory: the catalogue (编目, 审核, 发布), WSDLs, the UDDI publication API


# governance: 使用申请, grants, masking, 纠错, 考核


@check("sharing.apply")
def sharing_apply(ctx: Any, **_inputs: Any) -> None:
    require(ctx.caller, "apply")
    require_department(ctx.caller)


# exchange: batches, queries, changes, the core


# adapters: adapter runs, the quarantine

check("sync.run")(allowed("operate"))  # reads a department's source into the core
check("sync.check")(allowed("operate"))  # reads a department's source (personal data) beside the core
check("adapter.check")(allowed("operate"))  # reads an adapter file and previews its source's records
check("sync.status")(allowed("monitor"))
check("sync.history")(allowed("monitor"))
check("monitor.overview")(allowed("monitor"))
check("quarantine.list")(allowed("monitor"))
check("quarantine.show")(allowed("monitor"))
check("quarantine.correct")(allowed("quarantine"))
check("quarantine.replay")(allowed("quarantine"))
check("quarantine.discard")(allowed("quarantine"))
check("demo.seed")(allowed("operate"))


# trust: the audit log, certificates

check("audit.search")(allowed("audit"))
check("audit.verify")(allowed("audit"))
check("audit.export")(allowed("audit"))
check("audit.checkpoint")(allowed("operate"))  # signs with the platform key
check("pki.init")(allowed("operate"))
check("pki.issue")(allowed("operate"))
check("pki.revoke")(allowed("operate"))
check("pki.crl")(allowed("operate"))
check("pki.list")(allowed("operate"))


# portal: signing in

check("portal.login")(anyone)  # the password decides, not a role
check("portal.logout")(anyone)
