"""The resource directory (UDDI v3 inquiry, ``/uddi/inquiry``) for a department's program: find
the published resources by keyword, classification, provider and 共享类型, read a resource's
catalogue metadata as the directory carries it, and fetch its WSDL.

    from client.directory import Directory
    directory = Directory("https://platform.example")
    for resource in directory.find(keyword="户籍", sharing_type="有条件共享"):
        print(resource.code, resource.name, resource.provider_code, resource.access_points)
    wsdl_text = directory.wsdl(resource)

Inquiry is open (no signature).  A published catalogue entry is a businessService of its
provider; its GB/T 21063.3 metadata are keyedReferences in its categoryBag on the platform's
taxonomy tModels (their keys are part of the published contract, the same on every node), and its
interface is the WSDL its binding's tModels point at ("Using WSDL in a UDDI Registry" v2).

zeep builds the requests from the node's WSDL; the answers are read with lxml, because zeep 4.3
cannot read an ``instanceDetails`` that holds ``instanceParms`` without an ``overviewDoc`` (the
second branch of that type's xsd:choice), which every WSDL-mapped binding has.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import requests
import zeep
from lxml import etree
from zeep.transports import Transport

from .faults import NotFound, from_fault

UDDI = "{urn:uddi-org:api_v3}"
SOAP_ENV = "{http://schemas.xmlsoap.org/soap/envelope/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

PLATFORM = "uddi:govshare"
CLASSIFICATION = f"{PLATFORM}:categorization:classification"  # 资源分类 (类/项/目/细目)
SHARING_TYPE = f"{PLATFORM}:categorization:sharing-type"  # 共享类型
SHARING_METHOD = f"{PLATFORM}:categorization:sharing-method"  # 共享方式
UPDATE_CYCLE = f"{PLATFORM}:categorization:update-cycle"  # 更新周期
FORMAT = f"{PLATFORM}:categorization:format"  # 信息资源格式
OPEN_ATTRIBUTE = f"{PLATFORM}:categorization:open"  # 是否向社会开放
RESOURCE_CODE = f"{PLATFORM}:identifier:resource-code"  # 资源代码
PROVIDER_CODE = f"{PLATFORM}:identifier:provider-code"  # 提供方代码 (统一社会信用代码)
#: the largest page of find_service the platform serves (GOVSHARE_MAX_ROWS by default)
PAGE = 500


@dataclass(frozen=True)
class Resource:
    """A published information resource as the directory describes it."""

    service_key: str
    business_key: str
    name: str
    description: str
    code: str  # 资源代码
    provider_code: str  # 提供方 统一社会信用代码
    classification: tuple[str, ...]  # its class codes from the top (1, 101, 101001, 101001001)
    sharing_type: str
    sharing_method: str
    update_cycle: str
    format: str
    open_to_public: bool
    access_points: tuple[str, ...]
    binding_tmodels: tuple[str, ...]  # the tModels of its bindings (the WSDL's binding and portType)


class Directory:
    """The platform's UDDI inquiry API, for finding and reading published resources."""

    def __init__(self, platform: str, *, timeout: float = 60):
        base = platform.split("?", 1)[0].rstrip("/")
        self.base = base[: -len("/uddi/inquiry")] if base.endswith("/uddi/inquiry") else base
        self.timeout = timeout
        self._client = zeep.Client(f"{self.base}/uddi/inquiry?wsdl",
                                   transport=Transport(timeout=timeout, operation_timeout=timeout))

    def find(self, *, keyword: str | None = None, classification: str | None = None, provider: str | None = None,
             sharing_type: str | None = None) -> Iterator[Resource]:
        """The published resources whose name holds ``keyword`` and that carry every other criterion
        given: a class code at any level (``101`` 人口), the provider's 统一社会信用代码, a 共享类型."""
        references = [(CLASSIFICATION, classification), (PROVIDER_CODE, provider), (SHARING_TYPE, sharing_type)]
        bag = [{"tModelKey": key, "keyValue": value, "keyName": ""} for key, value in references if value]
        criteria: dict = {"categoryBag": {"keyedReference": bag}} if bag else {}
        if keyword or not bag:  # a name pattern; every name when nothing else is asked
            criteria |= {"findQualifiers": {"findQualifier": ["approximateMatch"]},
                         "name": [{"_value_1": f"%{keyword or ''}%"}]}
        offset = 1
        while True:
            found = self._call("find_service", maxRows=PAGE, listHead=offset, **criteria)
            keys = [info.get("serviceKey") for info in found.iter(f"{UDDI}serviceInfo")]
            yield from self._resources(keys)
            listed = found.find(f"{UDDI}listDescription")
            if listed is None or not keys:
                return
            head, count, total = (int(listed.findtext(f"{UDDI}{name}") or 0)
                                  for name in ("listHead", "includeCount", "actualCount"))
            if head + count - 1 >= total:
                return
            offset = head + count

    def resource(self, code: str) -> Resource:
        """The published resource of 资源代码 ``code``."""
        bag = {"keyedReference": [{"tModelKey": RESOURCE_CODE, "keyValue": code, "keyName": ""}]}
        found = self._call("find_service", categoryBag=bag)
        for resource in self._resources([info.get("serviceKey") for info in found.iter(f"{UDDI}serviceInfo")]):
            if resource.code == code:
                return resource
        raise NotFound("UnknownResource", f"no published resource {code} in the directory",
                       f"资源目录中没有已发布的资源 {code}。")

    def wsdl_url(self, resource: Resource) -> str:
        """Where the resource's interface description is (its binding tModel's overviewURL)."""
        if not resource.binding_tmodels:
            raise ValueError(f"{resource.code} has no binding in the directory")
        detail = self._call("get_tModelDetail", tModelKey=list(resource.binding_tmodels))
        for url in detail.iter(f"{UDDI}overviewURL"):
            if (url.text or "").strip():
                return url.text.strip()
        raise ValueError(f"{resource.code}: its binding tModels point at no WSDL")

    def wsdl(self, resource: Resource) -> str:
        """The text of the resource's WSDL."""
        answer = requests.get(self.wsdl_url(resource), timeout=self.timeout)
        answer.raise_for_status()
        answer.encoding = answer.encoding or "utf-8"
        return answer.text

    def _resources(self, keys: list[str]) -> Iterator[Resource]:
        """The catalogue entries among the services ``keys`` (others are not catalogue entries)."""
        if not keys:
            return
        for service in self._call("get_serviceDetail", serviceKey=keys).iter(f"{UDDI}businessService"):
            resource = _resource(service)
            if resource is not None:
                yield resource

    def _call(self, operation: str, **inputs) -> etree._Element:
        """The answer element of ``operation`` (its SOAP Body's child); a Fault as a typed exception."""
        with self._client.settings(raw_response=True):
            answer = getattr(self._client.service, operation)(**inputs)
        body = etree.fromstring(answer.content).find(f"{SOAP_ENV}Body")
        fault = body.find(f"{SOAP_ENV}Fault")
        if fault is not None:
            raise from_fault(SimpleNamespace(code=fault.findtext("faultcode"), message=fault.findtext("faultstring"),
                                             detail=fault.find("detail")))
        return body[0]


