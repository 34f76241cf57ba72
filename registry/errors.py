"""The platform's one error vocabulary: every refusal or failure a caller can meet.

An error has a stable ``code`` (the SOAP fault's detail code, the audit entry's result
``refused:<code>`` / ``fault:<code>``), an English ``message`` for developers and logs, and a
Chinese ``user_message`` for the portal's users (``ZH`` gives one per code; an error may carry
its own).  ``fault`` says whose it is to fix: ``Client`` (the caller's: the request, the input,
the caller's rights) or ``Server`` (the platform's: it is logged; try again later).  Front ends
map them alike:

    SOAP       <faultcode>soap:Client</faultcode><faultstring>NotAuthorized: ...</faultstring>
               <detail><ex:ExchangeFault><ex:code>NotAuthorized</ex:code>...</detail>
    portal     the Chinese message, with what the user can do in the portal
    CLI        the English message on stderr; exit status EXIT_USER (2) for a Client error,
               EXIT_PLATFORM (1) for a Server one

The categories (``InvalidInput``, ``NotFound``, ``NotPermitted``, ``NotAuthorized``,
``NotShared``, ``Conflict``, ``Unavailable``) are what front ends and tests catch; a package's
own error classes derive from one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

EXIT_OK, EXIT_PLATFORM, EXIT_USER = 0, 1, 2

#: the Chinese message of each code, for a user who meets it without a message of its own
ZH = {
    "InvalidRequest": "请求内容不符合要求, 请检查后重试。",
    "NotFound": "要找的对象不存在或您无权查看。",
    "NotPermitted": "您的角色或所属部门不允许此操作。",
    "NotAuthorized": "您所在部门尚无读取该资源的有效授权, 可提交使用申请。",
    "NotShared": "该资源为不予共享资源, 只向提供部门开放。",
    "Conflict": "对象当前的状态不允许此操作。",
    "Unavailable": "平台暂时无法完成请求, 请稍后重试。",
    "InternalError": "平台内部错误, 已记录, 请稍后重试或联系平台管理员。",
    # the exchange service (wsdl/exchange.wsdl)
    "MalformedXml": "请求不是格式正确的 XML。",
    "XmlRefused": "请求中不允许出现 DTD 或实体声明。",
    "MalformedSoap": "请求不是有效的 SOAP 1.1 消息。",
    "VersionMismatch": "本接口只接受 SOAP 1.1 消息。",
    "MustUnderstand": "请求带有本接口不处理的必须理解 (mustUnderstand) 消息头。",
    "UnknownOperation": "接口没有该操作。",
    "RequestTooLarge": "请求超过平台接受的大小, 请分批发送。",
    "InvalidBatch": "批次的头信息有误 (记录数、摘要或字段)。",
    "UnknownFormat": "记录类型不是已登记的交换格式。",
    "UnknownResource": "没有该资源代码的已发布资源。",
    "NotProvider": "批次的提供部门不是该资源的提供方。",
    "UnknownDepartment": "没有该统一社会信用代码的已登记部门。",
    "BatchIdConflict": "该批次号已用于内容不同的批次。",
    "UnknownBatch": "没有收到过该批次号的批次。",
    "ProviderUnavailable": "提供部门的服务暂时没有应答, 请稍后重试。",
    "DatabaseUnavailable": "平台数据库暂时无法提供服务, 请稍后重试。",
    "AuditUnavailable": "平台暂时无法记录审计日志, 本次访问未执行, 请稍后重试。",
    "ServerBusy": "平台正忙, 请稍后重试。",
    # WS-Security on the exchange (trust/wsse.py): the wsse: fault codes
    "InvalidSecurity": "请求的 WS-Security 消息头不符合要求, 请按接口的安全策略签名。",
    "InvalidSecurityToken": "请求携带的证书无法读取。",
    "SecurityTokenUnavailable": "请求没有携带签名所用的证书。",
    "UnsupportedAlgorithm": "请求使用了平台不接受的签名算法 (须为 RSA-SHA256、SHA-256、exc-c14n)。",
    "FailedCheck": "请求的签名校验未通过, 或该消息已经收到过 (重放)。",
    "MessageExpired": "请求的时间戳已过期, 请重新签名后发送。",
    "FailedAuthentication": "签名证书无效或已吊销, 证书所属部门或应用系统已暂停接入, "
                            "或请求代表的部门不是证书所属部门。",
    # the catalogue (目录)
    "InvalidMetadata": "目录元数据有误, 请按提示修改。",
    "EntryNotFound": "没有该资源代码的目录条目, 或您无权查看。",
    "IllegalTransition": "目录条目当前的状态不允许此操作。",
    "ReasonRequired": "请填写原因。",
    "CodeAllocationFailed": "暂时无法分配资源代码, 请稍后重试。",
    "PublicationFailed": "目录条目未能发布到资源目录。",
    "NoServiceAddress": "资源格式为接口的条目须有 WSDL 或服务地址才能审核通过或发布。",
    "ReasonTooLong": "理由太长, 请精简后重新提交。",
    "InvalidWorkbook": "导入的工作簿有误, 没有导入任何条目; 请按提示修改后重新导入。",
    "InvalidWsdl": "WSDL 文档不符合要求 (须为 WSDL 1.1、document/literal、SOAP 1.1), 请更正后重新发布。",
    "InvalidWsdlPath": "WSDL 路径不可用: 用小写字母、数字和 . _ - 组成, 以 / 分段, 以 .wsdl 结尾 (如 gaj/query.wsdl)。",
    "WsdlPathTaken": "该 WSDL 路径已被其他部门使用, 请换一个路径。",
    "WsdlUnreachable": "无法从该网址取得 WSDL 文档, 请检查网址或改为上传文件。",
    # sharing governance and correction
    "ApplicationNotFound": "没有该使用申请。",
    "GrantNotFound": "没有该授权。",
    "ReportNotFound": "没有该纠错报告。",
    "AlreadyAnswered": "该事项已经答复, 不能再次处理。",
    # adapters
    "QuarantineNotFound": "没有该隔离记录。",
    "UnknownAdapter": "没有该适配器配置。",
    "InvalidAdapterFile": "适配器配置文件有误, 请按提示修改后再试。",
    "SyncFailed": "同步任务未能完成, 原因已记入同步任务, 请在交换监控中查看或联系平台管理员。",
    "SourceUnavailable": "部门数据源暂时无法读取, 请稍后重试或联系该部门。",
    "AlreadyRunning": "该适配器正在同步, 请等本次同步结束后再试。",
    "QuarantineClosed": "该隔离记录已处理 (已重放、已丢弃或已消除), 不能再操作。",
    "InvalidCorrection": "更正内容有误, 请按提示修改。",
    # PKI
    "CertificateNotFound": "没有该序列号的证书。",
    "NoCertificateAuthority": "平台尚未建立证书颁发机构 (CA)。",
    "CertificateAuthorityExists": "平台的证书颁发机构 (CA) 已经存在。",
    "CertificateAuthorityUnreadable": "平台证书颁发机构 (CA) 的密钥无法读取, 请联系平台管理员。",
    "AlreadyRevoked": "该证书已被吊销。",
    "UnknownRevocationReason": "吊销原因不是规定的原因之一。",
    # certificate requests (trust/certificates.py): CSRs, approval, renewal
    "InvalidCsr": "不是有效的证书请求 (PKCS#10, PEM 或 DER 格式)。",
    "CsrSignatureInvalid": "证书请求的签名校验未通过, 请重新生成。",
    "CsrWeakKey": "证书请求的密钥强度不足 (须为 2048 位及以上的 RSA 或 P-256、P-384 的 EC 密钥)。",
    "CsrWeakSignature": "证书请求的签名算法强度不足, 须为 SHA-256 或更强。",
    "KeyReused": "该密钥已用于本平台的其他证书或证书请求, 请生成新的密钥。",
    "UnknownSystem": "没有该代码的应用系统。",
    "NotRenewable": "该证书不能续期 (不属于申请方, 或已吊销、已到期)。",
    "CertificateRequestNotFound": "没有该证书申请。",
    "RequestAlreadyDecided": "该证书申请已经处理, 不能再次审批。",
    "UnknownStatus": "未知的状态。",
    # onboarding (governance/onboarding.py): 部门登记, suspension, application systems
    "InvalidRegistration": "登记信息有误, 请按提示修改。",
    "RegistrationNotFound": "没有该部门登记申请。",
    "AlreadySuspended": "该部门或应用系统已处于暂停状态。",
    "NotSuspended": "该部门或应用系统未被暂停, 无需恢复。",
    "RegistrationTaken": "部门代码、名称或统一社会信用代码已被其他部门登记或申请。",
    # the audit log
    "NothingToCheckpoint": "审计日志为空, 没有可签名的记录。",
    "InvalidDate": "日期格式应为 YYYY-MM-DD。",
    # the evidence log (消息日志, trust/evidence.py): archives by period
    "InvalidPeriod": "归档期间的格式应为 YYYY-MM (按北京时间计的月份)。",
    "PeriodNotEnded": "该月份尚未结束, 不能归档。",
    "NothingToArchive": "该月份没有审计记录, 没有可归档的内容。",
    "ArchiveExists": "该月份的归档文件已经存在。",
    "TimestampFailed": "时间戳服务未能为归档加盖时间戳。",
    # signing in
    "BadCredentials": "用户名或密码错误, 或账户已停用。",
    # accounts (governance/users.py, trust/passwords.py): users, roles (三员分立), passwords, lock-out
    "AccountLocked": "连续输错密码次数过多, 账户已锁定, 请稍后再试或请安全管理员解锁。",
    "PasswordRejected": "密码不符合密码规则, 请按提示修改。",
    "PasswordTooShort": "密码太短。",
    "PasswordTooLong": "密码太长。",
    "PasswordTooSimple": "密码须包含大写字母、小写字母、数字、其他符号中的至少 3 类。",
    "PasswordContainsUsername": "密码不能包含用户名。",
    "PasswordReused": "新密码不能与最近使用过的密码相同。",
    "WrongPassword": "当前密码不正确。",
    "PasswordChangeRequired": "密码为临时密码或已过期, 请先在门户的“修改密码”页面设置新密码。",
    "UnknownUser": "没有该用户。",
    "InvalidUsername": "用户名须为 3 到 64 个小写字母、数字或 . _ - , 以字母开头。",
    "InvalidDisplayName": "姓名不能超过 100 个字符。",
    "UsernameTaken": "该用户名已被使用, 请换一个。",
    "RolesRequired": "请至少选择一个角色。",
    "DepartmentRequired": "目录管理员、提供方和使用方须属于一个部门。",
    "OwnAccount": "不能停用、启用、解锁自己的账号, 也不能修改自己的角色或重置自己的密码; 请由另一位安全管理员办理。",
    "AlreadyDisabled": "该账号已经停用。",
    "NotDisabled": "该账号未停用, 无需启用。",
    "PersonOnly": "只有个人账号才能修改自己的密码。",
}


class GovshareError(Exception):
    """An error a caller can act on; see the module docstring."""

    code = "InternalError"
    fault = "Server"

    def __init__(self, message: str, *, code: str | None = None, zh: str | None = None, field: str = "",
                 fault: str | None = None):
        if code is not None:
            self.code = code
        if fault is not None:
            self.fault = fault
        self.message = message
        self.field = field
        self._zh = zh
        super().__init__(message)

    @property
    def user_message(self) -> str:
        """What the portal shows (Chinese)."""
        return self._zh or ZH.get(self.code) or ZH[type(self).code]

    @property
    def exit_status(self) -> int:
        return EXIT_PLATFORM if self.fault == "Server" else EXIT_USER

    @property
    def fault_code(self) -> str:
        """The SOAP faultcode: ``Client``, ``Server``, or one of SOAP's or WS-Security's own."""
        return self.fault


class InvalidInput(GovshareError):
    """The input breaks a rule the caller can read; ``field`` names the input when there is one."""

    code, fault = "InvalidRequest", "Client"


class NotFound(GovshareError):
    """What the caller named does not exist, or the caller may not know it does."""

    code, fault = "NotFound", "Client"


class NotPermitted(GovshareError):
    """The caller's roles or department do not allow the action."""

    code, fault = "NotPermitted", "Client"


