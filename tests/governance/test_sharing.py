"""Sharing governance (S3): 共享为原则、不共享为例外, enforced on the exchange's one read path.

The enforcement tests go over real HTTP to /exchange; the application life cycle is
specified through the domain functions with explicit ``now`` instants.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date, datetime, timedelta

import pytest

import server
from directory.accounts import find_user
from governance import masking, sharing
from registry.clock import utcnow
from registry.db import unit_of_work
from registry.errors import ExchangeError, GovernanceError
from registry.models import CatalogueEntry, Department
from tests.conftest import as_user

from .sharing_city import P, changes, city_fixture, exchange_fixture, query, records_of  # noqa: F401 - fixtures

MASKED_ID = re.compile(r"^[1-9][0-9]{5}\*{8}[0-9]{3}[0-9X]$")
NOW = datetime(2026, 3, 2, 1, 0)  # 09:00 in China


def _act(sessions, action):
    with unit_of_work(sessions) as s:
        return action(s)


def _apply(sessions, settings, city, *, user="mzj", fields=None, until=date(2099, 12, 31), now=None, **kw):
    return sharing.apply(as_user(sessions, settings, user, now=now), resource_code=city.conditional,
                         purpose="低保资格核查", fields=fields, valid_to=until, **kw).id


def _approve(sessions, application_id, **kw):
    return _act(sessions, lambda s: sharing.approve(s, find_user(s, "gaj"), application_id, **kw).id)


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


def test_a_masking_rule_of_the_provider_overrides_the_defaults(exchange, city, sessions):
    _act(sessions, lambda s: sharing.set_masking(s, find_user(s, "gaj"), city.unconditional, "name", "name"))
    _act(sessions, lambda s: sharing.set_masking(s, find_user(s, "gaj"), city.unconditional, "idNumber", "none"))
    records = records_of(query(exchange, city, "mzj", city.unconditional))
    assert sorted(r["idNumber"] for r in records) == _id_numbers(city, city.unconditional)
    assert {r["name"] for r in records} == {masking.mask_name(p.findtext(P + "name"))
                                            for p in city.people[city.unconditional]}


def test_only_the_provider_sets_masking_rules(city, sessions):
    with pytest.raises(GovernanceError, match="mzj may not set the masking of"):
        _act(sessions, lambda s: sharing.set_masking(s, find_user(s, "mzj"), city.unconditional, "name", "none"))


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
        _act(sessions, lambda s: sharing.grant(s, find_user(s, "gaj"), city.not_shared, "mzj"))


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


def test_a_pending_application_is_named_in_the_refusal(exchange, city, sessions, settings):
    application = _apply(sessions, settings, city)
    reply = query(exchange, city, "mzj", city.conditional)
    assert reply.code == "NotAuthorized"
    assert f"application #{application} awaits the provider's answer" in reply.fault


def test_an_approved_application_serves_the_granted_fields_only(exchange, city, sessions, settings):
    _approve(sessions, _apply(sessions, settings, city, fields=["idNumber", "姓名"]))
    reply = query(exchange, city, "mzj", city.conditional)
    assert reply.status == 200, reply.fault
    records = records_of(reply)
    assert len(records) == 3 and all(set(r) == {"idNumber", "name"} for r in records)
    assert all(MASKED_ID.match(r["idNumber"]) for r in records)
    assert query(exchange, city, "sbj", city.conditional).code == "NotAuthorized"  # the grant is mzj's alone


def test_a_filter_on_a_field_not_granted_is_refused(exchange, city, sessions, settings):
    _approve(sessions, _apply(sessions, settings, city, fields=["idNumber", "name"]))
    reply = query(exchange, city, "mzj", city.conditional, "<ex:filter><ex:field>sex</ex:field>"
                  "<ex:operator>eq</ex:operator><ex:value>1</ex:value></ex:filter>")
    assert reply.code == "InvalidRequest" and "field sex is not visible" in reply.fault


def test_the_approval_may_narrow_the_fields_and_show_some_unmasked(exchange, city, sessions, settings):
    application = _apply(sessions, settings, city, fields=["idNumber", "name", "domicileAddress"])
    _approve(sessions, application, fields=["idNumber", "name"], clear=["idNumber"])
    records = records_of(query(exchange, city, "mzj", city.conditional))
    assert all(set(r) == {"idNumber", "name"} for r in records)
    assert sorted(r["idNumber"] for r in records) == _id_numbers(city, city.conditional)


def test_the_approval_may_not_widen_the_fields(city, sessions, settings):
    application = _apply(sessions, settings, city, fields=["name"])
    with pytest.raises(GovernanceError, match="sex were not applied for") as caught:
        _approve(sessions, application, fields=["name", "sex"])
    assert caught.value.field == "fields"


def test_unknown_fields_are_refused_naming_the_formats_fields(city, sessions, settings):
    with pytest.raises(GovernanceError, match="fields: salary not in .* its fields: idNumber, name"):
        _apply(sessions, settings, city, fields=["name", "salary"])


def test_a_grant_stops_serving_after_its_period(exchange, city, sessions, settings):
    then = utcnow() - timedelta(days=40)
    last_day = sharing.china_date(then) + timedelta(days=9)
    application = _apply(sessions, settings, city, until=last_day, now=then)
    _approve(sessions, application, now=then + timedelta(hours=2))
    reply = query(exchange, city, "mzj", city.conditional)
    assert reply.code == "NotAuthorized"
    assert "expired after " + last_day.isoformat() in reply.fault
    with unit_of_work(sessions) as s:  # and it served within the period
        mzj = s.query(Department).filter_by(code="mzj").one()
        entry = s.query(CatalogueEntry).filter_by(resource_code=city.conditional).one()
        assert sharing.authorize(s, mzj, entry, at=then + timedelta(days=3)).basis == "grant"


def test_a_revoked_grant_stops_serving(exchange, city, sessions, settings):
    grant = _approve(sessions, _apply(sessions, settings, city))
    assert query(exchange, city, "mzj", city.conditional).status == 200
    _act(sessions, lambda s: sharing.revoke(s, find_user(s, "gaj"), grant, "业务已办结"))
    reply = query(exchange, city, "mzj", city.conditional)
    assert reply.code == "NotAuthorized"
    assert f"grant #{grant} was revoked" in reply.fault and "业务已办结" in reply.fault


def test_a_revocation_needs_a_reason(city, sessions, settings):
    grant = _approve(sessions, _apply(sessions, settings, city))
    with pytest.raises(GovernanceError, match="^reason: required to revoke a grant$"):
        _act(sessions, lambda s: sharing.revoke(s, find_user(s, "gaj"), grant, "  "))


# --------------------------------------------------------------------------- the application life cycle


def test_the_deadline_is_the_configured_number_of_calendar_days(city, sessions, settings):
    short = dataclasses.replace(settings, application_days=3)
    application = _apply(sessions, short, city, now=NOW)
    with sessions() as s:
        assert s.get(sharing.SharingApplication, application).deadline == NOW + timedelta(days=3)


def test_an_application_unanswered_past_its_deadline_is_flagged_overdue(city, sessions, settings):
    application = _apply(sessions, settings, city, now=NOW)
    with unit_of_work(sessions) as s:
        gaj = find_user(s, "gaj")
        [before] = sharing.inbox(s, gaj, now=NOW + timedelta(days=10))
        [after] = sharing.inbox(s, gaj, now=NOW + timedelta(days=10, seconds=1))
        assert before.id == after.id == application
        assert not sharing.is_overdue(before, NOW + timedelta(days=10))
        assert sharing.is_overdue(after, NOW + timedelta(days=10, seconds=1))


def test_a_refusal_without_a_reason_is_refused_naming_the_field(city, sessions, settings):
    application = _apply(sessions, settings, city)
    with pytest.raises(GovernanceError) as caught:
        _act(sessions, lambda s: sharing.refuse(s, find_user(s, "gaj"), application, ""))
    assert str(caught.value) == "reason: required to refuse an application"
    assert caught.value.field == "reason"


def test_a_refused_application_records_who_when_and_why(city, sessions, settings):
    application = _apply(sessions, settings, city, now=NOW)
    _act(sessions, lambda s: sharing.refuse(s, find_user(s, "gaj"), application, "用途与共享条件不符",
                                               now=NOW + timedelta(days=1)))
    with sessions() as s:
        refused = s.get(sharing.SharingApplication, application)
        assert (refused.status, refused.decided_by, refused.decided_at, refused.reason) == (
            "refused", "gaj", NOW + timedelta(days=1), "用途与共享条件不符")


def test_only_the_provider_decides(city, sessions, settings):
    application = _apply(sessions, settings, city)
    with pytest.raises(GovernanceError, match="sbj may not approve applications for"):
        _act(sessions, lambda s: sharing.approve(s, find_user(s, "sbj"), application))
    assert _act(sessions, lambda s: sharing.approve(s, find_user(s, "admin"), application).source) == \
        "application"


def test_the_consumer_withdraws_its_own_application(city, sessions, settings):
    application = _apply(sessions, settings, city)
    with pytest.raises(GovernanceError, match="may not withdraw"):
        _act(sessions, lambda s: sharing.withdraw(s, find_user(s, "sbj"), application))
    assert _act(sessions, lambda s: sharing.withdraw(s, find_user(s, "mzj"), application).status) == "withdrawn"
    with pytest.raises(GovernanceError, match="is withdrawn; only a submitted one can be approved"):
        _approve(sessions, application)


def test_an_application_unanswered_when_its_period_ends_expires(city, sessions, settings):
    application = _apply(sessions, settings, city, until=date(2026, 3, 31), now=NOW)
    with pytest.raises(GovernanceError, match=r"is expired \(its period ended on 2026-03-31\)"):
        _approve(sessions, application, now=datetime(2026, 4, 1, 0, 0))


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
