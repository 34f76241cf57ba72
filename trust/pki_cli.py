"""``govshare pki``: the platform CA and the departments' certificates (S1).

    govshare pki init [--force]
    govshare pki issue gaj [--out DIR] [--days 730] [--password P]
    govshare pki revoke SERIAL [--reason keyCompromise]
    govshare pki crl
    govshare pki list [--department gaj]

``issue`` writes ``<code>-<serial>.key`` (0600), ``.pem`` and a password-protected ``.p12``
(PKCS#12 with the CA certificate) into ``--out`` (default ``var/pki/issued``) and prints the
PKCS#12 password once; the platform keeps the certificate, never the key.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from registry.db import unit_of_work
from registry.models import Certificate, Department
from registry.settings import Settings

from . import pki


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("pki", help="证书: the platform CA, department certificates, revocation")
    commands = group.add_subparsers(dest="pki_command", required=True, metavar="COMMAND")
    init = commands.add_parser("init", help="create the platform CA under var/pki/")
    init.add_argument("--force", action="store_true", help="replace an existing CA (invalidates its certificates)")
    init.add_argument("--days", type=int, default=pki.CA_DAYS)
    init.set_defaults(handler=_init)
    issue = commands.add_parser("issue", help="a key and certificate for a department")
    issue.add_argument("department", help="code, name or 统一社会信用代码")
    issue.add_argument("--out", type=Path, help="folder for the key, certificate and PKCS#12")
    issue.add_argument("--days", type=int, default=pki.CERT_DAYS)
    issue.add_argument("--password", help="PKCS#12 password (default: a random one, printed once)")
    issue.set_defaults(handler=_issue)
    revoke = commands.add_parser("revoke", help="revoke a certificate and publish a new CRL")
    revoke.add_argument("serial", help="hexadecimal serial, as `pki list` shows it")
    revoke.add_argument("--reason", default="unspecified", choices=sorted(pki.REASONS))
    revoke.set_defaults(handler=_revoke)
    commands.add_parser("crl", help="write a fresh CRL to var/pki/crl.pem").set_defaults(handler=_crl)
    listing = commands.add_parser("list", help="issued certificates and their status")
    listing.add_argument("--department")
    listing.set_defaults(handler=_list)


def _fail(exc: Exception) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 1


def _init(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    try:
        ca = pki.init_ca(settings, days=args.days, force=args.force)
    except pki.PkiError as exc:
        return _fail(exc)
    folder = pki.pki_dir(settings)
    print(f"CA created: {folder / 'ca.pem'} (key {folder / 'ca.key'}, mode 0600)")
    print(f"  subject {ca.certificate.subject.rfc4514_string()}, valid until "
          f"{ca.certificate.not_valid_after_utc:%Y-%m-%d}")
    with sessions() as session:
        pki.write_crl(session, settings)
    return 0


def _issue(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    try:
        with unit_of_work(sessions) as session:
            dept = pki.find_department(session, args.department)
            issued = pki.issue(session, settings, dept, days=args.days)
            ca = pki.load_ca(settings).certificate
            out = args.out or pki.pki_dir(settings) / "issued"
            out.mkdir(parents=True, exist_ok=True)
            stem = out / f"{dept.code}-{issued.record.serial}"
            password = args.password or pki.random_password()
            fd = os.open(f"{stem}.key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(issued.key_pem())
            Path(f"{stem}.pem").write_bytes(issued.cert_pem())
            Path(f"{stem}.p12").write_bytes(issued.pkcs12(password.encode(), ca))
            serial, subject, until = issued.record.serial, issued.record.subject, issued.record.not_after
    except pki.PkiError as exc:
        return _fail(exc)
    print(f"issued certificate {serial} to {subject}, valid until {until:%Y-%m-%d}")
    print(f"  {stem}.key (private key, mode 0600), {stem}.pem, {stem}.p12")
    if not args.password:
        print(f"  PKCS#12 password (shown once): {password}")
    return 0


def _revoke(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    try:
        with unit_of_work(sessions) as session:
            record = pki.revoke(session, settings, args.serial, args.reason)
            subject = record.subject
    except pki.PkiError as exc:
        return _fail(exc)
    print(f"revoked {args.serial} ({subject}), reason {args.reason}; CRL: {pki.pki_dir(settings) / 'crl.pem'}")
    return 0


def _crl(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    try:
        with sessions() as session:
            path = pki.write_crl(session, settings)
    except pki.PkiError as exc:
        return _fail(exc)
    print(f"CRL written: {path}")
    return 0


def _list(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    with sessions() as session:
        query = select(Certificate, Department.code).join(Department).order_by(Certificate.issued)
        if args.department:
            try:
                query = query.where(Certificate.department_id == pki.find_department(session, args.department).id)
            except pki.PkiError as exc:
                return _fail(exc)
        rows = session.execute(query).all()
    if not rows:
        print("no certificates issued yet (govshare pki issue DEPARTMENT)")
    for cert, code in rows:
        state = cert.status
        if cert.status == "revoked":
            state = f"revoked {cert.revoked:%Y-%m-%d} ({cert.revocation_reason})"
        period = f"{cert.not_before:%Y-%m-%d}..{cert.not_after:%Y-%m-%d}"
        print(f"{cert.serial}  {code:<8} {period}  {state}  {cert.subject}")
    return 0
