"""The portal over real HTTP: login, CSRF, session expiry, roles, search with facets, forms
with inline errors, 使用申请, unified query with lineage, audit."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

import pytest
from lxml import etree
from sqlalchemy import select, update

from registry.clock import utcnow
from registry.db import unit_of_work
from registry.models import AuditEntry, CatalogueEntry


def test_login_with_wrong_password_is_refused_and_recorded(browser, city, sessions):
    b = browser()
    r = b.login("mzj", "wrong")
    assert r.status_code == 200 and "用户名或密码错误" in r.text and "退出" not in r.text
    with sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.operation == "portal.login")).one()
    assert entry.result == "refused:BadCredentials" and entry.user == "mzj"


def test_pages_need_a_signed_in_user(browser, city):
    r = browser().get("/catalogue", allow_redirects=False)
    assert r.status_code == 302 and "/portal/login" in r.headers["Location"]


def test_logout_ends_the_session(browser, city):
    b = browser("mzj")
    assert b.post("/logout", {}).status_code == 200
    assert b.get("/catalogue", allow_redirects=False).status_code == 302


def test_post_without_csrf_token_is_refused(browser, city):
    b = browser("gaj")
    r = b.post("/resource/action", {"code": city.conditional, "action": "withdraw", "reason": "x"}, csrf=False)
    assert r.status_code == 400 and "CSRF" in r.text
    r = b.post("/resource/action", [("code", city.conditional), ("action", "withdraw"), ("reason", "x"),
                                    ("csrf_token", "forged")], csrf=False)
    assert r.status_code == 400
    assert "已发布" in b.get(f"/resource?code={city.conditional}").text  # nothing changed


def test_login_form_needs_csrf_token_too(browser, city):
    b = browser()
    r = b.post("/login", {"username": "mzj", "password": "pw"}, csrf=False)
    assert r.status_code == 400


def test_idle_session_expires(monkeypatch, request, city):
    monkeypatch.setenv("GOVSHARE_PORTAL_SESSION_MINUTES", "0.02")  # 1.2 s
    from tests.portal.conftest import Browser

    server = request.getfixturevalue("live_server")
    b = Browser(server.url)
    b.login("mzj")
    assert b.get("/catalogue", allow_redirects=False).status_code == 200
    time.sleep(1.5)
    r = b.get("/catalogue")
    assert "会话已过期" in r.text and "用户登录" in r.text


def test_consumer_cannot_review_or_audit(browser, city):
    b = browser("mzj")
    assert b.get("/review").status_code == 403
    assert b.get("/audit").status_code == 403
    r = b.post("/resource/action", {"code": city.conditional, "action": "withdraw", "reason": "不需要了"})
    assert "操作未完成" in r.text  # the workflow refuses another department's withdrawal
    home = b.get("/").text
    assert 'href="/portal/query"' in home and 'href="/portal/review"' not in home and 'href="/portal/audit"' not in home


def test_auditor_navigation_has_audit_and_no_cataloguing(browser, city):
    home = browser("auditor").get("/").text
    assert 'href="/portal/audit"' in home and 'href="/portal/catalogue/new"' not in home
    assert 'href="/portal/query"' not in home


def test_search_matches_chinese_substrings_and_counts_facets(browser, city):
    b = browser("mzj")
    r = b.get("/catalogue", params={"q": "户籍"})
    assert "共 1 条资源" in r.text and "<mark>户籍</mark>人口基础信息" in r.text
    r = b.get("/catalogue", params={"q": "人口 信息"})
    assert "共 2 条资源" in r.text and "<mark>人口</mark>基本<mark>信息</mark>(公开项)" in r.text  # every word
    r = b.get("/catalogue", params={"sharing_type": "无条件共享"})
    assert "共 2 条资源" in r.text and "企业登记信息" in r.text and "户籍人口基础信息" not in r.text
    # the sharing-type facet still offers the other value, counted without its own choice
    assert "有条件共享 <span class=\"count\">2</span>" in r.text
    r = b.get("/catalogue", params={"provider": "gaj", "sharing_type": "无条件共享"})
    assert "共 1 条资源" in r.text and "人口基本信息(公开项)" in r.text


def _names(page: str) -> list[str]:
    """The entries' names on a search page, in their order (marks taken out)."""
    return [h.split('">', 1)[1].split("</a>")[0].replace("<mark>", "").replace("</mark>", "")
            for h in page.split('<article class="result">')[1:]]


