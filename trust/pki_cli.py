"""``govshare pki``: the platform CA and the departments' certificates (S1).

    govshare pki init [--force]
    govshare pki issue gaj [--out DIR] [--days 730] [--password P]
    govshare pki revoke SERIAL [--reason keyCompromise]
    govshare pki crl
    govshare pki list [--department gaj]

Departments ask for their certificates with a CSR instead (``govshare admin cert``,
:mod:`trust.certificates_cli`): the key then never leaves them; ``issue`` stays for the demo and tests.

Each command is one action of :mod:`trust.certificates` (``pki.init``, ``pki.issue``, ...), run as
the platform's operator (or ``--user``) and recorded in the audit log with channel ``cli``.
``issue`` writes ``<code>-<serial>.key`` (0600), ``.pem`` and a password-protected ``.p12``
(PKCS#12 with the CA certificate) into ``--out`` (default ``var/pki/issued``) and prints the
PKCS#12 password once; the platform keeps the certificate, never the key.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from registry.settings import Settings

from . import certificates, certificates_cli, console, pki

EXIT = ("exit status: 0 done; 2 a wrong input (an unknown department or serial, a CA that exists already, "
        "a certificate revoked already) or a role that may not; 1 the platform could not (no CA yet: "
        "govshare pki init)")


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("pki", help="证书: the platform CA, department certificates, revocation")
    commands = group.add_subparsers(dest="pki_command", required=True, metavar="COMMAND")
    acting = argparse.ArgumentParser(add_help=False)
    acting.add_argument("--user", metavar="USERNAME", help="act as this account (default: the platform's operator)")

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, parents=[acting], help=help_text, epilog=EXIT)
        parser.set_defaults(handler=handler)
        return parser

    init = command("init", _init, "create the platform CA under var/pki/")
    init.add_argument("--force", action="store_true", help="replace an existing CA (invalidates its certificates)")
    init.add_argument("--days", type=int, default=pki.CA_DAYS)
    issue = command("issue", _issue, "a key made at the centre and its certificate, for the demo and tests; a "
                    "department sends a CSR instead (govshare admin cert request)")
    issue.add_argument("department", help="code, name or 统一社会信用代码")
    issue.add_argument("--out", type=Path, help="folder for the key, certificate and PKCS#12")
    issue.add_argument("--days", type=int, default=pki.CERT_DAYS)
    issue.add_argument("--password", help="PKCS#12 password (default: a random one, printed once)")
    revoke = command("revoke", _revoke, "revoke a certificate and publish a new CRL")
    revoke.add_argument("serial", help="hexadecimal serial, as `pki list` shows it")
    revoke.add_argument("--reason", default="unspecified", choices=sorted(pki.REASONS))
    command("crl", _crl, "write a fresh CRL to var/pki/crl.pem")
    command("list", _list, "issued certificates and their status").add_argument("--department")


def _init(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        ca = certificates.init(console.context(sessions, settings, args.user), days=args.days, force=args.force)
        print(f"CA created: {ca.path} (key {ca.path.with_name('ca.key')}, mode 0600)")
        print(f"  subject {ca.subject}, valid until {ca.not_after:%Y-%m-%d}")

    return console.run(work)


def _issue(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        made = certificates.issue(console.context(sessions, settings, args.user), department=args.department,
                                  out=args.out, days=args.days, password=args.password)
        print(f"issued certificate {made.serial} to {made.subject}, valid until {made.not_after:%Y-%m-%d}")
        print(f"  {made.key_file} (private key, mode 0600), {made.certificate_file}, {made.pkcs12_file}")
        if made.password:
            print(f"  PKCS#12 password (shown once): {made.password}")
        print("warning: this key was made at the centre, for the demo and tests; a department makes its own key "
              "and sends a CSR (govshare admin cert request), so that its private key never leaves it",
              file=sys.stderr)

    return console.run(work)


def _revoke(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        held = certificates.revoke(console.context(sessions, settings, args.user), serial=args.serial,
                                   reason=args.reason)
        print(f"revoked {args.serial} ({held.subject}), reason {args.reason}; CRL: {pki.pki_dir(settings) / 'crl.pem'}")

    return console.run(work)


def _crl(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        print(f"CRL written: {certificates.crl(console.context(sessions, settings, args.user))}")

    return console.run(work)


def _list(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        held = certificates.certificates(console.context(sessions, settings, args.user), department=args.department)
        if not held:
            print("no certificates issued yet (govshare pki issue DEPARTMENT)")
        for cert in held:
            print(certificates_cli.line(cert))

    return console.run(work)
