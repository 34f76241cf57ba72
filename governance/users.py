"""Accounts (用户), their roles and their passwords, as 等保三级 asks: the security administrator (安全管理员)
makes and keeps the accounts, the auditor (审计员) reads them, and no account holds two of the three
duties (三员分立: ``trust.auth.separate_duties``).  The actions (who may run each is its check in
``trust.auth``)::

    user.create           (security)  a new account; its first password is given, or generated and shown
                                      once, and is temporary (changed at the first sign-in) unless
                                      ``temporary=False``
    user.list, user.show  (security, auditor)  accounts with their department, roles, status and password age
    user.disable          (security, not one's own)  active -> disabled: its portal sessions and UDDI
                                      authTokens end now
    user.enable           (security, not one's own)  disabled -> active
    user.set_roles        (security, not one's own)  its roles, 三员分立 checked
    user.reset_password   (security, not one's own)  a temporary password, shown once; unlocks; its
                                      sessions end
    user.unlock           (security, not one's own)  ends a lock-out (``trust.passwords``)
    user.change_password  (anyone, their own account)  the current password, then the policy and history

An account's status (``Account.status``)::

    active     may sign in
    disabled   停用: refused as a wrong password is (``trust.passwords.authenticate``)
    locked     锁定: too many wrong passwords, until ``locked_until``

A user name is 3 to 64 lower-case letters, digits, ``.``, ``_`` or ``-``, starting with a letter
(``mzj.li``, ``gaj-provider``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from directory.lookups import department_by_code
from registry.errors import Conflict, InvalidInput, NotFound
from registry.models import AuthToken, Department, User
from registry.settings import Settings
from trust import notices, passwords
from trust.actions import Context, action
from trust.auth import ROLES, role_names, separate_duties

USERNAME = re.compile(r"[a-z][a-z0-9._-]{2,63}")
DISPLAY_NAME_LENGTH = 100
#: roles that act for a department, so an account holding one belongs to a department
DEPARTMENT_ROLES = frozenset({"cataloguer", "provider", "consumer"})
ACTIVE, DISABLED, LOCKED = "active", "disabled", "locked"
#: an account's status as the portal names it
STATUS_LABELS = {ACTIVE: "正常", DISABLED: "已停用", LOCKED: "已锁定"}


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Account:
    """An account as the security administrator and the auditor read it (never its password hash)."""

    id: int
    username: str
    display_name: str
    department_code: str | None
    department_name: str | None
    roles: tuple[str, ...]
    status: str  # active | disabled | locked
    locked_until: datetime | None
    failed_logins: int
    must_change_password: bool  # a temporary password: 须修改密码
    password_changed_at: datetime | None
    password_expires: datetime | None  # None: never (GOVSHARE_PASSWORD_DAYS=0)
    password_expired: bool
    password_age_days: int | None
    created: datetime | None
    created_by: str

    @classmethod
    def of(cls, row: User, settings: Settings, now: datetime) -> Account:
        expires = passwords.expires_at(row, settings)
        status = DISABLED if not row.active else LOCKED if passwords.locked(row, now) else ACTIVE
        changed = row.password_changed_at
        return cls(row.id, row.username, row.display_name, row.department.code if row.department else None,
                   row.department.name if row.department else None, tuple(r for r in ROLES if r in row.role_set),
                   status, row.locked_until if status == LOCKED else None, row.failed_logins or 0,
                   bool(row.must_change_password), changed, expires, expires is not None and expires <= now,
                   (now - changed).days if changed else None, row.created, row.created_by or "")

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def role_labels(self) -> list[str]:
        return role_names(self.roles)


@dataclass(frozen=True)
class Issued:
    """An account with a password the platform chose (a new account, a reset): ``password`` is shown to
    the security administrator this once and stored nowhere but as its hash; None when the
    administrator gave the password."""

    account: Account
    password: str | None


# --------------------------------------------------------------------------- the security administrator's


@action("user.create")
def create(ctx: Context, *, username: str, display_name: str = "", department: str | None = None,
           roles: list[str] | tuple[str, ...] = (), password: str | None = None, temporary: bool = True) -> Issued:
    """A new account.  ``roles`` may not hold two of the three duties (三员分立); a department's roles
    (cataloguer, provider, consumer) need ``department`` (a code or 统一社会信用代码).  ``password``, when
    given, meets the policy; without one a random one that does is made and returned once.  Either is
    temporary - changed at the first sign-in - unless ``temporary`` is False."""
    username = _new_username(ctx.session, username)
    display_name = _display_name(display_name) or username
    wanted = _roles(roles)
    owner = department_by_code(ctx.session, department) if (department or "").strip() else None
    _department_for(wanted, owner)
    chosen = password is None or password == ""
    password = passwords.generated_password(ctx.settings, username) if chosen else password
    passwords.check_policy(ctx.settings, password, username)
    row = User(username=username, display_name=display_name, department=owner, roles=",".join(wanted), active=True,
               password_hash="", failed_logins=0, password_history=[], created=ctx.now, created_by=ctx.caller.who)
    passwords.set_password(row, ctx.settings, password, ctx.now, temporary=temporary)
    ctx.session.add(row)
    ctx.session.flush()
    if owner is not None:  # the notice that a newly registered department needs accounts has been acted on
        notices.clear(ctx.session, ctx.now, owner.code, ["account"])
    ctx.note(detail=f"account {username} ({','.join(wanted)}) of {owner.code if owner else 'no department'}"
                    f"{', temporary password' if temporary else ''}")
    return Issued(Account.of(row, ctx.settings, ctx.now), password if chosen else None)


@action("user.list")
def accounts(ctx: Context, *, department: str | None = None) -> list[Account]:
    """Every account by user name; ``department`` (a code or 统一社会信用代码) keeps its accounts only."""
    stmt = select(User).options(joinedload(User.department)).order_by(User.username)
    if (department or "").strip():
        stmt = stmt.where(User.department_id == department_by_code(ctx.session, department).id)
    rows = [Account.of(u, ctx.settings, ctx.now) for u in ctx.session.scalars(stmt)]
    ctx.note(record_count=len(rows))
    return rows


@action("user.show")
def show(ctx: Context, *, username: str) -> Account:
    """One account."""
    return Account.of(_account(ctx, username), ctx.settings, ctx.now)


@action("user.disable")
def disable(ctx: Context, *, username: str, reason: str = "") -> Account:
    """Disable an account (停用): it can no longer sign in, its portal sessions end at their next request
    and its UDDI authTokens are discarded now.  Nothing of it is deleted."""
    row = _account(ctx, username)
    ctx.note(detail=f"{row.username} disabled{': ' + reason.strip() if (reason or '').strip() else ''}")
    if not row.active:
        raise Conflict(f"{row.username} is disabled already", code="AlreadyDisabled", field="username",
                       zh=f"账号 {row.username} 已经停用。")
    row.active = False
    _end_sessions(ctx.session, row)
    ctx.session.flush()
    return Account.of(row, ctx.settings, ctx.now)


@action("user.enable")
def enable(ctx: Context, *, username: str) -> Account:
    """Enable a disabled account again; its password stays as it was."""
    row = _account(ctx, username)
    ctx.note(detail=f"{row.username} enabled")
    if row.active:
        raise Conflict(f"{row.username} is not disabled", code="NotDisabled", field="username",
                       zh=f"账号 {row.username} 未停用, 无需启用。")
    row.active = True
    ctx.session.flush()
    return Account.of(row, ctx.settings, ctx.now)


@action("user.set_roles")
def set_roles(ctx: Context, *, username: str, roles: list[str] | tuple[str, ...]) -> Account:
    """Give an account exactly ``roles`` (三员分立 checked; a department's roles need a department); the
    next request of each of its sessions acts with them."""
    row = _account(ctx, username)
    wanted = _roles(roles)
    _department_for(wanted, row.department)
    ctx.note(detail=f"{row.username}: {row.roles or '-'} -> {','.join(wanted)}")
    row.roles = ",".join(wanted)
    ctx.session.flush()
    return Account.of(row, ctx.settings, ctx.now)


@action("user.reset_password")
def reset_password(ctx: Context, *, username: str) -> Issued:
    """A new temporary password for an account, returned this once: its holder must change it at the
    next sign-in.  The account is unlocked, and its sessions and UDDI authTokens end (whoever held the
    old password is out)."""
    row = _account(ctx, username)
    password = passwords.generated_password(ctx.settings, row.username)
    passwords.set_password(row, ctx.settings, password, ctx.now, temporary=True)
    _end_sessions(ctx.session, row)
    ctx.session.flush()
    ctx.note(detail=f"{row.username}: temporary password")
    return Issued(Account.of(row, ctx.settings, ctx.now), password)


@action("user.unlock")
def unlock(ctx: Context, *, username: str) -> Account:
    """End an account's lock-out and its count of wrong passwords."""
    row = _account(ctx, username)
    ctx.note(detail=f"{row.username} unlocked" + (f" (locked until {row.locked_until:%Y-%m-%d %H:%M} UTC)"
                                                    if passwords.locked(row, ctx.now) else " (was not locked)"))
    row.failed_logins, row.locked_until = 0, None
    ctx.session.flush()
    return Account.of(row, ctx.settings, ctx.now)


# --------------------------------------------------------------------------- everyone's own


@action("user.change_password")
def change_password(ctx: Context, *, current_password: str, new_password: str) -> Account:
    """Change the caller's own password: ``current_password`` first (a wrong one counts towards the
    lock-out as a wrong sign-in does), then the policy and the history, every broken rule at once.
    Every other session of the account ends (the portal keeps the one that changed it)."""
    row = ctx.session.get(User, ctx.caller.user_id, options=[joinedload(User.department)])
    if not row.active:
        raise passwords.bad_credentials()
    if passwords.locked(row, ctx.now):
        raise passwords.locked_out(row)
    if not passwords.verify(current_password or "", row.password_hash).ok:
        passwords.count_failure(ctx.session, ctx.settings, row.id, ctx.now)
        raise InvalidInput("the current password is wrong", code="WrongPassword", field="current_password",
                           zh="当前密码不正确。")
    passwords.check_policy(ctx.settings, new_password or "", row.username, passwords.earlier_hashes(row))
    passwords.set_password(row, ctx.settings, new_password, ctx.now, temporary=False)
    row.sessions_valid_from = _to_the_microsecond()
    ctx.session.flush()
    ctx.note(detail=f"{row.username} changed the password")
    return Account.of(row, ctx.settings, ctx.now)


# --------------------------------------------------------------------------- helpers


def _new_username(session: Session, username: str) -> str:
    name = (username or "").strip().lower()
    if not USERNAME.fullmatch(name):
        raise InvalidInput(f"username {name!r}: 3 to 64 lower-case letters, digits, '.', '_' or '-', starting with "
                           "a letter", code="InvalidUsername", field="username")
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise Conflict(f"the username {name} is taken", code="UsernameTaken", field="username",
                       zh=f"用户名 {name} 已被使用, 请换一个。")
    return name


def _display_name(display_name: str) -> str:
    name = (display_name or "").strip()
    if len(name) > DISPLAY_NAME_LENGTH:
        raise InvalidInput(f"display_name: at most {DISPLAY_NAME_LENGTH} characters (it has {len(name)})",
                           code="InvalidDisplayName", field="display_name")
    return name


def _roles(roles: list[str] | tuple[str, ...]) -> list[str]:
    """``roles`` in the role model's order, refused when none, unknown or two duties (三员分立)."""
    wanted = {r.strip() for r in roles or () if r and r.strip()}
    if not wanted:
        raise InvalidInput("roles: give at least one", code="RolesRequired", field="roles")
    separate_duties(wanted)
    return [r for r in ROLES if r in wanted]


def _department_for(roles: list[str], department: Department | None) -> None:
    needing = [r for r in roles if r in DEPARTMENT_ROLES]
    if needing and department is None:
        raise InvalidInput(f"roles {', '.join(needing)} act for a department: give the account one",
                           code="DepartmentRequired", field="department",
                           zh=f"{'、'.join(role_names(needing))}须属于一个部门, 请选择所属部门。")


def _account(ctx: Context, username: str) -> User:
    name = (username or "").strip().lower()
    row = ctx.session.scalar(select(User).where(User.username == name).options(joinedload(User.department)))
    if row is None:
        raise NotFound(f"no account {name!r}", code="UnknownUser", field="username", zh=f"没有用户名为 {name} 的账号。")
    return row


def _end_sessions(session: Session, row: User) -> None:
    """End the account's portal sessions (at their next request) and discard its UDDI authTokens."""
    row.sessions_valid_from = _to_the_microsecond()
    session.execute(update(AuthToken).where(AuthToken.user_id == row.id, AuthToken.discarded.is_(False))
                    .values(discarded=True))


def _to_the_microsecond() -> datetime:
    """Now, to the microsecond (not the platform's second): a session begun in the same second before
    it ends too (as ``portal.logout`` does)."""
    return datetime.now(UTC).replace(tzinfo=None)
