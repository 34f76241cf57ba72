"""The unified query portal (统一数据资源查询系统, Q1/Q2): a server-rendered Chinese B/S portal at ``/portal/``.

Every page is a thin view over the same actions as the SOAP operations and the command line
(CKAN style, ``trust.actions``): the catalogue (``catalogue.*``), sharing governance
(``sharing.*``, ``correction.*``, ``assessment.report``), the unified query
(``exchange.unified_query`` over ``exchange.query_records``), the audit log (``audit.*``) and the
adapters' monitoring and quarantine (``monitor.overview``, ``quarantine.*``).  Nothing is decided
twice: each action checks the signed-in user's roles itself, what a department may read and how
it is masked is ``governance.sharing.authorize``'s answer whether the question comes over SOAP or
from a browser, and every action is recorded in the audit log with the channel ``portal``.

    server.build_app  ->  Router  "/portal/..."  ->  portal.app.mounted(create_app(settings, sessions))
"""

from __future__ import annotations

from .app import create_app, mounted


def portal_app(settings, sessions):
    """The portal as a WSGI application serving under ``/portal`` (server.py mounts it there)."""
    return mounted(create_app(settings, sessions), "/portal")


__all__ = ["create_app", "mounted", "portal_app"]
