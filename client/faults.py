"""The platform's refusals as a department's program meets them: typed exceptions, each with the
error's stable code, the developer's message (English) and the message for people (Chinese).

    try:
        records = list(exchange.query("101001002/000001", keys=["330102199001011234"]))
    except AccessRefused as refusal:   # no grant, 不予共享, a suspended department ...
        print(refusal.code, refusal.user_message)   # NotAuthorized 您所在部门尚无读取该资源的有效授权, ...

Every exception here is a :class:`PlatformError`; which one says what the program can do:

=====================  =========================================================================
SecurityFault          the signature, the certificate or its holder was refused (``wsse:`` codes:
                       FailedAuthentication for a revoked certificate or a suspended department,
                       MessageExpired for a clock that is wrong, ...): fix the set-up, not the call
AccessRefused          the caller may not do this (NotAuthorized, NotShared, NotPermitted,
                       DepartmentSuspended, ...): apply for the resource, or ask the platform
NotFound               no such resource, batch or department (Unknown..., ...NotFound)
InvalidRequest         the request itself is wrong (InvalidRequest, MalformedXml, ...): fix it
Unavailable            the platform could not answer now (Server faults: DatabaseUnavailable,
                       ServerBusy, ProviderUnavailable, ...): try again later, unchanged
=====================  =========================================================================
"""

from __future__ import annotations

from lxml import etree

EXCHANGE_NS = "http://govshare.local/xsd/exchange/1.0"  # the types of wsdl/exchange.wsdl
UDDI_NS = "urn:uddi-org:api_v3"

ACCESS_CODES = frozenset({"NotAuthorized", "NotShared", "NotPermitted", "NotProvider", "DepartmentSuspended",
                          "SystemSuspended"})

#: the local names of the WS-Security fault codes (a SOAP stack may give them without their prefix)
WSSE_CODES = frozenset({"InvalidSecurity", "UnsupportedAlgorithm", "FailedCheck", "MessageExpired",
                        "FailedAuthentication", "InvalidSecurityToken", "SecurityTokenUnavailable",
                        "UnsupportedSecurityToken"})


class PlatformError(Exception):
    """A refusal or failure the platform answered with a SOAP Fault."""

    def __init__(self, code: str, message: str, user_message: str = "", fault_code: str = "Client"):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.user_message = user_message or message
        self.fault_code = fault_code


class SecurityFault(PlatformError):
    """WS-Security refused the message (its signature, its certificate, or the certificate's holder)."""


class UntrustedAnswer(SecurityFault):
    """An answer (or a fault) to a signed request that the platform did not sign, or that was altered
    on its way: whatever it says is not taken for the platform's word."""


class AccessRefused(PlatformError):
    """The caller may not do what it asked."""


class NotFound(PlatformError):
    """What the request names does not exist on the platform."""


class InvalidRequest(PlatformError):
    """The request is wrong; sent again unchanged, it is refused again."""


class Unavailable(PlatformError):
    """The platform could not answer now; the same request may be sent again later."""


def from_fault(fault) -> PlatformError:
    """The typed exception of a zeep ``Fault`` (its faultcode, faultstring and ExchangeFault detail)."""
    fault_code = _local(fault.code or "")
    code, message, user_message = fault_code, fault.message or "", ""
    detail = fault.detail
    found = detail.find(f".//{{{EXCHANGE_NS}}}ExchangeFault") if detail is not None else None
    if found is not None:
        code = found.findtext(f"{{{EXCHANGE_NS}}}code") or code
        message = found.findtext(f"{{{EXCHANGE_NS}}}message") or message
        user_message = found.findtext(f"{{{EXCHANGE_NS}}}userMessage") or ""
    report = detail.find(f".//{{{UDDI_NS}}}errInfo") if detail is not None else None
    if report is not None:  # a UDDI dispositionReport: E_invalidKeyPassed, E_busy, ...
        code, message = report.get("errCode") or code, (report.text or message).strip()
    prefix = f"{code}: "
    message = message[len(prefix):] if message.startswith(prefix) else message
    if (fault.code or "").startswith("wsse:") or "wssecurity-secext" in (fault.code or "") or code in WSSE_CODES:
        kind = SecurityFault
    elif code in ACCESS_CODES:
        kind = AccessRefused
    elif fault_code == "Server":
        kind = Unavailable
    elif code in ("E_busy", "E_fatalError"):
        kind = Unavailable
    elif code.startswith("Unknown") or code.endswith("NotFound") or code == "E_invalidKeyPassed":
        kind = NotFound
    else:
        kind = InvalidRequest
    return kind(code, message, user_message, fault_code)


def _local(code: str) -> str:
    """``Client`` of ``soap:Client``, ``{ns}Client`` or ``Client``."""
    if code.startswith("{"):
        return etree.QName(code).localname
    return code.rsplit(":", 1)[-1]
