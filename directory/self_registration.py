"""At start-up the node registers its own SOAP services in its own directory.

The node's businessEntity (owned by the node, not by a department) carries one
businessService per platform API; each has a bindingTemplate whose accessPoint is the
endpoint and whose tModelInstanceInfo names the API's specification tModel, whose
overviewDoc points at the WSDL::

    <businessService serviceKey="uddi:govshare.local:platform:uddi-inquiry" ...>
      <name xml:lang="en">UDDI v3 Inquiry API</name>
      <bindingTemplates><bindingTemplate bindingKey="uddi:govshare.local:platform:uddi-inquiry:soap">
        <accessPoint useType="endPoint">http://127.0.0.1:8080/uddi/inquiry</accessPoint>
        <tModelInstanceDetails><tModelInstanceInfo tModelKey="uddi:uddi.org:v3_inquiry"/></tModelInstanceDetails>
      </bindingTemplate></bindingTemplates>
    </businessService>

The exchange service (``/exchange``) and the Spyne-hosted diagnostics are published
from their own WSDLs, stored in the repository as ``platform/<name>.wsdl`` and mapped per
the OASIS technical note like any department's WSDL.  Every published resource that the
centre holds (物理集中) is also reachable through the exchange service: its
businessService gets a bindingTemplate for ``/exchange`` whose categoryBag names the
resource code.  Running it again with another public address updates every access
point in place.
"""

from __future__ import annotations

import io
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.models import CatalogueEntry
from registry.settings import Settings
from wsdl.exchange import exchange_wsdl, local_schema

from . import taxonomies
from .diagnostics import diagnostics_app
from .uddi import store
from .uddi.publication import publish_entity
from .wsdl_publishing import binding_templates_for, publish_wsdl

EXCHANGE_WSDL = "platform/exchange.wsdl"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

#: short name -> (spec tModel key, English name, Chinese name, path)
UDDI_APIS = {
    "uddi-inquiry": ("uddi:uddi.org:v3_inquiry", "UDDI v3 Inquiry API", "目录查询接口", "/uddi/inquiry"),
    "uddi-publication": ("uddi:uddi.org:v3_publication", "UDDI v3 Publication API", "目录发布接口",
                         "/uddi/publication"),
    "uddi-security": ("uddi:uddi.org:v3_security", "UDDI v3 Security API", "目录安全接口", "/uddi/security"),
    "uddi-subscription": ("uddi:uddi.org:v3_subscription", "UDDI v3 Subscription API", "目录订阅接口",
                          "/uddi/subscription"),
}
#: the OASIS binding WSDL of each API's specification tModel (the others': uddi_api_v3_binding.wsdl)
_BINDING_WSDL = {"uddi:uddi.org:v3_subscription": "uddi_sub_v3_binding.wsdl"}


def platform_business_key(settings: Settings) -> str:
    return f"uddi:{settings.node_domain}:platform"


def _spec_tmodel(key: str, name: str, wsdl_url: str) -> object:
    tm = store.fresh("tModel", {"tModelKey": key})
    store.sub(tm, "name", text=f"uddi-org:{key.rsplit(':', 1)[-1]}")
    store.sub(tm, "description", {XML_LANG: "en"}, f"{name} specification (OASIS UDDI v3.0.2)")
    doc = store.sub(tm, "overviewDoc")
    store.sub(doc, "overviewURL", {"useType": "wsdlInterface"}, wsdl_url)
    bag = store.sub(tm, "categoryBag")
    for value in ("specification", "xmlSpec", "soapSpec", "wsdlSpec"):
        store.sub(bag, "keyedReference", {"tModelKey": taxonomies.UDDI_TYPES, "keyName": "uddi-org:types",
                                          "keyValue": value})
    return tm


