"""Catalogue federation (目录管理节点): a lower platform's published catalogue flows up into a higher one.

A district's (or a large department's) platform registers with the city's as a department whose
接入方式 is 目录管理节点 or 部门平台节点 (``governance.onboarding``: the 登记申请, the administrator's
approval, a certificate from the CSR flow; suspension and reinstatement are the department's).  With
that certificate it signs two operations of the city's ``/exchange``: ``FederateEntries`` (entries in)
and ``GetFederatedDigests`` (what the city holds from it).  Both sides speak of an entry by one
*document*, the same bytes on both sides::

    {"code": "101002/000001", "status": "published", "version": 5,
     "provider": "临江区卫生健康局", "provider_code": "11330102...", "wsdl_url": "http://district/wsdl/...",
     "metadata": {...the GB/T 21063.3 core metadata, as validate_metadata takes it...},
     "history": [{"version": 1, "action": "create", "status": "draft", "changed_by": "li.na",
                  "changed_at": "2026-12-05T08:30:00", "reason": ""}, ...]}

and its *digest*, the SHA-256 of the document's canonical JSON (keys sorted, no spaces, UTF-8).

The actions, lowest side first::

    federation.outgoing   (the lower platform itself)  its published and withdrawn entries as documents
    federation.receive    (a catalogue node, signed)   documents in: each created, changed, withdrawn
                                                       or left alone, each refused with its reason
    federation.digests    (a catalogue node, signed)   origin code -> digest of what the city holds
    federation.nodes      (admin, auditor)             the lower platforms and their federation state

At the higher platform an entry from a node is the node's (its provider is the node's department),
under a code of the higher platform's own numbering, and keeps its code, provider, 提供方代码 and
digest at the node (``origin_*``); its history is the node's, plus one version here for each change
received.  Nobody at the higher platform edits, submits, reviews or withdraws it: its node does
(``workflow.federated_refusal``).  A published one is a businessService of the node's businessEntity in the
directory, like any other.

Push and reconciliation are one comparison (``federation.peer`` runs it): the lower side sends the
documents whose digest differs from the one the higher side holds, and a withdrawal for each code the
higher side holds that it no longer lists.  Receiving is idempotent (the same document twice changes
nothing) and each batch of documents is one unit of work, so a push cut off anywhere is repaired by
the next: nothing lost, nothing twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from lxml import etree
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import selectinload

from registry.errors import (
    InvalidInput,
    InvalidMetadata,
    NotPermitted,
    PublicationFailed,
    UddiError,
)
from registry.models import CatalogueEntry, CatalogueVersion, Department, FederationNode, UddiEntity, WsdlDocument
from trust.actions import Context, action

from .catalogue import codes, workflow
from .catalogue.metadata import validate_metadata

#: the 接入方式 of a lower platform (governance.onboarding.CONNECTION_MODES)
NODE_MODES = ("catalogue_node", "platform_node")
#: the statuses that flow up: what a lower platform has published, and what it took off again
FEDERATED = (workflow.PUBLISHED, workflow.WITHDRAWN)
#: the most documents one FederateEntries carries
MAX_DOCUMENTS = 500
#: the metadata fields a document carries (every field validate_metadata takes but the WSDL's path,
#: which means nothing at the higher platform: the document's wsdl_url replaces it)
METADATA = ("classification", "name", "provider_unit", "abstract", "format_class", "format_type", "items",
            "sharing_type", "sharing_condition", "not_shared_basis", "sharing_method", "open_to_public",
            "open_condition", "update_cycle", "publish_date", "related_codes", "access_point", "logical")


# --------------------------------------------------------------------------- documents


def document(row: CatalogueEntry, versions: list[CatalogueVersion], base_url: str,
             wsdl: str | None = None) -> dict[str, Any]:
    """The document of one of this platform's entries (its items and provider loaded), with the text of
    its interface's WSDL when the repository holds it (the higher platform publishes the WSDL's
    services' ports as the entry's bindingTemplates: a 逻辑集中 resource is forwarded there)."""
    entry = workflow.Entry.of(row).as_dict()
    extra = {"wsdl": {"path": row.wsdl_path, "content": wsdl}} if wsdl else {}
    return {**extra,
        "code": row.resource_code, "status": row.status, "status_reason": row.status_reason,
        "version": row.version, "provider": row.provider.name, "provider_code": row.provider_code,
        "wsdl_url": f"{base_url}/wsdl/{row.wsdl_path}" if row.wsdl_path else "",
        "metadata": {name: entry[name] for name in METADATA},
        "history": [{"version": v.version, "action": v.action, "status": v.status, "reason": v.reason,
                     "changed_by": v.changed_by, "changed_at": v.changed_at.isoformat()} for v in versions],
    }


def canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def digest(doc: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(doc)).hexdigest()


def gone(code: str) -> dict[str, Any]:
    """The document that tells the higher platform a code it holds is no longer listed below."""
    return {"code": code, "status": workflow.WITHDRAWN, "gone": True}


# --------------------------------------------------------------------------- the lower side


@dataclass(frozen=True)
class Outgoing:
    code: str
    digest: str
    document: dict[str, Any]


@action("federation.outgoing")
def outgoing(ctx: Context, *, since_version_id: int = 0) -> tuple[list[Outgoing], int]:
    """This platform's own published and withdrawn entries as documents - all of them, or those
    changed after the catalogue version ``since_version_id`` - and the newest version id (the mark
    of what was read)."""
    session = ctx.session
    newest = session.scalar(select(func.max(CatalogueVersion.id))) or 0
    query = (select(CatalogueEntry).where(CatalogueEntry.status.in_(FEDERATED), CatalogueEntry.origin_code.is_(None))
             .options(selectinload(CatalogueEntry.provider), selectinload(CatalogueEntry.items))
             .order_by(CatalogueEntry.id))
    if since_version_id:
        changed = select(CatalogueVersion.entry_id).where(CatalogueVersion.id > since_version_id)
        query = query.where(CatalogueEntry.id.in_(changed))
    rows = list(session.scalars(query))
    history: dict[int, list[CatalogueVersion]] = {row.id: [] for row in rows}
    ids = list(history)
    for start in range(0, len(ids), 900):  # SQLite's bound parameters
        chunk = ids[start:start + 900]
        for version in session.scalars(select(CatalogueVersion).where(CatalogueVersion.entry_id.in_(chunk))
                                       .order_by(CatalogueVersion.entry_id, CatalogueVersion.version)):
            history[version.entry_id].append(version)
    paths = {row.wsdl_path for row in rows if row.wsdl_path}
    wsdls = dict(session.execute(select(WsdlDocument.path, WsdlDocument.content).where(WsdlDocument.path.in_(paths))
                                 ).all()) if paths else {}
    out = []
    for row in rows:
        doc = document(row, history[row.id], ctx.settings.base_url, wsdls.get(row.wsdl_path))
        out.append(Outgoing(row.resource_code, digest(doc), doc))
    ctx.note(record_count=len(out))
    return out, newest


# --------------------------------------------------------------------------- the higher side


@dataclass(frozen=True)
class Received:
    """What became of one document: ``created``, ``changed``, ``withdrawn``, ``unchanged`` or ``refused``
    (with the reason, in English and Chinese); ``resource_code`` is the entry's code here."""

    code: str
    outcome: str
    resource_code: str = ""
    reason: str = ""
    reason_zh: str = ""


