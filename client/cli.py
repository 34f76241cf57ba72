"""``govshare-client``: a department's command line over the client library.

    govshare-client discover [--keyword 户籍] [--class 101] [--provider CREDIT] [--sharing-type 有条件共享]
    govshare-client show CODE            one resource's catalogue metadata from the directory
    govshare-client wsdl CODE [--out F]  its interface description
    govshare-client query CODE [--key K ...] [--filter FIELD=VALUE | FIELD^=PREFIX ...] [--purpose P]
    govshare-client changes CODE [--state FILE] [--follow [--interval S]] [--purpose P]
    govshare-client submit CODE FILE [--resume] [--batch-size N] [--run-id ID]   FILE: .xml, .csv or .xlsx
    govshare-client apply CODE --purpose P --until YYYY-MM-DD [--field F ...] [--system S]   使用申请
    govshare-client applications         the department's 使用申请 and their answers
    govshare-client grants               what the department may read, and why (its grants)
    govshare-client correction CODE --key K --field F --problem TEXT   纠错 a wrong value
    govshare-client corrections          the department's 纠错 reports and their answers
    govshare-client csr FILE [--renews SERIAL] [--system S]   send a CSR (the key stays here)
    govshare-client cert-requests        the department's certificate requests and what became of them
    govshare-client certificate SERIAL [--out FILE]   an issued certificate's PEM, to install
    govshare-client whoami               the department and certificate the calls are signed with

Settings, each from the first place that has it: the option (``--platform``, ``--key-file``,
``--cert-file``, ``--ca-file``, ``--requester``), the environment (``GOVSHARE_CLIENT_PLATFORM``, ``_KEY``, ``_CERT``,
``_CA``, ``_REQUESTER``), the configuration file (``--config FILE`` or ``GOVSHARE_CLIENT_CONFIG``,
TOML with the same names: ``platform = "https://…"``, ``key = "…"``).  Paths in the file are read
from the file's folder.  ``--output table|json|csv`` (table on a terminal, JSON otherwise for
``query`` and ``discover``).

Exit status: 0 done; 2 refused or wrong - the request, the settings or the caller's rights, with
``error: <code>: <what to do>`` on stderr (the platform's Chinese message on a second line); 1 the
platform could not answer (unreachable, unavailable: try again later); 130 interrupted.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
import tomllib
from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path

import requests
from cryptography import x509

from .faults import PlatformError, Unavailable
from .files import FileError, file_digest

EXIT_OK, EXIT_PLATFORM, EXIT_USER, EXIT_INTERRUPTED = 0, 1, 2, 130
SETTINGS = ("platform", "key", "cert", "ca", "requester")


class UsageError(Exception):
    """A setting or an argument the command cannot use."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="govshare-client",
                                description="a department's client of the govshare platform (政务信息资源共享交换平台)",
                                epilog="Exit status:" + __doc__.split("Exit status:")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="TOML settings file (default $GOVSHARE_CLIENT_CONFIG)")
    for name in SETTINGS:
        option = f"--{name}-file" if name in ("key", "cert", "ca") else f"--{name}"
        p.add_argument(option, dest=name, help=f"(default $GOVSHARE_CLIENT_{name.upper()}, or {name} = in the "
                       "configuration file)")
    p.add_argument("--output", choices=("table", "json", "csv"), help="how results are printed")
    p.add_argument("--timeout", type=float, default=60, help="seconds to wait for an answer (default 60)")
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    discover = commands.add_parser("discover", help="find published resources in the directory")
    discover.add_argument("--keyword", help="a word of the resource's name")
    discover.add_argument("--class", dest="classification", help="a class code at any level, e.g. 101 (人口)")
    discover.add_argument("--provider", help="the provider's 统一社会信用代码")
    discover.add_argument("--sharing-type", choices=("无条件共享", "有条件共享", "不予共享"))
    commands.add_parser("show", help="one resource's catalogue metadata").add_argument("code", help="资源代码")
    wsdl = commands.add_parser("wsdl", help="one resource's WSDL")
    wsdl.add_argument("code", help="资源代码")
    wsdl.add_argument("--out", help="file to write (default: standard output)")

    query = commands.add_parser("query", help="records of a resource, by key or filter")
    query.add_argument("code", help="资源代码")
    query.add_argument("--key", dest="keys", action="append", default=[],
                       help="a record's key (repeat for up to 100)")
    query.add_argument("--filter", action="append", default=[], metavar="FIELD=VALUE|FIELD^=PREFIX")
    query.add_argument("--purpose", help="what the data is used for (用途)")
    query.add_argument("--page-size", type=int, default=100)

    changes = commands.add_parser("changes", help="changes of a resource since the last run")
    changes.add_argument("code", help="资源代码")
    changes.add_argument("--state", help="file keeping the watermark (default: changes-<code>.json here)")
    changes.add_argument("--follow", action="store_true", help="keep asking, every --interval seconds")
    changes.add_argument("--interval", type=float, default=10)
    changes.add_argument("--purpose", help="what the data is used for (用途)")

    submit = commands.add_parser("submit", help="send an export file's records as batches")
    submit.add_argument("code", help="资源代码")
    submit.add_argument("file", help="XML (a root element holding the records), CSV or XLSX (a header row of the "
                        "format's field names, a record per row)")
    submit.add_argument("--batch-size", type=int, default=5000)
    submit.add_argument("--run-id", help="batch ids derive from it (default: the file's SHA-256, so sending the "
                        "same file again takes nothing twice)")
    submit.add_argument("--resume", action="store_true", help="go on from the last batch the platform answered "
                        "(as the journal says), reading past what was sent without sending it again")
    submit.add_argument("--journal", help="file recording the batches answered (default: submit-<code>.json here)")
    apply = commands.add_parser("apply", help="apply for a 有条件共享 resource (使用申请)")
    apply.add_argument("code", help="资源代码")
    apply.add_argument("--purpose", required=True, help="what the data will be used for (用途)")
    apply.add_argument("--until", required=True, type=_day, help="the last day the data is needed, YYYY-MM-DD")
    apply.add_argument("--from", dest="since", type=_day, help="the first day, YYYY-MM-DD (default: approval)")
    apply.add_argument("--field", action="append", default=[], help="a field needed (repeat; none: every field)")
    apply.add_argument("--system", help="the application system that will read (default: the signing one)")
    commands.add_parser("applications", help="the department's 使用申请 and their answers")
    commands.add_parser("grants", help="what the department may read, and why")
    report = commands.add_parser("correction", help="report a wrong value (纠错)")
    report.add_argument("code", help="资源代码")
    report.add_argument("--key", dest="record_key", required=True, help="the record's key")
    report.add_argument("--field", required=True, help="the field whose value is wrong")
    report.add_argument("--problem", required=True, help="what is wrong (问题描述)")
    commands.add_parser("corrections", help="the department's 纠错 reports and their answers")
    csr = commands.add_parser("csr", help="send a PKCS#10 request for a new key (openssl req -new ...)")
    csr.add_argument("file", help="the CSR in PEM (never the private key)")
    csr.add_argument("--renews", metavar="SERIAL", help="the certificate it replaces (a renewal)")
    csr.add_argument("--system", help="the application system it is for")
    commands.add_parser("cert-requests", help="the department's certificate requests")
    certificate = commands.add_parser("certificate", help="an issued certificate's PEM")
    certificate.add_argument("serial")
    certificate.add_argument("--out", help="file to write (default: standard output)")
    commands.add_parser("whoami", help="the department and certificate the calls are signed with")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings: dict = {}
    try:
        settings = _settings(args)
        return COMMANDS[args.command](args, settings) or EXIT_OK
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER
    except PlatformError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        if exc.user_message and exc.user_message != exc.message:
            print(f"       {exc.user_message}", file=sys.stderr)
        return EXIT_PLATFORM if isinstance(exc, Unavailable) else EXIT_USER
    except (requests.ConnectionError, requests.Timeout) as exc:
        print(f"error: the platform at {settings.get('platform')} did not answer ({exc.__class__.__name__}); "
              "check --platform and the network, or try again later", file=sys.stderr)
        return EXIT_PLATFORM
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


