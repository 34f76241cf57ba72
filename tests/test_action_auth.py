"""Every action of the platform, run by a caller of each role: the roles its case allows are not
refused, every other role is refused with ``NotPermitted`` - whatever front end would have
called it, since the check is inside the action (``trust.actions``).  An action without a case
in a ``tests/<package>/auth_cases.py`` fails the completeness test."""

from __future__ import annotations

import importlib
import pkgutil
import shutil
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from registry.db import make_engine, session_factory, unit_of_work
from registry.errors import NotPermitted
from registry.models import User
from registry.settings import Settings
from trust.actions import ACTIONS, Context
from trust.auth import Caller

from .actions import ALL_ROLES, Case, World

ROOT = Path(__file__).resolve().parents[1]
PLATFORM = ("registry", "trust", "xsd", "wsdl", "directory", "governance", "exchange", "adapters", "portal")


def _every_action() -> dict:
    """Import every module of the platform, so that every ``@action`` is registered."""
    for package in PLATFORM:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            if ".migrations" not in info.name:
                importlib.import_module(info.name)
    return dict(ACTIONS)


def _cases() -> dict[str, Case]:
    cases: dict[str, Case] = {}
    for path in sorted(ROOT.glob("tests/*/auth_cases*.py")):
        module = importlib.import_module(f"tests.{path.parent.name}.{path.stem}")
        for name, entry in module.CASES.items():
            assert name not in cases, f"two cases for {name}"
            cases[name] = entry
    return cases


CASES = _cases()


def test_every_action_has_an_authorisation_case():
    missing = sorted(set(_every_action()) - set(CASES))
    assert not missing, f"actions without a case in tests/*/auth_cases.py: {', '.join(missing)}"


def test_every_case_names_an_action():
    assert not sorted(set(CASES) - set(_every_action()))


@pytest.fixture(scope="module")
def world_folder(tmp_path_factory, sqlite_template) -> tuple[Path, World]:
    """The world, built once: a folder holding its SQLite database and its var/ (the CA)."""
    from directory.accounts import create_user, register_department
    from directory.demo import credit_code_for
    from exchange.submit import submit_document
    from governance import sharing
    from tests.exchange.conftest import _publish
    from trust import pki
    from xsd import samples
    from xsd.batch import build_batch

    folder = tmp_path_factory.mktemp("world")
    shutil.copy(sqlite_template, folder / "govshare.db")
    settings = Settings.from_env(db_url=f"sqlite:///{folder / 'govshare.db'}", var_dir=folder, wss_policy="optional")
    engine = make_engine(settings.db_url)
    sessions = session_factory(engine)
    pki.init_ca(settings)
    person = next(samples.population_records(1, seed=11))
    with unit_of_work(sessions) as session:
        from directory.bootstrap import bootstrap_node

        bootstrap_node(session, settings)
        gaj = register_department(session, settings, code="gaj", name="临江市公安局",
                                  credit_code=credit_code_for("00250102"))
        mzj = register_department(session, settings, code="mzj", name="临江市民政局",
                                  credit_code=credit_code_for("00250103"))
        for dept in (gaj, mzj):
            for role in ALL_ROLES:
                create_user(session, username=f"{dept.code}-{role}", password="pw", department=dept, roles=(role,))
        cataloguer = session.scalar(select(User).where(User.username == "gaj-cataloguer"))
        reviewer = session.scalar(select(User).where(User.username == "gaj-reviewer"))
        conditional = _publish(session, settings, gaj, cataloguer, reviewer, "户籍人口基础信息", "101001002",
                               sharing="有条件共享")
        unconditional = _publish(session, settings, gaj, cataloguer, reviewer, "人口基本信息", "101001001")
    for code in (conditional, unconditional):
        batch = build_batch([person], provider_code=gaj.credit_code, resource_code=code,
                            created=datetime(2026, 1, 1, tzinfo=UTC), batch_id=uuid.uuid4())
        with unit_of_work(sessions) as session:
            sent = submit_document(session, batch, settings.max_batch_bytes)  # 公安局's batch: World.extra["batch"]
    application = sharing.apply(_context(sessions, settings, "mzj-consumer"), resource_code=conditional,
                                purpose="低保资格核查", valid_to=date(2099, 12, 31)).id
    from governance import correction  # 公安局 grants 民政局 the conditional resource, 民政局 reports a 纠错 on it

    grant = sharing.grant(_context(sessions, settings, "gaj-provider"), resource_code=conditional,
                          consumer_code="mzj").id
    report = correction.file(_context(sessions, settings, "mzj-consumer"), resource_code=conditional,
                             record_key=person.findtext("{http://govshare.local/xsd/population/1.0}idNumber"),
                             field="name", problem="姓名有误").id
    # certificates (trust.certificates): a certificate of 公安局's, and a request of its awaiting approval
    from tests.trust.csrs import make_csr
    from trust import certificates

    with unit_of_work(sessions) as session:
        gaj_certificate = pki.issue(session, settings, pki.find_department(session, "gaj")).record.serial
    certificate_request = certificates.request(_context(sessions, settings, "gaj-provider"), csr=make_csr()[1]).id
    # onboarding (governance.onboarding): a 登记申请 awaiting review, 民政局's application system mzj.dibao
    from governance import onboarding

    registration = onboarding.apply(Context(Caller(channel="portal"), sessions, settings), code="wjw",
                                    name="临江市卫生健康委员会", credit_code=credit_code_for("00250110"),
                                    division_code="330100", connection_mode="front_node", contact_name="王明",
                                    contact_phone="0571-87000001").id
    onboarding.register_system(_context(sessions, settings, "mzj-provider"), code="dibao", name="低保核对系统")
    engine.dispose()
    world = World(conditional=conditional, unconditional=unconditional,
                  person=person.findtext("{http://govshare.local/xsd/population/1.0}idNumber"),
                  application=application, gaj_credit_code=gaj.credit_code, mzj_credit_code=mzj.credit_code,
                  extra={"batch": sent.batch_id, "grant": grant, "report": report,
                         "gaj_certificate": gaj_certificate, "certificate_request": certificate_request,
                         "registration": registration})
    return folder, world


def _context(sessions, settings: Settings, username: str) -> Context:
    with sessions() as session:
        user = session.scalar(select(User).where(User.username == username).options(joinedload(User.department)))
        return Context(Caller.of_user(user, "cli"), sessions, settings)


@pytest.mark.parametrize("role", ALL_ROLES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_an_action_refuses_exactly_the_roles_its_case_does_not_allow(world_folder, tmp_path, name, role):
    source, world = world_folder
    folder = tmp_path / "world"
    shutil.copytree(source, folder)
    settings = replace(Settings.from_env(db_url=f"sqlite:///{folder / 'govshare.db'}", var_dir=folder),
                       wss_policy="optional")
    engine = make_engine(settings.db_url)
    try:
        sessions = session_factory(engine)
        case = CASES[name]
        ctx = _context(sessions, settings, f"{case.department}-{role}")
        run = _every_action()[name]
        try:
            run(ctx, **case.inputs(world))
            refused = False
        except NotPermitted:
            refused = True
        except Exception:  # noqa: BLE001 - anything but a refusal of the role: the role was let through
            refused = False
        assert refused == (role not in case.allowed), (
            f"{name} as {role}: {'refused' if refused else 'let through'}, "
            f"but the case allows {sorted(case.allowed)}")
    finally:
        engine.dispose()
