"""The catalogue workflow (编目 → 审核 → 发布): the actions every front end calls.

Each action is a plain function taking the session and the acting user; the SOAP,
portal and command-line front ends stay thin.  Status machine::

    create                 -> draft
    draft      --submit--> submitted --approve--> approved --publish--> published
    submitted  --refuse (reason)-->    refused     (退回)
    published  --withdraw (reason)-->  withdrawn   (下架)
    draft | refused | withdrawn  --edit-->   draft
    draft | refused | withdrawn  --submit--> submitted

Who may act:

| action                 | who                                                              |
|------------------------|------------------------------------------------------------------|
| create, edit, submit   | a cataloguer or provider of the provider department, or an admin |
| approve, refuse        | a reviewer or an admin                                           |
| publish                | a reviewer or an admin                                           |
| withdraw               | a cataloguer or provider of the provider department, or an admin |

Other departments see only published entries; the provider department sees all of
its own, reviewers, admins and auditors see everything.  Every change adds a
CatalogueVersion: number, action, status, reason, who (username), when, and the whole
entry after the change — for example::

    {"version": 3, "action": "approve", "status": "approved", "changed_by": "shen.li",
     "changed_at": "2024-05-01T09:30:00", "snapshot": {"resource_code": "101002/000001", ...}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lxml import etree
from sqlalchemy import false, or_, select
from sqlalchemy.orm import Session, selectinload

from registry.clock import utcnow
from registry.errors import (
    EntryNotFound,
    IllegalTransition,
    InvalidMetadata,
    MetadataError,
    NotPermitted,
    PublicationFailed,
    ReasonRequired,
    UddiError,
)
from registry.models import CatalogueEntry, CatalogueVersion, Department, InformationItem, User
from registry.settings import Settings

from ..uddi import store
from . import classification, codes
from .metadata import Metadata, validate_metadata
from .uddi_mapping import service_element

DRAFT, SUBMITTED, APPROVED, PUBLISHED, REFUSED, WITHDRAWN = (
    "draft", "submitted", "approved", "published", "refused", "withdrawn")
STATUSES = (DRAFT, SUBMITTED, APPROVED, PUBLISHED, REFUSED, WITHDRAWN)

#: action -> (statuses it applies to, status it leads to)
TRANSITIONS = {
    "edit": ((DRAFT, REFUSED, WITHDRAWN), DRAFT),
    "submit": ((DRAFT, REFUSED, WITHDRAWN), SUBMITTED),
    "approve": ((SUBMITTED,), APPROVED),
    "refuse": ((SUBMITTED,), REFUSED),
    "publish": ((APPROVED,), PUBLISHED),
    "withdraw": ((PUBLISHED,), WITHDRAWN),
}
PROVIDER_ROLES = {"cataloguer", "provider"}
REVIEWER_ROLES = {"reviewer"}
SEE_ALL_ROLES = {"admin", "reviewer", "auditor"}
#: fields of an entry's snapshot that the platform sets, never the cataloguer
READ_ONLY = ("resource_code", "category", "provider", "provider_name", "provider_code", "status",
             "status_reason", "service_key", "version", "created", "modified")


# --------------------------------------------------------------------------- reading


def visible_entries(
    session: Session, viewer: User, *, status: str | None = None, mine: bool = False
) -> list[CatalogueEntry]:
    """The entries ``viewer`` may see, by resource code; ``mine`` keeps its department's own."""
    query = select(CatalogueEntry).options(selectinload(CatalogueEntry.provider)).order_by(
        CatalogueEntry.resource_code)
    if not viewer.role_set & SEE_ALL_ROLES:
        query = query.where(or_(CatalogueEntry.status == PUBLISHED, _own_department(viewer)))
    if mine:
        query = query.where(_own_department(viewer))
    if status is not None:
        query = query.where(CatalogueEntry.status == status)
    return list(session.scalars(query))


def get_entry(session: Session, viewer: User, code: str) -> CatalogueEntry:
    """The entry with resource code ``code``, if ``viewer`` may see it; else EntryNotFound."""
    entry = session.scalar(select(CatalogueEntry).where(CatalogueEntry.resource_code == code.strip()))
    if entry is None or not can_see(viewer, entry):
        raise EntryNotFound(code)
    return entry


