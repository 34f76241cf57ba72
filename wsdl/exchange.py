"""The exchange service's contract, ``wsdl/exchange.wsdl``, as this server serves it.

The file names two addresses it cannot know in advance — the batch schema it imports and
the port's soap:address — as the placeholders ``BATCH_XSD_LOCATION`` and
``EXCHANGE_ENDPOINT``; nothing else changes.
"""

from __future__ import annotations

from pathlib import Path

WSDL_FILE = Path(__file__).resolve().parent / "exchange.wsdl"
XSD_DIR = Path(__file__).resolve().parent.parent / "xsd"


def exchange_wsdl(base_url: str, endpoint_url: str) -> bytes:
    text = WSDL_FILE.read_text(encoding="utf-8")
    return (text.replace("BATCH_XSD_LOCATION", f"{base_url}/xsd/batch.xsd")
            .replace("EXCHANGE_ENDPOINT", endpoint_url).encode("utf-8"))


def xsd_file(name: str) -> bytes | None:
    """The bytes of the exchange format schema ``name`` (served under /xsd/), else None."""
    path = XSD_DIR / name
    return path.read_bytes() if "/" not in name and name.endswith(".xsd") and path.is_file() else None


def local_schema(url: str, base_url: str) -> bytes | None:
    """The bytes of ``url`` when it is one of this server's /xsd/ schemas, else None."""
    prefix = f"{base_url}/xsd/"
    return xsd_file(url.removeprefix(prefix)) if url.startswith(prefix) else None
