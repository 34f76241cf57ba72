"""A zeep client built from the OASIS binding WSDL drives publish → find → get → delete."""

from __future__ import annotations

import pytest
from zeep.exceptions import Fault

from directory.taxonomies import CLASSIFICATION, SHARING_TYPE


def _service(business_key, name, sharing="无条件共享", cls="101", key=None):
    service = {
        "businessKey": business_key,
        "name": [{"_value_1": name, "lang": "zh-CN"}],
        "description": [{"_value_1": f"{name}的共享接口", "lang": "zh-CN"}],
        "categoryBag": {"keyedReference": [
            {"tModelKey": CLASSIFICATION, "keyName": "资源分类", "keyValue": cls},
            {"tModelKey": SHARING_TYPE, "keyName": "共享类型", "keyValue": sharing},
        ]},
    }
    if key:
        service["serviceKey"] = key
    return service


def test_publish_find_get_delete_cycle(uddi, gaj):
    token = uddi.token(gaj.username)
    service = _service(gaj.business_key, "人口基础信息查询")
    saved = uddi.publication.save_service(authInfo=token, businessService=[service])
    key = saved.businessService[0].serviceKey
    assert key.startswith("uddi:govshare.local:")

    found = uddi.inquiry.find_service(name=[{"_value_1": "人口基础信息查询"}])
    assert [info.serviceKey for info in found.serviceInfos.serviceInfo] == [key]

    detail = uddi.inquiry.get_serviceDetail(serviceKey=[key])
    assert detail.businessService[0].name[0]._value_1 == "人口基础信息查询"
    assert detail.businessService[0].businessKey == gaj.business_key

    uddi.publication.delete_service(authInfo=token, serviceKey=[key])
    with pytest.raises(Fault) as err:
        uddi.inquiry.get_serviceDetail(serviceKey=[key])
    assert "E_invalidKeyPassed" in err.value.message


def test_find_service_by_category_bag_returns_unconditional_population_resources(uddi, gaj):
    token = uddi.token(gaj.username)
    uddi.publication.save_service(authInfo=token, businessService=[
        _service(gaj.business_key, "户籍人口信息", "无条件共享", "101"),
        _service(gaj.business_key, "流动人口信息", "有条件共享", "101"),
        _service(gaj.business_key, "企业登记信息", "无条件共享", "102"),
    ])
    found = uddi.inquiry.find_service(categoryBag={"keyedReference": [
        {"tModelKey": CLASSIFICATION, "keyValue": "101"},
        {"tModelKey": SHARING_TYPE, "keyValue": "无条件共享"},
    ]})
    assert [i.name[0]._value_1 for i in found.serviceInfos.serviceInfo] == ["户籍人口信息"]


def test_the_whole_api_through_zeep(uddi, gaj):
    """save_tModel, save_business (with a service and a binding), every find_* and get_*,
    get_operationalInfo, then delete_* and discard_authToken — all through zeep."""
    token = uddi.token(gaj.username)
    tmodel_key = f"{gaj.partition}:interface:hukou-query"
    uddi.publication.save_tModel(authInfo=token, tModel=[{
        "tModelKey": tmodel_key, "name": {"_value_1": "户籍信息查询接口规范"},
        "overviewDoc": [{"description": [{"_value_1": "接口的 WSDL", "lang": "zh-CN"}],
                         "overviewURL": {"_value_1": "http://10.1.2.3/hukou.wsdl", "useType": "wsdlInterface"}}],
    }])
    business_key = f"{gaj.partition}:hukou-office"
    saved = uddi.publication.save_business(authInfo=token, businessEntity=[{
        "businessKey": business_key,
        "name": [{"_value_1": "户政管理支队", "lang": "zh-CN"}],
        "businessServices": {"businessService": [{
            "name": [{"_value_1": "户籍信息查询", "lang": "zh-CN"}],
            "bindingTemplates": {"bindingTemplate": [{
                "accessPoint": {"_value_1": "http://10.1.2.3/hukou", "useType": "endPoint"},
                "tModelInstanceDetails": {"tModelInstanceInfo": [{"tModelKey": tmodel_key}]},
            }]},
        }]},
    }])
    service = saved.businessEntity[0].businessServices.businessService[0]
    binding = service.bindingTemplates.bindingTemplate[0]
    assert service.businessKey == business_key and binding.serviceKey == service.serviceKey

    assert uddi.inquiry.find_business(name=[{"_value_1": "户政管理支队"}]).businessInfos.businessInfo[0].businessKey \
        == business_key
    assert uddi.inquiry.find_tModel(name={"_value_1": "户籍信息查询接口规范"}).tModelInfos.tModelInfo[0].tModelKey \
        == tmodel_key
    assert uddi.inquiry.find_binding(tModelBag={"tModelKey": [tmodel_key]}).bindingTemplate[0].bindingKey \
        == binding.bindingKey
    assert uddi.inquiry.get_businessDetail(businessKey=[business_key]).businessEntity[0].name[0]._value_1 \
        == "户政管理支队"
    assert uddi.inquiry.get_bindingDetail(bindingKey=[binding.bindingKey]).bindingTemplate[0].accessPoint._value_1 \
        == "http://10.1.2.3/hukou"
    assert uddi.inquiry.get_tModelDetail(tModelKey=[tmodel_key]).tModel[0].name._value_1 == "户籍信息查询接口规范"
    info = uddi.inquiry.get_operationalInfo(entityKey=[service.serviceKey]).operationalInfo[0]
    assert info.authorizedName == gaj.username and info.created is not None

    uddi.publication.delete_binding(authInfo=token, bindingKey=[binding.bindingKey])
    uddi.publication.delete_business(authInfo=token, businessKey=[business_key])
    uddi.publication.delete_tModel(authInfo=token, tModelKey=[tmodel_key])
    with pytest.raises(Fault) as gone:
        uddi.inquiry.get_businessDetail(businessKey=[business_key])
    assert "E_invalidKeyPassed" in gone.value.message
    assert uddi.inquiry.get_tModelDetail(tModelKey=[tmodel_key]).tModel[0].deleted is True

    uddi.security.discard_authToken(authInfo=token)
    with pytest.raises(Fault) as refused:
        uddi.publication.delete_tModel(authInfo=token, tModelKey=[tmodel_key])
    assert "E_authTokenRequired" in refused.value.message


def test_the_shipped_oasis_files_are_the_unchanged_originals():
    from pathlib import Path

    from wsdl.oasis import OASIS_DIR

    shared = Path(__file__).parents[3] / "shared" / "specs" / "uddi-v3" / "oasis-original"
    if not shared.exists():
        pytest.skip(f"{shared} is not beside the checkout")
    for name in ("uddi_v3.xsd", "uddi_api_v3_binding.wsdl", "uddi_api_v3_portType.wsdl"):
        assert (OASIS_DIR / name).read_bytes() == (shared / name).read_bytes(), name
