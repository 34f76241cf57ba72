"""The signed interop suite (C2), Perl: ``perl/client.pl``, SOAP::Lite as Perl departments use it
against a document/literal service - SOAP::Lite generates nothing from such a WSDL, so the calls
name the schema's namespace (``default_ns``), write each element as ``SOAP::Data`` without
``xsi:type`` and send the WSDL's soapAction (``on_action``).  It signs in its serializer: the
envelope SOAP::Lite wrote gets the Security header with XML::LibXML - BinarySecurityToken,
Timestamp, digests of the Body and the Timestamp over ``toStringEC14N`` (exclusive, without
comments), SignedInfo canonicalised the same way - and Crypt::OpenSSL::RSA's RSA-SHA256.  Signed,
it reads what the platform requiring WS-Security answers 民政局; unsigned, it is refused there
with ``wsse:InvalidSecurity`` and answered by a platform in ``optional`` mode.  Answers are read
as XML (``outputxml``), so the records in ``xsd:any`` stay the XML they were.

Debian packages: perl, libsoap-lite-perl, libxml-libxml-perl, libcrypt-openssl-rsa-perl (JSON::PP,
Digest::SHA and MIME::Base64 come with perl)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import service_unavailable
from tests.interop.stacks import Stacks, assert_answered, run_job

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # SOAP on the wire: one database will do

CLIENT = Path(__file__).parent / "perl" / "client.pl"
MODULES = {"SOAP::Lite": "libsoap-lite-perl", "XML::LibXML": "libxml-libxml-perl",
           "Crypt::OpenSSL::RSA": "libcrypt-openssl-rsa-perl"}


def _perl() -> str:
    perl = shutil.which("perl")
    if perl is None:
        service_unavailable(f"perl is not installed (Debian packages perl {' '.join(MODULES.values())})")
    missing = sorted(package for module, package in MODULES.items()
                     if subprocess.run([perl, f"-M{module}", "-e", "1"], capture_output=True).returncode != 0)
    if missing:
        service_unavailable(f"Perl lacks modules the client needs (Debian packages {' '.join(missing)})")
    return perl


def _run(stacks: Stacks, url: str, tmp_path: Path, *, signed: bool) -> subprocess.CompletedProcess:
    return run_job([_perl(), str(CLIENT)], stacks, url, tmp_path, signed=signed)


def test_perl_soap_lite_signs_with_libxml_c14n_and_openssl_where_the_platform_requires_it(stacks, tmp_path):
    assert_answered(stacks, _run(stacks, stacks.strict_url, tmp_path, signed=True))


def test_perl_unsigned_is_refused_where_signatures_are_required_and_answered_where_optional(stacks, tmp_path):
    refused = _run(stacks, stacks.strict_url, tmp_path, signed=False)
    assert refused.returncode == 2, (refused.stdout, refused.stderr)
    assert refused.stderr.splitlines()[0] == "wsse:InvalidSecurity", refused.stderr
    assert_answered(stacks, _run(stacks, stacks.optional_url, tmp_path, signed=False))
