"""The signed interop suite (C2), gSOAP: the C client of a department with a legacy C system,
on gSOAP 2.8 as Debian packages it (``gsoap``, ``libgsoap-dev``), OpenSSL (``libssl-dev``) and
zlib's header (``zlib1g-dev``: the library is built with ``WITH_GZIP``, which shapes ``struct soap``).

Once per session ``wsdl2h`` and ``soapcpp2`` generate C code from the served ``/exchange?wsdl``
and ``/uddi/inquiry?wsdl`` (xsd:any as DOM, ``wsse.h`` imported through typemap.dat, as gSOAP's
WS-Security documentation says), and gcc compiles it with ``tests/interop/gsoap/client.c`` and
gSOAP's own WS-Security plugin (``wsseapi.c``, ``smdevp.c``, ``mecevp.c`` from
``/usr/share/gsoap/plugin``). The client calls find_service, QueryRecords and GetChanges, signing
the exchange calls with the plugin - BinarySecurityToken, Timestamp, RSA-SHA256 over the Body and
the Timestamp, exc-c14n - against the platform requiring WS-Security, and checks the platform's
signed answers with the plugin against the platform CA; unsigned, it is refused there with
``wsse:InvalidSecurity`` and answered by a platform in ``optional`` mode. Each run is compared with
``stacks.expected``: the three records from QueryRecords, three upserts from GetChanges.

Without the tools, headers or libraries these tests skip, or fail under ``REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import service_unavailable
from tests.interop.stacks import RESOURCE_NAME, Stacks

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # SOAP on the wire: one database will do

CLIENT = Path(__file__).parent / "gsoap" / "client.c"
GSOAP = Path("/usr/share/gsoap")
PACKAGES = "Debian packages gsoap libgsoap-dev libssl-dev zlib1g-dev"
#: the defines Debian's libgsoapssl was built with (gsoapssl.pc): struct soap's layout depends on them
LIBRARY_FLAGS = ["-DWITH_IPV6", "-DWITH_OPENSSL", "-DWITH_GZIP", "-DWITH_DOM"]
#: stable prefixes for the generated names, and the import that gives the client the wsse plugin's types
TYPEMAP = """
ex = "http://govshare.local/xsd/exchange/1.0"
batch = "http://govshare.local/xsd/batch/1.0"
exchange = "http://govshare.local/exchange/1.0"
uddi = "urn:uddi-org:api_v3"
uddiapi = "urn:uddi-org:api_v3_portType"
uddibind = "urn:uddi-org:api_v3_binding"
[
#import "wsse.h"
]
"""


@dataclass
class Printout:
    """What the client printed: the facts of each call, or the fault that stopped it."""

    service_keys: list[str] = field(default_factory=list)
    total: int | None = None
    more: str | None = None
    records: list[str] = field(default_factory=list)
    changes: list[tuple[str, str]] = field(default_factory=list)
    fault: str | None = None

    @classmethod
    def parse(cls, stdout: str) -> Printout:
        out = cls()
        for line in stdout.splitlines():
            name, value = line.split("=", 1)
            if name == "serviceKey":
                out.service_keys.append(value)
            elif name == "total":
                out.total = int(value)
            elif name == "more":
                out.more = value
            elif name == "record":
                out.records.append(value)
            elif name == "change":
                operation, xml = value.split(" ", 1)
                out.changes.append((operation, xml))
            elif name == "fault":
                out.fault = value
        return out


class GsoapClient:
    """tests/interop/gsoap/client.c on the code generated from the first live server's WSDLs; the
    address of the server each run calls is an argument, so one build serves the session."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.binary: Path | None = None

    def _step(self, command: list[str]) -> None:
        done = subprocess.run(command, cwd=self.folder, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{command[0]} failed:\n{done.stdout}\n{done.stderr}"

    def _build(self, url: str) -> Path:
        (self.folder / "typemap.dat").write_text((GSOAP / "WS" / "typemap.dat").read_text() + TYPEMAP)
        self._step(["wsdl2h", "-c", "-d", "-t", "typemap.dat", "-o", "govshare.h",
                    f"{url}/exchange?wsdl", f"{url}/uddi/inquiry?wsdl"])
        self._step(["soapcpp2", "-c", "-C", "-L", "-x", f"-I{GSOAP / 'import'}", f"-I{GSOAP}", "govshare.h"])
        plugin = GSOAP / "plugin"
        self._step(["gcc", "-w", *LIBRARY_FLAGS, "-I.", f"-I{plugin}",
                    "-o", "client", str(CLIENT), "soapC.c", "soapClient.c",
                    *(str(plugin / name) for name in ("wsseapi.c", "smdevp.c", "mecevp.c", "threads.c")),
                    str(GSOAP / "custom" / "struct_timeval.c"), "-lgsoapssl", "-lssl", "-lcrypto"])
        return self.folder / "client"

    def run(self, stacks: Stacks, url: str, *, signed: bool) -> Printout:
        if self.binary is None:
            self.binary = self._build(url)
        # signed: with 民政局's key and certificate, verifying the answers against the platform CA
        security = ["-k", str(stacks.consumer_key), "-c", str(stacks.consumer_cert), "-a", str(stacks.ca_cert)]
        command = [str(self.binary), *(security if signed else []), url, stacks.consumer, stacks.resource,
                   RESOURCE_NAME, *stacks.keys]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode in (0, 2), done.stdout + done.stderr  # 2: a SOAP fault, printed
        return Printout.parse(done.stdout)


@pytest.fixture(scope="session")
def gsoap(tmp_path_factory) -> GsoapClient:
    missing = [tool for tool in ("wsdl2h", "soapcpp2", "gcc") if shutil.which(tool) is None]
    headers = [Path("/usr/include", name) for name in ("stdsoap2.h", "openssl/ssl.h", "zlib.h")]
    missing += [str(path) for path in (*headers, GSOAP / "plugin" / "wsseapi.c", GSOAP / "import" / "wsse.h")
                if not path.exists()]
    if missing:
        service_unavailable(f"gSOAP cannot build a client: no {', '.join(missing)} ({PACKAGES})")
    return GsoapClient(tmp_path_factory.mktemp("gsoap"))


def _assert_answers(stacks: Stacks, answer: Printout) -> None:
    assert answer.fault is None, answer.fault
    assert answer.service_keys == [stacks.service_key]
    assert (answer.total, answer.more) == (3, "false")
    assert stacks.decoded(answer.records) == stacks.expected
    assert [operation for operation, _ in answer.changes] == ["upsert"] * 3
    assert stacks.decoded(xml for _, xml in answer.changes) == stacks.expected


def test_gsoap_signs_with_its_wsse_plugin_where_the_platform_requires_it(stacks, gsoap):
    _assert_answers(stacks, gsoap.run(stacks, stacks.strict_url, signed=True))


def test_gsoap_unsigned_is_refused_where_signatures_are_required_and_answered_where_optional(stacks, gsoap):
    refused = gsoap.run(stacks, stacks.strict_url, signed=False)
    assert refused.service_keys == [stacks.service_key]  # the inquiry API is open to all
    assert refused.fault is not None and refused.fault.startswith("wsse:InvalidSecurity "), refused.fault
    _assert_answers(stacks, gsoap.run(stacks, stacks.optional_url, signed=False))
