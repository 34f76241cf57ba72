"""``govshare audit``: verify, search, export and checkpoint the audit log (审计日志, S4).

    govshare audit verify                  # every problem by seq (exit 1 if any); entries no signature covers yet
    govshare audit search --department mzj --operation exchange. --result refused --since 2024-05-01
    govshare audit export --format csv|json [--out FILE] [same criteria as search]
    govshare audit checkpoint              # sign the current head of the chain now

An export carries every hashed column and the keyed hash (and, as JSON, every checkpoint
with its certificate, signature and signed text), so an auditor can re-verify it without
govshare: see :mod:`trust.audit` for the canonical form.  The chain needs nothing more,
the checkpoints' signatures the platform CA's certificate (``var/pki/ca.pem``), the keyed
hashes of the entries after the last checkpoint the audit key — with which its holder could
also forge them.  In CSV an empty cell is null (except in ``detail``, which is never null) and
``seq``, ``department_id``, ``record_count`` are integers.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from registry.settings import Settings

from . import audit, pki


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("audit", help="审计: verify, search and export the tamper-evident audit log")
    commands = group.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    commands.add_parser("verify", help="check the hash chain, the signed checkpoints and the keyed chain after "
                        "them; exit 1 on any problem").set_defaults(handler=_verify)
    search = commands.add_parser("search", help="entries matching every given criterion, newest first")
    _criteria(search)
    search.add_argument("--offset", type=int, default=0)
    search.add_argument("--limit", type=int, default=50, help="entries per page (default 50)")
    search.set_defaults(handler=_search)
    export = commands.add_parser("export", help="entries with their chain fields, in chain order")
    export.add_argument("--format", choices=("csv", "json"), default="json")
    export.add_argument("--out", help="file to write (default: standard output)")
    _criteria(export)
    export.set_defaults(handler=_export)
    commands.add_parser("checkpoint", help="sign the head of the chain with the platform key now"
                        ).set_defaults(handler=_checkpoint)


def _time(value: str) -> datetime:
    """An ISO date or date-time, read as UTC (as entries are recorded)."""
    try:
        parsed = datetime.fromisoformat(value.removesuffix("Z"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO date or date-time, e.g. 2024-05-01T08:00") from None
    return parsed.replace(tzinfo=None)


def _criteria(p: argparse.ArgumentParser) -> None:
    p.add_argument("--department", help="department code, name or 统一社会信用代码")
    p.add_argument("--operation", help="e.g. exchange.QueryRecords, or a prefix: exchange. / uddi.")
    p.add_argument("--resource", help="资源代码")
    p.add_argument("--result", help="ok, refused, fault, or exact: refused:NotShared")
    p.add_argument("--since", type=_time, help="from this UTC time (inclusive)")
    p.add_argument("--until", type=_time, help="up to this UTC time (exclusive)")
    p.add_argument("--certificate", help="certificate serial (hexadecimal)")


def _to_criteria(args) -> audit.Criteria:
    return audit.Criteria(department=args.department, operation=args.operation, resource=args.resource,
                          result=args.result, since=args.since, until=args.until, certificate=args.certificate)


def _verify(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    report = audit.verify(sessions, settings)
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


def _search(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    with sessions() as session:
        total, page = audit.search(session, _to_criteria(args), offset=args.offset, limit=args.limit)
    for e in page:
        who = e.department_code or "-"
        if e.user:
            who += f"/{e.user}"
        if e.certificate_serial:
            who += f" cert {e.certificate_serial}"
        print(f"{e.seq:>8} {e.recorded_at:%Y-%m-%d %H:%M:%S} {who:<20} {e.operation:<24} "
              f"{e.resource_code or '-':<16} {e.result:<28} {e.record_count:>6}"
              + (f"  {e.detail[:80]}" if e.detail else ""))
    shown = f"{args.offset + 1}-{args.offset + len(page)}" if page else "none"
    print(f"{total} entries match; showing {shown}")
    return 0


def _export(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    write = audit.export_csv if args.format == "csv" else audit.export_json
    with sessions() as session:
        if args.out:
            with open(args.out, "w", encoding="utf-8", newline="") as out:
                count = write(session, out, _to_criteria(args))
            print(f"{count} entries written to {args.out}", file=sys.stderr)
        else:
            write(session, sys.stdout, _to_criteria(args))
    return 0


def _checkpoint(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    try:
        row = audit.checkpoint(sessions, settings)
    except (pki.PkiError, audit.NothingToCheckpoint) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"checkpoint #{row.id}: seq {row.seq}, hash {row.entry_hash}, signed by the platform key")
    return 0
