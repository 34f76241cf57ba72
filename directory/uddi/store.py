"""Persistence of UDDI entities: canonical XML plus the index rows find_* searches.

Each entity is stored without its contained entities, which are rows of their own::

    businessEntity  (xml without <businessServices>)
      businessService  (parent_key = businessKey, xml without <bindingTemplates>)
        bindingTemplate  (parent_key = serviceKey)
    tModel

``compose`` puts them back together for get_*Detail and save_* responses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from lxml import etree
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from registry.models import UddiDeletion, UddiEntity, UddiKeyedReference, UddiName, UddiTModelInstance

from . import UDDI_NS

Q = "{%s}" % UDDI_NS
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
GENERAL_KEYWORDS = "uddi:uddi.org:categorization:general_keywords"

TAG = {"business": "businessEntity", "service": "businessService", "binding": "bindingTemplate", "tmodel": "tModel"}
KEY_ATTR = {"business": "businessKey", "service": "serviceKey", "binding": "bindingKey", "tmodel": "tModelKey"}
CHILD_KIND = {"business": "service", "service": "binding"}
CONTAINER = {"business": "businessServices", "service": "bindingTemplates"}
PARENT_ATTR = {"service": "businessKey", "binding": "serviceKey"}
NOUN = {"business": "businessEntity", "service": "businessService", "binding": "bindingTemplate", "tmodel": "tModel"}


def q(local: str) -> str:
    return Q + local


def fresh(local: str, attrib: dict | None = None, text: str | None = None) -> etree._Element:
    el = etree.Element(q(local), nsmap={None: UDDI_NS})
    for k, v in (attrib or {}).items():
        el.set(k, v)
    if text is not None:
        el.text = text
    return el


def sub(parent: etree._Element, local: str, attrib: dict | None = None, text: str | None = None):
    el = etree.SubElement(parent, q(local))
    for k, v in (attrib or {}).items():
        el.set(k, v)
    if text is not None:
        el.text = text
    return el


def lower_key_attributes(el: etree._Element) -> None:
    """Keys are case-insensitive: store every key attribute in lower case."""
    for node in el.iter(etree.Element):
        for attr in ("businessKey", "serviceKey", "bindingKey", "tModelKey", "fromKey", "toKey"):
            value = node.get(attr)
            if value is not None:
                node.set(attr, value.strip().lower())


@dataclass
class IndexRows:
    names: list[tuple[str, str]]
    refs: list[tuple[str, str, str, str, str]]  # bag, group, tModelKey, keyName, keyValue
    tmodels: list[str]


DISCOVERY = "discovery"  # the bag of a businessEntity's discoveryURLs: keyName useType, keyValue the URL
_INDEXED_URL = 255  # the width of the keyValue column


def discovery_value(url: str) -> str:
    """A discoveryURL as its index row holds it: the URL itself, or one longer than the column
    as its first 183 characters and the SHA-256 of the whole (exact searches still find it)::

        http://www.businessone.com/services
        http://example.cn/<180 more characters>#sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    """
    url = url.strip()
    if len(url) <= _INDEXED_URL:
        return url
    digest = "#sha256:" + hashlib.sha256(url.encode()).hexdigest()
    return url[: _INDEXED_URL - len(digest)] + digest


def extract_index(kind: str, el: etree._Element) -> IndexRows:
    names = []
    if kind != "binding":
        for n in el.findall(q("name")):
            names.append((n.get(XML_LANG, ""), (n.text or "").strip()))
    refs = []
    for bag_name, bag in (("category", "categoryBag"), ("identifier", "identifierBag")):
        container = el.find(q(bag))
        if container is None:
            continue
        for kr in container.findall(q("keyedReference")):
            refs.append((bag_name, "", kr.get("tModelKey", ""), kr.get("keyName", ""), kr.get("keyValue", "")))
        for group in container.findall(q("keyedReferenceGroup")):
            gkey = group.get("tModelKey", "")
            for kr in group.findall(q("keyedReference")):
                refs.append((bag_name, gkey, kr.get("tModelKey", ""), kr.get("keyName", ""), kr.get("keyValue", "")))
    if kind == "business":
        for url in el.iterfind(f"{q('discoveryURLs')}/{q('discoveryURL')}"):
            refs.append((DISCOVERY, "", "", url.get("useType", ""), discovery_value(url.text or "")))
    tmodels = []
    if kind == "binding":
        for info in el.iterfind(f"{q('tModelInstanceDetails')}/{q('tModelInstanceInfo')}"):
            tmodels.append(info.get("tModelKey", ""))
    # A search driven by one keyedReference reads one index row per entity: a reference
    # repeated under another keyName is indexed once (keyName matters only for general
    # keywords, whose repeats are kept, and for discoveryURLs, where it is the useType).
    unique_refs = {}
    for ref in refs:
        bag, group, tkey, _kname, kvalue = ref
        significant = tkey == GENERAL_KEYWORDS or bag == DISCOVERY
        unique_refs.setdefault(ref if significant else (bag, group, tkey, kvalue), ref)
    return IndexRows(list(dict.fromkeys(names)), list(unique_refs.values()), tmodels)


