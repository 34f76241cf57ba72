"""govshare's one entry point: builds the WSGI application and serves it.

    /                      index of the endpoints (text)
    /uddi/inquiry          UDDI v3 inquiry API      (?wsdl)
    /uddi/publication      UDDI v3 publication API  (?wsdl)
    /uddi/security         UDDI v3 security API     (?wsdl)
    /uddi/subscription     UDDI v3 subscription API (?wsdl)
    /wsdl/uddi/...         the OASIS UDDI v3 WSDL and schema files
    /wsdl/...              stored WSDL documents of sharing interfaces
    /diagnostics           Echo and NodeInfo (Spyne, ?wsdl)
    /exchange              the exchange service (?wsdl): SubmitBatch, GetBatchStatus, QueryRecords, GetChanges
    /xsd/...               the standard exchange formats (XSD)
    /pki/ca.pem, /pki/crl.pem  the platform CA certificate and its revocation list
    /portal/               the unified query portal (统一数据资源查询系统, browser); /portal/open, the open
                           catalogue (开放目录), needs no account
    /catalogue/dcat.ttl    the open catalogue in DCAT-AP 3.0 for harvesters (Turtle; ?page=N)
    /catalogue/dcat.jsonld the same in JSON-LD

The ``govshare`` console script is :func:`main`: the centre's administration command line
(``govshare serve``, ``govshare db upgrade``, ``govshare demo``, ``govshare catalogue ...``),
each command defined by its package.  ``client/`` is the departments' library and imports
nothing of the centre.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import logging
import re
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import exc
from sqlalchemy.orm import Session, sessionmaker

from registry import request_log
from registry.db import (
    DatabaseUnavailable,
    alembic_config,
    database_problem,
    make_engine,
    migrate,
    serving_engine,
    session_factory,
    startup_lock,
    unit_of_work,
)
from registry.settings import Settings, SettingsError

log = logging.getLogger("govshare")


def _plain(start_response, status: str, text: str, content_type: str = "text/plain; charset=utf-8"):
    body = text.encode()
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


class Router:
    """Dispatch by exact path, then by longest path prefix.  A database that cannot serve a
    request no endpoint answered itself (a stored WSDL, say) is a 503 that says so."""

    def __init__(self, exact: dict[str, Callable], prefixes: dict[str, Callable], index: Callable):
        self.exact = exact
        self.prefixes = sorted(prefixes.items(), key=lambda item: -len(item[0]))
        self.index = index

    def __call__(self, environ, start_response):
        try:
            return self._dispatch(environ, start_response)
        except DatabaseUnavailable as err:
            log.warning("%s failed: %s", environ.get("PATH_INFO"), err)
            body = (err.for_caller + "\n").encode()
            start_response("503 Service Unavailable", [("Content-Type", "text/plain; charset=utf-8"),
                                                       ("Content-Length", str(len(body)))], sys.exc_info())
            return [body]

    def _dispatch(self, environ, start_response):
        path = environ.get("PATH_INFO", "/") or "/"
        if path == "/":
            return self.index(environ, start_response)
        app = self.exact.get(path.rstrip("/"))
        if app is not None:
            return app(environ, start_response)
        for prefix, app in self.prefixes:
            if path.startswith(prefix):
                return app(environ, start_response)
        return _plain(start_response, "404 Not Found", f"no endpoint at {path}; see / for the list\n")


def oasis_files_app(environ, start_response):
    """The OASIS UDDI v3 contract files under /wsdl/uddi/."""
    name = environ.get("PATH_INFO", "").rsplit("/", 1)[-1]
    scheme = environ.get("wsgi.url_scheme", "http")
    base = f"{scheme}://{environ.get('HTTP_HOST', 'localhost')}/wsdl/uddi/"
    from wsdl import oasis  # here and below: serving imports what only serving needs

    data = oasis.served_file(name, base)
    if data is None:
        return _plain(start_response, "404 Not Found", f"no UDDI contract file named {name}\n")
    start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(data)))])
    return [data]


def xsd_files_app(environ, start_response):
    """The standard exchange formats under /xsd/ (the contract the exchange WSDL imports)."""
    name = environ.get("PATH_INFO", "").removeprefix("/xsd/")
    from wsdl.exchange import xsd_file

    data = xsd_file(name)
    if data is None:
        return _plain(start_response, "404 Not Found", f"no exchange format schema named {name}\n")
    start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(data)))])
    return [data]


def pki_files_app(settings: Settings):
    """The CA certificate and the current CRL under /pki/ (what every verifier needs)."""
    files = {"/pki/ca.pem": ("ca.pem", "application/x-pem-file"), "/pki/crl.pem": ("crl.pem", "application/x-pem-file")}

    def app(environ, start_response):
        name, content_type = files.get(environ.get("PATH_INFO", ""), (None, ""))
        path = settings.var_dir / "pki" / name if name else None
        if path is None or not path.exists():
            return _plain(start_response, "404 Not Found", "no such PKI file; the CA is made by `govshare pki init`\n")
        data = path.read_bytes()
        start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(data)))])
        return [data]

    return app


def catalogue_files_app(settings: Settings, sessions: sessionmaker[Session]):
    """The open catalogue in DCAT-AP for harvesters (``directory.catalogue.dcat``), anonymous:
    ``/catalogue/dcat.ttl`` and ``/catalogue/dcat.jsonld``, ``?page=N`` (1 first), each with a strong
    ETag - a request whose If-None-Match names it is answered 304 - and a Last-Modified; a dataset's
    URI (``/catalogue/dataset/<资源代码>``) leads to its page in the portal's 开放目录."""
    from urllib.parse import parse_qs, quote

    from directory.catalogue import dcat
    from registry.errors import NotFound
    from trust.actions import Context
    from trust.auth import Caller

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        base = settings.public_base(environ)
        if path.rstrip("/") == "/catalogue":  # the catalogue's own URI: its page for people
            start_response("303 See Other", [("Location", f"{base}/portal/open"), ("Content-Length", "0")])
            return [b""]
        if path.startswith("/catalogue/dataset/") and len(path) > len("/catalogue/dataset/"):
            code = path.removeprefix("/catalogue/dataset/")
            location = f"{base}/portal/open/resource?code={quote(code, safe='/')}"
            start_response("303 See Other", [("Location", location), ("Content-Length", "0")])
            return [b""]
        document = path.removeprefix("/catalogue/")
        if document not in dcat.DOCUMENTS:
            return _plain(start_response, "404 Not Found",
                          f"no catalogue file at {path}: the open catalogue (开放目录) is /catalogue/dcat.ttl "
                          "(Turtle) and /catalogue/dcat.jsonld (JSON-LD), ?page=N for its pages; "
                          "people read it at /portal/open\n")
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
            return [b""]
        page = parse_qs(environ.get("QUERY_STRING", "")).get("page", ["1"])[0]
        if not page.isdigit():
            return _plain(start_response, "400 Bad Request", f"page must be a whole number from 1, not {page!r}\n")
        current = [tag.strip().removeprefix("W/").strip('"')
                   for tag in environ.get("HTTP_IF_NONE_MATCH", "").split(",") if tag.strip()]
        ctx = Context(Caller(channel="harvest"), sessions, settings)
        try:
            export = dcat.export(ctx, base_url=base, page=int(page), document=document, current=current,
                                 address=environ.get("REMOTE_ADDR"))
        except NotFound as err:
            return _plain(start_response, "404 Not Found", err.message + "\n")
        headers = [("ETag", f'"{export.tag}"'), ("Cache-Control", "public, no-cache"),
                   ("Access-Control-Allow-Origin", "*")]
        if export.modified is not None:
            from email.utils import format_datetime

            headers.append(("Last-Modified", format_datetime(export.modified.replace(tzinfo=UTC), usegmt=True)))
        if export.graph is None:
            start_response("304 Not Modified", headers)
            return [b""]
        body = dcat.serialize(export.graph, document)
        start_response("200 OK", [("Content-Type", f"{dcat.DOCUMENTS[document][0]}; charset=utf-8"),
                                  ("Content-Length", str(len(body))), *headers])
        return [b""] if method == "HEAD" else [body]

    return app