def test_search_orders_by_code_or_latest_change_marks_the_words_and_clears(browser, city, sessions):
    b = browser("mzj")
    by_code = _names(b.get("/catalogue").text)
    assert len(by_code) == 4 and 'id="clear-search"' not in b.get("/catalogue").text  # nothing to clear
    with unit_of_work(sessions) as s:  # 企业登记信息 changed last
        s.execute(update(CatalogueEntry).where(CatalogueEntry.resource_code == city.enterprise)
                  .values(modified=datetime(2099, 1, 1)))
    latest = b.get("/catalogue", params={"sort": "modified"}).text
    assert _names(latest)[0] == "企业登记信息" and "<strong>最近更新</strong>" in latest
    assert _names(b.get("/catalogue", params={"sort": "code"}).text) == by_code
    r = b.get("/catalogue", params={"q": "户籍", "sharing_type": "有条件共享", "sort": "modified"})
    assert "<mark>户籍</mark>人口基础信息" in r.text
    assert 'name="sort" value="modified"' in r.text  # a new search keeps the order
    assert 'id="clear-search" href="/portal/catalogue?sort=modified">清除全部条件</a>' in r.text
    r = b.get("/catalogue", params={"sort": "name"})
    assert r.status_code == 400 and "排序方式只能是相关度、资源代码、最近更新。" in r.text
    r = browser().get("/open", params={"q": "企业", "sort": "modified"})  # the open catalogue alike
    assert "<mark>企业</mark>登记信息" in r.text and "<strong>最近更新</strong>" in r.text


def test_a_search_with_words_lists_the_best_match_first_and_may_be_ordered_by_code(browser, city):
    b = browser("mzj")
    assert "相关度" not in b.get("/catalogue").text  # no words, nothing to be relevant to
    r = b.get("/catalogue", params={"q": "人口"})  # 人口基本信息 begins with it; 户籍人口基础信息 has it inside
    assert _names(r.text) == ["人口基本信息(公开项)", "户籍人口基础信息"] and "<strong>相关度</strong>" in r.text
    assert 'id="clear-search" href="/portal/catalogue">' in r.text
    by_code = b.get("/catalogue", params={"q": "人口", "sort": "code"}).text
    assert _names(by_code) == ["户籍人口基础信息", "人口基本信息(公开项)"] and "<strong>资源代码</strong>" in by_code


def test_search_paginates(monkeypatch, request, city):
    monkeypatch.setenv("GOVSHARE_PORTAL_PAGE_SIZE", "3")
    from tests.portal.conftest import Browser

    b = Browser(request.getfixturevalue("live_server").url)
    b.login("mzj")
    first = b.get("/catalogue")
    assert "共 4 条资源" in first.text and "第 1 / 2 页" in first.text and "下一页" in first.text
    second = b.get("/catalogue", params={"page": 2})
    assert "第 2 / 2 页" in second.text and second.text.count('class="result"') == 1


def test_detail_shows_metadata_wsdl_sample_and_why(browser, city):
    b = browser("mzj")
    r = b.get(f"/resource?code={city.conditional}")
    assert "不能读取" in r.text and "申请使用" in r.text
    assert "<ex:resourceCode>" + city.conditional in r.text.replace("&lt;", "<").replace("&gt;", ">")
    r = b.get(f"/resource?code={city.unconditional}")
    assert "无条件共享: 所有已注册部门均可读取" in r.text and "证件号脱敏" in r.text


def test_entry_form_shows_field_errors_inline(browser, city):
    b = browser("gaj")
    r = b.post("/catalogue/new", {"classification": "101001002", "name": "", "abstract": "摘要",
                                  "format_class": "接口", "format_type": "WebService", "sharing_type": "有条件共享",
                                  "sharing_method": "接口", "update_cycle": "每日", "open_to_public": "否",
                                  "item_name": "姓名", "item_type": "C", "item_length": ""})
    assert r.status_code == 422
    assert 'id="err-name"' in r.text and "必填" in r.text
    assert 'id="err-sharing_condition"' in r.text
    assert 'id="err-items-1-length"' in r.text


