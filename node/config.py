"""The node's configuration: one TOML file, every problem in it reported at once.

    [centre]
    url = "https://share.linjiang.gov.cn"      # the centre's address (its /exchange?wsdl)
    ca = "ca.pem"                              # the platform CA's certificate: answers are checked against it
    heartbeat = 60                             # seconds between the node's reports to the centre

    [identity]                                 # the department's or its application system's
    key = "gaj.hukou.key"                      # key (made here, from the CSR flow)
    cert = "gaj.hukou.pem"                     # and the certificate the platform issued for it

    [store]
    url = "sqlite:///node.db"                  # default: node.db beside this file; or postgresql+psycopg://…
    keep_days = 30                             # delivered batches' records, the gateway's log, adapter problems
                                               # and runs are kept this long (receipts, each adapter's last run for
                                               # ever); 0: everything for ever

    [delivery]
    batch_size = 5000                          # records per batch
    retry_first = 1.0                          # seconds before the first retry; doubled each time
    retry_max = 300.0                          # up to this
    poll = 1.0                                 # seconds between looks at the drop folders

    [[outbound]]                               # a drop folder: export files put here are sent
    name = "hukou"                             # the stream: its batches are delivered in order
    folder = "outbound/hukou"                  # .xml, .csv, .xlsx (client.files)
    resource = "101001002/000001"              # the resource they are sent to (资源代码)

    [[subscription]]                           # a resource the department reads, delivered here
    name = "shebao"
    resource = "102001001/000003"
    target = "table"                           # 库表: a table of the department's database
    database = "postgresql+psycopg://app@10.12.3.9/yb"
    table = "legal_entity_copy"
    columns = { creditCode = "tyshxydm", name = "dwmc" }   # field = column; none: every field
    interval = 10                              # seconds between pulls
    # target = "files": folder = "inbound/shebao", period = "day" (a CSV per day, China time)

    [[adapter]]                                # an adapter file (adapters/departments/) run here
    file = "gaj-household.toml"                # its records go to the outbox, as a stream of its name
    source = "mysql+pymysql://hj@10.12.3.7/hj" # the source as the node reaches it (default: the file's)
    resource = "101001002/000001"              # default: the file's (a name: looked up once)
    interval = 900                             # seconds between runs
    attempts = 3                               # reads of the source before a run fails
    backoff = 2.0                              # seconds before the second read; doubled each time

    [gateway]                                  # plain SOAP for legacy systems that cannot sign
    listen = "10.12.3.1:8181"

    [[gateway.service]]                        # a service of the department the centre calls (逻辑集中):
    name = "hukou"                             # published as http://10.12.3.1:8181/services/hukou
    target = "http://10.12.3.7:8080/hjgl"      # where it runs
    callers = ["10.1.0.5"]                     # the centre's addresses: nobody else gets through

    [[gateway.system]]                         # a system it signs for
    code = "gaj.hukou"
    addresses = ["10.12.3.4", "10.12.8.0/24"]  # where it calls from
    key = "gaj.hukou.key"                      # its key and certificate (default: [identity]'s)
    cert = "gaj.hukou.pem"

Relative paths are read from the file's folder.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
RESOURCE = re.compile(r"\d{3,9}/\d{6}")
SECTIONS = {"centre", "identity", "store", "delivery", "outbound", "gateway", "subscription", "adapter"}


class ConfigError(ValueError):
    """The configuration cannot be used: ``problems`` lists every reason, each saying where."""

    def __init__(self, path: Path, problems: list[str]):
        self.path, self.problems = path, problems
        super().__init__(f"{path}: " + "; ".join(problems))


@dataclass(frozen=True)
class Outbound:
    name: str
    folder: Path
    resource: str


@dataclass(frozen=True)
class NodeAdapter:
    config: object  # adapters.config.AdapterConfig
    resource: str  # 资源代码; empty: the adapter file's (a name is resolved through the directory)
    interval: float  # seconds between runs
    attempts: int = 3  # reads of the source before a run fails
    backoff: float = 2.0  # seconds before the second read; doubled before each further one


@dataclass(frozen=True)
class Subscription:
    name: str
    resource: str
    target: str  # table (库表) or files (文件)
    database: str = ""  # table: the department's database (SQLAlchemy URL)
    table: str = ""
    key_column: str = ""
    columns: dict[str, str] | None = None  # field -> column; none: every field under its own name
    folder: Path = Path()  # files: where the period files are written
    period: str = "day"
    interval: float = 10.0  # seconds between pulls


@dataclass(frozen=True)
class GatewaySystem:
    code: str
    networks: tuple
    key: Path
    cert: Path


@dataclass(frozen=True)
class GatewayService:
    """A department's own service the centre calls through the node (逻辑集中): ``/services/NAME``."""

    name: str
    target: str  # the service's address on the department's network
    callers: tuple  # the centre's addresses or networks


