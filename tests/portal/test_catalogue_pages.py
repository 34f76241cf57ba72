"""The catalogue's pages over real HTTP: every refusal and form error a user meets is Chinese and says
what to do in the portal; the entry form keeps what was typed; each page's action is recorded with
channel ``portal``."""

from __future__ import annotations

import html
import re

from sqlalchemy import select
from stdnum.cn import ric, uscc

from registry.models import AuditEntry, CatalogueEntry

ENGLISH = re.compile(r"\b(must|required|may not|got|characters|allowed|cannot|govshare)\b")


def _form(**changes) -> dict:
    data = {"classification": "101001001", "name": "公民身份核验信息", "abstract": "身份核验", "format_class": "接口",
            "format_type": "WebService", "sharing_type": "无条件共享", "sharing_method": "接口", "update_cycle": "实时",
            "open_to_public": "否", "provider_unit": "人口管理支队", "access_point": "http://10.1.2.3/identity",
            "item_name": "公民身份号码", "item_type": "C", "item_length": "18"}
    data.update(changes)
    return data


def _errors(page: str) -> list[str]:
    """The texts of the form's error messages (inline and above the form)."""
    found = re.findall(r'<p class="(?:field-error|flash error)"[^>]*>(.*?)</p>', page, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", text)).strip() for text in found]


def _main(page: str) -> str:
    """The page's own content, without the navigation and the footer."""
    return page.split("<main", 1)[1].split("</main>", 1)[0]


def _related_field(page: str) -> str:
    return html.unescape(re.search(r'<input id="related_codes" name="related_codes" value="([^"]*)"', page).group(1))


def test_related_codes_come_back_as_typed_after_an_error_and_the_form_saves_again(browser, city):
    gaj = browser("gaj")
    typed = f"{city.conditional} {city.unconditional}"
    r = gaj.post("/catalogue/new", _form(related_codes=typed, publish_date="2026-02-30"))
    assert r.status_code == 422
    assert _related_field(r.text) == typed  # not "['101001002/000001', ...]"
    r = gaj.post("/catalogue/new", _form(related_codes=_related_field(r.text), publish_date="2026-02-28"))
    assert r.status_code == 200 and "草稿" in r.text
    assert f'href="/portal/resource?code={city.conditional}"' in r.text  # the related resource, linked


def test_form_errors_are_chinese_rules_beside_the_fields(browser, city):
    r = browser("gaj").post("/catalogue/new", _form(publish_date="2026-02-30", format_class="电子文件",
                                                     item_length="abc", related_codes="1010/01"))
    assert r.status_code == 422
    errors = _errors(r.text)
    assert "须为实际存在的日期, 格式 YYYY-MM-DD, 如 2026-02-28 (2026-02-30 不是)" in errors
    assert any(e.startswith("格式分类“电子文件”的格式类型须为 OFD") for e in errors)
    assert "字符型的长度须为 1 到 4000 之间的整数" in errors
    assert "“1010/01”不是资源代码: 格式为 分类码/顺序码, 如 101002/000023" in errors
    assert 'id="err-related_codes"' in r.text and 'id="err-items-1-length"' in r.text
    assert not [e for e in errors if ENGLISH.search(e)], errors


def test_an_overlong_abstract_is_refused_in_chinese_and_nothing_is_stored(browser, city, sessions):
    r = browser("gaj").post("/catalogue/new", _form(abstract="长" * 5000))
    assert r.status_code == 422
    assert "最多 1000 个字 (现有 5000 个), 请精简" in _errors(r.text)
    assert 'maxlength="1000"' in r.text
    with sessions() as s:
        assert s.scalar(select(CatalogueEntry).where(CatalogueEntry.name == "公民身份核验信息")) is None


def test_another_departments_published_entry_has_no_edit_form(browser, city):
    r = browser("mzj").get(f"/resource/edit?code={city.conditional}")
    assert r.status_code == 403
    assert f"目录条目 {city.conditional} 属于其他部门, 只有提供部门才能修改。" in r.text
    r = browser("mzj").post("/resource/edit", _form(code=city.conditional))
    assert r.status_code == 403 and "属于其他部门" in r.text and not ENGLISH.search(_main(r.text))


def test_an_own_published_entry_is_withdrawn_before_it_is_edited(browser, city):
    r = browser("gaj").get(f"/resource/edit?code={city.conditional}")
    assert r.status_code == 409
    assert f"目录条目 {city.conditional} 当前为“已发布”, 不能修改; 此状态下可以: 下架。" in r.text


def test_a_refused_action_says_why_in_chinese(browser, city):
    r = browser("mzj").post("/resource/action", {"code": city.conditional, "action": "withdraw", "reason": "不需要了"})
    assert f"操作未完成: 目录条目 {city.conditional} 属于其他部门, 只有提供部门才能下架。" in r.text
    r = browser("reviewer").post("/resource/action", {"code": city.conditional, "action": "approve"})
    assert "当前为“已发布”, 不能审核通过" in r.text


def test_an_interface_without_a_service_address_is_not_approved(browser, city):
    gaj = browser("gaj")
    r = gaj.post("/catalogue/new", _form(access_point=""))
    code = r.url.split("code=")[1].replace("%2F", "/")
    gaj.post("/resource/action", {"code": code, "action": "submit"})
    r = browser("reviewer").post("/resource/action", {"code": code, "action": "approve"})
    assert (f"操作未完成: {code} 的资源格式为接口, 但没有填写 WSDL 路径或服务地址, 不能审核通过; "
            "请退回, 由提供部门在“修改”中补充后重新提交。") in html.unescape(r.text)
    assert "待审核" in r.text


def test_the_no_grant_box_is_chinese_and_links_to_the_application_page(browser, city):
    r = browser("mzj").get(f"/resource?code={city.conditional}")
    box = r.text.split('id="no-grant"')[1].split("</p>")[0]
    assert "不能读取: 临江市民政局尚无读取资源「户籍人口基础信息」" in box and "的有效授权" in box
    assert f'<a class="button primary" href="/portal/apply?code={city.conditional}">提交使用申请</a>' in box
    assert not ENGLISH.search(box) and "govshare sharing apply" not in r.text


def test_the_sample_request_uses_valid_keys(browser, city):
    b = browser("mzj")
    person = b.get(f"/resource?code={city.conditional}").text
    organisation = b.get(f"/resource?code={city.enterprise}").text
    # the same key in the plain request and in the signed one
    [id_number] = set(re.findall(r"&lt;ex:key&gt;(\w+)&lt;/ex:key&gt;", person))
    [credit_code] = set(re.findall(r"&lt;ex:key&gt;(\w+)&lt;/ex:key&gt;", organisation))
    assert ric.is_valid(id_number) and uscc.is_valid(credit_code)


def test_a_page_past_the_last_shows_the_last(browser, city):
    r = browser("mzj").get("/catalogue", params={"page": 9999})
    assert "第 9999" not in r.text and "共 4 条资源" in r.text and r.text.count('class="result"') == 4


def test_the_pages_actions_are_recorded_with_channel_portal(browser, city, sessions):
    gaj = browser("gaj")
    gaj.get("/catalogue", params={"q": "户籍"})
    r = gaj.post("/catalogue/new", _form())
    code = r.url.split("code=")[1].replace("%2F", "/")
    browser("mzj").post("/resource/action", {"code": city.conditional, "action": "withdraw", "reason": "x"})
    with sessions() as s:
        entries = [(e.operation, e.user, e.channel, e.result) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.operation.like("catalogue.%")).order_by(AuditEntry.seq))]
    assert ("catalogue.search", "gaj", "portal", "ok") in entries
    assert ("catalogue.create", "gaj", "portal", "ok") in entries
    assert ("catalogue.show", "gaj", "portal", "ok") in entries  # the new entry's page
    assert ("catalogue.withdraw", "mzj", "portal", "refused:NotPermitted") in entries
    with sessions() as s:
        assert s.scalar(select(AuditEntry.resource_code).where(AuditEntry.operation == "catalogue.create")) == code
    with sessions() as s:
        assert not s.scalars(select(AuditEntry).where(AuditEntry.operation.like("portal.catalogue.%"))).all()
