"""The signed interop suite (C2), PHP: ``php/signed_client.php``, a SoapClient made at run time from
the published WSDLs, signing as PHP departments do without xmlseclibs (which Debian does not
ship): it subclasses SoapClient, and its ``__doRequest`` adds the Security header to the request
with DOM - BinarySecurityToken, Timestamp, digests of the Body and the Timestamp over
``DOMNode::C14N(true, false)`` (exclusive, without comments), SignedInfo canonicalised the same
way and signed with ``openssl_sign(..., OPENSSL_ALGO_SHA256)``.  Signed, it reads what the
platform requiring WS-Security answers 民政局; unsigned, it is refused there with
``wsse:InvalidSecurity`` and answered by a platform in ``optional`` mode.

Debian packages: php-cli, php-soap, php-xml (DOM); PHP's openssl is built into php-cli."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import service_unavailable
from tests.interop.stacks import RESOURCE_NAME, Stacks

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # SOAP on the wire: one database will do

CLIENT = Path(__file__).parent / "php" / "signed_client.php"
MODULES = {"soap": "php-soap", "dom": "php-xml", "openssl": "php-cli"}


def _php() -> str:
    php = shutil.which("php")
    if php is None:
        service_unavailable("php is not installed (Debian packages php-cli php-soap php-xml)")
    loaded = subprocess.run([php, "-m"], capture_output=True, text=True, check=True).stdout.split()
    missing = sorted(package for module, package in MODULES.items() if module not in loaded)
    if missing:
        service_unavailable(f"PHP lacks extensions the client needs (Debian packages {' '.join(missing)})")
    return php


def _run(stacks: Stacks, url: str, tmp_path: Path, *, signed: bool) -> subprocess.CompletedProcess:
    job = {"url": url, "requester": stacks.consumer, "name": RESOURCE_NAME, "resourceCode": stacks.resource,
           "keys": stacks.keys}
    if signed:
        job |= {"key": str(stacks.consumer_key), "cert": str(stacks.consumer_cert)}
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
    return subprocess.run([_php(), str(CLIENT), str(path)], capture_output=True, encoding="utf-8",
                          timeout=120)


def _assert_answered(stacks: Stacks, run: subprocess.CompletedProcess) -> None:
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["serviceKeys"] == [stacks.service_key]
    assert (out["query"]["total"], out["query"]["more"]) == (3, False)
    assert stacks.decoded(out["query"]["records"]) == stacks.expected
    assert [c["operation"] for c in out["changes"]] == ["upsert"] * 3
    assert stacks.decoded(c["record"] for c in out["changes"]) == stacks.expected


def test_php_soapclient_signs_with_dom_c14n_and_openssl_where_the_platform_requires_it(stacks, tmp_path):
    _assert_answered(stacks, _run(stacks, stacks.strict_url, tmp_path, signed=True))


def test_php_unsigned_is_refused_where_signatures_are_required_and_answered_where_optional(stacks, tmp_path):
    refused = _run(stacks, stacks.strict_url, tmp_path, signed=False)
    assert refused.returncode == 2, (refused.stdout, refused.stderr)
    assert refused.stderr.splitlines()[0] == "wsse:InvalidSecurity", refused.stderr
    _assert_answered(stacks, _run(stacks, stacks.optional_url, tmp_path, signed=False))
