"""The catalogue workflow (编目 → 审核 → 发布): the actions every front end calls.

Each is an action (:mod:`trust.actions`): it takes the verified caller in its context and plain
inputs, is checked by the check of the same name in :mod:`trust.auth` (who may: the provider
department's cataloguers and providers catalogue, the reviewers review and publish, see the table
there), runs in one unit of work, is recorded in the audit log, and returns a plain :class:`Entry`::

    entry = create(ctx, metadata={"classification": "101002", "name": "出生医学证明信息", ...})
    submit(ctx, resource_code=entry.resource_code)            # a cataloguer of the provider department
    approve(ctx, resource_code="101002/000001")               # a reviewer
    publish(ctx, resource_code="101002/000001")               # a reviewer: the directory's businessService

Status machine::

    create                 -> draft
    draft      --submit--> submitted --approve--> approved --publish--> published
    submitted  --refuse (reason)-->    refused     (退回)
    published  --withdraw (reason)-->  withdrawn   (下架)
    draft | refused | withdrawn  --edit-->   draft
    draft | refused | withdrawn  --submit--> submitted

What a caller sees is the catalogue's one visibility rule (``trust.auth.catalogue_visibility``):
published entries, its department's own, and everything for reviewers, admins and auditors.
An entry whose 资源格式 is 接口 is approved and published only with a WSDL or a 服务地址.  Every
change adds a CatalogueVersion: number, action, status, reason, who (username), when, and the
whole entry after the change — for example::

    {"version": 3, "action": "approve", "status": "approved", "changed_by": "shen.li",
     "changed_at": "2024-05-01T09:30:00", "snapshot": {"resource_code": "101002/000001", ...}}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from lxml import etree
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from registry.errors import (
    Conflict,
    EntryNotFound,
    GovshareError,
    IllegalTransition,
    InvalidInput,
    InvalidMetadata,
    MetadataError,
    NoServiceAddress,
    PublicationFailed,
    ReasonRequired,
    UddiError,
)
from registry.models import (
    CatalogueEntry,
    CatalogueVersion,
    Department,
    InformationItem,
    SharingApplication,
    SharingGrant,
)
from trust.actions import Context, action
from trust.auth import CATALOGUING, REVIEWING, catalogue_refusal, catalogue_visibility, may_read_catalogue_history
from trust.notices import notify

from ..uddi import store
from . import classification, codes
from .metadata import Metadata, problem, validate_metadata
from .uddi_mapping import service_element

DRAFT, SUBMITTED, APPROVED, PUBLISHED, REFUSED, WITHDRAWN = (
    "draft", "submitted", "approved", "published", "refused", "withdrawn")
STATUSES = (DRAFT, SUBMITTED, APPROVED, PUBLISHED, REFUSED, WITHDRAWN)
STATUS_LABELS = {DRAFT: "草稿", SUBMITTED: "待审核", APPROVED: "已审核", PUBLISHED: "已发布", REFUSED: "已退回",
                 WITHDRAWN: "已下架"}
#: every verb of the workflow, as the portal names it
VERB_LABELS = {**CATALOGUING, **REVIEWING}

#: verb -> (statuses it applies to, status it leads to)
TRANSITIONS = {
    "edit": ((DRAFT, REFUSED, WITHDRAWN), DRAFT),
    "submit": ((DRAFT, REFUSED, WITHDRAWN), SUBMITTED),
    "approve": ((SUBMITTED,), APPROVED),
    "refuse": ((SUBMITTED,), REFUSED),
    "publish": ((APPROVED,), PUBLISHED),
    "withdraw": ((PUBLISHED,), WITHDRAWN),
}
#: fields of an entry's snapshot that the platform sets, never the cataloguer
READ_ONLY = ("resource_code", "category", "provider", "provider_name", "provider_code", "status",
             "status_reason", "service_key", "version", "created", "modified")
#: the longest reason of a refusal (退回) or withdrawal (下架)
REASON_MAX = 500
#: the 资源格式 whose resources are called: they need a WSDL or a 服务地址 to be approved and published
INTERFACE = "接口"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Item:
    """An information item (信息项)."""

    position: int
    name: str
    data_type: str
    length: int | None


@dataclass(frozen=True)
class Entry:
    """A catalogue entry as its readers see it (a plain result: it needs no session)."""

    resource_code: str
    category: str
    classification: str
    name: str
    provider: str  # the provider department's code
    provider_name: str
    provider_code: str  # 提供方代码: its 统一社会信用代码
    provider_unit: str
    abstract: str
    format_class: str
    format_type: str
    items: tuple[Item, ...]
    sharing_type: str
    sharing_condition: str
    not_shared_basis: str
    sharing_method: str
    open_to_public: bool
    open_condition: str
    update_cycle: str
    publish_date: date | None
    related_codes: tuple[str, ...]
    wsdl_path: str
    access_point: str
    logical: bool
    status: str
    status_reason: str
    service_key: str | None
    version: int
    created: datetime
    modified: datetime
    # from a lower platform (目录管理节点): its code, provider and 提供方代码 there; None for one catalogued here
    origin_code: str | None = None
    origin_provider: str = ""
    origin_provider_code: str = ""

    @classmethod
    def of(cls, row: CatalogueEntry) -> Entry:
        return cls(
            resource_code=row.resource_code, category=row.category, classification=row.class_code, name=row.name,
            provider=row.provider.code, provider_name=row.provider.name, provider_code=row.provider_code,
            provider_unit=row.provider_unit, abstract=row.abstract, format_class=row.format_class,
            format_type=row.format_type,
            items=tuple(Item(i.position, i.name, i.data_type, i.length) for i in row.items),
            sharing_type=row.sharing_type, sharing_condition=row.sharing_condition,
            not_shared_basis=row.not_shared_basis, sharing_method=row.sharing_method,
            open_to_public=row.open_to_public, open_condition=row.open_condition, update_cycle=row.update_cycle,
            publish_date=row.publish_date, related_codes=tuple(row.related_codes or ()), wsdl_path=row.wsdl_path,
            access_point=row.access_point, logical=row.logical, status=row.status, status_reason=row.status_reason,
            service_key=row.service_key, version=row.version, created=row.created, modified=row.modified,
            origin_code=row.origin_code, origin_provider=row.origin_provider or "",
            origin_provider_code=row.origin_provider_code or "")

    def as_dict(self) -> dict[str, Any]:
        """The whole entry as JSON-ready data: what ``catalogue show`` prints and ``edit`` accepts back
        (and, for an entry from a lower platform, ``origin``: its node's code, provider and 提供方代码)."""
        origin = {"origin": {"code": self.origin_code, "provider": self.origin_provider,
                             "provider_code": self.origin_provider_code}} if self.origin_code else {}
        return {**origin,
            "resource_code": self.resource_code, "category": self.category, "classification": self.classification,
            "name": self.name, "provider": self.provider, "provider_name": self.provider_name,
            "provider_code": self.provider_code, "provider_unit": self.provider_unit, "abstract": self.abstract,
            "format_class": self.format_class, "format_type": self.format_type,
            "items": [{"name": i.name, "data_type": i.data_type, "length": i.length} for i in self.items],
            "sharing_type": self.sharing_type, "sharing_condition": self.sharing_condition,
            "not_shared_basis": self.not_shared_basis, "sharing_method": self.sharing_method,
            "open_to_public": self.open_to_public, "open_condition": self.open_condition,
            "update_cycle": self.update_cycle,
            "publish_date": self.publish_date.isoformat() if self.publish_date else None,
            "related_codes": list(self.related_codes), "wsdl_path": self.wsdl_path,
            "access_point": self.access_point, "logical": self.logical, "status": self.status,
            "status_reason": self.status_reason, "service_key": self.service_key, "version": self.version,
            "created": self.created.isoformat(), "modified": self.modified.isoformat(),
        }


@dataclass(frozen=True)
class Version:
    """One change of an entry (变更历史)."""

    version: int
    action: str
    status: str
    reason: str
    changed_by: str
    changed_at: datetime
    snapshot: dict[str, Any]


@dataclass(frozen=True)
class EntryView:
    """An entry as one caller sees it: what the caller may do with it now, what its role or department
    keeps it from (verb -> the reason, in Chinese), and its history when the caller may read it."""

    entry: Entry
    actions: tuple[str, ...]
    refusals: dict[str, str]
    history: tuple[Version, ...] | None


def snapshot(row: CatalogueEntry) -> dict[str, Any]:
    """The whole entry as JSON-ready data, information items included."""
    return Entry.of(row).as_dict()


# --------------------------------------------------------------------------- reading


@action("catalogue.show")
def show(ctx: Context, *, resource_code: str) -> EntryView:
    """The entry with this 资源代码, if the caller may see it; else EntryNotFound."""
    row = _visible(ctx, resource_code)
    refusals = {verb: refusal.user_message for verb in VERB_LABELS if verb != "create"
                if (refusal := federated_refusal(row, verb)
                    or catalogue_refusal(ctx.caller, verb, row.provider_id, row.resource_code)) is not None}
    actions = tuple(verb for verb in TRANSITIONS
                    if status_refusal(row.resource_code, row.status, verb) is None and verb not in refusals)
    history = _versions(ctx, row) if may_read_catalogue_history(ctx.caller, row.provider_id) else None
    ctx.note(resource_code=row.resource_code)
    return EntryView(Entry.of(row), actions, refusals, history)


@action("catalogue.history")
def history(ctx: Context, *, resource_code: str) -> tuple[Version, ...]:
    """Every version of an entry, oldest first: for its provider department and the reviewers."""
    row = _visible(ctx, resource_code)
    ctx.note(resource_code=row.resource_code)
    versions = _versions(ctx, row)
    ctx.note(record_count=len(versions))
    return versions


# --------------------------------------------------------------------------- cataloguing (编目)


@action("catalogue.create")
def create(ctx: Context, *, metadata: Mapping[str, Any], provider: str | None = None) -> Entry:
    """Catalogue a new resource as a draft; its code is generated under its classification.

    The provider is the caller's department; an admin names another with ``provider`` (its code).
    """
    department = provider_for(ctx, provider)
    row = insert_entry(ctx, department, validate_new(ctx, metadata, department))
    ctx.note(resource_code=row.resource_code)
    return Entry.of(row)


@action("catalogue.edit")
def edit(ctx: Context, *, resource_code: str, changes: Mapping[str, Any]) -> Entry:
    """Change the metadata of a draft, refused or withdrawn entry; it becomes a draft.

    ``changes`` may hold only the fields that change; the others keep their values.  The
    classification is fixed once the code is assigned, and the platform's own fields
    (resource code, status, ...) may be sent back unchanged, as ``show`` gives them.
    """
    row = _for_change(ctx, resource_code, "edit")
    return apply_edit(ctx, row, validate_changes(ctx, row, changes))


# The rules of create and edit without the saving, for front ends that check many entries before
# saving any (the spreadsheet import): ``create`` is validate_new + insert_entry, ``edit`` is
# validate_changes + apply_edit.


def validate_new(ctx: Context, metadata: Mapping[str, Any], department: Department, *,
                 resource_exists: Callable[[str], bool] | None = None) -> Metadata:
    """The metadata of a new entry of ``department``, checked; InvalidMetadata lists every broken rule.
    ``resource_exists`` (default: the caller sees an entry of that code) answers for 关联资源代码."""
    fields = dict(metadata)
    errors = _read_only_errors(fields, None)
    try:
        meta = validate_metadata(fields, provider_code=department.credit_code,
                                 resource_exists=resource_exists or (lambda code: _find(ctx, code) is not None))
    except InvalidMetadata as exc:
        raise InvalidMetadata(errors + exc.errors) from None
    if errors:
        raise InvalidMetadata(errors)
    return meta


def insert_entry(ctx: Context, department: Department, meta: Metadata) -> CatalogueEntry:
    """Save validated metadata as a new draft of ``department`` under the next free code, version 1."""
    row = CatalogueEntry(provider=department, provider_code=department.credit_code, status=DRAFT, status_reason="",
                         version=1, created=ctx.now, modified=ctx.now, service_key=None)
    apply_metadata(row, meta)
    codes.insert_with_code(ctx.session, row)
    _record(ctx, row, "create")
    return row


def validate_changes(ctx: Context, row: CatalogueEntry, changes: Mapping[str, Any], *,
                     resource_exists: Callable[[str], bool] | None = None) -> Metadata:
    """The entry's metadata with ``changes`` applied, checked; InvalidMetadata lists every broken rule
    (the platform's own fields must be sent back unchanged, the classification is fixed)."""
    current = snapshot(row)
    changes = dict(changes)
    errors = _read_only_errors(changes, current)
    if changes.get("classification", row.class_code) != row.class_code:
        errors.append(problem("classification", "fixed once the resource code is assigned",
                              f"{row.resource_code} stays under {row.class_code}; "
                              "catalogue a new entry for another classification",
                              f"资源代码分配后资源分类不能修改 ({row.resource_code} 属于 {row.class_code}); "
                              "如需其他分类, 请新建条目"))
    merged = {key: value for key, value in current.items() if key not in READ_ONLY}
    merged.update(changes)
    try:
        meta = validate_metadata(merged, provider_code=row.provider_code, own_code=row.resource_code,
                                 resource_exists=resource_exists or (lambda code: _find(ctx, code) is not None))
    except InvalidMetadata as exc:
        raise InvalidMetadata(errors + exc.errors) from None
    if errors:
        raise InvalidMetadata(errors)
    return meta


def apply_edit(ctx: Context, row: CatalogueEntry, meta: Metadata) -> Entry:
    """Save validated metadata on an entry whose status allows the edit; it becomes a draft."""
    apply_metadata(row, meta)
    return _move(ctx, row, "edit")


def changes_nothing(row: CatalogueEntry, meta: Metadata) -> bool:
    """Whether saving ``meta`` would leave the entry's metadata as it is."""
    current = snapshot(row)
    return all(current[key] == value for key, value in meta.as_dict().items())


def edit_refusal(ctx: Context, row: CatalogueEntry) -> GovshareError | None:
    """Why the caller may not edit the entry now, as the edit action would refuse it: it came from a
    lower platform, the caller's role or department, or its status; None when it may."""
    return (federated_refusal(row, "edit") or catalogue_refusal(ctx.caller, "edit", row.provider_id, row.resource_code)
            or status_refusal(row.resource_code, row.status, "edit"))


@action("catalogue.submit")
def submit(ctx: Context, *, resource_code: str) -> Entry:
    """Send an entry for review (提交审核)."""
    return _move(ctx, _for_change(ctx, resource_code, "submit"), "submit")


@action("catalogue.withdraw")
def withdraw(ctx: Context, *, resource_code: str, reason: str) -> Entry:
    """Take a published entry off the directory (下架); the reason is required."""
    reason = _reason(reason, "withdraw")
    row = _for_change(ctx, resource_code, "withdraw")
    from ..uddi.publication import delete_entity

    try:
        delete_entity(ctx.session, ctx.settings, "service", row.service_key, department=row.provider)
    except UddiError as exc:
        # The department may already have deleted the service through the UDDI API itself.
        if exc.err_code != "E_invalidKeyPassed":
            raise PublicationFailed(f"the directory could not withdraw {row.resource_code}: {exc}",
                                    zh=f"资源目录未能下架 {row.resource_code}, 请稍后重试。") from exc
    row.service_key = None
    return _move(ctx, row, "withdraw", reason)


# --------------------------------------------------------------------------- review (审核) and publishing (发布)


@action("catalogue.approve")
def approve(ctx: Context, *, resource_code: str) -> Entry:
    """Approve a submitted entry (审核通过)."""
    row = _for_change(ctx, resource_code, "approve")
    _require_service(row, "approve")
    return _move(ctx, row, "approve")


@action("catalogue.refuse")
def refuse(ctx: Context, *, resource_code: str, reason: str) -> Entry:
    """Send a submitted entry back to its provider (审核退回); the reason is required."""
    reason = _reason(reason, "refuse")
    return _move(ctx, _for_change(ctx, resource_code, "refuse"), "refuse", reason)


@action("catalogue.publish")
def publish(ctx: Context, *, resource_code: str) -> Entry:
    """Publish an approved entry (发布): save its businessService in the UDDI directory.

    The publish date is today unless the metadata gave one.  An entry with a WSDL gets
    the bindingTemplates of the WSDL's ports; the WSDL must be in the repository already.
    A resource the centre holds (not 逻辑集中) also gets the central exchange service's
    bindingTemplate once the node has registered it.
    """
    session, settings = ctx.session, ctx.settings
    row = _for_change(ctx, resource_code, "publish")
    _require_service(row, "publish")
    if row.publish_date is None:
        row.publish_date = ctx.now.date()
    element = service_element(row, settings)
    try:
        if row.wsdl_path:
            # Imported here: the WSDL repository sits beside the catalogue, not under it.
            from ..wsdl_publishing import binding_templates_for

            templates = binding_templates_for(session, settings, row.wsdl_path, element.get("serviceKey"))
        else:
            templates = []
        if not row.logical:  # the centre holds the records: the exchange service answers for them too
            from ..self_registration import exchange_binding_template

            central = exchange_binding_template(session, settings, element.get("serviceKey"), row.resource_code)
            templates += [central] if central is not None else []
        if row.logical and not templates:
            raise PublicationFailed(f"{row.resource_code} is 逻辑集中 but its WSDL has no port with a "
                                    "soap:address for queries to be forwarded to",
                                    zh=f"{row.resource_code} 为逻辑集中资源, 但其 WSDL 没有带服务地址的端口, "
                                       "无法转发查询; 请退回, 由提供部门更正 WSDL。")
        if templates:
            container = etree.Element(store.q("bindingTemplates"))
            container.extend(templates)
            element.insert(element.index(element.find(store.q("categoryBag"))), container)
        from ..uddi.publication import publish_entity

        saved = publish_entity(session, settings, "service", element, department=row.provider,
                               authorized_name=ctx.caller.who)
    except UddiError as exc:
        raise PublicationFailed(f"the directory refused {row.resource_code}: {exc}",
                                zh=f"资源目录未接受 {row.resource_code} 的服务描述, 请联系平台管理员。") from exc
    except LookupError as exc:  # the WSDL is not (or not fully) in the repository
        raise PublicationFailed(f"cannot publish {row.resource_code}: {exc}",
                                zh=f"{row.resource_code} 的 WSDL ({row.wsdl_path}) 尚未发布到资源目录, 不能发布; "
                                   "请退回, 由提供部门先发布 WSDL 或更正 WSDL 路径。") from exc
    row.service_key = saved.get("serviceKey")
    return _move(ctx, row, "publish")


# --------------------------------------------------------------------------- internals


def _find(ctx: Context, code: str) -> CatalogueEntry | None:
    """The entry ``code`` if the caller may see it."""
    return ctx.session.scalar(select(CatalogueEntry).where(CatalogueEntry.resource_code == (code or "").strip(),
                                                           *catalogue_visibility(ctx.caller))
                              .options(selectinload(CatalogueEntry.provider), selectinload(CatalogueEntry.items)))


def _visible(ctx: Context, code: str) -> CatalogueEntry:
    row = _find(ctx, code)
    if row is None:
        raise EntryNotFound((code or "").strip())
    return row


def _versions(ctx: Context, row: CatalogueEntry) -> tuple[Version, ...]:
    return tuple(Version(v.version, v.action, v.status, v.reason, v.changed_by, v.changed_at, v.snapshot)
                 for v in ctx.session.scalars(select(CatalogueVersion).where(CatalogueVersion.entry_id == row.id)
                                              .order_by(CatalogueVersion.version)))


def provider_for(ctx: Context, provider_code: str | None) -> Department:
    """The provider department of a new entry: the caller's, or the one an admin names by its code."""
    caller = ctx.caller
    if provider_code in (None, "") or provider_code == caller.department_code:
        if caller.department_id is None:
            raise InvalidMetadata([problem("provider", "required for a user without a department",
                                           "name the provider department's code",
                                           "您的账号不属于任何部门, 请填写提供方部门代码")])
        return ctx.session.get(Department, caller.department_id)
    provider = ctx.session.scalar(select(Department).where(Department.code == str(provider_code).lower()))
    if provider is None:
        raise InvalidMetadata([problem("provider", "must be the code of a registered department",
                                       f"got {provider_code!r}", f"“{provider_code}”不是已登记部门的代码")])
    return provider


def _read_only_errors(fields: dict[str, Any], current: dict[str, Any] | None) -> list[MetadataError]:
    """Remove the platform's fields from ``fields``; an error for each that differs from ``current``."""
    errors = []
    for key in READ_ONLY:
        if key not in fields:
            continue
        value = fields.pop(key)
        if current is None or value != current[key]:
            errors.append(problem(key, "read-only: set by the platform", "leave it out", "由平台设置, 不能填写或修改"))
    return errors


def status_refusal(resource_code: str, status: str, verb: str) -> IllegalTransition | None:
    """Why an entry in ``status`` cannot take ``verb`` (whoever asks), or None."""
    sources, _ = TRANSITIONS[verb]
    if status in sources:
        return None
    possible = [v for v, (src, _) in TRANSITIONS.items() if status in src]
    then = "、".join(VERB_LABELS[v] for v in possible) or "无"
    return IllegalTransition(resource_code, verb, status, possible,
                             zh=f"目录条目 {resource_code} 当前为“{STATUS_LABELS[status]}”, 不能{VERB_LABELS[verb]}; "
                                f"此状态下可以: {then}。")


def _for_change(ctx: Context, code: str, verb: str) -> CatalogueEntry:
    """The entry, locked against concurrent changes, once its status allows ``verb``."""
    row = _visible(ctx, code)
    # Lock the row so two reviewers cannot both move it (SQLite serialises writers anyway).
    ctx.session.execute(select(CatalogueEntry.id).where(CatalogueEntry.id == row.id).with_for_update())
    ctx.session.refresh(row)
    refusal = federated_refusal(row, verb) or status_refusal(row.resource_code, row.status, verb)
    if refusal is not None:
        raise refusal
    return row


def federated_refusal(row: CatalogueEntry, verb: str) -> Conflict | None:
    """Why nobody here may ``verb`` an entry a lower platform (目录管理节点) sent up, or None for one
    catalogued here: it is changed at its node and flows up again (``directory.federation``)."""
    if row.origin_code is None:
        return None
    return Conflict(f"cannot {verb} {row.resource_code}: it came from the catalogue node {row.provider.code} "
                    f"(its code there: {row.origin_code}) and is changed there, not here", code="FederatedEntry",
                    zh=f"目录条目 {row.resource_code} 来自下级目录管理节点“{row.provider.name}” (原资源代码 "
                       f"{row.origin_code}), 只能在该节点修改, 本平台不能{VERB_LABELS.get(verb, verb)}。")


def _require_service(row: CatalogueEntry, verb: str) -> None:
    """An interface (接口) nobody could call is not approved or published."""
    if row.format_class == INTERFACE and not (row.wsdl_path or row.access_point):
        raise NoServiceAddress(row.resource_code, verb,
                               zh=f"{row.resource_code} 的资源格式为接口, 但没有填写 WSDL 路径或服务地址, 不能"
                                  f"{VERB_LABELS[verb]}; 请退回, 由提供部门在“修改”中补充后重新提交。")


def _reason(reason: str | None, verb: str) -> str:
    if reason is None or not reason.strip():
        raise ReasonRequired(verb, zh=f"请填写理由: {VERB_LABELS[verb]}必须说明原因。")
    reason = reason.strip()
    if len(reason) > REASON_MAX:
        raise InvalidInput(f"reason: at most {REASON_MAX} characters (it has {len(reason)})", code="ReasonTooLong",
                           field="reason",
                           zh=f"{VERB_LABELS[verb]}理由最多 {REASON_MAX} 个字 (现有 {len(reason)} 个), 请精简。")
    return reason


def apply_metadata(row: CatalogueEntry, meta: Metadata) -> None:
    """Set the entry's columns and information items from validated metadata."""
    row.class_code = meta.classification
    row.category = classification.category(meta.classification).code
    for name in ("name", "provider_unit", "abstract", "format_class", "format_type", "sharing_type",
                 "sharing_condition", "not_shared_basis", "sharing_method", "open_to_public", "open_condition",
                 "update_cycle", "publish_date", "wsdl_path", "access_point", "logical"):
        setattr(row, name, getattr(meta, name))
    row.related_codes = list(meta.related_codes)
    row.items = [InformationItem(position=n, name=i.name, data_type=i.data_type, length=i.length)
                 for n, i in enumerate(meta.items, 1)]


def _move(ctx: Context, row: CatalogueEntry, verb: str, reason: str = "") -> Entry:
    row.status = TRANSITIONS[verb][1]
    row.status_reason = reason
    row.version += 1
    _record(ctx, row, verb, reason)
    ctx.note(resource_code=row.resource_code, detail=reason)
    _tell(ctx, row, verb, reason)
    return Entry.of(row)


#: what a step of the workflow tells whom: verb -> (the capability told, of the provider department or of
#: any, the text)
_TOLD = {
    "submit": ("review", False, "{provider}提交了「{name}」({code}), 待审核。"),
    "approve": ("catalogue", True, "「{name}」({code}) 已审核通过, 待发布。"),
    "refuse": ("catalogue", True, "「{name}」({code}) 被审核退回: {reason}"),
    "publish": ("catalogue", True, "「{name}」({code}) 已发布到资源目录。"),
}


def _tell(ctx: Context, row: CatalogueEntry, verb: str, reason: str) -> None:
    """站内消息 of a step: reviewers learn of a submitted entry, its department's cataloguers of the review;
    the entry's earlier notices, which called for this step, are cleared.  The departments that use the
    resource learn that it was withdrawn (下架) or published again."""
    if verb in _TOLD:
        capability, own, text = _TOLD[verb]
        notify(ctx, capability=capability, department_id=row.provider_id if own else None, subject="entry",
               ref=row.resource_code, text=text.format(provider=row.provider.name, name=row.name,
                                                        code=row.resource_code, reason=reason), clears=("entry",))
    if verb == "withdraw":
        tell_withdrawn(ctx, row, reason)
    elif verb == "publish":
        published = ctx.session.scalars(select(CatalogueVersion.snapshot).where(
            CatalogueVersion.entry_id == row.id, CatalogueVersion.action == "publish",
            CatalogueVersion.version < row.version).order_by(CatalogueVersion.version.desc()).limit(1)).first()
        if published is not None:
            tell_published_again(ctx, row, published)


def tell_withdrawn(ctx: Context, row: CatalogueEntry, reason: str) -> None:
    """Tell the departments that use the resource that it was withdrawn (下架), and why."""
    tell_users(ctx, row, f"{row.provider.name}已将「{row.name}」({row.resource_code}) 下架: {reason}。"
                         "下架期间不能查询该资源; 重新发布后, 本部门的授权仍然有效。")


def tell_published_again(ctx: Context, row: CatalogueEntry, before: dict[str, Any], *, again: bool = True) -> None:
    """Tell the departments that use the resource that it was published again (``again``) or changed while
    published (an entry from a lower platform), with the 信息项 added or dropped since ``before`` (a
    snapshot of it as last published)."""
    done = "重新发布" if again else "更新"
    tell_users(ctx, row, f"「{row.name}」({row.resource_code}) 已{done} (第 {row.version} 版), 可以继续查询"
                         + _items_changed(before, snapshot(row)))


def tell_users(ctx: Context, row: CatalogueEntry, text: str) -> None:
    """Tell the departments that use the resource: those holding a grant of it not revoked or ended (those
    of a grant yet to begin too), and those whose 使用申请 for it waits for an answer - each department's
    people who apply for and read data, and the applicant."""
    held = ctx.session.scalars(select(SharingGrant.consumer_id).where(
        SharingGrant.entry_id == row.id, SharingGrant.revoked_at.is_(None),
        or_(SharingGrant.valid_to.is_(None), SharingGrant.valid_to > ctx.now)).distinct()).all()
    waiting = ctx.session.execute(select(SharingApplication.consumer_id, SharingApplication.applicant).where(
        SharingApplication.entry_id == row.id, SharingApplication.status == "submitted")).all()
    for department_id in sorted({*held, *(consumer for consumer, _ in waiting)} - {row.provider_id}):
        notify(ctx, capability="apply", department_id=department_id, subject="resource", ref=row.resource_code,
               text=text, usernames=[applicant for consumer, applicant in waiting if consumer == department_id])


def _items_changed(before: dict[str, Any], now: dict[str, Any]) -> str:
    """What changed in the 信息项 since the last publication, as the sentence's end."""
    old = [item["name"] for item in before.get("items", ())]
    new = [item["name"] for item in now["items"]]
    added, dropped = [n for n in new if n not in old], [n for n in old if n not in new]
    if not added and not dropped:
        return "; 信息项未变。"
    said = ([f"新增 {'、'.join(added)}"] if added else []) + ([f"删除 {'、'.join(dropped)}"] if dropped else [])
    return f"; 信息项有变化: {', '.join(said)}, 请核对本部门的调用。"


def _record(ctx: Context, row: CatalogueEntry, verb: str, reason: str = "") -> None:
    row.modified = ctx.now
    ctx.session.flush()
    ctx.session.add(CatalogueVersion(entry_id=row.id, version=row.version, action=verb, status=row.status,
                                     reason=reason, changed_by=ctx.caller.who, changed_at=ctx.now,
                                     snapshot=snapshot(row)))
    ctx.session.flush()
