"""The portal's pages, one blueprint per area; each view is thin over a domain function."""

from __future__ import annotations

from flask import Flask


def register_views(app: Flask) -> None:
    from . import assessment, audit, auth, catalogue, corrections, home, monitor, query, sharing

    for module in (auth, home, catalogue, sharing, query, monitor, audit, corrections, assessment):
        app.register_blueprint(module.bp)
