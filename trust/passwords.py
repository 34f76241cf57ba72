"""Passwords (口令) and signing in, as 等保三级 asks: argon2id hashes, the password policy, expiry and
the lock-out after wrong passwords - one :func:`authenticate` for every channel a person signs in on
(the portal's 登录, UDDI's ``get_authToken``).

A stored hash is argon2id in its PHC form; the platform's earlier scrypt hashes are still accepted,
and :func:`verify` says when a hash should be made again (scrypt, or argon2 parameters since changed),
which a good sign-in then does::

    $argon2id$v=19$m=19456,t=2,p=1$<salt>$<digest>      what hash_password writes
    scrypt$<salt hex>$<digest hex>                       earlier accounts, until they next sign in

The policy (``Settings``; each rule broken is its own refusal, and every broken rule is reported at once
in one :class:`~registry.errors.PasswordRejected`)::

    PasswordTooShort          fewer than GOVSHARE_PASSWORD_MIN_LENGTH (10) characters
    PasswordTooLong           more than MAX_LENGTH (128) characters
    PasswordTooSimple         fewer than 3 of the 4 classes: upper case, lower case, digits, others
    PasswordContainsUsername  holds the account's user name (in any case)
    PasswordReused            one of the last GOVSHARE_PASSWORD_HISTORY (5) passwords, the current one included

A password older than GOVSHARE_PASSWORD_DAYS (90; 0: never) is expired: the person must change it
before doing anything else.  GOVSHARE_LOGIN_ATTEMPTS (5) wrong passwords in a row lock the account for
GOVSHARE_LOCKOUT_MINUTES (15); a good sign-in starts the count again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import case, select, update
from sqlalchemy.orm import Session, joinedload

from registry.clock import china_text
from registry.errors import InvalidInput, NotPermitted, PasswordRejected
from registry.models import User
from registry.settings import Settings

from .auth import refuse_suspended

#: OWASP's first argon2id configuration (19 MiB, 2 passes, 1 lane): about 50 ms of one core per
#: sign-in, so a server's threads signing people in together stay within a few hundred MiB
_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
#: the earlier scheme's parameters (directory.accounts until onboarding): verified, never written
_SCRYPT = dict(n=2**14, r=8, p=1)
#: a hash no password matches, verified for an unknown account so that it costs what a known one does
_NOBODY = _HASHER.hash(secrets.token_urlsafe(16))

MAX_LENGTH = 128
CLASSES = 3  # of the four below, a password holds at least so many
#: the classes of characters, as the policy's message names them
CLASS_NAMES = {"upper": "大写字母", "lower": "小写字母", "digit": "数字", "other": "其他符号"}


# ----------------------------------------------------------------------------- hashing


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify` found: whether the password matches, and whether its hash should be made again."""

    ok: bool
    rehash: bool = False


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` to store (``$argon2id$v=19$m=19456,t=2,p=1$...``)."""
    return _HASHER.hash(password)


def verify(password: str, stored: str) -> Verdict:
    """Whether ``password`` matches the ``stored`` hash (argon2id, or the earlier ``scrypt$salt$digest``);
    a match on a scrypt hash or on argon2 parameters other than today's asks for a new hash."""
    if stored.startswith("scrypt$"):
        return Verdict(_scrypt_matches(password, stored), rehash=True)
    try:
        _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return Verdict(False)
    return Verdict(True, rehash=_HASHER.check_needs_rehash(stored))


def _scrypt_matches(password: str, stored: str) -> bool:
    try:
        _scheme, salt_hex, digest_hex = stored.split("$")
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return hmac.compare_digest(digest.hex(), digest_hex)


# ----------------------------------------------------------------------------- the policy


def classes_of(password: str) -> set[str]:
    """The classes of characters ``password`` holds: ``classes_of("abcD1") == {"lower", "upper", "digit"}``."""
    found = set()
    for char in password:
        found.add("upper" if char.isupper() else "lower" if char.islower() else "digit" if char.isdigit() else "other")
    return found


def check_policy(settings: Settings, password: str, username: str, earlier: list[str] = ()) -> None:
    """Refuse ``password`` for the account ``username`` with every rule it breaks (:class:`PasswordRejected`);
    ``earlier`` holds the hashes it may not match (the current one first, then the history)."""
    broken = [problem for problem in (_length(settings, password), _classes(password), _username(password, username),
                                      _reused(settings, password, earlier)) if problem is not None]
    if broken:
        raise PasswordRejected(broken)


def _length(settings: Settings, password: str) -> InvalidInput | None:
    if len(password) < settings.password_min_length:
        return InvalidInput(f"a password has at least {settings.password_min_length} characters",
                            code="PasswordTooShort", field="password",
                            zh=f"密码至少须有 {settings.password_min_length} 个字符。")
    if len(password) > MAX_LENGTH:
        return InvalidInput(f"a password has at most {MAX_LENGTH} characters", code="PasswordTooLong",
                            field="password", zh=f"密码不能超过 {MAX_LENGTH} 个字符。")
    return None


def _classes(password: str) -> InvalidInput | None:
    if len(classes_of(password)) >= CLASSES:
        return None
    return InvalidInput(f"a password holds at least {CLASSES} of: upper case letters, lower case letters, digits, "
                        "other characters", code="PasswordTooSimple", field="password",
                        zh=f"密码须包含{'、'.join(CLASS_NAMES.values())}中的至少 {CLASSES} 类。")


def _username(password: str, username: str) -> InvalidInput | None:
    if not username or username.lower() not in password.lower():
        return None
    return InvalidInput("a password may not hold the user name", code="PasswordContainsUsername", field="password",
                        zh="密码不能包含用户名。")


def _reused(settings: Settings, password: str, earlier: list[str]) -> InvalidInput | None:
    if not any(verify(password, stored).ok for stored in list(earlier)[:settings.password_history]):
        return None
    return InvalidInput(f"the password was one of the last {settings.password_history}: choose another",
                        code="PasswordReused", field="password",
                        zh=f"新密码不能与最近 {settings.password_history} 次使用过的密码相同。")


def earlier_hashes(user: User) -> list[str]:
    """The hashes a new password of ``user`` may not match: the current one, then the history, newest first."""
    return [user.password_hash, *(user.password_history or [])]


def set_password(user: User, settings: Settings, password: str, now: datetime, *, temporary: bool) -> None:
    """Store ``password`` (already checked) as ``user``'s: the old hash joins the history, the count of
    wrong passwords and any lock end, and a ``temporary`` one must be changed at the next sign-in."""
    keep = max(settings.password_history - 1, 0)  # the current password is the newest of the last N
    user.password_history = earlier_hashes(user)[:keep] if user.password_hash else []
    user.password_hash = hash_password(password)
    user.password_changed_at, user.must_change_password = now, temporary
    user.failed_logins, user.locked_until = 0, None


def generated_password(settings: Settings, username: str) -> str:
    """A random password that meets the policy, for a new account or a reset (given to its holder once):
    every class, at least 16 characters, none easily misread (no 0/O, 1/l/I)."""
    pools = ["ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnopqrstuvwxyz", "23456789", "-_.!@#%+="]
    length = max(16, settings.password_min_length)
    while True:
        chars = [secrets.choice(pool) for pool in pools]
        chars += [secrets.choice("".join(pools)) for _ in range(length - len(pools))]
        secrets.SystemRandom().shuffle(chars)
        password = "".join(chars)
        if username.lower() not in password.lower():
            return password


def expires_at(user: User, settings: Settings) -> datetime | None:
    """When ``user``'s password expires (UTC), or None (``GOVSHARE_PASSWORD_DAYS=0``, or never set)."""
    if settings.password_days <= 0 or user.password_changed_at is None:
        return None
    return user.password_changed_at + timedelta(days=settings.password_days)


def must_change(user: User, settings: Settings, now: datetime) -> bool:
    """Whether ``user`` must change the password before doing anything else: temporary, or expired."""
    until = expires_at(user, settings)
    return bool(user.must_change_password) or (until is not None and until <= now)


def locked(user: User, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


# ----------------------------------------------------------------------------- signing in


def bad_credentials() -> InvalidInput:
    """The one refusal of an unknown account, a wrong password and a disabled account alike."""
    return InvalidInput("wrong user name or password, or a disabled account", code="BadCredentials",
                        field="password")


def authenticate(session: Session, settings: Settings, username: str, password: str, now: datetime) -> User:
    """The account ``username`` if ``password`` is its password and it may sign in now; the count of
    wrong passwords starts again and an old-style hash is made again (committed with ``session``).

    Refused (the wrong password counted at once, in a transaction of its own, so that the caller's
    rollback of the refused sign-in does not undo it):

    * an unknown account, a wrong password, a disabled account: ``BadCredentials``, one message for all
      three, and an unknown account costs the time of a hash check as a known one does;
    * a locked account: ``AccountLocked``, saying until when (China time), **whatever password was given,
      without checking it**.  Saying so only after the right password would turn the lock into an
      oracle - while locked, a right guess would answer differently from a wrong one, and guessing would
      go on at full speed; saying it always tells no more than that an account of that name exists, and
      only to someone who has just spent the attempts that locked it, while the person locked out learns
      why and until when instead of trying again;
    * the right password of a suspended department's person: ``DepartmentSuspended``.

    A temporary or expired password signs in: what the person may do then is the front end's to limit
    (the portal asks for a new password before anything else; UDDI gives no authToken)."""
    user = session.scalar(select(User).where(User.username == username.strip())
                          .options(joinedload(User.department))) if username else None
    if user is not None and locked(user, now):
        raise locked_out(user)
    if user is None:
        verify(password, _NOBODY)
        raise bad_credentials()
    verdict = verify(password, user.password_hash)
    if not verdict.ok:
        count_failure(session, settings, user.id, now)
        raise bad_credentials()
    if not user.active:
        raise bad_credentials()
    refuse_suspended(user.department)
    if verdict.rehash:
        user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    return user


def locked_out(user: User) -> NotPermitted:
    return NotPermitted(f"the account {user.username} is locked after too many wrong passwords until "
                        f"{user.locked_until:%Y-%m-%d %H:%M} UTC; try again then, or ask the security administrator "
                        "to unlock it", code="AccountLocked",
                        zh=f"连续输错密码次数过多, 账户已锁定至 {china_text(user.locked_until)} (北京时间)。"
                           "请届时再试, 或请安全管理员解锁。")


def count_failure(session: Session, settings: Settings, user_id: int, now: datetime) -> None:
    """One more wrong password for the account (signing in, or changing the password), committed now,
    whatever becomes of ``session``'s transaction; the one that reaches
    ``login_attempts`` locks it and starts the count again.  One UPDATE, which reads the count it
    raises, so that attempts at the same time are each counted; ``locked_until`` is set first, for
    MySQL and MariaDB assign left to right and would otherwise read the raised count."""
    if settings.login_attempts <= 0:
        return
    reached = User.failed_logins + 1 >= settings.login_attempts
    until = now + timedelta(minutes=settings.lockout_minutes)
    with session.get_bind().begin() as connection:
        connection.execute(update(User).where(User.id == user_id).ordered_values(
            (User.locked_until, case((reached, until), else_=User.locked_until)),
            (User.failed_logins, case((reached, 0), else_=User.failed_logins + 1))))