class NotAuthorized(GovshareError):
    """No grant lets the caller read a 有条件共享 resource (the message says why and how to apply)."""

    code, fault = "NotAuthorized", "Client"


class NotShared(GovshareError):
    """A 不予共享 resource: served to its provider only."""

    code, fault = "NotShared", "Client"


class Conflict(GovshareError):
    """The object's state does not allow the action now (answered already, another run, ...)."""

    code, fault = "Conflict", "Client"


class Unavailable(GovshareError):
    """The platform, its database or a provider cannot serve now; the request may be sent again."""

    code, fault = "Unavailable", "Server"


class ExchangeError(GovshareError):
    """An error of the exchange contract (``wsdl/exchange.wsdl``), named by its code: a SOAP
    Fault with an ``ExchangeFault`` detail; ``fault_code`` is the SOAP faultcode (``Client``,
    ``Server``, ``VersionMismatch``, ``MustUnderstand`` or a ``wsse:`` code)."""

    def __init__(self, code: str, message: str, fault_code: str = "Client", *, zh: str | None = None):
        super().__init__(message, code=code, zh=zh, fault=fault_code)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


# ----------------------------------------------------------------------------- UDDI v3 (directory/uddi)

ERRNO = {
    "E_success": 0,
    "E_nameTooLong": 10020,
    "E_tooManyOptions": 10030,
    "E_unrecognizedVersion": 10040,
    "E_unsupported": 10050,
    "E_languageError": 10060,
    "E_authTokenExpired": 10110,
    "E_authTokenRequired": 10120,
    "E_userMismatch": 10140,
    "E_unknownUser": 10150,
    "E_accountLimitExceeded": 10160,
    "E_invalidKeyPassed": 10210,
    "E_busy": 10400,
    "E_fatalError": 10500,
    "E_invalidValue": 20200,
    "E_valueNotAllowed": 20210,
    "E_unvalidatable": 20220,
    "E_invalidProjection": 20230,
    "E_requestTimeout": 20240,
    "E_assertionNotFound": 30000,
    "E_invalidCompletionStatus": 30100,
    "E_messageTooLarge": 30110,
    "E_keyUnavailable": 40100,
    "E_resultSetTooLarge": 40300,
    "E_invalidCombination": 40500,
    "E_transferNotAllowed": 40600,
    "E_requestDenied": 50070,
}

