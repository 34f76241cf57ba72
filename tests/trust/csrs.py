"""Certificate requests (PKCS#10) as a department makes them, for the tests: its own key, any subject."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def make_csr(key=None, *, algorithm: hashes.HashAlgorithm | None = None, cn: str = "x") -> tuple[object, str]:
    """A new key (or ``key``) and a PEM request for it, signed with SHA-256 (or ``algorithm``)."""
    key = key or rsa_key()
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
           .sign(key, algorithm or hashes.SHA256()))
    return key, csr.public_bytes(serialization.Encoding.PEM).decode()


def ec_key(curve: ec.EllipticCurve) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(curve)


def key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