def put(
    session: Session,
    kind: str,
    el: etree._Element,
    *,
    parent_key: str | None,
    owner_id: int | None,
    authorized_name: str,
    now: datetime,
) -> UddiEntity:
    """Insert or replace one entity (without its contained entities) and its index rows."""
    key = el.get(KEY_ATTR[kind])
    own = etree.fromstring(etree.tostring(el))
    container = CONTAINER.get(kind)
    if container is not None:
        for c in own.findall(q(container)):
            own.remove(c)
    etree.cleanup_namespaces(own)
    index = extract_index(kind, own)
    sort_name = index.names[0][1] if index.names else ""
    row = session.get(UddiEntity, key)
    xml = etree.tostring(own, encoding="unicode")
    if row is None:
        row = UddiEntity(
            key=key, kind=kind, parent_key=parent_key, owner_id=owner_id, authorized_name=authorized_name,
            xml=xml, sort_name=sort_name[:255], deleted=False, created=now, modified=now,
            modified_including_children=now,
        )
        session.add(row)
    else:
        row.parent_key = parent_key
        row.xml = xml
        row.sort_name = sort_name[:255]
        row.deleted = False
        row.modified = now
        row.modified_including_children = now
        row.authorized_name = authorized_name
        _drop_index(session, [key])
    session.flush()
    sort_name = row.sort_name
    session.add_all(
        UddiName(entity_key=key, kind=kind, lang=lang.lower(), value=value[:255], folded=value.casefold()[:255],
                 sort_name=sort_name)
        for lang, value in index.names
    )
    session.add_all(
        UddiKeyedReference(
            entity_key=key, kind=kind, bag=bag, group_tmodel_key=group, tmodel_key=tkey,
            key_name=kname[:255], key_value=kvalue[:255], sort_name=sort_name,
        )
        for bag, group, tkey, kname, kvalue in index.refs
    )
    if kind == "binding":
        session.add_all(
            UddiTModelInstance(binding_key=key, service_key=parent_key, tmodel_key=tkey) for tkey in index.tmodels
        )
    return row


def _drop_index(session: Session, keys: list[str]) -> None:
    for model, column in (
        (UddiName, UddiName.entity_key),
        (UddiKeyedReference, UddiKeyedReference.entity_key),
        (UddiTModelInstance, UddiTModelInstance.binding_key),
    ):
        session.execute(delete(model).where(column.in_(keys)))


def get(session: Session, key: str, kind: str | None = None) -> UddiEntity | None:
    row = session.get(UddiEntity, key)
    if row is None or (kind is not None and row.kind != kind):
        return None
    return row


def owned(session: Session, kind: str, owner_id: int | None, *, deleted: bool | None = None,
          limit: int) -> list[UddiEntity]:
    """Up to ``limit`` entities of ``kind`` owned by a department (None: by the node), in name order;
    ``deleted`` True or False keeps only hidden or only visible ones."""
    stmt = select(UddiEntity).where(
        UddiEntity.kind == kind,
        UddiEntity.owner_id.is_(None) if owner_id is None else UddiEntity.owner_id == owner_id,
    )
    if deleted is not None:
        stmt = stmt.where(UddiEntity.deleted.is_(deleted))
    return list(session.scalars(stmt.order_by(UddiEntity.sort_name, UddiEntity.key).limit(limit)))


