"""``federation`` commands: this platform as a catalogue node (目录管理节点) of a higher one, and the
higher platform's list of its nodes.

    $ govshare federation status        # compare with the higher platform, send nothing
    https://city.example: 1,204 entries here, 1,204 held there, 0 differ
    $ govshare federation reconcile     # send what differs
    https://city.example: 1,204 compared, 3 sent: changed 2, created 1
    $ govshare federation run           # push within a second of a change, reconcile periodically
    $ govshare federation nodes         # at the higher platform: its catalogue and platform nodes

The higher platform's address, and the key, certificate and CA it issued this platform, are
``GOVSHARE_UPPER_URL``, ``GOVSHARE_UPPER_KEY``, ``GOVSHARE_UPPER_CERT`` and ``GOVSHARE_UPPER_CA``;
``govshare serve`` runs the same loop as ``federation run`` when they are set.  A refusal prints
``error: <message>`` on stderr and exits with status 2 (1 when a platform failed or is unreachable).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from client.faults import PlatformError, Unavailable
from directory import federation as catalogue_federation
from registry.db import unit_of_work
from registry.models import FederationFeed
from registry.settings import Settings
from trust import console

from .peer import Peer


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("federation", help="目录管理节点: this platform's catalogue in a higher one's")
    commands = group.add_subparsers(dest="federation_command", required=True, metavar="COMMAND")
    for name, handler, text in (
            ("status", _status, "compare this platform's catalogue with the higher platform's copy"),
            ("reconcile", _reconcile, "send the higher platform every entry whose digest differs"),
            ("run", _run, "push changes as they happen and reconcile periodically, until stopped"),
            ("nodes", _nodes, "the lower platforms registered here, and their federation state")):
        parser = commands.add_parser(name, help=text,
                                     epilog="exit status: 0 done, 2 refused, 1 platform failure or unreachable")
        parser.set_defaults(handler=handler)
        if name == "nodes":
            parser.add_argument("--user", metavar="USERNAME", help="the account acting (default: the operator)")


def _upper_call(work) -> int:
    """Run ``work``; the higher platform's refusal exits 2, its failure or silence 1."""
    try:
        return console.run(work)
    except PlatformError as exc:
        failed = isinstance(exc, Unavailable) or exc.fault_code.endswith("Server")
        print(f"error: the higher platform {'failed' if failed else 'refused'}: {exc}", file=sys.stderr)
        return 1 if failed else 2
    except OSError as exc:
        print(f"error: the higher platform is unreachable: {exc}", file=sys.stderr)
        return 1


def _status(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        peer = Peer(sessions, settings)
        entries, _ = catalogue_federation.outgoing(peer._context())
        held = peer.upper.federated_digests()
        differ = sum(1 for e in entries if held.get(e.code) != e.digest)
        extra = sum(1 for code, fingerprint in held.items() if fingerprint and code not in {e.code for e in entries})
        print(f"{settings.upper_url}: {len(entries):,} entries here, {sum(1 for f in held.values() if f):,} held "
              f"there, {differ + extra:,} differ")
        with unit_of_work(sessions) as session:
            for feed in session.scalars(select(FederationFeed).order_by(FederationFeed.resource_code)):
                last = feed.last_delivery.isoformat(timespec="seconds") if feed.last_delivery else "never"
                problem = f"; last error: {feed.last_error}" if feed.last_error else ""
                print(f"records of {feed.resource_code} -> {feed.upper_code} there: {feed.delivered:,} delivered, "
                      f"up to sequence {feed.watermark}, last {last}{problem}")

    return _upper_call(work)


def _reconcile(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> int:
        report = Peer(sessions, settings).reconcile()
        print(f"{settings.upper_url}: {report.line()}")
        for refused in report.refused:
            print(f"refused {refused.code}: {refused.reason}", file=sys.stderr)
        return 2 if report.refused else 0

    return _upper_call(work)


def _run(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        logging.getLogger("federation").setLevel(logging.INFO)
        thread, stop = Peer(sessions, settings).start()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        print(f"federating this platform's catalogue into {settings.upper_url}", flush=True)
        try:
            while thread.is_alive():
                thread.join(0.5)
        except KeyboardInterrupt:
            stop.set()
            thread.join()

    return _upper_call(work)


def _nodes(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        for n in catalogue_federation.nodes(console.context(sessions, settings, getattr(args, "user", None))):
            last = n.last_push.isoformat(timespec="seconds") if n.last_push else "never"
            print(f"{n.code}\t{n.connection_mode}\t{n.status}\t{n.entries} entries ({n.published} published)\t"
                  f"last push {last}")

    return console.run(work)

