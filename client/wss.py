"""WS-Security for govshare's SOAP clients: sign requests, verify the platform's responses.

    from client.wss import PlatformSignature
    wsse = PlatformSignature("gaj.key", "gaj.pem", ca_pem=open("ca.pem", "rb").read())
    exchange = zeep.Client("http://centre:8080/exchange?wsdl", wsse=wsse).service
    exchange.QueryRecords(requester="11330100…", resourceCode="…", key=["330102…"])

Requests get a ``wsu:Timestamp`` and zeep's own ``BinarySignature`` (python-xmlsec): the
certificate as a BinarySecurityToken, RSA-SHA256 over Body and Timestamp (ECDSA-SHA256 when the
key is an EC key, P-256 or P-384, as a CSR may have it).  Responses must be
signed by the platform: the token's certificate must chain to the platform CA (the
``ca_pem`` you fetched once from ``/pki/ca.pem`` and checked out of band), be valid now, and
verify the signature over the response Body and a fresh Timestamp - otherwise
:class:`ResponseNotTrusted` is raised and the response is not used.

(zeep's ``BinarySignature.verify`` checks responses against the *client's own* certificate,
which no server can satisfy; this class keeps zeep's signing and replaces that check.)
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.x509.oid import NameOID
from lxml import etree
from zeep.exceptions import SignatureVerificationFailed
from zeep.wsse import utils
from zeep.wsse.signature import BinarySignature, MemorySignature

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


class ResponseNotTrusted(SignatureVerificationFailed):
    """A response that is unsigned, signed by someone else than the platform, stale or altered."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _signature_method(key_file: str, password: str | None):
    """ECDSA-SHA256 for an EC key, RSA-SHA256 otherwise."""
    with open(key_file, "rb") as handle:
        key = serialization.load_pem_private_key(handle.read(), password.encode() if password else None)
    return xmlsec.Transform.ECDSA_SHA256 if isinstance(key, ec.EllipticCurvePrivateKey) else xmlsec.Transform.RSA_SHA256


def add_timestamp(envelope: etree._Element, lifetime: int = 300) -> None:
    """A ``wsu:Timestamp`` in the Security header (zeep signs it when it is there)."""
    security = utils.get_security_header(envelope)
    created = datetime.now(UTC).replace(microsecond=0)
    stamp = etree.SubElement(security, etree.QName(WSU, "Timestamp"))
    utils.ensure_id(stamp)
    etree.SubElement(stamp, etree.QName(WSU, "Created")).text = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    etree.SubElement(stamp, etree.QName(WSU, "Expires")).text = (
        created + timedelta(seconds=lifetime)).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_platform_certificate(cert: x509.Certificate) -> bool:
    """Whether ``cert`` (issued by the platform CA) is the platform's own signing certificate:
    ``CN=govshare platform <node>, O=govshare``, and no 统一社会信用代码 (``serialNumber``), which every
    department's and application system's certificate carries.  The CA writes every subject
    itself, whatever a CSR asks for, so no department can hold such a certificate."""
    subject = cert.subject
    common = [a.value for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    organisation = [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    return (len(common) == 1 and str(common[0]).startswith("govshare platform ") and organisation == ["govshare"]
            and not subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER))


class PlatformSignature(BinarySignature):
    """Sign with a department's key; trust only responses the platform signed."""

    def __init__(self, key_file: str, cert_file: str, *, ca_pem: bytes, password: str | None = None,
                 skew: int = 300):
        super().__init__(key_file, cert_file, password, signature_method=_signature_method(key_file, password),
                         digest_method=xmlsec.Transform.SHA256)
        self.ca = x509.load_pem_x509_certificate(ca_pem)
        self.skew = timedelta(seconds=skew)

    def apply(self, envelope, headers):
        add_timestamp(envelope)
        return super().apply(envelope, headers)

    def verify(self, envelope):
        security = envelope.find(f"{{{SOAP_ENV}}}Header/{{{WSSE}}}Security")
        if security is None:
            raise ResponseNotTrusted("the response is not signed: a govshare platform signs every answer to a "
                                     "signed request")
        token = security.find(f"{{{WSSE}}}BinarySecurityToken")
        if token is None:
            raise ResponseNotTrusted("the response's Security header has no BinarySecurityToken")
        cert = x509.load_der_x509_certificate(base64.b64decode("".join((token.text or "").split())))
        try:
            self.ca.public_key().verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                                        cert.signature_hash_algorithm)
        except Exception:  # noqa: BLE001 - any failure: not issued by this CA
            raise ResponseNotTrusted(f"the response is signed by {cert.subject.rfc4514_string()}, which the "
                                     "platform CA did not issue") from None
        if not is_platform_certificate(cert):
            raise ResponseNotTrusted(f"the response is signed by {cert.subject.rfc4514_string()}, a department's or "
                                     "an application system's certificate, not the platform's own")
        now = datetime.now(UTC)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise ResponseNotTrusted("the platform's signing certificate is not valid now")
        self._fresh(security, now)
        body = envelope.find(f"{{{SOAP_ENV}}}Body")
        ids = [el for el in envelope.iter() if isinstance(el.tag, str) and el.get(f"{{{WSU}}}Id") is not None]
        if len({el.get(f"{{{WSU}}}Id") for el in ids}) != len(ids):
            raise ResponseNotTrusted("the response uses one wsu:Id twice (signature wrapping)")
        signed = {ref.get("URI", "")[1:] for ref in security.iterfind(f"{{{DS}}}Signature/{{{DS}}}SignedInfo/"
                                                                        f"{{{DS}}}Reference")}
        if body is None or body.get(f"{{{WSU}}}Id") not in signed:
            raise ResponseNotTrusted("the response's signature does not cover its Body")
        pem = cert.public_bytes(serialization.Encoding.PEM)
        try:
            MemorySignature(None, pem).verify(envelope)
        except SignatureVerificationFailed:
            raise ResponseNotTrusted("the response's signature does not verify: it was altered") from None
        return envelope

    def _fresh(self, security, now: datetime) -> None:
        stamp = security.find(f"{{{WSU}}}Timestamp")
        try:
            expires = datetime.fromisoformat(stamp.findtext(f"{{{WSU}}}Expires").replace("Z", "+00:00"))
            created = datetime.fromisoformat(stamp.findtext(f"{{{WSU}}}Created").replace("Z", "+00:00"))
        except (AttributeError, ValueError):
            raise ResponseNotTrusted("the response has no valid wsu:Timestamp") from None
        if created > now + self.skew or expires < now - self.skew:
            raise ResponseNotTrusted(f"the response's Timestamp ({created:%H:%M:%S}..{expires:%H:%M:%S} UTC) is "
                                     "not current")