def build_app(settings: Settings, sessions: sessionmaker[Session]):
    """The whole platform as one WSGI application."""
    from directory.diagnostics import diagnostics_app
    from directory.uddi.service import endpoints
    from exchange.service import exchange_app
    from trust.wsse import protect
    from trust.xml import tune_allocator
    from wsdl.repository import wsdl_app

    tune_allocator()  # before the serving threads start
    exact: dict[str, Callable] = dict(endpoints(sessions, settings))
    exact["/diagnostics"] = diagnostics_app(settings)
    exact["/exchange"] = exchange_app(sessions, settings)
    for path in ("/exchange", "/uddi/publication", "/uddi/subscription"):  # WS-Security (S2), per GOVSHARE_WSS
        protect(exact[path], sessions, settings)
    prefixes: dict[str, Callable] = {"/wsdl/uddi/": oasis_files_app, "/wsdl/": wsdl_app(sessions),
                                     "/xsd/": xsd_files_app, "/pki/": pki_files_app(settings),
                                     "/catalogue/": catalogue_files_app(settings, sessions)}
    services = sorted(exact)  # the SOAP services, each with its WSDL
    exact["/catalogue"] = prefixes["/catalogue/"]  # the catalogue's URI in the DCAT-AP files
    exact.update(operations_apps(settings, sessions))
    from portal import portal_app

    prefixes["/portal/"] = portal_app(settings, sessions)

    def index(environ, start_response):
        lines = ["govshare — 政务信息资源共享交换平台", ""]
        lines += [f"{path}  (WSDL: {path}?wsdl)" for path in services]
        lines += ["/wsdl/uddi/uddi_api_v3_binding.wsdl  (OASIS UDDI v3 binding)",
                  "/wsdl/uddi/uddi_sub_v3_binding.wsdl  (OASIS UDDI v3 subscription binding)",
                  "/portal/  (统一数据资源查询系统)",
                  "/catalogue/dcat.ttl, /catalogue/dcat.jsonld  (开放目录, DCAT-AP)", "/portal/open  (开放目录)",
                  "/health, /ready  (for the load balancer), /metrics  (Prometheus)"]
        return _plain(start_response, "200 OK", "\n".join(lines) + "\n")

    exact["/metrics"] = metrics_app(sessions, settings)
    writer = request_log.Writer(sessions.kw["bind"])
    app = measured(monitored(Router(exact, prefixes, index), writer))
    app.request_log = writer  # type: ignore[attr-defined]  # serve() flushes it on an orderly stop
    return app


