"""部门登记, suspension and application systems (governance.onboarding), and grants to one application
system (governance.sharing): the actions on real databases (SQLite, and PostgreSQL when it answers),
the ``govshare admin`` commands through the command's own parser."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import Engine, event, select
from stdnum.cn import uscc

import server
from adapters import sync
from directory.accounts import create_user, register_department
from directory.demo import credit_code_for, organisation_code
from exchange.queries import query_records
from exchange.submit import submit_document
from governance import onboarding, sharing
from registry.db import unit_of_work
from registry.errors import (
    Conflict,
    ExchangeError,
    GovernanceError,
    InvalidInput,
    InvalidRegistration,
    NotFound,
    NotPermitted,
)
from registry.models import AppSystem, AuditEntry, AuthToken, Department, KeyPartition, SyncRun, UddiEntity, User
from tests.conftest import as_user
from tests.exchange.conftest import _publish
from trust import console
from trust.actions import Context
from trust.auth import SYSTEM_ROLES, Caller
from xsd import samples
from xsd.batch import build_batch

ROOT = Path(__file__).resolve().parents[2]
WJW = credit_code_for("00250110")
FORM = {"code": "wjw", "name": "临江市卫生健康委员会", "credit_code": WJW, "division_code": "330100",
        "connection_mode": "front_node", "contact_name": "王明", "contact_phone": "0571-87000001",
        "contact_email": "wjw@linjiang.gov.cn", "description": "医疗卫生和计划生育信息的提供方。"}


@pytest.fixture
def city(sessions, settings):
    """公安局 and 民政局 registered; an admin, a security administrator and an auditor of the platform; 民政局's
    provider (mzj) and consumer (mzj-consumer); 公安局's cataloguer (gaj)."""
    with unit_of_work(sessions) as s:
        gaj = register_department(s, settings, code="gaj", name="临江市公安局", credit_code=credit_code_for("00250102"))
        mzj = register_department(s, settings, code="mzj", name="临江市民政局", credit_code=credit_code_for("00250103"))
        create_user(s, username="admin", password="x", department=None, roles=("admin",))
        create_user(s, username="security", password="x", department=None, roles=("security",))
        create_user(s, username="auditor", password="x", department=None, roles=("auditor",))
        create_user(s, username="gaj", password="x", department=gaj, roles=("cataloguer", "provider"))
        create_user(s, username="mzj", password="x", department=mzj, roles=("cataloguer", "provider"))
        create_user(s, username="mzj-consumer", password="x", department=mzj, roles=("consumer",))
    return sessions


def public(sessions, settings) -> Context:
    """The caller of the portal's public 申请登记 form: nobody signed in."""
    return Context(Caller(channel="portal"), sessions, settings)


def _apply(sessions, settings, **changes) -> onboarding.Registration:
    return onboarding.apply(public(sessions, settings), **{**FORM, **changes})


def _problems(sessions, settings, **changes) -> InvalidRegistration:
    with pytest.raises(InvalidRegistration) as caught:
        _apply(sessions, settings, **changes)
    return caught.value


# --------------------------------------------------------------------------- 登记申请


def test_anyone_files_an_application_which_awaits_review(city, settings):
    filed = _apply(city, settings)
    assert (filed.status, filed.status_label, filed.code, filed.credit_code) == ("submitted", "待审核", "wjw", WJW)
    assert (filed.division_name, filed.mode_label, filed.submitted_by) == ("杭州市", "前置交换节点", "")
    with city() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.operation == "department.apply"))
    assert entry.result == "ok" and entry.user is None and f"登记申请 #{filed.id}" in entry.detail


def test_an_application_is_taken_as_typed_but_for_case_and_spaces(city, settings):
    filed = _apply(city, settings, code=" WJW ", credit_code=f" {WJW.lower()} ", name=" 临江市卫生健康委员会 ")
    assert (filed.code, filed.credit_code, filed.name) == ("wjw", WJW, "临江市卫生健康委员会")


def test_an_empty_form_names_every_required_field_in_both_languages(city, settings):
    problems = _problems(city, settings, **{name: "" for name in FORM}).problems
    assert set(problems) == {"code", "name", "credit_code", "division_code", "connection_mode", "contact_name",
                             "contact_phone"}
    assert problems["credit_code"] == ("required", "请填写统一社会信用代码。")
    assert problems["contact_phone"] == ("required", "请填写联系电话。")


