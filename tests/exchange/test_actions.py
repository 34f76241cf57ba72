"""The exchange's actions called as any front end calls them: they act for the caller's department
(or the one a request names, which must be the caller's), refuse the rest, and leave one audit entry
each with what was read or received."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from directory.accounts import create_user
from exchange import queries, submit
from registry.db import unit_of_work
from registry.errors import ZH, ExchangeError, InvalidInput, NotPermitted
from registry.models import AuditEntry, Department
from tests.conftest import as_user
from trust.actions import Context
from trust.auth import unsigned_request
from xsd import samples
from xsd.batch import build_batch

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def staff(sessions, settings, population):
    """A consumer and a provider of 民政局, a provider of 公安局, an admin of neither."""
    with unit_of_work(sessions) as session:
        gaj, mzj = (session.scalar(select(Department).where(Department.code == code)) for code in ("gaj", "mzj"))
        create_user(session, username="mzj.li", password="pw", department=mzj, roles=("consumer",))
        create_user(session, username="mzj.wang", password="pw", department=mzj, roles=("provider",))
        create_user(session, username="gaj.zhao", password="pw", department=gaj, roles=("provider",))
        create_user(session, username="ops", password="pw", department=None, roles=("admin",))
    return population


def _batch(resource, provider_code: str | None = None, count: int = 3) -> bytes:
    return build_batch(samples.population_records(count, seed=61), provider_code=provider_code or
                       resource.provider_code, resource_code=resource.code, created=datetime(2026, 3, 1, tzinfo=UTC),
                       batch_id=uuid.uuid4())


def _last(sessions) -> AuditEntry:
    with sessions() as session:
        return session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()


def test_a_provider_sends_its_batch_and_asks_about_it(sessions, settings, staff):
    receipt = submit.submit_batch(as_user(sessions, settings, "gaj.zhao"), batch=_batch(staff))
    assert (receipt.received, receipt.accepted, receipt.quarantined, receipt.duplicate) == (3, 3, 0, False)
    entry = _last(sessions)
    assert (entry.operation, entry.result, entry.user, entry.department_code, entry.channel) == (
        "exchange.submit_batch", "ok", "gaj.zhao", "gaj", "cli")
    assert (entry.resource_code, entry.record_count) == (staff.code, 3)
    status = submit.batch_status(as_user(sessions, settings, "gaj.zhao"), batch_id=receipt.batch_id)
    assert (status.state, status.received, status.accepted, status.reasons) == ("processed", 3, 3, ())


def test_a_provider_may_not_send_a_batch_in_another_departments_name(sessions, settings, staff):
    with pytest.raises(NotPermitted) as refused:
        submit.submit_batch(as_user(sessions, settings, "mzj.wang"), batch=_batch(staff))
    assert refused.value.user_message == "您只能以本部门的名义查询或提交数据。"
    entry = _last(sessions)
    assert (entry.operation, entry.result, entry.resource_code) == (
        "exchange.submit_batch", "refused:NotPermitted", staff.code)


def test_a_department_asks_only_about_its_own_batches(sessions, settings, staff):
    receipt = submit.submit_batch(as_user(sessions, settings, "gaj.zhao"), batch=_batch(staff))
    with pytest.raises(NotPermitted) as refused:
        submit.batch_status(as_user(sessions, settings, "mzj.wang"), batch_id=receipt.batch_id)
    assert refused.value.code == "NotAuthorized" and "its own batches" in refused.value.message
    assert refused.value.user_message == "该批次由其他部门报送, 只能查询本部门报送的批次。"
    assert submit.batch_status(as_user(sessions, settings, "ops"), batch_id=receipt.batch_id).accepted == 3


def test_a_consumer_reads_for_its_own_department_only(sessions, settings, staff):
    submit.submit_batch(as_user(sessions, settings, "gaj.zhao"), batch=_batch(staff))
    mine = queries.query_records(as_user(sessions, settings, "mzj.li"), resource_code=staff.code, page_size=2,
                                 purpose="低保资格核查")
    assert (mine.total, len(mine.records), mine.more, mine.source, mine.basis) == (
        3, 2, True, "central", "unconditional")
    entry = _last(sessions)
    assert (entry.operation, entry.department_code, entry.purpose, entry.record_count) == (
        "exchange.query_records", "mzj", "低保资格核查", 2)
    with pytest.raises(NotPermitted):
        queries.query_records(as_user(sessions, settings, "mzj.li"), resource_code=staff.code,
                              requester=staff.provider_code)
    assert _last(sessions).result == "refused:NotPermitted"


def test_an_admin_of_no_department_reads_for_the_department_it_names(sessions, settings, staff):
    submit.submit_batch(as_user(sessions, settings, "gaj.zhao"), batch=_batch(staff))
    with pytest.raises(NotPermitted):  # for whom? an admin of no department must say
        queries.get_changes(as_user(sessions, settings, "ops"), resource_code=staff.code)
    changes = queries.get_changes(as_user(sessions, settings, "ops"), resource_code=staff.code,
                                  requester=staff.consumer_code)
    assert len(changes.changes) == 3 and changes.next_watermark == changes.changes[-1].sequence
    entry = _last(sessions)
    assert (entry.user, entry.department_code, entry.record_count) == ("ops", "mzj", 3)


def test_an_unsigned_request_acts_as_the_department_it_names(sessions, settings, staff):
    """Only GOVSHARE_WSS=optional (or off) lets an unsigned request through: development and tests."""
    unsigned = Context(unsigned_request(), sessions, settings)
    receipt = submit.submit_batch(unsigned, batch=_batch(staff))
    entry = _last(sessions)
    assert (entry.department_code, entry.channel, entry.certificate_serial, entry.result) == ("gaj", "soap", None, "ok")
    read = queries.query_records(Context(unsigned_request(), sessions, settings), resource_code=staff.code,
                                 requester=staff.consumer_code)
    assert read.total == receipt.accepted and _last(sessions).department_code == "mzj"
    with pytest.raises(InvalidInput):  # nobody to act for
        queries.get_changes(Context(unsigned_request(), sessions, settings), resource_code=staff.code)


def test_a_signed_caller_speaking_for_another_department_fails_authentication(sessions, settings, staff):
    from trust.auth import Caller

    with sessions() as session:
        mzj = session.scalar(select(Department).where(Department.code == "mzj"))
        signer = Caller.of_department(mzj, "soap", certificate_serial="1f")
    with pytest.raises(ExchangeError) as refused:
        queries.query_records(Context(signer, sessions, settings), resource_code=staff.code,
                              requester=staff.provider_code)
    assert refused.value.fault_code == "wsse:FailedAuthentication" and "临江市民政局" in refused.value.message
    with pytest.raises(ExchangeError) as refused:
        submit.submit_batch(Context(signer, sessions, settings), batch=_batch(staff))
    assert refused.value.code == "FailedAuthentication"
    entry = _last(sessions)
    assert (entry.operation, entry.result, entry.department_code, entry.certificate_serial) == (
        "exchange.submit_batch", "refused:FailedAuthentication", "mzj", "1f")


def test_every_code_the_exchange_raises_has_a_chinese_message():
    raised = set()
    for path in [*ROOT.glob("exchange/*.py"), ROOT / "trust" / "wsse.py", ROOT / "governance" / "sharing.py"]:
        text = path.read_text(encoding="utf-8")
        raised |= set(re.findall(r'(?:ExchangeError|WsSecurityError)\(\s*"([A-Za-z]+)"', text))
    assert raised and not sorted(raised - set(ZH))
