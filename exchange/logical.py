"""Logical centralisation (逻辑集中): QueryRecords on a logical resource is forwarded live to
the providing department's own SOAP service instead of being read from the core tier.

The service is found through the directory: the catalogue entry's businessService has
bindingTemplates whose ``accessPoint`` is the department's endpoint.  Which contract that
endpoint speaks is the target namespace of the entry's WSDL in the repository; nothing is
downloaded at query time.  For the population contract (``population-query.wsdl``) each
requested key becomes one QueryPerson::

    POST <accessPoint>  SOAPAction: "http://govshare.local/interfaces/population/QueryPerson"
    <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
      <soap:Body>
        <pq:QueryPerson xmlns:pq="http://govshare.local/interfaces/population">
          <pq:idNumber>330102199001021235</pq:idNumber>
          <pq:purpose>政务信息资源共享: 临江市民政局 查询 户籍登记信息</pq:purpose>
        </pq:QueryPerson>
      </soap:Body>
    </soap:Envelope>
    ->
    <pq:QueryPersonResponse><pq:found>true</pq:found>
      <pq:person><pq:idNumber>330102199001021235</pq:idNumber><pq:name>张伟</pq:name>...
        <pq:educationLevel>20</pq:educationLevel><pq:deceased>false</pq:deceased>...</pq:person>
    </pq:QueryPersonResponse>

and the contract's PersonRecord becomes the standard record of ``xsd/population.xsd``
(``educationLevel`` -> ``education``, ``deceased`` -> ``status`` 死亡 / 正常), checked against
that schema and shaped by the requester's view like any central record::

    Row(sequence=None, key="330102199001021235", record_type="{…/population/1.0}Person",
        fields={"idNumber": "330102199001021235", "name": "张伟", ..., "education": "20", "status": "正常"})

The provider has ``settings.provider_timeout`` seconds to answer the whole query.  Silence, a
refused connection, an HTTP error or a SOAP Fault is a ``ProviderUnavailable`` fault that names
the department, its address and what happened.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import requests
from lxml import etree
from sqlalchemy.orm import Session
from stdnum.cn import ric

from directory.uddi import store
from registry.errors import ExchangeError
from registry.models import CatalogueEntry
from registry.settings import Settings
from trust.xml import safe_parser
from wsdl.repository import get_wsdl
from xsd.registry import POPULATION_NS, lookup

from .output import MAX_PAGE, Row, View

POPULATION_CONTRACT = "http://govshare.local/interfaces/population"
PQ = "{%s}" % POPULATION_CONTRACT
SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP = "{%s}" % SOAP11_NS
QUERY_PERSON_ACTION = POPULATION_CONTRACT + "/QueryPerson"
PERSON = "{%s}Person" % POPULATION_NS
#: The contract's IdNumber pattern (population-query.wsdl); the check digit is checked apart.
ID_NUMBER = re.compile(r"[1-9][0-9]{5}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9X]")

# PersonRecord child (contract) -> Person field (standard format) and how its text is read.
# ``deceased`` has no field of its own: it decides ``status``.
_PERSON_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "idNumber": ("idNumber", str), "name": ("name", str), "formerName": ("formerName", str),
    "sex": ("sex", str), "ethnicity": ("ethnicity", str), "birthDate": ("birthDate", date.fromisoformat),
    "birthplaceDivision": ("birthplaceDivision", str), "domicileDivision": ("domicileDivision", str),
    "domicileAddress": ("domicileAddress", str), "residenceAddress": ("residenceAddress", str),
    "maritalStatus": ("maritalStatus", str), "educationLevel": ("education", str),
    "updated": ("updated", datetime.fromisoformat),
}


def forward_query(session: Session, settings: Settings, view: View, keys: list[str]) -> list[Row]:
    """Ask the provider of the logical resource ``view.entry`` for the records with ``keys``.

    Returns the found records as standard fields, shaped by ``view``, in the order of ``keys``.
    Raises ``ExchangeError``: InvalidRequest for a query
    without keys, with a malformed key or on a contract that cannot be forwarded yet;
    ProviderUnavailable when the provider cannot be found, does not answer in time, or fails.
    """
    entry = view.entry
    if not keys:
        raise ExchangeError("InvalidRequest", f"a logical resource is queried by key: {entry.resource_code} "
                            f"({entry.name}) is answered live by {entry.provider.name}'s own service, which "
                            "looks records up by key only; give one or more key elements")
    contract = _contract(session, entry)
    if contract != POPULATION_CONTRACT:
        raise ExchangeError("InvalidRequest", f"logical forwarding of {contract} resources is not supported yet "
                            f"({entry.resource_code} {entry.name}); only {POPULATION_CONTRACT} resources are "
                            "forwarded")
    keys = list(dict.fromkeys(k.strip() for k in keys))
    if len(keys) > MAX_PAGE:
        raise ExchangeError("InvalidRequest", f"at most {MAX_PAGE} keys are forwarded at once, not {len(keys)}")
    for key in keys:
        _check_id_number(key)
    endpoint = provider_endpoint(session, entry)
    provider = _Provider(f"{entry.provider.name}'s service at {endpoint}", endpoint, settings.provider_timeout)
    purpose = f"政务信息资源共享: {view.requester.name} 查询 {entry.name}"
    fmt = lookup(PERSON)
    records = []
    with requests.Session() as http:  # one kept-alive connection for all the keys
        for key in keys:
            person = provider.query_person(http, key, purpose)
            if person is None:
                continue
            fields = _standard_person(provider, key, person)
            full = fmt.encode(fields)
            if not fmt.schema.validate(full):
                raise provider.unavailable(f"answered a record for {key} that is not a valid {PERSON}: "
                                           f"{fmt.schema.error_log.last_error.message}")
            records.append(Row(None, view.key(PERSON, key), PERSON, view.shape(fields)))
    return records


def provider_endpoint(session: Session, entry: CatalogueEntry) -> str:
    """The accessPoint of the first bindingTemplate of ``entry``'s businessService."""
    rows = store.children(session, [entry.service_key], "binding")[entry.service_key] if entry.service_key else []
    for row in rows:
        if row.deleted:
            continue
        access_point = etree.fromstring(row.xml.encode("utf-8"), safe_parser()).find(store.q("accessPoint"))
        # endPoint is the default useType, and the only one that is itself a SOAP address
        if access_point is not None and access_point.get("useType", "endPoint") == "endPoint" and access_point.text:
            return access_point.text.strip()
    raise ExchangeError("ProviderUnavailable", f"{entry.resource_code} ({entry.name}) is a logical resource, but "
                        f"its businessService {entry.service_key or '(not published)'} has no bindingTemplate "
                        f"with an endPoint accessPoint in the directory: {entry.provider.name} must publish "
                        "the interface's WSDL with its service address", "Server")


