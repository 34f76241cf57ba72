"""UDDI publication API (spec 5.2): save_* and delete_* on businessEntity,
businessService, bindingTemplate and tModel, and get_registeredInfo (what a publisher owns).

    <save_service xmlns="urn:uddi-org:api_v3">
      <authInfo>...</authInfo>
      <businessService businessKey="uddi:gaj.govshare.local:business">
        <name xml:lang="zh-CN">人口基础信息查询</name>
        <categoryBag>
          <keyedReference tModelKey="uddi:govshare:categorization:sharing-type"
                          keyName="共享类型" keyValue="无条件共享"/>
        </categoryBag>
      </businessService>
    </save_service>
    ->
    <serviceDetail xmlns="urn:uddi-org:api_v3">
      <businessService serviceKey="uddi:govshare.local:1b4e..." businessKey="...">...</businessService>
    </serviceDetail>

Each operation is an action (:mod:`trust.actions`) named after it - ``uddi.save_service``,
``uddi.delete_tModel``, ``uddi.get_registeredInfo``, ... - whose caller is the publisher: the
account the authInfo token was issued to (its department and roles), with the certificate
that signed the request when one did.  Its check (``trust.auth``) lets cataloguers, providers
and admins publish; the action then limits a publisher to what its department owns.  The
actions take and return the UDDI v3 data structures (businessEntity, tModel, ...), never the
SOAP envelope; the SOAP operations below only authenticate the token, call the action and wrap
its result.  The UDDI transport records each call in the audit log with the request's and
response's digests: ``ok`` with the keys saved or deleted, or ``refused:<errCode>``.

A call is all or nothing: any error rolls the whole request back.  A publisher
changes only entities its department owns (E_userMismatch), assigns keys only in
its key partitions (E_keyUnavailable), references only existing tModels
(E_invalidKeyPassed) and only allowed values of checked taxonomies (E_invalidValue).
A caller whose roles do not publish is refused with E_userMismatch.

``publish_entity`` and ``delete_entity`` save and delete for callers inside the platform
(the catalogue's actions, the WSDL repository, start-up) acting for a department.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree
from sqlalchemy.orm import Session

from registry.clock import utcnow
from registry.errors import UddiError
from registry.models import Department, KeyPartition, UddiEntity
from registry.settings import Settings
from trust import audit
from trust.actions import Context, action

from . import inquiry, keys, store, subscription
from .context import Call
from .security import as_publisher
from .store import KEY_ATTR, NOUN, PARENT_ATTR, fresh, q

KEYGENERATOR_VALUE = "keygenerator"
_TYPES = "uddi:uddi.org:categorization:types"


@dataclass
class Publishing:
    """Save and delete on behalf of one department (or of a platform administrator)."""

    session: Session
    settings: Settings
    now: datetime
    department: Department | None
    authorized_name: str
    is_admin: bool = False
    checked_values: dict[str, dict[str, str]] = field(default_factory=dict)

    # ---------------------------------------------------------------- save

    def save(self, kind: str, el: etree._Element, parent_key: str | None = None) -> etree._Element:
        store.lower_key_attributes(el)
        if kind in PARENT_ATTR:
            parent_key = self._parent(kind, el, parent_key)
        key = self._claim_key(kind, el.get(KEY_ATTR[kind]) or "", parent_key)
        el.set(KEY_ATTR[kind], key)
        self._check_references(el)
        if kind == "tmodel":
            self._keygenerator(key, el)
            el.attrib.pop("deleted", None)
        existing = store.get(self.session, key)
        row = store.put(self.session, kind, el, parent_key=parent_key,
                        owner_id=existing.owner_id if existing is not None else self._owner_id(),
                        authorized_name=self.authorized_name, now=self.now)
        self._save_children(kind, el, key)
        store.touch_ancestors(self.session, parent_key, self.now)
        return store.compose(self.session, [row])[0]

    def _parent(self, kind: str, el: etree._Element, parent_key: str | None) -> str:
        attr = PARENT_ATTR[kind]
        given = el.get(attr)
        if parent_key is None:
            if not given:
                raise UddiError("E_invalidKeyPassed", f"a {NOUN[kind]} saved on its own needs its {attr}")
            parent_key = keys.check_syntax(given)
        elif given and given != parent_key:
            raise UddiError(
                "E_unsupported",
                f"{NOUN[kind]} {el.get(KEY_ATTR[kind], '')} names {attr} {given} inside {parent_key}: "
                "service projections are not supported by this node",
            )
        parent_kind = "business" if kind == "service" else "service"
        parent = store.get(self.session, parent_key, parent_kind)
        if parent is None:
            raise UddiError("E_invalidKeyPassed", f"no {NOUN[parent_kind]} has the key {parent_key}")
        self._check_owner(parent)
        el.set(attr, parent_key)
        return parent_key

    def _claim_key(self, kind: str, given: str, parent_key: str | None) -> str:
        if not given:
            return keys.generate(self.settings.node_domain)
        key = keys.check_syntax(given)
        existing = store.get(self.session, key)
        if existing is not None:
            if existing.kind != kind:
                raise UddiError("E_invalidKeyPassed",
                                f"{key} is the key of a {NOUN[existing.kind]}, not of a {NOUN[kind]}")
            if existing.owner_id is None and not self.is_admin:
                raise UddiError("E_keyUnavailable", f"{key} is a key the platform registered for itself; "
                                f"{self._way_out()}")
            self._check_owner(existing)
            return key
        if not self.is_admin:
            self._check_domain(key)
        if kind == "tmodel" and keys.keygenerator_domain(key):
            return key  # checked in _keygenerator
        owner = keys.partition_owner(self.session, key)
        mine = self.department is not None and owner == self.department.id
        node_key = key.startswith(f"uddi:{self.settings.node_domain}:")
        if mine or (self.is_admin and (owner is None or node_key)):
            return key
        raise UddiError(
            "E_keyUnavailable",
            f"{key} is not in a key partition of publisher {self.authorized_name}: {self._way_out()}",
        )

    def _check_domain(self, key: str) -> None:
        """E_keyUnavailable for a key in a domain kept for the platform or for another department,
        whatever the key partitions say (a partition claimed there before this check existed)."""
        node_domain = self.settings.node_domain
        reason = keys.platform_domain(key, node_domain)
        if reason is not None:
            raise UddiError("E_keyUnavailable", f"{key} is in {reason}, {keys.domain_of(key)}, which no "
                            f"department may claim; {self._way_out()}")
        partition = keys.department_domain(key, node_domain)
        if partition is not None and partition != self._partition_hint():
            code = keys.domain_of(key).removesuffix("." + node_domain)
            raise UddiError("E_keyUnavailable", f"{key} is in {partition}, the key partition kept for the department "
                            f"with code '{code}'; {self._way_out()}")

    def _way_out(self) -> str:
        return f"use a key under {self._partition_hint()} or leave the key out to have one generated"

    def _partition_hint(self) -> str:
        if self.department is None:
            return f"uddi:{self.settings.node_domain}"
        return keys.department_partition(self.department.code, self.settings.node_domain)

    def _keygenerator(self, key: str, el: etree._Element) -> None:
        domain = keys.keygenerator_domain(key)
        if domain is None:
            return
        typed = any(
            kr.get("tModelKey") == _TYPES and kr.get("keyValue", "").lower() == KEYGENERATOR_VALUE
            for kr in el.iterfind(f"{q('categoryBag')}/{q('keyedReference')}")
        )
        if not typed:
            raise UddiError("E_valueNotAllowed",
                            f"{key} is a key generator tModel: categorize it as keyGenerator in {_TYPES}")
        if keys.platform_domain(key, self.settings.node_domain):
            return  # only an administrator gets here (_check_domain): the partition stays the platform's
        existing = self.session.get(KeyPartition, domain)
        owner = keys.partition_owner(self.session, domain)
        if existing is not None or (owner is not None and (self.department is None or owner != self.department.id)):
            if existing is not None and self.department is not None and existing.department_id == self.department.id:
                return
            raise UddiError("E_keyUnavailable", f"the key partition {domain} already belongs to another publisher")
        if self.department is None:
            return
        held = keys.foreign_holdings(self.session, domain, self.department.id)
        if held is not None:
            raise UddiError("E_keyUnavailable", f"the key partition {domain} holds {held}, which belongs to "
                            "another publisher or to the platform")
        self.session.add(KeyPartition(prefix=domain, department_id=self.department.id))

    def _check_references(self, el: etree._Element) -> None:
        referenced = set()
        for node in el.iter(q("keyedReference"), q("keyedReferenceGroup"), q("tModelInstanceInfo")):
            tkey = node.get("tModelKey")
            if tkey:
                referenced.add(tkey)
            if node.tag == q("keyedReference"):
                allowed = self.checked_values.get(tkey or "")
                value = node.get("keyValue", "")
                if allowed is not None and value not in allowed:
                    sample = "、".join(list(allowed)[:8])
                    raise UddiError("E_invalidValue",
                                    f"keyValue '{value}' is not in the checked value set of {tkey} "
                                    f"(allowed values include {sample})")
        for tkey in sorted(referenced):
            if store.get(self.session, keys.check_syntax(tkey), "tmodel") is None:
                raise UddiError("E_invalidKeyPassed", f"no tModel has the key {tkey}")
        for redirector in el.iter(q("hostingRedirector")):
            bkey = redirector.get("bindingKey", "")
            if store.get(self.session, bkey, "binding") is None:
                raise UddiError("E_invalidKeyPassed", f"hostingRedirector names no known bindingTemplate {bkey}")

    def _save_children(self, kind: str, el: etree._Element, key: str) -> None:
        container_name = store.CONTAINER.get(kind)
        if container_name is None:
            return
        container = el.find(q(container_name))
        if container is None:
            return  # contained entities absent from the request are left as they are
        child_kind = store.CHILD_KIND[kind]
        saved = []
        for child in container.findall(q(store.TAG[child_kind])):
            self.save(child_kind, child, parent_key=key)
            saved.append(child.get(KEY_ATTR[child_kind]))
        stale = [r for r in store.children(self.session, [key], child_kind)[key] if r.key not in saved]
        for row in stale:
            self._remove(row)

    # ---------------------------------------------------------------- delete

    def delete(self, kind: str, key: str) -> None:
        norm = keys.check_syntax(key)
        row = store.get(self.session, norm, kind)
        if row is None:
            raise UddiError("E_invalidKeyPassed", f"no {NOUN[kind]} has the key {key}")
        self._check_owner(row)
        if kind == "tmodel":
            subscription.note_deleted(self.session, self.settings, [row], self.now)
            store.hide(self.session, row, self.now)
            return
        self._remove(row)
        store.touch_ancestors(self.session, row.parent_key, self.now)

    def _remove(self, row: UddiEntity) -> None:
        doomed = [*store.descendants(self.session, row.key, row.kind), row]
        subscription.note_deleted(self.session, self.settings, doomed, self.now)
        store.remove(self.session, [r.key for r in doomed], self.now)

    # ---------------------------------------------------------------- ownership

    def _owner_id(self) -> int | None:
        return self.department.id if self.department is not None else None

    def _check_owner(self, row: UddiEntity) -> None:
        if self.is_admin:
            return
        if self.department is None or row.owner_id != self.department.id:
            raise UddiError(
                "E_userMismatch",
                f"{NOUN[row.kind]} {row.key} belongs to another publisher; {self.authorized_name} may not change it",
            )


# -------------------------------------------------------------------- the actions


@dataclass(frozen=True)
class Saved:
    """What a save_* call stored: the keys, and each entity as the directory now holds it."""

    keys: tuple[str, ...]
    entities: tuple[etree._Element, ...]


def _publishing(ctx: Context) -> Publishing:
    from ..bootstrap import checked_values

    caller = ctx.caller
    department = ctx.session.get(Department, caller.department_id) if caller.department_id is not None else None
    return Publishing(session=ctx.session, settings=ctx.settings, now=ctx.now, department=department,
                      authorized_name=caller.who, is_admin=caller.is_admin, checked_values=checked_values())


def _changed(ctx: Context, changed: Sequence[str]) -> None:
    ctx.note(record_count=len(changed), detail="keys: " + " ".join(changed),
             resource_code=changed[0] if len(changed) == 1 and len(changed[0]) <= 64 else None,
             query_digest=audit.query_digest({"keys": list(changed)}))


def _save(ctx: Context, kind: str, entities: Sequence[etree._Element]) -> Saved:
    publishing = _publishing(ctx)
    saved = tuple(publishing.save(kind, el) for el in entities)
    keys_saved = tuple(el.get(KEY_ATTR[kind], "") for el in saved)
    _changed(ctx, keys_saved)
    return Saved(keys_saved, saved)


def _delete(ctx: Context, kind: str, keys_given: Sequence[str]) -> tuple[str, ...]:
    publishing = _publishing(ctx)
    for key in keys_given:
        publishing.delete(kind, key)
    _changed(ctx, keys_given)
    return tuple(keys_given)


@action("uddi.save_business")
def save_business(ctx: Context, *, entities: Sequence[etree._Element]) -> Saved:
    """save_business: each businessEntity (and the services it holds), for the publisher's department."""
    return _save(ctx, "business", entities)


