"""``govshare sharing``, ``govshare correction`` and ``govshare assess``: governance from a terminal (S3, S5).

    $ govshare sharing apply --user mzj.li --resource 101001/000002 --purpose "低保资格核查" \\
          --fields idNumber,name,domicileAddress --until 2027-06-30
    application #4 submitted; 临江市公安局 answers by 2026-12-11T09:00:00Z
    $ govshare sharing inbox --user gaj.wang
    #4  submitted  OVERDUE  mzj  101001/000002  idNumber,name,domicileAddress  2026-12-01..2027-06-30  ...
    $ govshare sharing approve --user gaj.wang 4 --until 2026-12-31
    application #4 approved: grant #7 to mzj for 101001/000002 until 2026-12-31
    $ govshare sharing refuse --user gaj.wang 5 --reason "用途与共享条件不符"
    $ govshare sharing revoke --user gaj.wang 7 --reason "业务已办结"
    $ govshare sharing view --department mzj --resource 101001/000002
    $ govshare correction file --user mzj.li --resource 101001/000002 --key 330102199001021235 \\
          --field domicileAddress --problem "已迁至新区" --proposed "临江市新区1号"
    $ govshare correction answer --user gaj.wang 3 --accept --change "下一批次更正户籍地址"
    $ govshare assess [--department gaj] [--format csv]

Each command runs one action of ``governance.sharing``, ``governance.correction`` or
``governance.assessment`` (``sharing mask`` with a field: two, setting then reading) as the
account ``--user`` - without it, as the platform's operator (the admin role) - with channel
``cli``: the action checks the account's roles and leaves its audit entry.  A refusal prints
``error: <message>`` on stderr and exits with status 2 (1 when the platform failed).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime

from sqlalchemy.orm import Session, sessionmaker

from registry.clock import china_midnight
from registry.settings import Settings
from trust import console

from . import assessment, correction, masking, sharing

EXIT_TEXT = "exit status: 0 done, 2 refused (input or rights), 1 platform failure"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sharing``, ``correction`` and ``assess`` command groups."""
    acting = argparse.ArgumentParser(add_help=False)
    acting.add_argument("--user", metavar="USERNAME", help="the account acting (default: the platform's operator)")
    _register_sharing(subparsers, acting)
    _register_correction(subparsers, acting)
    assess = subparsers.add_parser("assess", parents=[acting], epilog=EXIT_TEXT,
                                   help="考核: per-department completeness, timeliness, response times")
    assess.add_argument("--department", help="one department (code or 统一社会信用代码)")
    assess.add_argument("--since", type=date.fromisoformat, metavar="YYYY-MM-DD",
                        help="count applications and reports filed from this day (China time) on")
    assess.add_argument("--format", choices=("table", "csv"), default="table")
    assess.set_defaults(handler=_assess)


def _register_sharing(subparsers: argparse._SubParsersAction, acting: argparse.ArgumentParser) -> None:
    group = subparsers.add_parser("sharing", help="共享治理: 使用申请, approvals, grants, masking")
    commands = group.add_subparsers(dest="sharing_command", required=True, metavar="COMMAND")

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, parents=[acting], help=help_text, epilog=EXIT_TEXT)
        parser.set_defaults(handler=handler)
        return parser

    apply = command("apply", _apply, "apply for a 有条件共享 resource (使用申请)")
    apply.add_argument("--resource", required=True, metavar="CODE")
    apply.add_argument("--purpose", required=True, help=f"what the data is for (用途, at most {sharing.PURPOSE_LENGTH} "
                       "characters)")
    apply.add_argument("--fields", type=_names, help="fields wanted, comma separated (default: all)")
    apply.add_argument("--from", dest="valid_from", type=date.fromisoformat, metavar="YYYY-MM-DD")
    apply.add_argument("--until", type=date.fromisoformat, metavar="YYYY-MM-DD", help="last day needed")
    apply.add_argument("--system", metavar="CODE", help="for one of your department's application systems "
                       "(应用系统, e.g. mzj.dibao) only; default: the whole department")
    inbox = command("inbox", _inbox, "applications to your department's resources, overdue ones flagged")
    inbox.add_argument("--status", choices=sharing.APPLICATION_STATUSES)
    inbox.add_argument("--department", help="(admins) whose inbox")
    command("applications", _outbox, "applications your department filed").add_argument("--department")
    approve = command("approve", _approve, "approve an application: a grant for its fields and period")
    approve.add_argument("id", type=int)
    approve.add_argument("--fields", type=_names, help="narrow the fields granted")
    approve.add_argument("--until", type=date.fromisoformat, metavar="YYYY-MM-DD", help="end the grant earlier")
    approve.add_argument("--clear", type=_names, default=(), help="fields shown to this consumer unmasked")
    refuse = command("refuse", _refuse, "refuse an application (a reason is required)")
    refuse.add_argument("id", type=int)
    refuse.add_argument("--reason", help=f"why (at most {sharing.REASON_LENGTH} characters)")
    command("withdraw", _withdraw, "withdraw your department's application").add_argument("id", type=int)
    grant = command("grant", _grant, "grant a department access directly (policy)")
    grant.add_argument("--resource", required=True, metavar="CODE")
    grant.add_argument("--to", required=True, metavar="DEPARTMENT", help="code or 统一社会信用代码")
    grant.add_argument("--fields", type=_names)
    grant.add_argument("--clear", type=_names, default=())
    grant.add_argument("--until", type=date.fromisoformat, metavar="YYYY-MM-DD")
    grant.add_argument("--system", metavar="CODE", help="only for this application system of the department "
                       "(应用系统, e.g. mzj.dibao); default: the whole department")
    command("grants", _grants, "grants your department gave or holds").add_argument("--department")
    revoke = command("revoke", _revoke, "end a grant now (a reason is required)")
    revoke.add_argument("id", type=int)
    revoke.add_argument("--reason", help=f"why (at most {sharing.REASON_LENGTH} characters)")
    mask = command("mask", _mask, "show a resource's masking (脱敏), or set one field's")
    mask.add_argument("--resource", required=True, metavar="CODE")
    mask.add_argument("field", nargs="?")
    mask.add_argument("method", nargs="?", choices=sorted(masking.METHODS))
    view = command("view", _view, "what a department may read of a resource, and why")
    view.add_argument("--department", help="whose view (default: the account's department)")
    view.add_argument("--resource", required=True, metavar="CODE")


