"""RFC 3161 time-stamps (时间戳): ask a time-stamping authority to vouch that a digest existed at
a time, and check its answer offline.

    POST <GOVSHARE_TSA_URL>   Content-Type: application/timestamp-query
    TimeStampReq  { version 1, messageImprint { sha256, <32 bytes> }, nonce, certReq TRUE }
    ->            Content-Type: application/timestamp-reply
    TimeStampResp { status granted, timeStampToken: CMS SignedData {
                      eContent TSTInfo { policy, messageImprint, serialNumber, genTime, nonce },
                      certificates [the TSA's], signerInfo { signedAttrs { contentType, messageDigest,
                      signingCertificate(V2) }, signature } } }

The evidence log stamps each archive's manifest (:mod:`trust.evidence`); the response, whole, is
kept in the archive as ``manifest.tsr``.  :func:`check` needs no network: the imprint is the
digest asked for, the signed attributes' messageDigest is the digest of the TSTInfo, the
signature over the signed attributes verifies with the TSA certificate's key (cryptography), the
certificate is for time-stamping (extended key usage, RFC 3161 2.3) and - when the verifier
supplies the TSA's CA - was issued by it.  ASN.1 is read with asn1crypto.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import requests
from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from . import pki

_HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


class TimestampError(Exception):
    """A time-stamp that could not be had, or does not prove what it should; the message says which."""


@dataclass(frozen=True)
class Stamp:
    """What a verified time-stamp says: when (UTC, aware), by whom, its serial number."""

    gen_time: datetime
    tsa: str
    serial: int


def request(url: str, digest: bytes, *, timeout: float = 10.0) -> bytes:
    """The TSA's DER ``TimeStampResp`` for the SHA-256 ``digest``, checked (:func:`check`) before it is returned."""
    nonce = secrets.randbits(63)
    query = tsp.TimeStampReq({"version": 1, "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                                                                "hashed_message": digest},
                              "nonce": nonce, "cert_req": True})
    try:
        reply = requests.post(url, data=query.dump(), timeout=timeout,
                              headers={"Content-Type": "application/timestamp-query"})
    except requests.RequestException as exc:
        raise TimestampError(f"the time-stamping authority at {url} did not answer: {exc}") from None
    if reply.status_code != 200:
        raise TimestampError(f"the time-stamping authority at {url} answered HTTP {reply.status_code}")
    check(reply.content, digest, nonce=nonce)
    return reply.content


def check(response: bytes, digest: bytes, *, trusted: x509.Certificate | None = None,
          nonce: int | None = None) -> Stamp:
    """What the DER ``TimeStampResp`` ``response`` proves of the SHA-256 ``digest``; a
    :class:`TimestampError` naming the first thing that does not hold."""
    try:
        reply = tsp.TimeStampResp.load(response)
        status = reply["status"]["status"].native
        token = reply["time_stamp_token"]
    except (ValueError, TypeError, KeyError) as exc:
        raise TimestampError(f"not an RFC 3161 TimeStampResp: {exc}") from None
    if status not in ("granted", "granted_with_mods") or token.native is None:
        raise TimestampError(f"the time-stamping authority refused: status {status}")
    try:
        signed = token["content"]
        content = signed["encap_content_info"]["content"]
        info = tsp.TSTInfo.load(content.contents)
        imprint = info["message_imprint"]
        signer = signed["signer_infos"][0]
        attrs = {a["type"].native: a["values"][0] for a in signer["signed_attrs"]}
        algorithm = signer["digest_algorithm"]["algorithm"].native
        tsa_cert = _signer_certificate(signed, signer)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise TimestampError(f"the time-stamp token cannot be read: {exc}") from None
    if imprint["hash_algorithm"]["algorithm"].native != "sha256" or imprint["hashed_message"].native != digest:
        raise TimestampError("the time-stamp is for another digest than this manifest's SHA-256")
    if nonce is not None and info["nonce"].native != nonce:
        raise TimestampError("the time-stamp answers another request (its nonce differs)")
    if algorithm not in _HASHES:
        raise TimestampError(f"the time-stamp is signed with digest {algorithm}; sha256, sha384 or sha512 is expected")
    expected = hashlib.new(algorithm, content.contents).digest()
    if "message_digest" not in attrs or attrs["message_digest"].native != expected:
        raise TimestampError("the time-stamp's signed messageDigest is not the digest of its TSTInfo (altered)")
    # the signature is over the DER of the signed attributes as a SET OF (RFC 5652 5.4), not as the [0] they travel in
    signed_attrs = b"\x31" + signer["signed_attrs"].dump()[1:]
    _verify_signature(tsa_cert, signer["signature"].native, signed_attrs, _HASHES[algorithm]())
    try:
        usage = tsa_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usage = []
    if ExtendedKeyUsageOID.TIME_STAMPING not in usage:
        raise TimestampError(f"the certificate {tsa_cert.subject.rfc4514_string()} is not for time-stamping "
                             "(no timeStamping extended key usage)")
    if trusted is not None and not (tsa_cert == trusted or pki.chains_to(tsa_cert, trusted)):
        raise TimestampError(f"the time-stamping certificate {tsa_cert.subject.rfc4514_string()} was not issued "
                             f"by the TSA CA given ({trusted.subject.rfc4514_string()})")
    return Stamp(info["gen_time"].native, tsa_cert.subject.rfc4514_string(), info["serial_number"].native)


def _signer_certificate(signed: cms.SignedData, signer: cms.SignerInfo) -> x509.Certificate:
    sid = signer["sid"]
    for choice in signed["certificates"] or ():
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            if cert.issuer == sid.chosen["issuer"] and cert.serial_number == sid.chosen["serial_number"].native:
                return x509.load_der_x509_certificate(cert.dump())
        elif cert.key_identifier == sid.chosen.native:
            return x509.load_der_x509_certificate(cert.dump())
    raise TimestampError("the time-stamp token does not carry its signer's certificate (ask with certReq)")


def _verify_signature(cert: x509.Certificate, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm) -> None:
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            raise TimestampError(f"the time-stamping key is a {type(key).__name__}: RSA or EC is expected")
    except TimestampError:
        raise
    except Exception:  # noqa: BLE001 - InvalidSignature, or a signature of the wrong shape
        raise TimestampError("the time-stamp's signature does not verify with its certificate (forged or altered)") \
            from None