@dataclass(frozen=True)
class GatewayConfig:
    host: str
    port: int
    systems: tuple[GatewaySystem, ...]
    services: tuple[GatewayService, ...] = ()


@dataclass(frozen=True)
class NodeConfig:
    path: Path
    centre: str
    ca: Path
    key: Path
    cert: Path
    store: str
    credit_code: str  # 统一社会信用代码 the certificate names: the department the node speaks for
    subject: str
    not_after: datetime
    batch_size: int = 5000
    retry_first: float = 1.0
    retry_max: float = 300.0
    poll: float = 1.0
    outbound: tuple[Outbound, ...] = field(default_factory=tuple)
    gateway: GatewayConfig | None = None
    subscriptions: tuple[Subscription, ...] = field(default_factory=tuple)
    adapters: tuple[NodeAdapter, ...] = field(default_factory=tuple)
    heartbeat: float = 60.0  # seconds between the node's reports to the centre
    keep_days: int = 30  # days the store keeps what is done with (store.prune); 0: for ever

    @property
    def folder(self) -> Path:
        return self.path.parent


def load(path: str | Path) -> NodeConfig:
    """The configuration in ``path``; a :class:`ConfigError` with every problem when it has any."""
    path = Path(path).resolve()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, ["no such file"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not TOML: {exc}"]) from None
    return _Checker(path, data).config()


class _Checker:
    def __init__(self, path: Path, data: dict):
        self.path, self.data, self.problems = path, data, []

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def table(self, name: str) -> dict:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            self.problem(f"[{name}] must be a table")
            return {}
        return value

    def text(self, table: dict, section: str, name: str, default: str | None = None) -> str:
        value = table.get(name, default)
        if value is None:
            self.problem(f"[{section}] {name} is missing")
            return ""
        if not isinstance(value, str) or not value.strip():
            self.problem(f"[{section}] {name} must be a non-empty string")
            return ""
        return value.strip()

    def number(self, table: dict, section: str, name: str, default: float, *, whole: bool = False,
               least: float = 0) -> float:
        value = table.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)) or value < least:
            kind = "a whole number" if whole else "a number"
            self.problem(f"[{section}] {name} must be {kind} of at least {least:g}, not {value!r}")
            return default
        return value

    def file(self, section: str, name: str, value: str) -> Path | None:
        if not value:
            return None
        found = (self.path.parent / value).resolve()
        if not found.is_file():
            self.problem(f"[{section}] {name}: no file {found}")
            return None
        return found

    def config(self) -> NodeConfig:
        for unknown in sorted(set(self.data) - SECTIONS):
            self.problem(f"unknown section [{unknown}] (known: {', '.join(sorted(SECTIONS))})")
        centre, identity = self.table("centre"), self.table("identity")
        store, delivery = self.table("store"), self.table("delivery")
        url = self.text(centre, "centre", "url").rstrip("/")
        if url and not re.match(r"https?://[^/\s]+", url):
            self.problem(f"[centre] url must be http:// or https://, not {url!r}")
        ca = self.file("centre", "ca", self.text(centre, "centre", "ca"))
        key = self.file("identity", "key", self.text(identity, "identity", "key"))
        cert = self.file("identity", "cert", self.text(identity, "identity", "cert"))
        credit_code, subject, not_after = self.identity(key, cert, ca)
        store_url = self.text(store, "store", "url", f"sqlite:///{self.path.parent / 'node.db'}")
        if store_url and not re.match(r"(sqlite|postgresql(\+psycopg)?)://", store_url):
            self.problem(f"[store] url must be sqlite:///FILE or postgresql+psycopg://…, not {store_url!r}")
        if store_url.startswith("sqlite:///") and not store_url.startswith("sqlite:////"):
            store_url = f"sqlite:///{(self.path.parent / store_url.removeprefix('sqlite:///')).resolve()}"
        keep_days = int(self.number(store, "store", "keep_days", 30, whole=True, least=0))
        batch_size = int(self.number(delivery, "delivery", "batch_size", 5000, whole=True, least=1))
        retry_first = self.number(delivery, "delivery", "retry_first", 1.0, least=0.01)
        retry_max = self.number(delivery, "delivery", "retry_max", 300.0, least=0.01)
        if retry_max < retry_first:
            self.problem(f"[delivery] retry_max ({retry_max:g}) is below retry_first ({retry_first:g})")
        poll = self.number(delivery, "delivery", "poll", 1.0, least=0.01)
        outbound = self.outbound()
        gateway = self.gateway(key, cert, ca)
        subscriptions = self.subscriptions()
        adapters = self.adapters(credit_code, {s.name for s in outbound})
        heartbeat = self.number(centre, "centre", "heartbeat", 60.0, least=0.1)
        if self.problems:
            raise ConfigError(self.path, self.problems)
        return NodeConfig(self.path, url, ca, key, cert, store_url, credit_code, subject, not_after, batch_size,
                          retry_first, retry_max, poll, outbound, gateway, subscriptions, adapters, heartbeat,
                          keep_days)

    def adapters(self, credit_code: str, streams: set[str]) -> tuple[NodeAdapter, ...]:
        """The department's adapter files the node runs, each checked as the centre checks it."""
        from adapters.config import AdapterConfigError, load_adapter

        found, names = [], set(streams)
        for where, table in self.array("adapter"):
            path = self.file(where, "file", self.text(table, where, "file"))
            resource = self.resource(table, where, required=False)
            interval = self.number(table, where, "interval", 900.0, least=0.1)
            attempts = int(self.number(table, where, "attempts", 3, whole=True, least=1))
            backoff = self.number(table, where, "backoff", 2.0, least=0)
            if path is None:
                continue
            try:
                spec = load_adapter(path)
            except AdapterConfigError as exc:
                self.problem(f"[{where}] {path.name}: {exc}")
                continue
            spec = self.source(table, where, spec)
            if spec.name in names:
                self.problem(f"[{where}] {spec.name!r} is also the name of another stream of the node")
            names.add(spec.name)
            if credit_code and spec.department != credit_code:
                self.problem(f"[{where}] {spec.name} is {spec.department}'s adapter; this node speaks for "
                             f"{credit_code}")
            found.append(NodeAdapter(spec, resource, interval, attempts, backoff))
        return tuple(found)

    def source(self, table: dict, where: str, spec):
        """``spec`` reading from the ``[[adapter]]``'s ``source`` when it has one: the department's
        database as the node reaches it (a URL), or its export file (a path from this file's folder)."""
        from dataclasses import replace

        if "source" not in table:
            return spec
        value = self.text(table, where, "source")
        if not value:
            return spec
        if spec.source.kind == "database":
            if "://" not in value:
                self.problem(f"[{where}] source must be a SQLAlchemy URL for {spec.name}'s database, not {value!r}")
                return spec
            return replace(spec, source=replace(spec.source, url=value))
        return replace(spec, source=replace(spec.source, path=(self.path.parent / value).resolve()))

    def subscriptions(self) -> tuple[Subscription, ...]:
        found, names = [], set()
        for where, table in self.array("subscription"):
            name = self.name(table, where, names)
            resource = self.resource(table, where)
            target = table.get("target")
            columns = table.get("columns")
            if columns is not None and (not isinstance(columns, dict)
                                        or not all(isinstance(v, str) and v for v in columns.values())):
                self.problem(f"[{where}] columns must be a table of field = \"column\"")
                columns = None
            interval = self.number(table, where, "interval", 10.0, least=0.05)
            if target == "table":
                database = self.text(table, where, "database")
                if database and "://" not in database:
                    self.problem(f"[{where}] database must be a SQLAlchemy URL (postgresql+psycopg://…, "
                                 f"mysql+pymysql://…, sqlite:///…), not {database!r}")
                if database.startswith("sqlite:///") and not database.startswith("sqlite:////"):
                    database = f"sqlite:///{(self.path.parent / database.removeprefix('sqlite:///')).resolve()}"
                name_of_table = self.text(table, where, "table")
                if name_of_table and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name_of_table):
                    self.problem(f"[{where}] table {name_of_table!r} is not a plain table name")
                found.append(Subscription(name, resource, "table", database=database, table=name_of_table,
                                          key_column=str(table.get("key_column", "")), columns=columns,
                                          interval=interval))
            elif target == "files":
                folder = self.text(table, where, "folder")
                period = table.get("period", "day")
                if period not in ("day", "month"):
                    self.problem(f"[{where}] period must be day or month, not {period!r}")
                found.append(Subscription(name, resource, "files", columns=columns,
                                          folder=(self.path.parent / folder).resolve() if folder else Path(),
                                          period=period, interval=interval))
            else:
                self.problem(f"[{where}] target must be table (库表) or files (文件), not {target!r}")
        return tuple(found)

    def gateway(self, key: Path | None, cert: Path | None, ca: Path | None) -> GatewayConfig | None:
        """The local gateway, when there is a [gateway]: where it listens and the systems it signs for."""
        if "gateway" not in self.data:
            return None
        table = self.table("gateway")
        listen = self.text(table, "gateway", "listen")
        host, _, port = listen.rpartition(":")
        if listen and not (host and port.isdigit() and 0 < int(port) < 65536):
            self.problem(f"[gateway] listen must be HOST:PORT, not {listen!r}")
        systems, codes = [], set()
        listed = table.get("system", [])
        if not isinstance(listed, list) or (not listed and not table.get("service")):
            self.problem("[gateway] needs at least one [[gateway.system]] (the local systems it signs for) or "
                         "[[gateway.service]] (the department's services the centre calls through it)")
            listed = []
        for number, system in enumerate(listed, 1):
            where = f"gateway.system #{number}"
            code = self.text(system, where, "code")
            if code in codes:
                self.problem(f"[{where}] code {code!r} is used twice")
            codes.add(code)
            networks = self.networks(system, where, "addresses", "the list of addresses or networks it calls from, "
                                     'e.g. ["10.12.3.4", "10.12.8.0/24"]')
            own_key = self.file(where, "key", system["key"]) if "key" in system else key
            own_cert = self.file(where, "cert", system["cert"]) if "cert" in system else cert
            if "key" in system or "cert" in system:
                self.identity(own_key, own_cert, ca)
            systems.append(GatewaySystem(code, networks, own_key or Path(), own_cert or Path()))
        return GatewayConfig(host or "127.0.0.1", int(port) if port.isdigit() else 0, tuple(systems),
                             self.services(table))

    def services(self, table: dict) -> tuple[GatewayService, ...]:
        """The department's services the centre reaches through the gateway (``[[gateway.service]]``)."""
        found, names = [], set()
        listed = table.get("service", [])
        if not isinstance(listed, list):
            self.problem("[gateway] service must be an array of tables: [[gateway.service]]")
            return ()
        for number, service in enumerate(listed, 1):
            where = f"gateway.service #{number}"
            name = self.name(service, where, names)
            target = self.text(service, where, "target")
            if target and not re.fullmatch(r"https?://[^/\s]+(/\S*)?", target):
                self.problem(f"[{where}] target must be the service's http(s):// address, not {target!r}")
            networks = self.networks(service, where, "callers",
                                     'the centre\'s addresses or networks, e.g. ["10.1.0.5"]')
            found.append(GatewayService(name, target, networks))
        return tuple(found)

    def networks(self, table: dict, where: str, key: str, wanted: str) -> tuple:
        """``table[key]``: a non-empty list of addresses or networks (``wanted`` says what, for the message)."""
        listed = table.get(key)
        if not isinstance(listed, list) or not listed:
            self.problem(f"[{where}] {key}: {wanted}")
            return ()
        found = []
        for address in listed:
            try:
                found.append(ipaddress.ip_network(str(address), strict=False))
            except ValueError:
                self.problem(f"[{where}] {key}: {address!r} is not an address or a network")
        return tuple(found)

    def identity(self, key: Path | None, cert: Path | None, ca: Path | None) -> tuple[str, str, datetime]:
        """The certificate's department, subject and end; checked against the key and the CA."""
        if key is None or cert is None:
            return "", "", datetime.max.replace(tzinfo=UTC)
        try:
            certificate = x509.load_pem_x509_certificate(cert.read_bytes())
        except ValueError:
            self.problem(f"[identity] cert: {cert} is not a PEM certificate")
            return "", "", datetime.max.replace(tzinfo=UTC)
        try:
            private = serialization.load_pem_private_key(key.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            self.problem(f"[identity] key: {key} is not an unencrypted PEM private key ({exc})")
        else:
            if private.public_key().public_numbers() != certificate.public_key().public_numbers():
                self.problem(f"[identity] key and cert do not match: {cert} certifies another key")
        if ca is not None:
            try:
                authority = x509.load_pem_x509_certificate(ca.read_bytes())
                certificate.verify_directly_issued_by(authority)
            except (ValueError, TypeError, Exception):  # noqa: BLE001 - any failure: not this CA's
                self.problem(f"[identity] cert: {cert} was not issued by the CA in {ca}")
        now = datetime.now(UTC)
        if certificate.not_valid_after_utc < now:
            self.problem(f"[identity] cert: ended {certificate.not_valid_after_utc:%Y-%m-%d}; renew it "
                         "(govshare-client csr --renews)")
        codes = certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
        if not codes:
            self.problem(f"[identity] cert: {cert} names no 统一社会信用代码 (serialNumber): not a department's")
        return (str(codes[0].value) if codes else "", certificate.subject.rfc4514_string(),
                certificate.not_valid_after_utc)

    def array(self, section: str) -> list[tuple[str, dict]]:
        """An ``[[section]]`` array's tables, each with where it is (``section #n``)."""
        listed = self.data.get(section, [])
        if not isinstance(listed, list) or not all(isinstance(t, dict) for t in listed):
            self.problem(f"[[{section}]] must be an array of tables")
            return []
        return [(f"{section} #{number}", table) for number, table in enumerate(listed, 1)]

    def name(self, table: dict, where: str, names: set[str]) -> str:
        """A stream's or subscription's name: well formed, and not one taken."""
        name = self.text(table, where, "name")
        if name and not NAME.fullmatch(name):
            self.problem(f"[{where}] name {name!r}: lower-case letters, digits, - and _, at most 40")
        if name in names:
            self.problem(f"[{where}] name {name!r} is used twice")
        names.add(name)
        return name

    def resource(self, table: dict, where: str, required: bool = True) -> str:
        resource = self.text(table, where, "resource") if required else str(table.get("resource", ""))
        if resource and not RESOURCE.fullmatch(resource):
            self.problem(f"[{where}] resource {resource!r} is not a 资源代码 (e.g. 101001002/000001)")
        return resource

    def outbound(self) -> tuple[Outbound, ...]:
        found, names = [], set()
        for where, stream in self.array("outbound"):
            name = self.name(stream, where, names)
            folder = self.text(stream, where, "folder")
            resource = self.resource(stream, where)
            found.append(Outbound(name, (self.path.parent / folder).resolve() if folder else Path(), resource))
        return tuple(found)
