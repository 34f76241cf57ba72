"""The unified query portal (统一数据资源查询系统, Q1/Q2): a server-rendered Chinese B/S portal at ``/portal/``.

Every page is a thin view over the same domain functions as the SOAP operations and the
command line (CKAN style): the catalogue workflow (``directory.catalogue.workflow``), sharing
governance (``governance.sharing``), the one read path (``exchange.output`` and, for 逻辑集中
resources, ``exchange.logical.forward_query``), the audit log (``trust.audit``), 纠错 and
考核 (``governance.correction``, ``governance.assessment``) and the adapter quarantine
(``adapters.quarantine``).  Nothing is decided twice: what a department may read, and how
it is masked, is ``governance.sharing.authorize``'s answer whether the question comes over SOAP or
from a browser, and every portal read is recorded in the audit log as ``portal.*``.

    server.build_app  ->  Router  "/portal/..."  ->  portal.app.mounted(create_app(settings, sessions))
"""

from __future__ import annotations

from .app import create_app, mounted


def portal_app(settings, sessions):
    """The portal as a WSGI application serving under ``/portal`` (server.py mounts it there)."""
    return mounted(create_app(settings, sessions), "/portal")


__all__ = ["create_app", "mounted", "portal_app"]
