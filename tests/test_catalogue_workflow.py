"""The catalogue workflow 编目 → 审核 → 发布: versions, refusal, withdrawal, visibility, who may act."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import stdnum.cn.uscc
from lxml import etree
from sqlalchemy import select

import wsdl as wsdl_package
from directory import taxonomies
from directory.accounts import create_user, find_user, register_department
from directory.catalogue import cli, workflow
from directory.catalogue.uddi_mapping import service_element
from directory.uddi import store
from directory.wsdl_publishing import publish_wsdl
from registry.db import unit_of_work
from registry.errors import (
    EntryNotFound,
    IllegalTransition,
    InvalidMetadata,
    NotPermitted,
    PublicationFailed,
    ReasonRequired,
)
from registry.models import UddiKeyedReference
from wsdl.oasis import uddi_schema

CODE = "101002/000001"


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
    """Two departments, each with a cataloguer, a consumer in the second, and the platform's reviewer."""
    with unit_of_work(sessions) as s:
        health = register_department(s, settings, code="wsjw", name="市卫生健康委员会", credit_code=credit_code(1))
        police = register_department(s, settings, code="gaj", name="市公安局", credit_code=credit_code(2))
        create_user(s, username="li.na", password="pw", department=health, roles=("cataloguer",))
        create_user(s, username="wang.qiang", password="pw", department=police, roles=("cataloguer",))
        create_user(s, username="zhao.min", password="pw", department=police, roles=("consumer",))
        create_user(s, username="shen.li", password="pw", department=None, roles=("reviewer",))
        create_user(s, username="root", password="pw", department=None, roles=("admin",))
    return sessions


def act(sessions, username: str, action, *args):
    with unit_of_work(sessions) as s:
        return action(s, find_user(s, username), *args)


def publish(sessions, settings, username: str, code: str):
    with unit_of_work(sessions) as s:
        return workflow.publish_entry(s, settings, find_user(s, username), code)


def withdraw(sessions, settings, username: str, code: str, reason: str):
    with unit_of_work(sessions) as s:
        return workflow.withdraw_entry(s, settings, find_user(s, username), code, reason)


def history(sessions, username: str, code: str) -> list[tuple]:
    with unit_of_work(sessions) as s:
        return [(v.version, v.action, v.status, v.changed_by, v.reason)
                for v in workflow.entry_history(s, find_user(s, username), code)]


def published(sessions, settings) -> None:
    act(sessions, "li.na", workflow.create_entry, metadata())
    act(sessions, "li.na", workflow.submit_entry, CODE)
    act(sessions, "shen.li", workflow.approve_entry, CODE)
    publish(sessions, settings, "shen.li", CODE)


# --------------------------------------------------------------------------- cataloguing


def test_created_entry_is_a_draft_with_generated_code_and_provider_code(city):
    entry = act(city, "li.na", workflow.create_entry, metadata())
    assert (entry.resource_code, entry.status, entry.category) == (CODE, "draft", "1")
    assert entry.provider_code == credit_code(1)
    assert [(i.position, i.name, i.data_type, i.length) for i in entry.items] == [
        (1, "新生儿姓名", "C", 50), (2, "出生日期", "D", None)]


def test_creation_is_recorded_as_version_one_with_who_and_when(city):
    act(city, "li.na", workflow.create_entry, metadata())
    with unit_of_work(city) as s:
        [v] = workflow.entry_history(s, find_user(s, "li.na"), CODE)
        assert (v.version, v.action, v.status, v.changed_by) == (1, "create", "draft", "li.na")
        assert v.changed_at is not None
        assert v.snapshot["resource_code"] == CODE
        assert v.snapshot["items"][0] == {"name": "新生儿姓名", "data_type": "C", "length": 50}


def test_full_workflow_records_every_version(city, settings):
    published(city, settings)
    assert history(city, "li.na", CODE) == [
        (1, "create", "draft", "li.na", ""),
        (2, "submit", "submitted", "li.na", ""),
        (3, "approve", "approved", "shen.li", ""),
        (4, "publish", "published", "shen.li", ""),
    ]


def test_publishing_sets_the_publish_date_and_saves_the_service(city, settings):
    published(city, settings)
    with unit_of_work(city) as s:
        entry = workflow.get_entry(s, find_user(s, "zhao.min"), CODE)
        assert entry.publish_date is not None
        assert entry.service_key == "uddi:wsjw.govshare.local:resource:101002-000001"
        row = store.get(s, entry.service_key, "service")
        assert row is not None and row.parent_key == "uddi:wsjw.govshare.local:business"