def test_cataloguer_creates_submits_and_reviewer_publishes(browser, city):
    b = browser("gaj")
    r = b.post("/catalogue/new", {"classification": "101001001", "name": "公民身份核验信息", "abstract": "身份核验",
                                  "format_class": "接口", "format_type": "WebService", "sharing_type": "无条件共享",
                                  "sharing_method": "接口", "update_cycle": "实时", "open_to_public": "否",
                                  "provider_unit": "人口管理支队", "access_point": "http://10.1.2.3/identity",
                                  "item_name": "公民身份号码", "item_type": "C", "item_length": "18"})
    assert r.status_code == 200 and "草稿" in r.text
    code = r.url.split("code=")[1].replace("%2F", "/")
    r = b.post("/resource/action", {"code": code, "action": "submit"})
    assert "待审核" in r.text
    reviewer = browser("reviewer")
    r = reviewer.post("/resource/action", {"code": code, "action": "refuse", "reason": ""})
    assert "请填写理由" in r.text
    reviewer.post("/resource/action", {"code": code, "action": "approve"})
    r = reviewer.post("/resource/action", {"code": code, "action": "publish"})
    assert "当前状态: 已发布" in r.text


def test_apply_approve_then_unified_query_shows_sources_and_lineage(browser, city, sessions):
    consumer = browser("scjgj")  # a cataloguer only: may not apply
    assert consumer.get(f"/apply?code={city.conditional}").status_code == 403
    mzj = browser("mzj")
    r = mzj.post("/apply", {"code": city.conditional, "purpose": "", "until": "2099-12-31"})
    assert r.status_code == 422 and 'id="err-purpose"' in r.text
    r = mzj.post("/apply", {"code": city.conditional, "purpose": "婚姻登记核验户籍", "until": "2099-12-31"})
    assert "已提交" in r.text
    gaj = browser("gaj")
    r = gaj.get("/inbox")
    assert "婚姻登记核验户籍" in r.text
    number = r.text.split('href="/portal/applications/')[1].split('"')[0]
    r = gaj.post("/inbox/decide", {"id": number, "decision": "refuse", "reason": ""})
    assert "请填写拒绝理由" in r.text
    r = gaj.post("/inbox/decide", {"id": number, "decision": "approve"})
    assert "已同意" in r.text
    person = city.people[0]
    r = mzj.post("/query", {"key": person["idNumber"], "purpose": "核验婚姻登记当事人"})
    assert r.status_code == 200, r.text[:300]
    # 民政局's batch changed nothing in the core (公安局's values stand), but its resource holds the person
    assert "2 个资源有记录" in r.text
    row = r.text.split('data-field="domicileAddress"')[1].split("</tr>")[0]
    assert person["domicileAddress"] in row and "临江市公安局" in row  # 公安局's value kept (priority 100)
    assert "临江市滨江区民政路1号" in row and "临江市民政局" in row  # 民政局's value as lineage
    with sessions() as s:
        [query] = s.scalars(select(AuditEntry).where(AuditEntry.operation == "exchange.unified_query")).all()
        reads = s.scalars(select(AuditEntry).where(AuditEntry.operation == "exchange.query_records")).all()
    assert (query.result, query.record_count, query.user, query.channel) == ("ok", 2, "mzj", "portal")
    # each resource the department may read is read as QueryRecords reads it, one entry each
    assert {e.resource_code for e in reads} == {city.conditional, city.unconditional, city.marriage}
    assert sum(e.record_count for e in reads) == 2
    assert all((e.purpose, e.department_code, e.user, e.channel, e.result) == (
        "核验婚姻登记当事人", "mzj", "mzj", "portal", "ok") for e in reads)


def test_unified_query_masks_what_governance_masks(browser, city):
    person = city.public_people[1]["idNumber"]
    r = browser("admin").post("/query", {"key": person, "purpose": "抽查"})
    row = r.text.split('data-field="idNumber"')[1].split("</tr>")[0]
    assert person[:6] + "********" + person[-4:] in row and person not in row  # 无条件共享: masked
    assert "户籍人口基础信息" in r.text.split("无权读取的资源")[1]