@dataclass(frozen=True)
class Node:
    """A lower platform as the higher one lists it."""

    code: str
    name: str
    connection_mode: str
    status: str
    entries: int
    published: int
    first_contact: Any
    last_contact: Any
    last_push: Any
    last_reconcile: Any
    pushes: int


def _node(ctx: Context) -> Department:
    """The calling lower platform's department (a signed caller registered as a catalogue node)."""
    department = ctx.session.get(Department, ctx.caller.department_id) if ctx.caller.department_id else None
    if department is None or department.connection_mode not in NODE_MODES:
        raise NotPermitted(f"{ctx.caller.who} is not registered as a catalogue node (目录管理节点) or platform node "
                           "(部门平台节点): a lower platform applies for one of them in its 登记申请",
                           zh="调用方未登记为目录管理节点或部门平台节点, 不能上报目录; 请先以该接入方式申请登记。")
    return department


def _state(ctx: Context, department: Department) -> FederationNode:
    state = ctx.session.scalar(select(FederationNode).where(FederationNode.department_id == department.id))
    if state is None:
        state = FederationNode(department_id=department.id, first_contact=ctx.now, last_contact=ctx.now)
        ctx.session.add(state)
    state.last_contact = ctx.now
    return state


@action("federation.receive")
def receive(ctx: Context, *, documents: list[dict[str, Any]], reconcile: bool = False) -> list[Received]:
    """Take a catalogue node's documents; one unit of work for all of them."""
    if len(documents) > MAX_DOCUMENTS:
        raise InvalidInput(f"at most {MAX_DOCUMENTS} entries in one FederateEntries (got {len(documents)})",
                           zh=f"一次最多上报 {MAX_DOCUMENTS} 条目录 (本次 {len(documents)} 条), 请分批上报。")
    node = _node(ctx)
    state = _state(ctx, node)
    # The unit of work begins here, with a write: on SQLite the driver opens a transaction only at the
    # first INSERT/UPDATE, and a SAVEPOINT (one per entry, below) issued before that would open it
    # instead - releasing the savepoint would then commit each entry on its own.
    ctx.session.flush()
    ctx.session.execute(update(FederationNode).where(FederationNode.id == state.id).values(last_contact=ctx.now))
    # The directory looks up the node's businessEntity and the tModels of each service's categoryBag by
    # key, from the session's identity map - which holds them only while something else does: held here,
    # they are read once per request, not once per entry.
    held = list(ctx.session.scalars(select(UddiEntity).where(or_(UddiEntity.kind == "tmodel",
                                                                  UddiEntity.key == node.business_key))))
    wanted = [str(d.get("code", "")).strip() for d in documents if isinstance(d, dict)]
    rows = {row.origin_code: row for start in range(0, len(wanted), 900) for row in ctx.session.scalars(
        select(CatalogueEntry).where(CatalogueEntry.provider_id == node.id,
                                     CatalogueEntry.origin_code.in_(wanted[start:start + 900]))
        .options(selectinload(CatalogueEntry.items), selectinload(CatalogueEntry.provider)))}
    seen: set[str] = set()
    numbering: dict[str, int] = {}  # class code -> the last sequence given in this unit of work
    out = []
    for doc in documents:
        code = str(doc.get("code", "")).strip() if isinstance(doc, dict) else ""
        if not code or code in seen:
            out.append(Received(code, "refused", reason="a document needs a code, once per request",
                                reason_zh="每条目录须有资源代码, 且同一请求中不重复"))
            continue
        seen.add(code)
        out.append(_receive_one(ctx, node, code, doc, rows.get(code), numbering))
    del held
    state.pushes += 1
    state.entries_received += sum(1 for r in out if r.outcome in ("created", "changed", "withdrawn"))
    state.last_push = ctx.now
    if reconcile:
        state.last_reconcile = ctx.now
    ctx.note(record_count=len(documents), detail=", ".join(f"{o}: {n}" for o, n in _counts(out).items()))
    return out


