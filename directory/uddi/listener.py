"""Notifying subscription listeners (UDDI v3 5.5, the ``uddi_subr_v3`` binding): the node is the client.

A subscription saved with a bindingKey names its subscriber's listener: a bindingTemplate whose
accessPoint the node POSTs a SOAP 1.1 document/literal message to (soapAction
``notify_subscriptionListener``) every notificationInterval, when something changed::

    <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
      <notify_subscriptionListener xmlns="urn:uddi-org:subr_v3">
        <subscriptionResultsList xmlns="urn:uddi-org:sub_v3" xmlns:uddi="urn:uddi-org:api_v3">
          <coveragePeriod><startPoint>2026-12-06T01:00:00Z</startPoint>
            <endPoint>2026-12-06T01:05:00Z</endPoint></coveragePeriod>
          <subscription>...</subscription>
          <uddi:serviceList>...</uddi:serviceList>
          <keyBag><deleted>true</deleted><uddi:serviceKey>...</uddi:serviceKey></keyBag>
        </subscriptionResultsList>
      </notify_subscriptionListener>
    </soap:Body></soap:Envelope>

A listener answers HTTP 200 (with a dispositionReport); anything else - a fault, another status, no
answer within ``GOVSHARE_PROVIDER_TIMEOUT`` - is a failure.  A period is delivered whole or not at
all: the next notification starts where the last delivered one ended (``notified_through``), so a
listener that was down gets everything once it is back.  More than maxEntities go as several
messages, each a chunk of the one period.  A period ends :data:`SETTLE` before the pass that sends
it, so a save whose transaction is still committing falls into the next.

Every notification tried is a ``uddi_notification`` row (when, which period, how many entities, to
which address, delivered or failed and why); a listener that starts or stops failing is logged once
at WARNING (INFO when it recovers), not at every pass.  Several server processes may run passes on
one database: a pass claims a subscription by moving its ``next_notification`` on in one
conditional UPDATE, so only one process sends a notification.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from lxml import etree
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from registry.clock import utcnow
from registry.db import unit_of_work
from registry.models import UddiNotification, UddiSubscription, User
from registry.passes import NOTIFY, Tracker
from registry.settings import Settings
from trust.actions import Context, action
from trust.xml import safe_parser
from wsdl import soap
from wsdl.oasis import listener_schema

from . import inquiry, store
from .subscription import listener_address, results

log = logging.getLogger(__name__)

LISTENER_NS = "urn:uddi-org:subr_v3"
#: how long before a pass its period ends: a change committed by then is seen by the pass
SETTLE = timedelta(seconds=2)


@dataclass(frozen=True)
class Outcome:
    """What a pass did for one subscription: ``delivered``, ``failed`` or ``unchanged`` (nothing sent)."""

    key: str
    outcome: str
    entities: int = 0
    address: str = ""
    detail: str = ""


def notify(sessions: sessionmaker[Session], settings: Settings, now: datetime | None = None, *,
           settle: timedelta = SETTLE) -> list[Outcome]:
    """One pass: every subscription with a listener whose notification is due at ``now`` (of an account still
    active), claimed and notified of what changed until ``settle`` before ``now``."""
    now = now or utcnow()
    with sessions() as session:
        due = session.execute(select(UddiSubscription.key, UddiSubscription.next_notification).join(User).where(
            UddiSubscription.binding_key.is_not(None), UddiSubscription.expires > now,
            UddiSubscription.next_notification <= now, User.active.is_(True),
        ).order_by(UddiSubscription.next_notification)).all()
    outcomes = []
    for key, seen in due:
        outcome = _notify_one(sessions, settings, key, seen, now, now - settle)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def _claim(sessions: sessionmaker[Session], key: str, seen: datetime, now: datetime) -> bool:
    """Move the subscription's next notification on by its interval, unless another pass already has."""
    with unit_of_work(sessions) as session:
        interval = session.scalar(select(UddiSubscription.notification_seconds).where(UddiSubscription.key == key))
        if interval is None:
            return False
        moved = session.execute(update(UddiSubscription).where(
            UddiSubscription.key == key, UddiSubscription.next_notification == seen,
        ).values(next_notification=now + timedelta(seconds=interval)))
        return moved.rowcount == 1


def _notify_one(sessions: sessionmaker[Session], settings: Settings, key: str, seen: datetime, now: datetime,
                end: datetime) -> Outcome | None:
    if not _claim(sessions, key, seen, now):
        return None
    with sessions() as session:
        row = session.get(UddiSubscription, key)
        start = row.notified_through or row.created
        if end < start:  # the last notification covered that already
            return Outcome(key, "unchanged")
        binding = store.get(session, row.binding_key, "binding")
        address = listener_address(binding) if binding is not None else None
        messages, entities, offset = [], 0, 0
        if address is not None:
            while offset is not None:
                chunk = results(session, settings, row, inquiry.Changed(start, end), offset)
                messages.append(_message(chunk.element))
                entities += chunk.entities
                offset = chunk.next_offset
        was_failing = row.failing
    if address is None:
        outcome = Outcome(key, "failed", detail=f"the listener's bindingTemplate {row.binding_key} is gone or has no "
                          "http(s) accessPoint")
    elif entities == 0:
        outcome = Outcome(key, "unchanged", address=address)
    else:
        outcome = _send(settings, key, address, messages, entities)
    _record(sessions, row.key, outcome, start, end, now, was_failing)
    return outcome