# ----------------------------------------------------------------------------- operational metrics

#: the label a request's path is counted under: its service, or the folder it is in
SERVICES = ("/exchange", "/uddi/inquiry", "/uddi/publication", "/uddi/security", "/uddi/subscription",
            "/diagnostics", "/portal", "/wsdl", "/xsd", "/pki", "/catalogue", "/health", "/ready", "/metrics")
METHODS = ("GET", "POST", "HEAD")
_metrics: tuple | None = None


def _http_metrics() -> tuple:
    """The process's two metrics (prometheus_client registers a name once a process)."""
    global _metrics
    if _metrics is None:
        from prometheus_client import Counter, Histogram

        _metrics = (
            Counter("govshare_http_requests", "HTTP requests answered, by service, method and status",
                    ["service", "method", "status"]),
            Histogram("govshare_http_request_seconds", "Seconds from a request's arrival to the end of its answer",
                      ["service"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)),
        )
    return _metrics


def _service(path: str) -> str:
    for service in SERVICES:
        if path == service or path.startswith(service + "/"):
            return service
    return "other"


#: the WSGI environ key of ``warm``'s requests: neither counted in /metrics nor recorded in 运行监测
WARMING = "govshare.warming"


def measured(app: Callable) -> Callable:
    """``app`` counting its requests and timing them to the end of the answer's body, for ``/metrics``."""
    import time

    answered, seconds = _http_metrics()

    def wrapped(environ, start_response):
        if WARMING in environ:  # the process's own warm-up, not a client's request
            return app(environ, start_response)
        started, status = time.perf_counter(), ["500"]
        service = _service(environ.get("PATH_INFO") or "/")
        method = environ.get("REQUEST_METHOD", "GET") if environ.get("REQUEST_METHOD") in METHODS else "other"

        def start(line: str, headers, exc_info=None):
            status[0] = line.split(" ", 1)[0]
            return start_response(line, headers, exc_info)

        def done() -> None:
            answered.labels(service, method, status[0]).inc()
            seconds.labels(service).observe(time.perf_counter() - started)

        try:
            body = app(environ, start)
        except BaseException:
            done()
            raise
        return _Answer(body, done)

    return wrapped


#: the SOAP services whose requests operational monitoring records (运行监测, ``registry.request_log``)
MONITORED = ("/exchange", "/uddi/inquiry", "/uddi/publication", "/uddi/security", "/uddi/subscription",
             "/diagnostics")
_FAULT_CODES = (re.compile(rb'errCode="([^"]+)"'),  # a UDDI dispositionReport
                re.compile(rb"<(?:[\w.-]+:)?code>([^<]+)</(?:[\w.-]+:)?code>"),  # the exchange's fault detail
                re.compile(rb"<faultcode>(?:[^<:]*:)?([^<]+)</faultcode>"))


def fault_code(body: bytes) -> str:
    """The code a SOAP fault answer gives: a UDDI errCode, the exchange's detail code, else the faultcode."""
    for pattern in _FAULT_CODES:
        found = pattern.search(body)
        if found:
            return found.group(1).decode("utf-8", "replace").strip()[:80]
    return "Unknown"