# Errors caused by the node itself; everything else is the caller's to fix.
_SERVER_SIDE = {"E_fatalError", "E_busy", "E_requestTimeout"}


class UddiError(GovshareError):
    """An error of the UDDI v3 APIs (spec section 12.1), named by its error code: a SOAP Fault
    carrying a dispositionReport with the code's errno."""

    def __init__(self, err_code: str, message: str, *, zh: str | None = None):
        if err_code not in ERRNO:
            raise ValueError(f"unknown UDDI error code {err_code}")
        super().__init__(message, code=err_code, zh=zh, fault="Server" if err_code in _SERVER_SIDE else "Client")
        self.err_code = err_code
        self.errno = ERRNO[err_code]

    def __str__(self) -> str:
        return f"{self.err_code}: {self.message}"


# ----------------------------------------------------------------------------- the catalogue (directory/catalogue)


class CatalogueError(GovshareError):
    """Base of every error a catalogue action raises (目录)."""

    code, fault = "InvalidRequest", "Client"


class MetadataError(CatalogueError):
    """One broken metadata rule (元数据校验错误): which field, which rule, and the detail; ``zh`` is the
    rule in Chinese words and ``label`` the field's Chinese name, for the portal."""

    def __init__(self, field: str, rule: str, message: str = "", *, zh: str = "", label: str = ""):
        self.rule = rule
        self.zh, self.label = zh or rule, label or field
        super().__init__(f"{field}: {rule}" + (f" ({message})" if message else ""), code="InvalidMetadata",
                         field=field, zh=f"{self.label}: {self.zh}")
        self.message = message  # the detail (``str()`` gives the whole line)

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}" + (f" ({self.message})" if self.message else "")

    def __repr__(self) -> str:
        return f"MetadataError({self.field!r}, {self.rule!r}, {self.message!r})"