def entry_history(session: Session, viewer: User, code: str) -> list[CatalogueVersion]:
    """Every version of an entry, oldest first — for its provider department and the reviewers."""
    entry = get_entry(session, viewer, code)
    if not (_in_department(viewer, entry) or viewer.role_set & SEE_ALL_ROLES):
        raise NotPermitted(f"{viewer.username} may not read the history of {code}: the history (drafts, refusals) "
                           "is kept for the provider department and reviewers")
    return list(session.scalars(
        select(CatalogueVersion).where(CatalogueVersion.entry_id == entry.id).order_by(CatalogueVersion.version)))


def can_see(viewer: User, entry: CatalogueEntry) -> bool:
    return entry.status == PUBLISHED or _in_department(viewer, entry) or bool(viewer.role_set & SEE_ALL_ROLES)


def allowed_actions(user: User, entry: CatalogueEntry) -> list[str]:
    """The actions ``user`` may take on ``entry`` now (for portal buttons and error messages)."""
    return [action for action, (sources, _) in TRANSITIONS.items()
            if entry.status in sources and _problem(user, action, entry.provider_id) is None]


def snapshot(entry: CatalogueEntry) -> dict[str, Any]:
    """The whole entry as JSON-ready data, information items included."""
    return {
        "resource_code": entry.resource_code,
        "category": entry.category,
        "classification": entry.class_code,
        "name": entry.name,
        "provider": entry.provider.code,
        "provider_name": entry.provider.name,
        "provider_code": entry.provider_code,
        "provider_unit": entry.provider_unit,
        "abstract": entry.abstract,
        "format_class": entry.format_class,
        "format_type": entry.format_type,
        "items": [{"name": i.name, "data_type": i.data_type, "length": i.length} for i in entry.items],
        "sharing_type": entry.sharing_type,
        "sharing_condition": entry.sharing_condition,
        "not_shared_basis": entry.not_shared_basis,
        "sharing_method": entry.sharing_method,
        "open_to_public": entry.open_to_public,
        "open_condition": entry.open_condition,
        "update_cycle": entry.update_cycle,
        "publish_date": entry.publish_date.isoformat() if entry.publish_date else None,
        "related_codes": list(entry.related_codes or []),
        "wsdl_path": entry.wsdl_path,
        "access_point": entry.access_point,
        "logical": entry.logical,
        "status": entry.status,
        "status_reason": entry.status_reason,
        "service_key": entry.service_key,
        "version": entry.version,
        "created": entry.created.isoformat(),
        "modified": entry.modified.isoformat(),
    }


# --------------------------------------------------------------------------- cataloguing (编目)


def create_entry(session: Session, user: User, data: Mapping[str, Any]) -> CatalogueEntry:
    """Catalogue a new resource as a draft; its code is generated under its classification.

    The provider is the user's department; an admin names it with ``"provider": "<department code>"``.
    """
    fields = dict(data)
    provider = _provider_for(session, user, fields.pop("provider", None))
    _require(user, "create", provider_id=provider.id, code="a new entry")
    errors = _read_only_errors(fields, None)
    try:
        meta = validate_metadata(fields, provider_code=provider.credit_code,
                                 resource_exists=lambda code: _exists_for(session, user, code))
    except InvalidMetadata as exc:
        raise InvalidMetadata(errors + exc.errors) from None
    if errors:
        raise InvalidMetadata(errors)
    now = utcnow()
    entry = CatalogueEntry(provider=provider, provider_code=provider.credit_code, status=DRAFT, status_reason="",
                           version=1, created=now, modified=now, service_key=None)
    _apply(entry, meta)
    codes.insert_with_code(session, entry)
    _record(session, entry, user, "create")
    return entry


def edit_entry(session: Session, user: User, code: str, data: Mapping[str, Any]) -> CatalogueEntry:
    """Change the metadata of a draft, refused or withdrawn entry; it becomes a draft.

    ``data`` may hold only the fields that change; the others keep their values.  The
    classification is fixed once the code is assigned, and the platform's own fields
    (resource code, status, ...) may be sent back unchanged, as ``show`` prints them.
    """
    entry = _load_for_change(session, user, code, "edit")
    current = snapshot(entry)
    changes = dict(data)
    errors = _read_only_errors(changes, current)
    if changes.get("classification", entry.class_code) != entry.class_code:
        errors.append(MetadataError("classification", "fixed once the resource code is assigned",
                                    f"{entry.resource_code} stays under {entry.class_code}; "
                                    "catalogue a new entry for another classification"))
    merged = {key: value for key, value in current.items() if key not in READ_ONLY}
    merged.update(changes)
    try:
        meta = validate_metadata(merged, provider_code=entry.provider_code, own_code=entry.resource_code,
                                 resource_exists=lambda c: _exists_for(session, user, c))
    except InvalidMetadata as exc:
        raise InvalidMetadata(errors + exc.errors) from None
    if errors:
        raise InvalidMetadata(errors)
    _apply(entry, meta)
    return _move(session, entry, user, "edit")