def monitored(app: Callable, writer) -> Callable:
    """``app`` recording every SOAP request (a POST to a service of :data:`MONITORED`) in ``writer``'s
    queue once its answer has been sent: what the transports and the actions noted of the call (the
    operation, the caller, the resource), its times, its sizes and its result."""
    def wrapped(environ, start_response):
        service = _service(environ.get("PATH_INFO") or "/")
        if environ.get("REQUEST_METHOD") != "POST" or service not in MONITORED or WARMING in environ:
            return app(environ, start_response)
        length = environ.get("CONTENT_LENGTH")
        record: dict = {"service": service, "started_ms": request_log.clock_ms(),
                        "client": (environ.get("REMOTE_ADDR") or "")[:64]}
        if length and length.isdigit():
            record["request_bytes"] = int(length)
        else:  # chunked: counted as the service reads it
            environ["wsgi.input"] = _CountedInput(environ["wsgi.input"], record)
        status = ["500"]

        def start(line: str, headers, exc_info=None):
            status[0] = line.split(" ", 1)[0]
            return start_response(line, headers, exc_info)

        token = request_log.begin(record)
        try:
            body = app(environ, start)
        except BaseException:
            record["result"] = "InternalError"
            _finish(record, writer, 0)
            raise
        finally:
            request_log.end(token)
        return _Recorded(body, record, writer, status)

    return wrapped


def _finish(record: dict, writer, sent: int) -> None:
    record["ended_ms"] = ended = request_log.clock_ms()
    record["duration_ms"] = ended - record["started_ms"]
    record["response_bytes"] = sent
    record.setdefault("request_bytes", 0)
    record.setdefault("operation", "")
    record.setdefault("result", "ok")
    writer.append(record)


class _CountedInput:
    """A request body of no stated length, counting the bytes read from it into the record."""

    def __init__(self, stream, record: dict):
        self.stream, self.record = stream, record
        record["request_bytes"] = 0

    def read(self, *args):
        data = self.stream.read(*args)
        self.record["request_bytes"] += len(data)
        return data

    def readline(self, *args):
        data = self.stream.readline(*args)
        self.record["request_bytes"] += len(data)
        return data

    def __iter__(self):
        return iter(self.readline, b"")


class _Recorded:
    """A SOAP answer's body that, once sent, completes its record: bytes out, end time, result (a fault
    answer's code, read from the fault)."""

    def __init__(self, body, record: dict, writer, status: list[str]):
        self.body, self.record, self.writer, self.status = body, record, writer, status
        self.sent, self.fault = 0, b""

    def __iter__(self):
        for chunk in self.body:
            self.sent += len(chunk)
            if not self.status[0].startswith("2") and len(self.fault) < 65536:
                self.fault += chunk
            yield chunk

    def close(self) -> None:
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            if not self.status[0].startswith("2"):
                self.record["result"] = fault_code(self.fault) if self.fault else f"HTTP {self.status[0]}"
            _finish(self.record, self.writer, self.sent)


class _Answer:
    """A WSGI answer's body that says when the server has sent it (or given up on it)."""

    def __init__(self, body, done: Callable[[], None]):
        self.body, self.done = body, done

    def __iter__(self):
        return iter(self.body)

    def close(self) -> None:
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            self.done()


def metrics_app(sessions: sessionmaker[Session], settings: Settings) -> Callable:
    """``/metrics`` in Prometheus' text format: this process's metrics, or under gunicorn
    (``PROMETHEUS_MULTIPROC_DIR``, set by docs/deploy/gunicorn.conf.py) those of all its workers;
    then the platform's state (:func:`platform_metrics`)."""

    def app(environ, start_response):
        import os

        from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

        registry = REGISTRY
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        data = generate_latest(registry) + platform_metrics(sessions, settings)
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(data))),
                                  ("Cache-Control", "no-store")])
        return [data]

    return app


#: procrastinate's job statuses, each a value of ``govshare_jobs`` (0 when no job has it)
JOB_STATUSES = ("todo", "doing", "succeeded", "failed", "cancelled", "aborted")