class InvalidMetadata(CatalogueError, InvalidInput):
    """Metadata refused; ``errors`` lists every broken rule, not just the first."""

    def __init__(self, errors: list[MetadataError]):
        self.errors = list(errors)
        lines = "\n".join(f"  {e}" for e in self.errors)
        plural = "error" if len(self.errors) == 1 else "errors"
        super().__init__(f"invalid catalogue metadata ({len(self.errors)} {plural}):\n{lines}", code="InvalidMetadata",
                         zh=f"目录元数据有 {len(self.errors)} 处需要修改: "
                            + "; ".join(e.user_message for e in self.errors) + "。")

    @property
    def fields(self) -> set[str]:
        return {e.field for e in self.errors}

    def rule_for(self, field: str) -> str | None:
        """The rule broken by ``field`` (the first, if it broke several), or None."""
        return next((e.rule for e in self.errors if e.field == field), None)


class EntryNotFound(CatalogueError, NotFound):
    """No catalogue entry with this resource code is visible to the user."""

    def __init__(self, resource_code: str):
        self.resource_code = resource_code
        super().__init__(f"no catalogue entry {resource_code} (资源代码) is visible to you", code="EntryNotFound",
                         zh=f"没有资源代码为 {resource_code} 的目录条目, 或您无权查看。")