# ----------------------------------------------------------------------------------------------- settings


def _settings(args) -> dict[str, str]:
    config = args.config or os.environ.get("GOVSHARE_CLIENT_CONFIG")
    from_file: dict[str, str] = {}
    if config:
        path = Path(config)
        try:
            loaded = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"the configuration file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"the configuration file {path} is not TOML: {exc}") from None
        unknown = sorted(set(loaded) - set(SETTINGS))
        if unknown:
            raise UsageError(f"{path}: unknown setting {', '.join(unknown)}; the settings are {', '.join(SETTINGS)}")
        from_file = {k: str(path.parent / v) if k in ("key", "cert", "ca") else str(v) for k, v in loaded.items()}
    settings = {}
    for name in SETTINGS:
        value = getattr(args, name) or os.environ.get(f"GOVSHARE_CLIENT_{name.upper()}") or from_file.get(name)
        if value:
            settings[name] = value
    if "platform" not in settings:
        raise UsageError("no platform: give --platform https://…, or GOVSHARE_CLIENT_PLATFORM, or platform = in "
                         "the configuration file")
    signing = [name for name in ("key", "cert", "ca") if name in settings]
    if signing and len(signing) != 3:
        missing = sorted({"key", "cert", "ca"} - set(signing))
        raise UsageError(f"signing needs the key, the certificate and the platform CA's certificate: "
                         f"{', '.join(missing)} missing")
    for name in signing:
        if not Path(settings[name]).is_file():
            raise UsageError(f"{name}: {settings[name]} is not a file")
    settings["timeout"] = args.timeout
    return settings


