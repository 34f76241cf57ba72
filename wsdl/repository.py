"""The WSDL repository (D3): validated WSDL documents, stored and served under ``/wsdl/<path>``.

    GET /wsdl/gaj/population-query.wsdl
    ->
    200 OK
    Content-Type: text/xml; charset=utf-8
    ETag: "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b"

    <?xml version="1.0" encoding="UTF-8"?>
    <wsdl:definitions targetNamespace="http://govshare.local/interfaces/population" ...>

A path is lower-case ``[a-z0-9._-]`` segments separated by ``/``, ending in ``.wsdl``;
``uddi/`` is reserved for the OASIS UDDI contract files, which another application
serves.  Documents are stored as UTF-8 (a legacy GBK document is re-encoded, its XML
declaration with it), so the bytes served are always what the ETag hashes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from registry.clock import utcnow
from registry.models import Department, WsdlDocument

from .validation import Fetch, WsdlInfo, utf8_text, validate_wsdl

PREFIX = "/wsdl/"
RESERVED = ("uddi/",)  # the OASIS UDDI contract files, served by their own application

_PATH = re.compile(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*\.wsdl$")


class InvalidWsdlPath(ValueError):
    """The path cannot name a stored WSDL."""


class WsdlPathTaken(PermissionError):
    """The path holds another department's WSDL."""


def check_path(path: str) -> str:
    """``path`` if it may name a stored WSDL, else InvalidWsdlPath saying why."""
    if len(path) > 255:
        raise InvalidWsdlPath(f"WSDL path is {len(path)} characters long; at most 255 are allowed")
    if ".." in path or not _PATH.match(path):
        raise InvalidWsdlPath(
            f"WSDL path '{path}' is not allowed: use lower-case letters, digits and . _ - in segments "
            "separated by /, no '..', ending in .wsdl (e.g. gaj/population-query.wsdl)")
    if path.startswith(RESERVED):
        raise InvalidWsdlPath(f"WSDL path '{path}' is reserved: {', '.join(RESERVED)} hold the OASIS UDDI contract")
    return path


def store_wsdl(
    session: Session,
    *,
    path: str,
    content: bytes,
    department: Department | None,
    source_url: str = "",
    fetch: Fetch | None = None,
) -> WsdlDocument:
    """Validate ``content`` and store it at ``path``, replacing what the path held.

    ``department`` None stores a platform document.  A department may replace only its
    own documents.  ``source_url`` is where the document was read from: relative import
    locations are resolved against it, through ``fetch``.  Raises InvalidWsdlPath,
    WsdlPathTaken or wsdl.validation.InvalidWsdl.
    """
    return store_and_describe_wsdl(session, path=path, content=content, department=department,
                                   source_url=source_url, fetch=fetch)[0]


def store_and_describe_wsdl(
    session: Session,
    *,
    path: str,
    content: bytes,
    department: Department | None,
    source_url: str = "",
    fetch: Fetch | None = None,
) -> tuple[WsdlDocument, WsdlInfo]:
    """store_wsdl, also returning what validation found the document describes."""
    check_path(path)
    existing = get_wsdl(session, path)
    if existing is not None and department is not None and existing.department_id != department.id:
        raise WsdlPathTaken(f"/wsdl/{path} holds a WSDL of another publisher; choose another path")
    info = validate_wsdl(content, base_url=source_url or None, fetch=fetch)
    text = utf8_text(content)
    row = existing or WsdlDocument(path=path)
    row.department_id = department.id if department is not None else None
    row.target_namespace = info.target_namespace
    row.content = text
    row.sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
    row.source_url = source_url
    row.uploaded = utcnow()
    if existing is None:
        session.add(row)
    session.flush()
    return row, info


def get_wsdl(session: Session, path: str) -> WsdlDocument | None:
    return session.scalar(select(WsdlDocument).where(WsdlDocument.path == path))


# --------------------------------------------------------------------------- serving


StartResponse = Callable[..., object]


class WsdlRepositoryApp:
    """WSGI application serving ``GET /wsdl/<path>`` from the repository."""

    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        # Mounted under /wsdl or at the root: the full path is the same either way.
        full = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            return _text(start_response, "405 Method Not Allowed", f"{method} is not allowed on {full}: use GET",
                         [("Allow", "GET, HEAD")])
        path = full[len(PREFIX):] if full.startswith(PREFIX) else ""
        with self.sessions() as session:
            doc = get_wsdl(session, path) if path else None
        if doc is None:
            return _text(start_response, "404 Not Found",
                         f"no WSDL is stored at {full}; stored WSDLs are listed in the directory "
                         "(find_tModel, overviewURL)")
        etag = f'"{doc.sha256}"'
        headers = [("ETag", etag), ("Cache-Control", "no-cache")]
        if etag in [t.strip() for t in environ.get("HTTP_IF_NONE_MATCH", "").split(",")]:
            start_response("304 Not Modified", headers)
            return [b""]
        body = doc.content.encode("utf-8")
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"),
                                  ("Content-Length", str(len(body))), *headers])
        return [b"" if method == "HEAD" else body]


def wsdl_app(sessions: sessionmaker[Session]) -> WsdlRepositoryApp:
    """The application to mount for every ``/wsdl/`` path except ``/wsdl/uddi/``."""
    return WsdlRepositoryApp(sessions)


def _text(start_response: StartResponse, status: str, message: str, extra: list | None = None) -> list[bytes]:
    body = (message + "\n").encode("utf-8")
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                            *(extra or [])])
    return [body]
