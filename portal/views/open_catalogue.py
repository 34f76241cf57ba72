"""开放目录: the open catalogue for everyone, no account needed - search with facets and each entry's
public metadata, with the links to the DCAT-AP files harvesters read.

Each page calls an open-catalogue action (``directory.catalogue.public``) as the visitor (channel
``portal``; the signed-in user when there is one, for the audit log): the action shows the
published entries open to the public and nothing else, so a code outside them is the same 404 as
a code nobody catalogued.
"""

from __future__ import annotations

from flask import Blueprint, g, render_template, request

from directory.catalogue.dcat import Uris, interface
from directory.catalogue.metadata import DATA_TYPES
from directory.catalogue.public import OPEN_FACETS, open_search, open_show
from trust.actions import Context
from trust.auth import Caller

from ..app import sessions, settings
from .catalogue import search_page

bp = Blueprint("open_catalogue", __name__)


def _visitor() -> Context:
    caller = Caller.of_user(g.user, "portal") if g.get("user") is not None else Caller(channel="portal")
    return Context(caller, sessions(), settings())


def _base() -> str:
    """The platform's public address, as the DCAT-AP files name it."""
    return settings().public_base(request.environ)


@bp.route("/open")
def index():
    return search_page("open_catalogue.html", open_search, _visitor(), OPEN_FACETS, base=_base())


@bp.route("/open/resource")
def detail():
    entry = open_show(_visitor(), resource_code=request.args.get("code", ""))
    base = _base()
    endpoint, wsdl = interface(base, logical=entry.logical, access_point=entry.access_point,
                               wsdl_path=entry.wsdl_path)
    return render_template("open_detail.html", entry=entry, endpoint=endpoint, wsdl=wsdl, base=base,
                           dataset_uri=Uris(base).dataset(entry.resource_code), data_types=DATA_TYPES)
