"""UDDI security API (spec 5.1): get_authToken and discard_authToken, and the
authInfo check every publication and subscription call makes (``as_publisher``).

    <get_authToken xmlns="urn:uddi-org:api_v3" userID="gaj-publisher" cred="..."/>
    ->
    <authToken xmlns="urn:uddi-org:api_v3"><authInfo>3q2-...</authInfo></authToken>

Tokens are random, stored only as their SHA-256, and expire after
``Settings.token_ttl`` seconds.  ``userID`` and ``cred`` are checked as the portal's sign-in checks
them (``trust.passwords.authenticate``: one count of wrong passwords and one lock-out for both); a
refusal is ``E_unknownUser`` with the reason (a locked account, a suspended department), and an account
whose password is temporary or expired gets no token until its holder changes it in the portal.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from lxml import etree

from registry.errors import ZH, GovshareError, NotPermitted, UddiError
from registry.models import AuthToken, Department, User
from trust.actions import Context
from trust.auth import Caller
from trust.passwords import authenticate as check_password
from trust.passwords import must_change

from .context import Call
from .store import fresh, q, sub


@dataclass
class Publisher:
    """The authenticated caller of a publication API."""

    user: User
    department: Department | None

    @property
    def name(self) -> str:
        return self.user.username

    @property
    def is_admin(self) -> bool:
        return "admin" in self.user.role_set

    def may_change(self, owner_id: int | None) -> bool:
        if self.is_admin:
            return True
        return self.department is not None and owner_id == self.department.id


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def get_auth_token(call: Call, request: etree._Element) -> etree._Element:
    try:
        user = check_password(call.session, call.settings, request.get("userID", ""), request.get("cred", ""),
                              call.now)
    except GovshareError as refused:
        if refused.code == "BadCredentials":
            raise UddiError("E_unknownUser", "the userID and cred do not identify an active publisher") from None
        raise UddiError("E_unknownUser", refused.message, zh=refused.user_message) from None
    if must_change(user, call.settings, call.now):
        raise UddiError("E_unknownUser", f"the password of {user.username} is temporary or expired: change it in "
                        "the portal (修改密码) first", zh=ZH["PasswordChangeRequired"])
    token = secrets.token_urlsafe(32)
    call.session.add(
        AuthToken(token_hash=_digest(token), user_id=user.id, issued=call.now,
                  expires=call.now + timedelta(seconds=call.settings.token_ttl), discarded=False)
    )
    out = fresh("authToken")
    sub(out, "authInfo", text=token)
    return out


def discard_auth_token(call: Call, request: etree._Element) -> None:
    row = _token_row(call, request)
    row.discarded = True
    return None


def _token_row(call: Call, request: etree._Element) -> AuthToken:
    info = request.find(q("authInfo"))
    if info is None or not (info.text or "").strip():
        raise UddiError("E_authTokenRequired", "this API needs an authInfo element: call get_authToken first")
    row = call.session.get(AuthToken, _digest(info.text.strip()))
    if row is None or row.discarded:
        raise UddiError("E_authTokenRequired", "the authInfo is not a valid token (unknown or discarded)")
    if row.expires <= call.now:
        raise UddiError("E_authTokenExpired", f"the authInfo expired at {row.expires.isoformat()}Z; get a new one")
    return row


def authenticate(call: Call, request: etree._Element) -> Publisher:
    row = _token_row(call, request)
    if not row.user.active:
        raise UddiError("E_authTokenRequired", "the publisher account behind this token is disabled")
    caller = call.caller
    if caller is not None and row.user.department is not None and row.user.department.id != caller.department_id:
        # the message is signed by one department and the token is another's (S2)
        raise UddiError("E_userMismatch", f"the message is signed with the certificate of {caller.department_name} "
                        f"but the authInfo belongs to {row.user.username} of {row.user.department.name}")
    return Publisher(user=row.user, department=row.user.department)


def _publisher(call: Call, request: etree._Element) -> Context:
    """The action context of the request's publisher: the authInfo's account, channel ``soap``, with the
    certificate that signed the request when one did."""
    publisher = authenticate(call, request)
    signer = call.caller.certificate_serial if call.caller is not None else None
    caller = Caller.of_user(publisher.user, "soap", certificate_serial=signer)
    return Context(caller, call.sessions, call.settings, now=call.now)


def as_publisher(run: Callable[[Context, etree._Element], etree._Element | None]):
    """A SOAP operation calling an action as the request's publisher; a role the action refuses is E_userMismatch."""

    def operation(call: Call, request: etree._Element) -> etree._Element | None:
        ctx = _publisher(call, request)
        try:
            return run(ctx, request)
        except NotPermitted as refused:
            raise UddiError("E_userMismatch", refused.message) from refused

    return operation