def test_every_broken_rule_is_reported_at_once_with_its_field(city, settings):
    error = _problems(city, settings, code="9x", credit_code="11330100002501108A", division_code="999999",
                      connection_mode="satellite", contact_phone="call me", contact_email="wjw@",
                      description="长" * 1001)
    assert set(error.problems) == {"code", "credit_code", "division_code", "connection_mode", "contact_phone",
                                   "contact_email", "description"}
    zh = error.zh_by_field
    assert zh["code"] == "部门代码须为 2 至 16 位小写字母或数字, 以字母开头 (如 wjw)。"
    assert zh["credit_code"].startswith("11330100002501108A 不是有效的统一社会信用代码")
    assert zh["division_code"] == "999999 不是有效的行政区划代码 (6 位数字, 如 330100)。"
    assert zh["connection_mode"] == "接入方式须为应用系统节点、前置交换节点、目录管理节点、部门平台节点之一。"
    assert zh["contact_email"] == "wjw@ 不是有效的电子邮箱地址。"
    assert zh["description"] == "说明最多 1000 个字符 (现有 1001 个)。"
    assert "not a valid 统一社会信用代码 (GB 32100)" in error.message and "contact_phone:" in error.message
    assert error.user_message.startswith("登记信息有 7 处需要修改: ")
    assert error.code == "InvalidRegistration" and error.exit_status == 2


def test_a_credit_code_whose_organisation_code_does_not_check_is_refused(city, settings):
    body = "1133010000250110" + ("1" if organisation_code("00250110")[-1] != "1" else "2")  # a wrong GB 11714 char
    wrong = body + uscc.calc_check_digit(body)  # ... under a right GB 32100 check character
    error = _problems(city, settings, credit_code=wrong)
    assert set(error.problems) == {"credit_code"}
    assert "(GB 11714)" in error.problems["credit_code"][0]
    assert "组织机构代码 (第 9-17 位) 校验位不对" in error.problems["credit_code"][1]


def test_an_abolished_division_code_is_refused(city, settings):
    error = _problems(city, settings, division_code="330103")  # 下城区, merged away in 2021
    assert error.zh_by_field["division_code"] == "行政区划代码 330103 (下城区) 已于 2021 年后停用, 请填写现行代码。"


def test_a_second_pending_application_for_a_credit_code_code_or_name_is_refused(city, settings):
    first = _apply(city, settings)
    error = _problems(city, settings)
    assert set(error.problems) == {"code", "name", "credit_code"}
    assert error.zh_by_field["credit_code"] == (f"统一社会信用代码 {WJW} 已有待审核的登记申请 (#{first.id}), "
                                                "请勿重复申请。")
    assert "awaits review" in error.problems["credit_code"][0]


def test_a_registered_departments_credit_code_code_and_name_are_refused(city, settings):
    error = _problems(city, settings, code="mzj", name="临江市民政局", credit_code=credit_code_for("00250103"))
    assert set(error.problems) == {"code", "name", "credit_code"}
    assert error.zh_by_field["code"] == "部门代码 mzj 已有部门登记。"


def test_a_refused_departments_credit_code_may_apply_again(city, settings):
    first = _apply(city, settings)
    onboarding.refuse(as_user(city, settings, "admin"), application_id=first.id, reason="材料不全")
    assert _apply(city, settings).id != first.id


def test_the_administrator_lists_applications_by_status(city, settings):
    first, second = _apply(city, settings), _apply(city, settings, code="rsj", name="临江市人社局",
                                                   credit_code=credit_code_for("00250111"))
    admin = as_user(city, settings, "admin")
    onboarding.refuse(admin, application_id=first.id, reason="材料不全")
    assert [r.id for r in onboarding.applications(admin.again(), status="submitted")] == [second.id]
    assert [r.id for r in onboarding.applications(admin.again())] == [first.id, second.id]
    with pytest.raises(InvalidInput):
        onboarding.applications(admin.again(), status="pending")


# --------------------------------------------------------------------------- approval


def test_approval_registers_the_department_its_partition_and_its_business_entity(city, settings):
    filed = _apply(city, settings)
    member = onboarding.approve(as_user(city, settings, "admin"), application_id=filed.id)
    assert (member.code, member.name, member.credit_code, member.status) == ("wjw", FORM["name"], WJW, "active")
    assert (member.connection_mode, member.contact_name, member.contact_phone) == ("front_node", "王明",
                                                                                   "0571-87000001")
    with city() as s:
        department = s.scalar(select(Department).where(Department.code == "wjw"))
        assert department.contact_email == "wjw@linjiang.gov.cn" and department.division_code == "330100"
        assert s.get(KeyPartition, f"uddi:wjw.{settings.node_domain}").department_id == department.id
        entity = etree.fromstring(s.get(UddiEntity, department.business_key).xml.encode())
    texts = {etree.QName(e).localname: e for e in entity.iter(etree.Element)}
    assert texts["name"].text == FORM["name"] and texts["personName"].text == "王明"
    assert texts["phone"].text == "0571-87000001" and texts["email"].text == "wjw@linjiang.gov.cn"
    assert (texts["keyedReference"].get("keyName"), texts["keyedReference"].get("keyValue")) == ("统一社会信用代码",
                                                                                                  WJW)
    [decided] = onboarding.applications(as_user(city, settings, "admin"))
    assert (decided.status, decided.decided_by, decided.department_code) == ("approved", "admin", "wjw")


