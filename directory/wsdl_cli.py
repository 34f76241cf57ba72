"""``govshare wsdl``: publish a sharing interface's WSDL from a file or a URL (D3).

    govshare wsdl check interface.wsdl
    govshare wsdl publish --user gaj --path gaj/hukou-query.wsdl interface.wsdl
    govshare wsdl publish --user gaj --path gaj/hukou-query.wsdl --url http://10.1.2.3/hukou?wsdl

``check`` validates a local file and touches nothing of the platform; ``publish`` is the action
``wsdl.publish`` run as the account ``--user`` (channel ``cli``, recorded in the audit log).  A
refused WSDL prints every problem with where it is, and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from registry.errors import EXIT_USER, InvalidInput
from registry.settings import Settings
from trust import console
from wsdl.validation import InvalidWsdl, validate_wsdl

from . import wsdl_publishing


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("wsdl", help="WSDL repository: check and publish interface WSDLs")
    commands = group.add_subparsers(dest="wsdl_command", required=True, metavar="COMMAND")
    check = commands.add_parser("check", help="validate a WSDL file without storing it")
    check.add_argument("file", type=Path)
    check.set_defaults(run=_check)
    publish = commands.add_parser("publish", help="validate, store under /wsdl/PATH and map into the directory")
    publish.add_argument("--user", required=True, metavar="USERNAME", help="the publishing department's user")
    publish.add_argument("--path", required=True, help="where to store it, e.g. gaj/hukou-query.wsdl")
    source = publish.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?", type=Path)
    source.add_argument("--url", help="fetch the WSDL (and its imports) from this address")
    publish.add_argument("--no-services", action="store_true",
                         help="publish only the portType and binding tModels, not the services")
    publish.set_defaults(handler=_publish)


def _check(args: argparse.Namespace, settings: Settings) -> int:
    try:
        info = validate_wsdl(args.file.read_bytes(), base_url=args.file.resolve().as_uri())
    except (OSError, InvalidWsdl) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER
    print(f"valid WSDL 1.1 (document/literal, SOAP 1.1): targetNamespace {info.target_namespace}")
    for service in info.services:
        for port in service.ports:
            print(f"  service {service.name.localname} port {port.name} -> {port.location}")
    return 0


def _publish(args: argparse.Namespace, sessions: sessionmaker[Session], settings: Settings) -> int:
    def work() -> None:
        content = None
        if not args.url:
            try:
                content = args.file.read_bytes()
            except OSError as exc:
                raise InvalidInput(f"cannot read {args.file}: {exc.strerror}", field="file") from exc
        published = wsdl_publishing.publish(console.context(sessions, settings, args.user), path=args.path,
                                            content=content, url=args.url or "",
                                            map_services=not args.no_services)
        print(f"stored at {published.overview_url}")
        for label, keys in (("portType", published.port_type_keys), ("binding", published.binding_keys),
                            ("service", published.service_keys)):
            for qname, key in keys.items():
                print(f"  {label} {qname.localname}: {key}")

    return console.run(work)
