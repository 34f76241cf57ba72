"""``govshare audit``: verify, search, export and checkpoint the audit log (审计日志, S4).

    govshare audit verify                  # every problem by seq (exit 1 if any); entries no signature covers yet
    govshare audit search --department mzj --operation exchange. --result refused --since 2024-05-01
    govshare audit export --format csv|json [--out FILE] [same criteria as search]
    govshare audit checkpoint              # sign the current head of the chain now
    govshare audit search --user auditor   # as an account (its roles), not as the platform's operator
    govshare audit archive --period 2026-11 [--out DIR]    # the month's evidence archive (消息日志归档)
    govshare audit verify-archive FILE --ca ca.pem [--tsa-ca tsa.pem]   # offline: no database, no network

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
from pathlib import Path

from cryptography import x509
from sqlalchemy.orm import Session, sessionmaker

from registry.errors import EXIT_OK, EXIT_PLATFORM, EXIT_USER
from registry.settings import Settings

from . import auditing, console, evidence, evidence_verify

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
    archive = command("archive", _archive, "write the evidence archive of a month (China time): signed messages, "
                      "audit entries, checkpoints, signed manifest; then remove archived messages older than "
                      "GOVSHARE_EVIDENCE_DAYS", "exit status: 0 written; 2 a wrong or unfinished period, one "
                      "archived already or without entries, or a role that may not; 1 the platform could not")
    archive.add_argument("--period", required=True, metavar="YYYY-MM", help="the month, e.g. 2026-11")
    archive.add_argument("--out", metavar="DIR", help="folder of the archives (default: <var>/archive)")
    check = commands.add_parser("verify-archive", help="verify an evidence archive offline (no database, no "
                                "network) against a CA certificate you trust",
                                epilog="exit status: 0 every check passed; 1 a check failed; 2 a file is missing "
                                "or unreadable")
    check.add_argument("file", metavar="FILE", help="a govshare-evidence-YYYY-MM.zip")
    check.add_argument("--ca", required=True, metavar="PEM", help="the platform CA's certificate, obtained "
                       "independently of the archive (e.g. the platform's /pki/ca.pem, fingerprint compared)")
    check.add_argument("--tsa-ca", metavar="PEM", help="the time-stamping authority's CA certificate")
    check.set_defaults(run=_verify_archive)


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


def _archive(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        made = evidence.archive(console.context(sessions, settings, args.user), period=args.period, folder=args.out)
        stamp = ", time-stamped" if made.timestamped else ""
        print(f"{made.path}: {made.period}, audit entries {made.first_seq}..{made.checkpoint_seq} (signed checkpoint "
              f"at {made.checkpoint_seq}), {made.messages} signed exchanges{stamp}; verified; {made.removed} "
              "archived messages removed from the database")

    return console.run(work)


def _certificate_file(path: str, option: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(Path(path).read_bytes())
    except OSError as exc:
        raise SystemExit(_usage(f"{option} {path}: {exc.strerror}")) from None
    except ValueError:
        raise SystemExit(_usage(f"{option} {path}: not a PEM certificate")) from None


def _usage(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USER


def _verify_archive(args, settings: Settings) -> int:
    """No database is opened (``run``, not ``handler``): the archive and the CA are all it needs."""
    if not Path(args.file).is_file():
        return _usage(f"{args.file}: no such file")
    ca = _certificate_file(args.ca, "--ca")
    tsa_ca = _certificate_file(args.tsa_ca, "--tsa-ca") if args.tsa_ca else None
    report = evidence_verify.verify_archive(args.file, ca, tsa_ca=tsa_ca)
    print(f"archive {args.file}: period {report.period or '?'}; {report.members} members, {report.entries} audit "
          f"entries, {report.checkpoints} checkpoints, {report.messages} signed exchanges "
          f"({report.signatures} WS-Security signatures verified)")
    if report.timestamp is not None:
        print(f"time-stamp: {evidence_verify.china_time(report.timestamp.gen_time)} by {report.timestamp.tsa}, "
              f"serial {report.timestamp.serial}")
    for what in report.checked:
        print(f"checked: {what}")
    for serial, since in sorted(report.revoked_later.items()):
        print(f"note: certificate {serial} was revoked {evidence_verify.china_time(since)}, after the messages it "
              "signed here: they were signed while it was valid")
    for failure in report.failures:
        print(f"FAILED {failure}")
    print("OK" if report.ok else f"{len(report.failures)} FAILURE(S)")
    return EXIT_OK if report.ok else EXIT_PLATFORM