def test_an_application_is_decided_once(city, settings):
    filed = _apply(city, settings)
    onboarding.approve(as_user(city, settings, "admin"), application_id=filed.id)
    for decide in (lambda ctx: onboarding.approve(ctx, application_id=filed.id),
                   lambda ctx: onboarding.refuse(ctx, application_id=filed.id, reason="重复")):
        with pytest.raises(Conflict) as caught:
            decide(as_user(city, settings, "admin"))
        assert caught.value.code == "AlreadyAnswered"
        assert caught.value.user_message == f"登记申请 #{filed.id} 已批准, 只有待审核的申请可以审核。"


def test_approval_is_refused_when_the_code_was_registered_meanwhile(city, settings):
    filed = _apply(city, settings)
    with unit_of_work(city) as s:
        register_department(s, settings, code="wjw", name="临江市卫健委", credit_code=credit_code_for("00250112"))
    with pytest.raises(Conflict) as caught:
        onboarding.approve(as_user(city, settings, "admin"), application_id=filed.id)
    assert caught.value.code == "RegistrationTaken" and "code: wjw is a registered department's" in caught.value.message
    assert caught.value.user_message == f"登记申请 #{filed.id} 不能批准: 部门代码 wjw 已有部门登记。"


def test_an_unknown_application_is_not_found(city, settings):
    with pytest.raises(NotFound) as caught:
        onboarding.approve(as_user(city, settings, "admin"), application_id=999)
    assert (caught.value.code, caught.value.user_message) == ("RegistrationNotFound", "没有编号为 999 的部门登记申请。")


def test_a_refusal_needs_a_reason_of_at_most_500_characters(city, settings):
    filed = _apply(city, settings)
    admin = as_user(city, settings, "admin")
    with pytest.raises(InvalidInput) as missing:
        onboarding.refuse(admin, application_id=filed.id, reason="  ")
    assert (missing.value.code, missing.value.message, missing.value.user_message) == (
        "ReasonRequired", "reason: required to refuse a 登记申请", "请填写拒绝理由。")
    with pytest.raises(InvalidInput) as long:
        onboarding.refuse(admin.again(), application_id=filed.id, reason="因" * 501)
    assert long.value.code == "ReasonTooLong" and long.value.user_message == "拒绝理由最多 500 个字 (现有 501 个)。"
    refused = onboarding.refuse(admin.again(), application_id=filed.id, reason="材料不全")
    assert (refused.status, refused.reason, refused.status_label) == ("refused", "材料不全", "已拒绝")


def test_only_the_platform_administrator_decides(city, settings):
    filed = _apply(city, settings)
    for user in ("security", "auditor", "mzj"):
        with pytest.raises(NotPermitted) as caught:
            onboarding.approve(as_user(city, settings, user), application_id=filed.id)
        assert caught.value.user_message.startswith("您的角色不能审核部门登记")


# --------------------------------------------------------------------------- departments and suspension


def test_the_three_duties_read_the_register_of_departments(city, settings):
    for user in ("admin", "security", "auditor"):
        assert [m.code for m in onboarding.departments(as_user(city, settings, user))] == ["gaj", "mzj"]
    with pytest.raises(NotPermitted) as caught:
        onboarding.departments(as_user(city, settings, "mzj"))
    assert caught.value.user_message == "部门名录只向平台管理员、安全管理员、审计员开放。"


def test_suspension_signs_the_departments_people_out_and_refuses_them_at_the_console(city, settings):
    with unit_of_work(city) as s:
        for username in ("mzj", "gaj"):  # each signed in to the UDDI publication API
            user = s.scalar(select(User).where(User.username == username))
            s.add(AuthToken(token_hash=f"{username:0>64}", user_id=user.id, issued=datetime(2026, 1, 1),
                            expires=datetime(2099, 1, 1), discarded=False))
    member = onboarding.suspend(as_user(city, settings, "admin"), department="mzj", reason="安全检查整改")
    assert (member.status, member.status_label, member.suspension_reason) == ("suspended", "已暂停", "安全检查整改")
    with city() as s:
        assert all(u.sessions_valid_from is not None for u in s.scalars(select(User).where(User.department_id
                                                                                         == member.id)))
        assert s.scalar(select(User).where(User.username == "gaj")).sessions_valid_from is None
        assert (s.get(AuthToken, f"{'mzj':0>64}").discarded, s.get(AuthToken, f"{'gaj':0>64}").discarded) == (
            True, False)
    with pytest.raises(NotPermitted) as caught:
        console.caller(city, "mzj")
    assert caught.value.code == "DepartmentSuspended" and "the department mzj is suspended" in caught.value.message
    assert caught.value.user_message == "部门 临江市民政局 已被暂停接入 (安全检查整改), 请联系平台管理员恢复。"
    assert console.caller(city, "gaj").department_code == "gaj"


