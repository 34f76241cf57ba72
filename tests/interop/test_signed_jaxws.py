"""The signed interop suite (C2), Java: a client on the classes a default ``wsimport`` (JAX-WS RI
2.3, Debian ``jaxws``) generates from the published ``/exchange?wsdl`` and ``/uddi/inquiry?wsdl``,
signing its exchange calls with Apache WSS4J 1.6 and Santuario (Debian ``libwss4j-java``
``libxml-security-java``) in a JAX-WS ``SOAPHandler`` - as a Java department without CXF would -
from the PKCS#12 of its key and certificate (``tests/interop/jaxws/SignedClient.java``,
``WssSigningHandler.java``; the recipe is docs/interop/java.md).

Both WSDLs import with wsimport's defaults: their classes fall into separate packages
(``local.govshare.*``; ``org.uddi.api_v3`` and ``govshare.uddi_v3_service``), so one folder
holds them.  They are generated and compiled once per test session from the first test's
platform; each run then reads the WSDLs from, and sends to, the platform it is given.

Two things the Java side needs that the platform does not: SAAJ 1.4 (under the RI) wraps a
plain DOM and mixing its wrappers with WSS4J's nodes fails (``WRONG_DOCUMENT_ERR``), so the handler
gives WSS4J the plain document; and JAX-WS throws the refusal, which carries the exchange's
declared detail, as the generated ``ExchangeFault``, without the SOAP faultcode, which the client
reads in a handler.  Without the JDK, wsimport or the jars these tests skip, or fail under
``REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import service_unavailable
from tests.interop.stacks import P12_PASSWORD, RESOURCE_NAME, Stacks

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # SOAP on the wire: one database will do

HERE = Path(__file__).parent / "jaxws"
SOURCES = (HERE / "WssSigningHandler.java", HERE / "SignedClient.java")
JAVA_DIR = Path("/usr/share/java")
#: the JAX-WS runtime (its manifest names the JAXB and SAAJ jars), WSS4J, Santuario and their logging
JARS = ("jaxws-rt", "wss4j", "xmlsec", "commons-logging", "slf4j-api", "slf4j-nop")
PACKAGES = "Debian packages default-jdk-headless jaxws libwss4j-java libxml-security-java"
#: saaj-impl registers itself under a deprecated name, and the JDK says so on every run
SAAJ = "-Djavax.xml.soap.SAAJMetaFactory=com.sun.xml.messaging.saaj.soap.SAAJMetaFactoryImpl"


def _run(command: list[str], **options) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, **options)


@pytest.fixture(scope="session")
def jaxws_client(tmp_path_factory) -> Callable[[str], list[str]]:
    """The command that runs SignedClient, given a platform whose WSDLs it is generated from the
    first time it is asked for."""
    javac, java, wsimport = shutil.which("javac"), shutil.which("java"), shutil.which("wsimport")
    jars = [JAVA_DIR / f"{name}.jar" for name in JARS]
    missing = [jar.name for jar in jars if not jar.exists()]
    if javac is None or java is None or wsimport is None or missing:
        service_unavailable(f"no javac, java or wsimport, or {', '.join(missing) or 'no jar'} missing "
                            f"in {JAVA_DIR} ({PACKAGES})")
    classes = tmp_path_factory.mktemp("jaxws")
    classpath = ":".join(map(str, [*jars, classes]))
    command = [java, SAAJ, "-cp", classpath, "SignedClient"]
    built: list[str] = []

    def client(url: str) -> list[str]:
        if not built:
            (classes / "src").mkdir()
            for wsdl in (f"{url}/exchange?wsdl", f"{url}/uddi/inquiry?wsdl"):
                generated = _run([wsimport, "-keep", "-s", str(classes / "src"), "-d", str(classes), wsdl])
                assert generated.returncode == 0, generated.stdout + generated.stderr
            compiled = _run([javac, "-encoding", "UTF-8", "-cp", classpath, "-d", str(classes), *map(str, SOURCES)])
            assert compiled.returncode == 0, compiled.stderr
            built.append(url)
        return command

    return client


def _answer(stacks: Stacks, client: list[str], url: str, signed: bool) -> dict:
    """SignedClient's printout against ``url``: each name's values in order, the XML decoded."""
    sign = ["--p12", str(stacks.consumer_p12)] if signed else []
    run = _run([*client, *sign, url, stacks.consumer, stacks.resource, RESOURCE_NAME, *stacks.keys],
               env={**os.environ, "GOVSHARE_P12_PASSWORD": P12_PASSWORD})
    assert run.returncode in (0, 2), run.stderr
    printed: dict[str, list[str]] = {}
    for line in run.stdout.splitlines():
        name, value = line.split("=", 1)
        printed.setdefault(name, []).append(value)
    changes = [c.split(" ", 1) for c in printed.pop("change", [])]
    return {**printed, "record": stacks.decoded(printed.get("record", [])),
            "operation": [operation for operation, _ in changes],
            "change": stacks.decoded(record for _, record in changes), "status": run.returncode}


def _assert_answered(stacks: Stacks, answer: dict) -> None:
    assert answer["status"] == 0 and "fault" not in answer
    assert answer["serviceKey"] == [stacks.service_key]
    assert (answer["total"], answer["more"]) == (["3"], ["false"])
    assert answer["record"] == stacks.expected
    assert answer["operation"] == ["upsert"] * 3
    assert answer["change"] == stacks.expected


def test_wsimport_signing_with_wss4j_in_a_handler_is_answered_where_the_platform_requires_it(stacks, jaxws_client):
    client = jaxws_client(stacks.strict_url)
    _assert_answered(stacks, _answer(stacks, client, stacks.strict_url, signed=True))


def test_wsimport_unsigned_is_refused_where_signatures_are_required(stacks, jaxws_client):
    answer = _answer(stacks, jaxws_client(stacks.strict_url), stacks.strict_url, signed=False)
    assert answer["status"] == 2
    assert answer["serviceKey"] == [stacks.service_key]  # the directory asks for no signature
    assert (answer["fault"], answer["exchangeFault"]) == (["wsse:InvalidSecurity"], ["InvalidSecurity"])
    assert "total" not in answer


def test_wsimport_unsigned_is_answered_where_signatures_are_optional(stacks, jaxws_client):
    client = jaxws_client(stacks.optional_url)
    _assert_answered(stacks, _answer(stacks, client, stacks.optional_url, signed=False))