def _register_correction(subparsers: argparse._SubParsersAction, acting: argparse.ArgumentParser) -> None:
    group = subparsers.add_parser("correction", help="纠错: report wrong data, answer reports")
    commands = group.add_subparsers(dest="correction_command", required=True, metavar="COMMAND")

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, parents=[acting], help=help_text, epilog=EXIT_TEXT)
        parser.set_defaults(handler=handler)
        return parser

    file = command("file", _file, "report a wrong value in a record")
    file.add_argument("--resource", required=True, metavar="CODE")
    file.add_argument("--key", required=True, help="the record's key, e.g. its 公民身份号码")
    file.add_argument("--field", required=True, help="the field's name or Chinese label")
    file.add_argument("--problem", required=True, help=f"what is wrong (at most {correction.PROBLEM_LENGTH} "
                      "characters)")
    file.add_argument("--proposed", default="", help="the value you believe is right")
    inbox = command("inbox", _correction_inbox, "reports on your department's resources")
    inbox.add_argument("--status", choices=correction.STATUSES)
    inbox.add_argument("--department", help="(admins) whose inbox")
    answer = command("answer", _answer, "accept or reject a report")
    answer.add_argument("id", type=int)
    verdict = answer.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--accept", action="store_true")
    verdict.add_argument("--reject", action="store_true")
    answer.add_argument("--change", help="with --accept: what will be corrected")
    answer.add_argument("--reason", help="with --reject: why the value stands")
    command("list", _correction_list, "reports your department filed").add_argument("--department")


# --------------------------------------------------------------------------- sharing


