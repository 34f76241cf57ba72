"""The portal in a real browser: Playwright for Python driving Debian's Chromium, headless.

Each role signs in and walks its main journey end to end; screenshots go to
``artifacts/portal/`` (git-ignored).  Skipped when /usr/bin/chromium is absent, a failure
under ``REQUIRE_SERVICES=1`` (``.ci/run`` installs the ``chromium`` package).  Only SQLite:
the HTTP tests beside this file cover PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from directory.catalogue import workflow
from tests.conftest import as_user, identity_entry, service_unavailable

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "portal"
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        service_unavailable(f"{CHROMIUM} is absent (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_unavailable("the playwright package is not installed (pip install -e '.[test]')")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield browser
        browser.close()


@pytest.fixture
def signed_in(chromium, live_server):
    contexts = []

    def open_as(username: str, *, width: int = 1280, height: int = 900):
        context = chromium.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        page.goto(f"{live_server.url}/portal/login")
        page.fill("#username", username)
        page.fill("#password", "pw")
        page.click("button[type=submit]")
        page.wait_for_selector("text=退出")
        return page

    yield open_as
    for context in contexts:
        context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_consumer_applies_provider_approves_consumer_queries_with_lineage(signed_in, city, live_server):
    mzj = signed_in("mzj")
    mzj.click("nav >> text=资源目录")
    mzj.fill("input[name=q]", "户籍")
    mzj.click("button:has-text('检索')")
    assert mzj.inner_text("#result-count") == "共 1 条资源"
    mzj.click("text=户籍人口基础信息")
    assert "不能读取" in mzj.inner_text("#what-i-see")
    shot(mzj, "consumer-detail")
    mzj.click("text=申请使用")
    mzj.click("button:has-text('提交申请')")
    mzj.wait_for_selector("#err-purpose")  # the required purpose, inline (visible, or a timeout)
    mzj.fill("#purpose", "婚姻登记核验当事人户籍")
    mzj.fill("#until", "2099-12-31")
    mzj.click("button:has-text('提交申请')")
    mzj.wait_for_selector("text=已提交")
    shot(mzj, "consumer-applications")

    gaj = signed_in("gaj")  # told in the header (消息), the notice leads to the application's page
    assert gaj.locator("#notices-link .badge").inner_text() != ""
    gaj.click("#notices-link")
    shot(gaj, "provider-notices")
    gaj.click("#notices a:has-text('临江市民政局申请使用「户籍人口基础信息」')")
    gaj.wait_for_selector("#approve")
    gaj.click("nav >> text=申请审批")
    row = gaj.locator("#inbox tbody tr", has_text="婚姻登记核验当事人户籍")
    shot(gaj, "provider-inbox")
    row.locator("a:has-text('审批')").click()
    gaj.wait_for_selector("#approve")  # the application's page: the fields and the period to grant, then approve
    assert gaj.locator("#approve input[name=fields]:checked").count() > 2
    gaj.fill("#until", "2098-12-31")
    shot(gaj, "provider-approval")
    gaj.click("button:has-text('同意并授权')")
    gaj.wait_for_selector("text=已同意使用申请")
    assert "有效至 2098-12-31" in gaj.inner_text(".flash")

    person = city.people[0]
    mzj.click("nav >> text=统一查询")
    mzj.fill("#key", person["idNumber"])
    mzj.fill("#purpose", "核验婚姻登记当事人")
    mzj.click("button:has-text('查询')")
    address = mzj.locator("#merged tr[data-field=domicileAddress]")
    assert person["domicileAddress"] in address.locator("td.value").inner_text()
    assert "临江市公安局" in address.locator("td.source").inner_text()
    lineage = address.locator("td.lineage").inner_text()
    assert "临江市滨江区民政路1号" in lineage and "临江市民政局" in lineage
    shot(mzj, "consumer-unified-query")


def test_unified_query_names_codes_and_leads_a_consumer_without_a_grant_to_apply(signed_in, city):
    from xsd import codes

    person = city.people[0]
    mzj = signed_in("mzj")
    mzj.click("nav >> text=统一查询")
    mzj.fill("#key", person["idNumber"])
    mzj.fill("#purpose", "核验婚姻登记当事人")
    mzj.click("button:has-text('查询')")
    sex = mzj.locator("#merged tr[data-field=sex] td.value").inner_text()
    assert sex == f"{codes.code_names('SexCode')[person['sex']]} ({person['sex']})"
    ethnicity = mzj.locator("#merged tr[data-field=ethnicity] td.value").inner_text()
    assert ethnicity == f"{codes.ethnicities()[person['ethnicity']]} ({person['ethnicity']})"
    source = mzj.locator("#merged tr[data-field=domicileAddress] td.source").inner_text()
    assert "临江市公安局" in source and "经临江市民政局的资源《婚姻登记人员信息》查得" in source
    # 打印结果单: every resource's fields open, then the browser prints; the sheet leaves the menus and form out
    assert not mzj.locator("details.hit").first.evaluate("d => d.open")
    mzj.evaluate("window.print = () => { window.printed = true; }")
    mzj.click("button[data-print]")
    assert mzj.evaluate("window.printed") and mzj.locator("details.hit").evaluate_all("ds => ds.every(d => d.open)")
    mzj.emulate_media(media="print")
    assert not mzj.locator("nav.nav").is_visible() and not mzj.locator("#purpose").is_visible()
    head = mzj.locator("#print-head")
    assert head.is_visible() and "查询事由: 核验婚姻登记当事人" in head.inner_text()
    assert "临江市民政局" in head.inner_text()
    shot(mzj, "consumer-unified-query-printed")
    mzj.emulate_media(media="screen")
    assert not head.is_visible()
    mzj.evaluate("window.dispatchEvent(new Event('afterprint'))")  # the reader's closed ones close again
    assert mzj.locator("details.hit").evaluate_all("ds => ds.every(d => !d.open)")
    mzj.click("#skipped summary")
    refused = mzj.locator("#skipped li", has_text="户籍人口基础信息")
    assert "尚无读取资源「户籍人口基础信息」" in refused.inner_text()
    shot(mzj, "consumer-unified-query-no-grant")
    refused.locator("a:has-text('提交使用申请')").click()
    mzj.wait_for_selector("h1:has-text('使用申请: 户籍人口基础信息')")
    assert mzj.locator("#purpose").is_visible()


def test_reviewer_approves_and_publishes_a_submitted_entry(signed_in, city, sessions, settings):
    gaj = as_user(sessions, settings, "gaj")
    code = workflow.create(gaj, metadata=identity_entry(settings)).resource_code
    workflow.submit(gaj, resource_code=code)
    reviewer = signed_in("reviewer")
    reviewer.click("nav >> text=审核发布")
    row = reviewer.locator("table.review-approve tr", has_text=code)
    assert "首次发布" in row.inner_text() and "gaj" in row.inner_text()  # never published; who submitted it
    shot(reviewer, "reviewer-queue")
    row.locator("button:has-text('审核通过')").click()
    reviewer.wait_for_selector("text=当前状态: 已审核")
    reviewer.locator("table.review-publish tr", has_text=code).locator("button:has-text('发布')").click()
    reviewer.wait_for_selector("text=当前状态: 已发布")
    shot(reviewer, "reviewer-published")


def test_cataloguer_sees_field_errors_inline(signed_in, city):
    gaj = signed_in("gaj")
    gaj.click("nav >> text=新建条目")
    gaj.select_option("#sharing_type", "有条件共享")
    gaj.click("button:has-text('保存草稿')")
    gaj.wait_for_selector("#err-name")  # the re-rendered form, errors visible (or a timeout)
    assert gaj.is_visible("#err-name") and gaj.is_visible("#err-sharing_condition")
    assert gaj.get_attribute("#name", "aria-invalid") == "true"
    shot(gaj, "cataloguer-form-errors")


def test_auditor_verifies_the_chain(signed_in, city):
    auditor = signed_in("auditor")
    auditor.click("nav >> text=审计日志")
    assert "portal.login" in auditor.inner_text("#audit")
    auditor.click("#verify")
    assert "哈希链完整" in auditor.inner_text("#verify-report")
    shot(auditor, "auditor-verify")


def test_admin_monitoring_charts_render(signed_in, city):
    admin = signed_in("admin")
    admin.click("nav >> text=交换监控")
    admin.wait_for_selector("svg.chart")  # the click returns once the page starts loading
    assert admin.locator("svg.chart").count() >= 1
    shot(admin, "admin-monitor")


def test_narrow_screen_has_a_menu_and_no_sideways_scroll(signed_in, city):
    phone = signed_in("mzj", width=390, height=844)
    phone.goto(phone.url.rsplit("/portal/", 1)[0] + "/portal/catalogue")
    assert not phone.is_visible("nav.nav a:has-text('统一查询')")  # folded behind the menu button
    phone.click("label.nav-button")
    assert phone.is_visible("nav.nav a:has-text('统一查询')")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "consumer-catalogue-mobile")


def test_cataloguer_corrects_a_refused_entry_and_keeps_what_was_typed(signed_in, city):
    gaj = signed_in("gaj")
    gaj.click("nav >> text=新建条目")
    gaj.select_option("#classification", "101001001")
    gaj.fill("#name", "公民身份核验信息")
    gaj.fill("#abstract", "身份核验")
    gaj.select_option("#sharing_type", "无条件共享")
    gaj.fill("#access_point", "http://10.1.2.3/identity")
    gaj.fill("#publish_date", "2026-02-30")
    gaj.fill("#related_codes", f"{city.conditional} {city.unconditional}")
    gaj.fill("input[name=item_name] >> nth=0", "公民身份号码")
    gaj.fill("input[name=item_length] >> nth=0", "18")
    gaj.click("button:has-text('保存草稿')")
    assert gaj.inner_text("#err-publish_date") == "须为实际存在的日期, 格式 YYYY-MM-DD, 如 2026-02-28 (2026-02-30 不是)"
    assert gaj.input_value("#related_codes") == f"{city.conditional} {city.unconditional}"
    shot(gaj, "cataloguer-form-chinese-errors")
    gaj.fill("#publish_date", "2026-02-28")
    gaj.click("button:has-text('保存草稿')")
    gaj.wait_for_selector("text=(草稿)")
    assert city.conditional in gaj.inner_text("dl.meta-grid")


def test_another_departments_entry_offers_no_edit_form(signed_in, city, live_server):
    mzj = signed_in("mzj")
    mzj.goto(f"{live_server.url}/portal/resource/edit?code={city.conditional}")
    assert "属于其他部门, 只有提供部门才能修改" in mzj.inner_text("main")
    assert mzj.locator("form.grid").count() == 0


def test_a_consumer_finds_a_department_in_the_directory_and_opens_its_page(signed_in, city):
    for width in (1280, 390):
        mzj = signed_in("mzj", width=width)
        if width == 390:
            mzj.click("label.nav-button")
        mzj.click("nav >> text=部门目录")
        mzj.fill("input[name=q]", "公安")
        mzj.click("button:has-text('检索')")
        assert mzj.locator("#department-count").inner_text().startswith("共 1 个部门")
        mzj.click("#org-gaj a:has-text('临江市公安局')")
        mzj.wait_for_selector("h1:has-text('临江市公安局')")
        assert "已发布 2 项" in mzj.locator("#org-resources").inner_text()
        assert mzj.locator("#org-recent article").count() == 2
        assert mzj.locator("#org-activity tr").count() == 2  # 部门动态: the two publications
        shot(mzj, f"consumer-department-page-{width}")
