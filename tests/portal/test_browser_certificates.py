"""证书管理 in a real browser (Chromium, headless, as in test_browser.py): 公安局's user uploads a
CSR made by the openssl binary for its 户籍管理系统, the security administrator approves it, the user
downloads the certificate - which the platform CA signed for the key that never left 公安局."""

from __future__ import annotations

import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from trust import pki

from . import test_browser, test_certificate_pages

chromium, signed_in, shot = test_browser.chromium, test_browser.signed_in, test_browser.shot  # its fixtures
pkicity = test_certificate_pages.pkicity  # the city with its CA, gaj.hukou and the security administrator

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def test_a_department_uploads_an_openssl_csr_the_security_admin_approves_and_it_downloads_the_certificate(
        signed_in, pkicity, live_server, settings, tmp_path):
    made = subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout",
                           str(tmp_path / "hukou.key"), "-subj", "/CN=hukou", "-out", str(tmp_path / "hukou.csr")],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    gaj = signed_in("gaj")
    gaj.click("nav >> text=证书管理")
    gaj.select_option("#system", "gaj.hukou")
    gaj.set_input_files("#csr_file", str(tmp_path / "hukou.csr"))
    gaj.click("#request-form button:has-text('提交申请')")
    assert "已提交 (gaj.hukou, RSA 2048)" in gaj.inner_text(".flash.success")
    assert "待审批" in gaj.inner_text("#requests tbody tr")
    shot(gaj, "department-certificate-requested")

    sec = signed_in("sec")
    sec.click("nav >> text=证书审批")
    row = sec.locator("#certificate-requests tbody tr").first
    assert "gaj.hukou" in row.inner_text() and "临江市公安局" in row.inner_text()
    row.locator("button:has-text('批准')").click()
    assert "已批准证书申请 #1" in sec.inner_text(".flash.success")
    shot(sec, "security-certificate-approved")

    gaj.click("nav >> text=证书管理")
    assert "已签发" in gaj.inner_text("#requests tbody tr")
    with gaj.expect_download() as download:
        gaj.click("#certificates >> text=下载 PEM")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.startswith("gaj.hukou-") and saved.suffix == ".pem"
    cert = x509.load_pem_x509_certificate(saved.read_bytes())
    key = serialization.load_pem_private_key((tmp_path / "hukou.key").read_bytes(), None)
    assert pki.chains_to(cert, pki.ca_certificate(settings))
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert gaj.get_attribute("#ca-link", "href") == "/pki/ca.pem"
    shot(gaj, "department-certificate-issued")
