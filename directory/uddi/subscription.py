"""UDDI subscription API (spec 5.5): save_subscription, get_subscriptions, delete_subscription and
get_subscriptionResults, at ``/uddi/subscription``.

    <save_subscription xmlns="urn:uddi-org:sub_v3" xmlns:uddi="urn:uddi-org:api_v3">
      <uddi:authInfo>...</uddi:authInfo>
      <subscription brief="false">
        <subscriptionFilter>
          <uddi:find_service><uddi:name>人口%</uddi:name>
            <uddi:findQualifiers><uddi:findQualifier>approximateMatch</uddi:findQualifier></uddi:findQualifiers>
          </uddi:find_service>
        </subscriptionFilter>
        <uddi:bindingKey>uddi:mzj.govshare.local:listener</uddi:bindingKey>   <!-- optional: notify me -->
        <notificationInterval>PT5M</notificationInterval>
        <maxEntities>100</maxEntities>
      </subscription>
    </save_subscription>
    ->
    <subscriptions xmlns="urn:uddi-org:sub_v3">
      <subscription brief="false"><subscriptionKey>uddi:govshare.local:4f0c...</subscriptionKey>
        <subscriptionFilter>...</subscriptionFilter><uddi:bindingKey>...</uddi:bindingKey>
        <notificationInterval>PT5M</notificationInterval><maxEntities>100</maxEntities>
        <expiresAfter>2027-01-05T08:00:00Z</expiresAfter></subscription>
    </subscriptions>

    <get_subscriptionResults><uddi:authInfo/><subscriptionKey>...</subscriptionKey>
      <coveragePeriod><startPoint>2026-12-01T00:00:00Z</startPoint><endPoint>...</endPoint></coveragePeriod>
    </get_subscriptionResults>
    ->
    <subscriptionResultsList>
      <chunkToken>100:...</chunkToken>                      <!-- only when more remains: ask again with it -->
      <coveragePeriod>...</coveragePeriod><subscription>...</subscription>
      <uddi:serviceList>...the services found that changed in the period...</uddi:serviceList>
      <keyBag><deleted>true</deleted><uddi:serviceKey>...</uddi:serviceKey></keyBag>
    </subscriptionResultsList>

A subscription belongs to the account whose authInfo saved it: only that account sees, renews,
deletes it or asks for its results (another's key is ``E_userMismatch``).  Its filter is one of
the inquiry API's find_business, find_service, find_binding, find_tModel or get_*Detail, run by
:mod:`.inquiry` itself over the entities changed in the period (``inquiry.Changed``:
``modifiedIncludingChildren`` in it).  Entities removed (or tModels hidden) in the period come from
the deletion log (``store.remove``, ``store.hide``): for a get_*Detail filter, the keys it names;
for a find_*, the entities it found as they went - a deleted entity can no longer be searched, so
:func:`note_deleted` runs each live find_* filter over the entities a deletion is about to remove
and logs the ones it finds, for that subscription.

What the node grants, and returns in the saved subscription: ``expiresAfter`` at most
:data:`LONGEST` from now (that, when absent), ``maxEntities`` at most ``GOVSHARE_MAX_ROWS`` (that,
when absent), ``notificationInterval`` at least ``GOVSHARE_UDDI_MIN_INTERVAL`` seconds
(:data:`DEFAULT_INTERVAL` when a bindingKey is given without one).  Results come in chunks of
``maxEntities`` entities (changed ones first, then deleted keys); a chunkToken asks for the next.
The listener is notified by :mod:`.listener`.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lxml import etree
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from registry.errors import UddiError
from registry.models import UddiDeletion, UddiEntity, UddiSubscription
from registry.settings import Settings
from trust.actions import Context, action

from . import UDDI_NS, inquiry, keys, store
from .context import Call
from .security import as_publisher

SUB_NS = "urn:uddi-org:sub_v3"
#: the longest a subscription is granted (expiresAfter), and renewed by saving it again
LONGEST = timedelta(days=30)
#: the notificationInterval granted to a subscription with a listener that asks for none
DEFAULT_INTERVAL = 3600

#: filter element -> (kind of entity, how the inquiry API runs it)
FINDS = {"find_business": ("business", inquiry.find_business), "find_service": ("service", inquiry.find_service),
         "find_binding": ("binding", inquiry.find_binding), "find_tModel": ("tmodel", inquiry.find_tmodel)}
GETS = {"get_businessDetail": "business", "get_serviceDetail": "service", "get_bindingDetail": "binding",
        "get_tModelDetail": "tmodel"}
_U = "{%s}" % UDDI_NS
#: where a find's list holds each entity found, whose key attribute names it
_LISTED = {"business": f"{_U}businessInfos/{_U}businessInfo", "service": f"{_U}serviceInfos/{_U}serviceInfo",
           "binding": f"{_U}bindingTemplate", "tmodel": f"{_U}tModelInfos/{_U}tModelInfo"}
_LISTENER_TMODEL = "uddi:uddi.org:v3_subscriptionlistener"


def s(local: str) -> str:
    return "{%s}%s" % (SUB_NS, local)


def u(local: str) -> str:
    return "{%s}%s" % (UDDI_NS, local)


# ----------------------------------------------------------------------------- values on the wire


_DURATION = re.compile(r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?"
                       r"(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def duration_seconds(text: str) -> int:
    """An xsd:duration in whole seconds (a year 365 days, a month 30); a negative one is E_invalidValue."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise UddiError("E_invalidValue", f"notificationInterval {text!r} is not a positive xsd:duration such as "
                        "PT5M or P1D")
    years, months, days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return int(((years * 365 + months * 30 + days) * 24 + hours) * 3600 + minutes * 60 + seconds)