def platform_metrics(sessions: sessionmaker[Session], settings: Settings) -> bytes:
    """The platform's state, read from the database at each scrape, the same whichever machine answers:
    ``govshare_database_up`` (1 when it was read), ``govshare_alerts`` by kind (告警, ``governance.alerts``:
    every kind, 0 when it has none, so that a rule ``govshare_alerts > 0`` pages someone without the
    portal open) and, on procrastinate, ``govshare_jobs`` by status (the queue's depth).  Counts only:
    no access to anyone's data, so no audit entry.  A database that does not answer is
    ``govshare_database_up 0``, not a failed scrape."""
    from collections import Counter

    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily
    from sqlalchemy import text

    from governance import alerts as alerting
    from registry.clock import utcnow

    class State:
        def collect(self):
            up = GaugeMetricFamily("govshare_database_up", "Whether the platform's database answered this scrape")
            try:
                with sessions() as session:
                    found = Counter(alert.kind for alert in alerting.current(session, settings, utcnow()))
                    jobs = dict(session.execute(text("SELECT status::text, count(*) FROM procrastinate_jobs "
                                                     "GROUP BY status")).all()) \
                        if settings.job_engine == "procrastinate" else None
            except Exception as error:  # noqa: BLE001 - the scrape answers; the database's state is the metric
                log.warning("/metrics: the platform's state could not be read: %s", error.__class__.__name__)
                up.add_metric([], 0)
                yield up
                return
            up.add_metric([], 1)
            yield up
            kinds = GaugeMetricFamily("govshare_alerts", "Alerts (告警) now, by kind", labels=["kind"])
            for kind in alerting.KINDS:
                kinds.add_metric([kind], found.get(kind, 0))
            yield kinds
            if jobs is not None:
                queue = GaugeMetricFamily("govshare_jobs", "Background jobs in the queue, by status", labels=["status"])
                for status in JOB_STATUSES:
                    queue.add_metric([status], jobs.get(status, 0))
                yield queue

    registry = CollectorRegistry()
    registry.register(State())
    return generate_latest(registry)


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def create_app(settings: Settings | None = None):
    """The platform's WSGI application as every server runs it - ``govshare serve`` (waitress) and a
    production server loading ``server:application`` (gunicorn, one per worker process): settings
    from the environment (``GOVSHARE_*``), the database brought to the current schema (or, with
    ``GOVSHARE_MIGRATE=0``, found at it: ``govshare db upgrade`` ran once at the deployment), the
    node bootstrapped and its services registered, requests on the serving engine."""
    return _platform(settings or Settings.from_env())[0]


def _platform(settings: Settings) -> tuple[Callable, sessionmaker[Session]]:
    """The WSGI application, and the session factory for the background work beside it.  Behind
    ``GOVSHARE_PROXIES`` reverse proxies the client's address, scheme and host are read from the
    X-Forwarded-* headers the last so many proxies appended (werkzeug's ProxyFix), so the audit log,
    the portal's lock-out and the public addresses see the client, not the proxy."""
    sessions = prepare(settings, register_services=True)
    app = build_app(settings, session_factory(serving_engine(settings)))
    warm(app)  # before the proxy's wrapper: the warm-up requests come from inside
    if settings.proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n, writer = settings.proxies, app.request_log
        app = ProxyFix(app, x_for=n, x_proto=n, x_host=n)
        app.request_log = writer  # type: ignore[attr-defined]  # for serve()'s orderly stop
    return app, sessions


def _warm_requests() -> list[tuple[str, str, bytes]]:
    """(path, SOAPAction, body) of the read-only requests ``warm`` sends: a Diagnostics Echo and one
    UDDI inquiry of each shape the directory answers (by name, by name prefix, by categoryBag)."""
    from directory.diagnostics import NAMESPACE
    from directory.taxonomies import CLASSIFICATION, SHARING_TYPE

    def soap(body: str) -> bytes:
        return (f'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>{body}'
                "</soap:Body></soap:Envelope>").encode()

    prefix = "<findQualifiers><findQualifier>approximateMatch</findQualifier></findQualifiers>"
    bag = (f'<categoryBag><keyedReference tModelKey="{CLASSIFICATION}" keyValue="101"/>'
           f'<keyedReference tModelKey="{SHARING_TYPE}" keyValue="无条件共享"/></categoryBag>')
    uddi = 'xmlns="urn:uddi-org:api_v3"'
    finds = [f"<find_service {uddi}><name>-</name></find_service>",
             f'<find_service {uddi} maxRows="10">{prefix}<name>-%</name></find_service>',
             f'<find_service {uddi} maxRows="10">{bag}</find_service>',
             f"<find_business {uddi}><name>-</name></find_business>",
             f'<find_business {uddi} maxRows="10">{prefix}<name>-%</name></find_business>',
             f"<find_tModel {uddi}><name>-</name></find_tModel>"]
    return ([("/diagnostics", '"Echo"', soap(f'<Echo xmlns="{NAMESPACE}"><text>warm</text></Echo>'))]
            + [("/uddi/inquiry", '""', soap(find)) for find in finds])


def _note_status(into: list[str], line: str, headers, exc_info=None) -> None:
    into.append(line)