def test_reinstatement_lets_the_departments_people_act_again(city, settings):
    onboarding.suspend(as_user(city, settings, "admin"), department="mzj", reason="安全检查整改")
    member = onboarding.reinstate(as_user(city, settings, "admin"), department="mzj")
    assert (member.status, member.suspended_at, member.suspension_reason) == ("active", None, "")
    assert console.caller(city, "mzj").department_code == "mzj"


def test_a_suspension_needs_a_reason_and_happens_once(city, settings):
    admin = as_user(city, settings, "admin")
    with pytest.raises(InvalidInput) as missing:
        onboarding.suspend(admin, department="mzj", reason="")
    assert missing.value.user_message == "请填写暂停原因。"
    onboarding.suspend(admin.again(), department="mzj", reason="安全检查整改")
    with pytest.raises(Conflict) as twice:
        onboarding.suspend(admin.again(), department="mzj", reason="again")
    assert twice.value.code == "AlreadySuspended" and "安全检查整改" in twice.value.user_message
    onboarding.reinstate(admin.again(), department="mzj")
    with pytest.raises(Conflict) as active:
        onboarding.reinstate(admin.again(), department="mzj")
    assert (active.value.code, active.value.user_message) == ("NotSuspended", "临江市民政局 未被暂停接入, 无需恢复。")


def test_a_suspended_departments_adapter_does_not_run(city, settings, tmp_path):
    shutil.copy(ROOT / "adapters" / "departments" / "gaj-household.toml", tmp_path)  # 公安局's adapter file
    onboarding.suspend(as_user(city, settings, "admin"), department="gaj", reason="安全检查整改")
    with pytest.raises(NotPermitted) as caught:
        sync.run(Context(Caller.platform("job"), city, settings), adapter="gaj-household", folder=tmp_path)
    assert caught.value.code == "DepartmentSuspended"
    with city() as s:
        assert s.scalar(select(SyncRun.id)) is None


def test_suspension_deletes_nothing(city, settings):
    onboarding.register_system(as_user(city, settings, "mzj"), code="dibao", name="低保核对系统")
    onboarding.suspend(as_user(city, settings, "admin"), department="mzj", reason="安全检查整改")
    shown = onboarding.show(as_user(city, settings, "auditor"), department="mzj")
    assert (shown.status, shown.users, [s.code for s in shown.systems]) == ("suspended", 2, ["mzj.dibao"])


def test_an_unknown_department_is_not_found(city, settings):
    with pytest.raises(NotFound) as caught:
        onboarding.suspend(as_user(city, settings, "admin"), department="nosuch", reason="x")
    assert caught.value.code == "UnknownDepartment"


# --------------------------------------------------------------------------- application systems


def test_a_department_registers_its_application_system_under_its_code(city, settings):
    made = onboarding.register_system(as_user(city, settings, "mzj"), code="dibao", name="低保核对系统",
                                      description="城乡低保资格核对")
    assert (made.code, made.department_code, made.status, made.created_by) == ("mzj.dibao", "mzj", "active", "mzj")
    again = onboarding.register_system(as_user(city, settings, "mzj"), code="mzj.jiuzhu", name="医疗救助系统")
    assert again.code == "mzj.jiuzhu"


def test_a_system_code_and_name_follow_the_rules_and_are_not_taken(city, settings):
    mzj = as_user(city, settings, "mzj")
    onboarding.register_system(mzj, code="dibao", name="低保核对系统")
    with pytest.raises(InvalidRegistration) as caught:
        onboarding.register_system(mzj.again(), code="dibao", name="低保核对系统")
    assert caught.value.zh_by_field == {"code": "系统代码 mzj.dibao 已被登记。",
                                        "name": "本部门已有名为 低保核对系统 的应用系统。"}
    with pytest.raises(InvalidRegistration) as bad:
        onboarding.register_system(mzj.again(), code="Di_Bao!", name="")
    assert bad.value.zh_by_field == {"code": "系统代码须为 2 至 31 位小写字母、数字或连字符, 以字母开头。",
                                     "name": "请填写系统名称。"}


def test_a_department_registers_systems_for_itself_only_and_an_admin_for_any(city, settings):
    with pytest.raises(NotPermitted) as caught:
        onboarding.register_system(as_user(city, settings, "mzj"), code="hukou", name="户籍系统", department="gaj")
    assert caught.value.user_message == "您只能管理本部门的应用系统。"
    made = onboarding.register_system(as_user(city, settings, "admin"), code="hukou", name="户籍系统",
                                      department="gaj")
    assert made.code == "gaj.hukou"
    with pytest.raises(NotPermitted):
        onboarding.register_system(as_user(city, settings, "mzj-consumer"), code="x1", name="消费")