def test_unified_query_finds_enterprises_and_refuses_bad_keys(browser, city):
    b = browser("mzj")
    company = city.enterprises[0]
    r = b.post("/query", {"key": company["creditCode"], "purpose": "核验企业"})
    assert "统一社会信用代码" in r.text and company["name"] in r.text
    # its printed sheet (查询结果单) says who asked, when in China time, why, and that it holds enterprise data
    head = r.text.split('id="print-head">')[1].split("</div>")[0]
    asked = re.search(r"查询时间: (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) \(北京时间\)", head).group(1)
    assert abs(datetime.strptime(asked, "%Y-%m-%d %H:%M:%S") - (utcnow() + timedelta(hours=8))) < timedelta(minutes=1)
    assert "查询人: mzj (临江市民政局)" in head and "查询事由: 核验企业" in head and "本结果单含法人信息" in head
    r = b.post("/query", {"key": "ABC-not-a-key", "purpose": "x"})
    assert r.status_code == 422 and 'id="err-key"' in r.text


def _error(page: str, name: str) -> str:
    return page.split(f'id="err-{name}">')[1].split("</p>")[0]


def test_unified_query_form_errors_are_chinese(browser, city):
    b = browser("mzj")
    person = city.people[0]["idNumber"]
    r = b.post("/query", {"key": "ABC-not-a-key", "purpose": "核验"})
    assert _error(r.text, "key") == ("“ABC-NOT-A-KEY” 既不是有效的公民身份号码 (18 位, GB 11643), "
                                     "也不是有效的统一社会信用代码 (18 位, GB 32100)。")
    wrong = person[:17] + ("0" if person[17] != "0" else "1")
    r = b.post("/query", {"key": wrong, "purpose": "核验"})
    assert r.status_code == 422 and _error(r.text, "key") == f"{wrong} 不是有效的公民身份号码: 校验码不对, 请核对号码。"
    r = b.post("/query", {"key": person, "purpose": ""})
    assert r.status_code == 422 and _error(r.text, "purpose") == "请填写查询事由 (记入审计日志)。"
    r = b.post("/query", {"key": person, "purpose": "核" * 201})
    assert r.status_code == 422 and _error(r.text, "purpose") == "查询事由最多 200 个字 (现有 201 个)。"
    r = b.post("/query", {"key": "", "purpose": "核验"})
    assert r.status_code == 422 and _error(r.text, "key") == "请输入公民身份号码或统一社会信用代码。"


def test_unified_query_names_code_values_and_says_where_each_value_came_from(browser, city):
    from xsd import codes

    person = city.people[0]
    r = browser("mzj").post("/query", {"key": person["idNumber"], "purpose": "核验婚姻登记当事人"})

    def value(field: str) -> str:
        return r.text.split(f'data-field="{field}"')[1].split('class="value">')[1].split("</td>")[0]

    assert value("sex") == f"{codes.code_names('SexCode')[person['sex']]} ({person['sex']})"
    assert value("ethnicity") == f"{codes.ethnicities()[person['ethnicity']]} ({person['ethnicity']})"
    division = person["domicileDivision"]
    assert value("domicileDivision") == f"{codes.division_name(division)} ({division})"
    if person.get("maritalStatus"):
        assert value("maritalStatus") == f"{codes.code_names('MaritalStatusCode')[person['maritalStatus']]} " \
                                         f"({person['maritalStatus']})"
    if person.get("education"):
        assert value("education") == f"{codes.education_name(person['education'])} ({person['education']})"
    # 民政局 reads 公安局's values through its own resource: the page says whose value it is and how it was found
    source = r.text.split('data-field="domicileAddress"')[1].split('class="source">')[1].split("</td>")[0]
    assert source.startswith("临江市公安局") and "经临江市民政局的资源《婚姻登记人员信息》查得" in source
    assert "经由资源" not in r.text


