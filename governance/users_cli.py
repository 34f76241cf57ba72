"""``govshare admin user``: accounts, roles (三员分立), passwords and lock-out from a terminal.

    $ govshare admin user create wjw.zhang --name 张伟 --department wjw --roles cataloguer,provider
    account wjw.zhang created (目录管理员、提供方, 临江市卫生健康委员会)
    temporary password (shown once; to be changed at the first sign-in): k7Q-m2Rv#pX9a_Fz
    $ govshare admin user list [--department wjw]
    wjw.zhang  张伟  wjw  cataloguer,provider  active  须修改密码  password 0 days old
    $ govshare admin user roles wjw.zhang admin,auditor
    error: one account may not hold admin and auditor: ... (三员分立)
    $ govshare admin user disable wjw.zhang --reason 调离 | enable wjw.zhang | unlock wjw.zhang
    $ govshare admin user reset-password wjw.zhang
    $ govshare admin user passwd --user wjw.zhang        (asks for the current and the new password)

Each command runs one action of ``governance.users`` as ``--user`` or, without it, as the platform's
operator at the console (who holds the security administrator's role: the first accounts are made
here), channel ``cli``.  Passwords are never taken as arguments (other users of the machine could read
them): ``--password-stdin`` reads one line, ``passwd`` asks for them (or reads two lines with
``--stdin``).  A refusal prints ``error: <message>`` on stderr and exits 2 (1 when the platform failed).
"""

from __future__ import annotations

import argparse
import getpass
import sys

from sqlalchemy.orm import Session, sessionmaker

from registry.errors import EXIT_USER
from registry.settings import Settings
from trust import console
from trust.auth import ROLES

from . import users

EXIT_TEXT = "exit status: 0 done, 2 refused (input or rights), 1 platform failure"


def register(group_name: str, commands: argparse._SubParsersAction, acting: argparse.ArgumentParser) -> None:
    """Add the ``user`` commands."""

    def command(name: str, handler, help_text: str, *, account: bool = True) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, parents=[acting], help=help_text, epilog=EXIT_TEXT)
        parser.set_defaults(handler=handler)
        if account:
            parser.add_argument("username")
        return parser

    create = command("create", _create, "a new account (its first password generated unless given)")
    create.add_argument("--name", default="", help="the person's name (姓名), shown in the portal")
    create.add_argument("--department", help="its department (code or 统一社会信用代码); none for the platform's staff")
    create.add_argument("--roles", required=True, type=_names, help=f"comma separated, of: {', '.join(ROLES)}")
    create.add_argument("--password-stdin", action="store_true", help="read the first password from stdin")
    create.add_argument("--no-temporary", dest="temporary", action="store_false",
                        help="the first password need not be changed at the first sign-in")
    listing = command("list", _list, "every account: department, roles, status, password age", account=False)
    listing.add_argument("--department", help="one department's accounts (code or 统一社会信用代码)")
    command("show", _show, "one account")
    command("disable", _disable, "disable an account (停用): its sessions and authTokens end").add_argument(
        "--reason", default="", help="why (into the audit log)")
    command("enable", _enable, "enable a disabled account")
    command("roles", _roles, "set an account's roles (三员分立: not two of admin, security, auditor)").add_argument(
        "roles", type=_names, help="comma separated")
    command("reset-password", _reset, "a temporary password for an account, shown once; unlocks it")
    command("unlock", _unlock, "end an account's lock-out")
    passwd = command("passwd", _passwd, "change your own password (as --user)", account=False)
    passwd.add_argument("--stdin", action="store_true", help="read the current and the new password, one a line")


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _line(account: users.Account) -> str:
    flags = [label for flag, label in ((account.must_change_password, "须修改密码"),
                                       (account.password_expired, "密码已过期")) if flag]
    locked = f" until {account.locked_until:%Y-%m-%d %H:%M}Z" if account.locked_until else ""
    age = f"password {account.password_age_days} days old" if account.password_age_days is not None else ""
    return "  ".join(part for part in (account.username, account.display_name, account.department_code or "-",
                                       ",".join(account.roles), account.status + locked, " ".join(flags), age) if part)


def _describe(account: users.Account) -> str:
    return (f"{'、'.join(account.role_labels)}, {account.department_name or '不属于部门'}; {account.status}"
            + (f" until {account.locked_until:%Y-%m-%d %H:%M}Z" if account.locked_until else ""))


def _create(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
        issued = users.create(console.context(sessions, settings, args.user), username=args.username,
                              display_name=args.name, department=args.department, roles=args.roles,
                              password=password, temporary=args.temporary)
        print(f"account {issued.account.username} created ({_describe(issued.account)})")
        _print_password(issued, args.temporary)

    return console.run(work)


def _print_password(issued: users.Issued, temporary: bool = True) -> None:
    if issued.password is not None:
        when = "to be changed at the first sign-in" if temporary else "its holder should change it"
        print(f"{'temporary ' if temporary else ''}password (shown once; {when}): {issued.password}")


def _list(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        for account in users.accounts(console.context(sessions, settings, args.user), department=args.department):
            print(_line(account))

    return console.run(work)


def _show(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        a = users.show(console.context(sessions, settings, args.user), username=args.username)
        print(_line(a))
        print(f"  {_describe(a)}; created {a.created:%Y-%m-%d} by {a.created_by or '-'}" if a.created else
              f"  {_describe(a)}")
        if a.password_expires:
            print(f"  password changed {a.password_changed_at:%Y-%m-%d}, expires {a.password_expires:%Y-%m-%d}; "
                  f"{a.failed_logins} wrong passwords since the last sign-in")

    return console.run(work)


def _status_command(action, done: str):
    def handler(args, sessions: sessionmaker[Session], settings: Settings) -> int:
        def work() -> None:
            extra = {"reason": args.reason} if getattr(args, "reason", None) else {}
            account = action(console.context(sessions, settings, args.user), username=args.username, **extra)
            print(f"account {account.username} {done} ({_describe(account)})")

        return console.run(work)

    return handler


_disable = _status_command(users.disable, "disabled")
_enable = _status_command(users.enable, "enabled")
_unlock = _status_command(users.unlock, "unlocked")


def _roles(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        account = users.set_roles(console.context(sessions, settings, args.user), username=args.username,
                                  roles=args.roles)
        print(f"account {account.username}: {_describe(account)}")

    return console.run(work)


def _reset(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        issued = users.reset_password(console.context(sessions, settings, args.user), username=args.username)
        print(f"account {issued.account.username}: its sessions ended, unlocked")
        _print_password(issued)

    return console.run(work)


def _passwd(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        ctx = console.context(sessions, settings, args.user)
        if args.stdin:
            current, new = sys.stdin.readline().rstrip("\n"), sys.stdin.readline().rstrip("\n")
        else:
            current, new = getpass.getpass("current password: "), getpass.getpass("new password: ")
            if getpass.getpass("new password again: ") != new:
                print("error: the two new passwords differ; nothing changed", file=sys.stderr)
                return EXIT_USER
        account = users.change_password(ctx, current_password=current, new_password=new)
        print(f"password of {account.username} changed; it expires "
              + (f"{account.password_expires:%Y-%m-%d}" if account.password_expires else "never"))
        return None

    return console.run(work)