def _exchange(settings):
    from .exchange import Exchange

    if "key" not in settings and "requester" not in settings:
        raise UsageError("the exchange needs your department: --key-file, --cert-file and --ca-file to sign (or, "
                         "against a platform in development mode, --requester CREDIT_CODE)")
    return Exchange(settings["platform"], key=settings.get("key"), cert=settings.get("cert"), ca=settings.get("ca"),
                    requester=settings.get("requester"), timeout=settings["timeout"])


def _directory(settings):
    from .directory import Directory

    return Directory(settings["platform"], timeout=settings["timeout"])


# ----------------------------------------------------------------------------------------------- commands


def _discover(args, settings) -> None:
    found = _directory(settings).find(keyword=args.keyword, classification=args.classification,
                                      provider=args.provider, sharing_type=args.sharing_type)
    columns = ("code", "name", "sharing_type", "update_cycle", "provider_code")
    _print(args, [{c: getattr(r, c) for c in columns} for r in found], columns, default="table")


def _show(args, settings) -> None:
    resource = _directory(settings).resource(args.code)
    print(json.dumps(asdict(resource), ensure_ascii=False, indent=2))


def _wsdl(args, settings) -> None:
    directory = _directory(settings)
    text = directory.wsdl(directory.resource(args.code))
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"{args.code}: WSDL written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def _query(args, settings) -> None:
    filters = []
    for text in args.filter:
        field, operator, value = (*text.split("^=", 1), "prefix") if "^=" in text else (*text.split("=", 1), "eq")
        if "=" not in text or not field:
            raise UsageError(f"--filter {text!r}: write FIELD=VALUE, or FIELD^=PREFIX")
        filters.append((field, operator, value))
    rows = [record.fields for record in _exchange(settings).query(
        args.code, keys=args.keys, filters=filters, page_size=args.page_size, purpose=args.purpose)]
    columns = list(dict.fromkeys(name for row in rows for name in row))
    _print(args, rows, columns, default="json")
    print(f"{len(rows)} records", file=sys.stderr)


def _changes(args, settings) -> None:
    exchange = _exchange(settings)
    state = args.state or f"changes-{args.code.replace('/', '-')}.json"
    while True:
        taken = 0
        for change in exchange.changes(args.code, state=state, purpose=args.purpose):
            taken += 1
            fields = change.record.fields if change.record is not None else {}
            print(json.dumps({"sequence": change.sequence, "key": change.key, "operation": change.operation,
                              "effectiveFrom": change.effective_from.isoformat(), "fields": fields},
                             ensure_ascii=False), flush=True)
        if not args.follow:
            print(f"{taken} changes; watermark kept in {state}", file=sys.stderr)
            return
        time.sleep(args.interval)


