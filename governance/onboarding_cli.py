"""``govshare admin department ...`` and ``govshare admin system ...``: 部门登记 and application systems
(应用系统) from a terminal.

    $ govshare admin department apply --code wjw --name 临江市卫生健康委员会 --credit-code 11330100002501108G \\
          --division 330100 --mode front_node --contact-name 王明 --contact-phone 0571-87000001
    登记申请 #3 submitted: wjw 临江市卫生健康委员会, awaiting the platform administrator's review
    $ govshare admin department applications --status submitted
    #3  submitted  wjw  临江市卫生健康委员会  11330100002501108G  330100 杭州市  front_node  王明 0571-87000001
    $ govshare admin department approve 3
    wjw registered: 临江市卫生健康委员会, businessEntity uddi:wjw.govshare.local:business
    $ govshare admin department suspend wjw --reason "安全检查整改"
    $ govshare admin department reinstate wjw
    $ govshare admin system register --user mzj.li --code dibao --name 低保核对系统
    mzj.dibao registered: 低保核对系统 (临江市民政局)
    $ govshare admin system suspend mzj.dibao --reason "证书泄露排查"

Each command runs one action of ``governance.onboarding`` as ``--user`` or, without it, as the
platform's operator at the console, with channel ``cli``; a refusal prints ``error: <message>`` on
stderr and exits 2 (1 when the platform failed).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from registry.settings import Settings
from trust import console

from . import onboarding

EXIT_TEXT = "exit status: 0 done, 2 refused (input or rights), 1 platform failure"
Handler = Callable[[argparse.Namespace, sessionmaker[Session], Settings], int]


def register(group_name: str, commands: argparse._SubParsersAction, acting: argparse.ArgumentParser) -> None:
    """Add the commands of the ``admin`` group ``group_name`` (``department`` or ``system``)."""

    def command(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, parents=[acting], help=help_text, epilog=EXIT_TEXT)
        parser.set_defaults(handler=handler)
        return parser

    if group_name == "department":
        _department_commands(command)
    elif group_name == "system":
        _system_commands(command)
    else:
        raise ValueError(f"governance.onboarding_cli has no command group {group_name!r}")


def _department_commands(command: Callable[..., argparse.ArgumentParser]) -> None:
    apply = command("apply", _apply, "file a department's 登记申请 (the connection guide's 附件二)")
    apply.add_argument("--code", required=True, help="the department's short code, e.g. wjw")
    apply.add_argument("--name", required=True, help="部门名称")
    apply.add_argument("--english-name", default="", help="英文名称 (the directory's name in English)")
    apply.add_argument("--credit-code", required=True, help="统一社会信用代码 (GB 32100)")
    apply.add_argument("--division", required=True, metavar="CODE", help="行政区划代码 (GB/T 2260), e.g. 330100")
    apply.add_argument("--mode", required=True, choices=sorted(onboarding.CONNECTION_MODES),
                       help="接入方式: " + ", ".join(f"{k} {v}" for k, v in onboarding.CONNECTION_MODES.items()))
    apply.add_argument("--contact-name", required=True, help="联系人")
    apply.add_argument("--contact-phone", required=True, help="联系电话")
    apply.add_argument("--contact-email", default="", help="电子邮箱")
    apply.add_argument("--description", default="", help="部门职责说明")
    listing = command("applications", _applications, "登记申请, oldest first")
    listing.add_argument("--status", choices=sorted(onboarding.APPLICATION_LABELS))
    command("approve", _approve, "approve a 登记申请: the department is registered").add_argument("id", type=int)
    refuse = command("refuse", _refuse, "refuse a 登记申请 (reason required)")
    refuse.add_argument("id", type=int)
    refuse.add_argument("--reason", help=f"why (at most {onboarding.REASON_LENGTH} characters)")
    command("list", _list, "the departments, their status and connection mode").add_argument(
        "--status", choices=sorted(onboarding.STATUS_LABELS))
    command("show", _show, "one department: contact, status, application systems").add_argument(
        "department", help="code or 统一社会信用代码")
    suspend = command("suspend", _suspend, "suspend a department (暂停接入): its people are signed out and refused")
    suspend.add_argument("department", help="code or 统一社会信用代码")
    suspend.add_argument("--reason", help=f"why (at most {onboarding.REASON_LENGTH} characters)")
    command("reinstate", _reinstate, "reinstate a suspended department").add_argument(
        "department", help="code or 统一社会信用代码")


def _system_commands(command: Callable[..., argparse.ArgumentParser]) -> None:
    register_system = command("register", _register_system, "register an application system (应用系统)")
    register_system.add_argument("--code", required=True, help="the system's own code (dibao), or the whole code "
                                 "(mzj.dibao)")
    register_system.add_argument("--name", required=True, help="系统名称")
    register_system.add_argument("--description", default="")
    register_system.add_argument("--department", help="(admins) whose system; default: your department")
    command("list", _systems, "application systems: your department's (admins: all)").add_argument(
        "--department", help="(admins, security) one department's")
    suspend = command("suspend", _suspend_system, "suspend an application system")
    suspend.add_argument("system", help="its code, e.g. mzj.dibao")
    suspend.add_argument("--reason", help=f"why (at most {onboarding.REASON_LENGTH} characters)")
    command("reinstate", _reinstate_system, "reinstate a suspended application system").add_argument(
        "system", help="its code, e.g. mzj.dibao")


# --------------------------------------------------------------------------- departments


def _apply(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        filed = onboarding.apply(console.context(sessions, settings, args.user), code=args.code, name=args.name,
                                 credit_code=args.credit_code, division_code=args.division,
                                 connection_mode=args.mode, contact_name=args.contact_name,
                                 contact_phone=args.contact_phone, contact_email=args.contact_email,
                                 description=args.description, english_name=args.english_name)
        print(f"登记申请 #{filed.id} submitted: {filed.code} {filed.name}, awaiting the platform administrator's "
              "review")

    return console.run(work)


def _applications(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        for r in onboarding.applications(console.context(sessions, settings, args.user), status=args.status):
            decided = f"\t{r.decided_by} {_at(r.decided_at)}" if r.decided_by else ""
            reason = f"\t{r.reason}" if r.reason else ""
            print(f"#{r.id}\t{r.status}\t{r.code}\t{r.name}\t{r.credit_code}\t{r.division_code} {r.division_name}\t"
                  f"{r.connection_mode}\t{r.contact_name} {r.contact_phone} {r.contact_email}".rstrip()
                  + f"\t{_at(r.submitted_at)}{decided}{reason}")

    return console.run(work)


def _approve(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        member = onboarding.approve(console.context(sessions, settings, args.user), application_id=args.id)
        print(f"{member.code} registered: {member.name}, businessEntity {member.business_key}")

    return console.run(work)


def _refuse(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        onboarding.refuse(console.context(sessions, settings, args.user), application_id=args.id, reason=args.reason)
        print(f"登记申请 #{args.id} refused")

    return console.run(work)


def _list(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        for m in onboarding.departments(console.context(sessions, settings, args.user), status=args.status):
            print(_member_line(m))

    return console.run(work)


def _show(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        m = onboarding.show(console.context(sessions, settings, args.user), department=args.department)
        print(_member_line(m))
        print(f"businessEntity {m.business_key}; registered {_at(m.created)}; {m.users} accounts")
        print(f"contact: {m.contact_name or '-'} {m.contact_phone} {m.contact_email}".rstrip())
        for s in m.systems:
            print(_system_line(s))

    return console.run(work)


def _suspend(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        m = onboarding.suspend(console.context(sessions, settings, args.user), department=args.department,
                               reason=args.reason)
        print(f"{m.code} suspended: its {m.users} accounts are signed out and refused until it is reinstated")

    return console.run(work)


def _reinstate(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        m = onboarding.reinstate(console.context(sessions, settings, args.user), department=args.department)
        print(f"{m.code} reinstated")

    return console.run(work)


def _member_line(m: onboarding.Member) -> str:
    suspended = f"\tsince {_at(m.suspended_at)}: {m.suspension_reason}" if m.suspended_at else ""
    return (f"{m.code}\t{m.status}\t{m.name}\t{m.credit_code}\t{m.division_code} {m.division_name}\t"
            f"{m.connection_mode}\t{len(m.systems)} systems{suspended}")


# --------------------------------------------------------------------------- application systems


def _register_system(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        s = onboarding.register_system(console.context(sessions, settings, args.user), code=args.code,
                                       name=args.name, description=args.description, department=args.department)
        print(f"{s.code} registered: {s.name} ({s.department_name})")

    return console.run(work)


def _systems(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        for s in onboarding.systems(console.context(sessions, settings, args.user), department=args.department):
            print(_system_line(s))

    return console.run(work)


def _suspend_system(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        s = onboarding.suspend_system(console.context(sessions, settings, args.user), system=args.system,
                                      reason=args.reason)
        print(f"{s.code} suspended")

    return console.run(work)


def _reinstate_system(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        s = onboarding.reinstate_system(console.context(sessions, settings, args.user), system=args.system)
        print(f"{s.code} reinstated")

    return console.run(work)


def _system_line(s: onboarding.System) -> str:
    suspended = f"\tsince {_at(s.suspended_at)}: {s.suspension_reason}" if s.suspended_at else ""
    return f"{s.code}\t{s.status}\t{s.name}\t{s.department_code}\tby {s.created_by} {_at(s.created)}{suspended}"


def _at(at: datetime | None) -> str:
    return at.isoformat(timespec="seconds") + "Z" if at else "-"
