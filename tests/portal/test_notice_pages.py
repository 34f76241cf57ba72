"""消息 over real HTTP: the header counts a person's unread 站内消息 on every page, 消息 lists them, a click
opens what a notice is about and marks it read, and 全部标为已读 clears them; another person's notice is a
404, as if there were none."""

from __future__ import annotations

import re

from sqlalchemy import delete, select

from registry.db import unit_of_work
from registry.models import Notice


def _badge(page: str) -> str | None:
    found = re.search(r'id="notices-link">消息(?: <span class="badge unread"[^>]*>(\d+)</span>)?</a>', page)
    assert found, "no 消息 link in the header"
    return found.group(1)


def _quiet(sessions) -> None:
    """The city's catalogue was built through the workflow, which told its reviewers: start from none."""
    with unit_of_work(sessions) as s:
        s.execute(delete(Notice))


def test_an_application_is_a_notice_for_the_provider_that_leads_to_the_application(browser, city, sessions):
    _quiet(sessions)
    gaj = browser("gaj")
    assert _badge(gaj.get("/").text) is None
    mzj = browser("mzj")
    r = mzj.post("/apply", {"code": city.conditional, "purpose": "婚姻登记核验户籍", "until": "2099-12-31"})
    number = r.text.split('name="id" value="')[1].split('"')[0]
    home = gaj.get("/").text
    assert _badge(home) == "1" and '<strong>1</strong><span>条未读消息</span>' in home
    listed = gaj.get("/notices").text
    row = listed.split('<tr id="notice-')[1].split("</tr>")[0]
    assert f"临江市民政局申请使用「户籍人口基础信息」(使用申请 #{number})" in row and "未读" in row
    notice = row.split('"')[0]
    opened = gaj.get(f"/notices/{notice}", allow_redirects=False)
    assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/portal/applications/{number}")
    assert _badge(gaj.get("/notices").text) is None
    # mzj has a 消息 link but no notice of gaj's
    assert mzj.get(f"/notices/{notice}").status_code == 404
    assert "没有编号为" in mzj.get(f"/notices/{notice}").text


def test_the_answer_is_a_notice_for_the_applicant_and_all_can_be_marked_read(browser, city, sessions):
    mzj = browser("mzj")
    r = mzj.post("/apply", {"code": city.conditional, "purpose": "婚姻登记核验户籍", "until": "2099-12-31"})
    number = r.text.split('name="id" value="')[1].split('"')[0]
    _quiet(sessions)
    gaj = browser("gaj")
    gaj.get(f"/applications/{number}")
    r = gaj.post(f"/applications/{number}/decide", {"decision": "refuse", "reason": "用途与资源不符"})
    assert r.status_code == 200, r.text[:300]
    listed = mzj.get("/notices", params={"show": "unread"}).text
    assert _badge(listed) == "1" and f"拒绝了本部门对「户籍人口基础信息」的使用申请 #{number}: 用途与资源不符" in listed
    r = mzj.post("/notices/read", {})
    assert "已将 1 条消息标为已读。" in r.text and _badge(r.text) is None
    assert "没有未读消息。" in mzj.get("/notices", params={"show": "unread"}).text
    with sessions() as s:
        assert s.scalar(select(Notice.read_at).where(Notice.ref == number)) is not None
    r = mzj.post("/notices/read", {}, csrf=False)
    assert r.status_code == 400  # a form from elsewhere clears nothing


def test_a_reminder_leads_to_what_it_is_about(browser, city, sessions, settings):
    from datetime import timedelta

    from governance.reminders import remind
    from registry.models import SharingApplication

    mzj = browser("mzj")
    r = mzj.post("/apply", {"code": city.conditional, "purpose": "婚姻登记核验户籍", "until": "2099-12-31"})
    number = r.text.split('name="id" value="')[1].split('"')[0]
    _quiet(sessions)
    with sessions() as s:
        deadline = s.get(SharingApplication, int(number)).deadline
    remind(sessions, settings, now=deadline - timedelta(hours=3))  # near: 到期提醒 to gaj
    remind(sessions, settings, now=deadline + timedelta(hours=1))  # past: 告警 to gaj and the admin
    gaj = browser("gaj")
    listed = gaj.get("/notices").text
    assert _badge(listed) == "2" and "到期提醒" in listed and "告警 (使用申请逾期未答复)" in listed
    ids = re.findall(r'<tr id="notice-(\d+)"', listed)
    leads = {gaj.get(f"/notices/{n}", allow_redirects=False).headers["Location"] for n in ids}
    assert {link.split("/portal")[1] for link in leads} == {f"/applications/{number}"}
    admin = browser("admin")  # the admin's notice of the alert leads to the application too
    [alert] = re.findall(r'<tr id="notice-(\d+)"', admin.get("/notices").text)
    assert admin.get(f"/notices/{alert}", allow_redirects=False).headers["Location"].endswith(
        f"/portal/applications/{number}")
    # any other alert leads to 告警
    with unit_of_work(sessions) as s:
        s.get(Notice, int(alert)).ref = "adapter:0123456789abcdef"
    assert admin.get(f"/notices/{alert}", allow_redirects=False).headers["Location"].endswith("/portal/alerts")