def test_unified_query_lists_unreadable_resources_in_chinese_with_the_way_to_apply(browser, city):
    r = browser("mzj").post("/query", {"key": city.people[0]["idNumber"], "purpose": "核验婚姻登记当事人"})
    refused = r.text.split("无权读取的资源")[1].split("</details>")[0]
    assert "户籍人口基础信息" in refused and "尚无读取资源「户籍人口基础信息」" in refused
    assert f'href="/portal/apply?code={city.conditional}">提交使用申请</a>' in refused
    assert "govshare" not in refused and "apply with" not in refused and "has no grant" not in refused
    # an auditor may not query at all
    r = browser("auditor").post("/query", {"key": city.people[0]["idNumber"], "purpose": "抽查"})
    assert r.status_code == 403 and "无权" in r.text


def test_auditor_searches_and_verifies_the_chain(browser, city):
    browser("mzj")  # a login entry
    b = browser("auditor")
    r = b.get("/audit", params={"operation": "portal.login"})
    assert "portal.login" in r.text and "mzj" in r.text
    r = b.post("/audit/verify", {})
    assert "哈希链完整" in r.text


def test_the_reviewer_sees_who_submitted_and_what_an_edit_changes_before_approving(browser, city, sessions, settings):
    from directory.catalogue import workflow
    from tests.conftest import as_user

    gaj = as_user(sessions, settings, "gaj")
    workflow.withdraw(gaj, resource_code=city.unconditional, reason="补充摘要")
    abstract = "人口基本信息的公开项, 按公民身份号码共享。"
    workflow.edit(gaj, resource_code=city.unconditional, changes={"abstract": abstract})
    workflow.submit(gaj, resource_code=city.unconditional)
    reviewer = browser("reviewer")
    page = reviewer.get("/review").text
    row = page.split(f'<tr data-code="{city.unconditional}">')[1].split("</tr>\n")[0]
    assert "修改 1 项: 资源摘要" in row and ">gaj<br>" in row and "信息项 " in row
    assert f'<td class="after">{abstract}</td>' in row
    detail = reviewer.get(f"/resource?code={city.unconditional}").text
    card = detail.split('id="pending-changes"')[1].split("</section>")[0]
    assert "与已发布版本相比" in card and 'data-field="abstract"' in card and "本次提交" in card
    with sessions() as s:
        read = s.scalars(select(AuditEntry.result).where(AuditEntry.operation == "catalogue.review_queue")).all()
    assert read == ["ok"]


def test_monitor_and_assessment_render_charts(browser, city):
    b = browser("admin")
    r = b.get("/monitor")
    assert r.status_code == 200 and "<svg" in r.text
    r = b.get("/assessment")
    assert r.status_code == 200 and "临江市公安局" in r.text


@pytest.mark.parametrize("path", ["/static/portal.css", "/static/portal.js"])
def test_assets_are_served_locally(browser, path):
    r = browser().get(path)
    assert r.status_code == 200 and len(r.content) > 100


def test_unified_query_asks_a_logical_resource_live_and_says_when_its_provider_is_down(
        browser, city, sessions, settings, tmp_path):
    """逻辑集中: 公安局's registry answers the unified query from its own service, through the
    binding template the directory holds; with the service stopped the portal says so."""
    import requests

    from adapters.demo_services import household_service_app, seed_people
    from tests.conftest import LiveServer, free_port
    from tests.exchange.test_logical import publish_logical

    people = seed_people(tmp_path / "hjgl.db", n=5, seed=11)
    service = LiveServer(household_service_app(tmp_path / "hjgl.db"), free_port()).start()
    try:
        wsdl = requests.get(f"{service.url}/?wsdl", timeout=5).content
        code = publish_logical(sessions, settings, "household-live", wsdl, name="户籍登记信息(实时)")
        mzj = browser("mzj")
        r = mzj.post("/query", {"key": people[0]["idNumber"], "purpose": "核验户籍"})
        assert r.status_code == 200, r.text[:300]
        live = r.text.split("<summary>户籍登记信息(实时) (临江市公安局) — 提供方实时应答 (逻辑集中)")[1]
        assert people[0]["name"] in live.split("</details>")[0]
    finally:
        service.stop()
    r = mzj.post("/query", {"key": people[0]["idNumber"], "purpose": "核验户籍"})
    assert "查询失败的资源" in r.text and "户籍登记信息(实时)" in r.text.split("查询失败的资源")[1]
    assert code


