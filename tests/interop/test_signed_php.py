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

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import service_unavailable
from tests.interop.stacks import Stacks, assert_answered, run_job

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
    return run_job([_php(), str(CLIENT)], stacks, url, tmp_path, signed=signed)


def test_php_soapclient_signs_with_dom_c14n_and_openssl_where_the_platform_requires_it(stacks, tmp_path):
    assert_answered(stacks, _run(stacks, stacks.strict_url, tmp_path, signed=True))


def test_php_unsigned_is_refused_where_signatures_are_required_and_answered_where_optional(stacks, tmp_path):
    refused = _run(stacks, stacks.strict_url, tmp_path, signed=False)
    assert refused.returncode == 2, (refused.stdout, refused.stderr)
    assert refused.stderr.splitlines()[0] == "wsse:InvalidSecurity", refused.stderr
    assert_answered(stacks, _run(stacks, stacks.optional_url, tmp_path, signed=False))
