"""findQualifiers, sorting and paging of the find_* operations."""

from __future__ import annotations

import pytest

from directory.taxonomies import CLASSIFICATION, SHARING_TYPE, UPDATE_CYCLE

from .conftest import UDDI_NS

U = f'xmlns="{UDDI_NS}"'
NAMES = ["Population Register", "population statistics", "人口基础信息", "人口流动信息", "法人单位信息"]


@pytest.fixture
def catalogue(post, token, gaj):
    """Five services with distinct names, classes and sharing types, saved in this order."""
    tok = token(gaj.username)
    rows = [("101", "无条件共享", "每日"), ("101", "有条件共享", "每月"), ("101", "无条件共享", "实时"),
            ("101", "有条件共享", "每日"), ("102", "无条件共享", "每年")]
    keys = {}
    for name, (cls, sharing, cycle) in zip(NAMES, rows, strict=True):
        reply = post("publication", f"""<save_service {U}>AUTH<businessService businessKey="{gaj.business_key}">
            <name>{name}</name><categoryBag>
            <keyedReference tModelKey="{CLASSIFICATION}" keyValue="{cls}"/>
            <keyedReference tModelKey="{SHARING_TYPE}" keyValue="{sharing}"/>
            <keyedReference tModelKey="{UPDATE_CYCLE}" keyValue="{cycle}"/>
            </categoryBag></businessService></save_service>""", token=tok)
        assert reply.status == 200, reply.fault_string
        keys[name] = reply.payload[0].get("serviceKey")
    return keys


def _names(reply) -> list[str]:
    assert reply.status == 200, reply.fault_string
    return [i.findtext(f"{{{UDDI_NS}}}name") for i in reply.payload.iter(f"{{{UDDI_NS}}}serviceInfo")]


def _find(post, inner: str, qualifiers: tuple[str, ...] = (), attrs: str = "") -> list[str]:
    fq = "".join(f"<findQualifier>{q}</findQualifier>" for q in qualifiers)
    fq = f"<findQualifiers>{fq}</findQualifiers>" if fq else ""
    return _names(post("inquiry", f"<find_service {U} {attrs}>{fq}{inner}</find_service>"))


def test_exact_match_is_the_default_and_case_sensitive(post, catalogue):
    assert _find(post, "<name>人口基础信息</name>") == ["人口基础信息"]
    assert _find(post, "<name>population register</name>") == []


def test_approximate_match_uses_percent_and_underscore_wildcards(post, catalogue):
    assert _find(post, "<name>人口%</name>", ("approximateMatch",)) == ["人口基础信息", "人口流动信息"]
    assert _find(post, "<name>人口__信息</name>", ("approximateMatch",)) == ["人口基础信息", "人口流动信息"]
    assert _find(post, "<name>人口_信息</name>", ("approximateMatch",)) == []


def test_approximate_patterns_with_quotes_and_backslashes_are_matched_as_text(post, token, gaj, catalogue):
    """Approximate patterns are written into the SQL (so PostgreSQL plans them for their prefix):
    a quote or a backslash in one must be quoted, never end the literal."""
    for name in ("O'Brien \\ 户籍'); DROP TABLE uddi_name; --", "O'Brien registry"):
        reply = post("publication", f"""<save_service {U}>AUTH<businessService businessKey="{gaj.business_key}">
            <name>{name}</name></businessService></save_service>""", token=token(gaj.username))
        assert reply.status == 200, reply.fault_string
    assert _find(post, "<name>O'Brien%</name>", ("approximateMatch",)) == [
        "O'Brien \\ 户籍'); DROP TABLE uddi_name; --", "O'Brien registry"]
    assert _find(post, "<name>O'Brien \\\\ 户籍'); DROP%</name>", ("approximateMatch",)) == [
        "O'Brien \\ 户籍'); DROP TABLE uddi_name; --"]
    assert _find(post, "<name>人口%</name>", ("approximateMatch",)) == ["人口基础信息", "人口流动信息"]


def test_case_insensitive_match_by_short_name_and_by_tmodel_key(post, catalogue):
    expected = ["Population Register"]
    assert _find(post, "<name>POPULATION REGISTER</name>", ("caseInsensitiveMatch",)) == expected
    assert _find(post, "<name>POPULATION REGISTER</name>",
                 ("uddi:uddi.org:findqualifier:caseinsensitivematch",)) == expected


