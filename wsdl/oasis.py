"""The OASIS UDDI v3 contract files, shipped unchanged in ``wsdl/oasis/``.

``uddi_v3.xsd`` imports two W3C schemas by absolute ``http://www.w3.org/...``
location.  Nothing here fetches them: validation resolves them to the copies that
xmlschema ships (its xmldsig copy has the DTD subset removed, so parsers that refuse
entities accept it), and when the files are served over HTTP the two
``schemaLocation`` attributes are rewritten to point at those copies on this server.
No other byte of an OASIS file changes.

The subscription API (``uddi_sub_v3_*.wsdl``, ``uddi_v3subscription.xsd``) and the subscription
listener's (``uddi_subr_v3_*.wsdl``, ``uddi_v3subscriptionListener.xsd``, which the node calls as a
client) are shipped the same way; their schemas import ``uddi_v3.xsd`` by relative location.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import xmlschema
from lxml import etree

OASIS_DIR = Path(__file__).resolve().parent / "oasis"
_XMLSCHEMA_DIR = Path(xmlschema.__file__).resolve().parent / "schemas"

XML_XSD_URL = "http://www.w3.org/2001/xml.xsd"
DSIG_XSD_URL = "http://www.w3.org/TR/xmldsig-core/xmldsig-core-schema.xsd"

#: W3C schema URL -> (local file, name under which this server serves it)
W3C_SCHEMAS = {
    XML_XSD_URL: (_XMLSCHEMA_DIR / "XML" / "xml.xsd", "xml.xsd"),
    DSIG_XSD_URL: (_XMLSCHEMA_DIR / "DSIG" / "xmldsig-core-schema.xsd", "xmldsig-core-schema.xsd"),
}

#: the files served under /wsdl/uddi/
SERVED_FILES = ("uddi_api_v3_binding.wsdl", "uddi_api_v3_portType.wsdl", "uddi_v3.xsd",
                "uddi_sub_v3_binding.wsdl", "uddi_sub_v3_portType.wsdl", "uddi_v3subscription.xsd",
                "uddi_subr_v3_binding.wsdl", "uddi_subr_v3_portType.wsdl", "uddi_v3subscriptionListener.xsd") + tuple(
    name for _path, name in W3C_SCHEMAS.values()
)

UDDI_XSD = OASIS_DIR / "uddi_v3.xsd"
BINDING_WSDL = OASIS_DIR / "uddi_api_v3_binding.wsdl"
BINDING_NS = "urn:uddi-org:api_v3_binding"
SUBSCRIPTION_XSD = OASIS_DIR / "uddi_v3subscription.xsd"
LISTENER_XSD = OASIS_DIR / "uddi_v3subscriptionListener.xsd"
SUBSCRIPTION_BINDING_WSDL = OASIS_DIR / "uddi_sub_v3_binding.wsdl"
SUBSCRIPTION_BINDING_NS = "urn:uddi-org:sub_v3_binding"


class _W3CResolver(etree.Resolver):
    def resolve(self, url, pubid, context):
        local = W3C_SCHEMAS.get(url)
        if local is not None:
            return self.resolve_filename(str(local[0]), context)
        return None


def _compiled(path: Path) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_W3CResolver())
    return etree.XMLSchema(etree.parse(str(path), parser))


@lru_cache(maxsize=1)
def uddi_schema() -> etree.XMLSchema:
    """``uddi_v3.xsd`` compiled by libxml2 (fast validation of requests and responses)."""
    return _compiled(UDDI_XSD)


@lru_cache(maxsize=1)
def subscription_schema() -> etree.XMLSchema:
    """``uddi_v3subscription.xsd`` (with the ``uddi_v3.xsd`` it imports): the subscription API's messages."""
    return _compiled(SUBSCRIPTION_XSD)


@lru_cache(maxsize=1)
def listener_schema() -> etree.XMLSchema:
    """``uddi_v3subscriptionListener.xsd``: the notify_subscriptionListener the node sends."""
    return _compiled(LISTENER_XSD)


@lru_cache(maxsize=1)
def uddi_xmlschema() -> xmlschema.XMLSchema:
    """``uddi_v3.xsd`` loaded by xmlschema (readable errors, decoding)."""
    return xmlschema.XMLSchema(
        str(UDDI_XSD),
        uri_mapper={url: path.as_uri() for url, (path, _name) in W3C_SCHEMAS.items()},
    )


def served_file(name: str, base_url: str) -> bytes | None:
    """The bytes of a served contract file, W3C imports pointed at ``base_url``."""
    if name not in SERVED_FILES:
        return None
    for path, served_name in W3C_SCHEMAS.values():
        if served_name == name:
            return path.read_bytes()
    data = (OASIS_DIR / name).read_bytes()
    if name == "uddi_v3.xsd":
        for url, (_path, served_name) in W3C_SCHEMAS.items():
            data = data.replace(url.encode(), f"{base_url}{served_name}".encode())
    return data