def duration_text(seconds: int) -> str:
    """``PT1H30M``, ``P1DT5S``: whole seconds as an xsd:duration."""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "" if days else "T0S")


def instant(text: str, what: str) -> datetime:
    """An xsd:dateTime as the naive UTC the database keeps (one without a zone is read as UTC)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UddiError("E_invalidValue", f"{what} {text!r} is not an xsd:dateTime") from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def instant_text(value: datetime) -> str:
    return value.isoformat() + "Z"


# ----------------------------------------------------------------------------- the subscription


def subscription_element(row: UddiSubscription) -> etree._Element:
    """The subscription as saved and granted, in the sub_v3 structure."""
    out = etree.Element(s("subscription"), nsmap={None: SUB_NS, "uddi": UDDI_NS},
                        brief="true" if row.brief else "false")
    etree.SubElement(out, s("subscriptionKey")).text = row.key
    out.append(etree.fromstring(row.filter_xml))
    if row.binding_key:
        etree.SubElement(out, u("bindingKey")).text = row.binding_key
        etree.SubElement(out, s("notificationInterval")).text = duration_text(row.notification_seconds or 0)
    etree.SubElement(out, s("maxEntities")).text = str(row.max_entities)
    etree.SubElement(out, s("expiresAfter")).text = instant_text(row.expires)
    return out


def _filter_query(subscription_filter: etree._Element) -> etree._Element:
    query = next(iter(subscription_filter.iterchildren(etree.Element)), None)
    if query is None:
        raise UddiError("E_invalidValue", "the subscriptionFilter holds no inquiry")
    name = etree.QName(query).localname
    if name not in FINDS and name not in GETS:
        raise UddiError("E_unsupported", f"a subscriptionFilter of {name} is not supported by this node; it supports "
                        f"{', '.join([*FINDS, *GETS])}")
    if name == "find_business" and query.find(u("find_relatedBusinesses")) is not None:
        raise UddiError("E_unsupported", "find_business by find_relatedBusinesses is not supported by this node")
    return query


def _listener(session: Session, binding_key: str) -> str:
    """The bindingKey of a subscription listener, checked: a bindingTemplate whose accessPoint is an
    http(s) endpoint the node can POST notify_subscriptionListener to."""
    key = keys.check_syntax(binding_key)
    row = store.get(session, key, "binding")
    if row is None:
        raise UddiError("E_invalidKeyPassed", f"no bindingTemplate has the key {binding_key}: the bindingKey of a "
                        "subscription names the subscription listener's bindingTemplate")
    point = listener_address(row)
    if point is None:
        raise UddiError("E_invalidValue", f"bindingTemplate {key} has no http or https accessPoint of useType "
                        f"endPoint: the node notifies a listener ({_LISTENER_TMODEL}) by SOAP over HTTP")
    return key


def listener_address(row: UddiEntity) -> str | None:
    """The http(s) accessPoint of a listener's bindingTemplate, or None."""
    point = etree.fromstring(row.xml).find(u("accessPoint"))
    if point is None or point.get("useType", "endPoint") not in ("endPoint", "http"):
        return None
    address = (point.text or "").strip()
    return address if re.match(r"^https?://[^\s/]+", address) else None


