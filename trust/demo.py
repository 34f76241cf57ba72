"""Demo certificates: the platform CA and one certificate per demo department (S1).

``govshare demo seed`` makes them so that the demo can be called as a department would:
``var/demo/certs/<code>.key`` / ``.pem`` / ``.p12`` (PKCS#12 password ``govshare-demo``),
with the CA at ``var/pki/ca.pem``.  A department that already holds a valid certificate
keeps it.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from registry.db import unit_of_work
from registry.models import Certificate, Department
from registry.settings import Settings

from . import pki

DEMO_P12_PASSWORD = "govshare-demo"


def certs_dir(settings: Settings) -> Path:
    return settings.var_dir / "demo" / "certs"


def seed_certificates(sessions: sessionmaker[Session], settings: Settings) -> int:
    """Make the CA if there is none and a certificate for every department without one; how many were issued."""
    if pki.ca_certificate(settings) is None:
        pki.init_ca(settings)
    folder = certs_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    issued = 0
    with unit_of_work(sessions) as session:
        ca = pki.load_ca(settings).certificate
        holders = set(session.scalars(select(Certificate.department_id).where(Certificate.status == "valid")))
        for dept in session.scalars(select(Department).order_by(Department.code)):
            if dept.id in holders and (folder / f"{dept.code}.key").exists():
                continue
            made = pki.issue(session, settings, dept)
            fd = os.open(folder / f"{dept.code}.key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(made.key_pem())
            (folder / f"{dept.code}.pem").write_bytes(made.cert_pem())
            (folder / f"{dept.code}.p12").write_bytes(made.pkcs12(DEMO_P12_PASSWORD.encode(), ca))
            issued += 1
        pki.write_crl(session, settings)
    return issued