def test_published_service_is_found_by_its_base_class(city, settings):
    published(city, settings)
    with unit_of_work(city) as s:
        keys = set(s.scalars(select(UddiKeyedReference.entity_key).where(
            UddiKeyedReference.tmodel_key == taxonomies.CLASSIFICATION, UddiKeyedReference.key_value == "101")))
    assert keys == {"uddi:wsjw.govshare.local:resource:101002-000001"}


def test_entry_with_a_wsdl_is_published_with_a_binding_per_port(city, settings):
    wsdl = Path(wsdl_package.__file__).parent / "contracts" / "population-query.wsdl"
    with unit_of_work(city) as s:
        publish_wsdl(s, settings, find_user(s, "li.na").department, path="wsjw/birth.wsdl",
                     content=wsdl.read_bytes(), authorized_name="li.na", map_services=False)
    act(city, "li.na", workflow.create_entry, metadata(wsdl_path="wsjw/birth.wsdl"))
    act(city, "li.na", workflow.submit_entry, CODE)
    act(city, "shen.li", workflow.approve_entry, CODE)
    entry = publish(city, settings, "shen.li", CODE)
    with unit_of_work(city) as s:
        [service] = store.compose(s, [store.get(s, entry.service_key)])
    uddi_schema().assertValid(service)
    templates = service.findall(f"{store.q('bindingTemplates')}/{store.q('bindingTemplate')}")
    assert templates and all(t.find(store.q("accessPoint")) is not None for t in templates)


def test_entry_whose_wsdl_is_not_in_the_repository_is_not_published(city, settings):
    act(city, "li.na", workflow.create_entry, metadata(wsdl_path="wsjw/missing.wsdl"))
    act(city, "li.na", workflow.submit_entry, CODE)
    act(city, "shen.li", workflow.approve_entry, CODE)
    with pytest.raises(PublicationFailed, match="wsjw/missing.wsdl"):
        publish(city, settings, "shen.li", CODE)


def test_edit_changes_only_the_fields_given(city):
    act(city, "li.na", workflow.create_entry, metadata())
    entry = act(city, "li.na", workflow.edit_entry, CODE, {"update_cycle": "每周"})
    assert (entry.update_cycle, entry.name, entry.version) == ("每周", "出生医学证明信息", 2)


def test_edit_accepts_the_shown_entry_back_unchanged(city):
    act(city, "li.na", workflow.create_entry, metadata())
    with unit_of_work(city) as s:
        shown = workflow.snapshot(workflow.get_entry(s, find_user(s, "li.na"), CODE))
    entry = act(city, "li.na", workflow.edit_entry, CODE, dict(shown, abstract="更新后的摘要。"))
    assert entry.abstract == "更新后的摘要。"


def test_edit_refuses_to_change_the_platform_fields(city):
    act(city, "li.na", workflow.create_entry, metadata())
    with pytest.raises(InvalidMetadata, match="resource_code: read-only"):
        act(city, "li.na", workflow.edit_entry, CODE, {"resource_code": "101002/000099"})


def test_classification_is_fixed_once_the_code_is_assigned(city):
    act(city, "li.na", workflow.create_entry, metadata())
    with pytest.raises(InvalidMetadata, match="classification: fixed once the resource code is assigned"):
        act(city, "li.na", workflow.edit_entry, CODE, {"classification": "101001"})


def test_invalid_edit_names_field_and_rule(city):
    act(city, "li.na", workflow.create_entry, metadata())
    with pytest.raises(InvalidMetadata, match="sharing_condition: only allowed when sharing_type is 有条件共享"):
        act(city, "li.na", workflow.edit_entry, CODE, {"sharing_type": "无条件共享"})


def test_related_code_must_be_visible_to_the_cataloguer(city):
    act(city, "wang.qiang", workflow.create_entry, metadata(classification="101001", name="常住人口信息"))
    with pytest.raises(InvalidMetadata, match=r"related_codes\[1\]: must name an existing catalogue resource"):
        act(city, "li.na", workflow.create_entry, metadata(related_codes=["101001/000001"]))


# --------------------------------------------------------------------------- review


def test_refusal_requires_a_reason(city):
    act(city, "li.na", workflow.create_entry, metadata())
    act(city, "li.na", workflow.submit_entry, CODE)
    with pytest.raises(ReasonRequired, match="reason: required to refuse"):
        act(city, "shen.li", workflow.refuse_entry, CODE, "  ")


