"""WS-Security 1.1 on SOAP messages (S2): verify what departments send, sign what we answer.

A request to ``/exchange`` or ``/uddi/publication`` carries, in its SOAP Header::

    <wsse:Security soap:mustUnderstand="1">
      <wsse:BinarySecurityToken wsu:Id="X509-…" ValueType="…#X509v3" EncodingType="…#Base64Binary">MII…
      <wsu:Timestamp wsu:Id="TS-…"><wsu:Created>…Z</wsu:Created><wsu:Expires>…Z</wsu:Expires></wsu:Timestamp>
      <ds:Signature> SignedInfo: exc-c14n, rsa-sha256 (ecdsa-sha256 for an EC key),
                     References #Body-id and #TS-id (exc-c14n, sha256)
                     KeyInfo: wsse:SecurityTokenReference/wsse:Reference URI="#X509-…" </ds:Signature>
    </wsse:Security>

:func:`verify` checks, in this order, and answers the first failure as a WS-Security fault
(``wsse:InvalidSecurity``, ``wsse:UnsupportedAlgorithm``, ``wsse:FailedCheck``,
``wsse:MessageExpired``, ``wsse:FailedAuthentication``) whose message says what to fix:

1. the shape: one Security header, one Timestamp, one Signature, a BinarySecurityToken, the
   Body and the Timestamp each with a ``wsu:Id``, no Id value used twice anywhere in the
   message (a second element with the signed Id is how signature wrapping smuggles a body in);
   the ``ds:Signature`` is valid against the XML-Signature schema, with Exclusive XML
   Canonicalization's ``ec:InclusiveNamespaces`` allowed where that standard puts it (WSS4J -
   under CXF, Rampart and Spring-WS - always writes one in SignedInfo's CanonicalizationMethod);
2. the algorithms: exc-c14n, RSA-SHA256 and SHA-256 only (SHA-1 is refused by name);
3. every SignatureValue, DigestValue and BinarySecurityToken is strict base64: the alphabet,
   XML whitespace, canonical padding - nothing else (signxml decodes leniently, dropping what
   is not base64, so one text could stand for many and a replay cache keyed on it is bypassed);
4. the references are exactly the Body that is the Envelope's child and the Timestamp that is
   the Security header's child;
5. the Timestamp is fresh: created no later than now + skew, not expired (with skew), expiring
   after it was created, and no longer-lived than the configured maximum;
6. the certificate chains to the platform CA and is within its validity - 5 and 6 before the
   signature is verified, which costs more: a message stale or from a stranger is refused first;
7. signxml verifies the signature with the token's key, over the Body and the Timestamp;
8. the certificate is one the platform issued (the ``certificate`` table), is not revoked, and its
   department - and its application system, for a system's certificate - is not suspended (暂停);
9. the message was not seen before: the SHA-256 of the signature value as verified (the
   decoded bytes, whatever their base64 text looked like) goes into ``wss_seen``, shared by
   every server process, until the Timestamp expires.

Whatever else goes wrong while verifying is a ``wsse:FailedCheck`` fault, never an internal error.

The caller (``trust.auth.Caller``, channel ``soap``) is the certificate's department acting
through its own system - with the system's id and code when the certificate is an application
system's (应用系统), which the audit entry then names; the actions check that the message speaks
for that department (a query's requester, a batch's provider, a publisher's account).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import importlib.resources
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from signxml import XMLVerifier
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidInput, InvalidSignature
from signxml.verifier import SignatureConfiguration
from sqlalchemy import bindparam, delete, exists, func, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from registry.clock import utcnow
from registry.db import autocommit_sessions
from registry.errors import NotPermitted
from registry.models import AppSystem, Certificate, Department, WssSeen
from registry.settings import Settings

from . import pki
from .auth import SYSTEM_ROLES, Caller, refuse_suspended

log = logging.getLogger(__name__)

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED_SIGNATURE = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"  # for EC keys (P-256, P-384) from a CSR
#: the order n of each curve the CA certifies (trust.pki.EC_CURVES; SEC 2)
EC_ORDERS = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
                     "C7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973", 16),
}
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA1_NAMES = {"http://www.w3.org/2000/09/xmldsig#rsa-sha1", "http://www.w3.org/2000/09/xmldsig#sha1"}
WSU_ID = "{%s}Id" % WSU_NS
ID_NAMES = {"Id", "ID", "id"}
_ENV, _WSSE, _WSU, _DS = ("{%s}" % n for n in (SOAP_ENV_NS, WSSE_NS, WSU_NS, DS_NS))
_CONFIG = SignatureConfiguration(require_x509=False, expect_references=2,
                                 signature_methods=frozenset({SignatureMethod.RSA_SHA256,
                                                              SignatureMethod.ECDSA_SHA256}),
                                 digest_algorithms=frozenset({DigestAlgorithm.SHA256}))


class WsSecurityError(Exception):
    """A message refused by WS-Security; ``code`` is the local name of a ``wsse:`` fault code, ``zh``
    a Chinese message for people where there is one more precise than the code's."""

    def __init__(self, code: str, message: str, zh: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.zh = zh


def security_header(envelope: etree._Element) -> etree._Element | None:
    header = envelope.find(_ENV + "Header")
    if header is None:
        return None
    blocks = header.findall(_WSSE + "Security")
    if len(blocks) > 1:
        raise WsSecurityError("InvalidSecurity", f"the message has {len(blocks)} wsse:Security headers; send one")
    return blocks[0] if blocks else None


def verify(envelope: etree._Element, sessions: sessionmaker[Session], settings: Settings, *,
           now: datetime | None = None) -> Caller | None:
    """The verified caller of ``envelope``; None for an unsigned message where the policy allows it."""
    security = security_header(envelope)
    if security is None:
        if settings.wss_policy == "require":
            raise WsSecurityError("InvalidSecurity", "this endpoint requires WS-Security: sign the Body and a "
                                  "wsu:Timestamp with your department's certificate (RSA-SHA256, exc-c14n) and "
                                  "send the certificate as a wsse:BinarySecurityToken")
        return None
    now = now or utcnow()
    signed = _presented(envelope, security)
    expires = _fresh(signed.timestamp, now, settings)  # before the signature is verified: these cost less
    _chained(signed.certificate, settings, now)
    _verified(envelope, signed)
    return _registered_and_new(signed.certificate, signed.signature_bytes, expires, sessions, now)


@dataclass(frozen=True)
class Signed:
    """What a message's signature vouches for, once verified: the signer's certificate (from the
    BinarySecurityToken), the signature's bytes and the signed Timestamp."""

    certificate: x509.Certificate
    signature_bytes: bytes
    timestamp: etree._Element


def verified_signature(envelope: etree._Element, security: etree._Element | None = None) -> Signed:
    """Steps 1-4 and 7 of :func:`verify`, which need neither a database nor a clock: the shape, the
    algorithms, strict base64, the references and the signature itself with the token's key.
    (The evidence log's offline verifier checks archived messages with it.)"""
    signed = _presented(envelope, security)
    _verified(envelope, signed)
    return signed


def _presented(envelope: etree._Element, security: etree._Element | None) -> Signed:
    """Steps 1-4 of :func:`verify`: what the message presents as signed, before the signature is verified."""
    security = security if security is not None else security_header(envelope)
    if security is None:
        raise WsSecurityError("InvalidSecurity", "the message has no wsse:Security header: it is not signed")
    _unique_ids(envelope)
    body = _one(envelope, _ENV + "Body", "soap:Body")
    timestamp = _one(security, _WSU + "Timestamp", "wsu:Timestamp in the Security header")
    signature = _one(security, _DS + "Signature", "ds:Signature in the Security header")
    body_id, ts_id = _id_of(body, "soap:Body"), _id_of(timestamp, "wsu:Timestamp")
    _algorithms(signature)
    uris = [ref.get("URI", "") for ref in signature.iterfind(f"{_DS}SignedInfo/{_DS}Reference")]
    if sorted(uris) != sorted([f"#{body_id}", f"#{ts_id}"]):
        raise WsSecurityError("FailedCheck", f"the signature must cover exactly the Body (#{body_id}) and the "
                              f"Timestamp (#{ts_id}); it references {', '.join(uris) or 'nothing'}")
    cert = _token(security, signature)
    return Signed(cert, _signature_value(signature, cert), timestamp)


def _verified(envelope: etree._Element, signed: Signed) -> None:
    """Step 7 of :func:`verify`: signxml verifies the signature with the token's key, over the Body and
    the Timestamp."""
    try:
        results = XMLVerifier().verify(envelope, x509_cert=signed.certificate, id_attribute="Id", expect_config=_CONFIG,
                                       validate_schema=False)  # _algorithms checked the schema, exc-c14n's too
    except (InvalidSignature, InvalidInput) as exc:
        raise WsSecurityError("FailedCheck", f"the signature does not verify: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - untrusted input into a library: any failure is a failed check
        log.warning("signature verification failed unexpectedly: %r", exc)
        raise WsSecurityError("FailedCheck", f"the signature could not be verified ({exc.__class__.__name__}: "
                              f"{exc}); sign as the WSDL's policy says: exc-c14n, RSA-SHA256, SHA-256") from None
    covered = {etree.QName(result.signed_xml).localname for result in results if result.signed_xml is not None}
    if covered != {"Body", "Timestamp"}:
        raise WsSecurityError("FailedCheck", f"the signature covers {sorted(covered)}, not the Body and Timestamp")


def signer_certificate(envelope: etree._Element) -> x509.Certificate:
    """The certificate a signed message carries in its BinarySecurityToken - of a message
    :func:`verify` accepted already, so it is not checked again (the evidence log names the signer)."""
    security = security_header(envelope)
    if security is None:
        raise WsSecurityError("InvalidSecurity", "the message has no wsse:Security header: it is not signed")
    return _token(security, _one(security, _DS + "Signature", "ds:Signature in the Security header"))


def check_header(security: etree._Element, settings: Settings, *, now: datetime | None = None) -> None:
    """What can be checked of a Security header alone, before the message is read whole: its
    shape, algorithms and base64, a fresh Timestamp, a certificate of the platform CA.  A
    request that fails here costs no more than its header."""
    now = now or utcnow()
    timestamp = _one(security, _WSU + "Timestamp", "wsu:Timestamp in the Security header")
    signature = _one(security, _DS + "Signature", "ds:Signature in the Security header")
    _algorithms(signature)
    cert = _token(security, signature)
    _signature_value(signature, cert)
    _fresh(timestamp, now, settings)
    _chained(cert, settings, now)


def _unique_ids(envelope: etree._Element) -> None:
    seen: set[str] = set()
    for el in envelope.iter():
        if not isinstance(el.tag, str):
            continue
        for name, value in el.attrib.items():
            if etree.QName(name).localname in ID_NAMES or name == "{http://www.w3.org/XML/1998/namespace}id":
                if value in seen:
                    raise WsSecurityError("InvalidSecurity", f"the Id {value!r} is used twice in the message: "
                                          "every Id must be unique (a repeated Id is a signature-wrapping attack)")
                seen.add(value)


def _one(parent: etree._Element, tag: str, what: str) -> etree._Element:
    found = parent.findall(tag)
    if len(found) != 1:
        raise WsSecurityError("InvalidSecurity", f"the message must have exactly one {what}; it has {len(found)}")
    return found[0]


def _id_of(el: etree._Element, what: str) -> str:
    value = el.get(WSU_ID)
    if not value:
        raise WsSecurityError("InvalidSecurity", f"{what} has no wsu:Id, so the signature cannot reference it")
    return value


@lru_cache(maxsize=1)
def _signature_schema() -> etree.XMLSchema:
    """XML-Signature's schema (the copy signxml ships) and the one element Exclusive XML
    Canonicalization adds to it: ``ec:InclusiveNamespaces`` (exc-c14n section 3), which a
    CanonicalizationMethod's strict wildcard must find declared.  ``PrefixList`` is a string,
    not the NMTOKENS the W3C schema says: its own ``#default`` token is no NMTOKEN."""
    dsig = importlib.resources.files("signxml.schemas").joinpath("xmldsig1-schema.xsd")
    return etree.XMLSchema(etree.fromstring(f"""
        <xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="{EXC_C14N}"
                   elementFormDefault="qualified">
          <xs:import namespace="{DS_NS}" schemaLocation="{Path(str(dsig)).as_uri()}"/>
          <xs:element name="InclusiveNamespaces">
            <xs:complexType><xs:attribute name="PrefixList" type="xs:string" use="required"/></xs:complexType>
          </xs:element>
        </xs:schema>""".encode()))


def _algorithms(signature: etree._Element) -> None:
    for digest in signature.iterfind(f"{_DS}SignedInfo/{_DS}Reference/{_DS}DigestValue"):
        strict_base64(digest.text, "a ds:DigestValue")
    strict_base64(signature.findtext(_DS + "SignatureValue"), "the ds:SignatureValue")
    schema = _signature_schema()
    if not schema.validate(signature):
        error = schema.error_log.last_error
        raise WsSecurityError("InvalidSecurity", f"the ds:Signature is not valid XML-Signature (line {error.line}): "
                              f"{error.message}")
    info = signature.find(_DS + "SignedInfo")
    used = [(what, el.get("Algorithm", "")) for what, el in (
        [("CanonicalizationMethod", info.find(_DS + "CanonicalizationMethod")),
         ("SignatureMethod", info.find(_DS + "SignatureMethod"))]
        + [("DigestMethod", d) for d in info.iterfind(f"{_DS}Reference/{_DS}DigestMethod")]
        + [("Transform", t) for t in info.iterfind(f"{_DS}Reference/{_DS}Transforms/{_DS}Transform")
           if t.get("Algorithm") != ENVELOPED_SIGNATURE]
    ) if el is not None]
    for reference in info.iterfind(f"{_DS}Reference"):
        _transforms(reference)
    expected = {"CanonicalizationMethod": (EXC_C14N,), "SignatureMethod": (RSA_SHA256, ECDSA_SHA256),
                "DigestMethod": (SHA256,), "Transform": (EXC_C14N,)}
    for what, algorithm in used:
        if algorithm in SHA1_NAMES:
            raise WsSecurityError("UnsupportedAlgorithm", f"SHA-1 is refused ({what} {algorithm}): sign with "
                                  f"RSA-SHA256 ({RSA_SHA256}) and digest with SHA-256 ({SHA256})")
        if algorithm not in expected[what]:
            raise WsSecurityError("UnsupportedAlgorithm", f"{what} {algorithm or '(none)'} is not accepted; "
                                  f"use {' or '.join(expected[what])}")


def _transforms(reference: etree._Element) -> None:
    """A reference's transforms are exclusive c14n, optionally after enveloped-signature - as
    node-soap (xml-crypto) writes by default and the Basic Security Profile allows (R5423: the
    last transform is exclusive c14n).  The references that count are to the Body and the
    Timestamp, which never hold the Signature, so enveloped-signature takes nothing out of them."""
    chain = [t.get("Algorithm", "") for t in reference.iterfind(f"{_DS}Transforms/{_DS}Transform")]
    if ENVELOPED_SIGNATURE in chain and chain != [ENVELOPED_SIGNATURE, EXC_C14N]:
        raise WsSecurityError("UnsupportedAlgorithm", f"Transform {ENVELOPED_SIGNATURE} is accepted only once, "
                              f"first, followed by {EXC_C14N}")


def _token(security: etree._Element, signature: etree._Element) -> x509.Certificate:
    ref = signature.find(f"{_DS}KeyInfo/{_WSSE}SecurityTokenReference/{_WSSE}Reference")
    if ref is None or not ref.get("URI", "").startswith("#"):
        raise WsSecurityError("InvalidSecurity", "KeyInfo must hold a wsse:SecurityTokenReference to the "
                              "wsse:BinarySecurityToken carrying your certificate")
    token_id = ref.get("URI")[1:]
    tokens = [t for t in security.findall(_WSSE + "BinarySecurityToken") if t.get(WSU_ID) == token_id]
    if len(tokens) != 1:
        raise WsSecurityError("SecurityTokenUnavailable", f"no wsse:BinarySecurityToken with wsu:Id {token_id!r} "
                              "in the Security header")
    token = tokens[0]
    if token.get("ValueType") != X509V3:
        raise WsSecurityError("InvalidSecurityToken", f"the token's ValueType must be {X509V3}")
    if token.get("EncodingType", BASE64) != BASE64:
        raise WsSecurityError("InvalidSecurityToken", f"the token's EncodingType must be {BASE64}")
    der = strict_base64(token.text, "the wsse:BinarySecurityToken", "InvalidSecurityToken")
    try:
        return _certificate(der)
    except ValueError as exc:
        raise WsSecurityError("InvalidSecurityToken", f"the BinarySecurityToken is not a base64 DER X.509 "
                              f"certificate: {exc}") from None


_XML_SPACE = str.maketrans("", "", " \t\r\n")


def strict_base64(text: str | None, what: str, code: str = "InvalidSecurity") -> bytes:
    """The bytes of an xs:base64Binary text, refusing every other spelling of them: characters
    outside the alphabet, missing or surplus padding, non-zero bits after the last byte.  XML
    whitespace is allowed anywhere (Santuario wraps lines at 76 characters)."""
    compact = (text or "").translate(_XML_SPACE)
    try:
        value = base64.b64decode(compact, validate=True)
    except binascii.Error:
        value = None
    if not compact or value is None or base64.b64encode(value).decode("ascii") != compact:
        raise WsSecurityError(code, f"{what} is not strict base64 (A-Z a-z 0-9 + / and '=' padding, nothing "
                              "else): send the value as your signing library wrote it")
    return value


def _signature_value(signature: etree._Element, cert: x509.Certificate) -> bytes:
    """The SignatureValue's bytes in the one form the replay cache keys on.  An RSA signature is
    exactly as long as the key's modulus (PKCS#1 v1.5), so its bytes have one form only.  An ECDSA
    signature (XML-Signature: r and s, each as long as the curve's order) has two that verify,
    (r, s) and (r, n - s): the cache keys on the one with the smaller s, so negating s does not
    make a replay new."""
    value = strict_base64(signature.findtext(_DS + "SignatureValue"), "the ds:SignatureValue")
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey) and len(value) != (key.key_size + 7) // 8:
        raise WsSecurityError("FailedCheck", f"the ds:SignatureValue is {len(value)} bytes; an RSA-SHA256 "
                              f"signature with this {key.key_size}-bit key is {(key.key_size + 7) // 8}")
    if isinstance(key, ec.EllipticCurvePublicKey):
        order = EC_ORDERS.get(key.curve.name)
        size = (key.curve.key_size + 7) // 8
        if order is None or len(value) != 2 * size:
            raise WsSecurityError("FailedCheck", f"the ds:SignatureValue is {len(value)} bytes; an ECDSA-SHA256 "
                                  f"signature with this {key.curve.name} key is r and s of {size} bytes each")
        s = int.from_bytes(value[size:], "big")
        return value[:size] + min(s, order - s).to_bytes(size, "big")
    return value


def _instant(el: etree._Element | None, what: str) -> datetime:
    text = (el.text or "").strip() if el is not None else ""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise WsSecurityError("InvalidSecurity", f"wsu:Timestamp/{what} must be an xsd:dateTime in UTC, "
                              f"e.g. 2026-11-24T08:00:00Z; got {text!r}") from None
    if value.tzinfo is None:
        raise WsSecurityError("InvalidSecurity", f"wsu:Timestamp/{what} {text!r} has no time zone; end it with Z")
    return value.astimezone(UTC).replace(tzinfo=None)


def signed_period(timestamp: etree._Element) -> tuple[datetime, datetime]:
    """A wsu:Timestamp's Created and Expires (naive UTC); a WsSecurityError when either is not a UTC time."""
    return _instant(timestamp.find(_WSU + "Created"), "Created"), _instant(timestamp.find(_WSU + "Expires"), "Expires")


def _fresh(timestamp: etree._Element, now: datetime, settings: Settings) -> datetime:
    created, expires = signed_period(timestamp)
    skew = timedelta(seconds=settings.wss_skew)
    if expires <= created:
        raise WsSecurityError("MessageExpired", f"the Timestamp expires ({expires:%Y-%m-%d %H:%M:%S} UTC) no later "
                              f"than it was created ({created:%Y-%m-%d %H:%M:%S} UTC): Expires must follow Created")
    if created > now + skew:
        raise WsSecurityError("MessageExpired", f"the Timestamp was created in the future ({created:%H:%M:%S} UTC, "
                              f"now {now:%H:%M:%S} UTC, allowed skew {settings.wss_skew} s): check your clock")
    if expires <= now - skew:
        raise WsSecurityError("MessageExpired", f"the message expired at {expires:%Y-%m-%d %H:%M:%S} UTC "
                              f"(now {now:%H:%M:%S} UTC)")
    if expires - created > timedelta(seconds=settings.wss_max_lifetime):
        raise WsSecurityError("MessageExpired", f"the Timestamp is valid for {(expires - created).total_seconds():.0f}"
                              f" s; at most {settings.wss_max_lifetime} s are accepted")
    return expires + skew


def _chained(cert: x509.Certificate, settings: Settings, now: datetime) -> None:
    ca = trusted_ca(settings)
    if ca is None:
        raise WsSecurityError("FailedAuthentication", "this platform has no CA yet (`govshare pki init`), so no "
                              "certificate can be trusted")
    if not _issued_by(cert, ca):
        raise WsSecurityError("FailedAuthentication", f"the certificate {cert.subject.rfc4514_string()} was not "
                              "issued by the platform CA (see /pki/ca.pem)")
    if not cert.not_valid_before_utc.replace(tzinfo=None) <= now <= cert.not_valid_after_utc.replace(tzinfo=None):
        raise WsSecurityError("FailedAuthentication", f"the certificate is valid from "
                              f"{cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d}, "
                              "not now: ask the platform for a new one")


#: (certificate, CA) pairs whose CA signature verified: that never changes for the pair, so it is
#: checked once (a failure is never kept).  Revocation is not among it: asked of the database at every
#: request (``_registered_and_new``), it takes effect at once.
_ISSUED: dict[tuple[x509.Certificate, x509.Certificate], None] = {}
_ISSUED_KEPT = 1024


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """``pki.chains_to``, verified once per certificate and CA (an RSA verification each time: the
    Security header's check and the message's verification both ask)."""
    pair = (cert, ca)
    if pair in _ISSUED:
        return True
    if not pki.chains_to(cert, ca):
        return False
    if len(_ISSUED) >= _ISSUED_KEPT:
        _ISSUED.clear()
    _ISSUED[pair] = None
    return True


@lru_cache(maxsize=256)
def _certificate(der: bytes) -> x509.Certificate:
    """A token's certificate, parsed once per DER (a department sends the same one with every request)."""
    return x509.load_der_x509_certificate(der)


_PRUNE_EVERY = 500
_calls = 0


#: the columns of a caller's certificate, department and application system (``_registered_and_new``)
_CALLER_COLUMNS = (
    Certificate.fingerprint, Certificate.status, Certificate.revoked, Certificate.revocation_reason,
    Department.id, Department.code, Department.name, Department.credit_code,
    Department.status.label("department_status"), Department.suspended_at, Department.suspension_reason,
    AppSystem.id.label("system_id"), AppSystem.code.label("system_code"), AppSystem.name.label("system_name"),
    AppSystem.status.label("system_status"), AppSystem.suspended_at.label("system_suspended_at"),
    AppSystem.suspension_reason.label("system_suspension_reason"),
)


def _caller_of(*more):
    return (select(*_CALLER_COLUMNS, *more).join(Department, Department.id == Certificate.department_id)
            .outerjoin(AppSystem, AppSystem.id == Certificate.system_id)
            .where(Certificate.serial == bindparam("serial")))


_SEEN_VALUES = dict(digest=bindparam("digest"), certificate_serial=bindparam("serial"),
                    received=bindparam("received"), expires=bindparam("expires"))
#: the certificate look-up (built once: building it cost more than running it)
_CALLER = _caller_of()
#: the message joins the replay cache (a digest seen before fails on the primary key)
_SEEN = insert(WssSeen).values(**_SEEN_VALUES)
#: PostgreSQL: both in one statement, one round trip - the message joins the replay cache unless it
#: is there already (``new``: whether it was not), whatever the certificate turns out to be.
#:
#: The statement commits without waiting for its WAL to reach the disk (``synchronous_commit`` off for
#: its own implicit transaction only: ``set_config(..., true)`` ends with it, so the pooled connection's
#: later work commits durably).  No replay is let in by that: a message let in is answered only after
#: its audit entry committed durably, and that commit flushes the whole WAL written before it, this
#: insert's included.  So a crash can lose only the entry of a message that was never answered (or
#: was refused: sent again, it is refused again) - and the same message sent again is then answered
#: once.  This saves a signed request one of its two disk flushes.  (With the audit log off,
#: ``GOVSHARE_AUDIT=0``, for benchmarks only, nothing flushes these entries but PostgreSQL's WAL writer,
#: within a few hundred milliseconds.)
_SEEN_NOW = (postgresql.insert(WssSeen).values(**_SEEN_VALUES).on_conflict_do_nothing(index_elements=["digest"])
             .returning(WssSeen.digest).cte("seen"))
_CALLER_AND_SEEN = _caller_of(exists(select(_SEEN_NOW.c.digest)).label("new"),
                              func.set_config("synchronous_commit", "off", True).label("flush"))


def _registered_and_new(cert: x509.Certificate, signature_bytes: bytes, expires: datetime,
                        sessions: sessionmaker[Session], now: datetime) -> Caller:
    """The caller, if the platform issued ``cert`` and has not revoked it, and the message was not
    seen before (the digest of its verified signature bytes then joins the replay cache).  On
    PostgreSQL one autocommitted statement does both: the digest of a message refused for its
    certificate is kept as well, which changes nothing (the same message sent again is refused
    again); elsewhere a look-up and then an insert."""
    global _calls
    serial = format(cert.serial_number, "x")
    values = {"serial": serial, "digest": hashlib.sha256(signature_bytes).hexdigest(), "received": now,
              "expires": expires}
    with autocommit_sessions(sessions)() as session:  # a read and one insert: no transaction needed
        postgres = session.get_bind().dialect.name == "postgresql"
        found = session.connection().execute(_CALLER_AND_SEEN if postgres else _CALLER, values).first()
        if found is None or found.fingerprint != cert.fingerprint(hashes.SHA256()).hex():
            raise WsSecurityError("FailedAuthentication", f"certificate {serial} is not one the platform issued")
        if found.status != "valid":
            raise WsSecurityError("FailedAuthentication", f"certificate {serial} was revoked on "
                                  f"{found.revoked:%Y-%m-%d %H:%M} UTC ({found.revocation_reason}); "
                                  "sign with a current certificate")
        _not_suspended(found)
        new = found.new if postgres else _inserted(session, values)
        if not new:
            raise WsSecurityError("FailedCheck", "this signed message was received before (replay): sign every "
                                  "request anew with a fresh Timestamp")
        _calls += 1
        if _calls % _PRUNE_EVERY == 0:
            session.execute(delete(WssSeen).where(WssSeen.expires < now))
    return Caller(channel="soap", roles=SYSTEM_ROLES, department_id=found.id, department_code=found.code,
                  department_name=found.name, credit_code=found.credit_code, certificate_serial=serial,
                  system_id=found.system_id, system_code=found.system_code)


def _inserted(session: Session, values: dict) -> bool:
    """Whether the message joined the replay cache now (False: it was there already)."""
    try:
        session.connection().execute(_SEEN, values)
    except IntegrityError:
        return False
    return True


def _not_suspended(found) -> None:
    """Refuse the certificate of a suspended department or application system (暂停), in the words of
    :func:`trust.auth.refuse_suspended`."""
    department = SimpleNamespace(code=found.code, name=found.name, status=found.department_status,
                                 suspended_at=found.suspended_at, suspension_reason=found.suspension_reason)
    system = None if found.system_id is None else SimpleNamespace(
        code=found.system_code, name=found.system_name, status=found.system_status,
        suspended_at=found.system_suspended_at, suspension_reason=found.system_suspension_reason)
    try:
        refuse_suspended(department, system)
    except NotPermitted as refusal:
        raise WsSecurityError("FailedAuthentication", refusal.message, refusal.user_message) from None


# ----------------------------------------------------------------------------- signing responses


def sign(envelope: etree._Element, sessions: sessionmaker[Session], settings: Settings, *,
         lifetime: int = 300) -> etree._Element:
    """Sign ``envelope`` in place with the platform's key: BinarySecurityToken, Timestamp, and a
    signature over Body and Timestamp (exc-c14n, RSA-SHA256, SHA-256) with KeyInfo pointing at
    the token - the shape zeep's ``BinarySignature`` produces and :mod:`client.wss` verifies.
    The signing is python-xmlsec's, with the key read once."""
    import xmlsec

    folder = pki.pki_dir(settings)
    if not (folder / "platform.pem").exists():
        with sessions() as session:
            pki.platform_identity(session, settings)  # made on first use
    key, token_text = _platform_key(str(folder), (folder / "platform.pem").stat().st_mtime_ns)
    header = envelope.find(_ENV + "Header")
    if header is None:
        header = etree.Element(_ENV + "Header")
        envelope.insert(0, header)
    security = etree.SubElement(header, _WSSE + "Security", nsmap={"wsse": WSSE_NS, "wsu": WSU_NS})
    token = etree.SubElement(security, _WSSE + "BinarySecurityToken",
                             {"ValueType": X509V3, "EncodingType": BASE64, WSU_ID: "X509-platform"})
    token.text = token_text
    created = utcnow().replace(microsecond=0)
    stamp = etree.SubElement(security, _WSU + "Timestamp", {WSU_ID: "TS-platform"})
    etree.SubElement(stamp, _WSU + "Created").text = created.isoformat() + "Z"
    etree.SubElement(stamp, _WSU + "Expires").text = (created + timedelta(seconds=lifetime)).isoformat() + "Z"
    body = envelope.find(_ENV + "Body")
    body.set(WSU_ID, "Body-platform")
    signature = xmlsec.template.create(envelope, xmlsec.Transform.EXCL_C14N, xmlsec.Transform.RSA_SHA256)
    security.insert(1, signature)
    ctx = xmlsec.SignatureContext()
    ctx.key = key
    for target, ident in ((body, "Body-platform"), (stamp, "TS-platform")):
        ref = xmlsec.template.add_reference(signature, xmlsec.Transform.SHA256, uri="#" + ident)
        xmlsec.template.add_transform(ref, xmlsec.Transform.EXCL_C14N)
        ctx.register_id(target, "Id", WSU_NS)
    key_info = xmlsec.template.ensure_key_info(signature)
    ctx.sign(signature)
    reference = etree.SubElement(etree.SubElement(key_info, _WSSE + "SecurityTokenReference"), _WSSE + "Reference",
                                 {"URI": "#X509-platform", "ValueType": X509V3})
    assert reference is not None
    return envelope


@lru_cache(maxsize=8)
def _platform_key(folder: str, _mtime: int):
    """The platform's signing key (python-xmlsec) and its certificate as token text, read once per key file."""
    import xmlsec

    key = xmlsec.Key.from_file(f"{folder}/platform.key", xmlsec.KeyFormat.PEM)
    with open(f"{folder}/platform.pem", "rb") as handle:
        cert = x509.load_pem_x509_certificate(handle.read())
    return key, base64.b64encode(cert.public_bytes(Encoding.DER)).decode()


@lru_cache(maxsize=8)
def _ca(path: str, _mtime: int) -> x509.Certificate:
    with open(path, "rb") as handle:
        return x509.load_pem_x509_certificate(handle.read())


def trusted_ca(settings: Settings) -> x509.Certificate | None:
    """The platform CA's certificate, read again only when the file changes."""
    path = pki.pki_dir(settings) / "ca.pem"
    try:
        return _ca(str(path), path.stat().st_mtime_ns)
    except FileNotFoundError:
        return None


def protect(endpoint, sessions: sessionmaker[Session], settings: Settings):
    """Put WS-Security in front of a SOAP endpoint (the exchange's or the UDDI publication's):
    requests are verified per ``settings.wss_policy``, responses to signed requests signed."""
    if settings.wss_policy == "off":
        return endpoint
    endpoint.verify = lambda envelope: verify(envelope, sessions, settings)
    endpoint.sign = lambda envelope: sign(envelope, sessions, settings)
    if hasattr(endpoint, "check_header"):  # an endpoint that reads a request's header before the whole of it
        endpoint.check_header = lambda security: check_header(security, settings)
    endpoint.understood = frozenset({_WSSE + "Security"})
    return endpoint
