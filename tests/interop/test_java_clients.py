"""The exchange contract (/exchange?wsdl) from the Java toolkits departments build clients with:
JAX-WS's ``wsimport`` with its default options (JAX-WS RI 2.3, Debian package ``jaxws``) and
Apache Axis 1.4's ``WSDL2Java`` (Debian ``libaxis-java``), each run against the served WSDL,
its generated code compiled by the JDK, and a small client of ours on top
(``tests/interop/jaxws/``, ``tests/interop/axis/``) calling QueryRecords over HTTP.

Both map the wrapped document/literal operations to Java methods: every field of the request
becomes a parameter and every field of the response a Holder, so a field name in both is one
Java parameter (wsimport refuses the contract when their types differ); and both generate a
class for every type in the schemas the WSDL imports, used or not, so an unused type that a
toolkit cannot map breaks the build. Without a JDK or the toolkits these tests skip, or fail
under ``REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree

from tests.conftest import service_unavailable
from tests.exchange.conftest import exchange, population, submit_body  # noqa: F401 - the fixtures
from xsd import samples
from xsd.batch import build_batch
from xsd.registry import POPULATION_NS, lookup

HERE = Path(__file__).parent
JAVA_DIR = Path("/usr/share/java")
#: its manifest's Class-Path names the rest of the JAX-WS and JAXB runtime in /usr/share/java
JAXWS_RUNTIME = JAVA_DIR / "jaxws-rt.jar"
AXIS_JARS = ("axis", "jaxrpc", "saaj", "wsdl4j", "commons-discovery", "commons-logging")
PERSON = lookup("{%s}Person" % POPULATION_NS)


def _jdk() -> tuple[str, str]:
    javac, java = shutil.which("javac"), shutil.which("java")
    if javac is None or java is None:
        service_unavailable("no Java compiler and runtime (Debian package default-jdk-headless)")
    return javac, java


def _run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def _sources(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*.java"))


def _loaded(exchange, population) -> list[etree._Element]:  # noqa: F811
    """Three people submitted by the provider, in the order QueryRecords pages them (by key)."""
    records = list(samples.population_records(3, seed=41))
    batch = build_batch(records, provider_code=population.provider_code, resource_code=population.code,
                        created=datetime.now(UTC), batch_id=uuid.uuid4())
    reply = exchange(submit_body(batch))
    assert reply.status == 200, reply.fault
    return sorted(records, key=lambda r: PERSON.key(PERSON.decode(r)))


def _answer(stdout: str) -> dict:
    """A client's printout: the response fields, and the records decoded as field dicts."""
    fields, records = {}, []
    for line in stdout.splitlines():
        name, value = line.split("=", 1)
        if name == "record":
            records.append(PERSON.decode(etree.fromstring(value.encode("utf-8"))))
        else:
            fields[name] = value
    return {**fields, "records": records}


def _query(client: list[str], address: str, population, people: list[etree._Element]) -> dict:  # noqa: F811
    """The client's answer to QueryRecords for all of ``people`` from offset 1."""
    keys = ["|".join(PERSON.key(PERSON.decode(p))) for p in people]
    run = _run([*client, address, population.consumer_code, population.code, "1", *keys])
    assert run.returncode == 0, run.stderr
    return _answer(run.stdout)


def _expected(people: list[etree._Element]) -> dict:
    return {"total": "3", "pageOffset": "1", "more": "false", "source": "central",
            "records": [PERSON.decode(p) for p in people[1:]]}


def _wsimport_client(url: str, folder: Path) -> list[str]:
    """The command that runs tests/interop/jaxws/QueryRecordsClient.java on the classes a
    default ``wsimport`` generates from ``url``."""
    javac, java = _jdk()
    wsimport = shutil.which("wsimport")
    if wsimport is None or not JAXWS_RUNTIME.exists():
        service_unavailable("wsimport and the JAX-WS runtime are not installed (Debian package jaxws)")
    (folder / "src").mkdir()  # wsimport writes into folders that exist
    generated = _run([wsimport, "-keep", "-s", str(folder / "src"), "-d", str(folder), f"{url}/exchange?wsdl"])
    assert generated.returncode == 0, generated.stdout + generated.stderr
    classpath = f"{JAXWS_RUNTIME}:{folder}"
    compiled = _run([javac, "-encoding", "UTF-8", "-cp", classpath, "-d", str(folder),
                     str(HERE / "jaxws" / "QueryRecordsClient.java")])
    assert compiled.returncode == 0, compiled.stderr
    return [java, "-cp", classpath, "QueryRecordsClient"]


def _axis_classpath() -> str:
    jars = [JAVA_DIR / f"{name}.jar" for name in AXIS_JARS]
    missing = [jar.name for jar in jars if not jar.exists()]
    if missing:
        service_unavailable(f"{', '.join(missing)} not in {JAVA_DIR} (Debian package libaxis-java)")
    return ":".join(map(str, jars))


def _axis_generated(url: str, folder: Path) -> None:
    """Axis 1.4's ``WSDL2Java`` of ``url`` into ``folder/src``, compiled into ``folder``."""
    javac, java = _jdk()
    classpath = _axis_classpath()
    generated = _run([java, "-cp", classpath, "org.apache.axis.wsdl.WSDL2Java", "-o", str(folder / "src"),
                      f"{url}/exchange?wsdl"])
    assert generated.returncode == 0, generated.stdout + generated.stderr
    compiled = _run([javac, "-nowarn", "-encoding", "UTF-8", "-cp", classpath, "-d", str(folder),
                     *_sources(folder / "src")])
    assert compiled.returncode == 0, compiled.stderr


def _axis_client(url: str, folder: Path) -> list[str]:
    """The command that runs tests/interop/axis/QueryRecordsClient.java on the classes Axis 1.4
    generates from ``url``."""
    _axis_generated(url, folder)
    javac, java = _jdk()
    classpath = f"{_axis_classpath()}:{folder}"
    compiled = _run([javac, "-encoding", "UTF-8", "-cp", classpath, "-d", str(folder),
                     str(HERE / "axis" / "QueryRecordsClient.java")])
    assert compiled.returncode == 0, compiled.stderr
    return [java, "-cp", classpath, "QueryRecordsClient"]


def test_a_default_wsimport_client_queries_records_from_an_offset(live_server, exchange, population,  # noqa: F811
                                                                   tmp_path):
    people = _loaded(exchange, population)
    client = _wsimport_client(live_server.url, tmp_path)
    assert _query(client, f"{live_server.url}/exchange?wsdl", population, people) == _expected(people)


def test_axis_1_4_code_generated_from_the_exchange_wsdl_compiles(live_server, tmp_path):
    _axis_generated(live_server.url, tmp_path)
    generated = {p.stem for p in (tmp_path / "src").rglob("*.java")}
    assert {"ExchangePortType", "QueryRecordsResponse", "BatchHeader"} <= generated


def test_an_axis_1_4_client_queries_records_from_an_offset(live_server, exchange, population,  # noqa: F811
                                                            tmp_path):
    people = _loaded(exchange, population)
    client = _axis_client(live_server.url, tmp_path)
    assert _query(client, f"{live_server.url}/exchange", population, people) == _expected(people)