def warm(app: Callable) -> None:
    """Make a serving process ready before its first request, not during it (issue 20).

    1. Send the application a Diagnostics Echo and one UDDI inquiry of each shape (read-only, not
       audited, answered from an empty or any directory): the first of each otherwise pays for
       compiling schemas and SQLAlchemy statements, loading the taxonomies - 60-800 ms.
    2. ``gc.freeze()``: the platform just built (schemas, mappers, compiled
       statements: some 200,000 objects) leaves the collector's generations.  Without it a full
       collection walks them all - 370-560 ms on the benchmark machine, holding the GIL of every
       request thread - and spyne forces one at most once a second after any Diagnostics call, and
       Python whenever its oldest generation grows by a quarter.

    A failed warm-up request is logged, never fatal: the process still serves."""
    import gc
    import io

    gc.freeze()  # first, or spyne's collection after the echo below walks the whole platform
    for path, action, body in _warm_requests():
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
                   "CONTENT_TYPE": "text/xml; charset=utf-8", "CONTENT_LENGTH": str(len(body)),
                   "HTTP_SOAPACTION": action, "HTTP_HOST": "127.0.0.1", "SERVER_NAME": "127.0.0.1",
                   "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
                   "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "REMOTE_ADDR": "127.0.0.1",
                   WARMING: True}
        status: list[str] = []
        try:
            result = app(environ, functools.partial(_note_status, status))
            try:
                b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except Exception:  # noqa: BLE001 - a cold first request is slower, not wrong
            log.warning("warming %s failed", path, exc_info=True)
            continue
        if not status or not status[0].startswith("200"):
            log.warning("warming %s: %s", path, status[0] if status else "no answer")
    gc.freeze()  # and what the requests compiled; no collection first: it would cost what it saves


_application: Callable | None = None
_application_lock = threading.Lock()


def __getattr__(name: str):
    """``server.application``: built by ``create_app`` the first time a WSGI server asks for it - in
    each gunicorn worker after the fork (``gunicorn server:application``), not when ``govshare``
    imports this module."""
    global _application
    if name != "application":
        raise AttributeError(f"module 'server' has no attribute {name!r}")
    with _application_lock:
        if _application is None:
            if not logging.getLogger().handlers:  # a WSGI server that configured no logging: the platform's
                logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
                logging.getLogger("alembic").setLevel(logging.WARNING)
            _application = create_app()
    return _application


def operations_apps(settings: Settings, sessions: sessionmaker[Session]) -> dict[str, Callable]:
    """``/health`` (the process answers) and ``/ready`` (it can serve: the database answers at the
    current schema, the CA is there when WS-Security needs it), for the load balancer in front of the
    processes; JSON, never cached.  ``/ready`` answers 503 naming what is not ready."""
    import json

    from sqlalchemy import text

    from trust import pki

    head = _migration_head()

    def answer(start_response, status: str, body: dict):
        data = json.dumps(body, ensure_ascii=False).encode()
        start_response(status, [("Content-Type", "application/json; charset=utf-8"),
                                ("Content-Length", str(len(data))), ("Cache-Control", "no-store")])
        return [data]

    def health(environ, start_response):
        return answer(start_response, "200 OK", {"status": "ok"})

    def ready(environ, start_response):
        checks: dict[str, dict] = {}
        try:
            with sessions() as session:
                current = session.scalar(text("SELECT version_num FROM alembic_version"))
            checks["database"] = {"ok": True}
            checks["migrations"] = {"ok": current == head, "current": current, "head": head}
        except exc.SQLAlchemyError as err:
            problem = database_problem(err, settings) or str(err).splitlines()[0]
            checks["database"] = {"ok": False, "problem": problem}
            checks["migrations"] = {"ok": False, "problem": "the database did not answer"}
        needed = settings.wss_policy != "off"
        try:
            ca = pki.ca_certificate(settings)
        except (OSError, ValueError) as err:
            checks["ca"] = {"ok": False, "problem": f"the CA certificate cannot be read: {err}"}
        else:
            if ca is None:
                checks["ca"] = {"ok": not needed, "problem": "no CA: run `govshare pki init`"}
            else:
                expired = ca.not_valid_after_utc < datetime.now(UTC)
                checks["ca"] = {"ok": not expired, "subject": ca.subject.rfc4514_string(),
                                "not_after": ca.not_valid_after_utc.isoformat()}
        ok = all(check["ok"] for check in checks.values())
        return answer(start_response, "200 OK" if ok else "503 Service Unavailable",
                      {"status": "ready" if ok else "not ready", "checks": checks})

    return {"/health": health, "/ready": ready}