def _submit(args, settings) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"{path} is not a file")
    exchange = _exchange(settings)
    try:
        records = exchange.record_file(path)
    except FileError as exc:
        raise UsageError(str(exc)) from None
    journal = Path(args.journal or f"submit-{args.code.replace('/', '-')}.json")
    run = {"file": str(path.resolve()), "run_id": args.run_id or file_digest(path), "batch_size": args.batch_size,
           "resource": args.code, "batches": 0}
    if args.resume:
        run["batches"] = _resumed(journal, run)
        if run["batches"]:
            print(f"resuming after batch {run['batches']} (journal {journal})", file=sys.stderr)
    progress = _Progress(records)
    totals = {"received": 0, "accepted": 0, "quarantined": 0, "duplicate": 0}
    try:
        for receipt in exchange.submit_file(args.code, records, run_id=run["run_id"], batch_size=args.batch_size,
                                            skip_batches=run["batches"]):
            run["batches"] += 1
            _keep(journal, run)
            totals["received"] += receipt.received
            totals["accepted"] += receipt.accepted
            totals["quarantined"] += receipt.quarantined
            totals["duplicate"] += receipt.received if receipt.duplicate else 0
            print(f"{receipt.batch_id}\treceived {receipt.received}\taccepted {receipt.accepted}\t"
                  f"quarantined {receipt.quarantined}" + ("\tduplicate (taken before)" if receipt.duplicate else ""))
            progress.show(totals["received"])
    except FileError as exc:
        raise UsageError(f"{exc} (batches 1-{run['batches']} were taken; fix the file and send it with --resume "
                         "only if the rows before this one are unchanged)") from None
    progress.done(totals["received"])
    print(f"{totals['received']} records sent: {totals['accepted']} accepted, {totals['quarantined']} "
          f"quarantined, {totals['duplicate']} in batches the platform had already", file=sys.stderr)
    return EXIT_OK


def _resumed(journal: Path, run: dict) -> int:
    """The batches a journal says were answered, when it is this file's with the same batch size."""
    try:
        kept = json.loads(journal.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--resume: no journal {journal}; nothing to resume (send without --resume)") from None
    except ValueError:
        raise UsageError(f"--resume: {journal} is not a journal of govshare-client submit") from None
    for name in ("run_id", "batch_size", "resource"):
        if kept.get(name) != run[name]:
            raise UsageError(f"--resume: {journal} is of another run ({name} {kept.get(name)!r}, not {run[name]!r}); "
                             "send without --resume (the platform takes no batch twice)")
    return int(kept.get("batches", 0))


def _keep(journal: Path, run: dict) -> None:
    """Write the journal whole or not at all: a crash leaves the previous one."""
    part = journal.with_name(journal.name + ".part")
    part.write_text(json.dumps(run, ensure_ascii=False), encoding="utf-8")
    os.replace(part, journal)


def _apply(args, settings) -> None:
    filed = _exchange(settings).apply(args.code, purpose=args.purpose, valid_to=args.until, valid_from=args.since,
                                      fields=args.field, system=args.system)
    print(f"使用申请 #{filed.id} for {filed.resource_code} ({filed.resource_name}) submitted to {filed.provider_name}; "
          f"answer due by {filed.deadline:%Y-%m-%d}")


def _applications(args, settings) -> None:
    columns = ("id", "resource_code", "resource_name", "status", "valid_from", "valid_to", "deadline", "reason")
    rows = [{c: _plain(getattr(a, c)) for c in columns} for a in _exchange(settings).applications()]
    _print(args, rows, columns, default="table")


def _grants(args, settings) -> None:
    columns = ("resource_code", "resource_name", "state", "source", "application_id", "fields", "clear_fields",
               "valid_from", "last_day", "system")
    rows = [{c: _plain(getattr(g, c)) for c in columns} for g in _exchange(settings).grants()]
    _print(args, rows, columns, default="table")


def _correction(args, settings) -> None:
    filed = _exchange(settings).file_correction(args.code, record_key=args.record_key, field=args.field,
                                                problem=args.problem)
    print(f"纠错 report #{filed.id} filed on {filed.resource_code} {filed.record_key} {filed.field}: {filed.status}")


def _corrections(args, settings) -> None:
    columns = ("id", "resource_code", "record_key", "field", "status", "filed_at", "answer")
    rows = [{c: _plain(getattr(r, c)) for c in columns} for r in _exchange(settings).corrections()]
    _print(args, rows, columns, default="table")


def _csr(args, settings) -> None:
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"{path} is not a file")
    made = _exchange(settings).request_certificate(path.read_bytes(), system=args.system, renews=args.renews)
    print(f"certificate request #{made.id} for {made.holder} ({made.key}) {made.status}: the platform's security "
          f"administrator decides; then: govshare-client cert-requests, and certificate SERIAL --out FILE")


