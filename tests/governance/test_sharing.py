"""Sharing governance (S3): 共享为原则、不共享为例外, enforced on the exchange's one read path.

The enforcement tests go over real HTTP to /exchange; the application life cycle is
specified through the domain functions with explicit ``now`` instants.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

import server
from governance import masking, sharing
from registry.clock import china_date, utcnow
from registry.db import unit_of_work
from registry.errors import Conflict, ExchangeError, GovernanceError, NotFound, NotPermitted
from registry.models import AuditEntry, CatalogueEntry, Department
from tests.conftest import as_user

from .sharing_city import P, changes, city_fixture, exchange_fixture, query, records_of  # noqa: F401 - fixtures

MASKED_ID = re.compile(r"^[1-9][0-9]{5}\*{8}[0-9]{3}[0-9X]$")
NOW = datetime(2026, 3, 2, 1, 0)  # 09:00 in China


def _apply(sessions, settings, city, *, user="mzj", fields=None, until=date(2099, 12, 31), now=None, **kw):
    return sharing.apply(as_user(sessions, settings, user, now=now), resource_code=city.conditional,
                         purpose="低保资格核查", fields=fields, valid_to=until, **kw).id


def _approve(sessions, settings, application_id, *, user="gaj", now=None, **kw):
    return sharing.approve(as_user(sessions, settings, user, now=now), application_id=application_id, **kw).id


def _mask(sessions, settings, resource, field, method, *, user="gaj"):
    return sharing.mask(as_user(sessions, settings, user), resource_code=resource, field=field, method=method)


def _id_numbers(city, resource):
    return sorted(r.findtext(P + "idNumber") for r in city.people[resource])


# --------------------------------------------------------------------------- masking


def test_id_numbers_keep_their_first_6_and_last_4_characters():
    assert masking.mask_id_number("330102199001021235") == "330102********1235"


def test_phone_numbers_keep_their_first_3_and_last_4_digits():
    assert masking.mask_phone("13812345678") == "138****5678"


def test_names_keep_their_first_character():
    assert (masking.mask_name("张伟"), masking.mask_name("欧阳娜娜")) == ("张*", "欧***")


def test_fields_are_masked_by_default_by_their_names():
    assert [masking.default_method(f) for f in ("idNumber", "mobile", "contactPhone", "name", "domicileAddress")] \
        == ["id_number", "phone", "phone", "none", "none"]


# --------------------------------------------------------------------------- 无条件共享


def test_an_unconditional_resource_is_read_by_every_registered_department_with_id_numbers_masked(exchange, city):
    for department in ("mzj", "sbj"):
        reply = query(exchange, city, department, city.unconditional)
        assert reply.status == 200, reply.fault
        records = records_of(reply)
        assert len(records) == 3
        assert all(MASKED_ID.match(r["idNumber"]) for r in records)
        shown = sorted(r["idNumber"][:6] + r["idNumber"][-4:] for r in records)
        assert shown == sorted(i[:6] + i[-4:] for i in _id_numbers(city, city.unconditional))
        assert {r["name"] for r in records} == {p.findtext(P + "name") for p in city.people[city.unconditional]}


def test_get_changes_masks_the_keys_as_well_as_the_records(exchange, city):
    reply = changes(exchange, city, "sbj", city.unconditional)
    assert reply.status == 200, reply.fault
    keys = reply.payload.findall(".//{http://govshare.local/xsd/exchange/1.0}key")
    assert len(keys) == 3 and all(MASKED_ID.match(k.text) for k in keys)


def test_a_record_is_found_by_its_full_id_number_and_shown_masked(exchange, city):
    wanted = _id_numbers(city, city.unconditional)[1]
    reply = query(exchange, city, "mzj", city.unconditional, f"<ex:key>{wanted}</ex:key>")
    [record] = records_of(reply)
    assert record["idNumber"] == masking.mask_id_number(wanted)


def test_a_prefix_filter_on_a_masked_field_is_refused(exchange, city):
    reply = query(exchange, city, "mzj", city.unconditional, "<ex:filter><ex:field>idNumber</ex:field>"
                  "<ex:operator>prefix</ex:operator><ex:value>3301</ex:value></ex:filter>")
    assert reply.code == "InvalidRequest"
    assert "idNumber is masked" in reply.fault


def test_the_provider_reads_its_own_resource_unmasked(exchange, city):
    records = records_of(query(exchange, city, "gaj", city.unconditional))
    assert sorted(r["idNumber"] for r in records) == _id_numbers(city, city.unconditional)


def test_a_masking_rule_of_the_provider_overrides_the_defaults(exchange, city, sessions, settings):
    _mask(sessions, settings, city.unconditional, "name", "name")
    _mask(sessions, settings, city.unconditional, "idNumber", "none")
    records = records_of(query(exchange, city, "mzj", city.unconditional))
    assert sorted(r["idNumber"] for r in records) == _id_numbers(city, city.unconditional)
    assert {r["name"] for r in records} == {masking.mask_name(p.findtext(P + "name"))
                                            for p in city.people[city.unconditional]}


def test_only_the_provider_sets_masking_rules(city, sessions, settings):
    with pytest.raises(NotPermitted, match="mzj may not grant"):  # a consumer: not its role
        _mask(sessions, settings, city.unconditional, "name", "none", user="mzj")
    with pytest.raises(NotPermitted, match="sbj-staff may not set the masking of") as refused:  # not its resource
        _mask(sessions, settings, city.unconditional, "name", "none", user="sbj-staff")
    assert refused.value.user_message == ("资源「人口基本信息(公开项)」由临江市公安局提供, "
                                          "只有该部门的提供方或目录管理员才能设置脱敏。")


def test_the_masking_of_a_resource_lists_every_field_with_its_label_and_origin(city, sessions, settings):
    _mask(sessions, settings, city.unconditional, "姓名", "name")
    table = {f.field: f for f in sharing.masking_of(as_user(sessions, settings, "sbj"),
                                                    resource_code=city.unconditional)}
    assert (table["name"].label, table["name"].method, table["name"].origin) == ("姓名", "name", "rule")
    assert (table["idNumber"].method, table["idNumber"].origin) == ("id_number", "default")


def test_a_masking_method_must_be_one_the_platform_knows(city, sessions, settings):
    with pytest.raises(GovernanceError, match="method: 'blur' is not one of") as caught:
        _mask(sessions, settings, city.unconditional, "name", "blur")
    assert caught.value.user_message == "没有名为 blur 的脱敏方式。"


# --------------------------------------------------------------------------- 不予共享


def test_a_not_shared_resource_is_never_served_to_another_department(exchange, city):
    reply = query(exchange, city, "mzj", city.not_shared)
    assert reply.code == "NotShared"
    assert city.not_shared in reply.fault and "《保守国家秘密法》" in reply.fault


def test_a_not_shared_resource_can_be_neither_applied_for_nor_granted(city, sessions, settings):
    with pytest.raises(GovernanceError, match="不予共享"):
        sharing.apply(as_user(sessions, settings, "mzj"), resource_code=city.not_shared, purpose="核查",
                      valid_to=date(2099, 1, 1))
    with pytest.raises(GovernanceError, match="not even by grant"):
        sharing.grant(as_user(sessions, settings, "gaj"), resource_code=city.not_shared, consumer_code="mzj")


def test_the_provider_reads_its_not_shared_resource(exchange, city):
    reply = query(exchange, city, "gaj", city.not_shared)
    assert sorted(r["idNumber"] for r in records_of(reply)) == _id_numbers(city, city.not_shared)


# --------------------------------------------------------------------------- 有条件共享


def test_a_conditional_resource_refuses_a_department_without_a_grant(exchange, city):
    reply = query(exchange, city, "mzj", city.conditional)
    assert reply.status == 500
    assert reply.code == "NotAuthorized"
    assert city.conditional in reply.fault and "govshare sharing apply" in reply.fault
    assert changes(exchange, city, "mzj", city.conditional).code == "NotAuthorized"


def test_the_refusal_tells_a_portal_user_in_chinese_to_apply_in_the_portal(city, sessions, settings):
    with pytest.raises(ExchangeError) as refused:
        sharing.view(as_user(sessions, settings, "mzj", channel="portal"), resource_code=city.conditional)
    assert "govshare sharing apply" in refused.value.message  # SOAP and the command line keep the command
    assert refused.value.user_message == (
        f"临江市民政局尚无读取资源「户籍人口基础信息」({city.conditional}, 有条件共享) 的有效授权。"
        "如需使用, 请在资源目录中打开该资源, 点击「申请使用」提交使用申请。")
    application = _apply(sessions, settings, city)
    with pytest.raises(ExchangeError) as pending:
        sharing.view(as_user(sessions, settings, "mzj", channel="portal"), resource_code=city.conditional)
    assert f"使用申请 #{application} 正等待提供方答复" in pending.value.user_message
    assert "「我的申请」" in pending.value.user_message and "govshare" not in pending.value.user_message


def test_a_pending_application_is_named_in_the_refusal(exchange, city, sessions, settings):
    application = _apply(sessions, settings, city)
    reply = query(exchange, city, "mzj", city.conditional)
    assert reply.code == "NotAuthorized"
    assert f"application #{application} awaits the provider's answer" in reply.fault


def test_an_approved_application_serves_the_granted_fields_only(exchange, city, sessions, settings):
    _approve(sessions, settings, _apply(sessions, settings, city, fields=["idNumber", "姓名"]))
    reply = query(exchange, city, "mzj", city.conditional)
    assert reply.status == 200, reply.fault
    records = records_of(reply)
    assert len(records) == 3 and all(set(r) == {"idNumber", "name"} for r in records)
    assert all(MASKED_ID.match(r["idNumber"]) for r in records)
    assert query(exchange, city, "sbj", city.conditional).code == "NotAuthorized"  # the grant is mzj's alone


def test_a_filter_on_a_field_not_granted_is_refused(exchange, city, sessions, settings):
    _approve(sessions, settings, _apply(sessions, settings, city, fields=["idNumber", "name"]))
    reply = query(exchange, city, "mzj", city.conditional, "<ex:filter><ex:field>sex</ex:field>"
                  "<ex:operator>eq</ex:operator><ex:value>1</ex:value></ex:filter>")
    assert reply.code == "InvalidRequest" and "field sex is not visible" in reply.fault


def test_an_application_names_its_fields_by_their_chinese_labels(city, sessions, settings):
    _apply(sessions, settings, city, fields=["idNumber", "姓名"])
    [application] = sharing.inbox(as_user(sessions, settings, "gaj"))
    assert (application.fields, application.field_labels) == (["idNumber", "name"], ["公民身份号码", "姓名"])


def test_the_approval_may_narrow_the_fields_and_show_some_unmasked(exchange, city, sessions, settings):
    application = _apply(sessions, settings, city, fields=["idNumber", "name", "domicileAddress"])
    _approve(sessions, settings, application, fields=["idNumber", "name"], clear=["idNumber"])
    records = records_of(query(exchange, city, "mzj", city.conditional))
    assert all(set(r) == {"idNumber", "name"} for r in records)
    assert sorted(r["idNumber"] for r in records) == _id_numbers(city, city.conditional)


def test_one_application_is_read_by_both_departments_with_the_fields_asked_and_their_masking(city, sessions,
                                                                                             settings):
    application = _apply(sessions, settings, city, fields=["idNumber", "name"])
    review = sharing.application(as_user(sessions, settings, "gaj"), application_id=application)
    assert (review.application.id, review.application.consumer_code) == (application, "mzj")
    assert [(f.field, f.label, f.method) for f in review.fields] == [("idNumber", "公民身份号码", "id_number"),
                                                                     ("name", "姓名", "none")]
    assert [f.field for f in review.masked] == ["idNumber"]
    assert sharing.application(as_user(sessions, settings, "mzj"), application_id=application).application.purpose
    with pytest.raises(NotPermitted) as refused:
        sharing.application(as_user(sessions, settings, "sbj"), application_id=application)
    assert refused.value.user_message == (f"使用申请 #{application} 由临江市民政局向临江市公安局提交, "
                                          "只有这两个部门的经办人员才能查看。")
    everything = _apply(sessions, settings, city, user="sbj")  # every field: each of the format's, in its order
    fields = sharing.application(as_user(sessions, settings, "gaj"), application_id=everything).fields
    assert fields[0].field == "idNumber" and len(fields) > 2 and "domicileAddress" in {f.field for f in fields}
    with pytest.raises(NotFound):
        sharing.application(as_user(sessions, settings, "gaj"), application_id=999)
    with sessions() as s:
        results = s.scalars(select(AuditEntry.result).where(AuditEntry.operation == "sharing.application")
                            .order_by(AuditEntry.seq)).all()
    assert results == ["ok", "ok", "refused:NotPermitted", "ok", "refused:ApplicationNotFound"]


def test_the_approval_may_not_widen_the_fields(city, sessions, settings):
    application = _apply(sessions, settings, city, fields=["name"])
    with pytest.raises(GovernanceError, match="sex were not applied for") as caught:
        _approve(sessions, settings, application, fields=["name", "sex"])
    assert caught.value.field == "fields"
    assert caught.value.user_message == "字段 性别 不在申请范围内: 授权只能缩小申请的字段 (姓名), 不能扩大。"


def test_unknown_fields_are_refused_naming_the_formats_fields(city, sessions, settings):
    with pytest.raises(GovernanceError, match="fields: salary not in .* its fields: idNumber, name") as caught:
        _apply(sessions, settings, city, fields=["name", "salary"])
    assert caught.value.user_message.startswith("salary 不是资源「户籍人口基础信息」的字段; "
                                                "可选字段: 公民身份号码、姓名")


def test_a_grant_stops_serving_after_its_period(exchange, city, sessions, settings):
    then = utcnow() - timedelta(days=40)
    last_day = china_date(then) + timedelta(days=9)
    application = _apply(sessions, settings, city, until=last_day, now=then)
    _approve(sessions, settings, application, now=then + timedelta(hours=2))
    reply = query(exchange, city, "mzj", city.conditional)
    assert reply.code == "NotAuthorized"
    assert "expired after " + last_day.isoformat() in reply.fault
    with unit_of_work(sessions) as s:  # and it served within the period
        mzj = s.query(Department).filter_by(code="mzj").one()
        entry = s.query(CatalogueEntry).filter_by(resource_code=city.conditional).one()
        assert sharing.authorize(s, mzj, entry, at=then + timedelta(days=3)).basis == "grant"


def test_a_revoked_grant_stops_serving(exchange, city, sessions, settings):
    grant = _approve(sessions, settings, _apply(sessions, settings, city))
    assert query(exchange, city, "mzj", city.conditional).status == 200
    sharing.revoke(as_user(sessions, settings, "gaj"), grant_id=grant, reason="业务已办结")
    reply = query(exchange, city, "mzj", city.conditional)
    assert reply.code == "NotAuthorized"
    assert f"grant #{grant} was revoked" in reply.fault and "业务已办结" in reply.fault


def test_a_revocation_needs_a_reason(city, sessions, settings):
    grant = _approve(sessions, settings, _apply(sessions, settings, city))
    with pytest.raises(GovernanceError, match="^reason: required to revoke a grant$") as caught:
        sharing.revoke(as_user(sessions, settings, "gaj"), grant_id=grant, reason="  ")
    assert caught.value.user_message == "请填写撤销理由。"


def test_a_grant_is_revoked_once(city, sessions, settings):
    grant = _approve(sessions, settings, _apply(sessions, settings, city))
    sharing.revoke(as_user(sessions, settings, "gaj"), grant_id=grant, reason="业务已办结")
    with pytest.raises(Conflict, match=f"grant #{grant} was already revoked"):
        sharing.revoke(as_user(sessions, settings, "gaj"), grant_id=grant, reason="再次撤销")


def test_a_reason_is_at_most_200_characters(city, sessions, settings):
    application = _apply(sessions, settings, city)
    with pytest.raises(GovernanceError, match=r"^reason: at most 200 characters \(it has 201\)$") as caught:
        sharing.refuse(as_user(sessions, settings, "gaj"), application_id=application, reason="理" * 201)
    assert caught.value.user_message == "拒绝理由最多 200 个字 (现有 201 个)。"
    assert sharing.refuse(as_user(sessions, settings, "gaj"), application_id=application,
                          reason="理" * 200).status == "refused"


def test_the_provider_grants_directly_and_lists_the_grants(city, sessions, settings):
    given = sharing.grant(as_user(sessions, settings, "gaj"), resource_code=city.conditional, consumer_code="sbj",
                          fields=["idNumber", "姓名"], valid_to=date(2099, 6, 30))
    assert (given.source, given.consumer_code, given.fields, given.last_day, given.state) == (
        "policy", "sbj", ["idNumber", "name"], date(2099, 6, 30), "active")
    assert [g.id for g in sharing.grants(as_user(sessions, settings, "sbj"))] == [given.id]  # the holder
    assert [g.id for g in sharing.grants(as_user(sessions, settings, "gaj"))] == [given.id]  # the giver
    assert sharing.grants(as_user(sessions, settings, "mzj")) == []
    with pytest.raises(NotPermitted, match="sees only mzj's"):
        sharing.grants(as_user(sessions, settings, "mzj"), department="sbj")
    assert [g.id for g in sharing.grants(as_user(sessions, settings, "admin"), department="sbj")] == [given.id]


def test_the_view_says_on_what_basis_a_department_reads_which_fields_how_masked(city, sessions, settings):
    _approve(sessions, settings, _apply(sessions, settings, city, fields=["idNumber", "name"]), clear=["name"])
    seen = sharing.view(as_user(sessions, settings, "mzj"), resource_code=city.conditional)
    assert (seen.department_code, seen.basis, seen.all_fields, seen.visible) == (
        "mzj", "grant", False, ["idNumber", "name"])
    assert [(f.field, f.label, f.method) for f in seen.masked] == [("idNumber", "公民身份号码", "id_number")]
    own = sharing.view(as_user(sessions, settings, "gaj"), resource_code=city.conditional)
    assert (own.basis, own.all_fields, own.masked) == ("provider", True, [])
    with pytest.raises(NotPermitted):  # another department's view is an admin's to ask
        sharing.view(as_user(sessions, settings, "gaj"), resource_code=city.conditional, department="mzj")


# --------------------------------------------------------------------------- the application life cycle


def test_the_deadline_is_the_configured_number_of_calendar_days(city, sessions, settings):
    short = dataclasses.replace(settings, application_days=3)
    application = _apply(sessions, short, city, now=NOW)
    with sessions() as s:
        assert s.get(sharing.SharingApplication, application).deadline == NOW + timedelta(days=3)


def test_an_application_unanswered_past_its_deadline_is_flagged_overdue(city, sessions, settings):
    application = _apply(sessions, settings, city, now=NOW)
    [before] = sharing.inbox(as_user(sessions, settings, "gaj", now=NOW + timedelta(days=10)))
    [after] = sharing.inbox(as_user(sessions, settings, "gaj", now=NOW + timedelta(days=10, seconds=1)))
    assert before.id == after.id == application
    assert not sharing.is_overdue(before, NOW + timedelta(days=10))
    assert sharing.is_overdue(after, NOW + timedelta(days=10, seconds=1))


def test_a_refusal_without_a_reason_is_refused_naming_the_field(city, sessions, settings):
    application = _apply(sessions, settings, city)
    with pytest.raises(GovernanceError) as caught:
        sharing.refuse(as_user(sessions, settings, "gaj"), application_id=application, reason="")
    assert str(caught.value) == "reason: required to refuse an application"
    assert caught.value.field == "reason" and caught.value.user_message == "请填写拒绝理由。"


def test_a_refused_application_records_who_when_and_why(city, sessions, settings):
    application = _apply(sessions, settings, city, now=NOW)
    sharing.refuse(as_user(sessions, settings, "gaj", now=NOW + timedelta(days=1)), application_id=application,
                   reason="用途与共享条件不符")
    with sessions() as s:
        refused = s.get(sharing.SharingApplication, application)
        assert (refused.status, refused.decided_by, refused.decided_at, refused.reason) == (
            "refused", "gaj", NOW + timedelta(days=1), "用途与共享条件不符")


def test_only_the_provider_decides(city, sessions, settings):
    application = _apply(sessions, settings, city)
    with pytest.raises(NotPermitted, match="sbj may not inbox"):  # a consumer: not its role
        _approve(sessions, settings, application, user="sbj")
    with pytest.raises(NotPermitted, match="sbj-staff may not refuse applications for") as refused:
        sharing.refuse(as_user(sessions, settings, "sbj-staff"), application_id=application, reason="不符")
    assert refused.value.user_message == ("资源「户籍人口基础信息」由临江市公安局提供, "
                                          "只有该部门的提供方或目录管理员才能拒绝使用申请。")
    assert sharing.approve(as_user(sessions, settings, "admin"), application_id=application).source == "application"


def test_an_unknown_application_is_not_found(city, sessions, settings):
    with pytest.raises(NotFound) as caught:
        _approve(sessions, settings, 999)
    assert (caught.value.code, caught.value.user_message) == ("ApplicationNotFound", "没有编号为 999 的使用申请。")


def test_the_consumer_withdraws_its_own_application(city, sessions, settings):
    application = _apply(sessions, settings, city)
    with pytest.raises(NotPermitted, match="may not withdraw") as refused:
        sharing.withdraw(as_user(sessions, settings, "sbj"), application_id=application)
    assert refused.value.user_message == f"使用申请 #{application} 是临江市民政局提交的, 只有申请部门才能撤回。"
    assert sharing.withdraw(as_user(sessions, settings, "mzj"), application_id=application).status == "withdrawn"
    with pytest.raises(Conflict, match="is withdrawn; only a submitted one can be approved") as caught:
        _approve(sessions, settings, application)
    assert caught.value.user_message == f"使用申请 #{application} 已撤回, 只有待答复的申请可以答复。"


def test_an_application_unanswered_when_its_period_ends_expires(city, sessions, settings):
    application = _apply(sessions, settings, city, until=date(2026, 3, 31), now=NOW)
    with pytest.raises(Conflict, match=r"is expired \(its period ended on 2026-03-31\)"):
        _approve(sessions, settings, application, now=datetime(2026, 4, 1, 0, 0))


def test_a_second_application_waits_for_the_first(city, sessions, settings):
    first = _apply(sessions, settings, city)
    with pytest.raises(GovernanceError, match=f"application #{first} .* already awaits an answer"):
        _apply(sessions, settings, city)


def test_an_unconditional_resource_needs_no_application(city, sessions, settings):
    with pytest.raises(GovernanceError, match="无条件共享: every registered department reads it"):
        sharing.apply(as_user(sessions, settings, "mzj"), resource_code=city.unconditional, purpose="核查",
                      valid_to=date(2099, 1, 1))


def test_a_purpose_is_required(city, sessions, settings):
    with pytest.raises(GovernanceError, match="^purpose: required"):
        sharing.apply(as_user(sessions, settings, "mzj"), resource_code=city.conditional, purpose=" ",
                      valid_to=date(2099, 1, 1))


def test_the_decision_is_the_same_for_every_front_end(city, sessions):
    with sessions() as s:
        mzj = s.query(Department).filter_by(code="mzj").one()
        entry = s.query(CatalogueEntry).filter_by(resource_code=city.conditional).one()
        with pytest.raises(ExchangeError) as caught:
            sharing.authorize(s, mzj, entry)
    assert caught.value.code == "NotAuthorized"


# --------------------------------------------------------------------------- the command line


def _cli(sessions, settings, *argv: str) -> int:
    args = server.parser().parse_args(list(argv))
    return args.handler(args, sessions, settings)


def test_the_command_line_applies_approves_and_lists(city, sessions, settings, capsys, exchange):
    assert _cli(sessions, settings, "sharing", "apply", "--user", "mzj", "--resource", city.conditional,
                "--purpose", "低保资格核查", "--fields", "idNumber,name", "--until", "2099-06-30") == 0
    assert re.match(r"application #\d+ submitted; 临江市公安局 answers by ", capsys.readouterr().out)
    assert _cli(sessions, settings, "sharing", "inbox", "--user", "gaj") == 0
    line = capsys.readouterr().out
    assert "\tsubmitted\t-\tmzj\t" in line and "idNumber,name" in line
    application = line.split("\t")[0].lstrip("#")
    assert _cli(sessions, settings, "sharing", "refuse", "--user", "gaj", application) == 2
    assert capsys.readouterr().err == "error: reason: required to refuse an application\n"
    assert _cli(sessions, settings, "sharing", "approve", "--user", "gaj", application, "--until", "2099-01-31") == 0
    assert "until 2099-01-31" in capsys.readouterr().out
    assert _cli(sessions, settings, "sharing", "view", "--department", "mzj", "--resource", city.conditional) == 0
    out = capsys.readouterr().out
    assert "as grant" in out and "fields: idNumber,name" in out and "masked: idNumber (id_number)" in out
    assert _cli(sessions, settings, "sharing", "view", "--department", "sbj", "--resource", city.conditional) == 2
    assert "NotAuthorized" in capsys.readouterr().err
    with sessions() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.operation.like("sharing.%"))
                            .order_by(AuditEntry.seq)).all()
    assert {e.channel for e in entries} == {"cli"}
    assert [(e.operation, e.user, e.result) for e in entries] == [
        ("sharing.apply", "mzj", "ok"), ("sharing.inbox", "gaj", "ok"),
        ("sharing.refuse", "gaj", "refused:InvalidRequest"), ("sharing.approve", "gaj", "ok"),
        ("sharing.view", "console", "ok"), ("sharing.view", "console", "refused:NotAuthorized")]
    assert entries[3].resource_code == city.conditional and entries[1].record_count == 1


def test_every_sharing_command_leaves_an_audit_entry(city, sessions, settings, capsys):
    commands = [
        ("sharing", "apply", "--user", "mzj", "--resource", city.conditional, "--purpose", "核查", "--until",
         "2099-06-30"),
        ("sharing", "applications", "--user", "mzj"),
        ("sharing", "withdraw", "--user", "mzj", "1"),
        ("sharing", "grant", "--user", "gaj", "--resource", city.conditional, "--to", "sbj", "--until", "2099-01-01"),
        ("sharing", "grants", "--user", "sbj"),
        ("sharing", "revoke", "--user", "gaj", "1", "--reason", "业务已办结"),
        ("sharing", "mask", "--user", "gaj", "--resource", city.unconditional, "name", "name"),
        ("sharing", "mask", "--user", "mzj", "--resource", city.unconditional),
    ]
    assert [_cli(sessions, settings, *argv) for argv in commands] == [0] * len(commands)
    out = capsys.readouterr().out
    assert "grant #1 to sbj" in out and "name\tname\trule" in out
    with sessions() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.operation.like("sharing.%"))
                            .order_by(AuditEntry.seq)).all()
    assert [(e.operation, e.channel, e.result) for e in entries] == [
        (name, "cli", "ok") for name in ("sharing.apply", "sharing.applications", "sharing.withdraw", "sharing.grant",
                                         "sharing.grants", "sharing.revoke", "sharing.mask", "sharing.masking",
                                         "sharing.masking")]


def test_a_command_refused_by_the_role_model_is_refused_and_recorded(city, sessions, settings, capsys):
    application = str(_apply(sessions, settings, city))
    assert _cli(sessions, settings, "sharing", "approve", "--user", "mzj", application) == 2
    assert capsys.readouterr().err.startswith("error: mzj may not inbox: it needs one of the roles")
    with sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.operation == "sharing.approve")).one()
    assert (entry.channel, entry.user, entry.result) == ("cli", "mzj", "refused:NotPermitted")