class IllegalTransition(CatalogueError, Conflict):
    """The action does not apply to an entry in its current status (状态); ``zh`` says so in the portal's words."""

    def __init__(self, resource_code: str, action: str, status: str, allowed: list[str], *, zh: str | None = None):
        self.resource_code, self.action, self.status, self.allowed = resource_code, action, status, allowed
        can = ", ".join(allowed) if allowed else "nothing"
        super().__init__(f"cannot {action} {resource_code}: it is {status}; from {status} the allowed actions "
                         f"are: {can}", code="IllegalTransition", zh=zh)


class ReasonRequired(CatalogueError):
    """Refusal (退回) and withdrawal (下架) must say why."""

    def __init__(self, action: str, *, zh: str | None = None):
        self.action = action
        super().__init__(f"reason: required to {action} an entry", code="ReasonRequired", field="reason", zh=zh)


class NoServiceAddress(CatalogueError, Conflict):
    """A 接口 entry without a WSDL or a 服务地址 is not approved or published: nobody could call it."""

    def __init__(self, resource_code: str, action: str, *, zh: str | None = None):
        self.resource_code = resource_code
        super().__init__(f"cannot {action} {resource_code}: its format is 接口 but it has neither a wsdl_path nor an "
                         "access_point; its provider department adds one and submits it again", code="NoServiceAddress",
                         zh=zh)


class CodeAllocationFailed(CatalogueError):
    """No free resource code after several attempts (heavy concurrent cataloguing)."""

    code, fault = "CodeAllocationFailed", "Server"


class PublicationFailed(CatalogueError):
    """The directory refused the entry's businessService; nothing was published."""

    code, fault = "PublicationFailed", "Server"


class CellError:
    """One problem of an imported spreadsheet, where a person finds it: the sheet, the row as the
    spreadsheet numbers it (None: the sheet or the file as a whole), the column's header and the
    metadata field it holds, the problem in Chinese and, for developers, in English::

        目录编制!5 共享条件 (sharing_condition): 共享类型为有条件共享时必填: 写明哪些部门可以使用、用于什么业务
    """

    __slots__ = ("sheet", "row", "column", "field", "message", "detail")

    def __init__(self, sheet: str, row: int | None, column: str, field: str, message: str, detail: str = ""):
        self.sheet, self.row, self.column, self.field = sheet, row, column, field
        self.message, self.detail = message, detail or message

    def __str__(self) -> str:
        where = self.sheet + (f"!{self.row}" if self.row is not None else "")
        column = f" {self.column}" + (f" ({self.field})" if self.field and self.field != self.column else "")
        return f"{where}{column if self.column else ''}: {self.message}"

    def __repr__(self) -> str:
        return f"CellError({self.sheet!r}, {self.row!r}, {self.column!r}, {self.field!r}, {self.message!r})"


class InvalidWorkbook(CatalogueError, InvalidInput):
    """A catalogue spreadsheet refused (目录导入); ``errors`` lists every problem of every row, and nothing
    of the workbook was saved."""

    #: how many problems the Chinese message names before "..."
    SHOWN = 5

    def __init__(self, errors: Sequence[CellError]):
        self.errors = list(errors)
        lines = "\n".join(f"  {e.sheet}" + (f"!{e.row}" if e.row is not None else "")
                          + (f" {e.field or e.column}" if e.field or e.column else "") + f": {e.detail}"
                          for e in self.errors)
        plural = "problem" if len(self.errors) == 1 else "problems"
        shown = "; ".join(str(e) for e in self.errors[:self.SHOWN]) + ("……" if len(self.errors) > self.SHOWN else "")
        super().__init__(f"the workbook was not imported ({len(self.errors)} {plural}):\n{lines}",
                         code="InvalidWorkbook",
                         zh=f"工作簿有 {len(self.errors)} 处需要修改, 没有导入任何条目: {shown}。")