def _claim_key(ctx: Context, given: str) -> tuple[str, UddiSubscription | None]:
    """The subscription's key and its row when it exists: one generated in the node's partition, or the
    caller's own (an existing subscription of its account, or a new key in its department's partitions)."""
    if not given.strip():
        return keys.generate(ctx.settings.node_domain), None
    key = keys.check_syntax(given)
    row = ctx.session.get(UddiSubscription, key)
    if row is not None:
        _check_owner(ctx, row)
        return key, row
    entity = store.get(ctx.session, key)
    if entity is not None:
        raise UddiError("E_keyUnavailable", f"{key} is the key of a {store.NOUN[entity.kind]}")
    owner = keys.partition_owner(ctx.session, key)
    if ctx.caller.is_admin and (owner is None or key.startswith(f"uddi:{ctx.settings.node_domain}:")):
        return key, None
    if ctx.caller.department_id is not None and owner == ctx.caller.department_id \
            and keys.platform_domain(key, ctx.settings.node_domain) is None:
        return key, None
    partition = (keys.department_partition(ctx.caller.department_code, ctx.settings.node_domain)
                 if ctx.caller.department_code else f"uddi:{ctx.settings.node_domain}")
    raise UddiError("E_keyUnavailable", f"{key} is not in a key partition of {ctx.caller.who}: use a key under "
                    f"{partition} or leave the subscriptionKey out to have one generated")


def _check_owner(ctx: Context, row: UddiSubscription) -> None:
    if row.user_id != ctx.caller.user_id:
        raise UddiError("E_userMismatch", f"subscription {row.key} belongs to another publisher; "
                        f"{ctx.caller.who} may not use it")


def _save(ctx: Context, el: etree._Element) -> UddiSubscription:
    key, row = _claim_key(ctx, el.findtext(s("subscriptionKey")) or "")
    settings, now = ctx.settings, ctx.now
    found = el.find(s("subscriptionFilter"))
    if found is None and row is None:
        raise UddiError("E_invalidValue", "a new subscription needs a subscriptionFilter")
    filter_xml = row.filter_xml if found is None else etree.tostring(found, encoding="unicode")
    subscription_filter = etree.fromstring(filter_xml)
    query = _filter_query(subscription_filter)
    for attribute in ("maxRows", "listHead"):  # chunks of maxEntities take their place (spec 5.5.8)
        query.attrib.pop(attribute, None)
    filter_xml = etree.tostring(subscription_filter, encoding="unicode")
    text = el.findtext(s("maxEntities"))
    if text is not None and int(text) <= 0:
        raise UddiError("E_invalidValue", f"maxEntities must be positive, not {text}")
    max_entities = min(int(text), settings.max_rows) if text is not None else settings.max_rows
    text = el.findtext(s("expiresAfter"))
    expires = now + LONGEST
    if text is not None:
        asked = instant(text, "expiresAfter")
        if asked <= now:
            raise UddiError("E_invalidValue", f"expiresAfter {text} is not in the future")
        expires = min(asked, expires)
    binding_text = el.findtext(u("bindingKey"))
    binding_key = _listener(ctx.session, binding_text) if binding_text and binding_text.strip() else None
    interval = None
    if binding_key is not None:
        text = el.findtext(s("notificationInterval"))
        interval = max(duration_seconds(text) if text else DEFAULT_INTERVAL, settings.uddi_min_interval)
    brief = el.get("brief", "false").strip() in ("true", "1")
    if row is None:
        row = UddiSubscription(key=key, user_id=ctx.caller.user_id, created=now, notified_through=now, failing=False)
        ctx.session.add(row)
    if binding_key is not None and (row.binding_key != binding_key or row.next_notification is None):
        row.next_notification = now
    row.filter_xml, row.binding_key, row.notification_seconds = filter_xml, binding_key, interval
    row.max_entities, row.expires, row.brief = max_entities, expires, brief
    if binding_key is None:
        row.next_notification = None
    ctx.session.flush()
    results(ctx.session, settings, row, inquiry.Changed(now, now))  # the filter runs: its faults come now
    return row


