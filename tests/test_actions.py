"""The action layer (trust.actions): an action checks its caller before it does anything,
runs in one unit of work, and leaves one audit entry whatever the front end - refused and
failed ones too - with the channel it came through."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from directory.accounts import create_user, register_department
from directory.demo import credit_code_for
from governance import sharing
from registry.db import unit_of_work
from registry.errors import NotPermitted
from registry.models import AuditEntry, SharingApplication, User
from tests.conftest import as_user
from tests.exchange.conftest import _publish
from trust import audit
from trust.actions import audited

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def resource(sessions, settings) -> str:
    """公安局's 有条件共享 resource; 民政局 has a consumer and an auditor."""
    with unit_of_work(sessions) as session:
        gaj = register_department(session, settings, code="gaj", name="临江市公安局",
                                  credit_code=credit_code_for("00250102"))
        mzj = register_department(session, settings, code="mzj", name="临江市民政局",
                                  credit_code=credit_code_for("00250103"))
        user = create_user(session, username="gaj", password="pw", department=gaj, roles=("cataloguer",))
        reviewer = create_user(session, username="reviewer", password="pw", department=None,
                               roles=("admin", "reviewer"))
        create_user(session, username="mzj", password="pw", department=mzj, roles=("consumer",))
        create_user(session, username="mzj-auditor", password="pw", department=mzj, roles=("auditor",))
        return _publish(session, settings, gaj, user, reviewer, "户籍人口基础信息", "101001002", sharing="有条件共享")


def _entries(sessions) -> list[AuditEntry]:
    with sessions() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.operation == "sharing.apply")
                                    .order_by(AuditEntry.seq)))


def _applications(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(SharingApplication))


def test_an_action_refuses_a_role_it_does_not_allow_before_it_does_anything(sessions, settings, resource):
    with pytest.raises(NotPermitted) as refused:
        sharing.apply(as_user(sessions, settings, "mzj-auditor"), resource_code=resource, purpose="核查",
                      valid_to=date(2099, 1, 1))
    assert "使用方" in refused.value.user_message and "mzj-auditor may not apply" in refused.value.message
    assert _applications(sessions) == 0
    [entry] = _entries(sessions)
    assert (entry.result, entry.user, entry.channel, entry.resource_code) == (
        "refused:NotPermitted", "mzj-auditor", "cli", resource)


def test_an_action_records_who_what_why_and_the_channel(sessions, settings, resource):
    sharing.apply(as_user(sessions, settings, "mzj", channel="portal"), resource_code=resource,
                  purpose="低保资格核查", valid_to=date(2099, 1, 1))
    [entry] = _entries(sessions)
    assert (entry.result, entry.user, entry.department_code, entry.channel, entry.purpose, entry.resource_code) == (
        "ok", "mzj", "mzj", "portal", "低保资格核查", resource)
    assert audit.verify(sessions, settings).ok


def test_a_refused_action_rolls_its_work_back_and_keeps_its_entry(sessions, settings, resource):
    ctx = as_user(sessions, settings, "mzj")
    sharing.apply(ctx, resource_code=resource, purpose="核查", valid_to=date(2099, 1, 1))
    with pytest.raises(Exception, match="already awaits an answer"):
        sharing.apply(ctx, resource_code=resource, purpose="核查", valid_to=date(2099, 1, 1))
    assert _applications(sessions) == 1
    assert [e.result for e in _entries(sessions)] == ["ok", "refused:InvalidRequest"]


def test_an_action_in_a_transports_scope_fills_the_transports_entry(sessions, settings, resource):
    event = audit.AuditEvent("exchange.request", request_digest="ab" * 32)
    with audited(event):
        sharing.apply(as_user(sessions, settings, "mzj", channel="soap"), resource_code=resource, purpose="核查",
                      valid_to=date(2099, 1, 1))
    assert _entries(sessions) == []  # the transport records it, with what only it knows
    assert (event.operation, event.channel, event.result, event.request_digest) == (
        "sharing.apply", "soap", "ok", "ab" * 32)


def test_the_command_line_refuses_an_auditors_application_and_records_it(sessions, settings, resource):
    run = subprocess.run([sys.executable, "-m", "server", "--db-url", settings.db_url, "sharing", "apply",
                          "--user", "mzj-auditor", "--resource", resource, "--purpose", "核查", "--until",
                          "2099-01-01"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"GOVSHARE_VAR": str(settings.var_dir), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 2 and "mzj-auditor may not apply" in run.stderr
    assert _applications(sessions) == 0
    [entry] = _entries(sessions)
    assert (entry.channel, entry.result) == ("cli", "refused:NotPermitted")


def test_an_inactive_account_has_no_roles(sessions, settings, resource):
    with unit_of_work(sessions) as session:
        session.scalar(select(User).where(User.username == "mzj")).active = False
    with pytest.raises(NotPermitted):
        sharing.apply(as_user(sessions, settings, "mzj"), resource_code=resource, purpose="核查",
                      valid_to=date(2099, 1, 1))