# ----------------------------------------------------------------------------- sharing governance (governance/)


class GovernanceError(InvalidInput):
    """A governance action refused (使用申请, grants, masking, 纠错); the message names the field
    or rule and says what to do."""

    def __init__(self, message: str, field: str = "", *, code: str | None = None, zh: str | None = None):
        super().__init__(message, field=field, code=code, zh=zh)


# ----------------------------------------------------------------------------- onboarding (governance/onboarding.py)


class InvalidRegistration(InvalidInput):
    """A 登记 form (a department's application, an application system) that breaks rules: ``problems``
    maps each field to its English and Chinese message - every field found wrong, not just the first::

        InvalidRegistration({"credit_code": ("not a valid 统一社会信用代码 (GB 32100)", "统一社会信用代码无效 ..."),
                             "contact_phone": ("required", "请填写联系电话。")})
    """

    code = "InvalidRegistration"

    def __init__(self, problems: dict[str, tuple[str, str]]):
        self.problems = dict(problems)
        super().__init__("; ".join(f"{name}: {english}" for name, (english, _) in self.problems.items()),
                         field=next(iter(self.problems), ""),
                         zh=f"登记信息有 {len(self.problems)} 处需要修改: "
                            + " ".join(chinese for _, chinese in self.problems.values()))

    @property
    def zh_by_field(self) -> dict[str, str]:
        """Field -> its Chinese message, for a form that shows each beside its field."""
        return {name: chinese for name, (_, chinese) in self.problems.items()}


# ----------------------------------------------------------------------------- accounts (trust/passwords.py)


class PasswordRejected(InvalidInput):
    """A password that breaks the policy: ``errors`` holds every rule it breaks, each with its own code
    (``PasswordTooShort``, ``PasswordTooSimple``, ...) and Chinese message, not just the first::

        PasswordRejected([InvalidInput("a password has at least 10 characters", code="PasswordTooShort", ...),
                          InvalidInput("a password may not hold the user name", code="PasswordContainsUsername")])
    """

    code = "PasswordRejected"

    def __init__(self, errors: list[GovshareError]):
        self.errors = list(errors)
        super().__init__("the password breaks the policy: " + "; ".join(e.message for e in self.errors),
                         field="password", zh="密码不符合要求: " + " ".join(e.user_message for e in self.errors))

    @property
    def codes(self) -> list[str]:
        return [e.code for e in self.errors]


# ----------------------------------------------------------------------------- SOAP (wsdl/soap.py)


class SoapFault(GovshareError):
    """A fault of the SOAP envelope itself, named by its SOAP faultcode (``VersionMismatch``,
    ``MustUnderstand``, ``Client``), before any API reads the request."""

    def __init__(self, fault_code: str, message: str):
        super().__init__(message, code="MalformedSoap" if fault_code == "Client" else fault_code, fault=fault_code)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


# ----------------------------------------------------------------------------- adapters (adapters/)


class AdapterConfigError(InvalidInput):
    """An adapter file that cannot be used; ``problems`` holds every (where, message) found::

        gaj.toml: line 14, fields.sexx: sexx is not a field of {...}Person
    """

    code = "InvalidAdapterFile"

    def __init__(self, path: Path | str, where: str, message: str, more: Sequence[tuple[str, str]] = ()) -> None:
        self.path = Path(path)
        self.problems: list[tuple[str, str]] = [(where, message), *more]
        super().__init__("\n".join(f"{self.path}: {w}: {m}" if w else f"{self.path}: {m}" for w, m in self.problems),
                         field="file")

    @property
    def where(self) -> str:
        return self.problems[0][0]


class SyncError(GovshareError):
    """An adapter run (同步) that could not complete; the run's row in ``sync_run`` says why."""

    code, fault = "SyncFailed", "Server"


class SourceError(Unavailable):
    """A department's source that cannot be read now (down, refusing, a file that is not there)."""

    code = "SourceUnavailable"


class AlreadyRunning(Conflict):
    """Another run of the adapter holds its lock (in this process or another)."""

    code = "AlreadyRunning"

    def __init__(self, name: str, detail: str = "") -> None:
        self.name = name
        super().__init__(f"{name} is already running{f' ({detail})' if detail else ''}")
