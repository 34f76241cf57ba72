"""The signed interop suite (C2), node-soap: ``tests/interop/node/client.js`` is a department's
Node.js client written with the npm package ``soap`` and no govshare code - clients made at run
time from the published WSDLs, signing with node-soap's own ``WSSecurityCert`` from the PEM key
and certificate the platform issued - against the platform requiring WS-Security; and the same
calls unsigned, refused there and answered by a platform in ``optional`` mode.

``WSSecurityCert`` (xml-crypto underneath) writes the Security header as one string: the
BinarySecurityToken, then a Timestamp in a default namespace, then the signature::

    <wsse:Security xmlns:wsse="…secext…" xmlns:wsu="…utility…" soap:mustUnderstand="1">
      <wsse:BinarySecurityToken EncodingType="…#Base64Binary" ValueType="…#X509v3" wsu:Id="x509-…">MII…
      <Timestamp xmlns="…utility…" xmlns:wsu="…utility…" wsu:Id="_1"><Created>…Z</Created><Expires>…Z</Expires>
      <Signature xmlns="http://www.w3.org/2000/09/xmldsig#"> exc-c14n, rsa-sha256,
        References #_0 (the Body) and #_1, each with the one transform exc-c14n, sha256;
        KeyInfo: wsse:SecurityTokenReference/wsse:Reference URI="#x509-…" </Signature>
    </wsse:Security>

with the options ``client.js`` passes (``signatureAlgorithm`` RSA-SHA256, ``digestAlgorithm`` SHA-256,
``signatureTransformations`` exc-c14n alone, ``signerOptions.idMode = "wssecurity"``).  Left to
its defaults, node-soap writes two things differently:

- an unqualified ``Id`` on the Body and the Timestamp (``<soap:Body Id="_0">``): refused as
  ``wsse:InvalidSecurity`` ("soap:Body has no wsu:Id"); WS-Security names elements by ``wsu:Id``,
  which ``idMode = "wssecurity"`` writes;
- the transforms enveloped-signature, then exc-c14n, on each reference: taken, as the WS-I Basic
  Security Profile allows it when exc-c14n comes last (R5423) and WSS4J takes it; on the Body or
  the Timestamp it removes nothing (trust/wsse.py; the attacks on it: tests/trust/test_wss_attacks.py).

node-soap numbers the Ids ``_0`` and ``_1`` and stamps ``wsu:Created`` to the second, so one
request sent twice within a second is signed alike and the second is refused as a replay
(``wsse:FailedCheck``); it does not check the platform's signed answers.  The records of the
``xsd:any`` slots are read from the raw response.  Without node or ``node_modules`` these tests
skip, or fail under ``REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import service_unavailable
from tests.interop.stacks import RESOURCE_NAME, Stacks

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # SOAP on the wire: one database will do

NODE_DIR = Path(__file__).with_name("node")
#: how CI installs node-soap, exactly as package-lock.json pins it
NPM_CI = "run `npm ci --prefix tests/interop/node`"


@pytest.fixture(scope="session")
def node_client() -> list[str]:
    """The command that runs client.js, once node and node-soap are there."""
    node = shutil.which("node")
    if node is None:
        service_unavailable(f"node is not installed (Debian package nodejs); then {NPM_CI}")
    if not (NODE_DIR / "node_modules" / "soap").is_dir():
        service_unavailable(f"node-soap is not installed: {NPM_CI}")
    return [node, str(NODE_DIR / "client.js")]


def _node_soap(client: list[str], stacks: Stacks, url: str, tmp_path: Path, *, signed: bool,
               default_transforms: bool = False) -> tuple[int, dict]:
    """The exit status of client.js and the JSON it printed."""
    job = {"url": url, "requester": stacks.consumer, "resourceCode": stacks.resource,
           "resourceName": RESOURCE_NAME, "keys": stacks.keys}
    if signed:
        job |= {"key": str(stacks.consumer_key), "cert": str(stacks.consumer_cert),
                "defaultTransforms": default_transforms}
    (tmp_path / "job.json").write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
    run = subprocess.run([*client, str(tmp_path / "job.json")], capture_output=True, text=True, timeout=60)
    assert run.returncode in (0, 2), run.stderr
    return run.returncode, json.loads(run.stdout)


def _answered(stacks: Stacks, status: int, out: dict) -> None:
    assert status == 0, out.get("fault")
    assert out["serviceKeys"] == [stacks.service_key]
    assert (out["query"]["total"], out["query"]["more"]) == (3, False)
    assert stacks.decoded(out["query"]["records"]) == stacks.expected
    assert [c["operation"] for c in out["changes"]] == ["upsert"] * 3
    assert stacks.decoded(c["record"] for c in out["changes"]) == stacks.expected


def test_node_soap_signs_with_wssecuritycert_where_the_platform_requires_it(node_client, stacks, tmp_path):
    _answered(stacks, *_node_soap(node_client, stacks, stacks.strict_url, tmp_path, signed=True))


def test_node_soap_unsigned_is_refused_where_signatures_are_required_and_answered_where_optional(
        node_client, stacks, tmp_path):
    status, out = _node_soap(node_client, stacks, stacks.strict_url, tmp_path, signed=False)
    assert status == 2 and out["fault"]["code"] == "wsse:InvalidSecurity", out
    assert out["serviceKeys"] == [stacks.service_key]  # the directory's inquiry is open to all
    _answered(stacks, *_node_soap(node_client, stacks, stacks.optional_url, tmp_path, signed=False))


def test_node_soap_signs_with_its_default_reference_transforms(node_client, stacks, tmp_path):
    status, out = _node_soap(node_client, stacks, stacks.strict_url, tmp_path, signed=True, default_transforms=True)
    _answered(stacks, status, out)
