"""Governance over SOAP through the client library, as a remote department does it: apply for a
有条件共享 resource (使用申请), follow the application, be refused until the provider approves,
then read - and see the grant as "what may I read and why" - and file and follow a 纠错 report.
Signed with the departments' certificates against a server requiring WS-Security."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from client.exchange import Exchange
from client.faults import AccessRefused, InvalidRequest
from directory.accounts import find_user
from governance import sharing
from registry.db import unit_of_work
from registry.models import AuditEntry, Department
from tests.conftest import as_user
from tests.exchange.conftest import _publish
from tests.trust.conftest import world  # noqa: F401 - the fixture
from xsd import samples

POPULATION = "{http://govshare.local/xsd/population/1.0}"


def _client(world, dept) -> Exchange:  # noqa: F811
    return Exchange(world.url, key=dept.key, cert=dept.cert, ca=world.ca_pem)


@pytest.fixture
def conditional(world) -> str:  # noqa: F811
    """公安局's 有条件共享 resource, published through the catalogue workflow."""
    with unit_of_work(world.sessions) as session:
        gaj = session.scalar(select(Department).where(Department.code == "gaj"))
        return _publish(session, world.settings, gaj, find_user(session, "gaj"), find_user(session, "reviewer"),
                        "户籍变动信息", "101001003", "有条件共享")


def test_apply_be_approved_read_and_report_a_wrong_value(world, conditional):  # noqa: F811
    gaj, mzj = _client(world, world.gaj), _client(world, world.mzj)
    person = next(samples.population_records(1, seed=41))
    key = person.findtext(POPULATION + "idNumber")
    assert [r.accepted for r in gaj.submit(conditional, [person])] == [1]

    with pytest.raises(AccessRefused) as refused:
        list(mzj.query(conditional, keys=[key]))
    assert refused.value.code == "NotAuthorized" and "使用申请" in refused.value.user_message

    until = date.today() + timedelta(days=90)
    wanted = ["idNumber", "name", "domicileAddress"]
    filed = mzj.apply(conditional, purpose="低保资格核查", valid_to=until, fields=wanted)
    assert (filed.resource_code, filed.status, sorted(filed.fields), filed.system) == (
        conditional, "submitted", sorted(wanted), None)
    assert [a.id for a in mzj.applications()] == [filed.id]
    with pytest.raises(InvalidRequest) as twice:  # one pending application per resource
        mzj.apply(conditional, purpose="低保资格核查", valid_to=until)
    assert twice.value.user_message != twice.value.message

    sharing.approve(as_user(world.sessions, world.settings, "gaj"), application_id=filed.id)  # the provider's 审批
    assert [a.status for a in mzj.applications()] == ["approved"]
    [grant] = mzj.grants()
    assert (grant.resource_code, grant.source, grant.application_id, grant.state) == (
        conditional, "application", filed.id, "active")
    assert set(grant.fields) == {"idNumber", "name", "domicileAddress"}
    assert gaj.grants() == []  # 公安局 gave it; it holds none

    [record] = mzj.query(conditional, keys=[key], purpose="低保资格核查")
    assert set(record.fields) <= {"idNumber", "name", "domicileAddress"} and record.fields["name"]

    report = mzj.file_correction(conditional, record_key=key, field="name", problem="姓名与户口簿不一致")
    assert (report.status, report.field, report.record_key) == ("open", "name", key)
    assert [r.id for r in mzj.corrections()] == [report.id]
    with world.sessions() as session:
        kinds = set(session.scalars(select(AuditEntry.operation).where(AuditEntry.department_code == "mzj",
                                                                       AuditEntry.channel == "soap")))
    assert {"sharing.apply", "sharing.applications", "sharing.grants", "correction.file",
            "correction.list"} <= kinds
