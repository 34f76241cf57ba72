"""UDDI inquiry API (spec 5.1): find_* and get_* operations.

    <find_service xmlns="urn:uddi-org:api_v3" maxRows="20">
      <findQualifiers><findQualifier>approximateMatch</findQualifier></findQualifiers>
      <name>人口%</name>
      <categoryBag>
        <keyedReference tModelKey="uddi:govshare:categorization:classification" keyValue="101"/>
        <keyedReference tModelKey="uddi:govshare:categorization:sharing-type" keyValue="无条件共享"/>
      </categoryBag>
    </find_service>
    ->
    <serviceList xmlns="urn:uddi-org:api_v3" truncated="false">
      <listDescription><includeCount>20</includeCount><actualCount>57</actualCount>
        <listHead>1</listHead></listDescription>
      <serviceInfos>
        <serviceInfo serviceKey="..." businessKey="..."><name xml:lang="zh-CN">...</name></serviceInfo>
      </serviceInfos>
    </serviceList>

Searches run as SQL over the index tables of ``registry.models`` (names, keyed
references, tModel instances); only the page that is returned is read back.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from lxml import etree
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from registry.models import UddiEntity, UddiKeyedReference, UddiName, UddiTModelInstance

from . import keys, qualifiers, store
from .context import Call
from .errors import UddiError
from .store import XML_LANG, fresh, q, sub

GENERAL_KEYWORDS = "uddi:uddi.org:categorization:general_keywords"


@dataclass
class Page:
    head: int  # 1-based
    max_rows: int
    explicit: bool


def _page(call: Call, request: etree._Element) -> Page:
    try:
        max_rows = int(request.get("maxRows", "0") or 0)
        head = int(request.get("listHead", "1") or 1)
    except ValueError:
        raise UddiError("E_invalidValue", "maxRows and listHead must be integers") from None
    if max_rows < 0 or head < 1:
        raise UddiError("E_invalidValue", "maxRows must be positive and listHead at least 1")
    explicit = "maxRows" in request.attrib or "listHead" in request.attrib
    cap = call.settings.max_rows
    return Page(head=head, max_rows=min(max_rows or cap, cap), explicit=explicit)


# ------------------------------------------------------------------------- conditions


def _name_condition(kind: str, names: list[etree._Element], qual: qualifiers.Qualifiers) -> ColumnElement:
    alternatives = []
    for n in names:
        text = (n.text or "").strip()
        column = UddiName.folded if qual.case_insensitive else UddiName.value
        value = text.casefold() if qual.case_insensitive else text
        match = column.like(value, escape="\\") if qual.approximate else column == value
        lang = (n.get(XML_LANG) or "").lower()
        cond = and_(UddiName.kind == kind, match)
        if lang:
            cond = and_(cond, or_(UddiName.lang == lang, UddiName.lang.like(lang + "-%")))
        alternatives.append(cond)
    return UddiEntity.key.in_(select(UddiName.entity_key).where(or_(*alternatives)))


def _value_match(kr: etree._Element, qual: qualifiers.Qualifiers) -> ColumnElement:
    value = kr.get("keyValue", "")
    column = UddiKeyedReference.key_value
    if qual.case_insensitive:
        column, value = func.lower(column), value.lower()
    return column.like(value, escape="\\") if qual.approximate else column == value


def _ref_select(kind: str, bag: str, kr: etree._Element, qual, group_key: str = "") -> Select:
    tkey = keys.check_syntax(kr.get("tModelKey", ""))
    conds = [UddiKeyedReference.kind == kind, UddiKeyedReference.bag == bag,
             UddiKeyedReference.tmodel_key == tkey, _value_match(kr, qual)]
    if tkey == GENERAL_KEYWORDS:  # keyName is significant only for general keywords (spec 5.1.7)
        conds.append(UddiKeyedReference.key_name == kr.get("keyName", ""))
    if group_key:
        conds.append(UddiKeyedReference.group_tmodel_key == group_key)
    return select(UddiKeyedReference.entity_key).where(*conds)


def _bag_condition(kind: str, bag_name: str, bag: etree._Element, qual, default: str) -> ColumnElement | None:
    bag_key = "category" if bag_name == "categoryBag" else "identifier"
    selects: list[tuple[str, Select]] = []
    for kr in bag.findall(q("keyedReference")):
        selects.append((keys.normalize(kr.get("tModelKey", "")), _ref_select(kind, bag_key, kr, qual)))
    for group in bag.findall(q("keyedReferenceGroup")):
        gkey = keys.check_syntax(group.get("tModelKey", ""))
        for kr in group.findall(q("keyedReference")):
            selects.append((gkey, _ref_select(kind, bag_key, kr, qual, gkey)))
    if not selects:
        return None
    return _combine([(t, UddiEntity.key.in_(s)) for t, s in selects], qual.key_logic(default))


def _combine(conditions: list[tuple[str, ColumnElement]], logic: str) -> ColumnElement:
    if logic == "and":
        return and_(*(c for _t, c in conditions))
    if logic == "or":
        return or_(*(c for _t, c in conditions))
    by_tmodel: dict[str, list[ColumnElement]] = defaultdict(list)
    for tkey, cond in conditions:
        by_tmodel[tkey].append(cond)
    return and_(*(or_(*conds) for conds in by_tmodel.values()))


def _tmodel_keys(call: Call, request: etree._Element) -> list[str] | None:
    """Keys of the tModelBag plus those found by a nested find_tModel; None if neither."""
    found: list[str] | None = None
    bag = request.find(q("tModelBag"))
    if bag is not None:
        found = [keys.check_syntax(k.text or "") for k in bag.findall(q("tModelKey"))]
    nested = request.find(q("find_tModel"))
    if nested is not None:
        stmt = _tmodel_query(call, nested, qualifiers.parse(nested)).with_only_columns(UddiEntity.key)
        found = (found or []) + list(call.session.scalars(stmt))
    return found


def _bindings_with(tkeys: list[str], logic: str) -> Select:
    """(binding_key, service_key) of bindingTemplates referencing all (or any) of ``tkeys``."""
    tmi = UddiTModelInstance
    stmt = select(tmi.binding_key, tmi.service_key).where(tmi.tmodel_key.in_(set(tkeys)))
    if logic == "and":
        stmt = stmt.group_by(tmi.binding_key, tmi.service_key).having(
            func.count(func.distinct(tmi.tmodel_key)) == len(set(tkeys))
        )
    return stmt


def _order(stmt: Select, qual: qualifiers.Qualifiers, by_name_default: bool = True) -> Select:
    clauses = []
    for field_, desc in qual.sort(by_name_default):
        column = UddiEntity.sort_name if field_ == "name" else UddiEntity.modified
        clauses.append(column.desc() if desc else column.asc())
    clauses.append(UddiEntity.key.asc())  # a stable order for paging
    return stmt.order_by(*clauses)


def _run(call: Call, stmt: Select, page: Page) -> tuple[list[UddiEntity], int]:
    total = call.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = list(call.session.scalars(stmt.offset(page.head - 1).limit(page.max_rows)))
    return rows, total


def _list_element(name: str, rows: list, total: int, page: Page) -> etree._Element:
    truncated = page.head - 1 + len(rows) < total
    out = fresh(name, {"truncated": "true" if truncated else "false"})
    if page.explicit or truncated:
        desc = sub(out, "listDescription")
        sub(desc, "includeCount", text=str(len(rows)))
        sub(desc, "actualCount", text=str(total))
        sub(desc, "listHead", text=str(page.head))
    return out


def _names_of(call: Call, entity_keys: list[str]) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    if entity_keys:
        for key, lang, value in call.session.execute(
            select(UddiName.entity_key, UddiName.lang, UddiName.value)
            .where(UddiName.entity_key.in_(entity_keys)).order_by(UddiName.id)
        ):
            out[key].append((lang, value))
    return out


def _add_names(parent: etree._Element, names: list[tuple[str, str]]) -> None:
    for lang, value in names:
        sub(parent, "name", {XML_LANG: lang} if lang else None, value)


def _copy_children(parent: etree._Element, source: etree._Element, local: str) -> None:
    for el in source.findall(q(local)):
        parent.append(el)


# ------------------------------------------------------------------------- find_*


def _tmodel_query(call: Call, request: etree._Element, qual) -> Select:
    stmt = select(UddiEntity).where(UddiEntity.kind == "tmodel", UddiEntity.deleted.is_(False))
    names = request.findall(q("name"))
    if names:
        stmt = stmt.where(_name_condition("tmodel", names, qual))
    for bag_name, default in (("identifierBag", "or"), ("categoryBag", "and")):
        bag = request.find(q(bag_name))
        if bag is not None:
            cond = _bag_condition("tmodel", bag_name, bag, qual, default)
            if cond is not None:
                stmt = stmt.where(cond)
    return stmt


def find_tmodel(call: Call, request: etree._Element) -> etree._Element:
    qual = qualifiers.parse(request)
    page = _page(call, request)
    rows, total = _run(call, _order(_tmodel_query(call, request, qual), qual), page)
    out = _list_element("tModelList", rows, total, page)
    if rows:
        infos = sub(out, "tModelInfos")
        for row in rows:
            el = etree.fromstring(row.xml)
            info = sub(infos, "tModelInfo", {"tModelKey": row.key})
            _copy_children(info, el, "name")
            _copy_children(info, el, "description")
    return out


def _service_query(call: Call, request: etree._Element, qual) -> Select:
    stmt = select(UddiEntity).where(UddiEntity.kind == "service")
    business_key = request.get("businessKey")
    if business_key:
        stmt = stmt.where(UddiEntity.parent_key == keys.check_syntax(business_key))
    names = request.findall(q("name"))
    if names:
        stmt = stmt.where(_name_condition("service", names, qual))
    bag = request.find(q("categoryBag"))
    if bag is not None:
        cond = _bag_condition("service", "categoryBag", bag, qual, "and")
        if cond is not None:
            stmt = stmt.where(cond)
    tkeys = _tmodel_keys(call, request)
    if tkeys is not None:
        matching = _bindings_with(tkeys, qual.key_logic("and")).subquery()
        stmt = stmt.where(UddiEntity.key.in_(select(matching.c.service_key)))
    return stmt


def find_service(call: Call, request: etree._Element) -> etree._Element:
    qual = qualifiers.parse(request)
    page = _page(call, request)
    rows, total = _run(call, _order(_service_query(call, request, qual), qual), page)
    out = _list_element("serviceList", rows, total, page)
    if rows:
        names = _names_of(call, [r.key for r in rows])
        infos = sub(out, "serviceInfos")
        for row in rows:
            info = sub(infos, "serviceInfo", {"serviceKey": row.key, "businessKey": row.parent_key})
            _add_names(info, names.get(row.key, []))
    return out


def find_business(call: Call, request: etree._Element) -> etree._Element:
    qual = qualifiers.parse(request)
    page = _page(call, request)
    for unsupported in ("discoveryURLs", "find_relatedBusinesses"):
        if request.find(q(unsupported)) is not None:
            raise UddiError("E_unsupported", f"find_business by {unsupported} is not supported by this node")
    stmt = select(UddiEntity).where(UddiEntity.kind == "business")
    names = request.findall(q("name"))
    if names:
        stmt = stmt.where(_name_condition("business", names, qual))
    for bag_name, default in (("identifierBag", "or"), ("categoryBag", "and")):
        bag = request.find(q(bag_name))
        if bag is not None:
            cond = _bag_condition("business", bag_name, bag, qual, default)
            if cond is not None:
                stmt = stmt.where(cond)
    service = aliased(UddiEntity)
    tkeys = _tmodel_keys(call, request)
    if tkeys is not None:
        matching = _bindings_with(tkeys, qual.key_logic("and")).subquery()
        parents = select(service.parent_key).where(service.key.in_(select(matching.c.service_key)))
        stmt = stmt.where(UddiEntity.key.in_(parents))
    find_service_el = request.find(q("find_service"))
    if find_service_el is not None:
        nested = _service_query(call, find_service_el, qualifiers.parse(find_service_el)).subquery()
        stmt = stmt.where(UddiEntity.key.in_(select(nested.c.parent_key)))
    rows, total = _run(call, _order(stmt, qual), page)
    out = _list_element("businessList", rows, total, page)
    if rows:
        services = store.children(call.session, [r.key for r in rows], "service")
        service_names = _names_of(call, [s.key for group in services.values() for s in group])
        infos = sub(out, "businessInfos")
        for row in rows:
            el = etree.fromstring(row.xml)
            info = sub(infos, "businessInfo", {"businessKey": row.key})
            _copy_children(info, el, "name")
            _copy_children(info, el, "description")
            if services[row.key]:
                sinfos = sub(info, "serviceInfos")
                for s in services[row.key]:
                    sinfo = sub(sinfos, "serviceInfo", {"serviceKey": s.key, "businessKey": row.key})
                    _add_names(sinfo, service_names.get(s.key, []))
    return out


def find_binding(call: Call, request: etree._Element) -> etree._Element:
    qual = qualifiers.parse(request)
    page = _page(call, request)
    stmt = select(UddiEntity).where(UddiEntity.kind == "binding")
    service_key = request.get("serviceKey")
    if service_key:
        stmt = stmt.where(UddiEntity.parent_key == keys.check_syntax(service_key))
    bag = request.find(q("categoryBag"))
    if bag is not None:
        cond = _bag_condition("binding", "categoryBag", bag, qual, "and")
        if cond is not None:
            stmt = stmt.where(cond)
    tkeys = _tmodel_keys(call, request)
    if tkeys is not None:
        matching = _bindings_with(tkeys, qual.key_logic("and")).subquery()
        stmt = stmt.where(UddiEntity.key.in_(select(matching.c.binding_key)))
    rows, total = _run(call, _order(stmt, qual, by_name_default=False), page)
    out = _list_element("bindingDetail", rows, total, page)
    for el in store.compose(call.session, rows):
        out.append(el)
    return out


# ------------------------------------------------------------------------- get_*


def _getter(kind: str, detail: str):
    key_tag = q(store.KEY_ATTR[kind])

    def operation(call: Call, request: etree._Element) -> etree._Element:
        rows = []
        for key_el in request.findall(key_tag):
            key = keys.check_syntax(key_el.text or "")
            row = store.get(call.session, key, kind)
            if row is None:
                raise UddiError("E_invalidKeyPassed", f"no {store.NOUN[kind]} has the key {key_el.text}")
            rows.append(row)
        out = fresh(detail)
        for row, el in zip(rows, store.compose(call.session, rows), strict=True):
            if row.deleted:
                el.set("deleted", "true")
            out.append(el)
        return out

    operation.__name__ = f"get_{detail}"
    return operation


def get_operational_info(call: Call, request: etree._Element) -> etree._Element:
    out = fresh("operationalInfos")
    for key_el in request.findall(q("entityKey")):
        key = keys.check_syntax(key_el.text or "")
        row = store.get(call.session, key)
        if row is None:
            raise UddiError("E_invalidKeyPassed", f"no entity has the key {key_el.text}")
        info = sub(out, "operationalInfo", {"entityKey": row.key})
        sub(info, "created", text=row.created.isoformat() + "Z")
        sub(info, "modified", text=row.modified.isoformat() + "Z")
        sub(info, "modifiedIncludingChildren", text=row.modified_including_children.isoformat() + "Z")
        sub(info, "nodeID", text=call.settings.node_id)
        sub(info, "authorizedName", text=row.authorized_name or "uddi-node")
    return out


OPERATIONS = {
    "find_business": find_business,
    "find_service": find_service,
    "find_binding": find_binding,
    "find_tModel": find_tmodel,
    "get_businessDetail": _getter("business", "businessDetail"),
    "get_serviceDetail": _getter("service", "serviceDetail"),
    "get_bindingDetail": _getter("binding", "bindingDetail"),
    "get_tModelDetail": _getter("tmodel", "tModelDetail"),
    "get_operationalInfo": get_operational_info,
}