@functools.cache
def _migration_head() -> str:
    """The schema revision this code expects (Alembic's head), read from the migrations once a process."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def prepare(settings: Settings, register_services: bool = False) -> sessionmaker[Session]:
    """Migrate the database (or, with ``GOVSHARE_MIGRATE=0``, refuse one not at this code's schema),
    bootstrap the node and return a session factory.

    With ``register_services`` the node also (re-)registers its own SOAP services at
    ``settings.base_url`` in its directory, as it does when it starts serving.
    """
    from directory.bootstrap import bootstrap_node

    engine = make_engine(settings.db_url, connect_timeout=settings.db_connect_timeout, pool=settings.db_pool,
                         overflow=settings.db_overflow)
    sessions = session_factory(engine)
    with startup_lock(engine):  # processes started together take turns
        if settings.migrate:
            migrate(settings.db_url)
        else:
            _require_current_schema(sessions, settings)
        with unit_of_work(sessions) as session:
            bootstrap_node(session, settings)
            if register_services:  # (it imports the SOAP stack, which the other commands do without)
                from directory.self_registration import register_platform_services

                register_platform_services(session, settings)
    return sessions


def _require_current_schema(sessions: sessionmaker[Session], settings: Settings) -> None:
    """With GOVSHARE_MIGRATE=0 a process serves only a database already at this code's schema."""
    from sqlalchemy import text

    head = _migration_head()
    with sessions() as session:
        try:
            current = session.scalar(text("SELECT version_num FROM alembic_version"))
        except exc.DatabaseError:
            current = None
    if current != head:
        raise SettingsError(f"the database at {settings.db_url} is at schema {current or 'none'}, this code needs "
                            f"{head}: run `govshare db upgrade` once (GOVSHARE_MIGRATE=0 leaves it to you)")


def serve(settings: Settings, threads: int = 8, scheduler: bool = True, http: bool = True) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM), with the sync scheduler unless ``scheduler`` is off, and
    the UDDI subscription notifier unless ``GOVSHARE_UDDI_NOTIFY`` is 0.  Without ``http`` only that
    background work runs.  With ``GOVSHARE_JOBS=procrastinate`` (the default on PostgreSQL) none of it
    runs here: it is jobs, run by ``govshare worker`` processes (operations/)."""
    import signal
    import time

    from waitress import serve as waitress_serve

    from adapters.scheduler import Scheduler
    from adapters.sync_cli import adapters_folder

    if settings.job_engine == "procrastinate":
        if not http:
            raise SettingsError("with GOVSHARE_JOBS=procrastinate (the default on PostgreSQL) the background work "
                                "is jobs: run `govshare worker` instead of `govshare serve --no-http`")
        scheduler = False
    base = settings.base_url
    if http:
        app, sessions = _platform(settings)  # sessions: for adapter runs and the loops, no statement limit
        print(f"govshare serving on {base}")
        for path in ("/uddi/inquiry", "/uddi/publication", "/uddi/security", "/uddi/subscription", "/exchange",
                     "/diagnostics"):
            print(f"  {base}{path}   WSDL: {base}{path}?wsdl")
    else:
        sessions = prepare(settings, register_services=True)
        print(f"govshare background work for {base} (no HTTP here)")
    in_process = settings.job_engine == "inprocess"
    if not in_process:
        print("  background work: jobs on PostgreSQL, run by `govshare worker` (GOVSHARE_JOBS=procrastinate)")
    sync = Scheduler(sessions, settings, adapters_folder()).start() if scheduler else None
    print(f"  sync scheduler: {'adapter files in ' + str(adapters_folder()) if sync else 'off'}")
    federating = None
    if settings.upper_url and in_process:  # a catalogue node (目录管理节点) of a higher platform
        from federation.peer import Peer

        federating = Peer(sessions, settings).start()
        print(f"  federation: this catalogue pushed to {settings.upper_url}")
    notifier = None
    if settings.uddi_notify_seconds > 0 and in_process:  # UDDI listeners, as their notificationIntervals fall due
        from directory.uddi.listener import Notifier

        notifier = Notifier(sessions, settings).start()
        print(f"  UDDI subscription listeners: a notification pass every {settings.uddi_notify_seconds} s")
    housekeeper = reminder = summariser = None
    if in_process:  # the nightly retention, the daily summaries and the reminders, as jobs do them on procrastinate
        from operations import tasks

        housekeeper = tasks.housekeeper(sessions, settings).start()
        summariser = tasks.summariser(sessions, settings).start()
        if settings.remind_seconds > 0:
            reminder = tasks.reminder(sessions, settings).start()
            print(f"  到期提醒与告警通知: a pass every {settings.remind_seconds} s")
    sys.stdout.flush()
    # waitress ends its loop on SystemExit as on Ctrl-C, so SIGTERM also gets the scheduler stopped below
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        if http:
            waitress_serve(app, host=settings.host, port=settings.port, threads=threads, ident="govshare")
        else:
            while True:  # until SIGTERM or Ctrl-C: the loops are threads
                time.sleep(60)
    finally:
        if http:  # the requests' records still queued (a SIGKILL loses them; see registry.request_log)
            app.request_log.stop()
        if sync is not None:
            sync.stop()
        if federating is not None:
            federating[1].set()
        if notifier is not None:
            notifier.stop()
        if housekeeper is not None:
            housekeeper.stop()
        if summariser is not None:
            summariser.stop()
        if reminder is not None:
            reminder.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _exit_on_signal(signum, frame) -> None:
    raise SystemExit(0)


# ----------------------------------------------------------------------------- command line


def _cmd_serve(args, settings: Settings) -> int:
    if args.demo_provider:
        from adapters.demo_services import serve_household_service
        from directory.demo import household_address, household_db

        threading.Thread(target=serve_household_service, daemon=True, name="gaj-household",
                         args=(settings.host, settings.port + 1, household_db(settings))).start()
        print(f"demo provider: 临江市公安局 household registry on {household_address(settings)}")
    from adapters import scheduler

    try:
        serve(settings, threads=args.threads, scheduler=args.scheduler and scheduler.enabled(), http=args.http)
    except SettingsError as error:
        print(f"govshare: {error}", file=sys.stderr)
        return 2
    return 0


def _cmd_db_upgrade(args, settings: Settings) -> int:
    engine = make_engine(settings.db_url, connect_timeout=settings.db_connect_timeout)
    with startup_lock(engine):  # a server may be starting on the database too
        migrate(settings.db_url)
    engine.dispose()
    print(f"database at {settings.db_url} is at the latest schema")
    return 0


#: the modules of the administration commands, by the top-level commands each registers; a
#: command's module alone is imported to run it (all of them for help, or a command not here):
#: a sync run then carries neither the SOAP stack nor the other commands (about 16 MiB)
COMMANDS = {
    "catalogue": "directory.catalogue.cli", "wsdl": "directory.wsdl_cli", "adapter": "adapters.cli",
    "sync": "adapters.sync_cli", "quarantine": "adapters.quarantine_cli", "core": "exchange.cli",
    "pki": "trust.pki_cli", "audit": "trust.audit_cli", "assess": "governance.cli",
    "sharing": "governance.cli", "correction": "governance.cli", "demo": "directory.demo",
    "admin": "governance.admin_cli", "federation": "federation.cli", "uddi": "directory.uddi.cli",
    "worker": "operations.cli", "jobs": "operations.cli",
    "monitoring": "governance.monitoring_cli",
}


def parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The command line; given ``argv``, with only the commands it can need."""
    p = argparse.ArgumentParser(prog="govshare", description="govshare platform administration")
    p.add_argument("--db-url", help="SQLAlchemy URL (default: $GOVSHARE_DB_URL or SQLite under var/)")
    subs = p.add_subparsers(dest="command", required=True)

    s = subs.add_parser("serve", help="serve the platform over HTTP")
    s.add_argument("--host", help="address to listen on (default $GOVSHARE_HOST or 127.0.0.1)")
    s.add_argument("--port", type=int, help="port (default $GOVSHARE_PORT or 8080)")
    s.add_argument("--threads", type=int, default=8)
    s.add_argument("--demo-provider", action="store_true",
                   help="also serve the demo 临江市公安局 household registry (逻辑集中) on port+1")
    s.add_argument("--no-scheduler", dest="scheduler", action="store_false",
                   help="do not run adapters on their schedules (also: GOVSHARE_SCHEDULER=0)")
    s.add_argument("--no-http", dest="http", action="store_false",
                   help="only the background work (schedules, notifications, federation), beside gunicorn's processes")
    s.set_defaults(run=_cmd_serve)

    db = subs.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply every migration").set_defaults(run=_cmd_db_upgrade)

    wanted = _command_in(argv) if argv is not None else None
    for name in [COMMANDS[wanted]] if wanted in COMMANDS else dict.fromkeys(COMMANDS.values()):
        module = importlib.import_module(name)
        if name == "directory.demo":
            module.register(subs, _cmd_demo_seed)
        else:
            module.register(subs)
    return p