def test_refused_entry_is_edited_and_resubmitted(city):
    act(city, "li.na", workflow.create_entry, metadata())
    act(city, "li.na", workflow.submit_entry, CODE)
    refused = act(city, "shen.li", workflow.refuse_entry, CODE, "摘要未说明数据范围")
    assert (refused.status, refused.status_reason) == ("refused", "摘要未说明数据范围")
    act(city, "li.na", workflow.edit_entry, CODE, {"abstract": "2010年以来本市签发的出生医学证明信息。"})
    act(city, "li.na", workflow.submit_entry, CODE)
    assert [row[1:3] for row in history(city, "li.na", CODE)] == [
        ("create", "draft"), ("submit", "submitted"), ("refuse", "refused"), ("edit", "draft"),
        ("submit", "submitted")]
    assert history(city, "li.na", CODE)[2][4] == "摘要未说明数据范围"


# --------------------------------------------------------------------------- withdrawal (下架)


def test_withdrawal_requires_a_reason(city, settings):
    published(city, settings)
    with pytest.raises(ReasonRequired, match="reason: required to withdraw"):
        withdraw(city, settings, "li.na", CODE, "")


def test_withdrawal_removes_the_service_and_hides_the_entry(city, settings):
    published(city, settings)
    entry = withdraw(city, settings, "li.na", CODE, "数据源系统升级")
    assert (entry.status, entry.status_reason, entry.service_key) == ("withdrawn", "数据源系统升级", None)
    with unit_of_work(city) as s:
        assert store.get(s, "uddi:wsjw.govshare.local:resource:101002-000001") is None
        with pytest.raises(EntryNotFound):
            workflow.get_entry(s, find_user(s, "zhao.min"), CODE)


def test_withdrawn_entry_is_edited_and_published_again(city, settings):
    published(city, settings)
    withdraw(city, settings, "li.na", CODE, "数据源系统升级")
    act(city, "li.na", workflow.edit_entry, CODE, {"update_cycle": "实时"})
    act(city, "li.na", workflow.submit_entry, CODE)
    act(city, "shen.li", workflow.approve_entry, CODE)
    entry = publish(city, settings, "shen.li", CODE)
    assert (entry.status, entry.version) == ("published", 9)
    with unit_of_work(city) as s:
        assert store.get(s, entry.service_key, "service") is not None


# --------------------------------------------------------------------------- visibility


def test_other_departments_see_only_published_entries(city, settings):
    act(city, "li.na", workflow.create_entry, metadata())
    act(city, "li.na", workflow.create_entry, metadata(name="死亡医学证明信息", classification="101003"))
    act(city, "li.na", workflow.submit_entry, "101003/000001")
    act(city, "shen.li", workflow.approve_entry, "101003/000001")
    publish(city, settings, "shen.li", "101003/000001")
    with unit_of_work(city) as s:
        seen = [e.resource_code for e in workflow.visible_entries(s, find_user(s, "zhao.min"))]
    assert seen == ["101003/000001"]


def test_a_department_sees_its_own_drafts(city):
    act(city, "li.na", workflow.create_entry, metadata())
    with unit_of_work(city) as s:
        mine = workflow.visible_entries(s, find_user(s, "li.na"), mine=True, status="draft")
        assert [e.resource_code for e in mine] == [CODE]


def test_another_departments_draft_is_not_found(city):
    act(city, "li.na", workflow.create_entry, metadata())
    with pytest.raises(EntryNotFound, match="101002/000001"):
        act(city, "wang.qiang", workflow.get_entry, CODE)


def test_reviewer_sees_submitted_entries_of_every_department(city):
    act(city, "li.na", workflow.create_entry, metadata())
    act(city, "li.na", workflow.submit_entry, CODE)
    with unit_of_work(city) as s:
        waiting = workflow.visible_entries(s, find_user(s, "shen.li"), status="submitted")
        assert [e.resource_code for e in waiting] == [CODE]


def test_history_is_kept_from_other_departments(city, settings):
    published(city, settings)
    with pytest.raises(NotPermitted, match="history"):
        history(city, "zhao.min", CODE)


# --------------------------------------------------------------------------- illegal transitions and permissions


def test_approving_a_draft_is_refused_naming_status_and_allowed_actions(city):
    act(city, "li.na", workflow.create_entry, metadata())
    with pytest.raises(IllegalTransition) as caught:
        act(city, "shen.li", workflow.approve_entry, CODE)
    assert str(caught.value) == (
        "cannot approve 101002/000001: it is draft; from draft the allowed actions are: edit, submit")


def test_publishing_before_approval_is_refused(city, settings):
    act(city, "li.na", workflow.create_entry, metadata())
    act(city, "li.na", workflow.submit_entry, CODE)
    with pytest.raises(IllegalTransition, match="it is submitted"):
        publish(city, settings, "shen.li", CODE)


