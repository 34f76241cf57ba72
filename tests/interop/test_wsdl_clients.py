"""The directory's own ?wsdl documents work from independent SOAP stacks (C2):
zeep with its default, entity-refusing settings, and PHP's SoapClient."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
import zeep
from lxml import etree

from tests.conftest import service_unavailable

PHP_CLIENT = Path(__file__).with_name("uddi_client.php")


def _php() -> str:
    php = shutil.which("php")
    if php is None:
        service_unavailable("php is not installed (Debian packages php-cli php-soap)")
    modules = subprocess.run([php, "-m"], capture_output=True, text=True, check=True).stdout.split()
    if "soap" not in modules:
        service_unavailable("PHP's soap extension is missing (Debian package php-soap)")
    return php


def test_zeep_with_default_settings_loads_the_inquiry_wsdl_and_finds(live_server):
    client = zeep.Client(f"{live_server.url}/uddi/inquiry?wsdl")
    result = client.service.find_tModel(
        findQualifiers={"findQualifier": ["approximateMatch"]}, name={"_value_1": "govshare:%"}, maxRows=50
    )
    keys = {info.tModelKey for info in result.tModelInfos.tModelInfo}
    assert "uddi:govshare:categorization:sharing-type" in keys
    assert result.listDescription is not None or len(keys) <= 50


def test_every_uddi_wsdl_names_our_endpoint_and_imports_the_oasis_binding(live_server):
    for api in ("inquiry", "publication", "security"):
        doc = etree.fromstring(requests.get(f"{live_server.url}/uddi/{api}?wsdl", timeout=10).content)
        wsdl = "http://schemas.xmlsoap.org/wsdl/"
        address = doc.find(f".//{{{wsdl}}}port/{{http://schemas.xmlsoap.org/wsdl/soap/}}address")
        assert address.get("location") == f"{live_server.url}/uddi/{api}"
        imported = doc.find(f"{{{wsdl}}}import").get("location")
        served = requests.get(imported, timeout=10).content
        original = (Path(__file__).parents[2] / "wsdl" / "oasis" / "uddi_api_v3_binding.wsdl").read_bytes()
        assert served == original  # the OASIS binding is served unchanged


def test_soap_12_namespaces_never_appear_in_the_uddi_wsdls(live_server):
    for path in ("uddi/inquiry?wsdl", "wsdl/uddi/uddi_api_v3_binding.wsdl", "wsdl/uddi/uddi_api_v3_portType.wsdl"):
        text = requests.get(f"{live_server.url}/{path}", timeout=10).text
        assert "http://schemas.xmlsoap.org/wsdl/soap12/" not in text
        assert "http://www.w3.org/2003/05/soap-envelope" not in text


def test_php_soapclient_loads_the_inquiry_wsdl_and_calls_find_tmodel(live_server):
    php = _php()
    run = subprocess.run([php, str(PHP_CLIENT), "inquiry", live_server.url], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert len(out["keys"]) == 3 and all(k.startswith("uddi:govshare:") for k in out["keys"])
    assert out["actualCount"] >= 8
    assert out["fault"]["faultstring"].startswith("E_invalidKeyPassed: ")
    assert "uddi:no.such:key" in out["fault"]["errInfo"]


def test_php_soapclient_calls_the_spyne_diagnostics_service(live_server):
    php = _php()
    run = subprocess.run([php, str(PHP_CLIENT), "diagnostics", live_server.url], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"echo": "人口基础信息"}


def test_zeep_calls_the_spyne_diagnostics_service(live_server):
    client = zeep.Client(f"{live_server.url}/diagnostics?wsdl")
    assert client.service.Echo(text="共享为原则") == "共享为原则"
    assert client.service.NodeInfo().nodeID == "uddi:govshare.local:node"


@pytest.mark.parametrize("sample", ["find_findService1.xml"])
def test_a_juddi_tck_request_is_answered(post, sample):
    path = Path(__file__).parents[3] / "shared" / "specs" / "uddi-v3-tck-samples" / sample
    if not path.exists():
        pytest.skip(f"{path} is not beside the checkout")
    inner = path.read_text(encoding="utf-8").split("?>", 1)[-1]
    reply = post("inquiry", inner)
    assert reply.status == 200, reply.fault_string
    assert reply.payload.tag == "{urn:uddi-org:api_v3}serviceList"