def _command_in(argv: list[str]) -> str | None:
    """The command ``argv`` names (its first word after the top-level options), if any."""
    top = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    top.add_argument("--db-url")  # parser()'s one top-level option: its value is not the command
    top.add_argument("command", nargs="?")
    try:
        return top.parse_known_args(argv)[0].command
    except argparse.ArgumentError:  # --db-url without its value: the full parser says so
        return None


def _cmd_demo_seed(args, sessions: sessionmaker[Session], settings: Settings) -> int:
    from adapters.demo.seed import command

    return command(args, sessions, settings)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["node"]:  # the department's node: its own configuration, none of the centre's settings
        from node.cli import main as node_main

        return node_main(argv[1:])
    args = parser(argv).parse_args(argv)
    try:
        settings = Settings.from_env(
            db_url=args.db_url, host=getattr(args, "host", None), port=getattr(args, "port", None)
        )
    except SettingsError as error:
        print(f"govshare: {error}", file=sys.stderr)
        return 2
    try:
        if hasattr(args, "run"):
            return args.run(args, settings)
        sessions = prepare(settings)
        try:
            return args.handler(args, sessions, settings)
        finally:  # the command's connections closed as it ends, whoever called it
            sessions.kw["bind"].dispose()
    except (exc.ArgumentError, exc.OperationalError) as error:
        problem = database_problem(error, settings)
        if problem is None:
            raise
        print(f"govshare: {problem}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
