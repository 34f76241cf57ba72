"""``govshare monitoring``: operational monitoring (运行监测) from a terminal.

    $ govshare monitoring report --since 24h --service /exchange
    requests 1200 (3 errors) from 2026-12-05 13:00 to 2026-12-06 13:00 China time
    service          requests  errors   p50 ms   p95 ms   p99 ms   bytes in  bytes out
    /exchange            1200       3     12.0     48.5    120.0     960000    4100000
    ...
    $ govshare monitoring requests --since 1h --consumer mzj --errors
    2 requests (newest first)

    started (China)              ms  service        operation             consumer      system      resource ...
    2026-12-06 12:41:07.118      14  /exchange      QueryRecords          mzj           MZJ-DB      101001002/...
    ...
    $ govshare monitoring summarise
    2 days of operational records summarised: 2026-12-04, 2026-12-05
    $ govshare monitoring purge
    deleted 5120 operational monitoring records older than 90 days (GOVSHARE_MONITORING_DAYS)

``report`` runs the ``monitoring.report`` action as ``--user`` (default: the platform's operator) and
prints its tables per service, operation, consumer and resource.  ``--since``/``--until`` take a China
time (``2026-12-05`` or ``2026-12-05T09:30``) or a span back from now (``90m``, ``24h``, ``7d``).
``requests`` lists the requests one by one, newest first (请求明细, ``monitoring.requests``): ``--errors``
only the failed ones, ``--limit`` of them (50), ``--format csv`` for a spreadsheet.  ``summarise`` does now
what the hourly job does: it summarises the China days that have ended
(运行监测按日汇总, ``registry.request_log.summarise``), which a report by day then reads.  ``purge`` deletes the
records older than ``GOVSHARE_MONITORING_DAYS`` and the summaries older than
``GOVSHARE_MONITORING_SUMMARY_DAYS`` (``registry.request_log.purge``).
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from registry import request_log
from registry.clock import CHINA, china_text
from registry.settings import Settings
from trust import console

from . import monitoring

_SPAN = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def moment(text: str) -> datetime:
    """A China time (``YYYY-MM-DD[THH:MM]``) or a span back from now (``24h``), as an aware UTC time."""
    text = text.strip()
    span = _SPAN.match(text)
    if span:
        return datetime.now(UTC) - timedelta(**{_UNITS[span.group(2)]: int(span.group(1))})
    try:
        return datetime.fromisoformat(text).replace(tzinfo=CHINA).astimezone(UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a China time like 2026-12-05 or 2026-12-05T09:30 "
                                         "nor a span back from now like 90m, 24h or 7d") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("monitoring", help="运行监测: the SOAP requests' volumes, latencies, errors, bytes")
    commands = group.add_subparsers(dest="monitoring_command", required=True, metavar="COMMAND")
    rep = commands.add_parser("report", help="requests per service, operation, consumer and resource")
    rep.add_argument("--user", metavar="USERNAME", help="the account acting (default: the platform's operator)")
    rep.add_argument("--service", help="one service, e.g. /exchange or /uddi/inquiry")
    rep.add_argument("--consumer", help="one consumer department (its code)")
    rep.add_argument("--resource", help="one resource (资源代码)")
    rep.add_argument("--since", type=moment, help="from (China time, or 24h / 7d back; default 24h)")
    rep.add_argument("--until", type=moment, help="to (China time, or a span back; default now)")
    rep.add_argument("--step", choices=tuple(monitoring.STEPS), default="hour", help="the time series' step")
    rep.add_argument("--format", choices=("table", "csv"), default="table",
                     help="csv: a row per group and key, for a spreadsheet (the portal's 导出 CSV)")
    rep.set_defaults(handler=_report)
    req = commands.add_parser("requests", help="the requests one by one, newest first (请求明细)")
    req.add_argument("--user", metavar="USERNAME", help="the account acting (default: the platform's operator)")
    req.add_argument("--service", help="one service, e.g. /exchange or /uddi/inquiry")
    req.add_argument("--consumer", help="one consumer department (its code)")
    req.add_argument("--resource", help="one resource (资源代码)")
    req.add_argument("--system", help="one application system (its code)")
    req.add_argument("--errors", action="store_true", help="only the requests that failed")
    req.add_argument("--since", type=moment, help="from (China time, or 90m / 24h back; default 1h)")
    req.add_argument("--until", type=moment, help="to (China time, or a span back; default now)")
    req.add_argument("--limit", type=int, default=50, help="the newest so many (default 50)")
    req.add_argument("--format", choices=("table", "csv"), default="table", help="csv: a row a request")
    req.set_defaults(handler=_requests)
    summarise = commands.add_parser("summarise", help="summarise the China days that have ended (the hourly job)")
    summarise.set_defaults(handler=_summarise)
    purge = commands.add_parser("purge", help="delete the records older than GOVSHARE_MONITORING_DAYS")
    purge.set_defaults(handler=_purge)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _table(title: str, rows: list[monitoring.Figures]) -> list[str]:
    lines = [f"{title:<28}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
             f"{'bytes in':>12}{'bytes out':>12}"]
    lines += [f"{(f.key or '-'):<28}{f.requests:>9}{f.errors:>8}{_number(f.p50):>9}{_number(f.p95):>9}"
              f"{_number(f.p99):>9}{f.bytes_in:>12}{f.bytes_out:>12}" for f in rows]
    return lines


def _report(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        found = monitoring.report(console.context(sessions, settings, args.user), since=args.since,
                                  until=args.until, service=args.service, consumer=args.consumer,
                                  resource=args.resource, step=args.step)
        if args.format == "csv":
            monitoring.write_csv(found, sys.stdout)
            return
        china = [china_text(at) for at in (found.since, found.until)]
        lines = [f"requests {found.total.requests} ({found.total.errors} errors) from {china[0]} to {china[1]} "
                 "China time", ""]
        for title, rows in (("service", found.services), ("operation", found.operations),
                            ("consumer", found.consumers), ("resource", found.resources),
                            (f"{args.step} (China time)", found.series)):
            lines += [*_table(title, rows), ""]
        print("\n".join(lines).rstrip())

    return console.run(work)


def _requests(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        found = monitoring.requests(console.context(sessions, settings, args.user), since=args.since,
                                    until=args.until, service=args.service, consumer=args.consumer,
                                    resource=args.resource, system=args.system, errors=args.errors,
                                    limit=args.limit)
        if args.format == "csv":
            monitoring.write_requests_csv(found, sys.stdout)
            return
        shown = f"the newest {len(found.requests)} of " if found.total > len(found.requests) else ""
        lines = [f"{shown}{found.total} requests (newest first)", "",
                 f"{'started (China)':<25}{'ms':>7}  {'service':<15}{'operation':<22}{'consumer':<14}{'system':<12}"
                 f"{'resource':<20}{'result':<22}client"]
        lines += [f"{china_text(r.started, '%Y-%m-%d %H:%M:%S.') + f'{r.started.microsecond // 1000:03d}':<25}"
                  f"{r.duration_ms:>7}  {r.service:<15}{r.operation:<22}{r.department_code or '-':<14}"
                  f"{r.system_code or '-':<12}{r.resource_code or '-':<20}{r.result:<22}{r.client}"
                  for r in found.requests]
        print("\n".join(lines))

    return console.run(work)


def _summarise(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    print(request_log.summarised_line(request_log.summarise(sessions, settings)))
    return 0


def _purge(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    deleted = request_log.purge(sessions, settings)
    print(f"deleted {deleted} operational monitoring records older than {settings.monitoring_days} days "
          "(GOVSHARE_MONITORING_DAYS)")
    return 0
