"""开放目录 over real HTTP, with no account: the published entries open to the public and nothing of
the others - an entry kept within government, withdrawn or a draft is the same 404 as a code nobody
catalogued.  In the city (conftest) only 市场监管局's 企业登记信息 is open to the public."""

from __future__ import annotations

import html
import re

from directory.catalogue import workflow
from tests.conftest import as_user


def _main(page: str) -> str:
    return page.split("<main", 1)[1].split("</main>", 1)[0]


def _message(page: str) -> str:
    """The error page's message, the code it names taken out."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", _main(page)))
    return re.sub(r"\d{3,9}/\d{6}|NOPE", "<code>", " ".join(text.split()))


def test_the_open_catalogue_lists_only_entries_open_to_the_public_without_signing_in(browser, city):
    r = browser().get("/open")
    assert r.status_code == 200
    page = _main(r.text)
    assert "共 1 条开放资源" in page
    assert "企业登记信息" in page and city.enterprise in page
    for kept in (city.conditional, city.unconditional, city.marriage):
        assert kept not in page
    assert "户籍人口基础信息" not in page and "婚姻登记人员信息" not in page


def test_its_facets_count_the_open_entries_only(browser, city):
    page = _main(browser().get("/open").text)
    provider = re.search(r'data-facet="provider">(.*?)</section>', page, re.S).group(1)
    assert "临江市市场监督管理局" in provider and "临江市公安局" not in provider
    assert 'data-facet="status"' not in page and 'data-facet="open"' not in page


def test_a_search_and_a_facet_narrow_the_open_entries(browser, city):
    visitor = browser()
    assert "共 1 条开放资源" in visitor.get("/open", params={"q": "企业"}).text
    assert "共 0 条开放资源" in visitor.get("/open", params={"q": "户籍"}).text
    assert "共 0 条开放资源" in visitor.get("/open", params={"provider": "gaj"}).text
    assert "共 1 条开放资源" in visitor.get("/open", params={"classification": "102"}).text


def test_an_open_entry_shows_its_public_metadata_and_its_dcat_links(browser, city):
    r = browser().get("/open/resource", params={"code": city.enterprise})
    assert r.status_code == 200
    page = _main(r.text)
    assert f'id="resource-code">{city.enterprise}<' in page
    assert 'id="open-condition">无条件开放<' in page
    assert "统一社会信用代码" in page and "临江市市场监督管理局" in page and "登记注册处" in page
    assert "/catalogue/dcat.ttl" in page and "/catalogue/dcat.jsonld" in page
    assert f"/catalogue/dataset/{city.enterprise}" in page
    assert "状态" not in page and "变更历史" not in page  # the workflow is the departments' business


def test_a_code_outside_the_open_catalogue_is_the_same_404_as_a_code_nobody_catalogued(browser, city):
    visitor = browser()
    nobody = visitor.get("/open/resource", params={"code": "NOPE"})
    assert nobody.status_code == 404
    for kept in (city.conditional, city.unconditional, city.marriage):
        r = visitor.get("/open/resource", params={"code": kept})
        assert r.status_code == 404
        assert _message(r.text) == _message(nobody.text)
        assert "户籍" not in r.text and "婚姻" not in r.text


def test_a_withdrawn_entry_leaves_the_open_catalogue(browser, city, sessions, settings):
    workflow.withdraw(as_user(sessions, settings, "scjgj"), resource_code=city.enterprise, reason="登记系统升级")
    visitor = browser()
    assert "共 0 条开放资源" in visitor.get("/open").text
    assert visitor.get("/open/resource", params={"code": city.enterprise}).status_code == 404


def test_a_signed_in_user_sees_the_same_open_catalogue(browser, city):
    r = browser("admin").get("/open")
    assert r.status_code == 200 and "共 1 条开放资源" in r.text and "退出" in r.text
    assert browser("admin").get("/open/resource", params={"code": city.conditional}).status_code == 404


def test_the_login_page_leads_to_the_open_catalogue(browser, city):
    page = browser().get("/login").text
    assert re.search(r'<a href="/portal/open" id="open-catalogue-link">开放目录</a>', page)