def _message(results_list: etree._Element) -> bytes:
    body = etree.Element("{%s}notify_subscriptionListener" % LISTENER_NS, nsmap={None: LISTENER_NS})
    body.append(results_list)
    listener_schema().assertValid(body)
    return soap.serialise(soap.envelope(body))


def _send(settings: Settings, key: str, address: str, messages: list[bytes], entities: int) -> Outcome:
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"notify_subscriptionListener"'}
    for message in messages:
        try:
            answer = requests.post(address, data=message, headers=headers, timeout=settings.provider_timeout)
        except requests.RequestException as exc:
            return Outcome(key, "failed", entities, address, f"{exc.__class__.__name__}: {exc}")
        if answer.status_code != 200:
            return Outcome(key, "failed", entities, address,
                           f"HTTP {answer.status_code}: {_fault_text(answer.content) or answer.reason}")
    return Outcome(key, "delivered", entities, address)


def _fault_text(content: bytes) -> str:
    try:
        root = etree.fromstring(content, safe_parser())
    except etree.XMLSyntaxError:
        return ""
    return (root.findtext(".//faultstring") or "").strip()[:500]


def _record(sessions: sessionmaker[Session], key: str, outcome: Outcome, start: datetime, end: datetime,
            now: datetime, was_failing: bool) -> None:
    with unit_of_work(sessions) as session:
        row = session.get(UddiSubscription, key)
        if row is None:  # deleted meanwhile
            return
        if outcome.outcome == "failed":
            row.failing = True
            if not was_failing:
                log.warning("UDDI subscription %s: its listener %s could not be notified (%s); the period from %s "
                            "is sent again at the next interval", key, outcome.address or row.binding_key,
                            outcome.detail, start.isoformat())
        else:
            row.notified_through = end + timedelta(seconds=1)  # times are whole seconds: the period had all of end
            row.failing = False
            if was_failing:
                log.info("UDDI subscription %s: its listener %s is notified again", key, outcome.address)
        if outcome.outcome != "unchanged":
            session.add(UddiNotification(subscription_key=key, sent=now, period_start=start, period_end=end,
                                         address=outcome.address[:4096], entities=outcome.entities,
                                         outcome=outcome.outcome, detail=outcome.detail))


@dataclass(frozen=True)
class ListenerState:
    """A subscription with a listener, as an operator sees it: whose, where, how often, and how its last
    notification went."""

    key: str
    owner: str
    binding_key: str
    interval_seconds: int
    expires: datetime
    notified_through: datetime | None
    failing: bool
    last_sent: datetime | None = None
    last_outcome: str = ""
    last_detail: str = ""


@action("uddi.listeners")
def listeners(ctx: Context, *, failing_only: bool = False) -> list[ListenerState]:
    """The subscriptions with a listener that have not expired, the failing ones first, with their last
    notification (``govshare uddi listeners``)."""
    stmt = (select(UddiSubscription, User.username).join(User)
            .where(UddiSubscription.binding_key.is_not(None), UddiSubscription.expires > ctx.now)
            .order_by(UddiSubscription.failing.desc(), UddiSubscription.key))
    if failing_only:
        stmt = stmt.where(UddiSubscription.failing.is_(True))
    out = []
    for row, owner in ctx.session.execute(stmt):
        last = ctx.session.scalar(select(UddiNotification).where(UddiNotification.subscription_key == row.key)
                                  .order_by(UddiNotification.id.desc()).limit(1))
        out.append(ListenerState(row.key, owner, row.binding_key, row.notification_seconds or 0, row.expires,
                                 row.notified_through, row.failing, last.sent if last else None,
                                 last.outcome if last else "", last.detail if last else ""))
    ctx.note(record_count=len(out))
    return out


class Notifier:
    """Notification passes every ``GOVSHARE_UDDI_NOTIFY`` seconds on a daemon thread, until :meth:`stop`."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings):
        self.sessions, self.settings = sessions, settings
        self.tracker = Tracker(sessions, NOTIFY, period=settings.uddi_notify_seconds)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Notifier:
        self._thread = threading.Thread(target=self._loop, name="uddi-notifier", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                with self.tracker.recording() as this:  # the 后台作业 page's row of the notifier
                    outcomes = notify(self.sessions, self.settings)
                    this.outcome = f"通知了 {len(outcomes)} 个订阅" + (
                        f" ({', '.join(sorted({o.outcome for o in outcomes}))})" if outcomes else "")
            except Exception:  # noqa: BLE001 - the database may be away for a while; the thread must live on
                log.exception("UDDI notifier: the pass failed; trying again in %d s", self.settings.uddi_notify_seconds)
            self._stop.wait(self.settings.uddi_notify_seconds)
