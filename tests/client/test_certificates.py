"""A department renews its certificate through the client, the private key never leaving it: it
makes a new key and sends the CSR signed with its current certificate, the security administrator
approves, the department fetches the new certificate and signs with it - and a CSR for a key the
platform has seen, or with the private key pasted in by mistake, is refused in both languages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from client.exchange import Exchange
from client.faults import AccessRefused, InvalidRequest
from directory.accounts import create_user
from registry.db import unit_of_work
from registry.models import Certificate
from tests.conftest import as_user
from tests.trust.conftest import world  # noqa: F401 - the fixture
from tests.trust.csrs import key_pem, make_csr
from trust import certificates


def _serial(world, code: str) -> str:  # noqa: F811
    """The serial of ``code``'s certificate."""
    with world.sessions() as session:
        return next(c.serial for c in session.scalars(select(Certificate)) if c.department.code == code)


def test_a_department_renews_its_certificate_through_the_client(world, tmp_path):  # noqa: F811
    mzj = Exchange(world.url, key=world.mzj.key, cert=world.mzj.cert, ca=world.ca_pem)
    old = _serial(world, "mzj")
    key, csr = make_csr(cn="mzj-2027")
    asked = mzj.request_certificate(csr, renews=old)
    assert (asked.holder, asked.status, asked.renews, asked.key) == ("mzj", "submitted", old, "RSA 2048")
    assert [r.id for r in mzj.certificate_requests()] == [asked.id]

    with unit_of_work(world.sessions) as session:
        create_user(session, username="sec", password="pw", department=None, roles=("security",))
    approved = certificates.approve(as_user(world.sessions, world.settings, "sec"), request_id=asked.id)
    [done] = mzj.certificate_requests()
    assert (done.status, done.certificate_serial) == ("issued", approved.certificate.serial)
    issued = mzj.certificate(done.certificate_serial)
    assert issued.status == "valid" and "CN=mzj" in issued.subject

    (tmp_path / "new.key").write_bytes(key_pem(key))
    (tmp_path / "new.pem").write_text(issued.pem)
    renewed = Exchange(world.url, key=tmp_path / "new.key", cert=tmp_path / "new.pem", ca=world.ca_pem)
    assert len(list(renewed.query(world.resource, keys=[world.person_key]))) == 1  # the new key signs
    assert len(list(mzj.query(world.resource, keys=[world.person_key]))) == 1  # the old one until its end

    with pytest.raises(InvalidRequest) as reused:  # the same key again
        mzj.request_certificate(make_csr(key, cn="again")[1])
    assert reused.value.code == "KeyReused" and "新的密钥" in reused.value.user_message
    with pytest.raises(InvalidRequest) as private:
        mzj.request_certificate(key_pem(key).decode())
    assert private.value.code == "InvalidCsr" and "private key" in private.value.message
    with pytest.raises(AccessRefused):  # another department's certificate
        mzj.certificate(_serial(world, "gaj"))