@action("uddi.save_subscription")
def save_subscription(ctx: Context, *, subscriptions: Sequence[etree._Element]) -> tuple[etree._Element, ...]:
    """save_subscription: each subscription, new or renewed, as granted."""
    rows = [_save(ctx, el) for el in subscriptions]
    ctx.note(record_count=len(rows), detail="keys: " + " ".join(r.key for r in rows))
    return tuple(subscription_element(r) for r in rows)


def _live(ctx: Context) -> list[UddiSubscription]:
    return list(ctx.session.scalars(select(UddiSubscription).where(
        UddiSubscription.user_id == ctx.caller.user_id, UddiSubscription.expires > ctx.now)
        .order_by(UddiSubscription.created, UddiSubscription.key)))


@action("uddi.get_subscriptions")
def get_subscriptions(ctx: Context) -> tuple[etree._Element, ...]:
    """get_subscriptions: the caller's subscriptions that have not expired."""
    rows = _live(ctx)
    ctx.note(record_count=len(rows))
    return tuple(subscription_element(r) for r in rows)


def _own(ctx: Context, given: str) -> UddiSubscription:
    key = keys.check_syntax(given)
    row = ctx.session.get(UddiSubscription, key)
    if row is None:
        raise UddiError("E_invalidKeyPassed", f"no subscription has the key {given}")
    _check_owner(ctx, row)
    return row


@action("uddi.delete_subscription")
def delete_subscription(ctx: Context, *, keys: Sequence[str]) -> tuple[str, ...]:
    """delete_subscription: each of the caller's subscriptions, with its notifications' record."""
    rows = [_own(ctx, key) for key in keys]
    for row in rows:
        ctx.session.delete(row)
    ctx.note(record_count=len(rows), detail="keys: " + " ".join(r.key for r in rows))
    return tuple(r.key for r in rows)


@action("uddi.get_subscriptionResults")
def get_subscription_results(ctx: Context, *, key: str, start: str | None = None, end: str | None = None,
                             chunk_token: str | None = None) -> etree._Element:
    """get_subscriptionResults: what changed in the coverage period (from the subscription's creation
    until now, where a point is left out), one chunk of at most maxEntities."""
    row = _own(ctx, key)
    if row.expires <= ctx.now:
        raise UddiError("E_invalidKeyPassed", f"subscription {row.key} expired at {instant_text(row.expires)}; "
                        "save it again to renew it")
    first = instant(start, "startPoint") if start else row.created
    offset, token_end = _read_token(row, first, chunk_token) if chunk_token else (0, None)
    last = instant(end, "endPoint") if end else token_end or ctx.now
    last = min(last, ctx.now)
    if first > last:
        raise UddiError("E_invalidValue", f"the coveragePeriod starts ({instant_text(first)}) after it ends "
                        f"({instant_text(last)})")
    if chunk_token and token_end != last:
        raise UddiError("E_invalidValue", "the chunkToken belongs to another coveragePeriod: ask again with the "
                        "period of the answer that gave it")
    chunk = results(ctx.session, ctx.settings, row, inquiry.Changed(first, last), offset)
    ctx.note(record_count=chunk.entities, detail=f"subscription {row.key}")
    return chunk.element