def test_approximate_and_case_insensitive_combine(post, catalogue):
    found = _find(post, "<name>POPULATION%</name>", ("approximateMatch", "caseInsensitiveMatch"))
    assert found == ["Population Register", "population statistics"]


def test_several_names_are_alternatives(post, catalogue):
    assert sorted(_find(post, "<name>人口基础信息</name><name>法人单位信息</name>")) == ["人口基础信息", "法人单位信息"]


def test_sort_by_name_descending(post, catalogue):
    found = _find(post, "<name>%</name>", ("approximateMatch", "sortByNameDesc"))
    assert found == sorted(NAMES, reverse=True)


def test_sort_by_date_follows_save_order(post, catalogue):
    # Saves within one second share a timestamp; the key breaks ties, so compare sets per order.
    asc = _find(post, "<name>%</name>", ("approximateMatch", "sortByDateAsc"))
    desc = _find(post, "<name>%</name>", ("approximateMatch", "sortByDateDesc"))
    assert sorted(asc) == sorted(desc) == sorted(NAMES)


def test_category_bag_defaults_to_and_all_keys(post, catalogue):
    bag = (f'<categoryBag><keyedReference tModelKey="{CLASSIFICATION}" keyValue="101"/>'
           f'<keyedReference tModelKey="{SHARING_TYPE}" keyValue="无条件共享"/></categoryBag>')
    assert sorted(_find(post, bag)) == ["Population Register", "人口基础信息"]


def test_or_all_keys_matches_any_reference(post, catalogue):
    bag = (f'<categoryBag><keyedReference tModelKey="{CLASSIFICATION}" keyValue="102"/>'
           f'<keyedReference tModelKey="{UPDATE_CYCLE}" keyValue="实时"/></categoryBag>')
    assert sorted(_find(post, bag, ("orAllKeys",))) == ["人口基础信息", "法人单位信息"]


def test_or_like_keys_ors_within_a_taxonomy_and_ands_across(post, catalogue):
    bag = (f'<categoryBag><keyedReference tModelKey="{UPDATE_CYCLE}" keyValue="每日"/>'
           f'<keyedReference tModelKey="{UPDATE_CYCLE}" keyValue="每月"/>'
           f'<keyedReference tModelKey="{SHARING_TYPE}" keyValue="有条件共享"/></categoryBag>')
    assert sorted(_find(post, bag, ("orLikeKeys",))) == ["population statistics", "人口流动信息"]


def test_finds_of_one_shape_with_other_values_find_their_own_entities(post, catalogue):
    """A find's first page runs a statement built once per shape (which criteria, which qualifiers)
    and reused with each request's values: the second find of a shape must not see the first's."""
    def bag(*refs):
        return "<categoryBag>" + "".join(f'<keyedReference tModelKey="{t}" keyValue="{v}"/>' for t, v in refs) + (
            "</categoryBag>")

    assert sorted(_find(post, bag((CLASSIFICATION, "101"), (SHARING_TYPE, "有条件共享")))) == [
        "population statistics", "人口流动信息"]
    assert _find(post, bag((CLASSIFICATION, "102"), (SHARING_TYPE, "无条件共享"))) == ["法人单位信息"]
    assert _find(post, bag((CLASSIFICATION, "101"), (UPDATE_CYCLE, "实时"))) == ["人口基础信息"]
    assert _find(post, bag((UPDATE_CYCLE, "每年"), (SHARING_TYPE, "无条件共享")), ("orAllKeys",)) == [
        "Population Register", "人口基础信息", "法人单位信息"]
    assert _find(post, bag((UPDATE_CYCLE, "每月"), (SHARING_TYPE, "有条件共享")), ("orAllKeys",)) == [
        "population statistics", "人口流动信息"]
    assert _find(post, "<name>人口%</name>", ("approximateMatch",)) == ["人口基础信息", "人口流动信息"]
    assert _find(post, "<name>法人%</name>", ("approximateMatch",)) == ["法人单位信息"]
    assert _find(post, "<name>POPULATION%</name>", ("approximateMatch", "caseInsensitiveMatch")) == [
        "Population Register", "population statistics"]
    assert _find(post, "<name>人口基础信息</name>") == ["人口基础信息"]
    assert _find(post, "<name>法人单位信息</name>") == ["法人单位信息"]


