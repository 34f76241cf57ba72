"""Taxonomy tModels: the UDDI standard ones and the platform's catalogue taxonomies.

Catalogue metadata reaches the directory as keyedReferences on these tModels, e.g. a
无条件共享 resource of the 人口 base class carries::

    <categoryBag>
      <keyedReference tModelKey="uddi:govshare:categorization:classification"
                      keyName="人口" keyValue="101"/>
      <keyedReference tModelKey="uddi:govshare:categorization:sharing-type"
                      keyName="共享类型" keyValue="无条件共享"/>
    </categoryBag>

The platform taxonomies are *checked*: a keyedReference whose value is not in the
value set is refused with E_invalidValue.  Their keys live in the fixed ``govshare``
domain, so they are the same on every node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.clock import utcnow
from registry.models import UddiEntity

from .uddi import store

PLATFORM = "uddi:govshare"

CLASSIFICATION = f"{PLATFORM}:categorization:classification"  # 资源分类 (类/项/目/细目)
SHARING_TYPE = f"{PLATFORM}:categorization:sharing-type"  # 共享类型
SHARING_METHOD = f"{PLATFORM}:categorization:sharing-method"  # 共享方式
UPDATE_CYCLE = f"{PLATFORM}:categorization:update-cycle"  # 更新周期
FORMAT = f"{PLATFORM}:categorization:format"  # 信息资源格式
OPEN_ATTRIBUTE = f"{PLATFORM}:categorization:open"  # 开放属性
RESOURCE_CODE = f"{PLATFORM}:identifier:resource-code"  # 资源代码
PROVIDER_CODE = f"{PLATFORM}:identifier:provider-code"  # 提供方代码 (统一社会信用代码)

# UDDI standard tModels (spec 11.1) and those of "Using WSDL in a UDDI Registry" v2.
UDDI_TYPES = "uddi:uddi.org:categorization:types"
GENERAL_KEYWORDS = "uddi:uddi.org:categorization:general_keywords"
WSDL_TYPES = "uddi:uddi.org:wsdl:types"
XML_NAMESPACE = "uddi:uddi.org:xml:namespace"
XML_LOCALNAME = "uddi:uddi.org:xml:localname"
PORTTYPE_REFERENCE = "uddi:uddi.org:wsdl:porttypereference"
WSDL_PROTOCOL = "uddi:uddi.org:wsdl:categorization:protocol"
WSDL_TRANSPORT = "uddi:uddi.org:wsdl:categorization:transport"
WSDL_ADDRESS = "uddi:uddi.org:wsdl:address"
PROTOCOL_SOAP = "uddi:uddi.org:protocol:soap"
TRANSPORT_HTTP = "uddi:uddi.org:transport:http"

SHARING_TYPES = ("无条件共享", "有条件共享", "不予共享")
UPDATE_CYCLES = ("实时", "每日", "每周", "每月", "每季度", "每半年", "每年")
SHARING_METHODS = ("共享平台", "邮件", "拷贝", "介质交换", "接口", "库表", "文件")
OPEN_VALUES = ("是", "否")
FORMAT_TYPES = {
    "电子文件": ("OFD", "wps", "xml", "txt", "doc", "docx", "html", "pdf", "ppt"),
    "电子表格": ("et", "xls", "xlsx"),
    "数据库": ("Dm", "KingbaseES", "access", "dbf", "dbase", "sysbase", "oracle", "sql server", "db2",
               "mysql", "postgresql", "sqlite"),
    "图形图像": ("jpg", "gif", "bmp"),
    "流媒体": ("swf", "rm", "mpg"),
    "接口": ("WebService", "SOAP", "REST"),
    "自定义": (),
}


@dataclass
class Taxonomy:
    key: str
    name: str
    description: str
    checked: bool = False
    values: dict[str, str] = field(default_factory=dict)  # keyValue -> keyName
    categorization: bool = True


def platform_taxonomies(classification_values: dict[str, str]) -> list[Taxonomy]:
    formats = {f"{cls}/{t}": f"{cls} {t}" for cls, types in FORMAT_TYPES.items() for t in types}
    formats.update({cls: cls for cls in FORMAT_TYPES})
    return [
        Taxonomy(CLASSIFICATION, "govshare:资源分类", "政务信息资源分类: 基础/主题/部门 信息资源的类、项、目、细目代码",
                 True, classification_values),
        Taxonomy(SHARING_TYPE, "govshare:共享类型", "共享类型: 无条件共享 / 有条件共享 / 不予共享", True,
                 {v: v for v in SHARING_TYPES}),
        Taxonomy(SHARING_METHOD, "govshare:共享方式", "共享方式", True, {v: v for v in SHARING_METHODS}),
        Taxonomy(UPDATE_CYCLE, "govshare:更新周期", "更新周期", True, {v: v for v in UPDATE_CYCLES}),
        Taxonomy(FORMAT, "govshare:信息资源格式", "信息资源格式: 格式分类/格式类型", True, formats),
        Taxonomy(OPEN_ATTRIBUTE, "govshare:是否向社会开放", "开放属性: 是否向社会开放", True,
                 {v: v for v in OPEN_VALUES}),
        Taxonomy(RESOURCE_CODE, "govshare:资源代码", "政务信息资源代码 (分类码/顺序码), 一个资源一个代码",
                 categorization=False),
        Taxonomy(PROVIDER_CODE, "govshare:提供方代码", "信息资源提供方代码: 统一社会信用代码 (GB 32100)",
                 categorization=False),
    ]


def standard_tmodels() -> list[etree._Element]:
    """The tModels of the UDDI v3 specification and of the WSDL technical note
    (``directory/data/uddi_tmodels.xml``), fresh elements on every call."""
    return etree.fromstring(_standard_tmodels_xml()).findall(store.q("tModel"))


@lru_cache(maxsize=1)
def _standard_tmodels_xml() -> bytes:
    return resources.files("directory").joinpath("data/uddi_tmodels.xml").read_bytes()


def _tmodel(key: str, name: str, description: str, types: list[str]) -> etree._Element:
    tm = store.fresh("tModel", {"tModelKey": key})
    store.sub(tm, "name", text=name)
    store.sub(tm, "description", {"{http://www.w3.org/XML/1998/namespace}lang": "zh-CN"}, description)
    bag = store.sub(tm, "categoryBag")
    for value in types:
        store.sub(bag, "keyedReference", {"tModelKey": UDDI_TYPES, "keyName": "uddi-org:types", "keyValue": value})
    return tm


def node_tmodels(classification_values: dict[str, str], node_domain: str) -> list[etree._Element]:
    """Every tModel the node registers for itself: the standard ones, the platform taxonomies and
    the key generators of the platform's two domains, which no department may claim."""
    platform = [
        _tmodel(tax.key, tax.name, tax.description,
                ["categorization" if tax.categorization else "identifier", "checked" if tax.checked else "unchecked"])
        for tax in platform_taxonomies(classification_values)
    ]
    generators = [
        _tmodel(f"{PLATFORM}:keygenerator", "govshare:keyGenerator",
                "平台分类体系的键生成器: uddi:govshare 域归平台所有", ["keyGenerator"]),
        _tmodel(f"uddi:{node_domain}:keygenerator", f"{node_domain}:keyGenerator",
                f"本节点的键生成器: uddi:{node_domain} 域归平台所有, 各部门使用 uddi:<部门代码>.{node_domain}",
                ["keyGenerator"]),
    ]
    return standard_tmodels() + platform + generators


def register_all(session: Session, classification_values: dict[str, str], node_domain: str) -> None:
    """Save every tModel of ``node_tmodels`` not yet registered, owned by the node."""
    now = utcnow()
    wanted = node_tmodels(classification_values, node_domain)
    keys = [tm.get("tModelKey") for tm in wanted]
    present = set(session.scalars(select(UddiEntity.key).where(UddiEntity.key.in_(keys))))
    for tm in wanted:
        if tm.get("tModelKey") not in present:
            store.put(session, "tmodel", tm, parent_key=None, owner_id=None, authorized_name="uddi-node", now=now)


def checked_values(classification_values: dict[str, str]) -> dict[str, dict[str, str]]:
    """tModelKey -> allowed keyValues, for every checked platform taxonomy."""
    return {t.key: t.values for t in platform_taxonomies(classification_values) if t.checked}