def _contract(session: Session, entry: CatalogueEntry) -> str:
    """The target namespace of the entry's WSDL: which contract its provider's service speaks."""
    document = get_wsdl(session, entry.wsdl_path) if entry.wsdl_path else None
    if document is None:
        raise ExchangeError("ProviderUnavailable", f"{entry.resource_code} ({entry.name}) is a logical resource, "
                            f"but no WSDL of its interface is in the repository (wsdl_path "
                            f"{entry.wsdl_path or 'empty'}): {entry.provider.name} must publish one", "Server")
    return document.target_namespace


def _check_id_number(key: str) -> None:
    # a malformed key is the requester's mistake; forwarded, the provider's fault would hide that
    if not ID_NUMBER.fullmatch(key):
        raise ExchangeError("InvalidRequest", f"key {key!r} is not a 公民身份号码 (GB 11643): 18 characters, "
                            "6-digit division code, birth date YYYYMMDD, 3-digit sequence, check digit 0-9 or X")
    check = ric.calc_check_digit(key)  # computed from the first 17 characters
    if key[17] != check:
        raise ExchangeError("InvalidRequest", f"key {key} is not a valid 公民身份号码 (GB 11643): "
                            f"its check digit should be {check}")


class _Provider:
    """One provider's SOAP endpoint, with the deadline of the query being forwarded."""

    def __init__(self, who: str, endpoint: str, timeout: float):
        self.who = who
        self.endpoint = endpoint
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout

    def unavailable(self, what: str) -> ExchangeError:
        return ExchangeError("ProviderUnavailable", f"{self.who} {what}", "Server")

    def query_person(self, http: requests.Session, id_number: str, purpose: str) -> etree._Element | None:
        """The provider's PersonRecord for ``id_number``, or None when it has no such person."""
        request = etree.Element(PQ + "QueryPerson", nsmap={"pq": POPULATION_CONTRACT})
        etree.SubElement(request, PQ + "idNumber").text = id_number
        etree.SubElement(request, PQ + "purpose").text = purpose
        response = self._call(http, request, QUERY_PERSON_ACTION)
        if response.tag != PQ + "QueryPersonResponse":
            raise self.unavailable(f"answered {response.tag} to QueryPerson instead of {PQ}QueryPersonResponse")
        if (response.findtext(PQ + "found") or "").strip() not in ("true", "1"):
            return None
        person = response.find(PQ + "person")
        if person is None:
            raise self.unavailable(f"answered found=true for {id_number} without a person element")
        return person

    def _call(self, http: requests.Session, operation: etree._Element, action: str) -> etree._Element:
        """POST one document/literal operation; returns the element in the response's Body."""
        envelope = etree.Element(SOAP + "Envelope", nsmap={"soap": SOAP11_NS})
        etree.SubElement(envelope, SOAP + "Body").append(operation)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise self.unavailable(f"did not answer within {self.timeout:g} s")
        try:
            # requests' timeout bounds the connect and each read; the deadline bounds the keys together
            reply = http.post(self.endpoint, data=etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"),
                              headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'},
                              timeout=remaining)
        except requests.Timeout:
            raise self.unavailable(f"did not answer within {self.timeout:g} s") from None
        except requests.RequestException as exc:
            raise self.unavailable(f"could not be reached: {_reason(exc)}") from None
        try:
            root = etree.fromstring(reply.content, safe_parser())
        except etree.XMLSyntaxError:
            raise self.unavailable(f"answered HTTP {reply.status_code} {reply.reason} with a body that is not XML: "
                                   f"{reply.text[:200]!r}") from None
        body = root.find(SOAP + "Body") if root.tag == SOAP + "Envelope" else None
        payload = next(iter(body.iterchildren(etree.Element)), None) if body is not None else None
        if payload is not None and payload.tag == SOAP + "Fault":
            raise self.unavailable(f"answered with a SOAP Fault ({payload.findtext('faultcode')}): "
                                   f"{payload.findtext('faultstring')}")
        if reply.status_code != 200 or payload is None:
            raise self.unavailable(f"answered HTTP {reply.status_code} {reply.reason} without a SOAP 1.1 response "
                                   f"(root element {root.tag})")
        return payload


def _standard_person(provider: _Provider, key: str, person: etree._Element) -> dict[str, Any]:
    """A contract PersonRecord -> the field dict of a standard Person."""
    fields: dict[str, Any] = {}
    try:
        for child in person.iterchildren(etree.Element):
            name = etree.QName(child).localname
            text = (child.text or "").strip()
            if name == "deceased":
                fields["status"] = "死亡" if text in ("true", "1") else "正常"
            elif name in _PERSON_FIELDS and text:
                field, read = _PERSON_FIELDS[name]
                fields[field] = read(text)
    except ValueError as exc:
        raise provider.unavailable(f"answered a PersonRecord for {key} that cannot be read: {exc}") from None
    if fields.get("idNumber") != key:
        raise provider.unavailable(f"answered the record of {fields.get('idNumber')} when asked for {key}")
    return fields


def _reason(exc: BaseException) -> str:
    """The innermost OS error behind a requests exception ("Connection refused"), or the exception."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    return str(exc)
