"""A signed call of the UDDI publication API is recorded as its action's entry with both identities:
the authInfo's account (the publisher) and the certificate that signed the request."""

from __future__ import annotations

from cryptography.x509 import load_pem_x509_certificate
from sqlalchemy import select

from registry.models import AuditEntry

from .conftest import post, save_business, sign, token_of


def test_a_signed_save_is_recorded_with_the_publisher_and_the_signing_certificate(world):
    reply = post(world, sign(world.gaj, save_business(token_of(world, "gaj"), "临江市公安局户籍科")),
                 "/uddi/publication")
    assert reply.status_code == 200, reply.text
    serial = format(load_pem_x509_certificate(world.gaj.cert.read_bytes()).serial_number, "x")
    with world.sessions() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.operation == "uddi.save_business"))
    assert (entry.user, entry.department_code, entry.channel, entry.result) == ("gaj", "gaj", "soap", "ok")
    assert entry.certificate_serial == serial and entry.record_count == 1