@action("uddi.save_service")
def save_service(ctx: Context, *, entities: Sequence[etree._Element]) -> Saved:
    """save_service: each businessService (and its bindingTemplates), in a business the publisher owns."""
    return _save(ctx, "service", entities)


@action("uddi.save_binding")
def save_binding(ctx: Context, *, entities: Sequence[etree._Element]) -> Saved:
    """save_binding: each bindingTemplate, in a service the publisher owns."""
    return _save(ctx, "binding", entities)


@action("uddi.save_tModel")
def save_tmodel(ctx: Context, *, entities: Sequence[etree._Element]) -> Saved:
    """save_tModel: each tModel (a keyGenerator tModel claims its key partition)."""
    return _save(ctx, "tmodel", entities)


@action("uddi.delete_business")
def delete_business(ctx: Context, *, keys: Sequence[str]) -> tuple[str, ...]:
    """delete_business: each businessEntity the publisher owns, with everything it holds."""
    return _delete(ctx, "business", keys)


@action("uddi.delete_service")
def delete_service(ctx: Context, *, keys: Sequence[str]) -> tuple[str, ...]:
    return _delete(ctx, "service", keys)


@action("uddi.delete_binding")
def delete_binding(ctx: Context, *, keys: Sequence[str]) -> tuple[str, ...]:
    return _delete(ctx, "binding", keys)