def _cert_requests(args, settings) -> None:
    columns = ("id", "holder", "key", "renews", "status", "submitted_at", "certificate_serial", "reason")
    rows = [{c: _plain(getattr(r, c)) for c in columns} for r in _exchange(settings).certificate_requests()]
    _print(args, rows, columns, default="table")


def _certificate(args, settings) -> None:
    found = _exchange(settings).certificate(args.serial)
    if args.out:
        Path(args.out).write_text(found.pem, encoding="ascii")
        print(f"certificate {found.serial} ({found.subject}, {found.status}, valid to {found.not_after:%Y-%m-%d}) "
              f"written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(found.pem)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date: write YYYY-MM-DD") from None


def _plain(value):
    """A value as JSON and CSV print it."""
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _whoami(args, settings) -> None:
    if "cert" not in settings:
        print(f"platform {settings['platform']}; unsigned, as {settings.get('requester', 'nobody')}")
        return
    cert = x509.load_pem_x509_certificate(Path(settings["cert"]).read_bytes())
    exchange = _exchange(settings)
    subject = cert.subject.rfc4514_string()
    ends = cert.not_valid_after_utc
    days = (ends - datetime.now(UTC)).days
    print(f"platform   {settings['platform']}")
    print(f"requester  {exchange.requester}")
    print(f"subject    {subject}")
    print(f"serial     {format(cert.serial_number, 'x')}")
    print(f"valid to   {ends:%Y-%m-%d} ({days} days{'; renew it: send a CSR with --renews' if days < 30 else ''})")


COMMANDS = {"discover": _discover, "show": _show, "wsdl": _wsdl, "query": _query, "changes": _changes,
            "submit": _submit, "apply": _apply, "applications": _applications, "grants": _grants,
            "correction": _correction, "corrections": _corrections, "csr": _csr, "cert-requests": _cert_requests,
            "certificate": _certificate, "whoami": _whoami}


# ----------------------------------------------------------------------------------------------- output


def _print(args, rows: Iterable[dict], columns, *, default: str) -> None:
    rows = list(rows)
    how = args.output or ("table" if sys.stdout.isatty() else default)
    if how == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    elif how == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    else:
        widths = {c: max([len(str(c))] + [len(str(r.get(c, ""))) for r in rows]) for c in columns}
        print("  ".join(str(c).ljust(widths[c]) for c in columns))
        for row in rows:
            print("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))


class _Progress:
    """Records sent, their rate and, reading a file, the time left: redrawn in place on a terminal,
    a line every 10 s otherwise."""

    def __init__(self, file=None):
        self.started, self.last = time.monotonic(), 0.0
        self.tty = sys.stderr.isatty()
        self.file = file

    def show(self, sent: int) -> None:
        now = time.monotonic()
        if not self.tty and now - self.last < 10:
            return
        self.last = now
        elapsed = max(now - self.started, 1e-6)
        line = f"sent {sent:,} records, {sent / elapsed:,.0f}/s"
        done = self.file.done if self.file is not None else 0
        if 0 < done < 1:
            left = elapsed * (1 - done) / done
            line += f", {done:.0%} of the file, about {_duration(left)} left"
        print(("\r" + line) if self.tty else line, end="" if self.tty else "\n", file=sys.stderr, flush=True)

    def done(self, sent: int) -> None:
        if self.tty:
            print(file=sys.stderr)
        elapsed = time.monotonic() - self.started
        print(f"done: {sent:,} records in {elapsed:.1f} s", file=sys.stderr)


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


if __name__ == "__main__":
    sys.exit(main())
