"""``govshare admin cert``: certificate requests (CSR), approval, renewal, revocation, expiry.

    $ openssl req -new -newkey rsa:2048 -nodes -keyout yibao.key -subj "/CN=x" -out yibao.csr
    $ govshare admin cert request yibao.csr --user wjw.li --system wjw.yibao     # the key stays with wjw
    certificate request #5 for wjw.yibao (RSA 2048) submitted: the security administrator approves it
    $ govshare admin cert approve 5 --user sec --out yibao.pem
    $ govshare admin cert request new.csr --user wjw.li --renews 1f3a...         # a renewal: a new key
    $ govshare admin cert requests --status submitted | expiring --days 30 | list | show SERIAL --out F
    $ govshare admin cert revoke 1f3a... --reason keyCompromise --user wjw.li    # its own department's

Each command is one action of :mod:`trust.certificates` (``pki.request``, ``pki.approve``, ...) run
as ``--user`` or the platform's operator, recorded with channel ``cli``.  A request is for the
user's department (or one of its systems), so ``request`` needs ``--user``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from registry.errors import InvalidInput
from registry.settings import Settings

from . import certificates, console, pki

EXIT = ("exit status: 0 done; 2 refused - the input (a CSR that is not one, a weak or reused key, an unknown "
        "request or serial, one decided already) or the caller's rights; 1 the platform could not (no CA yet)")


def register(group_name: str, commands: argparse._SubParsersAction, acting: argparse.ArgumentParser) -> None:
    """Add the ``cert`` commands to ``govshare admin``."""

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, parents=[acting], help=help_text, epilog=EXIT)
        parser.set_defaults(handler=handler)
        return parser

    request = command("request", _request, "send a PKCS#10 request (PEM or DER) for your department or a system")
    request.add_argument("file", type=Path, help="the CSR file (openssl req -new ...)")
    request.add_argument("--system", metavar="CODE", help="for this application system (e.g. wjw.yibao)")
    request.add_argument("--renews", metavar="SERIAL", help="renew this still-valid certificate (with a new key)")
    listing = command("requests", _requests, "certificate requests, newest first")
    listing.add_argument("--status", choices=sorted(certificates.REQUEST_STATUSES))
    listing.add_argument("--department", help="one department's (security administrator)")
    approve = command("approve", _approve, "issue the certificate a request asks for (security administrator)")
    approve.add_argument("id", type=int)
    approve.add_argument("--out", type=Path, help="write the certificate (PEM) here")
    approve.add_argument("--days", type=int, default=pki.CERT_DAYS)
    refuse = command("refuse", _refuse, "refuse a request, saying why (security administrator)")
    refuse.add_argument("id", type=int)
    refuse.add_argument("--reason", required=True)
    expiring = command("expiring", _expiring, "valid certificates ending soon (即将到期)")
    expiring.add_argument("--days", type=int, default=certificates.EXPIRING_DAYS)
    revoke = command("revoke", _revoke, "revoke a certificate and publish a new CRL")
    revoke.add_argument("serial")
    revoke.add_argument("--reason", required=True, choices=sorted(pki.REASONS))
    show = command("show", _show, "one certificate's PEM")
    show.add_argument("serial")
    show.add_argument("--out", type=Path, help="write it here instead of to stdout")
    command("list", _list, "certificates and their status").add_argument("--department")


def _request(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        try:
            csr = args.file.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot read {args.file}: {exc.strerror}", code="InvalidCsr", field="file") from None
        made = certificates.request(console.context(sessions, settings, args.user), csr=csr, system=args.system,
                                    renews=args.renews)
        renewal = f", renewing {made.renews}" if made.renews else ""
        print(f"certificate request #{made.id} for {made.holder} ({made.key}{renewal}) submitted: the security "
              f"administrator approves it (govshare admin cert approve {made.id})")

    return console.run(work)


def _requests(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        rows = certificates.requests(console.context(sessions, settings, args.user), status=args.status,
                                     department=args.department)
        if not rows:
            print("no certificate requests")
        for row in rows:
            outcome = {"issued": f"certificate {row.certificate_serial}", "refused": f"refused: {row.reason}"}
            renewal = f" renews {row.renews}" if row.renews else ""
            print(f"#{row.id:<5} {row.submitted_at:%Y-%m-%d %H:%M}  {row.holder:<16} {row.key:<9} {row.status:<9} "
                  f"by {row.submitted_by}{renewal}  {outcome.get(row.status, '')}".rstrip())

    return console.run(work)


def _approve(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        done = certificates.approve(console.context(sessions, settings, args.user), request_id=args.id,
                                    days=args.days)
        cert = done.certificate
        print(f"request #{done.request_id} approved: certificate {cert.serial} for {cert.subject}, "
              f"valid until {cert.not_after:%Y-%m-%d}")
        if done.renewed is not None:
            print(f"  it renews {done.renewed.serial}, which stays valid until {done.renewed.not_after:%Y-%m-%d} "
                  "unless revoked")
        if args.out:
            args.out.write_text(done.pem)
            print(f"  written to {args.out}")
        else:
            print(f"  download it: govshare admin cert show {cert.serial} --out FILE")

    return console.run(work)


def _refuse(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        row = certificates.refuse(console.context(sessions, settings, args.user), request_id=args.id,
                                  reason=args.reason)
        print(f"request #{row.id} for {row.holder} refused: {row.reason}")

    return console.run(work)


def _expiring(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        held = certificates.expiring(console.context(sessions, settings, args.user), days=args.days)
        if not held:
            print(f"no valid certificate ends within {args.days} days")
        for cert in held:
            print(f"{cert.not_after:%Y-%m-%d}  {cert.serial}  {cert.holder:<16} {cert.department_name}")

    return console.run(work)


def _revoke(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        held = certificates.revoke(console.context(sessions, settings, args.user), serial=args.serial,
                                   reason=args.reason)
        print(f"revoked {held.serial} ({held.subject}), reason {args.reason}; CRL: {pki.pki_dir(settings) / 'crl.pem'}")

    return console.run(work)


def _show(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        found = certificates.certificate(console.context(sessions, settings, args.user), serial=args.serial)
        if args.out:
            args.out.write_text(found.pem)
            print(f"certificate {found.held.serial} ({found.held.subject}) written to {args.out}")
        else:
            print(found.pem, end="")

    return console.run(work)


def _list(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        held = certificates.certificates(console.context(sessions, settings, args.user), department=args.department)
        if not held:
            print("no certificates issued yet")
        for cert in held:
            print(line(cert))

    return console.run(work)


def line(cert: certificates.Held) -> str:
    """A certificate as ``pki list`` and ``admin cert list`` print it."""
    state = cert.status
    if cert.status == "revoked":
        state = f"revoked {cert.revoked:%Y-%m-%d} ({cert.revocation_reason})"
    period = f"{cert.not_before:%Y-%m-%d}..{cert.not_after:%Y-%m-%d}"
    return f"{cert.serial}  {cert.holder:<16} {period}  {state}  {cert.subject}"
