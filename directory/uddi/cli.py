"""``govshare uddi`` commands: the UDDI directory's background work, run by hand or from cron.

    $ govshare uddi notify      # one pass: notify every subscription listener that is due
    uddi:govshare.local:4f0c...  delivered  http://10.1.2.3/listener  3 entities
    uddi:govshare.local:9a1b...  failed     http://10.1.2.9/listener  ConnectionError: ...
    1 delivered, 1 failed, 4 unchanged

    $ govshare uddi listeners [--failing] [--user U]   # the listeners and how their last notification went
    uddi:govshare.local:9a1b...  mzj.li  every PT5M  failing: ConnectionError: ... (2026-12-06T01:05:00)
    uddi:govshare.local:4f0c...  gaj.wang  every PT1H  ok: the changes before 2026-12-06T01:00:00 are sent

``govshare serve`` runs the same pass every ``GOVSHARE_UDDI_NOTIFY`` seconds.  Each notification
sent is recorded in ``uddi_notification``; a subscription whose listener fails is tried again at
its next interval, from the end of the last period it received.
"""

from __future__ import annotations

import argparse
from collections import Counter

from sqlalchemy.orm import Session, sessionmaker

from registry.settings import Settings
from trust import console

from .listener import listeners, notify
from .subscription import duration_text


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("uddi", help="the UDDI directory's background work")
    commands = group.add_subparsers(dest="uddi_command", required=True, metavar="COMMAND")
    commands.add_parser("notify", help="notify every UDDI subscription listener whose notificationInterval is due",
                        epilog="exit status: 0 done (a listener that failed is tried again later), "
                               "1 platform failure").set_defaults(handler=_notify)
    shown = commands.add_parser("listeners", help="the subscriptions with a listener and how their last notification "
                                "went, the failing ones first", epilog="exit status: 0 done, 2 refused")
    shown.add_argument("--failing", action="store_true", help="only the listeners whose last notification failed")
    shown.add_argument("--user", metavar="USERNAME", help="the account acting (default: the operator)")
    shown.set_defaults(handler=_listeners)


def _notify(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    outcomes = notify(sessions, settings)
    for outcome in outcomes:
        if outcome.outcome == "unchanged":
            continue
        what = f"{outcome.entities} entities" if outcome.outcome == "delivered" else outcome.detail
        print(f"{outcome.key}  {outcome.outcome:<9}  {outcome.address}  {what}")
    counts = Counter(outcome.outcome for outcome in outcomes)
    print(", ".join(f"{counts[name]} {name}" for name in ("delivered", "failed", "unchanged")))
    return 0


def _listeners(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        for state in listeners(console.context(sessions, settings, args.user), failing_only=args.failing):
            if state.failing:
                how = f"failing: {state.last_detail} ({state.last_sent:%Y-%m-%dT%H:%M:%S})"
            else:
                how = f"ok: the changes before {state.notified_through:%Y-%m-%dT%H:%M:%S} are sent"
            print(f"{state.key}  {state.owner}  every {duration_text(state.interval_seconds)}  {how}")

    return console.run(work)