def _resource(service: etree._Element) -> Resource | None:
    values: dict[str, list[str]] = {}
    for ref in service.iterfind(f"{UDDI}categoryBag/{UDDI}keyedReference"):
        values.setdefault(ref.get("tModelKey"), []).append(ref.get("keyValue"))
    code = _one(values, RESOURCE_CODE)
    if not code:
        return None  # a service that is no catalogue entry (the platform's own, another registrant's)
    bindings = service.findall(f"{UDDI}bindingTemplates/{UDDI}bindingTemplate")
    return Resource(
        service_key=service.get("serviceKey"), business_key=service.get("businessKey"),
        name=_text(service.findall(f"{UDDI}name")), description=_text(service.findall(f"{UDDI}description")),
        code=code, provider_code=_one(values, PROVIDER_CODE),
        classification=tuple(sorted(values.get(CLASSIFICATION, []), key=len)),
        sharing_type=_one(values, SHARING_TYPE), sharing_method=_one(values, SHARING_METHOD),
        update_cycle=_one(values, UPDATE_CYCLE), format=_one(values, FORMAT),
        open_to_public=_one(values, OPEN_ATTRIBUTE) == "是",
        access_points=tuple((b.findtext(f"{UDDI}accessPoint") or "").strip() for b in bindings
                            if b.find(f"{UDDI}accessPoint") is not None),
        binding_tmodels=tuple(info.get("tModelKey") for b in bindings
                              for info in b.iterfind(f"{UDDI}tModelInstanceDetails/{UDDI}tModelInstanceInfo")))


def _one(values: dict[str, list[str]], key: str) -> str:
    return (values.get(key) or [""])[0]


def _text(elements: list[etree._Element]) -> str:
    """The first of a list of UDDI name or description elements, preferring Chinese."""
    for element in elements:
        if (element.get(XML_LANG) or "").startswith("zh"):
            return (element.text or "").strip()
    return (elements[0].text or "").strip() if elements else ""
