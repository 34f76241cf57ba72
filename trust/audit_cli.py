"""``govshare audit``: verify, search, export and checkpoint the audit log (审计日志, S4).

    govshare audit verify                  # every problem by seq (exit 1 if any); entries no signature covers yet
    govshare audit search --department mzj --operation exchange. --result refused --since 2024-05-01
    govshare audit export --format csv|json [--out FILE] [same criteria as search]
    govshare audit checkpoint              # sign the current head of the chain now
    govshare audit search --user auditor   # as an account (its roles), not as the platform's operator

Each command is one action of :mod:`trust.auditing` (``audit.verify``, ``audit.search``,
``audit.export``, ``audit.checkpoint``), run as the platform's operator or as ``--user``, and
recorded in the log with channel ``cli``.  The chain needs nothing more to be re-verified from
an export, the checkpoints' signatures the platform CA's certificate (``var/pki/ca.pem``), the
keyed hashes of the entries after the last checkpoint the audit key - with which its holder
could also forge them.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from registry.settings import Settings

from . import auditing, console

EXIT = ("exit status: 0 done; 2 a wrong input (an unknown format, a date that is not one) or a role that may not; "
        "1 the platform could not")


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("audit", help="审计: verify, search and export the tamper-evident audit log")
    commands = group.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    acting = argparse.ArgumentParser(add_help=False)
    acting.add_argument("--user", metavar="USERNAME", help="act as this account (default: the platform's operator)")

    def command(name: str, handler, help_text: str, exit_text: str = EXIT) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, parents=[acting], help=help_text, epilog=exit_text)
        parser.set_defaults(handler=handler)
        return parser

    command("verify", _verify, "check the hash chain, the signed checkpoints and the keyed chain after them; "
            "exit 1 on any problem", "exit status: 0 the log is intact; 1 a problem was found, or the platform "
            "could not check; 2 a role that may not")
    search = command("search", _search, "entries matching every given criterion, newest first")
    _criteria(search)
    search.add_argument("--offset", type=int, default=0)
    search.add_argument("--limit", type=int, default=50, help="entries per page (default 50)")
    export = command("export", _export, "entries with their chain fields, in chain order")
    export.add_argument("--format", choices=auditing.FORMATS, default="json")
    export.add_argument("--out", help="file to write (default: standard output)")
    _criteria(export)
    command("checkpoint", _checkpoint, "sign the head of the chain with the platform key now",
            "exit status: 0 signed; 2 the log is empty, or a role that may not; 1 no platform CA (govshare pki init)")


def _time(value: str) -> datetime:
    """An ISO date or date-time, read as UTC (as entries are recorded)."""
    try:
        parsed = datetime.fromisoformat(value.removesuffix("Z"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO date or date-time, e.g. 2024-05-01T08:00") from None
    return parsed.replace(tzinfo=None)


def _criteria(p: argparse.ArgumentParser) -> None:
    p.add_argument("--department", help="department code, name or 统一社会信用代码")
    p.add_argument("--operation", help="e.g. exchange.QueryRecords, or a prefix: exchange. / sharing.")
    p.add_argument("--resource", help="资源代码")
    p.add_argument("--result", help="ok, refused, fault, or exact: refused:NotShared")
    p.add_argument("--since", type=_time, help="from this UTC time (inclusive)")
    p.add_argument("--until", type=_time, help="up to this UTC time (exclusive)")
    p.add_argument("--certificate", help="certificate serial (hexadecimal)")


def _asked(args) -> dict:
    return {"department": args.department, "operation": args.operation, "resource": args.resource,
            "result": args.result, "since": args.since, "until": args.until, "certificate": args.certificate}


def _verify(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> int:
        report = auditing.verify(console.context(sessions, settings, args.user))
        for problem in report.problems:
            print(problem)
        for warning in report.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        last = f"seq {report.signed_seq}" if report.signed_seq else "none yet"
        print(f"unsigned: {report.unsigned} entries after the last signed checkpoint ({last}), "
              "covered by the keyed chain only")
        verdict = "OK" if report.ok else f"{len(report.problems)} PROBLEM(S)"
        print(f"audit log: {report.entries} entries, head seq {report.head_seq} ({report.head_hash[:16]}…), "
              f"{report.checkpoints_verified}/{report.checkpoints} checkpoints verified: {verdict}")
        return 0 if report.ok else 1

    return console.run(work)


def _search(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        found = auditing.search(console.context(sessions, settings, args.user), **_asked(args), offset=args.offset,
                                limit=args.limit)
        for e in found.entries:
            who = e.system_code or e.department_code or "-"  # a system's code begins with its department's
            if e.user:
                who += f"/{e.user}"
            if e.certificate_serial:
                who += f" cert {e.certificate_serial}"
            print(f"{e.seq:>8} {e.recorded_at:%Y-%m-%d %H:%M:%S} {who:<20} {e.operation:<24} "
                  f"{e.resource_code or '-':<16} {e.result:<28} {e.record_count:>6}"
                  + (f"  {e.detail[:80]}" if e.detail else ""))
        shown = f"{found.offset + 1}-{found.offset + len(found.entries)}" if found.entries else "none"
        print(f"{found.total} entries match; showing {shown}")

    return console.run(work)


def _export(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        ctx = console.context(sessions, settings, args.user)
        if not args.out:
            auditing.export(ctx, out=sys.stdout, format=args.format, **_asked(args))
            return
        with open(args.out, "w", encoding="utf-8", newline="") as out:
            count = auditing.export(ctx, out=out, format=args.format, **_asked(args))
        print(f"{count} entries written to {args.out}", file=sys.stderr)

    return console.run(work)


def _checkpoint(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        made = auditing.checkpoint(console.context(sessions, settings, args.user))
        print(f"checkpoint #{made.id}: seq {made.seq}, hash {made.entry_hash}, signed by the platform key")

    return console.run(work)