def test_a_suspended_department_registers_no_system(city, settings):
    onboarding.suspend(as_user(city, settings, "admin"), department="gaj", reason="整改")
    with pytest.raises(NotPermitted) as caught:
        onboarding.register_system(as_user(city, settings, "admin"), code="hukou", name="户籍系统", department="gaj")
    assert caught.value.code == "DepartmentSuspended"


def test_systems_are_listed_for_their_department_and_all_for_admin_and_security(city, settings):
    onboarding.register_system(as_user(city, settings, "mzj"), code="dibao", name="低保核对系统")
    onboarding.register_system(as_user(city, settings, "gaj"), code="hukou", name="户籍系统")
    assert [s.code for s in onboarding.systems(as_user(city, settings, "mzj"))] == ["mzj.dibao"]
    for user in ("admin", "security"):
        assert [s.code for s in onboarding.systems(as_user(city, settings, user))] == ["gaj.hukou", "mzj.dibao"]
    assert [s.code for s in onboarding.systems(as_user(city, settings, "admin"), department="gaj")] == ["gaj.hukou"]
    with pytest.raises(NotPermitted):
        onboarding.systems(as_user(city, settings, "mzj"), department="gaj")


def test_a_department_suspends_and_reinstates_its_own_systems_only(city, settings):
    onboarding.register_system(as_user(city, settings, "mzj"), code="dibao", name="低保核对系统")
    with pytest.raises(NotPermitted) as foreign:
        onboarding.suspend_system(as_user(city, settings, "gaj"), system="mzj.dibao", reason="x")
    assert foreign.value.user_message == "应用系统 mzj.dibao 属于其他部门, 您不能操作。"
    with pytest.raises(InvalidInput):
        onboarding.suspend_system(as_user(city, settings, "mzj"), system="mzj.dibao", reason=" ")
    made = onboarding.suspend_system(as_user(city, settings, "mzj"), system="mzj.dibao", reason="证书泄露排查")
    assert (made.status, made.suspension_reason) == ("suspended", "证书泄露排查")
    with pytest.raises(Conflict):
        onboarding.suspend_system(as_user(city, settings, "mzj"), system="mzj.dibao", reason="again")
    assert onboarding.reinstate_system(as_user(city, settings, "admin"), system="mzj.dibao").status == "active"
    with pytest.raises(NotFound) as unknown:
        onboarding.reinstate_system(as_user(city, settings, "mzj"), system="mzj.nosuch")
    assert (unknown.value.code, unknown.value.user_message) == ("UnknownSystem", "没有代码为 mzj.nosuch 的应用系统。")


# --------------------------------------------------------------------------- grants to an application system


@pytest.fixture
def shared(city, settings):
    """公安局 publishes a 有条件共享 resource with one person; 民政局 has two systems, dibao and jiuzhu."""
    with unit_of_work(city) as s:
        gaj = s.scalar(select(Department).where(Department.code == "gaj"))
        reviewer = create_user(s, username="reviewer", password="x", department=None, roles=("reviewer",))
        cataloguer = s.scalar(select(User).where(User.username == "gaj"))
        code = _publish(s, settings, gaj, cataloguer, reviewer, "户籍人口基础信息", "101001002", "有条件共享")
    batch = build_batch(list(samples.population_records(1, seed=41)), provider_code=credit_code_for("00250102"),
                        resource_code=code, created=datetime(2026, 1, 1, tzinfo=UTC), batch_id=uuid.uuid4())
    with unit_of_work(city) as s:
        submit_document(s, batch, settings.max_batch_bytes)
    for part, name in (("dibao", "低保核对系统"), ("jiuzhu", "医疗救助系统")):
        onboarding.register_system(as_user(city, settings, "mzj"), code=part, name=name)
    return code


def acting_as(sessions, settings, system: str | None) -> Context:
    """民政局 signing with its own certificate (``system`` None) or one of its systems' (as trust.wsse makes it)."""
    with sessions() as s:
        mzj = s.scalar(select(Department).where(Department.code == "mzj"))
        row = s.scalar(select(AppSystem).where(AppSystem.code == system)) if system else None
        return Context(Caller(channel="soap", roles=SYSTEM_ROLES, department_id=mzj.id, department_code=mzj.code,
                              department_name=mzj.name, credit_code=mzj.credit_code, certificate_serial="01",
                              system_id=row.id if row else None, system_code=system), sessions, settings)


def _reads(sessions, settings, code: str, system: str | None, requester: str | None = None) -> bool:
    """Whether 民政局 (as ``system``) reads the shared resource; ``requester``: the department as the request
    names it (then its grants are read in the statement that finds it and the resource)."""
    try:
        return len(query_records(acting_as(sessions, settings, system), resource_code=code, page_size=5,
                                 requester=requester).records) == 1
    except ExchangeError as refused:
        assert refused.code == "NotAuthorized"
        return False


