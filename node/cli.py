"""``govshare node``: the front-end exchange node's commands, each given the node's TOML file.

    govshare node check FILE              every problem of the configuration at once (exit 2), or a summary
    govshare node run FILE [--once]       take the drop folders' files into the outbox and deliver, until stopped
    govshare node send FILE STREAM EXPORT put one export file into a stream's outbox now (then `run` delivers)
    govshare node status FILE [--json]    outbox depth, oldest undelivered, last receipt, streams, certificate
    govshare node prune FILE              forget now what is older than [store] keep_days (``run`` does it hourly)

Exit status: 0 done; 2 the configuration or the arguments cannot be used (``error: …`` on
stderr); 1 the node's store could not be opened; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from client.files import FileError

from . import store
from .config import ConfigError, NodeConfig, load
from .outbox import Courier, shapes, take_file, take_folders

EXIT_OK, EXIT_FAILED, EXIT_USER, EXIT_INTERRUPTED = 0, 1, 2, 130
VERSION = "govshare-node 0.1.0"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="govshare node", description="the front-end exchange node (前置交换节点)")
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser("check", help="check the configuration, every problem at once")
    check.add_argument("config")
    run = commands.add_parser("run", help="take files into the outbox and deliver them, until stopped")
    run.add_argument("config")
    run.add_argument("--once", action="store_true", help="one round: take what is waiting, deliver what is due")
    send = commands.add_parser("send", help="put one export file into a stream's outbox")
    send.add_argument("config")
    send.add_argument("stream", help="an [[outbound]] name")
    send.add_argument("export", help=".xml, .csv or .xlsx")
    status = commands.add_parser("status", help="the outbox and the certificate")
    status.add_argument("config")
    status.add_argument("--json", action="store_true")
    prune = commands.add_parser("prune", help="forget what is older than [store] keep_days, now")
    prune.add_argument("config")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load(args.config)
    except ConfigError as exc:
        print(f"error: {exc.path}: {len(exc.problems)} problem{'s' if len(exc.problems) > 1 else ''}",
              file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_USER
    try:
        return COMMANDS[args.command](args, config) or EXIT_OK
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _check(args, config: NodeConfig) -> int:
    days = (config.not_after - datetime.now(UTC)).days
    print(f"{config.path}: ok\n  centre   {config.centre}\n  speaks for {config.credit_code} ({config.subject}), "
          f"certificate ends {config.not_after:%Y-%m-%d} (in {days} days)\n  store    {config.store}")
    for stream in config.outbound:
        print(f"  outbound {stream.name}: {stream.folder} -> {stream.resource}")
    for adapter in config.adapters:
        print(f"  adapter  {adapter.config.name} ({adapter.config.path.name}) -> "
              f"{adapter.resource or adapter.config.resource}, every {adapter.interval:g} s")
    for subscription in config.subscriptions:
        where = (f"{subscription.database} table {subscription.table}" if subscription.target == "table"
                 else f"{subscription.folder} ({subscription.period})")
        print(f"  subscription {subscription.name}: {subscription.resource} -> {where}")
    if config.gateway is not None:
        print(f"  gateway  http://{config.gateway.host}:{config.gateway.port} for "
              + ", ".join(f"{s.code} ({', '.join(map(str, s.networks))})" for s in config.gateway.systems))
        for service in config.gateway.services:
            print(f"  service  /services/{service.name} -> {service.target} for "
                  f"{', '.join(map(str, service.callers))}")
    return EXIT_OK


def _run(args, config: NodeConfig) -> int:
    store.tune_allocator()
    engine = store.engine_for(config.store)
    courier = Courier(engine, config)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    log = logging.getLogger("node")
    log.info("node for %s delivering to %s", config.credit_code, config.centre)
    try:
        shapes(config)  # the formats known before the centre is ever down
    except FileError as exc:
        log.warning("%s", exc)
    if config.gateway is not None:
        _serve_gateway(config, engine)
    pulls = _Pulls(engine, config, courier)
    runs = _Runs(engine, config)
    beats = _Heartbeat(engine, config, courier)
    prunes = _Prunes(engine, config)
    while not stopping:
        take_folders(engine, config)
        runs.due(wait=args.once)
        courier.deliver_due()
        pulls.due()
        beats.due()
        prunes.due(wait=args.once)
        if args.once:
            return EXIT_OK
        time.sleep(config.poll)
    log.info("stopped")
    return EXIT_OK


class _Heartbeat:
    """The node's report to the centre, every ``heartbeat`` seconds: its outbox, its
    subscriptions' watermarks, its adapters' last runs, its certificate (the centre lists nodes and alerts on them)."""

    def __init__(self, engine, config: NodeConfig, courier: Courier):
        self.engine, self.config, self.courier, self.next = engine, config, courier, 0.0
        self.node_id = store.node_id(engine)

    def due(self) -> None:
        if time.monotonic() < self.next:
            return
        self.next = time.monotonic() + self.config.heartbeat
        found = store.status(self.engine)
        subscriptions = [(s.name, s.resource, found.watermarks.get(s.name, ("", 0, None))[1])
                         for s in self.config.subscriptions]
        try:
            state = self.courier.exchange().report_node(
                self.node_id, pending_batches=found.pending, pending_records=found.pending_records,
                refused_batches=found.refused, oldest_pending=found.oldest_pending, last_receipt=found.last_receipt,
                last_error=found.last_error, certificate_not_after=self.config.not_after,
                subscriptions=subscriptions, version=VERSION, adapters=[_reported(a, found.runs) for a in
                                                                        self.config.adapters])
        except Exception as exc:  # noqa: BLE001 - the centre down: the next beat says it all again
            logging.getLogger("node").warning("heartbeat not delivered (%s: %s)", type(exc).__name__,
                                              str(exc).splitlines()[0][:200] if str(exc) else "")
            return
        logging.getLogger("node").debug("heartbeat: the centre sees the node as %s", state)


class _Prunes:
    """Retention: what is older than ``keep_days`` forgotten (:func:`store.prune`) at start and
    then every hour, on a thread of its own so that a long first prune does not stop delivery."""

    EVERY = 3600.0

    def __init__(self, engine, config: NodeConfig):
        self.engine, self.config, self.next = engine, config, 0.0
        self.running = None

    def due(self, wait: bool = False) -> None:
        import threading

        if self.config.keep_days and time.monotonic() >= self.next and not (self.running and self.running.is_alive()):
            self.next = time.monotonic() + self.EVERY
            self.running = threading.Thread(target=self._prune, name="prune", daemon=True)
            self.running.start()
        if wait and self.running is not None:
            self.running.join()

    def _prune(self) -> None:
        try:
            pruned = store.prune(self.engine, self.config.keep_days)
        except Exception as exc:  # noqa: BLE001 - the store busy or down: the next hour prunes it all
            logging.getLogger("node").warning("not pruned now (%s: %s)", type(exc).__name__,
                                              str(exc).splitlines()[0][:200] if str(exc) else "")
            return
        if pruned:
            logging.getLogger("node").info("%s", _pruned(pruned, self.config.keep_days))


def _pruned(pruned: store.Pruned, keep_days: int) -> str:
    return (f"pruned what is older than {keep_days} days: {pruned.batches} delivered batches' records emptied "
            f"(their receipts kept), {pruned.gateway_calls} gateway calls, {pruned.adapter_problems} adapter "
            f"problems and {pruned.adapter_runs} finished adapter runs deleted")


class _Runs:
    """The adapters, each run on a thread of its own when its interval has passed (one run at a time)."""

    def __init__(self, engine, config: NodeConfig):
        self.engine, self.config = engine, config
        self.next = {a.config.name: 0.0 for a in config.adapters}
        self.running: dict = {}
        with engine.begin() as conn:  # runs a killed node left open: they ended with it
            conn.execute(store.adapter_runs.update().where(store.adapter_runs.c.status == "running")
                         .values(status="interrupted", finished=store.now()))

    def due(self, wait: bool = False) -> None:
        """Start the adapters whose turn it is; with ``wait`` (``run --once``), until their runs end."""
        import threading

        from .runs import run_adapter

        for adapter in self.config.adapters:
            name = adapter.config.name
            busy = self.running.get(name)
            if (busy is not None and busy.is_alive()) or time.monotonic() < self.next[name]:
                continue
            self.next[name] = time.monotonic() + adapter.interval
            thread = threading.Thread(target=run_adapter, args=(self.engine, self.config, adapter),
                                      name=f"adapter {name}", daemon=True)
            self.running[name] = thread
            thread.start()
        if wait:
            for thread in self.running.values():
                thread.join()


class _Pulls:
    """The subscriptions, each pulled when its interval has passed; a failure waits for the next turn."""

    def __init__(self, engine, config: NodeConfig, courier: Courier):
        self.engine, self.config, self.courier = engine, config, courier
        self.next = {s.name: 0.0 for s in config.subscriptions}
        self.subscribers: dict = {}

    def due(self) -> None:
        for subscription in self.config.subscriptions:
            if time.monotonic() < self.next[subscription.name]:
                continue
            self.next[subscription.name] = time.monotonic() + subscription.interval
            try:
                self._subscriber(subscription).pull()
            except Exception as exc:  # noqa: BLE001 - the centre or the target down: the watermark stays, next turn
                logging.getLogger("node").warning("%s: not delivered now (%s: %s); again in %g s", subscription.name,
                                                  type(exc).__name__, str(exc).splitlines()[0][:300] if str(exc)
                                                  else "", subscription.interval)
                self.subscribers.pop(subscription.name, None)

    def _subscriber(self, subscription):
        from .inbox import Subscriber

        if subscription.name not in self.subscribers:
            def fields_of(tag: str) -> list[str]:
                return next((list(s.fields) for s in shapes(self.config) if s.tag == tag), [])

            self.subscribers[subscription.name] = Subscriber(self.engine, self.courier.exchange(), subscription,
                                                             fields_of)
        return self.subscribers[subscription.name]


def _serve_gateway(config: NodeConfig, engine) -> None:
    """The local gateway on its own threads, for as long as the node runs."""
    import threading

    from waitress.server import create_server

    from .gateway import Gateway, LocalSystem, Service

    systems = tuple(LocalSystem(s.code, s.networks, s.key, s.cert) for s in config.gateway.systems)
    services = tuple(Service(s.name, s.target, s.callers) for s in config.gateway.services)
    app = Gateway(config.centre, config.ca, systems, engine, services=services)
    served = create_server(app, host=config.gateway.host, port=config.gateway.port, threads=8)
    threading.Thread(target=served.run, name="gateway", daemon=True).start()
    logging.getLogger("node").info("gateway on http://%s:%d for %s", config.gateway.host, config.gateway.port,
                                   ", ".join(s.code for s in systems))


def _send(args, config: NodeConfig) -> int:
    stream = next((s for s in config.outbound if s.name == args.stream), None)
    if stream is None:
        names = ", ".join(s.name for s in config.outbound) or "none"
        print(f"error: no [[outbound]] stream {args.stream!r} (there are: {names})", file=sys.stderr)
        return EXIT_USER
    path = Path(args.export)
    if not path.is_file():
        print(f"error: {path} is not a file", file=sys.stderr)
        return EXIT_USER
    try:
        took = take_file(store.engine_for(config.store), config, stream, path)
    except FileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER
    print(f"{took.name}: {'taken before, ' if took.again else ''}{took.records} records in {took.batches} batches "
          f"in the outbox of {took.stream}")
    return EXIT_OK


def _status(args, config: NodeConfig) -> int:
    found = store.status(store.engine_for(config.store))
    current = datetime.now(UTC)
    report = {
        "centre": config.centre, "credit_code": config.credit_code,
        "pending_batches": found.pending, "pending_records": found.pending_records,
        "delivered_batches": found.delivered, "refused_batches": found.refused,
        "oldest_pending": found.oldest_pending.isoformat() if found.oldest_pending else None,
        "oldest_pending_seconds": round((current - found.oldest_pending).total_seconds()) if found.oldest_pending
        else None,
        "last_receipt": found.last_receipt.isoformat() if found.last_receipt else None,
        "last_error": found.last_error, "streams": found.streams,
        "subscriptions": {s.name: {"resource": s.resource, "target": s.target,
                                   "watermark": found.watermarks.get(s.name, ("", 0, None))[1],
                                   "kept": (lambda k: k.isoformat() if k else None)(
                                       found.watermarks.get(s.name, ("", 0, None))[2])}
                          for s in config.subscriptions},
        "adapters": {a.config.name: _last_run(found.runs.get(a.config.name)) for a in config.adapters},
        "certificate_ends": config.not_after.isoformat(), "certificate_days_left": (config.not_after - current).days,
        "keep_days": config.keep_days,
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return EXIT_OK
    print(f"outbox: {found.pending} batches ({found.pending_records:,} records) waiting, {found.delivered} delivered, "
          f"{found.refused} refused")
    if found.oldest_pending:
        print(f"oldest waiting since {found.oldest_pending:%Y-%m-%d %H:%M:%S} UTC "
              f"({report['oldest_pending_seconds']} s)")
    print(f"last receipt: {found.last_receipt:%Y-%m-%d %H:%M:%S} UTC" if found.last_receipt else "last receipt: none")
    if found.last_error:
        print(f"last problem: {found.last_error}")
    for name, counts in sorted(found.streams.items()):
        print(f"  {name}: {counts['pending']} waiting, {counts['delivered']} delivered, {counts['refused']} refused")
    for name, kept in report["subscriptions"].items():
        print(f"  subscription {name} ({kept['resource']}, {kept['target']}): watermark {kept['watermark']}"
              + (f", kept {kept['kept']}" if kept["kept"] else ", nothing delivered yet"))
    for name, run in report["adapters"].items():
        if run is None:
            print(f"  adapter {name}: not run yet")
        else:
            print(f"  adapter {name}: run {run['id']} {run['status']} {run['started']}: read {run['read']:,}, "
                  f"{run['records']:,} records in {run['batches']} batches, {run['quarantined']} refused by the "
                  f"mapping" + (f"; {run['error']}" if run["error"] else ""))
    print(f"certificate: {config.subject}, ends {config.not_after:%Y-%m-%d} ({report['certificate_days_left']} days)")
    print(f"kept: {config.keep_days} days (delivered batches' records, gateway calls, adapter problems and runs; "
          "receipts and each adapter's last run for ever)" if config.keep_days
          else "kept: everything, for ever (keep_days = 0)")
    return EXIT_OK


def _prune(args, config: NodeConfig) -> int:
    if not config.keep_days:
        print("nothing pruned: keep_days = 0 keeps everything for ever")
        return EXIT_OK
    print(_pruned(store.prune(store.engine_for(config.store), config.keep_days), config.keep_days))
    return EXIT_OK


def _reported(adapter, runs: dict) -> dict:
    """An adapter and its last run as the heartbeat reports it."""
    run = runs.get(adapter.config.name)
    return {"name": adapter.config.name, "resourceCode": adapter.resource or None,
            "status": run["status"] if run else None, "lastRun": run["started"] if run else None,
            "records": run["records"] if run else None, "error": (run["error"] or "")[:500] or None if run else None}


def _last_run(run: dict | None) -> dict | None:
    if run is None:
        return None
    return {k: v.isoformat(timespec="seconds") if isinstance(v, datetime) else v for k, v in run.items()
            if k != "adapter"}


COMMANDS = {"check": _check, "run": _run, "send": _send, "status": _status, "prune": _prune}

if __name__ == "__main__":
    sys.exit(main())