def _apply(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        application = sharing.apply(console.context(sessions, settings, args.user), resource_code=args.resource,
                                    purpose=args.purpose, fields=args.fields, valid_from=args.valid_from,
                                    valid_to=args.until, system=args.system)
        print(f"application #{application.id} submitted; {application.provider_name} answers by "
              f"{_at(application.deadline)}")

    return console.run(work)


def _inbox(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        ctx = console.context(sessions, settings, args.user)
        for a in sharing.inbox(ctx, status=args.status, department=args.department):
            print(_application_line(a, ctx.now))

    return console.run(work)


def _outbox(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        ctx = console.context(sessions, settings, args.user)
        for a in sharing.applications(ctx, department=args.department):
            print(_application_line(a, ctx.now))

    return console.run(work)


def _approve(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        grant = sharing.approve(console.context(sessions, settings, args.user), application_id=args.id,
                                fields=args.fields, valid_to=args.until, clear=args.clear)
        print(f"application #{args.id} approved: grant #{grant.id} to {grant.system_code or grant.consumer_code} for "
              f"{grant.resource_code} until {_last_day(grant)}")

    return console.run(work)


def _refuse(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        sharing.refuse(console.context(sessions, settings, args.user), application_id=args.id, reason=args.reason)
        print(f"application #{args.id} refused")

    return console.run(work)


def _withdraw(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        sharing.withdraw(console.context(sessions, settings, args.user), application_id=args.id)
        print(f"application #{args.id} withdrawn")

    return console.run(work)


def _grant(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        grant = sharing.grant(console.context(sessions, settings, args.user), resource_code=args.resource,
                              consumer_code=args.to, fields=args.fields, clear=args.clear, valid_to=args.until,
                              system=args.system)
        print(f"grant #{grant.id} to {grant.system_code or grant.consumer_code} for {grant.resource_code} until "
              f"{_last_day(grant)}")

    return console.run(work)


def _grants(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        for g in sharing.grants(console.context(sessions, settings, args.user), department=args.department):
            source = f"application #{g.application_id}" if g.application_id else g.source
            revoked = f"\trevoked by {g.revoked_by}: {g.revoke_reason}" if g.revoked_at else ""
            print(f"#{g.id}\t{g.state}\t{g.system_code or g.consumer_code}\t{g.resource_code}\t{_fields(g.fields)}\t"
                  f"clear: {_fields(g.clear_fields) if g.clear_fields else '-'}\tuntil {_last_day(g)}\t"
                  f"{source}{revoked}")

    return console.run(work)


def _revoke(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        grant = sharing.revoke(console.context(sessions, settings, args.user), grant_id=args.id, reason=args.reason)
        print(f"grant #{grant.id} revoked: {grant.consumer_code} no longer reads {grant.resource_code}")

    return console.run(work)


def _mask(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        ctx = console.context(sessions, settings, args.user)
        if args.field:
            sharing.mask(ctx, resource_code=args.resource, field=args.field, method=args.method)
        for row in sharing.masking_of(ctx.again(), resource_code=args.resource):
            print(f"{row.field}\t{row.method}\t{row.origin}")

    return console.run(work)


def _view(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        seen = sharing.view(console.context(sessions, settings, args.user), resource_code=args.resource,
                            department=args.department)
        print(f"{seen.department_code} reads {seen.resource_code} ({seen.sharing_type}) as {seen.basis}"
              + (f" (grants {', '.join(f'#{i}' for i in seen.grant_ids)})" if seen.grant_ids else ""))
        print(f"fields: {_fields(None if seen.all_fields else seen.visible)}")
        if seen.basis != "provider":
            print("masked: " + (", ".join(f"{f.field} ({f.method})" for f in seen.masked) or "-"))

    return console.run(work)


def _application_line(a: sharing.Application, now: datetime) -> str:
    flag = "OVERDUE" if sharing.is_overdue(a, now) else "-"
    decided = f"\t{a.decided_by} {_at(a.decided_at)}" if a.decided_by else ""
    reason = f"\t{a.reason}" if a.reason else ""
    return (f"#{a.id}\t{a.status}\t{flag}\t{a.system_code or a.consumer_code}\t{a.resource_code}\t{_fields(a.fields)}\t"
            f"{a.valid_from}..{a.valid_to}\tdue {_at(a.deadline)}\t{a.purpose}{decided}{reason}")


# --------------------------------------------------------------------------- correction


def _file(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        report = correction.file(console.context(sessions, settings, args.user), resource_code=args.resource,
                                 record_key=args.key, field=args.field, problem=args.problem,
                                 proposed_value=args.proposed)
        print(f"correction report #{report.id} filed; {report.provider_name} answers by {_at(report.deadline)}")

    return console.run(work)


def _answer(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        report = correction.answer(console.context(sessions, settings, args.user), report_id=args.id,
                                   accept=args.accept, text=args.change if args.accept else args.reason)
        print(f"correction report #{report.id} {report.status}")

    return console.run(work)


def _correction_inbox(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        ctx = console.context(sessions, settings, args.user)
        for r in correction.inbox(ctx, status=args.status, department=args.department):
            print(_report_line(r, ctx.now))

    return console.run(work)


def _correction_list(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        ctx = console.context(sessions, settings, args.user)
        for r in correction.filed(ctx, department=args.department):
            print(_report_line(r, ctx.now))

    return console.run(work)


def _report_line(r: correction.Report, now: datetime) -> str:
    flag = "OVERDUE" if correction.is_overdue(r, now) else "-"
    answered = f"\t{r.answered_by} {_at(r.answered_at)}: {r.answer}" if r.answered_at else ""
    return (f"#{r.id}\t{r.status}\t{flag}\t{r.reporter_code}\t{r.resource_code}\t{r.record_key}\t{r.field}\t"
            f"{r.problem}\tproposed: {r.proposed_value or '-'}\tdue {_at(r.deadline)}{answered}")


# --------------------------------------------------------------------------- assessment


def _assess(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        since = china_midnight(args.since) if args.since else None
        found = assessment.report(console.context(sessions, settings, args.user), department=args.department,
                                  since=since)
        if args.format == "csv":
            assessment.write_csv(found, sys.stdout)
            return
        print("\t".join(assessment.COLUMNS))
        for row in (r.row() for r in found):
            print("\t".join(_cell(c, row[c]) for c in assessment.COLUMNS))

    return console.run(work)


# --------------------------------------------------------------------------- formatting


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _fields(fields) -> str:
    return ",".join(sorted(fields)) if fields else "all"  # sorted: a frozenset prints in hash order


def _at(at: datetime | None) -> str:
    return at.isoformat() + "Z" if at else "-"


def _last_day(grant: sharing.Grant) -> str:
    return grant.last_day.isoformat() if grant.last_day else "no end"


def _cell(column: str, value: object) -> str:
    if value is None:
        return "-"
    if column in assessment.SHARES:
        return f"{value:.1%}"
    return str(value)
