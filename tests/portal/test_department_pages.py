"""部门目录 over real HTTP: the list with each department's shared resources and sharing counts, a search,
each department's page (contact, systems, latest resources, facets into 资源目录), whom it shares with for
its own people only, its 考核 for the 考核 readers, and links to it from 资源目录 and a resource's page."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from governance import onboarding, sharing
from registry.models import Department
from tests.conftest import as_user


def _row(page: str, code: str) -> list[str]:
    """The cells of department ``code``'s row in 部门目录, as text."""
    row = page.split(f'<tr id="org-{code}">')[1].split("</tr>")[0]
    return [html.unescape(re.sub(r"<[^>]+>", "", cell.split(">", 1)[1])).strip() for cell in row.split("<td")[1:]]


def _credit_code(sessions, code: str) -> str:
    with sessions() as s:
        return s.scalar(select(Department.credit_code).where(Department.code == code))


def test_the_directory_lists_every_department_with_what_it_shares(browser, city, sessions, settings):
    sharing.grant(as_user(sessions, settings, "gaj"), resource_code=city.conditional, consumer_code="mzj")
    mzj = browser("mzj")
    r = mzj.get("/org")
    assert r.status_code == 200 and '<a href="/portal/org">部门目录</a>' in r.text
    assert "共 4 个部门" in r.text
    gaj = _row(r.text, "gaj")
    assert gaj[:5] == ["临江市公安局", "gaj", "", "应用系统节点", "2"]
    assert gaj[5:8] == ["1 / 1 / 0", "0", "1"]  # used by one department (mzj, by its grant)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", gaj[8])
    assert _row(r.text, "mzj")[4:8] == ["1", "0 / 1 / 0", "1", "0"]
    assert _row(r.text, "sjj")[4] == "0" and _row(r.text, "sjj")[8] == "—"
    assert 'href="/portal/catalogue?provider=gaj&amp;status=published">2</a>' in r.text
    r = mzj.get("/org", params={"q": "市场"})
    assert "共 1 个部门" in r.text and 'id="org-scjgj"' in r.text and 'id="org-gaj"' not in r.text
    r = mzj.get("/org", params={"q": "税务"})
    assert "没有名称或代码含“税务”的部门。" in r.text and "清除条件" in r.text


def test_a_department_page_shows_its_contact_systems_and_resources(browser, city, sessions, settings):
    onboarding.register_system(as_user(sessions, settings, "admin"), code="hukou", name="户籍管理系统",
                               department="gaj")
    r = browser("mzj").get("/org/gaj")
    assert r.status_code == 200 and "<h1>临江市公安局</h1>" in r.text
    info = r.text.split('id="org-info"')[1].split("</section>")[0]
    assert "应用系统节点" in info and "户籍管理系统 (<span class=\"code\">gaj.hukou</span>)" in info
    resources = r.text.split('id="org-resources"')[1].split("</section>")[0]
    assert "已发布 <strong>2</strong> 项: 无条件共享 1 项, 有条件共享 1 项, 不予共享 0 项" in resources
    facet = 'href="/portal/catalogue?provider=gaj&amp;status=published&amp;classification=101">101 人口</a> (2)'
    assert facet in resources
    listed = browser("mzj").get("/catalogue", params={"provider": "gaj", "status": "published",
                                                      "classification": "101"})
    assert "共 2 条资源" in listed.text
    recent = r.text.split('id="org-recent"')[1].split("</section>")[0]
    assert f'href="/portal/resource?code={city.conditional}"' in recent
    assert f'href="/portal/resource?code={city.unconditional}"' in recent
    assert 'id="org-assessment"' not in r.text  # mzj's consumer does not read 考核
    # by 统一社会信用代码 too; an unknown code is a Chinese 404
    assert "<h1>临江市民政局</h1>" in browser("mzj").get(f"/org/{_credit_code(sessions, 'mzj')}").text
    r = browser("mzj").get("/org/swj")
    assert r.status_code == 404 and "没有代码或统一社会信用代码为 swj 的已登记部门。" in r.text


