"""A published catalogue entry as a UDDI v3 businessService (目录条目 → 共享服务).

The catalogue metadata travels as keyedReferences on the platform's taxonomy tModels,
so find_service with a categoryBag finds, e.g., every 无条件共享 resource of 人口::

    <businessService xmlns="urn:uddi-org:api_v3"
                     serviceKey="uddi:wsjw.govshare.local:resource:101002-000001"
                     businessKey="uddi:wsjw.govshare.local:business">
      <name xml:lang="zh-CN">出生医学证明信息</name>
      <description xml:lang="zh-CN">本市出生医学证明签发信息……</description>
      <categoryBag>
        <keyedReference tModelKey="uddi:govshare:categorization:classification" keyName="基础信息资源" keyValue="1"/>
        <keyedReference tModelKey="uddi:govshare:categorization:classification" keyName="人口" keyValue="101"/>
        <keyedReference tModelKey="uddi:govshare:categorization:classification" keyName="出生信息"
                        keyValue="101002"/>
        <keyedReference tModelKey="uddi:govshare:categorization:sharing-type" keyName="共享类型"
                        keyValue="有条件共享"/>
        ... 共享方式, 更新周期, 格式 (数据库/oracle), 是否向社会开放 (否), 资源代码, 提供方代码
      </categoryBag>
    </businessService>

Every ancestor of the classification is referenced too, so that searching by a 项
(人口) finds the resources of its 目 and 细目.  UDDI descriptions hold at most 255
characters; a longer abstract is cut there, the catalogue keeps it whole.
"""

from __future__ import annotations

from lxml import etree

from registry.models import CatalogueEntry
from registry.settings import Settings

from ..taxonomies import (
    CLASSIFICATION,
    FORMAT,
    OPEN_ATTRIBUTE,
    PROVIDER_CODE,
    RESOURCE_CODE,
    SHARING_METHOD,
    SHARING_TYPE,
    UPDATE_CYCLE,
)
from ..uddi import store
from . import classification
from .metadata import CUSTOM_FORMAT

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
LANG = "zh-CN"
UDDI_TEXT_MAX = 255


def service_key(entry: CatalogueEntry, settings: Settings) -> str:
    """``uddi:<department>.<node domain>:resource:<code with / as ->``, inside the provider's partition."""
    resource = entry.resource_code.lower().replace("/", "-")
    return f"uddi:{entry.provider.code}.{settings.node_domain}:resource:{resource}"


def format_value(entry: CatalogueEntry) -> str:
    """The FORMAT keyValue: ``格式分类/格式类型``, or the bare class for a free 自定义 type."""
    if entry.format_class == CUSTOM_FORMAT:
        return CUSTOM_FORMAT
    return f"{entry.format_class}/{entry.format_type}"


def service_element(entry: CatalogueEntry, settings: Settings) -> etree._Element:
    """The businessService describing ``entry`` (without bindingTemplates)."""
    service = store.fresh("businessService",
                          {"serviceKey": service_key(entry, settings), "businessKey": entry.provider.business_key})
    store.sub(service, "name", {XML_LANG: LANG}, entry.name)
    store.sub(service, "description", {XML_LANG: LANG}, _clip(entry.abstract))
    bag = store.sub(service, "categoryBag")

    def ref(tmodel_key: str, key_name: str, key_value: str) -> None:
        store.sub(bag, "keyedReference", {"tModelKey": tmodel_key, "keyName": key_name, "keyValue": key_value})

    for node in classification.path(entry.class_code):
        ref(CLASSIFICATION, node.name, node.code)
    ref(SHARING_TYPE, "共享类型", entry.sharing_type)
    if entry.sharing_method:
        ref(SHARING_METHOD, "共享方式", entry.sharing_method)
    ref(UPDATE_CYCLE, "更新周期", entry.update_cycle)
    ref(FORMAT, "信息资源格式", format_value(entry))
    ref(OPEN_ATTRIBUTE, "是否向社会开放", "是" if entry.open_to_public else "否")
    ref(RESOURCE_CODE, "资源代码", entry.resource_code)
    ref(PROVIDER_CODE, "提供方代码", entry.provider_code)
    return service


def _clip(text: str) -> str:
    return text if len(text) <= UDDI_TEXT_MAX else text[: UDDI_TEXT_MAX - 1] + "…"
