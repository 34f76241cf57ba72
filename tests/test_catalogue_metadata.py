"""Catalogue metadata (核心元数据): what is accepted, and how each broken rule is refused.

Every refusal names the field and the rule, in English and in Chinese (the field's label and
the rule in words, for the portal); all broken rules are reported together.
"""

from __future__ import annotations

from datetime import date

import pytest
import stdnum.cn.uscc
from sqlalchemy import func, select

from directory.accounts import create_user, register_department
from directory.catalogue import classification, workflow
from directory.catalogue.metadata import MAX_LENGTHS, REQUIRED, field_label, validate_metadata
from registry.db import unit_of_work
from registry.errors import InvalidMetadata
from registry.models import CatalogueEntry
from tests.conftest import as_user


def credit_code(n: int) -> str:
    body = f"113301000{n:08d}"
    return body + stdnum.cn.uscc.calc_check_digit(body)


PROVIDER = credit_code(1)


def valid(**changes) -> dict:
    data = {
        "classification": "101002",
        "name": "出生医学证明信息",
        "provider_unit": "妇幼健康科",
        "abstract": "本市医疗机构签发的出生医学证明信息。",
        "format_class": "数据库",
        "format_type": "oracle",
        "items": [{"name": "新生儿姓名", "data_type": "C", "length": 50}, {"name": "出生日期", "data_type": "D"}],
        "sharing_type": "无条件共享",
        "sharing_method": "接口",
        "open_to_public": False,
        "update_cycle": "每日",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def refusal(data: dict, **kwargs) -> InvalidMetadata:
    with pytest.raises(InvalidMetadata) as caught:
        validate_metadata(data, provider_code=kwargs.pop("provider_code", PROVIDER), **kwargs)
    return caught.value


def assert_refused(data: dict, field: str, rule_part: str, **kwargs) -> None:
    exc = refusal(data, **kwargs)
    rule = exc.rule_for(field)
    assert rule is not None, f"{field} not refused; got {exc}"
    assert rule_part in rule
    assert f"{field}: {rule}" in str(exc)


# --------------------------------------------------------------------------- accepted


def test_valid_metadata_is_accepted():
    meta = validate_metadata(valid(), provider_code=PROVIDER)
    assert meta.classification == "101002"
    assert [i.name for i in meta.items] == ["新生儿姓名", "出生日期"]
    assert meta.items[1].length is None


def test_format_type_is_stored_in_its_canonical_spelling():
    assert validate_metadata(valid(format_type="ORACLE"), provider_code=PROVIDER).format_type == "oracle"


def test_custom_format_allows_any_type():
    meta = validate_metadata(valid(format_class="自定义", format_type="shapefile"), provider_code=PROVIDER)
    assert (meta.format_class, meta.format_type) == ("自定义", "shapefile")


def test_data_type_may_be_given_by_its_chinese_name_or_in_lower_case():
    items = [{"name": "姓名", "data_type": "字符型", "length": 30}, {"name": "年龄", "data_type": "i"}]
    meta = validate_metadata(valid(items=items), provider_code=PROVIDER)
    assert [i.data_type for i in meta.items] == ["C", "I"]


def test_open_attribute_accepts_yes_and_no_in_chinese():
    meta = validate_metadata(valid(open_to_public="是", open_condition="无条件开放"), provider_code=PROVIDER)
    assert meta.open_to_public is True


def test_publish_date_is_parsed():
    assert validate_metadata(valid(publish_date="2024-05-01"), provider_code=PROVIDER).publish_date == date(2024, 5, 1)


# --------------------------------------------------------------------------- refused


@pytest.mark.parametrize("field", REQUIRED)
def test_each_required_field_is_refused_when_missing(field):
    data = valid()
    data.pop(field)
    assert_refused(data, field, "required")


def test_blank_text_counts_as_missing():
    assert_refused(valid(name="   "), "name", "required")


def test_unknown_field_is_refused():
    assert_refused(valid(sharing_typ="无条件共享"), "sharing_typ", "unknown field")


def test_text_field_given_a_number_is_refused():
    assert_refused(valid(abstract=42), "abstract", "must be text")


def test_name_longer_than_the_column_is_refused():
    assert_refused(valid(name="人" * 201), "name", "at most 200 characters")


def test_an_abstract_of_five_thousand_characters_is_refused():
    exc = refusal(valid(abstract="长" * 5000))
    assert exc.rule_for("abstract") == "at most 1000 characters"
    [error] = exc.errors
    assert error.user_message == "资源摘要: 最多 1000 个字 (现有 5000 个), 请精简"


@pytest.mark.parametrize("field", sorted(MAX_LENGTHS))
def test_every_text_field_has_a_length_limit(field):
    limit = MAX_LENGTHS[field]
    assert_refused(valid(**{field: "x" * (limit + 1)}), field, f"at most {limit} characters")


def test_text_at_its_limit_is_accepted():
    meta = validate_metadata(valid(name="名" * 200, abstract="摘" * 1000, sharing_type="有条件共享",
                                   sharing_condition="条" * 500), provider_code=PROVIDER)
    assert (len(meta.name), len(meta.abstract), len(meta.sharing_condition)) == (200, 1000, 500)


def test_each_broken_rule_reads_in_chinese_with_the_fields_label():
    exc = refusal(valid(name="", publish_date="2026-02-30", format_class="电子文件", format_type="WebService",
                        items=[{"name": "姓名", "data_type": "C", "length": "abc"}]))
    zh = {e.field: e.user_message for e in exc.errors}
    assert zh["name"] == "资源名称: 必填"
    assert zh["publish_date"].startswith("发布日期: 须为实际存在的日期") and "2026-02-30" in zh["publish_date"]
    assert zh["format_type"].startswith("格式类型: 格式分类“电子文件”的格式类型须为 OFD")
    assert zh["items[1].length"] == "信息项 1 的长度: 字符型的长度须为 1 到 4000 之间的整数"
    assert exc.user_message.startswith("目录元数据有 4 处需要修改: 资源名称: 必填; ")
    english = ("must", "required", "got", "characters", "format_class", "data_type")
    assert not [e.zh for e in exc.errors if any(word in e.zh for word in english)]


def test_field_labels_name_the_cell_of_an_information_item():
    assert field_label("abstract") == "资源摘要"
    assert field_label("items[2].data_type") == "信息项 2 的数据类型"
    assert field_label("related_codes[3]") == "关联资源代码第 3 个"


def test_unknown_classification_is_refused():
    assert_refused(valid(classification="199"), "classification", "classification tree")


def test_bare_category_is_too_coarse_to_classify_under():
    assert_refused(valid(classification="1"), "classification", "not a bare 类")


def test_bad_credit_code_is_refused():
    bad = PROVIDER[:-1] + ("0" if PROVIDER[-1] != "0" else "1")
    assert_refused(valid(), "provider_code", "统一社会信用代码", provider_code=bad)


@pytest.mark.parametrize("odd", ["", "91-ä", "I" * 18])
def test_malformed_credit_code_is_refused_not_crashed_on(odd):
    assert_refused(valid(), "provider_code", "统一社会信用代码", provider_code=odd)


def test_unknown_format_class_is_refused():
    assert_refused(valid(format_class="纸质"), "format_class", "must be one of")


def test_format_type_outside_its_class_is_refused():
    assert_refused(valid(format_class="电子表格", format_type="pdf"), "format_type", "must be a type of format_class")


def test_items_are_required():
    assert_refused(valid(items=[]), "items", "required")


def test_bad_data_type_is_refused():
    assert_refused(valid(items=[{"name": "姓名", "data_type": "X", "length": 10}]), "items[1].data_type",
                   "must be one of C N Y D T L M G B I F")


def test_character_item_needs_a_length():
    assert_refused(valid(items=[{"name": "姓名", "data_type": "C"}]), "items[1].length", "required for data_type C")


@pytest.mark.parametrize("length", [0, 4001, "十", True])
def test_character_length_outside_1_to_4000_is_refused(length):
    assert_refused(valid(items=[{"name": "姓名", "data_type": "C", "length": length}]), "items[1].length",
                   "from 1 to 4000")


def test_numeric_length_above_38_digits_is_refused():
    assert_refused(valid(items=[{"name": "金额", "data_type": "N", "length": 39}]), "items[1].length", "from 1 to 38")


def test_length_of_a_fixed_size_type_is_refused():
    assert_refused(valid(items=[{"name": "出生日期", "data_type": "D", "length": 8}]), "items[1].length",
                   "not allowed for data_type D")


def test_item_names_must_be_unique():
    items = [{"name": "姓名", "data_type": "C", "length": 10}, {"name": "姓名", "data_type": "C", "length": 20}]
    assert_refused(valid(items=items), "items[2].name", "unique")


def test_unknown_item_field_is_refused():
    assert_refused(valid(items=[{"name": "姓名", "data_type": "C", "length": 10, "unit": "个"}]), "items[1].unit",
                   "unknown field")


def test_unknown_sharing_type_is_refused():
    assert_refused(valid(sharing_type="部分共享"), "sharing_type", "无条件共享 / 有条件共享 / 不予共享")


def test_conditional_sharing_without_condition_is_refused():
    exc = refusal(valid(sharing_type="有条件共享"))
    assert "sharing_condition: required when sharing_type is 有条件共享" in str(exc)


def test_condition_on_unconditional_sharing_is_refused():
    assert_refused(valid(sharing_condition="仅限公安"), "sharing_condition",
                   "only allowed when sharing_type is 有条件共享")


def test_not_shared_without_legal_basis_is_refused():
    exc = refusal(valid(sharing_type="不予共享", sharing_method=""))
    assert "not_shared_basis: required when sharing_type is 不予共享" in str(exc)


def test_not_shared_resource_has_no_sharing_method():
    data = valid(sharing_type="不予共享", not_shared_basis="《中华人民共和国统计法》第二十五条")
    assert_refused(data, "sharing_method", "not allowed when sharing_type is 不予共享")


def test_not_shared_resource_with_basis_and_no_method_is_accepted():
    data = valid(sharing_type="不予共享", not_shared_basis="《中华人民共和国统计法》第二十五条", sharing_method=None)
    assert validate_metadata(data, provider_code=PROVIDER).sharing_method == ""


def test_shared_resource_needs_a_sharing_method():
    assert_refused(valid(sharing_method=None), "sharing_method", "required when sharing_type is 无条件共享")


def test_unknown_sharing_method_is_refused():
    assert_refused(valid(sharing_method="传真"), "sharing_method", "must be one of")


def test_not_shared_resource_cannot_be_open_to_the_public():
    data = valid(sharing_type="不予共享", not_shared_basis="依据", sharing_method=None, open_to_public=True,
                 open_condition="无条件开放")
    assert_refused(data, "open_to_public", "must be false when sharing_type is 不予共享")


def test_open_resource_needs_an_open_condition():
    assert_refused(valid(open_to_public=True), "open_condition", "required when open_to_public is true")


def test_closed_resource_has_no_open_condition():
    assert_refused(valid(open_condition="无条件开放"), "open_condition", "only allowed when open_to_public is true")


def test_open_attribute_must_be_a_boolean():
    assert_refused(valid(open_to_public="maybe"), "open_to_public", "true or false")


def test_unknown_update_cycle_is_refused():
    assert_refused(valid(update_cycle="每两年"), "update_cycle", "实时 / 每日 / 每周 / 每月 / 每季度 / 每半年 / 每年")


def test_malformed_publish_date_is_refused():
    assert_refused(valid(publish_date="2024/05/01"), "publish_date", "YYYY-MM-DD")


@pytest.mark.parametrize("code", ["101002-000001", "101002/1", "1010/000001", "101002/000000"])
def test_malformed_related_code_is_refused(code):
    assert_refused(valid(related_codes=[code]), "related_codes[1]", "分类码/顺序码")


def test_related_code_of_no_visible_resource_is_refused():
    assert_refused(valid(related_codes=["102001/000009"]), "related_codes[1]", "existing catalogue resource",
                   resource_exists=lambda code: False)


def test_entry_cannot_relate_to_itself():
    assert_refused(valid(related_codes=["101002/000001"]), "related_codes[1]", "own code", own_code="101002/000001")


def test_related_codes_must_not_repeat():
    assert_refused(valid(related_codes=["102001/000001", "102001/000001"]), "related_codes[2]", "repeat")


def test_access_point_must_be_an_http_url():
    assert_refused(valid(access_point="ftp://10.0.0.1/x"), "access_point", "http:// or https:// URL")


def test_every_broken_rule_is_reported_at_once():
    exc = refusal(valid(sharing_type="有条件共享", update_cycle="偶尔", items=[{"name": "x", "data_type": "Z"}]))
    assert exc.fields == {"sharing_condition", "update_cycle", "items[1].data_type"}
    assert str(exc).count("\n") == 3


# --------------------------------------------------------------------------- classification tree


def test_classification_values_cover_every_level():
    values = classification.classification_values()
    assert values["1"] == "基础信息资源" and values["101"] == "人口" and values["101002001"] == "出生医学证明信息"
    assert {"2", "3", "106", "201", "301"} <= values.keys()


def test_base_classes_follow_the_guide():
    names = [n.name for n in classification.children("1")]
    assert names == ["人口", "法人单位", "自然资源和空间地理", "社会信用", "电子证照", "宏观经济"]


def test_path_and_ancestors_of_a_detail_code():
    assert [n.level for n in classification.path("101002001")] == ["类", "项", "目", "细目"]
    assert classification.ancestors("101002001") == ["1", "101", "101002"]
    assert classification.base_class("101002001").name == "人口"
    assert classification.category("301001").name == "部门信息资源"
    assert classification.is_leaf("101002001") and not classification.is_leaf("101")


# --------------------------------------------------------------------------- through the workflow


def test_invalid_metadata_stores_nothing(sessions, settings):
    with unit_of_work(sessions) as s:
        dept = register_department(s, settings, code="wsjw", name="市卫生健康委员会", credit_code=PROVIDER)
        create_user(s, username="li.na", password="pw", department=dept, roles=("cataloguer",))
    with pytest.raises(InvalidMetadata, match="sharing_condition: required"):
        workflow.create(as_user(sessions, settings, "li.na"), metadata=valid(sharing_type="有条件共享"))
    with unit_of_work(sessions) as s:
        assert s.scalar(select(func.count()).select_from(CatalogueEntry)) == 0
