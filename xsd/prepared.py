"""A prepared batch: field dicts validated and rendered, with no database at hand, as the input
tier will keep them - the SubmitBatch request the batch document travels in::

    <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
      <ex:SubmitBatch xmlns:ex="http://govshare.local/xsd/exchange/1.0">
        <b:Batch xmlns:b="http://govshare.local/xsd/batch/1.0"> header, records (batch.py) </b:Batch>
      </ex:SubmitBatch>
    </soap:Body></soap:Envelope>

kept as its SHA-256, its size and its zlib-compressed bytes, and each record's fields as the core
stores them: JSON text, compact, dates ISO 8601, decimals as strings (``dumps(jsonable(fields))``).

An adapter's reading side prepares its chunks here (at the centre or at a department's node);
the exchange stores them (``exchange.submit.submit_prepared``).  Nothing here reads or writes a
database.
"""

from __future__ import annotations

import hashlib
import json
import uuid
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from registry.errors import ExchangeError

from .batch import BatchHeader, batch_parts
from .registry import Format
from .rules import today_in_china
from .validation import validate_fields

__all__ = ["ENVELOPE_CLOSE", "ENVELOPE_OPEN", "EXCHANGE_NS", "PackedRequest", "PreparedBatch", "dumps", "jsonable",
           "pack_request", "prepare_records"]

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
EXCHANGE_NS = "http://govshare.local/xsd/exchange/1.0"  # the types of wsdl/exchange.wsdl

#: a batch document between these two is the SubmitBatch request as a sender would send it
ENVELOPE_OPEN = (f'<soap:Envelope xmlns:soap="{SOAP_ENV_NS}"><soap:Body>'
                 f'<ex:SubmitBatch xmlns:ex="{EXCHANGE_NS}">').encode()
ENVELOPE_CLOSE = b"</ex:SubmitBatch></soap:Body></soap:Envelope>"


def dumps(value: Any) -> str:
    """JSON text as the core stores it (``fields``, ``field_sources``): compact, characters as they are."""
    return _DUMPS(value)


_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_TO_JSON = {datetime: datetime.isoformat, date: date.isoformat, Decimal: str}
_AS_IS = frozenset({str, int, float, bool, type(None)})


def jsonable(value: Any) -> Any:
    """Field values as JSON keeps them: dates ISO 8601, decimals as strings."""
    kind = type(value)
    if kind in _AS_IS:  # the common case first: this runs for every field of every record
        return value
    convert = _TO_JSON.get(kind)
    if convert is not None:
        return convert(value)
    if kind is dict:  # a record's fields: most values are as is, so test before calling
        return {k: v if type(v) in _AS_IS else jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


@dataclass
class PackedRequest:
    """What the input tier keeps of a request: its SHA-256, size and zlib-compressed bytes."""

    sha256: str
    size: int
    compressed: bytes


def pack_request(parts: list[bytes], limit: int) -> PackedRequest:
    """The batch document in ``parts`` wrapped in a SubmitBatch request, as the exchange's
    transport would have kept it; hashed and compressed piece by piece, never copied whole.
    More than ``limit`` bytes is RequestTooLarge, as it would be over the wire."""
    size = len(ENVELOPE_OPEN) + sum(map(len, parts)) + len(ENVELOPE_CLOSE)
    if size > limit:
        raise ExchangeError("RequestTooLarge", f"the request is {size} bytes; this node accepts at most {limit}")
    sha, packer, packed = hashlib.sha256(), zlib.compressobj(1), []
    for part in (ENVELOPE_OPEN, *parts, ENVELOPE_CLOSE):
        sha.update(part)
        packed.append(packer.compress(part))
    packed.append(packer.flush())
    return PackedRequest(sha.hexdigest(), size, b"".join(packed))


@dataclass
class PreparedBatch:
    """A batch of field dicts validated and rendered with no session at hand (an adapter run's
    reading side, possibly another process), for ``exchange.submit.submit_prepared`` to store:
    the header, the request the input tier keeps, and the records as the intake takes them."""

    header: BatchHeader
    request: PackedRequest
    #: (key, fields as the core stores them, as JSON text), in batch order
    accepted: list[tuple[str, str]]
    #: (position in the batch, key, the record's canonical XML, [(rule, field, message)])
    quarantined: list[tuple[int, str, bytes, list[tuple[str, str, str]]]]


def prepare_records(records: Iterable[Mapping[str, object]], *, fmt: Format, provider_code: str,
                    resource_code: str, batch_id: uuid.UUID, sequence_number: int, created: datetime,
                    limit: int) -> PreparedBatch:
    """Validate and render field dicts as the batch of ``fmt.encode`` of each record would be
    received: the input tier keeps that same SubmitBatch request, but no tree is built or parsed
    where ``validation.validate_fields`` can check and render a record directly.

    Keeps of each record only what the batch needs (its canonical bytes and what the intake
    takes), not its validation result: a chunk of an adapter run can be tens of thousands.
    """
    today, digest = today_in_china(), hashlib.sha256()
    canonical, accepted, quarantined = [], [], []
    for position, fields in enumerate(records, 1):
        item = validate_fields(fmt, fields, today=today)
        result = item.result
        canonical.append(item.canonical)
        digest.update(item.canonical)
        key = "|".join(result.key) if result.key else ""
        if result.violations:
            quarantined.append((position, key, item.canonical,
                                [(v.rule, v.field or "", v.message) for v in result.violations]))
        else:
            accepted.append((key, dumps(item.texts if item.texts is not None else jsonable(result.fields))))
    header = BatchHeader(batch_id, provider_code, resource_code, fmt.qname, fmt.version, sequence_number, created,
                         len(canonical), digest.hexdigest())
    return PreparedBatch(header, pack_request(batch_parts(header, canonical), limit), accepted, quarantined)