@action("uddi.delete_tModel")
def delete_tmodel(ctx: Context, *, keys: Sequence[str]) -> tuple[str, ...]:
    """delete_tModel: hides each tModel (spec 5.2.8: tModels are never removed)."""
    return _delete(ctx, "tmodel", keys)


#: get_registeredInfo's infoSelection -> which tModels: hidden ones (True), visible ones (False) or all (None)
_INFO_SELECTION = {"all": None, "hidden": True, "visible": False}


@action("uddi.get_registeredInfo")
def get_registered_info(ctx: Context, *, info_selection: str = "all") -> etree._Element:
    """get_registeredInfo (publication API, spec 5.2): the businessEntities and tModels the publisher controls,
    those of its department (or, for a publisher of no department, the node's)::

        <get_registeredInfo infoSelection="visible"><authInfo>...</authInfo></get_registeredInfo>
        ->
        <registeredInfo truncated="false">
          <businessInfos><businessInfo businessKey="uddi:gaj.govshare.local:business">
            <name xml:lang="zh-CN">市公安局</name><serviceInfos>...</serviceInfos></businessInfo></businessInfos>
          <tModelInfos><tModelInfo tModelKey="uddi:gaj.govshare.local:wsdl:..."><name>...</name></tModelInfo>
          </tModelInfos>
        </registeredInfo>

    ``info_selection`` chooses among the tModels (hidden: deleted with delete_tModel); each list
    holds at most ``Settings.max_rows`` entities, and ``truncated`` says when one was cut.
    """
    owner_id = ctx.caller.department_id
    limit = ctx.settings.max_rows
    businesses = store.owned(ctx.session, "business", owner_id, limit=limit + 1)
    tmodels = store.owned(ctx.session, "tmodel", owner_id, deleted=_INFO_SELECTION[info_selection], limit=limit + 1)
    truncated = len(businesses) > limit or len(tmodels) > limit
    out = fresh("registeredInfo", {"truncated": "true" if truncated else "false"})
    if businesses:
        inquiry.add_business_infos(Call(ctx.session, ctx.settings, ctx.now), out, businesses[:limit])
    if tmodels:
        inquiry.add_tmodel_infos(out, tmodels[:limit])
    ctx.note(record_count=min(len(businesses), limit) + min(len(tmodels), limit))
    return out