def submit_entry(session: Session, user: User, code: str) -> CatalogueEntry:
    """Send an entry for review (提交审核)."""
    return _move(session, _load_for_change(session, user, code, "submit"), user, "submit")


# --------------------------------------------------------------------------- review (审核) and publishing (发布)


def approve_entry(session: Session, user: User, code: str) -> CatalogueEntry:
    """Approve a submitted entry (审核通过)."""
    return _move(session, _load_for_change(session, user, code, "approve"), user, "approve")


def refuse_entry(session: Session, user: User, code: str, reason: str) -> CatalogueEntry:
    """Send a submitted entry back to its provider (审核退回); the reason is required."""
    reason = _reason(reason, "refuse")
    return _move(session, _load_for_change(session, user, code, "refuse"), user, "refuse", reason)


def publish_entry(session: Session, settings: Settings, user: User, code: str) -> CatalogueEntry:
    """Publish an approved entry (发布): save its businessService in the UDDI directory.

    The publish date is today unless the metadata gave one.  An entry with a WSDL gets
    the bindingTemplates of the WSDL's ports; the WSDL must be in the repository already.
    A resource the centre holds (not 逻辑集中) also gets the central exchange service's
    bindingTemplate once the node has registered it.
    """
    entry = _load_for_change(session, user, code, "publish")
    if entry.publish_date is None:
        entry.publish_date = utcnow().date()
    element = service_element(entry, settings)
    try:
        if entry.wsdl_path:
            # Imported here: the WSDL repository sits beside the catalogue, not under it.
            from ..wsdl_publishing import binding_templates_for

            templates = binding_templates_for(session, settings, entry.wsdl_path, element.get("serviceKey"))
        else:
            templates = []
        if not entry.logical:  # the centre holds the records: the exchange service answers for them too
            from ..self_registration import exchange_binding_template

            central = exchange_binding_template(session, settings, element.get("serviceKey"), entry.resource_code)
            templates += [central] if central is not None else []
        if entry.logical and not templates:
            raise PublicationFailed(f"{entry.resource_code} is 逻辑集中 but its WSDL has no port with a "
                                    "soap:address for queries to be forwarded to")
        if templates:
            container = etree.Element(store.q("bindingTemplates"))
            container.extend(templates)
            element.insert(element.index(element.find(store.q("categoryBag"))), container)
        from ..uddi.publication import publish_entity

        saved = publish_entity(session, settings, "service", element, department=entry.provider,
                               authorized_name=user.username)
    except UddiError as exc:
        raise PublicationFailed(f"the directory refused {entry.resource_code}: {exc}") from exc
    except LookupError as exc:  # the WSDL is not (or not fully) in the repository
        raise PublicationFailed(f"cannot publish {entry.resource_code}: {exc}") from exc
    entry.service_key = saved.get("serviceKey")
    return _move(session, entry, user, "publish")


def withdraw_entry(session: Session, settings: Settings, user: User, code: str, reason: str) -> CatalogueEntry:
    """Take a published entry off the directory (下架); the reason is required."""
    reason = _reason(reason, "withdraw")
    entry = _load_for_change(session, user, code, "withdraw")
    from ..uddi.publication import delete_entity

    try:
        delete_entity(session, settings, "service", entry.service_key, department=entry.provider)
    except UddiError as exc:
        # The department may already have deleted the service through the UDDI API itself.
        if exc.err_code != "E_invalidKeyPassed":
            raise PublicationFailed(f"the directory could not withdraw {entry.resource_code}: {exc}") from exc
    entry.service_key = None
    return _move(session, entry, user, "withdraw", reason)


# --------------------------------------------------------------------------- internals


def _own_department(viewer: User):
    return CatalogueEntry.provider_id == viewer.department_id if viewer.department_id else false()


def _in_department(user: User, entry: CatalogueEntry) -> bool:
    return user.department_id is not None and user.department_id == entry.provider_id


