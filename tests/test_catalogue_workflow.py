"""The catalogue workflow 编目 → 审核 → 发布 as actions: versions, refusal, withdrawal, visibility,
who may act, what each refusal says in Chinese, and the command line."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
import stdnum.cn.uscc
from lxml import etree
from sqlalchemy import select

import wsdl as wsdl_package
from directory import taxonomies, wsdl_publishing
from directory.accounts import create_user, register_department
from directory.catalogue import cli, review, workflow
from directory.catalogue.search import search
from directory.catalogue.uddi_mapping import service_element
from directory.uddi import store
from registry.db import unit_of_work
from registry.errors import (
    EntryNotFound,
    IllegalTransition,
    InvalidInput,
    InvalidMetadata,
    NoServiceAddress,
    NotPermitted,
    PublicationFailed,
    ReasonRequired,
)
from registry.models import AuditEntry, CatalogueEntry, UddiKeyedReference
from tests.conftest import as_user, govshare_here
from wsdl.oasis import uddi_schema

CODE = "101002/000001"
ROOT = Path(__file__).resolve().parents[1]


def credit_code(n: int) -> str:
    body = f"113301000{n:08d}"
    return body + stdnum.cn.uscc.calc_check_digit(body)


def metadata(**changes) -> dict:
    data = {
        "classification": "101002", "name": "出生医学证明信息", "provider_unit": "妇幼健康科",
        "abstract": "本市医疗机构签发的出生医学证明信息。", "format_class": "数据库", "format_type": "oracle",
        "items": [{"name": "新生儿姓名", "data_type": "C", "length": 50}, {"name": "出生日期", "data_type": "D"}],
        "sharing_type": "有条件共享", "sharing_condition": "仅限户籍登记与社会救助业务使用", "sharing_method": "接口",
        "open_to_public": False, "update_cycle": "每日",
    }
    data.update(changes)
    return data


@pytest.fixture
def city(sessions, settings):
    return make_city(sessions, settings)


def make_city(sessions, settings):
    """Two departments, 市卫生健康委员会 (wsjw: cataloguer li.na) and 市公安局 (gaj: cataloguer wang.qiang,
    consumer zhao.min, auditor sun.yu), the platform's reviewer shen.li and admin root;
    ``city(username)`` is the action context of an account."""
    with unit_of_work(sessions) as s:
        health = register_department(s, settings, code="wsjw", name="市卫生健康委员会", credit_code=credit_code(1))
        police = register_department(s, settings, code="gaj", name="市公安局", credit_code=credit_code(2))
        create_user(s, username="li.na", password="pw", department=health, roles=("cataloguer",))
        create_user(s, username="wang.qiang", password="pw", department=police, roles=("cataloguer",))
        create_user(s, username="zhao.min", password="pw", department=police, roles=("consumer",))
        create_user(s, username="shen.li", password="pw", department=None, roles=("reviewer",))
        create_user(s, username="root", password="pw", department=None, roles=("admin",))
        create_user(s, username="sun.yu", password="pw", department=police, roles=("auditor",))
    return lambda username: as_user(sessions, settings, username)


def history(city, username: str, code: str) -> list[tuple]:
    return [(v.version, v.action, v.status, v.changed_by, v.reason)
            for v in workflow.history(city(username), resource_code=code)]


def published(city, **changes) -> None:
    workflow.create(city("li.na"), metadata=metadata(**changes))
    workflow.submit(city("li.na"), resource_code=CODE)
    workflow.approve(city("shen.li"), resource_code=CODE)
    workflow.publish(city("shen.li"), resource_code=CODE)


def stored(sessions, code: str = CODE) -> CatalogueEntry:
    with sessions() as s:
        return s.scalar(select(CatalogueEntry).where(CatalogueEntry.resource_code == code))


# --------------------------------------------------------------------------- cataloguing


def test_created_entry_is_a_draft_with_generated_code_and_provider_code(city):
    entry = workflow.create(city("li.na"), metadata=metadata())
    assert (entry.resource_code, entry.status, entry.category, entry.provider) == (CODE, "draft", "1", "wsjw")
    assert entry.provider_code == credit_code(1)
    assert [(i.position, i.name, i.data_type, i.length) for i in entry.items] == [
        (1, "新生儿姓名", "C", 50), (2, "出生日期", "D", None)]


def test_creation_is_recorded_as_version_one_with_who_and_when(city):
    workflow.create(city("li.na"), metadata=metadata())
    [v] = workflow.history(city("li.na"), resource_code=CODE)
    assert (v.version, v.action, v.status, v.changed_by) == (1, "create", "draft", "li.na")
    assert v.changed_at is not None
    assert v.snapshot["resource_code"] == CODE
    assert v.snapshot["items"][0] == {"name": "新生儿姓名", "data_type": "C", "length": 50}


def test_full_workflow_records_every_version(city):
    published(city)
    assert history(city, "li.na", CODE) == [
        (1, "create", "draft", "li.na", ""),
        (2, "submit", "submitted", "li.na", ""),
        (3, "approve", "approved", "shen.li", ""),
        (4, "publish", "published", "shen.li", ""),
    ]


def test_every_action_is_recorded_in_the_audit_log_with_its_channel(city, sessions):
    published(city)
    with pytest.raises(NotPermitted):
        workflow.withdraw(city("wang.qiang"), resource_code=CODE, reason="不需要了")
    with sessions() as s:
        entries = [(e.operation, e.user, e.channel, e.resource_code, e.result) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.operation.like("catalogue.%")).order_by(AuditEntry.seq))]
    assert entries == [
        ("catalogue.create", "li.na", "cli", CODE, "ok"), ("catalogue.submit", "li.na", "cli", CODE, "ok"),
        ("catalogue.approve", "shen.li", "cli", CODE, "ok"), ("catalogue.publish", "shen.li", "cli", CODE, "ok"),
        ("catalogue.withdraw", "wang.qiang", "cli", CODE, "refused:NotPermitted"),
    ]


def test_publishing_sets_the_publish_date_and_saves_the_service(city, sessions):
    published(city)
    entry = workflow.show(city("zhao.min"), resource_code=CODE).entry
    assert entry.publish_date is not None
    assert entry.service_key == "uddi:wsjw.govshare.local:resource:101002-000001"
    with sessions() as s:
        row = store.get(s, entry.service_key, "service")
        assert row is not None and row.parent_key == "uddi:wsjw.govshare.local:business"


def test_published_service_is_found_by_its_base_class(city, sessions):
    published(city)
    with sessions() as s:
        keys = set(s.scalars(select(UddiKeyedReference.entity_key).where(
            UddiKeyedReference.tmodel_key == taxonomies.CLASSIFICATION, UddiKeyedReference.key_value == "101")))
    assert keys == {"uddi:wsjw.govshare.local:resource:101002-000001"}


def test_entry_with_a_wsdl_is_published_with_a_binding_per_port(city, sessions):
    wsdl = Path(wsdl_package.__file__).parent / "contracts" / "population-query.wsdl"
    wsdl_publishing.publish(city("li.na"), path="wsjw/birth.wsdl", content=wsdl.read_bytes(), map_services=False)
    published(city, wsdl_path="wsjw/birth.wsdl")
    entry = workflow.show(city("li.na"), resource_code=CODE).entry
    with sessions() as s:
        [service] = store.compose(s, [store.get(s, entry.service_key)])
    uddi_schema().assertValid(service)
    templates = service.findall(f"{store.q('bindingTemplates')}/{store.q('bindingTemplate')}")
    assert templates and all(t.find(store.q("accessPoint")) is not None for t in templates)


def test_entry_whose_wsdl_is_not_in_the_repository_is_not_published(city):
    workflow.create(city("li.na"), metadata=metadata(wsdl_path="wsjw/missing.wsdl"))
    workflow.submit(city("li.na"), resource_code=CODE)
    workflow.approve(city("shen.li"), resource_code=CODE)
    with pytest.raises(PublicationFailed, match="wsjw/missing.wsdl") as refused:
        workflow.publish(city("shen.li"), resource_code=CODE)
    assert "尚未发布到资源目录" in refused.value.user_message and "退回" in refused.value.user_message


def test_an_interface_without_a_wsdl_or_service_address_is_neither_approved_nor_published(city, sessions):
    workflow.create(city("li.na"), metadata=metadata(format_class="接口", format_type="WebService"))
    workflow.submit(city("li.na"), resource_code=CODE)
    with pytest.raises(NoServiceAddress, match="neither a wsdl_path nor an access_point") as refused:
        workflow.approve(city("shen.li"), resource_code=CODE)
    assert refused.value.user_message.startswith(f"{CODE} 的资源格式为接口, 但没有填写 WSDL 路径或服务地址, "
                                                  "不能审核通过")
    assert stored(sessions).status == "submitted"
    workflow.refuse(city("shen.li"), resource_code=CODE, reason="请补充服务地址")
    workflow.edit(city("li.na"), resource_code=CODE, changes={"access_point": "http://10.1.2.3/birth/service"})
    workflow.submit(city("li.na"), resource_code=CODE)
    workflow.approve(city("shen.li"), resource_code=CODE)
    assert workflow.publish(city("shen.li"), resource_code=CODE).status == "published"


def test_an_interface_that_lost_its_address_after_approval_is_not_published(city, sessions):
    workflow.create(city("li.na"), metadata=metadata(format_class="接口", format_type="SOAP",
                                                    access_point="http://10.1.2.3/birth/service"))
    workflow.submit(city("li.na"), resource_code=CODE)
    workflow.approve(city("shen.li"), resource_code=CODE)
    with unit_of_work(sessions) as s:  # what an entry approved before the rule existed looks like
        s.scalar(select(CatalogueEntry).where(CatalogueEntry.resource_code == CODE)).access_point = ""
    with pytest.raises(NoServiceAddress):
        workflow.publish(city("shen.li"), resource_code=CODE)


def test_edit_changes_only_the_fields_given(city):
    workflow.create(city("li.na"), metadata=metadata())
    entry = workflow.edit(city("li.na"), resource_code=CODE, changes={"update_cycle": "每周"})
    assert (entry.update_cycle, entry.name, entry.version) == ("每周", "出生医学证明信息", 2)


def test_edit_accepts_the_shown_entry_back_unchanged(city):
    workflow.create(city("li.na"), metadata=metadata())
    shown = workflow.show(city("li.na"), resource_code=CODE).entry.as_dict()
    entry = workflow.edit(city("li.na"), resource_code=CODE, changes=dict(shown, abstract="更新后的摘要。"))
    assert entry.abstract == "更新后的摘要。"


def test_edit_refuses_to_change_the_platform_fields(city):
    workflow.create(city("li.na"), metadata=metadata())
    with pytest.raises(InvalidMetadata, match="resource_code: read-only") as refused:
        workflow.edit(city("li.na"), resource_code=CODE, changes={"resource_code": "101002/000099"})
    assert "资源代码: 由平台设置, 不能填写或修改" in refused.value.user_message


def test_classification_is_fixed_once_the_code_is_assigned(city):
    workflow.create(city("li.na"), metadata=metadata())
    with pytest.raises(InvalidMetadata, match="classification: fixed once the resource code is assigned"):
        workflow.edit(city("li.na"), resource_code=CODE, changes={"classification": "101001"})


def test_invalid_edit_names_field_and_rule(city):
    workflow.create(city("li.na"), metadata=metadata())
    with pytest.raises(InvalidMetadata, match="sharing_condition: only allowed when sharing_type is 有条件共享"):
        workflow.edit(city("li.na"), resource_code=CODE, changes={"sharing_type": "无条件共享"})


def test_related_code_must_be_visible_to_the_cataloguer(city):
    workflow.create(city("wang.qiang"), metadata=metadata(classification="101001", name="常住人口信息"))
    with pytest.raises(InvalidMetadata, match=r"related_codes\[1\]: must name an existing catalogue resource"):
        workflow.create(city("li.na"), metadata=metadata(related_codes=["101001/000001"]))


# --------------------------------------------------------------------------- review


def test_refusal_requires_a_reason(city):
    workflow.create(city("li.na"), metadata=metadata())
    workflow.submit(city("li.na"), resource_code=CODE)
    with pytest.raises(ReasonRequired, match="reason: required to refuse") as refused:
        workflow.refuse(city("shen.li"), resource_code=CODE, reason="  ")
    assert refused.value.user_message == "请填写理由: 退回必须说明原因。"


def test_a_reason_over_500_characters_is_refused(city):
    workflow.create(city("li.na"), metadata=metadata())
    workflow.submit(city("li.na"), resource_code=CODE)
    with pytest.raises(InvalidInput, match="reason: at most 500 characters") as refused:
        workflow.refuse(city("shen.li"), resource_code=CODE, reason="理" * 501)
    assert refused.value.code == "ReasonTooLong" and "退回理由最多 500 个字" in refused.value.user_message


def test_refused_entry_is_edited_and_resubmitted(city):
    workflow.create(city("li.na"), metadata=metadata())
    workflow.submit(city("li.na"), resource_code=CODE)
    refused = workflow.refuse(city("shen.li"), resource_code=CODE, reason="摘要未说明数据范围")
    assert (refused.status, refused.status_reason) == ("refused", "摘要未说明数据范围")
    workflow.edit(city("li.na"), resource_code=CODE, changes={"abstract": "2010年以来本市签发的出生医学证明信息。"})
    workflow.submit(city("li.na"), resource_code=CODE)
    assert [row[1:3] for row in history(city, "li.na", CODE)] == [
        ("create", "draft"), ("submit", "submitted"), ("refuse", "refused"), ("edit", "draft"),
        ("submit", "submitted")]
    assert history(city, "li.na", CODE)[2][4] == "摘要未说明数据范围"


# --------------------------------------------------------------------------- withdrawal (下架)


def test_withdrawal_requires_a_reason(city):
    published(city)
    with pytest.raises(ReasonRequired, match="reason: required to withdraw"):
        workflow.withdraw(city("li.na"), resource_code=CODE, reason="")


def test_withdrawal_removes_the_service_and_hides_the_entry(city, sessions):
    published(city)
    entry = workflow.withdraw(city("li.na"), resource_code=CODE, reason="数据源系统升级")
    assert (entry.status, entry.status_reason, entry.service_key) == ("withdrawn", "数据源系统升级", None)
    with sessions() as s:
        assert store.get(s, "uddi:wsjw.govshare.local:resource:101002-000001") is None
    with pytest.raises(EntryNotFound):
        workflow.show(city("zhao.min"), resource_code=CODE)


def test_withdrawn_entry_is_edited_and_published_again(city, sessions):
    published(city)
    workflow.withdraw(city("li.na"), resource_code=CODE, reason="数据源系统升级")
    workflow.edit(city("li.na"), resource_code=CODE, changes={"update_cycle": "实时"})
    workflow.submit(city("li.na"), resource_code=CODE)
    workflow.approve(city("shen.li"), resource_code=CODE)
    entry = workflow.publish(city("shen.li"), resource_code=CODE)
    assert (entry.status, entry.version) == ("published", 9)
    with sessions() as s:
        assert store.get(s, entry.service_key, "service") is not None


def test_the_review_queue_says_who_submitted_and_what_an_edit_changes_against_the_published_version(city):
    published(city)
    workflow.withdraw(city("li.na"), resource_code=CODE, reason="增加信息项")
    items = [*metadata()["items"], {"name": "出生医院", "data_type": "C", "length": 100}]
    workflow.edit(city("li.na"), resource_code=CODE, changes={"abstract": "本市医疗机构签发的出生医学证明。",
                                                              "items": items, "open_to_public": False})
    workflow.submit(city("li.na"), resource_code=CODE)
    new = workflow.create(city("wang.qiang"), metadata=metadata(name="出生登记信息")).resource_code
    workflow.submit(city("wang.qiang"), resource_code=new)

    queue = review.review_queue(city("shen.li"))
    assert queue["approved"] == [] and [p.entry.resource_code for p in queue["submitted"]] == [CODE, new]
    edited, first = queue["submitted"]
    assert (edited.submitted_by, edited.published_version, first.published_version) == ("li.na", 4, None)
    assert (first.submitted_by, first.changes) == ("wang.qiang", ())  # never published: all of it is new
    assert [(c.field, c.label) for c in edited.changes] == [("abstract", "资源摘要"), ("items", "信息项")]
    assert edited.changes[1].before == "新生儿姓名 (C, 50); 出生日期 (D)"
    assert edited.changes[1].after == "新生儿姓名 (C, 50); 出生日期 (D); 出生医院 (C, 100)"
    workflow.approve(city("shen.li"), resource_code=CODE)
    [waiting] = review.review_queue(city("root"))["approved"]
    assert (waiting.entry.resource_code, [c.field for c in waiting.changes]) == (CODE, ["abstract", "items"])
    with pytest.raises(NotPermitted):
        review.review_queue(city("li.na"))


# --------------------------------------------------------------------------- visibility


def test_other_departments_see_only_published_entries(city):
    workflow.create(city("li.na"), metadata=metadata())
    workflow.create(city("li.na"), metadata=metadata(name="死亡医学证明信息", classification="101003"))
    workflow.submit(city("li.na"), resource_code="101003/000001")
    workflow.approve(city("shen.li"), resource_code="101003/000001")
    workflow.publish(city("shen.li"), resource_code="101003/000001")
    seen = [e.resource_code for e in search(city("zhao.min")).entries]
    assert seen == ["101003/000001"]


def test_a_department_sees_its_own_drafts(city):
    workflow.create(city("li.na"), metadata=metadata())
    mine = search(city("li.na"), mine=True, chosen={"status": "draft"}).entries
    assert [e.resource_code for e in mine] == [CODE]
    assert search(city("wang.qiang"), mine=True).entries == ()


def test_another_departments_draft_is_not_found(city):
    workflow.create(city("li.na"), metadata=metadata())
    with pytest.raises(EntryNotFound, match="101002/000001") as refused:
        workflow.show(city("wang.qiang"), resource_code=CODE)
    assert refused.value.user_message == "没有资源代码为 101002/000001 的目录条目, 或您无权查看。"


def test_reviewer_and_auditor_see_submitted_entries_of_every_department(city):
    workflow.create(city("li.na"), metadata=metadata())
    workflow.submit(city("li.na"), resource_code=CODE)
    for username in ("shen.li", "sun.yu"):
        waiting = search(city(username), chosen={"status": "submitted"}).entries
        assert [e.resource_code for e in waiting] == [CODE]


def test_search_finds_chinese_substrings_and_counts_facets_the_one_rule_allows(city):
    published(city)
    workflow.create(city("li.na"), metadata=metadata(name="出生医学证明补发信息", classification="101003"))
    found = search(city("zhao.min"), text="出生 证明")
    assert (found.total, [e.resource_code for e in found.entries]) == (1, [CODE])
    assert found.facets["status"] == (("published", "已发布", 1),)
    assert search(city("li.na"), text="出生 证明").total == 2


def test_by_relevance_the_name_that_is_the_text_comes_first_then_a_name_that_begins_with_it(city):
    entries = (("出生医学证明信息", "含登记日期。"), ("婚姻登记信息", "婚姻状况。"), ("登记人员信息", "人员名册。"),
               ("登记", "登记簿。"))  # 101003/000001 to /000004, the reverse of their relevance
    for name, abstract in entries:
        workflow.create(city("li.na"), metadata=metadata(name=name, abstract=abstract, classification="101003"))
    names = [e.name for e in search(city("li.na"), text="登记", sort="relevance").entries]
    assert names == ["登记", "登记人员信息", "婚姻登记信息", "出生医学证明信息"]
    assert [e.name for e in search(city("li.na"), text="登记").entries] == names[::-1]  # by code unless told
    assert [e.name for e in search(city("li.na"), text="婚姻 登记", sort="relevance").entries] == ["婚姻登记信息"]
    # without words, relevance is the resource code's order
    assert [e.name for e in search(city("li.na"), sort="relevance").entries] == names[::-1]


def test_a_page_past_the_last_is_the_last(city):
    published(city)
    found = search(city("zhao.min"), page=9999, page_size=20)
    assert (found.page, found.pages, len(found.entries)) == (1, 1, 1)


def test_history_is_kept_from_other_departments(city):
    published(city)
    with pytest.raises(NotPermitted, match="history"):
        history(city, "zhao.min", CODE)
    assert workflow.show(city("zhao.min"), resource_code=CODE).history is None
    assert len(workflow.show(city("sun.yu"), resource_code=CODE).history) == 4


# --------------------------------------------------------------------------- illegal transitions and permissions


def test_approving_a_draft_is_refused_naming_status_and_allowed_actions(city):
    workflow.create(city("li.na"), metadata=metadata())
    with pytest.raises(IllegalTransition) as caught:
        workflow.approve(city("shen.li"), resource_code=CODE)
    assert str(caught.value) == (
        "cannot approve 101002/000001: it is draft; from draft the allowed actions are: edit, submit")
    assert caught.value.user_message == (
        "目录条目 101002/000001 当前为“草稿”, 不能审核通过; 此状态下可以: 修改、提交审核。")


def test_publishing_before_approval_is_refused(city):
    workflow.create(city("li.na"), metadata=metadata())
    workflow.submit(city("li.na"), resource_code=CODE)
    with pytest.raises(IllegalTransition, match="it is submitted"):
        workflow.publish(city("shen.li"), resource_code=CODE)


def test_published_entry_cannot_be_edited_without_withdrawal(city):
    published(city)
    with pytest.raises(IllegalTransition, match="allowed actions are: withdraw"):
        workflow.edit(city("li.na"), resource_code=CODE, changes={"update_cycle": "每周"})


def test_consumer_cannot_catalogue(city, sessions):
    with pytest.raises(NotPermitted, match="cataloguer or provider role") as refused:
        workflow.create(city("zhao.min"), metadata=metadata())
    assert refused.value.user_message == "编目需要目录管理员或提供方角色, 您的角色 (使用方) 不能办理。"
    assert stored(sessions) is None


def test_cataloguer_cannot_edit_another_departments_entry(city):
    published(city)
    workflow.withdraw(city("li.na"), resource_code=CODE, reason="数据源系统升级")
    with pytest.raises(EntryNotFound):
        workflow.edit(city("wang.qiang"), resource_code=CODE, changes={"update_cycle": "每周"})


def test_cataloguer_cannot_withdraw_another_departments_entry(city):
    published(city)
    with pytest.raises(NotPermitted, match="provider department") as refused:
        workflow.withdraw(city("wang.qiang"), resource_code=CODE, reason="不需要了")
    assert refused.value.user_message == f"目录条目 {CODE} 属于其他部门, 只有提供部门才能下架。"


def test_cataloguer_cannot_approve(city):
    workflow.create(city("li.na"), metadata=metadata())
    workflow.submit(city("li.na"), resource_code=CODE)
    with pytest.raises(NotPermitted, match="reviewer role"):
        workflow.approve(city("li.na"), resource_code=CODE)


def test_admin_catalogues_for_a_named_department(city):
    entry = workflow.create(city("root"), metadata=metadata(), provider="gaj")
    assert (entry.provider, entry.provider_code) == ("gaj", credit_code(2))


def test_cataloguer_cannot_catalogue_for_another_department(city):
    with pytest.raises(NotPermitted, match="another department"):
        workflow.create(city("li.na"), metadata=metadata(), provider="gaj")


def test_allowed_actions_follow_status_and_role(city):
    workflow.create(city("li.na"), metadata=metadata())
    workflow.submit(city("li.na"), resource_code=CODE)
    assert workflow.show(city("li.na"), resource_code=CODE).actions == ()
    assert workflow.show(city("shen.li"), resource_code=CODE).actions == ("approve", "refuse")


def test_another_departments_entry_says_why_it_may_not_be_edited(city):
    published(city)
    view = workflow.show(city("wang.qiang"), resource_code=CODE)
    assert view.actions == ()
    assert view.refusals["edit"] == f"目录条目 {CODE} 属于其他部门, 只有提供部门才能修改。"
    assert "edit" not in workflow.show(city("li.na"), resource_code=CODE).refusals


# --------------------------------------------------------------------------- the UDDI businessService


def test_service_element_is_valid_uddi_with_every_catalogue_reference(city, sessions, settings):
    workflow.create(city("li.na"), metadata=metadata(abstract="长" * 300))
    with sessions() as s:
        el = service_element(s.scalar(select(CatalogueEntry).where(CatalogueEntry.resource_code == CODE)), settings)
    uddi_schema().assertValid(el)
    refs = {(r.get("tModelKey"), r.get("keyValue")) for r in el.iter(store.q("keyedReference"))}
    assert refs == {
        (taxonomies.CLASSIFICATION, "1"), (taxonomies.CLASSIFICATION, "101"), (taxonomies.CLASSIFICATION, "101002"),
        (taxonomies.SHARING_TYPE, "有条件共享"), (taxonomies.SHARING_METHOD, "接口"), (taxonomies.UPDATE_CYCLE, "每日"),
        (taxonomies.FORMAT, "数据库/oracle"), (taxonomies.OPEN_ATTRIBUTE, "否"), (taxonomies.RESOURCE_CODE, CODE),
        (taxonomies.PROVIDER_CODE, credit_code(1)),
    }
    assert el.get("serviceKey") == "uddi:wsjw.govshare.local:resource:101002-000001"
    assert len(el.find(store.q("description")).text) == 255


def test_service_element_names_the_resource_in_chinese(city, sessions, settings):
    workflow.create(city("li.na"), metadata=metadata())
    with sessions() as s:
        el = service_element(s.scalar(select(CatalogueEntry).where(CatalogueEntry.resource_code == CODE)), settings)
    name = el.find(store.q("name"))
    assert (name.text, name.get("{http://www.w3.org/XML/1998/namespace}lang")) == ("出生医学证明信息", "zh-CN")
    assert [etree.QName(c).localname for c in el] == ["name", "description", "categoryBag"]


# --------------------------------------------------------------------------- command line


def run_cli(sessions, settings, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.handler(args, sessions, settings)


def test_cli_creates_submits_and_lists(city, sessions, settings, tmp_path, capsys):
    path = tmp_path / "birth.json"
    path.write_text(json.dumps(metadata(), ensure_ascii=False), encoding="utf-8")
    assert run_cli(sessions, settings, "catalogue", "create", "--user", "li.na", str(path)) == 0
    assert run_cli(sessions, settings, "catalogue", "submit", "--user", "li.na", CODE) == 0
    assert run_cli(sessions, settings, "catalogue", "list", "--user", "li.na", "--mine") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == CODE
    assert out[-1] == f"{CODE}\tsubmitted\twsjw\t出生医学证明信息"


def test_cli_admin_names_the_provider_in_the_file(city, sessions, settings, tmp_path, capsys):
    path = tmp_path / "birth.json"
    path.write_text(json.dumps(dict(metadata(), provider="gaj"), ensure_ascii=False), encoding="utf-8")
    assert run_cli(sessions, settings, "catalogue", "create", "--user", "root", str(path)) == 0
    assert workflow.show(city("root"), resource_code=CODE).entry.provider == "gaj"


def test_cli_refusal_without_reason_is_a_usage_error(city, sessions, settings):
    with pytest.raises(SystemExit):
        run_cli(sessions, settings, "catalogue", "refuse", "--user", "shen.li", CODE)


def test_cli_reports_a_refused_action_on_stderr_with_exit_code_2(city, sessions, settings, capsys):
    assert run_cli(sessions, settings, "catalogue", "approve", "--user", "shen.li", "101002/000404") == 2
    assert capsys.readouterr().err == "error: no catalogue entry 101002/000404 (资源代码) is visible to you\n"


def test_cli_unknown_user_is_an_error(city, sessions, settings, capsys):
    assert run_cli(sessions, settings, "catalogue", "list", "--user", "nobody") == 2
    assert "no user 'nobody'" in capsys.readouterr().err


def test_every_catalogue_command_leaves_an_audit_entry_with_channel_cli(city, sessions, settings, tmp_path):
    path = tmp_path / "birth.json"
    path.write_text(json.dumps(metadata(), ensure_ascii=False), encoding="utf-8")
    commands = [("create", "--user", "li.na", str(path)), ("show", "--user", "li.na", CODE),
                ("list", "--user", "li.na"), ("submit", "--user", "li.na", CODE),
                ("refuse", "--user", "shen.li", CODE, "--reason", "摘要不全"),
                ("edit", "--user", "li.na", CODE, str(path)),
                ("submit", "--user", "li.na", CODE), ("approve", "--user", "shen.li", CODE),
                ("publish", "--user", "shen.li", CODE), ("withdraw", "--user", "li.na", CODE, "--reason", "停用"),
                ("history", "--user", "li.na", CODE), ("approve", "--user", "zhao.min", CODE)]
    env = {"GOVSHARE_VAR": str(settings.var_dir), "PATH": "/usr/bin:/bin"}
    for number, command in enumerate(commands):
        argv = ["--db-url", settings.db_url, "catalogue", *command]
        if number == 0:  # the first as the installed command's process, the others run by its main()
            run = subprocess.run([sys.executable, "-m", "server", *argv], cwd=ROOT, capture_output=True, text=True,
                                 timeout=120, env=env)
        else:
            run = govshare_here(*argv, env=env, cwd=ROOT)
        assert run.returncode == (2 if command[2] == "zhao.min" else 0), (command, run.stderr)
    with sessions() as s:
        entries = [(e.operation, e.user, e.channel, e.result) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.operation.like("catalogue.%")).order_by(AuditEntry.seq))]
    assert [(op, user, result) for op, user, _channel, result in entries] == [
        (f"catalogue.{c[0]}" if c[0] != "list" else "catalogue.search", c[2],
         "refused:NotPermitted" if c[2] == "zhao.min" else "ok") for c in commands]
    assert {channel for _op, _user, channel, _result in entries} == {"cli"}