# ----------------------------------------------------------------------------- results


@dataclass
class Chunk:
    """One subscriptionResultsList: how many entities (changed or deleted) it reports, and where the next
    chunk starts (None: this is the last)."""

    element: etree._Element
    entities: int
    next_offset: int | None


def _token(row: UddiSubscription, start: datetime, end: datetime, offset: int) -> str:
    seal = hashlib.sha256(f"{row.key}|{start.isoformat()}|{end.isoformat()}".encode()).hexdigest()[:16]
    return f"{offset}|{end.isoformat()}|{seal}"


def _read_token(row: UddiSubscription, start: datetime, token: str) -> tuple[int, datetime]:
    try:
        offset_text, end_text, _seal = token.split("|")
        offset, end = int(offset_text), datetime.fromisoformat(end_text)
    except ValueError:
        raise UddiError("E_invalidValue", f"chunkToken {token!r} was not given by this node") from None
    if offset <= 0 or _token(row, start, end, offset) != token:
        raise UddiError("E_invalidValue", f"chunkToken {token!r} does not belong to this subscription and period")
    return offset, end


def results(session: Session, settings: Settings, row: UddiSubscription, changed: inquiry.Changed,
            offset: int = 0) -> Chunk:
    """The chunk from ``offset`` of what changed for ``row`` in ``changed``'s period: the entities its
    filter finds among those changed, then the keys of those deleted (a keyBag, ``deleted`` true)."""
    query = _filter_query(etree.fromstring(row.filter_xml))
    name = etree.QName(query).localname
    call = Call(session=session, settings=settings, now=changed.end)
    size = row.max_entities
    if name in FINDS:
        kind, find = FINDS[name]
        listed = find(call, query, changed.condition(), inquiry.Page(head=offset + 1, max_rows=size, explicit=True))
        total = int(listed.findtext(f"{u('listDescription')}/{u('actualCount')}") or 0)
        found = [el.get(store.KEY_ATTR[kind]) for el in listed.iterfind(_LISTED[kind])]
        gone = _deleted(session, kind, changed, row.key)
    else:
        kind = GETS[name]
        detail, _missing = inquiry.details(call, kind, query, changed)
        entities = list(detail)
        total = len(entities)
        for el in entities[:offset] + entities[offset + size:]:
            detail.remove(el)
        listed, found = detail, [el.get(store.KEY_ATTR[kind]) for el in detail]
        named = [keys.normalize(k.text or "") for k in query.iter(u(store.KEY_ATTR[kind]))]
        gone = [k for k in _deleted(session, kind, changed, hidden_gone=False) if k in named]
    first_gone, last_gone = max(0, offset - total), max(0, offset + size - total)
    gone_here = gone[first_gone:last_gone]
    out = etree.Element(s("subscriptionResultsList"), nsmap={None: SUB_NS, "uddi": UDDI_NS})
    following = offset + size if offset + size < total + len(gone) else None
    if following is not None:
        etree.SubElement(out, s("chunkToken")).text = _token(row, changed.start, changed.end, following)
    period = etree.SubElement(out, s("coveragePeriod"))
    etree.SubElement(period, s("startPoint")).text = instant_text(changed.start)
    etree.SubElement(period, s("endPoint")).text = instant_text(changed.end)
    out.append(subscription_element(row))
    if row.brief:
        _key_bag(out, kind, found, deleted=False)
    else:
        out.append(listed)
    _key_bag(out, kind, gone_here, deleted=True)
    return Chunk(out, len(found) + len(gone_here), following)