def test_a_grant_to_a_system_lets_that_system_read_and_no_other_caller_of_its_department(city, settings, shared):
    made = sharing.grant(as_user(city, settings, "gaj"), resource_code=shared, consumer_code="mzj",
                         system="mzj.dibao")
    assert (made.consumer_code, made.system_code) == ("mzj", "mzj.dibao")
    assert _reads(city, settings, shared, "mzj.dibao")
    assert not _reads(city, settings, shared, "mzj.jiuzhu")
    assert not _reads(city, settings, shared, None)


@pytest.mark.parametrize("how", ["code", "credit code"])
def test_a_request_naming_its_department_reads_its_grants_with_the_resource_in_one_statement(city, settings, shared,
                                                                                           how):
    """A request that names its department (as SOAP requests do) finds the department, the resource, its
    masking rules and the grants in force in one statement: a system's grant still counts for that system only,
    a revoked grant for nobody, and the department's for every caller of the department."""
    with city() as s:
        mzj = s.scalar(select(Department).where(Department.code == "mzj"))
    named = mzj.code.upper() if how == "code" else mzj.credit_code.lower()  # either, in either case
    cases = {"mzj.dibao": True, "mzj.jiuzhu": False, None: False}
    sharing.grant(as_user(city, settings, "gaj"), resource_code=shared, consumer_code="mzj", system="mzj.dibao")
    assert {system: _reads(city, settings, shared, system, named) for system in cases} == cases
    statements: list[str] = []

    def counted(conn, cursor, statement, *args):
        if "audit_entry" not in statement:  # the action's audit entry, appended after it
            statements.append(statement)

    dibao = acting_as(city, settings, "mzj.dibao")
    event.listen(Engine, "before_cursor_execute", counted)  # every engine's: the reading engine's and the others
    try:
        assert len(query_records(dibao, resource_code=shared, requester=named).records) == 1
    finally:
        event.remove(Engine, "before_cursor_execute", counted)
    # the one statement, then the records (counted, then the page): no other reads a grant
    assert len(statements) == 3 and [s for s in statements if "sharing_grant" in s] == statements[:1], statements
    department = sharing.grant(as_user(city, settings, "gaj"), resource_code=shared, consumer_code="mzj")
    assert {system: _reads(city, settings, shared, system, named) for system in cases} == dict.fromkeys(cases, True)
    sharing.revoke(as_user(city, settings, "gaj"), grant_id=department.id, reason="用途已结束")
    assert {system: _reads(city, settings, shared, system, named) for system in cases} == cases


def test_the_refusal_names_the_system_the_grant_is_for(city, settings, shared):
    sharing.grant(as_user(city, settings, "gaj"), resource_code=shared, consumer_code="mzj", system="mzj.dibao")
    with pytest.raises(ExchangeError) as caught:
        query_records(acting_as(city, settings, "mzj.jiuzhu"), resource_code=shared)
    assert "its grant is for its application system mzj.dibao only" in caught.value.message
    assert "现有授权仅限本部门的应用系统 mzj.dibao 使用" in caught.value.user_message


def test_a_department_grant_lets_every_system_and_the_departments_own_certificate_read(city, settings, shared):
    made = sharing.grant(as_user(city, settings, "gaj"), resource_code=shared, consumer_code="mzj")
    assert made.system_code is None
    assert all(_reads(city, settings, shared, system) for system in ("mzj.dibao", "mzj.jiuzhu", None))


def test_an_application_for_a_system_becomes_a_grant_to_that_system(city, settings, shared):
    filed = sharing.apply(as_user(city, settings, "mzj-consumer"), resource_code=shared, purpose="低保资格核查",
                          valid_to=datetime(2099, 12, 31).date(), system="mzj.dibao")
    assert filed.system_code == "mzj.dibao"
    granted = sharing.approve(as_user(city, settings, "gaj"), application_id=filed.id)
    assert granted.system_code == "mzj.dibao"
    assert _reads(city, settings, shared, "mzj.dibao") and not _reads(city, settings, shared, "mzj.jiuzhu")
    [listed] = sharing.grants(as_user(city, settings, "mzj-consumer"))
    assert listed.system_code == "mzj.dibao"


def test_an_application_names_an_active_system_of_the_applicants_own_department(city, settings, shared):
    onboarding.register_system(as_user(city, settings, "gaj"), code="hukou", name="户籍系统")
    consumer = as_user(city, settings, "mzj-consumer")
    until = datetime(2099, 12, 31).date()
    with pytest.raises(GovernanceError) as foreign:
        sharing.apply(consumer, resource_code=shared, purpose="核查", valid_to=until, system="gaj.hukou")
    assert foreign.value.user_message == "应用系统 gaj.hukou 不属于临江市民政局。"
    onboarding.suspend_system(as_user(city, settings, "mzj"), system="mzj.jiuzhu", reason="停用")
    with pytest.raises(GovernanceError) as suspended:
        sharing.apply(consumer.again(), resource_code=shared, purpose="核查", valid_to=until, system="mzj.jiuzhu")
    assert suspended.value.user_message == "应用系统 mzj.jiuzhu 已暂停接入, 不能为其申请或授权。"
    with pytest.raises(NotFound):
        sharing.apply(consumer.again(), resource_code=shared, purpose="核查", valid_to=until, system="mzj.nosuch")