def _provider_for(session: Session, user: User, provider_code: Any) -> Department:
    if provider_code in (None, "") or (user.department is not None and provider_code == user.department.code):
        if user.department is None:
            raise InvalidMetadata([MetadataError("provider", "required for a user without a department",
                                                 "name the provider department's code")])
        return user.department
    if "admin" not in user.role_set:
        raise NotPermitted(f"{user.username} may not catalogue for another department: {user.username} belongs to "
                           f"{user.department.code if user.department else 'no department'}")
    provider = session.scalar(select(Department).where(Department.code == str(provider_code).lower()))
    if provider is None:
        raise InvalidMetadata([MetadataError("provider", "must be the code of a registered department",
                                             f"got {provider_code!r}")])
    return provider


def _read_only_errors(fields: dict[str, Any], current: dict[str, Any] | None) -> list[MetadataError]:
    """Remove the platform's fields from ``fields``; an error for each that differs from ``current``."""
    errors = []
    for key in READ_ONLY:
        if key not in fields:
            continue
        value = fields.pop(key)
        if current is None or value != current[key]:
            errors.append(MetadataError(key, "read-only: set by the platform", "leave it out"))
    return errors


def _exists_for(session: Session, user: User, code: str) -> bool:
    entry = session.scalar(select(CatalogueEntry).where(CatalogueEntry.resource_code == code))
    return entry is not None and can_see(user, entry)


def _load_for_change(session: Session, user: User, code: str, action: str) -> CatalogueEntry:
    """The entry, locked against concurrent changes, after checking status and permission."""
    entry = get_entry(session, user, code)
    # Lock the row so two reviewers cannot both move it (SQLite serialises writers anyway).
    session.execute(select(CatalogueEntry.id).where(CatalogueEntry.id == entry.id).with_for_update())
    session.refresh(entry)
    sources, _ = TRANSITIONS[action]
    if entry.status not in sources:
        possible = [a for a, (src, _) in TRANSITIONS.items() if entry.status in src]
        raise IllegalTransition(entry.resource_code, action, entry.status, possible)
    _require(user, action, provider_id=entry.provider_id, code=entry.resource_code)
    return entry


def _problem(user: User, action: str, provider_id: int) -> str | None:
    """Why ``user`` may not take ``action`` on an entry of ``provider_id``, or None."""
    roles = user.role_set
    if not user.active:
        return "the account is disabled"
    if "admin" in roles:
        return None
    if action in ("approve", "refuse", "publish"):
        return None if roles & REVIEWER_ROLES else "reviewing and publishing need the reviewer role"
    if not roles & PROVIDER_ROLES:
        return "cataloguing needs the cataloguer or provider role"
    if user.department_id != provider_id:
        return "only the provider department catalogues its own resources"
    return None


def _require(user: User, action: str, *, provider_id: int, code: str) -> None:
    problem = _problem(user, action, provider_id)
    if problem is not None:
        raise NotPermitted(f"{user.username} may not {action} {code}: {problem}")


def _reason(reason: str | None, action: str) -> str:
    if reason is None or not reason.strip():
        raise ReasonRequired(action)
    return reason.strip()


def _apply(entry: CatalogueEntry, meta: Metadata) -> None:
    entry.class_code = meta.classification
    entry.category = classification.category(meta.classification).code
    for name in ("name", "provider_unit", "abstract", "format_class", "format_type", "sharing_type",
                 "sharing_condition", "not_shared_basis", "sharing_method", "open_to_public", "open_condition",
                 "update_cycle", "publish_date", "wsdl_path", "access_point", "logical"):
        setattr(entry, name, getattr(meta, name))
    entry.related_codes = list(meta.related_codes)
    entry.items = [InformationItem(position=n, name=i.name, data_type=i.data_type, length=i.length)
                   for n, i in enumerate(meta.items, 1)]


def _move(session: Session, entry: CatalogueEntry, user: User, action: str, reason: str = "") -> CatalogueEntry:
    entry.status = TRANSITIONS[action][1]
    entry.status_reason = reason
    entry.version += 1
    _record(session, entry, user, action, reason)
    return entry


def _record(session: Session, entry: CatalogueEntry, user: User, action: str, reason: str = "") -> None:
    now = utcnow()
    entry.modified = now
    session.flush()
    session.add(CatalogueVersion(entry_id=entry.id, version=entry.version, action=action, status=entry.status,
                                 reason=reason, changed_by=user.username, changed_at=now, snapshot=snapshot(entry)))
    session.flush()