def _key_bag(parent: etree._Element, kind: str, entity_keys: list[str], *, deleted: bool) -> None:
    if not entity_keys:
        return
    bag = etree.SubElement(parent, s("keyBag"))
    etree.SubElement(bag, s("deleted")).text = "true" if deleted else "false"
    for key in entity_keys:
        etree.SubElement(bag, u(store.KEY_ATTR[kind])).text = key


def _deleted(session: Session, kind: str, changed: inquiry.Changed, subscription_key: str | None = None, *,
             hidden_gone: bool = True) -> list[str]:
    """Keys of entities of ``kind`` deleted in the period that are gone still (a tModel: hidden still, for a
    find, which no longer finds it): those the find_* of ``subscription_key`` found as they went, or any."""
    log = UddiDeletion
    stmt = select(log.key).where(log.kind == kind, log.deleted.between(changed.start, changed.end))
    stmt = stmt.where(log.subscription_key.is_(None) if subscription_key is None
                      else log.subscription_key == subscription_key)
    present = select(UddiEntity.key).where(UddiEntity.key == log.key)
    if kind == "tmodel" and hidden_gone:
        present = present.where(UddiEntity.deleted.is_(False))
    stmt = stmt.where(~present.exists())
    return list(session.scalars(stmt.group_by(log.key).order_by(log.key)))


def note_deleted(session: Session, settings: Settings, rows: Sequence[UddiEntity], now: datetime) -> None:
    """Before ``rows`` leave the directory (or a tModel is hidden): for each subscription whose find_* filter
    finds some of them, a deletion-log row per entity found, naming the subscription - its results report
    them deleted.  The filter is the inquiry API's find, run over these entities alone."""
    doomed: dict[str, list[UddiEntity]] = defaultdict(list)
    for row in rows:
        doomed[row.kind].append(row)
    names = [name for name, (kind, _find) in FINDS.items() if kind in doomed]
    if not names:
        return
    call = Call(session=session, settings=settings, now=now)
    candidates = session.scalars(select(UddiSubscription).where(
        UddiSubscription.expires > now, or_(*(UddiSubscription.filter_xml.contains(name) for name in names))))
    for held in candidates:
        query = _filter_query(etree.fromstring(held.filter_xml))
        found = FINDS.get(etree.QName(query).localname)
        if found is None or found[0] not in doomed:
            continue
        kind, find = found
        by_key = {row.key: row for row in doomed[kind]}
        listed = find(call, query, UddiEntity.key.in_(list(by_key)), inquiry.Page(1, len(by_key), explicit=True))
        for el in listed.iterfind(_LISTED[kind]):
            row = by_key[el.get(store.KEY_ATTR[kind])]
            session.add(UddiDeletion(key=row.key, kind=kind, parent_key=row.parent_key, deleted=now,
                                     subscription_key=held.key))


# ----------------------------------------------------------------------------- SOAP operations


def _subscriptions(elements: Sequence[etree._Element]) -> etree._Element:
    out = etree.Element(s("subscriptions"), nsmap={None: SUB_NS, "uddi": UDDI_NS})
    out.extend(elements)
    return out


def _results_request(ctx: Context, request: etree._Element) -> etree._Element:
    period = request.find(s("coveragePeriod"))
    return get_subscription_results(ctx, key=request.findtext(s("subscriptionKey")) or "",
                                    start=period.findtext(s("startPoint")), end=period.findtext(s("endPoint")),
                                    chunk_token=request.findtext(s("chunkToken")))


def _delete_request(ctx: Context, request: etree._Element) -> None:
    delete_subscription(ctx, keys=[(k.text or "").strip() for k in request.findall(s("subscriptionKey"))])


OPERATIONS = {
    "save_subscription": as_publisher(lambda ctx, request: _subscriptions(
        save_subscription(ctx, subscriptions=request.findall(s("subscription"))))),
    "get_subscriptions": as_publisher(lambda ctx, request: _subscriptions(get_subscriptions(ctx))),
    "delete_subscription": as_publisher(_delete_request),
    "get_subscriptionResults": as_publisher(_results_request),
}
