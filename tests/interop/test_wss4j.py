"""WS-Security interop with Apache WSS4J, the library under Apache CXF, Rampart and Spring-WS:
a department whose client is Java signs with ``tests/interop/wss4j/SignEnvelope.java`` (WSS4J
1.6 and Santuario from Debian) from a PKCS#12 of the key and certificate the platform issued it,
and the server that requires WS-Security takes the message as it takes zeep's.

WSS4J always writes Exclusive Canonicalization's ``ec:InclusiveNamespaces`` inside
``ds:CanonicalizationMethod`` and inside each reference's transform::

    <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">
      <ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="soap"/>
    </ds:CanonicalizationMethod>

and stamps ``wsu:Created`` with milliseconds (``2026-12-04T17:31:19.280Z``).  The JDK and the
jars come from Debian (``default-jdk-headless libwss4j-java libxml-security-java``); without
them these tests skip, or fail under ``REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from lxml import etree

from tests.conftest import service_unavailable
from tests.exchange.conftest import EX
from tests.trust.conftest import (
    DS,
    Dept,
    envelope,
    fault,
    post,
    query,
    world,  # noqa: F401 - the fixture
)

SIGNER = Path(__file__).parent / "wss4j" / "SignEnvelope.java"
JAVA_DIR = Path("/usr/share/java")
#: WSS4J, Santuario and what they load at run time (slf4j-nop keeps Santuario's logging quiet)
JARS = ("wss4j", "xmlsec", "commons-logging", "slf4j-api", "slf4j-nop")
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
PASSWORD = "p12-Secret"


@pytest.fixture(scope="session")
def wss4j_signer(tmp_path_factory) -> list[str]:
    """The command that runs SignEnvelope, compiled once per test session."""
    javac, java = shutil.which("javac"), shutil.which("java")
    if javac is None or java is None:
        service_unavailable("no Java compiler and runtime (Debian package default-jdk-headless)")
    jars = [JAVA_DIR / f"{name}.jar" for name in JARS]
    missing = [jar.name for jar in jars if not jar.exists()]
    if missing:
        service_unavailable(f"{', '.join(missing)} not in {JAVA_DIR} "
                            "(Debian packages libwss4j-java libxml-security-java)")
    classes = tmp_path_factory.mktemp("wss4j")
    classpath = ":".join(map(str, jars))
    compiled = subprocess.run([javac, "-d", str(classes), "-cp", classpath, str(SIGNER)], capture_output=True,
                              text=True, timeout=120)
    assert compiled.returncode == 0, compiled.stderr
    return [java, "-cp", f"{classpath}:{classes}", "SignEnvelope"]


def wss4j_sign(signer: list[str], dept: Dept, env: etree._Element, folder: Path) -> etree._Element:
    """The envelope as WSS4J signs it with the department's key, read from a PKCS#12."""
    key = serialization.load_pem_private_key(dept.key.read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate(dept.cert.read_bytes())
    keystore = folder / f"{dept.code}.p12"
    keystore.write_bytes(pkcs12.serialize_key_and_certificates(
        dept.code.encode(), key, cert, None, serialization.BestAvailableEncryption(PASSWORD.encode())))
    run = subprocess.run([*signer, str(keystore), PASSWORD], input=etree.tostring(env), capture_output=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr.decode()
    return etree.fromstring(run.stdout)


def _self_signed(folder: Path) -> Dept:
    """A key and certificate of no CA's: enough to see what WSS4J writes."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mzj")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))
    dept = Dept("mzj", "", folder / "mzj.key", folder / "mzj.pem")
    dept.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    dept.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return dept


def test_wss4j_writes_inclusive_namespaces_in_the_c14n_method_and_the_reference_transforms(wss4j_signer, tmp_path):
    """The shape the server must take: without it the tests below would prove nothing."""
    body = f'<ex:QueryRecords xmlns:ex="{EX}"><ex:key>110101199003071234</ex:key></ex:QueryRecords>'
    signed = wss4j_sign(wss4j_signer, _self_signed(tmp_path), envelope(body), tmp_path)
    signed_info = signed.find(f".//{{{DS}}}SignedInfo")
    method = signed_info.find(f"{{{DS}}}CanonicalizationMethod")
    assert method.get("Algorithm") == EXC_C14N
    assert method.find(f"{{{EXC_C14N}}}InclusiveNamespaces").get("PrefixList") == "soap"
    transforms = signed_info.findall(f"{{{DS}}}Reference/{{{DS}}}Transforms/{{{DS}}}Transform")
    assert len(transforms) == 2
    assert all(t.find(f"{{{EXC_C14N}}}InclusiveNamespaces") is not None for t in transforms)


def test_a_query_signed_by_wss4j_is_answered(world, wss4j_signer, tmp_path):  # noqa: F811
    reply = post(world, wss4j_sign(wss4j_signer, world.mzj, query(world, world.mzj), tmp_path))
    assert reply.status_code == 200, reply.text
    assert etree.fromstring(reply.content).findtext(f".//{{{EX}}}total") == "1"


def test_a_wss4j_signed_body_changed_after_signing_fails_the_check(world, wss4j_signer, tmp_path):  # noqa: F811
    signed = wss4j_sign(wss4j_signer, world.mzj, query(world, world.mzj), tmp_path)
    signed.find(f".//{{{EX}}}key").text = "110101199003077777"
    code, message = fault(post(world, signed))
    assert code == "wsse:FailedCheck" and "does not verify" in message