# -------------------------------------------------------------------- SOAP operations


_API_NOUN = {"business": "business", "service": "service", "binding": "binding", "tmodel": "tModel"}  # save_<noun>
_DETAIL = {"business": "businessDetail", "service": "serviceDetail", "binding": "bindingDetail",
           "tmodel": "tModelDetail"}
_SAVE = {"business": save_business, "service": save_service, "binding": save_binding, "tmodel": save_tmodel}
_DELETE = {"business": delete_business, "service": delete_service, "binding": delete_binding,
           "tmodel": delete_tmodel}


def _saver(kind: str):
    def run(ctx: Context, request: etree._Element) -> etree._Element:
        saved = _SAVE[kind](ctx, entities=request.findall(q(store.TAG[kind])))
        out = fresh(_DETAIL[kind])
        out.extend(saved.entities)
        return out

    return as_publisher(run)


def _deleter(kind: str):
    def run(ctx: Context, request: etree._Element) -> None:
        _DELETE[kind](ctx, keys=[(key_el.text or "").strip() for key_el in request.findall(q(KEY_ATTR[kind]))])

    return as_publisher(run)


OPERATIONS = {
    "get_registeredInfo": as_publisher(lambda ctx, request: get_registered_info(
        ctx, info_selection=request.get("infoSelection", "all"))),
    **{f"save_{_API_NOUN[kind]}": _saver(kind) for kind in _SAVE},
    **{f"delete_{_API_NOUN[kind]}": _deleter(kind) for kind in _DELETE},
}


# -------------------------------------------------------------------- inside the platform


def publish_entity(
    session: Session,
    settings: Settings,
    kind: str,
    element: etree._Element,
    *,
    department: Department | None,
    authorized_name: str,
    checked_values: dict[str, dict[str, str]] | None = None,
) -> etree._Element:
    """Save one entity for ``department`` exactly as save_* would; returns the saved XML."""
    if checked_values is None:
        from ..bootstrap import checked_values as node_checked_values

        checked_values = node_checked_values()
    publishing = Publishing(session=session, settings=settings, now=utcnow(), department=department,
                            authorized_name=authorized_name, is_admin=department is None,
                            checked_values=checked_values)
    return publishing.save(kind, element)


def delete_entity(session: Session, settings: Settings, kind: str, key: str, *, department: Department | None) -> None:
    """Delete (or, for a tModel, hide) one entity owned by ``department``."""
    publishing = Publishing(session=session, settings=settings, now=utcnow(), department=department,
                            authorized_name=department.code if department else "uddi-node",
                            is_admin=department is None)
    publishing.delete(kind, key)