def test_whom_a_department_shares_with_is_on_its_own_page_and_not_on_anothers(browser, city, sessions, settings):
    sharing.grant(as_user(sessions, settings, "gaj"), resource_code=city.conditional, consumer_code="mzj")
    own = browser("gaj").get("/org/gaj").text
    consumers = own.split('id="org-consumers"')[1].split("</div>")[0]
    assert '<a href="/portal/org/mzj">临江市民政局</a>: ' in consumers and "户籍人口基础信息" in consumers
    assert "当前有 <strong>1</strong> 个部门持有该部门资源的有效授权" in own
    other = browser("scjgj").get("/org/gaj").text
    assert "当前有 <strong>1</strong> 个部门持有该部门资源的有效授权" in other
    assert 'id="org-consumers"' not in other and "具体部门与资源仅向本部门人员、平台管理员和审计员展示。" in other
    mine = browser("mzj").get("/org/mzj").text
    assert '<a href="/portal/org/gaj">临江市公安局</a>' in mine.split('id="org-providers"')[1].split("</div>")[0]


def test_the_assessment_readers_see_a_departments_score_and_rank(browser, city):
    r = browser("reviewer").get("/org/gaj")
    card = r.text.split('id="org-assessment"')[1].split("</section>")[0]
    assert "得分 <strong>" in card and "排名第 <strong>" in card and 'href="/portal/assessment"' in card


def test_the_catalogue_and_a_resource_page_link_their_provider_to_its_page(browser, city):
    mzj = browser("mzj")
    assert '<a href="/portal/org/gaj">临江市公安局</a>' in mzj.get("/catalogue").text
    r = mzj.get("/resource", params={"code": city.unconditional})
    assert '<a href="/portal/org/gaj" id="provider-link">临江市公安局</a>' in r.text


def test_the_home_page_lists_the_latest_published_resources_and_links_the_users_department(browser, city):
    r = browser("mzj").get("/")
    latest = r.text.split('id="latest"')[1].split("</section>")[0]
    names = re.findall(r'<a href="/portal/resource\?code=[^"]+">([^<]+)</a>', latest)
    assert sorted(names) == ["人口基本信息(公开项)", "企业登记信息", "婚姻登记人员信息", "户籍人口基础信息"]
    assert '<a href="/portal/org/gaj">临江市公安局</a>' in latest
    assert '<a href="/portal/org/mzj">临江市民政局</a>: 本部门的登记信息' in r.text


def _activity(page: str) -> list[str]:
    """The lines of a department page's 部门动态, as text, newest first."""
    section = page.split('id="org-activity"')[1].split("</section>")[0]
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", "", row.split("</tr>")[0].replace("</td>", " "))).split())
            for row in section.split("<tr>")[1:]]


def test_a_department_page_lists_its_activity_and_grants_only_for_those_who_see_its_partners(browser, city,
                                                                                            sessions, settings):
    from directory.catalogue import workflow

    gaj = as_user(sessions, settings, "gaj")
    grant = sharing.grant(gaj, resource_code=city.conditional, consumer_code="mzj").id
    sharing.revoke(gaj.again(), grant_id=grant, reason="业务已办结")
    workflow.withdraw(gaj.again(), resource_code=city.conditional, reason="数据项调整")
    own = _activity(browser("gaj").get("/org/gaj").text)
    # (the three were written within a second or two: between a grant and a catalogue step, the order of one
    # second is not the point here)
    assert f"下架 「户籍人口基础信息」 {city.conditional} · 数据项调整" in [line.split(" ", 2)[2] for line in own]
    assert "撤销 临江市民政局 读取「户籍人口基础信息」的授权 · 业务已办结" in " | ".join(own)
    assert "授权 临江市民政局 读取「户籍人口基础信息」" in " | ".join(own)
    other_page = browser("scjgj").get("/org/gaj").text
    other = _activity(other_page)
    assert other[0].split(" ", 2)[2] == f"下架 「户籍人口基础信息」 {city.conditional} · 数据项调整"
    assert all("授权" not in line for line in other), other  # grants between other departments are not its business
    # the withdrawn resource is no page scjgj may open: its name is not a link there
    assert f'href="/portal/resource?code={city.conditional}"' not in other_page.split('id="org-activity"')[1]
    mine = " | ".join(_activity(browser("mzj").get("/org/mzj").text))
    assert "临江市公安局 撤销其读取「户籍人口基础信息」的授权 · 业务已办结" in mine
    assert "获 临江市公安局 授权读取「户籍人口基础信息」" in mine