def register_platform_services(session: Session, settings: Settings) -> list[str]:
    """Save the node's businessEntity and its UDDI services; returns the service keys."""
    base = settings.base_url
    for key, name, _zh, _path in UDDI_APIS.values():
        wsdl_url = f"{base}/wsdl/uddi/{_BINDING_WSDL.get(key, 'uddi_api_v3_binding.wsdl')}"
        publish_entity(session, settings, "tmodel", _spec_tmodel(key, name, wsdl_url), department=None,
                       authorized_name="uddi-node")
    business = store.fresh("businessEntity", {"businessKey": platform_business_key(settings)})
    store.sub(business, "name", {XML_LANG: "zh-CN"}, "政务信息资源共享交换平台")
    store.sub(business, "name", {XML_LANG: "en"}, "govshare platform node")
    store.sub(business, "description", {XML_LANG: "zh-CN"}, "平台自身的目录、交换与诊断服务")
    # Saved without <businessServices>, so services registered by other parts of the platform stay.
    publish_entity(session, settings, "business", business, department=None, authorized_name="uddi-node")
    keys = []
    for short, (tmodel_key, name, zh_name, path) in UDDI_APIS.items():
        service_key = f"uddi:{settings.node_domain}:platform:{short}"
        keys.append(service_key)
        service = store.fresh("businessService",
                              {"serviceKey": service_key, "businessKey": platform_business_key(settings)})
        store.sub(service, "name", {XML_LANG: "zh-CN"}, zh_name)
        store.sub(service, "name", {XML_LANG: "en"}, name)
        templates = store.sub(service, "bindingTemplates")
        template = store.sub(templates, "bindingTemplate", {"bindingKey": f"{service_key}:soap"})
        store.sub(template, "accessPoint", {"useType": "endPoint"}, f"{base}{path}")
        details = store.sub(template, "tModelInstanceDetails")
        store.sub(details, "tModelInstanceInfo", {"tModelKey": tmodel_key})
        publish_entity(session, settings, "service", service, department=None, authorized_name="uddi-node")
    published = [
        publish_wsdl(session, settings, None, path="platform/diagnostics.wsdl",
                     content=_spyne_wsdl(diagnostics_app(settings), base), authorized_name="uddi-node",
                     base_url=base, business_key=platform_business_key(settings)),
        publish_wsdl(session, settings, None, path=EXCHANGE_WSDL, content=exchange_wsdl(base, f"{base}/exchange"),
                     authorized_name="uddi-node", base_url=base, business_key=platform_business_key(settings),
                     source_url=f"{base}/exchange?wsdl", fetch=lambda url: _platform_schema(url, base)),
    ]
    # the resources whose records the centre holds; not one a lower platform (目录管理节点) sent up, whose
    # records are at that platform
    for entry in session.scalars(select(CatalogueEntry).where(CatalogueEntry.status == "published",
                                                               CatalogueEntry.logical.is_(False),
                                                               CatalogueEntry.origin_code.is_(None),
                                                               CatalogueEntry.service_key.is_not(None))):
        template = exchange_binding_template(session, settings, entry.service_key, entry.resource_code)
        if template is not None:
            publish_entity(session, settings, "binding", template, department=entry.provider,
                           authorized_name="uddi-node")
    return keys + [key for p in published for key in p.service_keys.values()]


def _platform_schema(url: str, base_url: str) -> bytes:
    data = local_schema(url, base_url)
    if data is None:
        raise OSError(f"the exchange WSDL imports {url}, which is not one of this server's schemas")
    return data


def exchange_binding_template(session: Session, settings: Settings, service_key: str, resource_code: str):
    """A bindingTemplate reaching ``resource_code`` through the central exchange service,
    for the resource's businessService; None until the exchange WSDL is registered."""
    try:
        [template] = binding_templates_for(session, settings, EXCHANGE_WSDL, service_key)
    except LookupError:
        return None
    template.set("bindingKey", f"{service_key}:exchange")
    description = store.fresh("description", {XML_LANG: "zh-CN"},
                              f"通过共享交换平台交换服务访问: QueryRecords / GetChanges, resourceCode={resource_code}")
    template.insert(0, description)
    bag = store.sub(template, "categoryBag")  # the last element a bindingTemplate may hold before signatures
    store.sub(bag, "keyedReference", {"tModelKey": taxonomies.RESOURCE_CODE, "keyName": "资源代码",
                                      "keyValue": resource_code})
    return template


def _spyne_wsdl(app, base_url: str) -> bytes:
    """The ``?wsdl`` document a Spyne app serves when reached at ``base_url``."""
    parts = urlsplit(base_url)
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/diagnostics", "SCRIPT_NAME": "", "QUERY_STRING": "wsdl",
        "SERVER_NAME": parts.hostname or "localhost", "SERVER_PORT": str(parts.port or 80),
        "HTTP_HOST": parts.netloc, "wsgi.url_scheme": parts.scheme or "http", "wsgi.input": io.BytesIO(),
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    return b"".join(app(environ, lambda status, headers, exc_info=None: None))
