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

Every command calls the domain functions of ``governance.sharing``, ``governance.correction``
and ``governance.assessment`` in one unit of work; a refusal prints ``error: ...`` and exits 2.
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from directory import lookups
from directory.accounts import find_user
from registry.clock import utcnow
from registry.db import unit_of_work
from registry.errors import GovernanceError, GovshareError
from registry.models import SharingApplication, SharingGrant, User
from registry.settings import Settings
from trust import console

from . import assessment, correction, masking, sharing

USAGE_ERROR = 2
SHARES = {"completeness", "timeliness", "applications_within_deadline", "corrections_within_deadline"}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sharing``, ``correction`` and ``assess`` command groups."""
    acting = argparse.ArgumentParser(add_help=False)
    acting.add_argument("--user", required=True, metavar="USERNAME", help="the user acting")
    _register_sharing(subparsers, acting)
    _register_correction(subparsers, acting)
    assess = subparsers.add_parser("assess", help="考核: per-department completeness, timeliness, response times")
    assess.add_argument("--department", help="one department (code or 统一社会信用代码)")
    assess.add_argument("--since", type=date.fromisoformat, metavar="YYYY-MM-DD",
                        help="count applications and reports filed from this day (UTC)")
    assess.add_argument("--format", choices=("table", "csv"), default="table")
    assess.set_defaults(handler=_assess)


def _register_sharing(subparsers: argparse._SubParsersAction, acting: argparse.ArgumentParser) -> None:
    group = subparsers.add_parser("sharing", help="共享治理: 使用申请, approvals, grants, masking")
    commands = group.add_subparsers(dest="sharing_command", required=True, metavar="COMMAND")

    def command(name: str, handler, help_text: str, *, user: bool = True) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, parents=[acting] if user else [], help=help_text)
        parser.set_defaults(handler=handler)
        return parser

    apply = command("apply", _apply, "apply for a 有条件共享 resource (使用申请)")
    apply.add_argument("--resource", required=True, metavar="CODE")
    apply.add_argument("--purpose", required=True, help="what the data is for (用途)")
    apply.add_argument("--fields", type=_names, help="fields wanted, comma separated (default: all)")
    apply.add_argument("--from", dest="valid_from", type=date.fromisoformat, metavar="YYYY-MM-DD")
    apply.add_argument("--until", type=date.fromisoformat, metavar="YYYY-MM-DD", help="last day needed")
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
    refuse.add_argument("--reason")
    command("withdraw", _withdraw, "withdraw your department's application").add_argument("id", type=int)
    grant = command("grant", _grant, "grant a department access directly (policy)")
    grant.add_argument("--resource", required=True, metavar="CODE")
    grant.add_argument("--to", required=True, metavar="DEPARTMENT", help="code or 统一社会信用代码")
    grant.add_argument("--fields", type=_names)
    grant.add_argument("--clear", type=_names, default=())
    grant.add_argument("--until", type=date.fromisoformat, metavar="YYYY-MM-DD")
    command("grants", _grants, "grants your department gave or holds").add_argument("--department")
    revoke = command("revoke", _revoke, "end a grant now (a reason is required)")
    revoke.add_argument("id", type=int)
    revoke.add_argument("--reason")
    mask = command("mask", _mask, "show a resource's masking (脱敏), or set one field's")
    mask.add_argument("--resource", required=True, metavar="CODE")
    mask.add_argument("field", nargs="?")
    mask.add_argument("method", nargs="?", choices=sorted(masking.METHODS))
    view = command("view", _view, "what a department may read of a resource, and why", user=False)
    view.add_argument("--department", required=True)
    view.add_argument("--resource", required=True, metavar="CODE")


def _register_correction(subparsers: argparse._SubParsersAction, acting: argparse.ArgumentParser) -> None:
    group = subparsers.add_parser("correction", help="纠错: report wrong data, answer reports")
    commands = group.add_subparsers(dest="correction_command", required=True, metavar="COMMAND")
    file = commands.add_parser("file", parents=[acting], help="report a wrong value in a record")
    file.add_argument("--resource", required=True, metavar="CODE")
    file.add_argument("--key", required=True, help="the record's key, e.g. its 公民身份号码")
    file.add_argument("--field", required=True)
    file.add_argument("--problem", required=True, help="what is wrong")
    file.add_argument("--proposed", default="", help="the value you believe is right")
    file.set_defaults(handler=_file)
    inbox = commands.add_parser("inbox", parents=[acting], help="reports on your department's resources")
    inbox.add_argument("--status", choices=correction.STATUSES)
    inbox.add_argument("--department", help="(admins) whose inbox")
    inbox.set_defaults(handler=_correction_inbox)
    answer = commands.add_parser("answer", parents=[acting], help="accept or reject a report")
    answer.add_argument("id", type=int)
    verdict = answer.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--accept", action="store_true")
    verdict.add_argument("--reject", action="store_true")
    answer.add_argument("--change", help="with --accept: what will be corrected")
    answer.add_argument("--reason", help="with --reject: why the value stands")
    answer.set_defaults(handler=_answer)
    listing = commands.add_parser("list", parents=[acting], help="reports your department filed")
    listing.add_argument("--department")
    listing.set_defaults(handler=_correction_list)


def _run(args: argparse.Namespace, sessions: sessionmaker[Session], work, *, user: bool = True) -> int:
    """Run ``work(session, user)`` in one unit of work; refusals print ``error:`` and give exit code 2."""
    try:
        with unit_of_work(sessions) as session:
            acting = None
            if user:
                acting = find_user(session, args.user)
                if acting is None:
                    raise GovernanceError(f"no user {args.user!r}", "user")
            work(session, acting)
    except GovshareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    return 0


# --------------------------------------------------------------------------- sharing


def _apply(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        application = sharing.apply(console.context(sessions, settings, args.user), resource_code=args.resource,
                                    purpose=args.purpose, fields=args.fields, valid_from=args.valid_from,
                                    valid_to=args.until)
        print(f"application #{application.id} submitted; {application.provider_name} answers by "
              f"{_at(application.deadline)}")

    return console.run(work)


def _inbox(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work(session: Session, user: User) -> None:
        now = utcnow()
        for a in sharing.inbox(session, user, now=now, status=args.status, department=args.department):
            print(_application_line(a, now))

    return _run(args, sessions, work)


def _outbox(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work(session: Session, user: User) -> None:
        now = utcnow()
        for a in sharing.outbox(session, user, now=now, department=args.department):
            print(_application_line(a, now))

    return _run(args, sessions, work)


def _approve(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work(session: Session, user: User) -> None:
        grant = sharing.approve(session, user, args.id, fields=args.fields, valid_to=args.until, clear=args.clear)
        print(f"application #{args.id} approved: grant #{grant.id} to {grant.consumer.code} for "
              f"{grant.entry.resource_code} until {_last_day(grant)}")

    return _run(args, sessions, work)


def _refuse(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work(session: Session, user: User) -> None:
        sharing.refuse(session, user, args.id, args.reason)
        print(f"application #{args.id} refused")

    return _run(args, sessions, work)


def _withdraw(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work(session: Session, user: User) -> None:
        sharing.withdraw(session, user, args.id)
        print(f"application #{args.id} withdrawn")

    return _run(args, sessions, work)


def _grant(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work(session: Session, user: User) -> None:
        grant = sharing.grant(session, user, args.resource, args.to, fields=args.fields, clear=args.clear,
                                 valid_to=args.until)
        print(f"grant #{grant.id} to {grant.consumer.code} for {grant.entry.resource_code} until {_last_day(grant)}")

    return _run(args, sessions, work)


def _grants(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work(session: Session, user: User) -> None:
        now = utcnow()
        for g in sharing.grants(session, user, department=args.department):
            source = f"application #{g.application_id}" if g.application_id else g.source
            revoked = f"\trevoked by {g.revoked_by}: {g.revoke_reason}" if g.revoked_at else ""
            print(f"#{g.id}\t{sharing.grant_state(g, now)}\t{g.consumer.code}\t{g.entry.resource_code}\t"
                  f"{_fields(g.fields)}\tclear: {_fields(g.clear_fields) if g.clear_fields else '-'}\t"
                  f"until {_last_day(g)}\t{source}{revoked}")

    return _run(args, sessions, work)


def _revoke(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work(session: Session, user: User) -> None:
        grant = sharing.revoke(session, user, args.id, args.reason)
        print(f"grant #{grant.id} revoked: {grant.consumer.code} no longer reads {grant.entry.resource_code}")

    return _run(args, sessions, work)


def _mask(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work(session: Session, user: User) -> None:
        if args.field:
            if not args.method:
                raise GovernanceError("method: required with a field (none, id_number, phone, name, full)", "method")
            sharing.set_masking(session, user, args.resource, args.field, args.method)
        entry = lookups.published_resource(session, args.resource)
        for name, method, origin in sharing.masking_table(session, entry):
            print(f"{name}\t{method}\t{origin}")

    return _run(args, sessions, work)


def _view(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work(session: Session, user: None) -> None:
        consumer = lookups.department_by_code(session, args.department)
        entry = lookups.published_resource(session, args.resource)
        decision = sharing.authorize(session, consumer, entry)
        print(f"{consumer.code} reads {entry.resource_code} ({entry.sharing_type}) as {decision.basis}"
              + (f" (grants {', '.join(f'#{i}' for i in decision.grant_ids)})" if decision.grant_ids else ""))
        print(f"fields: {_fields(decision.fields)}")
        if decision.masking is not None:
            masked = [(n, decision.masking.method(n)) for n, _m, _o in sharing.masking_table(session, entry)]
            print("masked: " + (", ".join(f"{n} ({m})" for n, m in masked if m != "none") or "-"))

    return _run(args, sessions, work, user=False)


def _application_line(a: SharingApplication, now: datetime) -> str:
    flag = "OVERDUE" if sharing.is_overdue(a, now) else "-"
    decided = f"\t{a.decided_by} {_at(a.decided_at)}" if a.decided_by else ""
    reason = f"\t{a.reason}" if a.reason else ""
    return (f"#{a.id}\t{a.status}\t{flag}\t{a.consumer.code}\t{a.entry.resource_code}\t{_fields(a.fields)}\t"
            f"{a.valid_from}..{a.valid_to}\tdue {_at(a.deadline)}\t{a.purpose}{decided}{reason}")


# --------------------------------------------------------------------------- correction


def _file(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work(session: Session, user: User) -> None:
        report = correction.file_report(session, settings, user, args.resource, record_key=args.key,
                                        field=args.field, problem=args.problem, proposed_value=args.proposed)
        print(f"correction report #{report.id} filed; {report.entry.provider.name} answers by {_at(report.deadline)}")

    return _run(args, sessions, work)


def _answer(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work(session: Session, user: User) -> None:
        report = correction.answer(session, user, args.id, accept=args.accept,
                                   text=args.change if args.accept else args.reason)
        print(f"correction report #{report.id} {report.status}")

    return _run(args, sessions, work)


def _correction_inbox(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work(session: Session, user: User) -> None:
        now = utcnow()
        for r in correction.inbox(session, user, status=args.status, department=args.department):
            print(_report_line(r, now))

    return _run(args, sessions, work)


def _correction_list(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work(session: Session, user: User) -> None:
        now = utcnow()
        for r in correction.filed(session, user, department=args.department):
            print(_report_line(r, now))

    return _run(args, sessions, work)


def _report_line(r, now: datetime) -> str:
    flag = "OVERDUE" if correction.is_overdue(r, now) else "-"
    answered = f"\t{r.answered_by} {_at(r.answered_at)}: {r.answer}" if r.answered_at else ""
    return (f"#{r.id}\t{r.status}\t{flag}\t{r.reporter.code}\t{r.entry.resource_code}\t{r.record_key}\t{r.field}\t"
            f"{r.problem}\tproposed: {r.proposed_value or '-'}\tdue {_at(r.deadline)}{answered}")


# --------------------------------------------------------------------------- assessment


def _assess(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work(session: Session, user: None) -> None:
        since = datetime(args.since.year, args.since.month, args.since.day) if args.since else None
        rows = [r.row() for r in assessment.assess(session, department=args.department, since=since)]
        if args.format == "csv":
            writer = csv.DictWriter(sys.stdout, fieldnames=assessment.COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
            return
        print("\t".join(assessment.COLUMNS))
        for row in rows:
            print("\t".join(_cell(c, row[c]) for c in assessment.COLUMNS))

    return _run(args, sessions, work, user=False)


# --------------------------------------------------------------------------- formatting


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _fields(fields) -> str:
    return ",".join(sorted(fields)) if fields else "all"  # sorted: a frozenset prints in hash order


def _at(at: datetime | None) -> str:
    return at.isoformat() + "Z" if at else "-"


def _last_day(grant: SharingGrant) -> str:
    if grant.valid_to is None:
        return "no end"
    return sharing.china_date(grant.valid_to - timedelta(seconds=1)).isoformat()


def _cell(column: str, value: object) -> str:
    if value is None:
        return "-"
    if column in SHARES:
        return f"{value:.1%}"
    return str(value)