def test_a_department_may_apply_for_a_system_while_its_own_application_waits(city, settings, shared):
    consumer = as_user(city, settings, "mzj-consumer")
    until = datetime(2099, 12, 31).date()
    sharing.apply(consumer, resource_code=shared, purpose="核查", valid_to=until)
    assert sharing.apply(consumer.again(), resource_code=shared, purpose="核查", valid_to=until,
                         system="mzj.dibao").system_code == "mzj.dibao"
    with pytest.raises(GovernanceError):
        sharing.apply(consumer.again(), resource_code=shared, purpose="核查", valid_to=until, system="mzj.dibao")


# --------------------------------------------------------------------------- govshare admin


@pytest.fixture
def govshare(city, settings, capsys):
    def run(*argv: str) -> tuple[int, str, str]:
        args = server.parser().parse_args(["admin", *argv])
        code = args.handler(args, city, settings)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_the_command_line_applies_approves_suspends_and_reinstates(govshare):
    code, out, _ = govshare("department", "apply", "--code", "wjw", "--name", FORM["name"], "--credit-code", WJW,
                            "--division", "330100", "--mode", "front_node", "--contact-name", "王明",
                            "--contact-phone", "0571-87000001")
    assert code == 0 and out.startswith("登记申请 #1 submitted: wjw 临江市卫生健康委员会")
    code, out, _ = govshare("department", "applications", "--status", "submitted")
    assert code == 0 and out.startswith(f"#1\tsubmitted\twjw\t临江市卫生健康委员会\t{WJW}\t330100 杭州市\tfront_node")
    code, out, _ = govshare("department", "approve", "1")
    assert (code, out) == (0, "wjw registered: 临江市卫生健康委员会, businessEntity uddi:wjw.govshare.local:business\n")
    code, out, _ = govshare("department", "suspend", "wjw", "--reason", "安全检查整改")
    assert code == 0 and out.startswith("wjw suspended")
    code, out, _ = govshare("department", "list", "--status", "suspended")
    assert code == 0 and out.startswith("wjw\tsuspended\t临江市卫生健康委员会") and "安全检查整改" in out
    assert govshare("department", "reinstate", "wjw")[:2] == (0, "wjw reinstated\n")


def test_the_command_line_refuses_with_exit_status_2(govshare):
    code, _, err = govshare("department", "apply", "--code", "W", "--name", "x", "--credit-code", "123",
                            "--division", "1", "--mode", "app_system", "--contact-name", "x", "--contact-phone", "1")
    assert code == 2 and err.startswith("error: code: 'w': 2 to 16 lower-case letters") and "credit_code:" in err
    code, _, err = govshare("department", "refuse", "1", "--reason", "x")
    assert (code, err) == (2, "error: no 登记申请 #1\n")
    code, _, err = govshare("department", "suspend", "mzj")
    assert (code, err) == (2, "error: reason: required to suspend a department\n")


def test_a_suspended_departments_people_are_refused_at_the_command_line_until_reinstated(govshare):
    assert govshare("department", "suspend", "mzj", "--reason", "安全检查整改")[0] == 0
    code, _, err = govshare("system", "list", "--user", "mzj")
    assert code == 2 and err.startswith("error: the department mzj is suspended since ")
    assert govshare("department", "reinstate", "mzj")[0] == 0
    assert govshare("system", "list", "--user", "mzj")[0] == 0


def test_the_command_line_registers_lists_and_suspends_systems(govshare):
    assert govshare("system", "register", "--user", "mzj", "--code", "dibao", "--name", "低保核对系统")[:2] == (
        0, "mzj.dibao registered: 低保核对系统 (临江市民政局)\n")
    code, out, _ = govshare("system", "list", "--user", "mzj")
    assert code == 0 and out.startswith("mzj.dibao\tactive\t低保核对系统\tmzj\tby mzj ")
    assert govshare("system", "suspend", "mzj.dibao", "--user", "mzj", "--reason", "排查")[:2] == (
        0, "mzj.dibao suspended\n")
    code, _, err = govshare("system", "register", "--user", "mzj", "--code", "hukou", "--name", "户籍",
                            "--department", "gaj")
    assert (code, err) == (2, "error: mzj may act on mzj's application systems only, not gaj's\n")


# --------------------------------------------------------------------------- 站内消息