def test_unknown_taxonomy_values_match_nothing(post, catalogue):
    bag = f'<categoryBag><keyedReference tModelKey="{CLASSIFICATION}" keyValue="999"/></categoryBag>'
    assert _find(post, bag) == []


def test_paging_with_max_rows_and_list_head(post, catalogue):
    reply = post("inquiry", f'<find_service {U} maxRows="2" listHead="3"><findQualifiers>'
                 "<findQualifier>approximateMatch</findQualifier></findQualifiers><name>%</name></find_service>")
    assert _names(reply) == sorted(NAMES)[2:4]
    desc = reply.payload.find(f"{{{UDDI_NS}}}listDescription")
    assert [desc.findtext(f"{{{UDDI_NS}}}{f}") for f in ("includeCount", "actualCount", "listHead")] == ["2", "5", "3"]
    assert reply.payload.get("truncated") == "true"


def test_last_page_is_not_truncated(post, catalogue):
    reply = post("inquiry", f'<find_service {U} maxRows="2" listHead="5"><findQualifiers>'
                 "<findQualifier>approximateMatch</findQualifier></findQualifiers><name>%</name></find_service>")
    assert _names(reply) == sorted(NAMES)[4:]
    assert reply.payload.get("truncated") == "false"


def test_find_service_by_tmodel_bag_and_nested_find_tmodel(post, token, gaj, catalogue):
    tok = token(gaj.username)
    key = catalogue["人口基础信息"]
    post("publication", f"""<save_binding {U}>AUTH<bindingTemplate serviceKey="{key}">
        <accessPoint useType="endPoint">http://10.0.0.1/rk</accessPoint><tModelInstanceDetails>
        <tModelInstanceInfo tModelKey="uddi:uddi.org:protocol:soap"/>
        <tModelInstanceInfo tModelKey="uddi:uddi.org:transport:http"/></tModelInstanceDetails>
        </bindingTemplate></save_binding>""", token=tok)
    both = ("<tModelBag><tModelKey>uddi:uddi.org:protocol:soap</tModelKey>"
            "<tModelKey>uddi:uddi.org:transport:http</tModelKey></tModelBag>")
    assert _find(post, both) == ["人口基础信息"]
    nested = "<find_tModel><name>uddi-org:protocol:soap</name></find_tModel>"
    assert _find(post, nested) == ["人口基础信息"]
    business = post("inquiry", f"<find_business {U}>{both}</find_business>")
    assert [i.get("businessKey") for i in business.payload.iter(f"{{{UDDI_NS}}}businessInfo")] == [gaj.business_key]
    bindings = post("inquiry", f"<find_binding {U}>{both}</find_binding>")
    assert len(bindings.payload.findall(f"{{{UDDI_NS}}}bindingTemplate")) == 1


def test_find_business_by_identifier_bag_finds_the_credit_code(post, gaj, sessions):
    from sqlalchemy import select

    from directory.taxonomies import PROVIDER_CODE
    from registry.models import Department

    with sessions() as session:
        code = session.scalar(select(Department.credit_code).where(Department.code == "gaj"))
    reply = post("inquiry", f'<find_business {U}><identifierBag><keyedReference tModelKey="{PROVIDER_CODE}" '
                 f'keyValue="{code}"/></identifierBag></find_business>')
    assert [i.get("businessKey") for i in reply.payload.iter(f"{{{UDDI_NS}}}businessInfo")] == [gaj.business_key]


def test_find_service_within_one_business(post, catalogue, mzj, token):
    post("publication", f"""<save_service {U}>AUTH<businessService businessKey="{mzj.business_key}">
        <name>人口基础信息</name></businessService></save_service>""", token=token(mzj.username))
    assert len(_find(post, "<name>人口基础信息</name>")) == 2
    assert len(_find(post, "<name>人口基础信息</name>", attrs=f'businessKey="{mzj.business_key}"')) == 1