def test_a_notice_quoting_a_persons_words_shows_them_as_text(browser, city, sessions):
    mzj = browser("mzj")
    r = mzj.post("/apply", {"code": city.conditional, "purpose": "婚姻登记核验户籍", "until": "2099-12-31"})
    number = r.text.split('name="id" value="')[1].split('"')[0]
    gaj = browser("gaj")
    gaj.get(f"/applications/{number}")
    gaj.post(f"/applications/{number}/decide", {"decision": "refuse", "reason": "<script>alert(1)</script>"})
    listed = mzj.get("/notices").text
    assert "<script>alert(1)</script>" not in listed and "&lt;script&gt;alert(1)&lt;/script&gt;" in listed


def test_notices_beyond_a_page_are_paged(browser, city, sessions):
    from registry.clock import utcnow
    from registry.models import User
    from trust.notices import PAGE_SIZE

    _quiet(sessions)
    with unit_of_work(sessions) as s:
        gaj = s.scalar(select(User.id).where(User.username == "gaj"))
        s.add_all(Notice(user_id=gaj, subject="entry", ref=city.conditional, text=f"通知 {n}", actor="reviewer",
                         created=utcnow()) for n in range(PAGE_SIZE + 5))
    b = browser("gaj")
    first = b.get("/notices")
    assert first.status_code == 200 and "第 1 / 2 页" in first.text and f"通知 {PAGE_SIZE + 4}<" in first.text
    second = b.get("/notices", params={"page": 2})
    assert second.status_code == 200 and "通知 0<" in second.text
    assert len(re.findall(r'<tr id="notice-', second.text)) == 5


def test_each_kind_of_notice_leads_each_reader_to_a_page_they_may_open(browser, city, sessions):
    """Who is told of a 登记申请, a certificate, a suspension or a resource's withdrawal is led where they act
    or read about it - the security administrator to the requests to decide, the department to its own."""
    from directory.accounts import create_user
    from registry.clock import utcnow
    from registry.models import User

    from .conftest import PASSWORD

    _quiet(sessions)
    with unit_of_work(sessions) as s:
        create_user(s, username="security", password=PASSWORD, department=None, roles=("security",))
    serial = "3f" * 20
    cases = [("gaj", "resource", city.conditional, f"/resource?code={city.conditional}"),
             ("admin", "registration", "5", "/registrations"), ("gaj", "registration", "5", "/org"),
             ("security", "account", "wjw", "/users"),
             ("security", "certificate", "3", "/certificates/admin"), ("gaj", "certificate", "3", "/certificates"),
             ("gaj", "alert", f"certificate:{serial}", "/certificates"),
             ("auditor", "alert", f"certificate:{serial}", "/alerts"),
             ("gaj", "access", "gaj.hukou", "/systems"), ("gaj", "access", "gaj", "/org/gaj")]
    with unit_of_work(sessions) as s:
        ids = {s.scalar(select(User.id).where(User.username == who)): who for who, *_ in cases}
        rows = [Notice(user_id=next(i for i, w in ids.items() if w == who), subject=subject, ref=ref, text="x",
                       actor="platform", created=utcnow()) for who, subject, ref, _ in cases]
        s.add_all(rows)
        s.flush()
        numbers = [row.id for row in rows]
    readers = {who: browser(who) for who in {who for who, *_ in cases}}
    for (who, subject, ref, path), number in zip(cases, numbers, strict=True):
        opened = readers[who].get(f"/notices/{number}", allow_redirects=False)
        assert opened.headers["Location"].split("/portal", 1)[1] == path, (who, subject, ref)
        assert readers[who].get(f"/notices/{number}").status_code == 200, (who, subject, ref)


def test_notices_of_several_kinds_are_filtered_by_kind(browser, city, sessions):
    _quiet(sessions)
    mzj = browser("mzj")
    r = mzj.post("/apply", {"code": city.conditional, "purpose": "婚姻登记核验户籍", "until": "2099-12-31"})
    number = r.text.split('name="id" value="')[1].split('"')[0]
    gaj = browser("gaj")
    assert "notice-kinds" not in gaj.get("/notices").text  # one 类别 only: no filter
    from registry.clock import utcnow
    from registry.models import User

    with unit_of_work(sessions) as s:  # a resource of gaj's was withdrawn and published again, say
        s.add(Notice(user_id=s.scalar(select(User.id).where(User.username == "gaj")), subject="resource",
                     ref=city.conditional, text="「户籍人口基础信息」已重新发布", actor="reviewer", created=utcnow()))
    page = gaj.get("/notices").text
    kinds = re.sub(r"<[^>]+>", "", page.split('id="notice-kinds">')[1].split("</p>")[0])
    assert " ".join(kinds.split()) == "类别: 全部 · 使用申请 (1) · 资源变更 (1)"
    only = gaj.get("/notices", params={"kind": "resource"}).text
    assert "已重新发布" in only and f"使用申请 #{number}" not in only
    bad = gaj.get("/notices", params={"kind": "nonsense"})
    assert bad.status_code == 400 and "没有这一类消息。" in bad.text