def _told(sessions) -> list[tuple[str, str, str, str, bool]]:
    """Every notice: (to whom, subject, ref, text, unread), oldest first."""
    from registry.models import Notice

    with sessions() as s:
        return [(u, subject, ref, text, read_at is None) for u, subject, ref, text, read_at in s.execute(
            select(User.username, Notice.subject, Notice.ref, Notice.text, Notice.read_at)
            .join(User, Notice.user_id == User.id).order_by(Notice.id))]


def test_onboarding_tells_the_administrator_to_review_and_then_the_security_administrator_to_open_accounts(
        city, settings):
    from governance import users

    filed = _apply(city, settings)
    assert _told(city) == [("admin", "registration", str(filed.id),
                            f"临江市卫生健康委员会 (wjw) 提交了部门登记申请 #{filed.id} (前置交换节点), 待审核。",
                            True)]
    onboarding.approve(as_user(city, settings, "admin"), application_id=filed.id)
    told = _told(city)
    assert told[0][4] is False  # reviewed: the administrator's notice is read
    assert told[1:] == [("security", "account", "wjw",
                         f"临江市卫生健康委员会 (wjw) 的登记申请 #{filed.id} 已批准, "
                         "已成为平台成员部门 (前置交换节点); 请为其开设账号 (编目、提供、使用等角色)。", True)]
    users.create(as_user(city, settings, "security"), username="wjw.li", department="wjw", roles=["cataloguer"])
    assert _told(city)[-1][4] is False  # an account of the department was opened: done
    # a lower platform reports its catalogue itself: its people may need no account
    node = _apply(city, settings, code="lhq", name="临江市临湖区人民政府", credit_code=credit_code_for("00260100"),
                  connection_mode="catalogue_node")
    onboarding.approve(as_user(city, settings, "admin"), application_id=node.id)
    assert _told(city)[-1][3].endswith("已成为平台成员部门 (目录管理节点); 其目录由其平台上报; 如其人员需要使用门户, "
                                       "请为其开设账号。")
    # an application an account filed is answered to that account; the public form's filer has none
    refused = onboarding.apply(as_user(city, settings, "gaj"), **{**FORM, "code": "jyj", "name": "临江市教育局",
                                                                   "credit_code": credit_code_for("00250111")})
    onboarding.refuse(as_user(city, settings, "admin"), application_id=refused.id, reason="请由教育局自行申请")
    assert [t[:4] for t in _told(city) if t[2] == str(refused.id)] == [
        ("admin", "registration", str(refused.id),
         f"临江市教育局 (jyj) 提交了部门登记申请 #{refused.id} (前置交换节点), 待审核。"),
        ("gaj", "registration", str(refused.id),
         f"临江市教育局 (jyj) 的部门登记申请 #{refused.id} 未获批准: 请由教育局自行申请")]


def test_a_suspension_and_its_end_tell_the_department_or_the_systems_people(city, settings):
    onboarding.register_system(as_user(city, settings, "mzj"), code="dibao", name="低保核对系统")
    admin = as_user(city, settings, "admin")
    onboarding.suspend_system(admin, system="mzj.dibao", reason="证书泄露排查")
    onboarding.reinstate_system(admin.again(), system="mzj.dibao")
    system_told = _told(city)
    # the department's people who manage its systems (mzj); mzj-consumer does not
    assert [(to, ref, unread) for to, _s, ref, _t, unread in system_told] == [
        ("mzj", "mzj.dibao", False), ("mzj", "mzj.dibao", True)]
    assert system_told[0][3].startswith("应用系统 mzj.dibao (低保核对系统) 已于 ")
    assert system_told[0][3].endswith(" 被暂停: 证书泄露排查。暂停期间, 该系统的调用和证书在各渠道均被拒绝。")
    assert system_told[1][3] == "应用系统 mzj.dibao (低保核对系统) 已恢复, 可以重新调用平台服务。"
    onboarding.suspend(admin.again(), department="mzj", reason="安全检查整改")
    suspended = _told(city)[2:]
    assert [(to, subject, ref) for to, subject, ref, _t, _u in suspended] == [
        ("mzj", "access", "mzj"), ("mzj-consumer", "access", "mzj")]  # every person of the department
    assert "被暂停接入: 安全检查整改。暂停期间, 本部门的账号、应用系统和证书在各渠道均被拒绝" in suspended[0][3]
    onboarding.reinstate(admin.again(), department="mzj")
    back = "本部门 (临江市民政局) 已恢复接入, 可以重新登录和调用平台服务。"
    assert [(to, text, unread) for to, _s, _r, text, unread in _told(city)[4:]] == [
        (person, back, True) for person in ("mzj", "mzj-consumer")]
    # each end of a suspension read its notice: what stays unread is the news that it ended
    assert [unread for *_rest, unread in _told(city)[:4]] == [False, True, False, False]
