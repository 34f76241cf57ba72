"""The exchange service's contract, ``wsdl/exchange.wsdl``, as this server serves it.

The file names two addresses it cannot know in advance — the batch schema it imports and
the port's soap:address — as the placeholders ``BATCH_XSD_LOCATION`` and
``EXCHANGE_ENDPOINT``; nothing else changes.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path

from lxml import etree

WSDL_FILE = Path(__file__).resolve().parent / "exchange.wsdl"
XSD_DIR = Path(__file__).resolve().parent.parent / "xsd"


def exchange_wsdl(base_url: str, endpoint_url: str) -> bytes:
    text = WSDL_FILE.read_text(encoding="utf-8")
    return (text.replace("BATCH_XSD_LOCATION", f"{base_url}/xsd/batch.xsd")
            .replace("EXCHANGE_ENDPOINT", endpoint_url).encode("utf-8"))


_XSD = "{http://www.w3.org/2001/XMLSchema}"
_WSDL = "{http://schemas.xmlsoap.org/wsdl/}"


def _types() -> etree._Element:
    """The WSDL's own schema (its wsdl:types), importing batch.xsd from this installation."""
    wsdl = etree.fromstring(exchange_wsdl("", "").replace(b"/xsd/batch.xsd", (XSD_DIR / "batch.xsd").as_uri().encode()))
    types = wsdl.find(f"{_WSDL}types/{_XSD}schema")
    schema = etree.Element(types.tag, types.attrib, nsmap=types.nsmap)  # the WSDL's prefixes, which QNames use
    schema.extend(copy.deepcopy(child) for child in types)
    return schema


@lru_cache(maxsize=1)
def contract_schema() -> etree.XMLSchema:
    """What a request of an exchange operation must conform to before any work on it starts:
    every type, occurrence and length the contract declares (``maxOccurs="100"`` keys, a
    ``maxLength`` of 200 for 用途, ...)."""
    return etree.XMLSchema(_types())


@lru_cache(maxsize=1)
def most_children() -> dict[str, int]:
    """The most child elements each operation's request may hold (its sequence's maxOccurs
    added up; operations with an unbounded child are left out), so that a request over it is
    refused while it streams in, before it is ever held whole."""
    limits = {}
    for element in _types().iterfind(f"{_XSD}element"):
        children = element.findall(f"{_XSD}complexType/{_XSD}sequence/{_XSD}element")
        occurs = [child.get("maxOccurs", "1") for child in children]
        if children and "unbounded" not in occurs:
            limits[element.get("name")] = sum(int(n) for n in occurs)
    return limits


def xsd_file(name: str) -> bytes | None:
    """The bytes of the exchange format schema ``name`` (served under /xsd/), else None."""
    path = XSD_DIR / name
    return path.read_bytes() if "/" not in name and name.endswith(".xsd") and path.is_file() else None


def local_schema(url: str, base_url: str) -> bytes | None:
    """The bytes of ``url`` when it is one of this server's /xsd/ schemas, else None."""
    prefix = f"{base_url}/xsd/"
    return xsd_file(url.removeprefix(prefix)) if url.startswith(prefix) else None
