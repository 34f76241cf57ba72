"""A time-stamping authority on loopback for the tests: ``openssl ts -reply`` behind a tiny HTTP
server, with its own CA and a certificate for time-stamping (RFC 3161 2.3)."""

from __future__ import annotations

import subprocess
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CONFIG = """
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
serial = {folder}/serial
crypto_device = builtin
signer_digest = sha256
default_policy = 1.2.156.1
digests = sha256
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_alg = sha256
"""


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _certificate(subject: str, key, issuer: str, issuer_key, *, ca: bool) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


class Tsa:
    """The authority's CA (``ca_pem``) and address (``url``) while it serves."""

    def __init__(self, folder: Path):
        self.folder = folder
        ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ca = _certificate("test TSA CA", ca_key, "test TSA CA", ca_key, ca=True)
        cert = _certificate("test TSA", key, "test TSA CA", ca_key, ca=False)
        (folder / "tsa.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                           serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))
        (folder / "tsa.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.ca_pem = self.ca.public_bytes(serialization.Encoding.PEM)
        (folder / "tsa-ca.pem").write_bytes(self.ca_pem)
        (folder / "ts.cnf").write_text(CONFIG.format(folder=folder))
        (folder / "serial").write_text("01\n")
        self.requests = 0
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                query = self.rfile.read(int(self.headers["Content-Length"]))
                tsa.requests += 1
                with tempfile.TemporaryDirectory(dir=folder) as work:
                    Path(work, "q.tsq").write_bytes(query)
                    subprocess.run(["openssl", "ts", "-reply", "-config", str(folder / "ts.cnf"), "-queryfile",
                                    f"{work}/q.tsq", "-signer", str(folder / "tsa.pem"), "-inkey",
                                    str(folder / "tsa.key"), "-out", f"{work}/r.tsr"], check=True,
                                   capture_output=True)
                    reply = Path(work, "r.tsr").read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads, self.server.block_on_close = True, False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsa"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
