"""WSDL in the directory: the mapping of the OASIS UDDI Spec TC technical note
"Using WSDL in a UDDI Registry", version 2.0.2 (section 2.4, with the v3 keys).

A stored WSDL (served under ``/wsdl/<path>``) becomes, for ``gaj/population-query.wsdl``::

    wsdl:portType PopulationQueryPortType ->
    <tModel tModelKey="uddi:gaj.govshare.local:wsdl:gaj~population-query:porttype:populationqueryporttype">
      <name>PopulationQueryPortType</name>
      <overviewDoc>
        <overviewURL useType="wsdlInterface">http://127.0.0.1:8080/wsdl/gaj/population-query.wsdl</overviewURL>
      </overviewDoc>
      <categoryBag>
        <keyedReference tModelKey="uddi:uddi.org:wsdl:types" keyName="WSDL type" keyValue="portType"/>
        <keyedReference tModelKey="uddi:uddi.org:xml:namespace" keyName="portType namespace"
                        keyValue="http://govshare.local/interfaces/population"/>
      </categoryBag>
    </tModel>

    wsdl:binding -> tModel, categorized as: WSDL type "binding", its namespace, the
      portType tModel (uddi:uddi.org:wsdl:porttypereference), SOAP protocol, HTTP
      transport, and uddi-org:types "wsdlSpec";
    wsdl:service -> businessService: WSDL type "service", namespace, local name;
    wsdl:port -> bindingTemplate:
      <bindingTemplate bindingKey="<serviceKey>:port:populationqueryport" serviceKey="<serviceKey>">
        <accessPoint useType="endPoint">http://127.0.0.1:8080/services/population-query</accessPoint>
        <tModelInstanceDetails>
          <tModelInstanceInfo tModelKey="<binding tModel>">
            <instanceDetails><instanceParms>PopulationQueryPort</instanceParms></instanceDetails>
          </tModelInstanceInfo>
          <tModelInstanceInfo tModelKey="<portType tModel>"/>
        </tModelInstanceDetails>
      </bindingTemplate>

Keys are derived from the department's key partition, the WSDL path and the local
name, so publishing the same WSDL again saves the same entities again; entities of an
earlier version that the new one no longer has are removed (tModels hidden).

A department publishes its WSDL with the action ``wsdl.publish`` (:func:`publish`: a cataloguer or
provider, for the caller's department); the platform publishes its own at start-up with
:func:`publish_wsdl` (``department`` None).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db import like_prefix
from registry.errors import Conflict, InvalidInput
from registry.models import Department, UddiEntity, UddiKeyedReference
from registry.settings import Settings
from trust.actions import Context, action
from trust.xml import safe_parser
from wsdl.repository import InvalidWsdlPath, WsdlPathTaken, get_wsdl, store_and_describe_wsdl
from wsdl.validation import (
    SOAP11_BINDING_NS,
    WSDL_NS,
    Fetch,
    FetchError,
    InvalidWsdl,
    QName,
    WsdlInfo,
    WsdlProblem,
    fetch_url,
)

from . import taxonomies as tax
from .uddi import keys, store
from .uddi.publication import delete_entity, publish_entity

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@dataclass(frozen=True)
class PublishedWsdl:
    """What one publication saved: keys by the QName of the WSDL component."""

    path: str
    overview_url: str
    port_type_keys: dict[QName, str]
    binding_keys: dict[QName, str]
    service_keys: dict[QName, str]


@action("wsdl.publish")
def publish(ctx: Context, *, path: str, content: bytes | None = None, url: str = "", base_url: str | None = None,
            map_services: bool = True) -> PublishedWsdl:
    """Validate a WSDL of the caller's department - ``content``, or what ``url`` serves - store it at
    ``/wsdl/<path>`` and publish it in the directory (see :func:`publish_wsdl`)."""
    department = ctx.session.get(Department, ctx.caller.department_id)

    def fetch(address: str) -> bytes:
        return fetch_url(address, ctx.settings.max_request_bytes)

    try:
        if content is None:
            if not url:
                raise InvalidInput("a WSDL document or its URL is required", field="content",
                                   zh="请提供 WSDL 文件或其网址。")
            content = fetch(url)
        published = publish_wsdl(ctx.session, ctx.settings, department, path=path, content=content,
                                 authorized_name=ctx.caller.who, base_url=base_url, source_url=url,
                                 fetch=fetch if url else None, map_services=map_services)
    except InvalidWsdl as exc:
        raise InvalidInput(str(exc), code="InvalidWsdl", field="content") from exc
    except InvalidWsdlPath as exc:
        raise InvalidInput(str(exc), code="InvalidWsdlPath", field="path") from exc
    except WsdlPathTaken as exc:
        raise Conflict(str(exc), code="WsdlPathTaken", field="path") from exc
    except FetchError as exc:
        raise InvalidInput(str(exc), code="WsdlUnreachable", field="url") from exc
    keys = [*published.port_type_keys.values(), *published.binding_keys.values(), *published.service_keys.values()]
    ctx.note(record_count=len(keys), detail=f"/wsdl/{path}: " + " ".join(keys))
    return published


def publish_wsdl(
    session: Session,
    settings: Settings,
    department: Department | None,
    *,
    path: str,
    content: bytes,
    authorized_name: str,
    base_url: str | None = None,
    source_url: str = "",
    fetch: Fetch | None = None,
    map_services: bool = True,
    business_key: str | None = None,
) -> PublishedWsdl:
    """Validate and store a WSDL at ``/wsdl/<path>``, then publish its portTypes and
    bindings as tModels and, with ``map_services``, its services as businessServices of
    ``business_key`` (default: the department's businessEntity).

    ``base_url`` is the platform's public address for the overviewURL (default
    ``settings.base_url``); ``source_url`` and ``fetch`` resolve the WSDL's imports.
    ``department`` None publishes for the platform itself.  Raises InvalidWsdl,
    wsdl.repository.InvalidWsdlPath / WsdlPathTaken, or UddiError.
    """
    _document, info = store_and_describe_wsdl(session, path=path, content=content, department=department,
                                              source_url=source_url, fetch=fetch)
    overview_url = f"{(base_url or settings.base_url).rstrip('/')}/wsdl/{path}"
    prefix = _prefix(settings, department, path)
    _check_distinct_keys(info, prefix)

    def save(kind: str, el: etree._Element) -> None:
        publish_entity(session, settings, kind, el, department=department, authorized_name=authorized_name)

    port_type_keys: dict[QName, str] = {}
    for port_type in info.port_types:
        key = port_type_keys[port_type.name] = _key(prefix, "porttype", port_type.name.localname)
        save("tmodel", _tmodel(key, port_type.name, overview_url, [
            (tax.WSDL_TYPES, "WSDL type", "portType"),
            (tax.XML_NAMESPACE, "portType namespace", port_type.name.namespace),
        ]))
    binding_keys: dict[QName, str] = {}
    for binding in info.bindings:
        key = binding_keys[binding.name] = _key(prefix, "binding", binding.name.localname)
        save("tmodel", _tmodel(key, binding.name, overview_url, [
            (tax.WSDL_TYPES, "WSDL type", "binding"),
            (tax.XML_NAMESPACE, "binding namespace", binding.name.namespace),
            (tax.PORTTYPE_REFERENCE, "portType reference", port_type_keys[binding.port_type]),
            (tax.WSDL_PROTOCOL, "SOAP protocol", tax.PROTOCOL_SOAP),
            (tax.WSDL_TRANSPORT, "HTTP transport", tax.TRANSPORT_HTTP),
            (tax.UDDI_TYPES, "uddi-org:types", "wsdlSpec"),
        ]))
    service_keys: dict[QName, str] = {}
    if map_services:
        owner = business_key or (department.business_key if department is not None else None)
        if owner is None:
            raise ValueError("services of a platform WSDL need the business_key of the businessEntity to hold them")
        binding_of = {b.name: b for b in info.bindings}
        for service in info.services:
            key = service_keys[service.name] = _key(prefix, "service", service.name.localname)
            el = store.fresh("businessService", {"serviceKey": key, "businessKey": owner})
            store.sub(el, "name", text=service.name.localname)
            templates = store.sub(el, "bindingTemplates")
            for port in service.ports:
                templates.append(_binding_template(
                    key, port.name, port.location, binding_keys[port.binding],
                    port_type_keys[binding_of[port.binding].port_type]))
            _category_bag(el, [
                (tax.WSDL_TYPES, "WSDL type", "service"),
                (tax.XML_NAMESPACE, "service namespace", service.name.namespace),
                (tax.XML_LOCALNAME, "service local name", service.name.localname),
            ])
            save("service", el)
    _remove_stale(session, settings, department, prefix,
                  {*port_type_keys.values(), *binding_keys.values()}, set(service_keys.values()))
    return PublishedWsdl(path, overview_url, port_type_keys, binding_keys, service_keys)


def binding_templates_for(
    session: Session, settings: Settings, wsdl_path: str, service_key: str
) -> list[etree._Element]:
    """A bindingTemplate for each port of the stored WSDL, for ``service_key``'s businessService.

    The WSDL must have been published with publish_wsdl first: the templates refer to
    its binding and portType tModels.  Raises LookupError otherwise.
    """
    doc = get_wsdl(session, wsdl_path)
    if doc is None:
        raise LookupError(f"no WSDL is stored at /wsdl/{wsdl_path}")
    department = session.get(Department, doc.department_id) if doc.department_id is not None else None
    prefix = _prefix(settings, department, wsdl_path)
    root = etree.fromstring(doc.content.encode("utf-8"), safe_parser())
    templates = []
    for port in root.iterfind(f"{{{WSDL_NS}}}service/{{{WSDL_NS}}}port"):
        address = port.find(f"{{{SOAP11_BINDING_NS}}}address")
        binding_key = _key(prefix, "binding", (port.get("binding") or "").rpartition(":")[2])
        port_type_key = session.scalar(
            select(UddiKeyedReference.key_value).where(
                UddiKeyedReference.entity_key == binding_key,
                UddiKeyedReference.tmodel_key == tax.PORTTYPE_REFERENCE,
            )
        )
        if address is None or port_type_key is None:
            raise LookupError(f"port {port.get('name')} of /wsdl/{wsdl_path} has no published binding tModel "
                              f"{binding_key}: publish the WSDL first")
        templates.append(_binding_template(keys.normalize(service_key), port.get("name"), address.get("location"),
                                           binding_key, port_type_key))
    return templates


# --------------------------------------------------------------------------- keys


def _prefix(settings: Settings, department: Department | None, path: str) -> str:
    partition = (keys.department_partition(department.code, settings.node_domain) if department is not None
                 else f"uddi:{settings.node_domain}")
    # '~' cannot occur in a WSDL path but may in a key: the slug stays unambiguous.
    return f"{partition}:wsdl:{path.removesuffix('.wsdl').replace('/', '~')}"


def _key(prefix: str, kind: str, localname: str) -> str:
    # Keys are lower case; an NCName may hold letters a key segment may not, so those are
    # percent-encoded (UTF-8), which the key syntax allows.
    return f"{prefix}:{kind}:{quote(localname.lower(), safe='-._').lower()}"


def _check_distinct_keys(info: WsdlInfo, prefix: str) -> None:
    seen: dict[str, QName] = {}
    problems = []
    for kind, names in (("porttype", [p.name for p in info.port_types]), ("binding", [b.name for b in info.bindings]),
                        ("service", [s.name for s in info.services])):
        for name in names:
            key = _key(prefix, kind, name.localname)
            if key in seen:
                problems.append(WsdlProblem(
                    f"{name} and {seen[key]} would both be published as {key}: the directory keys them by "
                    "local name, case-insensitively", where=str(name)))
            seen[key] = name
    if problems:
        raise InvalidWsdl(problems)


def _remove_stale(session: Session, settings: Settings, department: Department | None, prefix: str,
                  tmodel_keys: set[str], service_keys: set[str]) -> None:
    """Remove what an earlier version of the same WSDL published and this one does not."""
    rows = session.execute(
        select(UddiEntity.key, UddiEntity.kind).where(
            like_prefix(UddiEntity.key, prefix + ":"),
            UddiEntity.kind.in_(("tmodel", "service")),
            UddiEntity.deleted.is_(False),
        )
    ).all()
    for key, kind in rows:
        if key not in (tmodel_keys if kind == "tmodel" else service_keys):
            delete_entity(session, settings, kind, key, department=department)


# --------------------------------------------------------------------------- elements


def _tmodel(key: str, name: QName, overview_url: str, refs: list[tuple[str, str, str]]) -> etree._Element:
    el = store.fresh("tModel", {"tModelKey": key})
    store.sub(el, "name", text=name.localname)
    doc = store.sub(el, "overviewDoc")
    store.sub(doc, "overviewURL", {"useType": "wsdlInterface"}, overview_url)
    _category_bag(el, refs)
    return el


def _category_bag(el: etree._Element, refs: list[tuple[str, str, str]]) -> None:
    bag = store.sub(el, "categoryBag")
    for tmodel_key, key_name, key_value in refs:
        store.sub(bag, "keyedReference", {"tModelKey": tmodel_key, "keyName": key_name, "keyValue": key_value})


def _binding_template(service_key: str, port_name: str, location: str, binding_key: str,
                      port_type_key: str) -> etree._Element:
    el = store.fresh("bindingTemplate", {"bindingKey": _key(service_key, "port", port_name),
                                         "serviceKey": service_key})
    store.sub(el, "accessPoint", {"useType": "endPoint"}, location)
    details = store.sub(el, "tModelInstanceDetails")
    binding = store.sub(details, "tModelInstanceInfo", {"tModelKey": binding_key})
    store.sub(binding, "description", {XML_LANG: "en"},
              "The wsdl:binding that this wsdl:port implements. The instanceParms specifies the port local name.")
    store.sub(store.sub(binding, "instanceDetails"), "instanceParms", text=port_name)
    port_type = store.sub(details, "tModelInstanceInfo", {"tModelKey": port_type_key})
    store.sub(port_type, "description", {XML_LANG: "en"}, "The wsdl:portType that this wsdl:port implements.")
    return el