def test_the_quarantine_list_names_statuses_in_chinese_and_filters_resolved_items(browser, city, sessions):
    from registry.models import AdapterQuarantine, SyncRun

    when = datetime(2026, 12, 1, 8, 0)
    with unit_of_work(sessions) as session:
        run = SyncRun(adapter="gaj-household", mode="full", status="succeeded", started=when, finished=when)
        session.add(run)
        session.flush()
        for key, status in (("K-OPEN", "open"), ("K-GONE", "resolved")):
            session.add(AdapterQuarantine(run_id=run.id, adapter="gaj-household", source_key=key, stage="map",
                                          rule="code.unmapped", message="代码无法映射", row={"ID": key},
                                          row_identity=key, status=status, created=when, seen_run=run.id,
                                          seen=when))
    b = browser("admin")
    page = b.get("/monitor/quarantine").text
    assert "K-OPEN" in page and "K-GONE" not in page and "<td>待处理</td>" in page and "<td>open</td>" not in page
    page = b.get("/monitor/quarantine", params={"status": "resolved"}).text
    assert "K-GONE" in page and "K-OPEN" not in page and "<td>已消除</td>" in page
    assert '<option value="resolved" selected>已消除</option>' in page


def _sample(page: str, id_: str) -> etree._Element:
    """The XML of a resource page's sample <pre id=``id_``>, parsed."""
    import html

    pre = re.search(f'<pre[^>]* id="{id_}">(.*?)</pre>', page, re.S).group(1)
    return etree.fromstring(html.unescape(pre).encode())


def test_the_api_sample_answer_is_what_the_readers_department_gets_on_made_up_data(browser, city, sessions,
                                                                                   settings):
    from governance import sharing
    from tests.conftest import as_user

    sharing.grant(as_user(sessions, settings, "gaj"), resource_code=city.conditional, consumer_code="mzj",
                  fields=["idNumber", "name"])
    page = browser("mzj").get(f"/resource?code={city.conditional}").text
    ns = {"soap": "http://schemas.xmlsoap.org/soap/envelope/", "ex": "http://govshare.local/xsd/exchange/1.0"}
    request = _sample(page, "sample-request")
    assert request.findtext("soap:Body/ex:QueryRecords/ex:key", namespaces=ns) == "330102199001021205"
    signed = _sample(page, "sample-signed-xml")  # the platform requires signed requests: the header a toolkit fills in
    security = signed.find("soap:Header/{*}Security", ns)
    assert security is not None and [etree.QName(c).localname for c in security] == [
        "BinarySecurityToken", "Timestamp", "Signature"]
    answer = _sample(page, "sample-answer-xml").find("soap:Body/ex:QueryRecordsResponse", ns)
    assert answer.findtext("ex:total", namespaces=ns) == "1"
    [person] = answer.find("ex:records", ns)
    shown = {etree.QName(child).localname: child.text for child in person}
    # only the two fields of mzj's grant, masked as the exchange masks them (the key's record, made up)
    assert set(shown) == {"idNumber", "name"}
    assert shown["idNumber"] != "330102199001021205" and shown["idNumber"].startswith("330102")
    assert "*" in shown["idNumber"] and shown["name"]  # an ID number is masked, a name is not by default
    # the provider reads its own resource whole and unmasked
    own = _sample(browser("gaj").get(f"/resource?code={city.conditional}").text, "sample-answer-xml")
    [record] = own.find("soap:Body/ex:QueryRecordsResponse/ex:records", ns)
    fields = {etree.QName(child).localname: child.text for child in record}
    assert fields["idNumber"] == "330102199001021205" and len(fields) > 5
    # an enterprise's resource answers with a made-up enterprise under the sample request's credit code
    company = _sample(browser("mzj").get(f"/resource?code={city.enterprise}").text, "sample-answer-xml")
    [record] = company.find("soap:Body/ex:QueryRecordsResponse/ex:records", ns)
    assert {etree.QName(c).localname: c.text for c in record}["creditCode"] == "91330100MA27U8K341"