def test_published_entry_cannot_be_edited_without_withdrawal(city, settings):
    published(city, settings)
    with pytest.raises(IllegalTransition, match="allowed actions are: withdraw"):
        act(city, "li.na", workflow.edit_entry, CODE, {"update_cycle": "每周"})


def test_consumer_cannot_catalogue(city):
    with pytest.raises(NotPermitted, match="cataloguer or provider role"):
        act(city, "zhao.min", workflow.create_entry, metadata())


def test_cataloguer_cannot_edit_another_departments_entry(city, settings):
    published(city, settings)
    withdraw(city, settings, "li.na", CODE, "数据源系统升级")
    with pytest.raises(EntryNotFound):
        act(city, "wang.qiang", workflow.edit_entry, CODE, {"update_cycle": "每周"})


def test_cataloguer_cannot_withdraw_another_departments_entry(city, settings):
    published(city, settings)
    with pytest.raises(NotPermitted, match="provider department"):
        withdraw(city, settings, "wang.qiang", CODE, "不需要了")


def test_cataloguer_cannot_approve(city):
    act(city, "li.na", workflow.create_entry, metadata())
    act(city, "li.na", workflow.submit_entry, CODE)
    with pytest.raises(NotPermitted, match="reviewer role"):
        act(city, "li.na", workflow.approve_entry, CODE)


def test_admin_catalogues_for_a_named_department(city):
    entry = act(city, "root", workflow.create_entry, metadata(provider="gaj"))
    assert entry.provider_code == credit_code(2)


def test_cataloguer_cannot_catalogue_for_another_department(city):
    with pytest.raises(NotPermitted, match="another department"):
        act(city, "li.na", workflow.create_entry, metadata(provider="gaj"))


def test_allowed_actions_follow_status_and_role(city):
    act(city, "li.na", workflow.create_entry, metadata())
    act(city, "li.na", workflow.submit_entry, CODE)
    with unit_of_work(city) as s:
        entry = workflow.get_entry(s, find_user(s, "li.na"), CODE)
        assert workflow.allowed_actions(find_user(s, "li.na"), entry) == []
        assert workflow.allowed_actions(find_user(s, "shen.li"), entry) == ["approve", "refuse"]


# --------------------------------------------------------------------------- the UDDI businessService


def test_service_element_is_valid_uddi_with_every_catalogue_reference(city, settings):
    act(city, "li.na", workflow.create_entry, metadata(abstract="长" * 300))
    with unit_of_work(city) as s:
        entry = workflow.get_entry(s, find_user(s, "li.na"), CODE)
        el = service_element(entry, settings)
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


def test_service_element_names_the_resource_in_chinese(city, settings):
    act(city, "li.na", workflow.create_entry, metadata())
    with unit_of_work(city) as s:
        el = service_element(workflow.get_entry(s, find_user(s, "li.na"), CODE), settings)
    name = el.find(store.q("name"))
    assert (name.text, name.get("{http://www.w3.org/XML/1998/namespace}lang")) == ("出生医学证明信息", "zh-CN")
    assert [etree.QName(c).localname for c in el] == ["name", "description", "categoryBag"]


# --------------------------------------------------------------------------- command line


def run_cli(sessions, settings, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.handler(args, sessions, settings)


def test_cli_creates_submits_and_lists(city, settings, tmp_path, capsys):
    path = tmp_path / "birth.json"
    path.write_text(json.dumps(metadata(), ensure_ascii=False), encoding="utf-8")
    assert run_cli(city, settings, "catalogue", "create", "--user", "li.na", str(path)) == 0
    assert run_cli(city, settings, "catalogue", "submit", "--user", "li.na", CODE) == 0
    assert run_cli(city, settings, "catalogue", "list", "--user", "li.na", "--mine") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == CODE
    assert out[-1] == f"{CODE}\tsubmitted\twsjw\t出生医学证明信息"


def test_cli_refusal_without_reason_is_a_usage_error(city, settings):
    with pytest.raises(SystemExit):
        run_cli(city, settings, "catalogue", "refuse", "--user", "shen.li", CODE)


def test_cli_reports_a_refused_action_on_stderr_with_exit_code_2(city, settings, capsys):
    assert run_cli(city, settings, "catalogue", "approve", "--user", "shen.li", "101002/000404") == 2
    assert capsys.readouterr().err == "error: no catalogue entry 101002/000404 (资源代码) is visible to you\n"


def test_cli_unknown_user_is_an_error(city, settings, capsys):
    assert run_cli(city, settings, "catalogue", "list", "--user", "nobody") == 2
    assert "no user 'nobody'" in capsys.readouterr().err
