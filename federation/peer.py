"""This platform as a catalogue node (目录管理节点) of a higher one: its published catalogue pushed up,
and reconciled.

    peer = Peer(sessions, settings)        # GOVSHARE_UPPER_URL, _KEY, _CERT, _CA
    peer.reconcile()   # compare every digest with the higher platform's; send what differs
    peer.push()        # send the entries changed since the last push (after a publish, a withdrawal)
    peer.run(stop)     # both, for ever: push within a second of a change, reconcile every
                       # GOVSHARE_UPPER_RECONCILE seconds and after any failure

The higher platform is called through the department's client library (:mod:`client.exchange`),
signed with the certificate it issued this platform, its answers verified against its CA: to it,
this platform is a department whose 接入方式 is 目录管理节点.  What an entry is on both sides is
:mod:`directory.federation`'s document and digest.

Nothing here is kept but in memory: what the higher platform holds is asked of it (its digests),
so a restart, a lost answer or an outage on either side ends in a reconciliation that sends exactly
what differs.  The higher platform takes a document once (the same digest twice changes nothing).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from client.exchange import Exchange, FederationResult
from client.faults import PlatformError
from directory import federation
from exchange import queries
from registry.clock import utcnow
from registry.db import unit_of_work
from registry.errors import InvalidInput
from registry.models import CatalogueEntry, CoreContribution, CoreRecord, FederationFeed
from registry.passes import FEDERATE, Tracker
from registry.settings import Settings
from trust.actions import Context
from trust.auth import Caller
from xsd.registry import lookup

log = logging.getLogger(__name__)

#: entries in one FederateEntries (the contract's most; a request of 500 is about 1.5 MB)
CHUNK = 500
#: seconds between looks for a change to push
POLL = 1.0
#: the longest wait after a failure before trying again
MAX_BACKOFF = 60.0
#: records read from this platform's core and sent up in one batch (物理集中 resources)
FEED_PAGE = 5000
#: why the records are read, as this platform's audit log records it
FEED_PURPOSE = "上报上级平台 (部门平台节点): 物理集中资源的数据"


@dataclass
class Report:
    """One push or reconciliation: what was compared and what the higher platform did."""

    compared: int = 0
    sent: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    refused: list[FederationResult] = field(default_factory=list)
    codes: dict[str, str] = field(default_factory=dict)  # code here -> its code at the higher platform

    def line(self) -> str:
        return f"{self.compared} compared, {self.sent} sent: {self._outcomes() or 'nothing to send'}"

    def zh_line(self) -> str:
        """The line in Chinese, for the 后台作业 page (the outcomes keep the wire's names)."""
        done = self._outcomes()
        return f"比对 {self.compared} 条, 发送 {self.sent} 条" + (f" ({done})" if done else "")

    def _outcomes(self) -> str:
        return ", ".join(f"{name} {count}" for name, count in sorted(self.outcomes.items()))


class Peer:
    def __init__(self, sessions: sessionmaker[Session], settings: Settings, upper: Exchange | None = None):
        if upper is None:
            missing = [name for name, value in (("GOVSHARE_UPPER_URL", settings.upper_url),
                                                ("GOVSHARE_UPPER_KEY", settings.upper_key),
                                                ("GOVSHARE_UPPER_CERT", settings.upper_cert),
                                                ("GOVSHARE_UPPER_CA", settings.upper_ca)) if not value]
            if missing:
                raise InvalidInput(f"federation needs {', '.join(missing)}: the higher platform's address, and the "
                                   "key, certificate and CA it gave this platform when it registered it as a "
                                   "catalogue node", zh="未配置上级平台的地址、证书或 CA, 无法上报目录。")
        self._upper = upper
        self.sessions, self.settings = sessions, settings
        self.held: dict[str, str] | None = None  # what the higher platform holds, as of the last comparison
        self.mark = 0  # the newest catalogue version read by the last push or reconciliation
        self.core_mark = 0  # the newest core version when records were last delivered
        self.feeds_changed = True  # a feed was added since: deliver even if the core did not change

    @property
    def upper(self) -> Exchange:
        """The higher platform's exchange service, reached when first needed (it reads the WSDL there):
        a platform starting while the higher one is down starts all the same, and its loop tries again."""
        if self._upper is None:
            settings = self.settings
            self._upper = Exchange(settings.upper_url, key=settings.upper_key, cert=settings.upper_cert,
                                   ca=settings.upper_ca)
        return self._upper

    def _context(self) -> Context:
        return Context(Caller.platform("job"), self.sessions, self.settings)

    def reconcile(self) -> Report:
        """Compare every entry's digest with the higher platform's; send what differs, and a withdrawal
        for each code it holds that is no longer listed here."""
        entries, newest = federation.outgoing(self._context())
        holding = self.upper.federated_entries()
        held = {code: digest for code, (digest, _there) in holding.items()}
        listed = {e.code for e in entries}
        sending = [(e.code, e.digest, e.document) for e in entries if held.get(e.code) != e.digest]
        for code, fingerprint in sorted(held.items()):
            if code not in listed and fingerprint:
                doc = federation.gone(code)
                sending.append((code, federation.digest(doc), doc))
        report = self._send(sending, held, reconcile=True)
        report.compared = len(entries)
        self.held, self.mark = held, newest
        there = {code: code_there for code, (_digest, code_there) in holding.items()}
        there.update(report.codes)
        self._keep_feeds(entries, there, every=True)
        return report

    def push(self) -> Report | None:
        """Send the entries changed since the last push or reconciliation whose digest differs from the
        one the higher platform holds; None when nothing changed.  The first call reconciles."""
        if self.held is None:
            return self.reconcile()
        entries, newest = federation.outgoing(self._context(), since_version_id=self.mark)
        if newest == self.mark:
            return None
        sending = [(e.code, e.digest, e.document) for e in entries if self.held.get(e.code) != e.digest]
        report = self._send(sending, self.held, reconcile=False)
        report.compared = len(entries)
        self.mark = newest
        self._keep_feeds(entries, report.codes, every=False)
        return report

    def _keep_feeds(self, entries: list[federation.Outgoing], there: dict[str, str], *, every: bool) -> None:
        """A feed for each published resource whose records this platform holds (物理集中) and which the
        higher platform took (its code there known); none for a withdrawn or 逻辑集中 one.  ``every``: the
        entries are all of this platform's (a reconciliation), so a feed of none of them goes too."""
        def physical(e: federation.Outgoing) -> bool:
            return e.document["status"] == "published" and not e.document["metadata"]["logical"]

        wanted = {e.code: there[e.code] for e in entries if physical(e) and there.get(e.code)}
        keep = {e.code for e in entries if physical(e)}
        with unit_of_work(self.sessions) as session:
            for feed in session.scalars(select(FederationFeed)):
                if feed.resource_code in wanted:
                    feed.upper_code = wanted.pop(feed.resource_code)
                elif feed.resource_code not in keep and (every or feed.resource_code in {e.code for e in entries}):
                    session.delete(feed)
            self.feeds_changed = self.feeds_changed or bool(wanted)
            for code, upper_code in wanted.items():
                session.add(FederationFeed(resource_code=code, upper_code=upper_code, watermark=0, delivered=0,
                                           last_error=""))

    def deliver(self) -> int:
        """Send the higher platform the records of this platform's 物理集中 resources changed since each
        feed's watermark, as batches of its resource there; the records sent.  Read as each resource's
        provider (its own records, unmasked), sent signed as this platform; a batch sent again after a
        crash has the same id (the run id is the watermarks it covers), so the higher platform takes it once."""
        with unit_of_work(self.sessions) as session:
            newest = session.scalar(select(func.max(CoreRecord.id))) or 0
            if newest == self.core_mark and not self.feeds_changed:
                return 0  # nothing new in the core since the last delivery, and no new feed
            # only resources that ever sent records have any to deliver
            with_data = select(CoreContribution.resource_code).union(select(CoreRecord.resource_code)).subquery()
            feeds = [(f.resource_code, f.upper_code, f.watermark, provider) for f, provider in session.execute(
                select(FederationFeed, CatalogueEntry.provider_id)
                .join(CatalogueEntry, CatalogueEntry.resource_code == FederationFeed.resource_code)
                .where(FederationFeed.resource_code.in_(select(with_data.c.resource_code)),
                       FederationFeed.watermark < newest))]
        self.feeds_changed = False
        sent = 0
        for code, upper_code, watermark, provider_id in feeds:
            try:
                sent += self._deliver_one(code, upper_code, watermark, provider_id)
            except PlatformError as exc:  # kept for `federation status`, and tried again next round
                with unit_of_work(self.sessions) as session:
                    feed = session.get(FederationFeed, code)
                    if feed is not None:
                        feed.last_error = str(exc)[:2000]
                self.feeds_changed = True  # try them all again next round
                raise
        self.core_mark = newest
        return sent

    def _deliver_one(self, code: str, upper_code: str, watermark: int, provider_id: int) -> int:
        from registry.models import Department

        with unit_of_work(self.sessions) as session:
            provider = session.get(Department, provider_id)
            caller = Caller.of_department(provider, "federation")
            requester = provider.credit_code
        sent = 0
        while True:
            changes = queries.get_changes(Context(caller, self.sessions, self.settings), resource_code=code,
                                          watermark=watermark, max_records=FEED_PAGE, purpose=FEED_PURPOSE,
                                          requester=requester)
            latest = {}
            for row in changes.changes:  # the latest version of each key; a delete has no SubmitBatch form
                latest.pop(row.key, None)
                if not row.deleted:
                    latest[row.key] = row
            if latest:
                records = [lookup(row.record_type).encode(row.fields) for row in latest.values()]
                run = f"federation:{code}:{watermark}:{changes.next_watermark}"
                for _receipt in self.upper.submit(upper_code, records, run_id=run, batch_size=FEED_PAGE):
                    pass
                sent += len(records)
            with unit_of_work(self.sessions) as session:
                feed = session.get(FederationFeed, code)
                if feed is not None:
                    feed.watermark, feed.last_error = changes.next_watermark, ""
                    feed.delivered += len(latest)
                    feed.last_delivery = utcnow()
            watermark = changes.next_watermark
            if not changes.more:
                return sent

    def _send(self, sending: list[tuple[str, str, dict]], held: dict[str, str], *, reconcile: bool) -> Report:
        report = Report()
        for chunk in _chunks(sending, CHUNK):
            results = self.upper.federate([(code, fingerprint, json.dumps(doc, ensure_ascii=False))
                                           for code, fingerprint, doc in chunk], reconcile=reconcile)
            sent = {code: (fingerprint, doc) for code, fingerprint, doc in chunk}
            for result in results:
                report.outcomes[result.outcome] = report.outcomes.get(result.outcome, 0) + 1
                if result.outcome == "refused":
                    report.refused.append(result)
                    log.warning("the higher platform refused %s: %s", result.code, result.reason)
                    held.pop(result.code, None)  # sent again at the next reconciliation
                elif result.code in sent:
                    if result.resource_code:
                        report.codes[result.code] = result.resource_code
                    fingerprint, doc = sent[result.code]
                    held[result.code] = fingerprint if "metadata" in doc else ""  # a code gone is held without one
            report.sent += len(chunk)
        return report

    def run(self, stop: threading.Event, *, poll: float = POLL) -> None:
        """Push and reconcile until ``stop`` is set; a failure waits (1, 2, 4 ... 60 s) and reconciles."""
        backoff, next_reconcile = 0.0, 0.0
        tracker = Tracker(self.sessions, FEDERATE, period=MAX_BACKOFF)  # the 后台作业 page's row of the peer
        while not stop.is_set():
            try:
                with tracker.recording() as this:
                    if time.monotonic() >= next_reconcile or self.held is None:
                        report = self.reconcile()
                        next_reconcile = time.monotonic() + self.settings.upper_reconcile_seconds
                        log.log(logging.INFO if report.sent else logging.DEBUG,
                                "federation: reconciled with %s: %s", self.settings.upper_url, report.line())
                        this.outcome = f"对账: {report.zh_line()}"
                    else:
                        report = self.push()
                        if report is not None and report.sent:
                            log.info("federation: pushed to %s: %s", self.settings.upper_url, report.line())
                        this.outcome = f"推送: {report.zh_line() if report else '没有变化'}"
                    delivered = self.deliver()
                    if delivered:
                        log.info("federation: %d records of 物理集中 resources delivered to %s", delivered,
                                 self.settings.upper_url)
                    this.outcome += f"; 交付物理集中资源记录 {delivered} 条"
                backoff = 0.0
            except (PlatformError, OSError) as exc:
                self.held = None  # what the higher platform holds is unknown again: reconcile next
                backoff = min(max(backoff * 2, 1.0), MAX_BACKOFF)
                log.warning("federation: %s unreachable or refused (%s); trying again in %.0f s",
                            self.settings.upper_url, exc, backoff)
                stop.wait(backoff)
                continue
            except Exception:  # noqa: BLE001 - the loop outlives any one failure; the next round reconciles
                self.held = None
                backoff = min(max(backoff * 2, 1.0), MAX_BACKOFF)
                log.exception("federation: round failed; trying again in %.0f s", backoff)
                stop.wait(backoff)
                continue
            stop.wait(poll)

    def start(self) -> tuple[threading.Thread, threading.Event]:
        stop = threading.Event()
        thread = threading.Thread(target=self.run, args=(stop,), daemon=True, name="federation")
        thread.start()
        return thread, stop


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