def _counts(received: list[Received]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in received:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    return counts


def _receive_one(ctx: Context, node: Department, code: str, doc: dict[str, Any], row: CatalogueEntry | None,
                 numbering: dict[str, int]) -> Received:
    """One document: ``row`` is the entry it came as before, if any."""
    session = ctx.session
    if doc.get("gone") or doc.get("status") == workflow.WITHDRAWN and "metadata" not in doc:
        if row is None or row.status == workflow.WITHDRAWN:
            return Received(code, "unchanged", row.resource_code if row else "")
        _unpublish(ctx, row)
        row.status, row.status_reason, row.origin_digest = workflow.WITHDRAWN, "下级节点已不再列出该目录", None
        _version(ctx, node, row, doc)
        workflow.tell_withdrawn(ctx, row, row.status_reason)
        return Received(code, "withdrawn", row.resource_code)
    fingerprint = digest(doc)
    if row is not None and row.origin_digest == fingerprint:
        return Received(code, "unchanged", row.resource_code)
    status = doc.get("status")
    if status not in FEDERATED:
        return Received(code, "refused", row.resource_code if row else "",
                        f"status must be one of {', '.join(FEDERATED)}, not {status!r}",
                        "只上报已发布或已下架的目录")
    data = dict(doc.get("metadata") or {})
    data["wsdl_path"] = ""
    wsdl = doc.get("wsdl") if isinstance(doc.get("wsdl"), dict) else None
    if wsdl and wsdl.get("path") and wsdl.get("content"):
        data["wsdl_path"] = f"{node.code}/{str(wsdl['path']).lstrip('/')}"  # the node's corner of the repository
    if not data.get("access_point") and doc.get("wsdl_url"):
        data["access_point"] = doc["wsdl_url"]
    try:
        codes.parse_code(code)
        meta = validate_metadata(data, provider_code=str(doc.get("provider_code") or node.credit_code))
    except InvalidMetadata as exc:
        return Received(code, "refused", row.resource_code if row else "", str(exc),
                        "; ".join(f"{e.label or e.field}: {e.zh}" for e in exc.errors))
    except ValueError as exc:
        return Received(code, "refused", "", str(exc), f"资源代码 {code} 不符合 分类码/顺序码 的格式")
    if row is not None and row.class_code != meta.classification:
        return Received(code, "refused", row.resource_code,
                        "the classification of an entry does not change: withdraw it and catalogue a new one",
                        "目录条目的资源分类不能变更: 请下架后重新编目")
    created = row is None
    before, was = (None, None) if created else (workflow.snapshot(row), row.status)
    try:
        with session.begin_nested():  # a refused entry undoes only itself
            if created:
                row = CatalogueEntry(class_code=meta.classification, provider_id=node.id, provider=node,
                                     provider_code=node.credit_code, status=status, version=0, created=ctx.now,
                                     modified=ctx.now, origin_code=code)
                workflow.apply_metadata(row, meta)
                _number(session, row, numbering)
            else:
                workflow.apply_metadata(row, meta)
            row.origin_provider = str(doc.get("provider") or "")[:200]
            row.origin_provider_code = str(doc.get("provider_code") or "")[:18]
            row.status_reason = str(doc.get("status_reason") or "")
            if status == workflow.PUBLISHED:
                if row.publish_date is None:
                    row.publish_date = ctx.now.date()
                _publish(ctx, row, wsdl["content"] if wsdl and row.wsdl_path else None)
            else:
                _unpublish(ctx, row)
            row.status = status
            row.origin_digest = fingerprint
            _version(ctx, node, row, doc)
    except PublicationFailed as exc:
        if created:
            session.expunge(row) if row in session else None
        else:
            session.refresh(row)
        return Received(code, "refused", "" if created else row.resource_code, exc.message, exc.user_message)
    outcome = "created" if created else "withdrawn" if status == workflow.WITHDRAWN else "changed"
    if was == workflow.PUBLISHED and status == workflow.WITHDRAWN:  # the departments that use it are told
        workflow.tell_withdrawn(ctx, row, row.status_reason or "来源节点已将其下架")
    elif before is not None and status == workflow.PUBLISHED:
        workflow.tell_published_again(ctx, row, before, again=was != workflow.PUBLISHED)
    return Received(code, outcome, row.resource_code)


def _number(session, row: CatalogueEntry, numbering: dict[str, int]) -> None:
    """Give a new entry the next code of its class.  The first of a class in a unit of work takes the
    class's turn (``codes.insert_with_code``), which holds until the commit; the others of the class
    take the following sequences without asking the database again."""
    last = numbering.get(row.class_code)
    if last is None:
        codes.insert_with_code(session, row)
    else:
        row.sequence = last + 1
        row.resource_code = codes.format_code(row.class_code, row.sequence)
        session.add(row)
        session.flush()
    numbering[row.class_code] = row.sequence


def _version(ctx: Context, node: Department, row: CatalogueEntry, doc: dict[str, Any]) -> None:
    row.version += 1
    row.modified = ctx.now
    snap = workflow.snapshot(row)
    snap["origin"] = {"node": node.code, "code": row.origin_code, "version": doc.get("version"),
                      "history": doc.get("history", [])}
    ctx.session.add(CatalogueVersion(entry_id=row.id, version=row.version, action="federate", status=row.status,
                                     reason=row.status_reason, changed_by=f"node:{node.code}", changed_at=ctx.now,
                                     snapshot=snap))


def _publish(ctx: Context, row: CatalogueEntry, wsdl: str | None) -> None:
    """The entry's businessService under its node's businessEntity (saved again when it changes); with
    the node's WSDL, the WSDL stored at ``row.wsdl_path`` and its ports the service's bindingTemplates."""
    from .catalogue.uddi_mapping import service_element
    from .uddi import store
    from .uddi.publication import publish_entity
    from .wsdl_publishing import binding_templates_for, publish_wsdl

    element = service_element(row, ctx.settings)
    try:
        if wsdl:
            publish_wsdl(ctx.session, ctx.settings, row.provider, path=row.wsdl_path, content=wsdl.encode(),
                         authorized_name=ctx.caller.who, map_services=False)
            templates = binding_templates_for(ctx.session, ctx.settings, row.wsdl_path, element.get("serviceKey"))
            if templates:
                container = etree.Element(store.q("bindingTemplates"))
                container.extend(templates)
                element.insert(element.index(element.find(store.q("categoryBag"))), container)
        saved = publish_entity(ctx.session, ctx.settings, "service", element, department=row.provider,
                               authorized_name=ctx.caller.who)
    except (UddiError, LookupError, ValueError, PermissionError) as exc:  # a WSDL refused is one of these
        raise PublicationFailed(f"the directory refused {row.origin_code}: {exc}",
                                zh=f"资源目录未接受下级节点目录 {row.origin_code} 的服务描述: {exc}") from exc
    row.service_key = saved.get("serviceKey")


def _unpublish(ctx: Context, row: CatalogueEntry) -> None:
    from .uddi.publication import delete_entity

    if row.service_key is None:
        return
    try:
        delete_entity(ctx.session, ctx.settings, "service", row.service_key, department=row.provider)
    except UddiError as exc:
        if exc.err_code != "E_invalidKeyPassed":
            raise
    row.service_key = None


@action("federation.digests")
def digests(ctx: Context) -> dict[str, tuple[str, str]]:
    """origin code -> (digest, code here) of each entry the caller's node sent; the digest is empty for
    one it held as no longer listed."""
    node = _node(ctx)
    _state(ctx, node)
    rows = ctx.session.execute(select(CatalogueEntry.origin_code, CatalogueEntry.origin_digest,
                                      CatalogueEntry.resource_code)
                               .where(CatalogueEntry.provider_id == node.id, CatalogueEntry.origin_code.is_not(None)))
    return {code: (fingerprint or "", resource_code) for code, fingerprint, resource_code in rows}


@action("federation.nodes")
def nodes(ctx: Context) -> list[Node]:
    """Every department registered as a catalogue or platform node, with its federation state."""
    session = ctx.session
    counts = dict(session.execute(select(CatalogueEntry.provider_id, func.count()).where(
        CatalogueEntry.origin_code.is_not(None)).group_by(CatalogueEntry.provider_id)).all())
    published = dict(session.execute(select(CatalogueEntry.provider_id, func.count()).where(
        CatalogueEntry.origin_code.is_not(None), CatalogueEntry.status == workflow.PUBLISHED)
        .group_by(CatalogueEntry.provider_id)).all())
    states = {s.department_id: s for s in session.scalars(select(FederationNode))}
    out = []
    for d in session.scalars(select(Department).where(Department.connection_mode.in_(NODE_MODES))
                             .order_by(Department.code)):
        s = states.get(d.id)
        out.append(Node(d.code, d.name, d.connection_mode, d.status, counts.get(d.id, 0), published.get(d.id, 0),
                        s.first_contact if s else None, s.last_contact if s else None, s.last_push if s else None,
                        s.last_reconcile if s else None, s.pushes if s else 0))
    return out

