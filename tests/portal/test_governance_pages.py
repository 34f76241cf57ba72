"""The governance pages over real HTTP (使用申请, 申请审批, 数据纠错, 考核, 工作台): every refusal and form
error a user meets is Chinese and says what to do in the portal, free text has limits, and each
form runs one action, recorded with channel ``portal``."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from directory.accounts import create_user
from registry.clock import china_date, china_midnight, utcnow
from registry.db import unit_of_work
from registry.models import AuditEntry, Department, SharingApplication, SharingGrant

from .conftest import PASSWORD


def _entries(sessions, operation: str) -> list[AuditEntry]:
    with sessions() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.operation == operation).order_by(AuditEntry.seq)))


def _flash(text: str) -> str:
    """The error the page flashes."""
    return html.unescape(text.split('class="flash error"')[1].split(">", 1)[1].split("</")[0])


def _applied(browser, city) -> tuple[object, str]:
    """mzj applied for 公安局's conditional resource: its browser and the application's number."""
    mzj = browser("mzj")
    r = mzj.post("/apply", {"code": city.conditional, "purpose": "婚姻登记核验户籍", "until": "2099-12-31"})
    assert "已提交" in r.text, r.text[:500]
    number = r.text.split('name="id" value="')[1].split('"')[0]
    return mzj, number


def test_a_department_without_a_grant_is_told_in_chinese_to_apply_in_the_portal(browser, city):
    mzj = browser("mzj")
    r = mzj.get(f"/resource?code={city.conditional}")
    assert "临江市民政局尚无读取资源「户籍人口基础信息」" in r.text and "点击「申请使用」提交使用申请" in r.text
    assert "govshare sharing apply" not in r.text and "has no grant" not in r.text
    _applied(browser, city)
    r = mzj.get(f"/resource?code={city.conditional}")
    assert "正等待提供方答复" in r.text and "「我的申请」" in r.text


def test_application_form_errors_are_chinese(browser, city):
    mzj = browser("mzj")
    r = mzj.post("/apply", {"code": city.conditional, "purpose": "", "until": "2099-12-31"})
    assert r.status_code == 422 and "请填写用途: 说明数据将用于哪项业务。" in r.text
    r = mzj.post("/apply", {"code": city.conditional, "purpose": "核验", "until": "2020-01-01"})
    assert r.status_code == 422 and "申请期限 2020-01-01 早于开始日期" in r.text
    r = mzj.post("/apply", {"code": city.conditional, "purpose": "核验", "until": "2099-12-31",
                            "fields": ["idNumber", "salary"]})
    assert r.status_code == 422 and "salary 不是资源「户籍人口基础信息」的字段" in r.text
    assert "required" not in r.text and "is before" not in r.text


def test_a_purpose_over_200_characters_is_refused_and_the_form_says_the_limit(browser, city, sessions):
    mzj = browser("mzj")
    form = mzj.get(f"/apply?code={city.conditional}").text
    assert 'maxlength="200"' in form and "200 字以内" in form
    r = mzj.post("/apply", {"code": city.conditional, "purpose": "用" * 201, "until": "2099-12-31"})
    assert r.status_code == 422 and "用途最多 200 个字 (现有 201 个)。" in r.text
    assert [e.result for e in _entries(sessions, "sharing.apply")] == ["refused:InvalidRequest"]


def test_another_departments_provider_cannot_refuse_and_is_told_so_in_chinese(browser, city, sessions):
    _mzj, number = _applied(browser, city)
    # mzj's staff (cataloguer, provider) answer applications for mzj's resources, not 公安局's
    r = browser("mzj").post("/inbox/decide", {"id": number, "decision": "refuse", "reason": "不符"})
    assert _flash(r.text) == (f"未能答复使用申请 #{number}: 资源「户籍人口基础信息」由临江市公安局提供, "
                              "只有该部门的提供方或目录管理员才能拒绝使用申请。")
    [entry] = _entries(sessions, "sharing.refuse")
    assert (entry.channel, entry.user, entry.result) == ("portal", "mzj", "refused:NotPermitted")
    r = browser("gaj").get("/inbox")
    assert "婚姻登记核验户籍" in r.text and "待答复" in r.text  # still waiting


def test_another_departments_consumer_cannot_withdraw_and_is_told_so_in_chinese(browser, city, sessions):
    _mzj, number = _applied(browser, city)
    with unit_of_work(sessions) as s:
        scj = s.scalar(select(Department).where(Department.code == "scjgj"))
        create_user(s, username="scj-consumer", password=PASSWORD, department=scj, roles=("consumer",))
    r = browser("scj-consumer").post("/applications/withdraw", {"id": number})
    assert _flash(r.text) == f"未能撤回: 使用申请 #{number} 是临江市民政局提交的, 只有申请部门才能撤回。"
    r = browser("mzj").post("/applications/withdraw", {"id": number})
    assert f"使用申请 #{number} 已撤回。" in r.text and "已撤回" in r.text
    assert [(e.channel, e.user, e.result) for e in _entries(sessions, "sharing.withdraw")] == [
        ("portal", "scj-consumer", "refused:NotPermitted"), ("portal", "mzj", "ok")]


def test_a_refusal_needs_a_reason_of_at_most_200_characters(browser, city, sessions):
    _mzj, number = _applied(browser, city)
    gaj = browser("gaj")
    assert "<td>全部字段</td>" in gaj.get("/inbox").text
    assert 'maxlength="200"' in gaj.get(f"/applications/{number}").text
    r = gaj.post("/inbox/decide", {"id": number, "decision": "refuse", "reason": ""})
    assert _flash(r.text) == f"未能答复使用申请 #{number}: 请填写拒绝理由。"
    r = gaj.post("/inbox/decide", {"id": number, "decision": "refuse", "reason": "理" * 201})
    assert _flash(r.text) == f"未能答复使用申请 #{number}: 拒绝理由最多 200 个字 (现有 201 个)。"
    r = gaj.post("/inbox/decide", {"id": number, "decision": "refuse", "reason": "用途与共享条件不符"})
    assert f"已拒绝使用申请 #{number}。" in r.text
    r = browser("mzj").get("/applications")
    assert "已拒绝" in r.text and "用途与共享条件不符" in r.text
    assert [e.result for e in _entries(sessions, "sharing.refuse")] == [
        "refused:InvalidRequest", "refused:InvalidRequest", "ok"]


def _checked(page: str, name: str) -> list[str]:
    """The values of the ticked checkboxes ``name`` of a page."""
    return [box.split('value="')[1].split('"')[0] for box in page.split('<input type="checkbox" name="')[1:]
            if box.startswith(f'{name}"') and " checked" in box.split(">")[0]]


def test_the_provider_approves_on_the_applications_page_narrowing_fields_and_period(browser, city, sessions):
    mzj, number = _applied(browser, city)  # every field, until 2099-12-31
    gaj = browser("gaj")
    inbox = gaj.get("/inbox").text
    assert f'href="/portal/applications/{number}">审批</a>' in inbox and 'value="approve"' not in inbox  # no one click
    page = gaj.get(f"/applications/{number}").text
    assert "婚姻登记核验户籍" in page and "全部字段" in page and 'name="until" type="date" value="2099-12-31"' in page
    every = _checked(page, "fields")
    assert every[:2] == ["idNumber", "name"] and "domicileAddress" in every  # all ticked, as asked
    assert "公民身份号码 <span class=\"hint\">(证件号脱敏)</span>" in page and _checked(page, "clear") == []

    def approve(**form):
        data = [("decision", "approve"), *((k, v) for k, vs in form.items() for v in ([vs] if isinstance(vs, str)
                                                                                      else vs))]
        return gaj.post(f"/applications/{number}/decide", data)

    r = approve(until="2030-12-31")
    assert r.status_code == 422 and "请至少勾选一个字段; 如不同意提供, 请填写理由并拒绝。" in r.text
    r = approve(fields=["idNumber", "name"], until="2100-01-01", clear=["idNumber"])
    assert r.status_code == 422 and "授权期限 2100-01-01 晚于申请的期限 2099-12-31。" in r.text
    assert (_checked(r.text, "fields"), _checked(r.text, "clear")) == (["idNumber", "name"], ["idNumber"])
    r = approve(fields=["idNumber"], until="2030-02-30")
    assert r.status_code == 422 and "授权期限 “2030-02-30” 不是有效的日期" in html.unescape(r.text)
    assert "待答复" in gaj.get(f"/applications/{number}").text  # nothing was decided

    r = approve(fields=["idNumber", "name"], until="2030-12-31", clear=["idNumber"])
    assert r.url.endswith("/portal/inbox") and "已同意使用申请" in r.text and "有效至 2030-12-31, 字段: 2 项" in r.text
    with sessions() as s:
        grant = s.scalars(select(SharingGrant).where(SharingGrant.application_id == int(number))).one()
        assert (grant.fields, grant.clear_fields, grant.valid_to) == (["idNumber", "name"], ["idNumber"],
                                                                      china_midnight(date(2031, 1, 1)))
    assert [(e.channel, e.user, e.result) for e in _entries(sessions, "sharing.approve")] == [
        ("portal", "gaj", "refused:InvalidRequest"), ("portal", "gaj", "ok")]  # the period past the one asked for

    page = mzj.get(f"/applications/{number}").text  # the applicant follows it: answered, nothing to decide
    assert "已同意" in page and 'id="approve"' not in page and "撤回申请" not in page
    assert mzj.post(f"/applications/{number}/decide", {"decision": "refuse", "reason": "x"}).status_code == 403
    with unit_of_work(sessions) as s:
        scj = s.scalars(select(Department).where(Department.code == "scjgj")).one()
        create_user(s, username="scj-consumer", password=PASSWORD, department=scj, roles=("consumer",))
    r = browser("scj-consumer").get(f"/applications/{number}")
    assert r.status_code == 403 and "只有这两个部门的经办人员才能查看" in r.text
    assert browser("gaj").get("/applications/99999").status_code == 404


def test_every_field_ticked_of_an_application_for_all_grants_all_and_a_refusal_needs_its_reason(browser, city,
                                                                                                 sessions):
    mzj, number = _applied(browser, city)
    page = mzj.get(f"/applications/{number}").text
    assert "撤回申请" in page and 'id="approve"' not in page  # the applicant's page
    gaj = browser("gaj")
    r = gaj.post(f"/applications/{number}/decide", {"decision": "refuse", "reason": " "})
    assert r.status_code == 422 and "请填写拒绝理由。" in r.text and 'id="err-reason"' in r.text
    every = _checked(gaj.get(f"/applications/{number}").text, "fields")
    r = gaj.post(f"/applications/{number}/decide", [("decision", "approve"), ("until", "2099-12-31"),
                                                     *(("fields", f) for f in every)])
    assert "有效至 2099-12-31。" in r.text
    with sessions() as s:
        grant = s.scalars(select(SharingGrant).where(SharingGrant.application_id == int(number))).one()
        assert (grant.fields, grant.clear_fields) == (None, [])  # all: fields added to the format later too


def test_an_application_answered_already_is_not_answered_again(browser, city):
    _mzj, number = _applied(browser, city)
    gaj = browser("gaj")
    assert "已同意使用申请" in gaj.post("/inbox/decide", {"id": number, "decision": "approve"}).text
    r = gaj.post("/inbox/decide", {"id": number, "decision": "refuse", "reason": "重复"})
    assert _flash(r.text) == f"未能答复使用申请 #{number}: 使用申请 #{number} 已同意, 只有待答复的申请可以答复。"


def test_correction_form_errors_are_chinese_beside_their_fields(browser, city, sessions):
    mzj = browser("mzj")
    r = mzj.post("/corrections/file", {"code": "", "key": "", "field": "", "problem": "", "proposed": ""})
    assert r.status_code == 422 and "没有资源代码为  的已发布资源。" in r.text
    person = city.public_people[0]["idNumber"]
    r = mzj.post("/corrections/file", {"code": city.unconditional, "key": person, "field": "salary",
                                       "problem": "有误", "proposed": ""})
    assert r.status_code == 422 and 'id="err-field"' in r.text
    assert "salary 不是资源「人口基本信息(公开项)」的字段; 可选字段: 公民身份号码、姓名" in r.text
    assert "{http://" not in r.text and "is not a field" not in r.text
    r = mzj.post("/corrections/file", {"code": city.unconditional, "key": person, "field": "name",
                                       "problem": "误" * 501, "proposed": ""})
    assert 'id="err-problem"' in r.text and "问题描述最多 500 个字 (现有 501 个)。" in r.text
    r = mzj.post("/corrections/file", {"code": city.conditional, "key": city.people[0]["idNumber"],
                                       "field": "name", "problem": "有误", "proposed": ""})
    assert "本部门不能读取资源「户籍人口基础信息」, 因此不能对它纠错" in r.text and "govshare sharing" not in r.text


def test_a_correction_is_shown_with_the_fields_chinese_name_and_answered_in_chinese(browser, city, sessions):
    mzj = browser("mzj")
    form = mzj.get(f"/corrections?code={city.unconditional}").text
    assert '<option value="domicileAddress">户籍地址</option>' in form  # the field is chosen by its name
    person = city.public_people[0]["idNumber"]
    r = mzj.post("/corrections/file", {"code": city.unconditional, "key": person, "field": "domicileAddress",
                                       "problem": "已迁至新区", "proposed": "临江市新区1号"})
    assert "纠错报告 #1 已提交, 临江市公安局须在 5 天内答复。" in r.text
    filed = r.text.split('id="correction-filed"')[1].split("</table>")[0]
    assert "<td>户籍地址</td>" in filed and "domicileAddress" not in filed
    gaj = browser("gaj")
    inbox = gaj.get("/corrections").text.split('id="correction-inbox"')[1].split("</table>")[0]
    assert "<td>户籍地址</td>" in inbox and "domicileAddress" not in inbox
    r = gaj.post("/corrections/answer", {"id": "1", "decision": "accept", "text": ""})
    assert _flash(r.text) == "未能答复纠错报告 #1: 采纳时请填写将如何更正。"
    r = browser("mzj").post("/corrections/answer", {"id": "1", "decision": "reject", "text": "不予更正"})
    assert _flash(r.text) == ("未能答复纠错报告 #1: 资源「人口基本信息(公开项)」由临江市公安局提供, "
                              "只有该部门的提供方或目录管理员才能答复纠错。")
    r = gaj.post("/corrections/answer", {"id": "1", "decision": "accept", "text": "下一批次更正户籍地址"})
    assert "纠错报告 #1 已答复 (已采纳)。" in r.text
    assert [(e.channel, e.user, e.result) for e in _entries(sessions, "correction.answer")] == [
        ("portal", "gaj", "refused:InvalidRequest"), ("portal", "mzj", "refused:NotPermitted"),
        ("portal", "gaj", "ok")]
    [filed_entry] = _entries(sessions, "correction.file")[-1:]
    assert (filed_entry.channel, filed_entry.resource_code) == ("portal", city.unconditional)


def test_the_home_page_counts_what_waits_for_the_department(browser, city, sessions):
    _applied(browser, city)
    home = browser("gaj").get("/").text
    assert "<strong>1</strong><span>使用申请待答复</span>" in home
    home = browser("mzj").get("/").text
    assert "<strong>1</strong><span>本部门申请等待答复</span>" in home
    assert {e.channel for e in _entries(sessions, "governance.todo")} == {"portal"}


def test_the_assessment_is_read_through_its_action(browser, city, sessions):
    r = browser("auditor").get("/assessment")
    assert r.status_code == 200 and "临江市公安局" in r.text
    assert browser("mzj").get("/assessment").status_code == 403
    [entry] = _entries(sessions, "assessment.report")
    assert (entry.channel, entry.user, entry.result) == ("portal", "auditor", "ok")


def _assessed(text: str) -> dict[str, list[str]]:
    """The 考核 table's rows: department code -> its cells' text."""
    body = text.split('<table id="assessment">')[1].split("</table>")[0]
    return {row.split('"', 1)[0]: [html.unescape(re.sub(r"<[^>]+>", "", c.split(">", 1)[1].split("</td>")[0])).strip()
                                    for c in row.split("<td")[1:]]
            for row in body.split('<tr data-department="')[1:]}


def test_the_assessment_ranks_departments_by_score_for_the_period_chosen_and_exports_it(browser, city, sessions):
    mzj, number = _applied(browser, city)
    auditor = browser("auditor")
    page = auditor.get("/assessment").text
    rows = _assessed(page)
    assert [(code, cells[0], cells[2]) for code, cells in rows.items()] == [
        ("gaj", "1", "100.0"), ("mzj", "1", "100.0"), ("scjgj", "1", "100.0"), ("sjj", "—", "不评分")]
    assert rows["gaj"][1:4] == ["临江市公安局", "100.0", "2"] and rows["gaj"][6] == "0/1"  # mzj's, not yet due
    assert "得分满分 100" in page and 'svg class="chart"' in page and "1. 临江市公安局" in page
    with unit_of_work(sessions) as s:  # mzj applied 40 days ago, and 公安局 let it run past its deadline
        application = s.get(SharingApplication, int(number))
        application.submitted_at -= timedelta(days=40)
        application.deadline -= timedelta(days=40)
    page = auditor.get("/assessment").text
    rows = _assessed(page)
    assert [(code, cells[0], cells[2]) for code, cells in rows.items()] == [  # (30 + 30 + 0) / 85; 1 overdue
        ("mzj", "1", "100.0"), ("scjgj", "1", "100.0"), ("gaj", "3", "70.6"), ("sjj", "—", "不评分")]
    assert rows["gaj"][8:10] == ["0.0%", "1"]
    month = (china_date(utcnow()) - timedelta(days=29)).isoformat()
    assert f'href="/portal/assessment?since={month}">近 30 天</a>' in page
    rows = _assessed(auditor.get(f"/assessment?since={month}").text)
    assert rows["gaj"][:3] == ["1", "临江市公安局", "100.0"] and rows["gaj"][6] == "0/0"  # filed before the period

    r = auditor.get("/assessment/export")
    assert r.status_code == 200 and r.headers["Content-Disposition"].endswith(
        f"filename=assessment-{china_date(utcnow()):%Y%m%d}.csv")
    assert r.content.startswith("\ufeff".encode())
    table = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [(t["部门"], t["得分"], t["排名"], t["申请逾期"]) for t in table] == [
        ("临江市民政局", "100.0", "1", "0"), ("临江市市场监督管理局", "100.0", "1", "0"),
        ("临江市公安局", "70.6", "3", "1"), ("临江市数据管理局", "", "", "0")]
    r = auditor.get(f"/assessment/export?since={month}")
    assert r.headers["Content-Disposition"].endswith(f"-since-{month.replace('-', '')}.csv")
    assert next(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))["得分"] == "100.0"
    assert {e.channel for e in _entries(sessions, "assessment.report")} == {"portal"}
    assert mzj.get("/assessment/export").status_code == 403


@pytest.mark.parametrize(("since", "said"), [("2026-13-45", "起始日期 “2026-13-45” 不是有效的日期, 请按 YYYY-MM-DD"),
                                             ("2999-01-01", "起始日期 2999-01-01 晚于今天")])
def test_an_assessment_period_that_is_not_one_is_a_chinese_form_error(browser, city, sessions, since, said):
    for path in ("/assessment", "/assessment/export"):
        r = browser("auditor").get(f"{path}?since={since}")
        assert r.status_code == 422 and said in html.unescape(r.text)
        assert '<table id="assessment">' not in r.text and 'id="export"' not in r.text
    assert _entries(sessions, "assessment.report") == []  # nothing was read
