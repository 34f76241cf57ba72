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