def index_discovery_urls(session: Session) -> None:
    """Index rows for the discoveryURLs of businessEntities saved before they were indexed.
    Idempotent: a business with such rows is left alone."""
    indexed = select(UddiKeyedReference.entity_key).where(UddiKeyedReference.bag == DISCOVERY)
    rows = session.scalars(select(UddiEntity).where(
        UddiEntity.kind == "business", UddiEntity.xml.contains("discoveryURL"), UddiEntity.key.not_in(indexed)))
    for row in rows:
        session.add_all(
            UddiKeyedReference(entity_key=row.key, kind="business", bag=bag, group_tmodel_key=group, tmodel_key=tkey,
                               key_name=kname[:255], key_value=kvalue, sort_name=row.sort_name)
            for bag, group, tkey, kname, kvalue in extract_index("business", etree.fromstring(row.xml)).refs
            if bag == DISCOVERY
        )


def children(session: Session, parent_keys: Iterable[str], kind: str) -> dict[str, list[UddiEntity]]:
    keys = list(parent_keys)
    out: dict[str, list[UddiEntity]] = {k: [] for k in keys}
    if not keys:
        return out
    rows = session.scalars(
        select(UddiEntity)
        .where(UddiEntity.kind == kind, UddiEntity.parent_key.in_(keys))
        .order_by(UddiEntity.created, UddiEntity.key)
    )
    for row in rows:
        out[row.parent_key].append(row)
    return out


def descendants(session: Session, key: str, kind: str) -> list[UddiEntity]:
    """Every entity contained, directly or not, in ``key``."""
    found: list[UddiEntity] = []
    level, level_kind = [key], CHILD_KIND.get(kind)
    while level and level_kind:
        rows = [r for group in children(session, level, level_kind).values() for r in group]
        found.extend(rows)
        level, level_kind = [r.key for r in rows], CHILD_KIND.get(level_kind)
    return found


def compose(session: Session, rows: list[UddiEntity]) -> list[etree._Element]:
    """The full XML of each entity, contained entities included, in the order given."""
    out = []
    for row in rows:
        out.append(_compose_one(session, row))
    return out


def _compose_one(session: Session, row: UddiEntity) -> etree._Element:
    el = etree.fromstring(row.xml)
    child_kind = CHILD_KIND.get(row.kind)
    if child_kind is not None:
        kids = children(session, [row.key], child_kind)[row.key]
        if kids:
            container = etree.Element(q(CONTAINER[row.kind]))
            for kid in kids:
                container.append(_compose_one(session, kid))
            _insert_container(row.kind, el, container)
    return el


# Where a container goes in its parent's content model (uddi_v3.xsd sequences).
_AFTER = {
    "business": ("discoveryURLs", "name", "description", "contacts"),
    "service": ("name", "description"),
}


def _insert_container(kind: str, el: etree._Element, container: etree._Element) -> None:
    before_tags = {q(t) for t in _AFTER[kind]}
    pos = 0
    for i, child in enumerate(el):
        if child.tag in before_tags:
            pos = i + 1
    el.insert(pos, container)


def remove(session: Session, keys: list[str], now: datetime) -> None:
    """Delete entities and everything they contain (``keys`` names them all), each noted in the
    deletion log that subscriptions report deletions from.  Every removal from the directory - the
    publication API, the catalogue's withdrawal, federation, the WSDL repository - comes here."""
    if not keys:
        return
    session.flush()
    session.add_all(UddiDeletion(key=key, kind=kind, parent_key=parent, deleted=now) for key, kind, parent in
                    session.execute(select(UddiEntity.key, UddiEntity.kind, UddiEntity.parent_key)
                                    .where(UddiEntity.key.in_(keys))))
    _drop_index(session, keys)
    session.execute(delete(UddiEntity).where(UddiEntity.key.in_(keys)))


def hide(session: Session, row: UddiEntity, now: datetime) -> None:
    """Hide a tModel (spec 5.2.8: tModels are never removed), noted in the deletion log: find_tModel
    no longer finds it, so a subscription to one reports it deleted."""
    row.deleted = True
    row.modified = row.modified_including_children = now
    session.add(UddiDeletion(key=row.key, kind=row.kind, parent_key=None, deleted=now))


def touch_ancestors(session: Session, parent_key: str | None, now: datetime) -> None:
    """Mark the containing entities changed (modifiedIncludingChildren) - in the session, flushed with the
    rest of the save: the parents are usually loaded already, so this costs no statement of its own."""
    while parent_key:
        parent = session.get(UddiEntity, parent_key)
        if parent is None:
            return
        parent.modified_including_children = now
        parent_key = parent.parent_key
