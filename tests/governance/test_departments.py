"""部门目录 (governance.departments): what each department shares, counted from the catalogue and the grants in
force; which departments those grants join, shown only to the department's own people, administrators and
auditors."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from governance import departments, onboarding, sharing
from registry.db import unit_of_work
from registry.errors import NotFound
from registry.models import AuditEntry, CatalogueEntry
from tests.conftest import as_user

from .sharing_city import city_fixture, exchange_fixture  # noqa: F401 - fixtures


def _listed(sessions, settings, user="sbj", **kw) -> dict[str, departments.Listed]:
    return {d.code: d for d in departments.directory(as_user(sessions, settings, user), **kw)}


def test_each_department_is_listed_with_its_published_resources_by_sharing_type(city, sessions, settings):
    listed = _listed(sessions, settings)
    assert list(listed) == ["gaj", "mzj", "sbj"]
    gaj = listed["gaj"]
    assert (gaj.name, gaj.resources, gaj.mode_label, gaj.status_label) == ("临江市公安局", 3, "应用系统节点", "正常")
    assert gaj.by_type == {"有条件共享": 1, "无条件共享": 1, "不予共享": 1}
    assert gaj.modified is not None and (listed["mzj"].resources, listed["mzj"].modified) == (0, None)
    # a draft is not a shared resource: the directory counts what is published
    with unit_of_work(sessions) as s:
        s.execute(update(CatalogueEntry).where(CatalogueEntry.resource_code == city.not_shared)
                  .values(status="withdrawn"))
    assert _listed(sessions, settings)["gaj"].by_type == {"有条件共享": 1, "无条件共享": 1}


def test_the_directory_is_searched_by_every_word_in_the_name_or_code(city, sessions, settings):
    assert list(_listed(sessions, settings, text="公安")) == ["gaj"]
    assert list(_listed(sessions, settings, text="MZJ")) == ["mzj"]
    assert list(_listed(sessions, settings, text="临江市 社保")) == ["sbj"]
    assert list(_listed(sessions, settings, text="临江市 税务")) == []
    assert list(_listed(sessions, settings, text="%")) == []  # a wildcard is a character like any other


def test_sharing_is_counted_from_the_grants_in_force_between_two_departments(city, sessions, settings):
    grant = sharing.grant(as_user(sessions, settings, "gaj"), resource_code=city.conditional, consumer_code="mzj").id
    sharing.grant(as_user(sessions, settings, "gaj"), resource_code=city.conditional, consumer_code="sbj",
                  valid_to=date(2099, 12, 31))
    # two grants of one department to another count the pair once; a grant that has not begun counts nothing
    sharing.grant(as_user(sessions, settings, "gaj"), resource_code=city.unconditional, consumer_code="mzj")
    sharing.grant(as_user(sessions, settings, "gaj"), resource_code=city.conditional, consumer_code="mzj",
                  valid_from=date(2099, 1, 1))
    listed = _listed(sessions, settings)
    assert (listed["gaj"].provides_to, listed["gaj"].uses_from) == (2, 0)
    assert (listed["mzj"].provides_to, listed["mzj"].uses_from) == (0, 1)
    assert (listed["sbj"].provides_to, listed["sbj"].uses_from) == (0, 1)
    sharing.revoke(as_user(sessions, settings, "gaj"), grant_id=grant, reason="业务已办结")
    listed = _listed(sessions, settings)
    assert (listed["gaj"].provides_to, listed["mzj"].uses_from) == (2, 1)  # the other grant still joins them
    later = as_user(sessions, settings, "sbj", now=datetime(2100, 1, 2))
    assert {d.code: d.provides_to for d in departments.directory(later)}["gaj"] == 1  # sbj's ended in 2099


def test_a_department_page_has_its_contact_systems_latest_resources_and_facets(city, sessions, settings):
    onboarding.register_system(as_user(sessions, settings, "admin"), code="hukou", name="户籍管理系统",
                               department="gaj")
    with unit_of_work(sessions) as s:  # the unconditional resource changed last
        s.execute(update(CatalogueEntry).where(CatalogueEntry.resource_code == city.unconditional)
                  .values(modified=datetime.now() + timedelta(days=1)))
    page = departments.profile(as_user(sessions, settings, "sbj"), department="gaj")
    assert (page.code, page.name, page.resources, page.credit_code) == ("gaj", "临江市公安局", 3, city.codes["gaj"])
    assert page.systems == (("gaj.hukou", "户籍管理系统"),)
    assert [e.resource_code for e in page.recent][0] == city.unconditional and len(page.recent) == 3
    assert page.facets["classification"] == (("101", "101 人口", 3),)
    assert dict((v, n) for v, _label, n in page.facets["sharing_type"]) == {
        "有条件共享": 1, "无条件共享": 1, "不予共享": 1}
    assert page.partners is None and not page.own  # sbj is not 公安局's
    # by 统一社会信用代码 as well as by code
    assert departments.profile(as_user(sessions, settings, "sbj"), department=city.codes["mzj"]).code == "mzj"


def test_whom_a_department_shares_with_is_shown_to_its_people_admins_and_auditors(city, sessions, settings):
    sharing.grant(as_user(sessions, settings, "gaj"), resource_code=city.conditional, consumer_code="mzj")
    sharing.grant(as_user(sessions, settings, "gaj"), resource_code=city.unconditional, consumer_code="mzj")
    with unit_of_work(sessions) as s:
        from directory.accounts import create_user
        create_user(s, username="auditor", password="x", department=None, roles=("auditor",))
    for user in ("gaj", "gaj-consumer", "admin", "auditor"):
        partners = departments.profile(as_user(sessions, settings, user), department="gaj").partners
        assert partners is not None, user
        assert [(p.code, [code for code, _name in p.resources]) for p in partners.consumers] == [
            ("mzj", sorted([city.conditional, city.unconditional]))], user
        assert partners.providers == ()
    mine = departments.profile(as_user(sessions, settings, "mzj"), department="mzj")
    assert mine.own and [(p.code, p.name) for p in mine.partners.providers] == [("gaj", "临江市公安局")]
    for user in ("mzj", "sbj", "reviewer"):  # another department's people, a reviewer: the counts only
        page = departments.profile(as_user(sessions, settings, user), department="gaj")
        assert page.partners is None and page.provides_to == 1, user


def test_an_unknown_department_is_a_chinese_not_found_and_every_read_is_audited(city, sessions, settings):
    with pytest.raises(NotFound) as raised:
        departments.profile(as_user(sessions, settings, "sbj"), department="swj")
    assert raised.value.user_message == "没有代码或统一社会信用代码为 swj 的已登记部门。"
    departments.profile(as_user(sessions, settings, "sbj"), department="gaj")
    departments.directory(as_user(sessions, settings, "sbj"), text="公安")
    with sessions() as s:
        rows = s.execute(select(AuditEntry.operation, AuditEntry.user, AuditEntry.result, AuditEntry.detail,
                                AuditEntry.record_count)
                         .where(AuditEntry.operation.like("department.%")).order_by(AuditEntry.seq)).all()
    assert [(op, user, result) for op, user, result, _detail, _n in rows] == [
        ("department.profile", "sbj", "refused:UnknownDepartment"), ("department.profile", "sbj", "ok"),
        ("department.directory", "sbj", "ok")]
    assert rows[1].detail == "gaj" and (rows[2].detail, rows[2].record_count) == ("公安", 1)


def _activity(sessions, settings, user: str, department: str) -> list[tuple]:
    page = departments.profile(as_user(sessions, settings, user), department=department)
    return [(e.label, e.resource_code, e.linked, e.reason, e.other_code, e.gave) for e in page.activity]


def test_a_departments_activity_shows_others_its_publications_and_its_own_people_every_step(city, sessions,
                                                                                           settings):
    from directory.catalogue import workflow

    workflow.withdraw(as_user(sessions, settings, "gaj"), resource_code=city.not_shared, reason="停止提供")
    seen = _activity(sessions, settings, "sbj", "gaj")
    # another department: what changes what it sees - the withdrawal (with its reason, no longer a page it may
    # open) above the three publications
    assert seen == [("下架", city.not_shared, False, "停止提供", None, True),
                    ("发布", city.not_shared, False, "", None, True)] + [
        ("发布", code, True, "", None, True) for code in (city.unconditional, city.conditional)]
    own = _activity(sessions, settings, "gaj", "gaj")  # its own people: every step, the latest 12
    assert len(own) == departments.ACTIVITY and own[0][:2] == ("下架", city.not_shared)
    assert {label for label, *_ in own} >= {"发布", "审核通过", "提交审核"}
    assert all(linked for _l, _c, linked, *_ in own)
    assert _activity(sessions, settings, "reviewer", "gaj") == own  # the reviewers see every step too


def test_a_departments_grants_are_in_its_activity_for_those_who_see_its_partners(city, sessions, settings):
    gaj = as_user(sessions, settings, "gaj")
    given = sharing.grant(gaj, resource_code=city.conditional, consumer_code="mzj").id
    sharing.revoke(gaj.again(), grant_id=given, reason="业务已办结")
    assert _activity(sessions, settings, "gaj", "gaj")[:2] == [
        ("撤销授权", city.conditional, True, "业务已办结", "mzj", True),
        ("授权", city.conditional, True, "", "mzj", True)]
    assert _activity(sessions, settings, "mzj", "mzj")[:2] == [  # received: the other side's page
        ("撤销授权", city.conditional, True, "业务已办结", "gaj", False),
        ("授权", city.conditional, True, "", "gaj", False)]
    assert _activity(sessions, settings, "admin", "mzj")[0][0] == "撤销授权"
    # sbj, a reviewer: no grants between other departments
    for user in ("sbj", "reviewer"):
        assert not any(other for *_rest, other, _gave in _activity(sessions, settings, user, "gaj")), user
        assert _activity(sessions, settings, user, "mzj") == [], user
