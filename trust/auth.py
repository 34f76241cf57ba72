"""Who may do what: the role model, declared once, the caller an action runs for, and the
authorisation check of every action, named after it.

    role        (portal name)  may
    admin       平台管理员      the platform's operation (系统管理员): every department's business, departments'
                               登记 and suspension, adapters, the core - not accounts or certificates
    security    安全管理员      accounts and their roles, certificates (CSR approval, revocation)
    cataloguer  目录管理员      catalogue its department's resources (编目); answer 使用申请 and 纠错
    reviewer    审核员          review and publish entries (审核, 发布); read 考核
    provider    提供方          answer 使用申请 and 纠错 on its department's resources; send its batches
    consumer    使用方          apply (使用申请), read shared data, file 纠错
    auditor     审计员          search and verify the audit log; read monitoring and 考核

三员分立 (等保三级): the three duties 系统管理员 (``admin``), 安全管理员 (``security``) and 审计员
(``auditor``) are held by different people - no account holds two of them (``DUTIES``,
:func:`separate_duties`).

A person acts with the roles of their account.  A department's own system, signing with the
department's certificate (SOAP, the front-end node), acts as the department's ``provider`` and
``consumer``.  The platform itself (scheduled runs, start-up) and its operator at the command
line act as ``admin`` and ``security`` (the console is where the first accounts are made).  A
department's application system (应用系统) signing with its own certificate acts as the department's
system, and says so in the audit log.

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

from registry.errors import InvalidInput, NotFound, NotPermitted

#: every role, with its name in the portal
ROLES = {
    "admin": "平台管理员",
    "security": "安全管理员",
    "cataloguer": "目录管理员",
    "reviewer": "审核员",
    "provider": "提供方",
    "consumer": "使用方",
    "auditor": "审计员",
}

#: 三员分立: no account holds two of these
DUTIES = ("admin", "security", "auditor")

#: what a department's own system may do when it signs with the department's certificate
SYSTEM_ROLES = frozenset({"provider", "consumer"})

#: capability -> the roles that have it (the portal's navigation shows what these allow)
CAPABILITIES: dict[str, frozenset[str]] = {
    "search": frozenset(ROLES),
    "catalogue": frozenset({"admin", "cataloguer", "provider"}),
    "review": frozenset({"admin", "reviewer"}),
    "apply": frozenset({"admin", "consumer"}),
    "inbox": frozenset({"admin", "provider", "cataloguer"}),
    "grant": frozenset({"admin", "provider", "cataloguer"}),  # grant, revoke and mask its department's resources
    "query": frozenset({"admin", "consumer"}),
    "submit": frozenset({"admin", "provider"}),
    "monitor": frozenset({"admin", "auditor"}),
    "quarantine": frozenset({"admin"}),
    "audit": frozenset({"auditor"}),  # 三员分立: the log of what the administrators did is the auditor's
    "correction_file": frozenset({"admin", "consumer"}),
    "correction_answer": frozenset({"admin", "provider", "cataloguer"}),
    "assessment": frozenset({"admin", "auditor", "reviewer"}),
    "operate": frozenset({"admin"}),  # run adapters, the CA's CRL, the core's priorities
    "onboard": frozenset({"admin"}),  # departments' 登记申请, suspension and reinstatement
    "connect": frozenset({"admin", "cataloguer", "provider"}),  # its department's systems and certificate requests
    "users": frozenset({"security"}),  # accounts and roles
    "certificates": frozenset({"security"}),  # approve certificate requests, issue, revoke
}

#: what each capability lets a person do, as the portal says it
CAPABILITY_NAMES = {
    "search": "查看资源目录", "catalogue": "编目", "review": "审核发布", "apply": "提交使用申请",
    "inbox": "答复使用申请", "grant": "管理授权与脱敏", "query": "统一查询", "submit": "提交数据",
    "monitor": "查看交换监控",
    "quarantine": "处理隔离区", "audit": "查看审计日志", "correction_file": "提交纠错",
    "correction_answer": "答复纠错", "assessment": "查看考核统计", "operate": "运维平台",
    "onboard": "审核部门登记", "connect": "管理本部门的应用系统和证书申请", "users": "管理用户",
    "certificates": "签发和吊销证书",
}

CHANNELS = ("soap", "portal", "cli", "node", "federation", "job", "harvest")


@dataclass(frozen=True)
class Caller:
    """Who an action runs for, as the front end verified it (a signature, a login, the console)."""

    channel: str  # soap | portal | cli | node | federation | job | harvest (the DCAT-AP files)
    roles: frozenset[str] = frozenset()
    department_id: int | None = None
    department_code: str | None = None
    department_name: str | None = None
    credit_code: str | None = None
    user: str | None = None  # the account of a person
    user_id: int | None = None
    certificate_serial: str | None = None  # the certificate that signed the request
    system_id: int | None = None  # the department's application system (应用系统) that signed it
    system_code: str | None = None
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
        """The platform itself (start-up, scheduled work) or its operator at the console: every duty
        (whoever runs the console holds the installation; 三员分立 binds accounts)."""
        return cls(channel=channel, roles=frozenset({"admin", "security", "auditor"}),
                   user="platform" if channel == "job" else "console")

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


def separate_duties(roles: Iterable[str]) -> None:
    """Refuse a set of roles that is unknown or holds two of the three duties (三员分立)."""
    roles = set(roles)
    unknown = sorted(roles - set(ROLES))
    if unknown:
        raise InvalidInput(f"unknown roles {', '.join(unknown)}; known: {', '.join(ROLES)}", code="UnknownRole",
                           field="roles", zh=f"未知角色 {'、'.join(unknown)}。")
    duties = [duty for duty in DUTIES if duty in roles]
    if len(duties) > 1:
        raise InvalidInput(f"one account may not hold {' and '.join(duties)}: the system administrator, the "
                           "security administrator and the auditor are different people (三员分立)",
                           code="DutiesCombined", field="roles",
                           zh=f"三员分立: 一个账号不能同时担任{'和'.join(role_names(duties))}。")


def refuse_suspended(department: Any, system: Any = None) -> None:
    """Refuse a caller whose department or application system is suspended (暂停)."""
    for what, zh, row in (("department", "部门", department), ("application system", "应用系统", system)):
        if row is not None and row.status != "active":
            when = f" since {row.suspended_at:%Y-%m-%d}" if row.suspended_at else ""
            raise NotPermitted(f"the {what} {row.code} is suspended{when}: {row.suspension_reason or 'no reason given'}"
                               "; ask the platform's administrator to reinstate it",
                               code="DepartmentSuspended" if what == "department" else "SystemSuspended",
                               zh=f"{zh} {row.name} 已被暂停接入 ({row.suspension_reason or '未说明原因'}), "
                                  "请联系平台管理员恢复。")


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
        raise NotPermitted(f"{caller.who} belongs to no department: this is a department's business, done by one of "
                           "its accounts (on the command line: --user USERNAME)",
                           zh="您的账号不属于任何部门, 不能办理部门业务; 请由该部门的账号办理。")
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
    """The check of an action any caller may run, signed in or not (what it sees is the action's to limit)."""


# ----------------------------------------------------------------------------- the checks, by package
# directory: the catalogue (编目, 审核, 发布), WSDLs, the UDDI publication API
#
#   catalogue.create, .edit, .submit, .withdraw   cataloguer, provider of the provider department; admin
#   catalogue.approve, .refuse, .publish          reviewer, admin (any department's entry)
#   catalogue.review_queue                        reviewer, admin: what waits for them, with what it changes
#   catalogue.search, .show                       everyone; each sees what catalogue_visibility lets through
#   catalogue.template, .export                   everyone: the spreadsheet template, and what the caller sees
#   catalogue.import                              cataloguer, provider, admin; each row as create or edit would
#   catalogue.history                             the provider department, and those who see every entry
#   catalogue.open_search, .open_show, .dcat      anyone, signed in or not: the open catalogue (开放目录), whose
#                                                 entries open_catalogue lets through for every caller alike
#   wsdl.publish, uddi.save_* / delete_* / get_registeredInfo   cataloguer, provider, admin (the UDDI API
#                                                 further limits a publisher to what its department owns)
#   uddi.save_subscription, .get_subscriptions, .delete_subscription, .get_subscriptionResults
#                                                 every account: whoever reads the directory may follow it
#                                                 (the subscription API limits each to its own subscriptions)
#   uddi.listeners                                admin, auditor (monitoring: every subscriber's listener)
#   notice.list, .open, .read_all                 every account, its own 站内消息 only (no system's call)

#: who sees every catalogue entry whatever its status and department (others: the published ones and
#: their own department's)
CATALOGUE_SEES_ALL = frozenset({"admin", "reviewer", "auditor"})
#: the catalogue's verbs, as the portal names them: a provider department's on its own entries ...
CATALOGUING = {"create": "编目", "edit": "修改", "submit": "提交审核", "withdraw": "下架"}
#: ... and a reviewer's, on any department's
REVIEWING = {"approve": "审核通过", "refuse": "退回", "publish": "发布"}


def catalogue_visibility(caller: Caller) -> list[Any]:
    """The catalogue's one visibility rule, as conditions on ``registry.models.CatalogueEntry``
    for a query: published entries, the caller's department's own entries of any status, and
    everything for those who see every entry."""
    from sqlalchemy import false, or_

    from registry.models import CatalogueEntry

    if caller.roles & CATALOGUE_SEES_ALL:
        return []
    own = CatalogueEntry.provider_id == caller.department_id if caller.department_id is not None else false()
    return [or_(CatalogueEntry.status == "published", own)]


def open_catalogue() -> list[Any]:
    """The open catalogue's (开放目录) rule, as conditions on ``registry.models.CatalogueEntry``: the
    published entries open to the public (是否向社会开放), the same for every caller - the portal's
    anonymous pages and the DCAT-AP files harvesters read never show a draft, a withdrawn entry or one
    kept within government."""
    from registry.models import CatalogueEntry

    return [CatalogueEntry.status == "published", CatalogueEntry.open_to_public.is_(True)]


def catalogue_refusal(caller: Caller, verb: str, provider_id: int | None, code: str) -> NotPermitted | None:
    """Why ``caller`` may not ``verb`` (create, edit, ..., publish) the entry ``code`` of the department
    ``provider_id``, or None; with ``provider_id`` None (an entry not yet made, or one the caller cannot
    see) only the role is asked."""
    if verb in REVIEWING:
        if caller.can("review"):
            return None
        return NotPermitted(f"{caller.who} may not {verb} {code}: reviewing and publishing need the reviewer role",
                            zh=f"{REVIEWING[verb]}需要审核员角色, 您的角色 ({_role_list(caller)}) 不能办理。")
    if not caller.can("catalogue"):
        return NotPermitted(f"{caller.who} may not {verb} {code}: cataloguing needs the cataloguer or provider role",
                            zh=f"{CATALOGUING[verb]}需要目录管理员或提供方角色, "
                               f"您的角色 ({_role_list(caller)}) 不能办理。")
    if provider_id is None or caller.is_admin or caller.department_id == provider_id:
        return None
    return NotPermitted(f"{caller.who} may not {verb} {code}: only the provider department catalogues its own "
                        "resources", zh=f"目录条目 {code} 属于其他部门, 只有提供部门才能{CATALOGUING[verb]}。")


def may_read_catalogue_history(caller: Caller, provider_id: int) -> bool:
    """The history of an entry (drafts, refusals) is its provider department's and the reviewers'."""
    return bool(caller.roles & CATALOGUE_SEES_ALL) or (
        caller.department_id is not None and caller.department_id == provider_id)


def _role_list(caller: Caller) -> str:
    return "、".join(role_names(sorted(caller.roles))) or "无"


def _visible_entry(ctx: Any, resource_code: str) -> Any:
    """The entry ``resource_code`` if the caller may see it (else None: the action says it is not found)."""
    from sqlalchemy import select

    from registry.models import CatalogueEntry

    return ctx.session.scalar(select(CatalogueEntry).where(
        CatalogueEntry.resource_code == (resource_code or "").strip(), *catalogue_visibility(ctx.caller)))


def _catalogue_verb(verb: str) -> Check:
    def entry_check(ctx: Any, *, resource_code: str = "", **_inputs: Any) -> None:
        entry = _visible_entry(ctx, resource_code)
        refusal = catalogue_refusal(ctx.caller, verb, entry.provider_id if entry is not None else None,
                                    (resource_code or "").strip())
        if refusal is not None:
            raise refusal

    return entry_check


for _verb in (*CATALOGUING, *REVIEWING):
    if _verb != "create":
        check(f"catalogue.{_verb}")(_catalogue_verb(_verb))


@check("catalogue.create")
def catalogue_create(ctx: Any, *, provider: str | None = None, **_inputs: Any) -> None:
    refusal = catalogue_refusal(ctx.caller, "create", None, "a new entry") or provider_refusal(ctx.caller, provider)
    if refusal is not None:
        raise refusal


def provider_refusal(caller: Caller, provider: str | None) -> NotPermitted | None:
    """Why ``caller`` may not catalogue a new entry for the department ``provider`` (its code; None or
    empty: the caller's own), or None: only an admin catalogues for another department."""
    if provider in (None, "", caller.department_code) or caller.is_admin:
        return None
    return NotPermitted(f"{caller.who} may not catalogue for another department: {caller.who} belongs "
                        f"to {caller.department_code or 'no department'}",
                        zh="只有平台管理员可以为其他部门编目; 请为本部门编目。")


check("catalogue.search")(allowed("search"))
check("catalogue.show")(allowed("search"))
check("catalogue.review_queue")(allowed("review"))
# the spreadsheet (目录编制模板): readers take the template and export what they see; an import catalogues,
# each row then meets the rules of create and edit (its department, its status) as a row's error
check("catalogue.template")(allowed("search"))
check("catalogue.export")(allowed("search"))
check("catalogue.import")(allowed("catalogue"))
for _name in ("watch", "unwatch", "watching", "seen"):  # 订阅目录变更: anyone who reads the catalogue, for themself
    check(f"catalogue.{_name}")(allowed("search"))
for _name in ("open_search", "open_show", "dcat"):
    check(f"catalogue.{_name}")(anyone)  # what they show is open_catalogue's, whoever asks


def _a_person(ctx: Any, **_inputs: Any) -> None:
    """站内消息 are a person's: every signed-in account reads and clears its own (never a system's call)."""
    require(ctx.caller, "search")
    if ctx.caller.user_id is None:
        raise NotPermitted(f"{ctx.caller.who} is no account: notices are kept for people, each reads their own",
                           zh="站内消息属于个人账号, 请以账号身份查看。")


for _name in ("list", "open", "read_all"):
    check(f"notice.{_name}")(_a_person)


@check("catalogue.history")
def catalogue_history(ctx: Any, *, resource_code: str = "", **_inputs: Any) -> None:
    require(ctx.caller, "search")
    entry = _visible_entry(ctx, resource_code)
    if entry is not None and not may_read_catalogue_history(ctx.caller, entry.provider_id):
        raise NotPermitted(f"{ctx.caller.who} may not read the history of {entry.resource_code}: the history "
                           "(drafts, refusals) is kept for the provider department and reviewers",
                           zh="目录条目的变更历史只向提供部门、审核员和审计员开放。")


@check("wsdl.publish")
def wsdl_publish(ctx: Any, **_inputs: Any) -> None:
    require(ctx.caller, "catalogue")
    require_department(ctx.caller)


for _operation in ("save_business", "save_service", "save_binding", "save_tModel", "delete_business",
                   "delete_service", "delete_binding", "delete_tModel", "get_registeredInfo"):
    check(f"uddi.{_operation}")(allowed("catalogue"))


def _subscriber(ctx: Any, **_inputs: Any) -> None:
    require(ctx.caller, "search")
    if ctx.caller.user_id is None:
        raise NotPermitted(f"{ctx.caller.who} is no account: a UDDI subscription belongs to the account that saved it",
                           zh="订阅属于账号, 请以账号身份办理。")


for _operation in ("save_subscription", "get_subscriptions", "delete_subscription", "get_subscriptionResults"):
    check(f"uddi.{_operation}")(_subscriber)
check("uddi.listeners")(allowed("monitor"))  # the subscription listeners and how their notifications went


# governance: 使用申请, grants, masking, 纠错, 考核


#
#   sharing.apply, .withdraw, .applications      consumer of a department (its own applications); admin
#   sharing.approve, .refuse, .inbox             provider, cataloguer of the resource's department; admin
#   sharing.application                          the staff of either department (above); admin
#   sharing.grant, .revoke, .mask                provider, cataloguer of the resource's department; admin
#   sharing.grants                               the department's consumers and provider staff; admin
#   sharing.masking, .view, governance.todo      everyone (view: one's own department; an admin: any)
#   correction.file, .list                       consumer of a department; admin
#   correction.answer, .inbox                    provider, cataloguer of the resource's department; admin
#   assessment.report                            admin, reviewer, auditor


@check("sharing.apply")
def sharing_apply(ctx: Any, **_inputs: Any) -> None:
    require(ctx.caller, "apply")
    require_department(ctx.caller)


def _governed(ctx: Any, model: str, ident: Any, code: str, what: str, zh_what: str) -> Any:
    """The application, grant or report ``ident`` (``model`` of registry.models), or NotFound."""
    from registry import models

    row = ctx.session.get(getattr(models, model), ident) if isinstance(ident, int) else None
    if row is None:
        raise NotFound(f"no {what} #{ident}", code=code, field=what.split()[-1],
                       zh=f"没有编号为 {ident} 的{zh_what}。")
    return row


def _provider_staff(caller: Caller, entry: Any, verb: str, zh_verb: str) -> None:
    """Refuse unless ``caller`` is an admin or of the department that provides ``entry`` (its role was
    checked already)."""
    if caller.is_admin or (caller.department_id is not None and caller.department_id == entry.provider_id):
        return
    raise NotPermitted(f"{caller.who} may not {verb} {entry.resource_code}: only the provider department's "
                       f"provider or cataloguer staff ({entry.provider.name}) or an admin may",
                       zh=f"资源「{entry.name}」由{entry.provider.name}提供, "
                          f"只有该部门的提供方或目录管理员才能{zh_verb}。")


def _own_listing(caller: Caller, capability: str, department: str | None) -> None:
    """A department's list: the caller's own department's; an admin's, any department's."""
    require(caller, capability)
    if caller.is_admin:
        return
    require_department(caller)
    wanted = (department or "").strip()
    if wanted and wanted.lower() != caller.department_code and wanted.upper() != (caller.credit_code or ""):
        raise NotPermitted(f"{caller.who} sees only {caller.department_code}'s lists, not {wanted}'s",
                           zh="您只能查看本部门的记录。")


def _decide(verb: str, zh_verb: str) -> Check:
    def decide_check(ctx: Any, *, application_id: Any = None, **_inputs: Any) -> None:
        require(ctx.caller, "inbox")
        application = _governed(ctx, "SharingApplication", application_id, "ApplicationNotFound", "application",
                                "使用申请")
        _provider_staff(ctx.caller, application.entry, f"{verb} applications for", zh_verb)

    return decide_check


check("sharing.approve")(_decide("approve", "同意使用申请"))
check("sharing.refuse")(_decide("refuse", "拒绝使用申请"))


@check("sharing.withdraw")
def sharing_withdraw(ctx: Any, *, application_id: Any = None, **_inputs: Any) -> None:
    require(ctx.caller, "apply")
    application = _governed(ctx, "SharingApplication", application_id, "ApplicationNotFound", "application",
                            "使用申请")
    if not ctx.caller.is_admin and ctx.caller.department_id != application.consumer_id:
        raise NotPermitted(f"application #{application.id} is {application.consumer.name}'s; {ctx.caller.who} may "
                           "not withdraw it",
                           zh=f"使用申请 #{application.id} 是{application.consumer.name}提交的, 只有申请部门才能撤回。")


@check("sharing.application")
def sharing_application(ctx: Any, *, application_id: Any = None, **_inputs: Any) -> None:
    """One application: the provider's staff who answer it, the applying department's who filed it, an admin."""
    caller = ctx.caller
    if not (caller.can("inbox") or caller.can("apply")):
        require(caller, "inbox")  # refused, in the words of the capability
    application = _governed(ctx, "SharingApplication", application_id, "ApplicationNotFound", "application",
                            "使用申请")
    if caller.is_admin:
        return
    if caller.can("inbox") and caller.department_id == application.entry.provider_id:
        return
    if caller.can("apply") and caller.department_id == application.consumer_id:
        return
    raise NotPermitted(f"{caller.who} may not read application #{application.id}: only the staff of "
                       f"{application.entry.provider.name} (provider) or {application.consumer.name} (applicant) may",
                       zh=f"使用申请 #{application.id} 由{application.consumer.name}向{application.entry.provider.name}"
                          "提交, 只有这两个部门的经办人员才能查看。")


@check("sharing.inbox")
def sharing_inbox(ctx: Any, *, department: str | None = None, **_inputs: Any) -> None:
    _own_listing(ctx.caller, "inbox", department)


@check("sharing.applications")
def sharing_applications(ctx: Any, *, department: str | None = None, **_inputs: Any) -> None:
    _own_listing(ctx.caller, "apply", department)


@check("sharing.grants")
def sharing_grants(ctx: Any, *, department: str | None = None, **_inputs: Any) -> None:
    _own_listing(ctx.caller, "apply" if ctx.caller.can("apply") else "grant", department)


def _resource_check(verb: str, zh_verb: str) -> Check:
    def resource_check(ctx: Any, *, resource_code: str = "", **_inputs: Any) -> None:
        from sqlalchemy import select

        from registry.models import CatalogueEntry

        require(ctx.caller, "grant")
        entry = ctx.session.scalar(select(CatalogueEntry).where(
            CatalogueEntry.resource_code == (resource_code or "").strip()))
        if entry is not None:  # else the action says there is no such resource
            _provider_staff(ctx.caller, entry, verb, zh_verb)

    return resource_check


check("sharing.grant")(_resource_check("grant", "授权"))
check("sharing.mask")(_resource_check("set the masking of", "设置脱敏"))


@check("sharing.revoke")
def sharing_revoke(ctx: Any, *, grant_id: Any = None, **_inputs: Any) -> None:
    require(ctx.caller, "grant")
    grant = _governed(ctx, "SharingGrant", grant_id, "GrantNotFound", "grant", "授权")
    _provider_staff(ctx.caller, grant.entry, "revoke grants of", "撤销授权")


check("sharing.masking")(allowed("search"))
check("governance.todo")(allowed("search"))


@check("sharing.view")
def sharing_view(ctx: Any, *, department: str | None = None, **_inputs: Any) -> None:
    require(ctx.caller, "search")
    if ctx.caller.is_admin:
        return
    _own_listing(ctx.caller, "search", department)


@check("correction.file")
def correction_file(ctx: Any, **_inputs: Any) -> None:
    require(ctx.caller, "correction_file")
    require_department(ctx.caller)


@check("correction.answer")
def correction_answer(ctx: Any, *, report_id: Any = None, **_inputs: Any) -> None:
    require(ctx.caller, "correction_answer")
    report = _governed(ctx, "CorrectionReport", report_id, "ReportNotFound", "correction report", "纠错报告")
    _provider_staff(ctx.caller, report.entry, "answer correction reports on", "答复纠错")


@check("correction.inbox")
def correction_inbox(ctx: Any, *, department: str | None = None, **_inputs: Any) -> None:
    _own_listing(ctx.caller, "correction_answer", department)


@check("correction.list")
def correction_list(ctx: Any, *, department: str | None = None, **_inputs: Any) -> None:
    _own_listing(ctx.caller, "correction_file", department)


check("assessment.report")(allowed("assessment"))


# front-end nodes (前置交换节点)
#
#   nodes.report   a department's node, signed with its certificate: any department's caller, for itself
#   nodes.list     admin, auditor: the centre's list of nodes and their alerts

@check("nodes.report")
def nodes_report(ctx: Any, **_inputs: Any) -> None:
    require_department(ctx.caller)
    if ctx.caller.certificate_serial is None:
        raise NotPermitted(f"{ctx.caller.who} reports a node without a certificate: a node signs its heartbeat "
                           "(WS-Security, X.509)", zh="节点心跳须使用证书签名。")


check("nodes.list")(allowed("monitor"))


# federation (目录管理节点, 部门平台节点)
#
#   federation.outgoing            the platform itself (its federation peer, the console): its own catalogue
#   federation.receive, .digests   a lower platform, signed with the certificate the higher one issued it;
#                                  the action refuses one not registered as a catalogue or platform node
#   federation.nodes               admin, auditor: the lower platforms and their federation state

check("federation.outgoing")(allowed("operate"))
check("federation.receive")(nodes_report)
check("federation.digests")(nodes_report)
check("federation.nodes")(allowed("monitor"))


# exchange: batches, queries, changes, the core
#
#   exchange.submit_batch                         provider, admin: a department sends its own resources' batches
#   exchange.batch_status                         provider, admin: a department asks about the batches it sent
#   exchange.query_records, .get_changes,         consumer, admin: what the department may read of a resource is
#   .unified_query                                governance's decision, asked by the read path (exchange.output)
#   exchange.data_news                            everyone who reads the catalogue, for the entries they follow:
#                                                 the batches received, where their department may read them
#   core.priorities, .priority, .conflicts,       admin (operate): priorities decide whose values the core keeps;
#   .history                                      conflicts and versions show every department's values
#
# A request names the department it speaks for (QueryRecords' requester, a batch header's providerCode).
# A signed request's caller is its certificate's department (trust.wsse): one speaking for another
# department is refused as wsse:FailedAuthentication.  An unsigned request - which only GOVSHARE_WSS=optional
# or off lets through, for development and tests, never in production - has no verified caller and acts as
# the department it names (``unsigned_request``).  A person acts for their own department, an admin for any.

#: ``Caller.extra`` flag of an unsigned request's caller
UNSIGNED = "unsigned"


def unsigned_request(channel: str = "soap") -> Caller:
    """The caller of an unsigned request the WS-Security policy let through (development only): a
    department's system that only the request itself names."""
    return Caller(channel=channel, roles=SYSTEM_ROLES, extra={UNSIGNED: True})


def speaks_for(caller: Caller, claimed: str | None) -> None:
    """Refuse a request that names (by code or 统一社会信用代码) another department than its caller's."""
    claimed = (claimed or "").strip()
    if not claimed or caller.extra.get(UNSIGNED):
        return
    if claimed.upper() == (caller.credit_code or "") or claimed.lower() == (caller.department_code or ""):
        return
    if caller.certificate_serial is not None:
        from registry.errors import ExchangeError

        raise ExchangeError("FailedAuthentication", f"the request is signed with the certificate of "
                            f"{caller.department_name} ({caller.credit_code}) but speaks for {claimed}",
                            fault_code="wsse:FailedAuthentication",
                            zh=f"请求以{caller.department_name}的证书签名, 却代表其他部门 ({claimed}); "
                               "只能以本部门的名义调用。")
    if caller.is_admin:
        return
    raise NotPermitted(f"{caller.who} may not act for {claimed}: it belongs to "
                       f"{caller.department_code or 'no department'}", zh="您只能以本部门的名义查询或提交数据。")


def _exchange_read(ctx: Any, *, requester: str | None = None, **_inputs: Any) -> None:
    require(ctx.caller, "query")
    speaks_for(ctx.caller, requester)
    if not (requester or "").strip() and not ctx.caller.extra.get(UNSIGNED):
        require_department(ctx.caller)


# the batch names its provider in its header, read as it streams in: the action asks speaks_for then
check("exchange.submit_batch")(allowed("submit"))
# only the department that sent the batch: the action asks, once it has found the batch
check("exchange.batch_status")(allowed("submit"))
for _name in ("exchange.query_records", "exchange.get_changes", "exchange.unified_query"):
    check(_name)(_exchange_read)
# 我的订阅's data changes: a person's own follows, each told only if their department may read it
check("exchange.data_news")(allowed("search"))
for _name in ("core.priorities", "core.priority", "core.conflicts", "core.history"):
    check(_name)(allowed("operate"))


# adapters: adapter runs, the quarantine

check("sync.run")(allowed("operate"))  # reads a department's source into the core
check("sync.check")(allowed("operate"))  # reads a department's source (personal data) beside the core
check("adapter.check")(allowed("operate"))  # reads an adapter file and previews its source's records
check("sync.status")(allowed("monitor"))
check("sync.history")(allowed("monitor"))
check("monitor.overview")(allowed("monitor"))
check("operations.overview")(allowed("monitor"))  # 运行总览 (大屏): the platform at a glance
check("monitoring.report")(allowed("monitor"))  # 运行监测: the requests' volumes, latencies, errors, bytes
check("monitoring.requests")(allowed("monitor"))  # 请求明细: the requests one by one
check("monitoring.alerts")(allowed("monitor"))  # 告警: what needs someone's attention, computed on view
check("quarantine.list")(allowed("monitor"))
check("quarantine.show")(allowed("monitor"))
check("quarantine.correct")(allowed("quarantine"))
check("quarantine.replay")(allowed("quarantine"))
check("quarantine.discard")(allowed("quarantine"))

# operations: the background jobs (后台作业), the platform administrator's to watch
check("jobs.list")(allowed("operate"))
check("jobs.retry")(allowed("operate"))  # a failed job queued again
check("jobs.purge")(allowed("operate"))  # failed jobs deleted
check("demo.seed")(allowed("operate"))


# trust: the audit log, certificates

check("audit.search")(allowed("audit"))
check("audit.verify")(allowed("audit"))
check("audit.export")(allowed("audit"))
check("audit.checkpoint")(allowed("operate"))  # signs with the platform key
check("audit.archive")(allowed("operate"))  # signs the archive's manifest with the platform key
check("pki.init")(allowed("certificates"))  # the CA and its certificates are the security administrator's
check("pki.issue")(allowed("certificates"))
check("pki.crl")(allowed("certificates"))  # pki.revoke and pki.list: with the certificate requests, below


# portal: signing in

check("portal.login")(anyone)  # the password decides, not a role
check("portal.logout")(anyone)


# onboarding (登记): department applications, departments, application systems
#   (governance.onboarding; the checks go below this line)
#
#   department.apply                             anyone, even not signed in (the portal's public 申请登记 form)
#   department.applications, .approve, .refuse   admin (onboard)
#   department.suspend, .reinstate               admin (onboard)
#   department.list, .show                       admin, security, auditor (the three duties read the register)
#   department.directory, .profile               everyone signed in (部门目录: what each department shares, and the
#                                                contact its businessEntity publishes)
#   system.register, .suspend, .reinstate        a department's connect roles (admin, cataloguer, provider) for
#                                                their own department; an admin for any
#   system.list                                  the connect roles: their department's; admin and security: any

#: who reads the register of departments (部门名录 with contacts and status): the three duties
DEPARTMENT_READERS = frozenset(DUTIES)


def _reads_departments(ctx: Any, **_inputs: Any) -> None:
    if not ctx.caller.roles & DEPARTMENT_READERS:
        raise NotPermitted(f"{ctx.caller.who} may not read the register of departments: it needs one of the roles "
                           f"{', '.join(sorted(DEPARTMENT_READERS))}",
                           zh=f"部门名录只向{'、'.join(role_names(DUTIES))}开放。")


check("department.apply")(anyone)
for _name in ("applications", "approve", "refuse", "suspend", "reinstate"):
    check(f"department.{_name}")(allowed("onboard"))
check("department.list")(_reads_departments)
check("department.show")(_reads_departments)
check("department.directory")(allowed("search"))
check("department.profile")(allowed("search"))


def _own_systems(caller: Caller, department: str | None) -> None:
    """A department's connect roles act on their own department's systems (``department``: a code or
    统一社会信用代码, None for their own); an admin on any department's."""
    require(caller, "connect")
    if caller.is_admin:
        return
    require_department(caller)
    wanted = (department or "").strip()
    if wanted and wanted.lower() != caller.department_code and wanted.upper() != (caller.credit_code or ""):
        raise NotPermitted(f"{caller.who} may act on {caller.department_code}'s application systems only, not "
                           f"{wanted}'s", zh="您只能管理本部门的应用系统。")


@check("system.register")
def system_register(ctx: Any, *, department: str | None = None, **_inputs: Any) -> None:
    _own_systems(ctx.caller, department)


def _system_state(ctx: Any, *, system: str = "", **_inputs: Any) -> None:
    from sqlalchemy import select

    from registry.models import AppSystem

    require(ctx.caller, "connect")
    row = ctx.session.scalar(select(AppSystem).where(AppSystem.code == (system or "").strip().lower()))
    if row is not None:  # an unknown system: the action says so
        require_own(ctx.caller, row.department_id, f"change the application system {row.code}",
                    f"应用系统 {row.code} ")


check("system.suspend")(_system_state)
check("system.reinstate")(_system_state)


@check("system.list")
def system_list(ctx: Any, *, department: str | None = None, **_inputs: Any) -> None:
    if "security" in ctx.caller.roles:
        return
    _own_systems(ctx.caller, department)


# accounts: users, roles (三员分立), passwords
#   (governance.users; the checks go below this line)
#
#   user.create                                  security (users)
#   user.disable, .enable, .set_roles,           security, never on the account it signed in with: another
#   .reset_password, .unlock                     security administrator does that (no one widens, revives or
#                                                takes over their own account)
#   user.list, .show                             security, auditor (the auditor reviews who holds what)
#   user.change_password                         anyone with an account, for that account (not the console)

#: who reads the accounts: their roles, status and password age
ACCOUNT_READERS = frozenset({"security", "auditor"})


def _reads_accounts(ctx: Any, **_inputs: Any) -> None:
    if not ctx.caller.roles & ACCOUNT_READERS:
        raise NotPermitted(f"{ctx.caller.who} may not read the accounts: it needs one of the roles "
                           f"{', '.join(sorted(ACCOUNT_READERS))}",
                           zh=f"用户账号只向{'、'.join(role_names(sorted(ACCOUNT_READERS)))}开放。")


def _not_own_account(ctx: Any, *, username: str = "", **_inputs: Any) -> None:
    require(ctx.caller, "users")
    if ctx.caller.user_id is not None and (username or "").strip().lower() == ctx.caller.user:
        raise NotPermitted(f"{ctx.caller.who} may not change their own account's status, roles or password this "
                           "way: another security administrator does", code="OwnAccount",
                           zh="不能停用、启用、解锁自己的账号, 也不能修改自己的角色或重置自己的密码; "
                              "请由另一位安全管理员办理。")


@check("user.change_password")
def user_change_password(ctx: Any, **_inputs: Any) -> None:
    if ctx.caller.user_id is None:
        raise NotPermitted(f"{ctx.caller.who} has no account of its own to change the password of: give --user",
                           code="PersonOnly", zh="只有个人账号才能修改自己的密码。")


check("user.create")(allowed("users"))
for _name in ("disable", "enable", "set_roles", "reset_password", "unlock"):
    check(f"user.{_name}")(_not_own_account)
check("user.list")(_reads_accounts)
check("user.show")(_reads_accounts)


# certificate requests (CSR), issuance, renewal, expiry
#   (trust.certificates; the checks go below this line)
#
#   pki.request                      a department's connect roles (admin, cataloguer, provider), for their
#                                    department or one of its own application systems
#   pki.requests, .list              security: every department's; the connect roles: their department's
#   pki.approve, .refuse, .expiring  security
#   pki.certificate, .revoke         security: any certificate; the connect roles: their department's (a
#                                    compromised key cannot wait for the security administrator)
#
# A department's admin acts here for its own department only, like its other connect roles: certificates
# are the security administrator's (三员分立), a department's connection its own people's.


def _connecting(caller: Caller) -> int:
    """The department of a caller who connects it (``connect``); refuse anyone else."""
    require(caller, "connect")
    return require_department(caller)


def _own_department(caller: Caller, department_id: int, what: str, zh_what: str) -> None:
    if department_id != caller.department_id:
        raise NotPermitted(f"{caller.who} may not {what}: it belongs to another department than "
                           f"{caller.department_code}", zh=f"{zh_what}属于其他部门, 您只能办理本部门的证书事务。")


@check("pki.request")
def pki_request(ctx: Any, *, system: str | None = None, **_inputs: Any) -> None:
    from sqlalchemy import select

    from registry.models import AppSystem

    _connecting(ctx.caller)
    row = ctx.session.scalar(select(AppSystem).where(AppSystem.code == system.strip().lower())) if system else None
    if row is not None:  # an unknown system: the action says so
        _own_department(ctx.caller, row.department_id, f"request certificates for {row.code}", f"应用系统 {row.code} ")


def _certificate_listing(ctx: Any, *, department: str | None = None, **_inputs: Any) -> None:
    if ctx.caller.can("certificates"):
        return
    _connecting(ctx.caller)
    wanted = (department or "").strip()
    if wanted and wanted.lower() != ctx.caller.department_code and wanted.upper() != (ctx.caller.credit_code or ""):
        raise NotPermitted(f"{ctx.caller.who} sees only {ctx.caller.department_code}'s certificates, not {wanted}'s",
                           zh="您只能查看本部门的证书和证书申请。")


def _certificate_holder(ctx: Any, *, serial: str = "", **_inputs: Any) -> None:
    from registry.models import Certificate

    from .pki import serial_key

    if ctx.caller.can("certificates"):
        return
    _connecting(ctx.caller)
    row = ctx.session.get(Certificate, serial_key(serial))
    if row is not None:  # an unknown serial: the action says so
        _own_department(ctx.caller, row.department_id, f"use the certificate {row.serial}", f"证书 {row.serial} ")


check("pki.requests")(_certificate_listing)
check("pki.list")(_certificate_listing)
check("pki.approve")(allowed("certificates"))
check("pki.refuse")(allowed("certificates"))
check("pki.expiring")(allowed("certificates"))
check("pki.certificate")(_certificate_holder)
check("pki.revoke")(_certificate_holder)
