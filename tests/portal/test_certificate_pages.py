"""证书管理 over real HTTP (SQLite and PostgreSQL): a department's people upload a CSR for the
department or one of its systems, follow it, download, renew and revoke their certificates; the
security administrator approves or refuses, sees what ends within 30 days and revokes any - every
page and refusal in Chinese, every form an action with its audit entry (channel portal)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from lxml import html
from sqlalchemy import select

from directory.accounts import create_user
from registry.clock import utcnow
from registry.db import unit_of_work
from registry.models import AppSystem, AuditEntry, Certificate, Department
from tests.trust.csrs import key_pem, make_csr, rsa_key
from trust import pki


@pytest.fixture
def pkicity(city, sessions, settings):
    """The city with its CA, 公安局's 户籍管理系统 (gaj.hukou) and the security administrator ``sec``."""
    pki.init_ca(settings)
    with unit_of_work(sessions) as session:
        gaj = session.scalar(select(Department).where(Department.code == "gaj"))
        session.add(AppSystem(department_id=gaj.id, code="gaj.hukou", name="户籍管理系统", status="active",
                              created=utcnow(), created_by="test"))
        create_user(session, username="sec", password="pw", department=None, roles=("security",))
    return city


def _table(response, ident: str) -> list[str]:
    """The rows of the table ``ident``, each as its cells' text joined by `` | ``."""
    rows = html.fromstring(response.text).get_element_by_id(ident).iterfind(".//tbody/tr")
    return [" | ".join(" ".join(cell.text_content().split()) for cell in row.iterfind("td")) for row in rows]


def _flash(response) -> str:
    return " ".join(" ".join(el.text_content().split()) for el in html.fromstring(response.text)
                    .find_class("flash"))


def _ask(user, csr: str | bytes, *, system: str = "", renews: str = "", as_file: bool = True):
    fields = {"system": system, "renews": renews}
    if as_file:
        return user.post("/certificates/request", fields, files={"csr_file": ("request.csr", csr)})
    return user.post("/certificates/request", {**fields, "csr_text": csr})


def _approve_first(sec) -> str:
    page = sec.get("/certificates/admin")
    number = html.fromstring(page.text).get_element_by_id("certificate-requests").findtext(".//tbody/tr/td")
    return _flash(sec.post("/certificates/decide", {"id": number, "decision": "approve"}))


def test_the_menu_offers_certificates_by_role(pkicity, browser):
    gaj, sec, auditor = browser("gaj"), browser("sec"), browser("auditor")
    home = gaj.get("/")
    assert "证书管理" in home.text and "证书审批" not in home.text
    assert "证书审批" in sec.get("/").text and "证书管理" not in sec.get("/").text
    assert "证书" not in " ".join(html.fromstring(auditor.get("/").text).xpath("//nav//text()"))
    refused = gaj.get("/certificates/admin")
    assert refused.status_code == 403 and "无权使用此功能" in refused.text
    assert sec.get("/certificates").status_code == 403


def test_a_department_uploads_a_csr_the_security_admin_approves_and_the_department_downloads(
        pkicity, browser, sessions, settings):
    gaj, sec = browser("gaj"), browser("sec")
    form = gaj.get("/certificates")
    assert form.status_code == 200 and 'href="/pki/ca.pem"' in form.text
    assert "应用系统: 户籍管理系统 (gaj.hukou)" in form.text
    key, csr = make_csr(cn="ignored")
    sent = _ask(gaj, csr.encode(), system="gaj.hukou")
    assert sent.status_code == 200 and "证书申请 #1 已提交 (gaj.hukou, RSA 2048)" in _flash(sent)
    assert "等待安全管理员审批" in _table(sent, "requests")[0]
    pending = sec.get("/certificates/admin")
    assert "临江市公安局 | gaj.hukou | RSA 2048" in _table(pending, "certificate-requests")[0]
    approved = _approve_first(sec)
    assert "已批准证书申请 #1: 证书" in approved and "(gaj.hukou) 有效至" in approved
    mine = gaj.get("/certificates")
    [row] = _table(mine, "certificates")
    serial = row.split()[0]
    assert "gaj.hukou" in row and "有效" in row
    assert f"下载证书 {serial}" in _table(mine, "requests")[0]
    pem = gaj.get(f"/certificates/{serial}.pem")
    assert pem.headers["Content-Type"] == "application/x-pem-file"
    assert pem.headers["Content-Disposition"] == f'attachment; filename="gaj.hukou-{serial}.pem"'
    cert = x509.load_pem_x509_certificate(pem.content)
    assert pki.chains_to(cert, pki.ca_certificate(settings))
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    other = browser("mzj").get(f"/certificates/{serial}.pem")  # another department's certificate
    assert other.status_code == 403 and "属于其他部门" in other.text
    with sessions() as session:
        entries = session.execute(select(AuditEntry.operation, AuditEntry.user).where(
            AuditEntry.channel == "portal", AuditEntry.operation.in_(("pki.request", "pki.approve")))).all()
    assert sorted(tuple(e) for e in entries) == [("pki.approve", "sec"), ("pki.request", "gaj")]


def test_what_is_not_a_good_request_is_refused_in_chinese_on_the_form(pkicity, browser):
    gaj = browser("gaj")
    empty = _ask(gaj, "", as_file=False)
    assert empty.status_code == 422 and "请上传证书请求文件" in empty.text
    private = _ask(gaj, key_pem(rsa_key()).decode(), as_file=False)
    assert private.status_code == 422 and "私钥不得离开本单位" in private.text
    assert html.fromstring(private.text).get_element_by_id("csr_text").get("aria-invalid") == "true"
    weak = _ask(gaj, make_csr(rsa_key(1024))[1].encode())
    assert weak.status_code == 422 and "RSA 1024" in weak.text and "强度不足" in weak.text
    foreign = _ask(gaj, make_csr()[1], system="mzj.nosuch", as_file=False)
    assert foreign.status_code == 422 and "没有代码为 mzj.nosuch 的应用系统" in foreign.text


def test_renewal_keeps_the_old_certificate_and_the_department_revokes_it(pkicity, browser):
    gaj, sec = browser("gaj"), browser("sec")
    _ask(gaj, make_csr()[1])
    _approve_first(sec)
    [row] = _table(gaj.get("/certificates"), "certificates")
    old = row.split()[0]
    offered = gaj.get(f"/certificates?renews={old}")
    assert f'<option value="{old}" selected>续期 gaj 的证书 {old}' in offered.text
    renewing = _ask(gaj, make_csr()[1], renews=old)
    assert f"续期证书 {old}" in _flash(renewing)
    approved = _approve_first(sec)
    assert f"原证书 {old} 仍有效至" in approved and "到期前可继续使用" in approved
    rows = _table(gaj.get("/certificates"), "certificates")
    assert len(rows) == 2 and all("有效" in r for r in rows)
    nothing = gaj.post("/certificates/revoke", {"serial": old, "reason": ""})
    assert "请选择吊销原因" in _flash(nothing)
    revoked = gaj.post("/certificates/revoke", {"serial": old, "reason": "superseded"})
    assert f"证书 {old} (gaj) 已吊销, 原因: 已被替换" in _flash(revoked)
    assert "已吊销 (已被替换)" in next(r for r in _table(revoked, "certificates") if r.startswith(old))
    mzj = browser("mzj").post("/certificates/revoke", {"serial": rows[1].split()[0], "reason": "keyCompromise"})
    assert "未能吊销证书" in _flash(mzj) and "属于其他部门" in _flash(mzj)


def test_the_security_admin_refuses_with_a_reason_the_department_reads(pkicity, browser):
    gaj, sec = browser("gaj"), browser("sec")
    _ask(gaj, make_csr()[1])
    blank = sec.post("/certificates/decide", {"id": "1", "decision": "refuse", "reason": ""})
    assert "请填写拒绝理由" in _flash(blank)
    refused = sec.post("/certificates/decide", {"id": "1", "decision": "refuse", "reason": "请为应用系统单独申请"})
    assert "已拒绝证书申请 #1" in _flash(refused)
    assert "拒绝理由: 请为应用系统单独申请" in _table(gaj.get("/certificates"), "requests")[0]
    again = sec.post("/certificates/decide", {"id": "1", "decision": "approve"})
    assert "已由 sec 处理 (已拒绝)" in _flash(again)


def test_certificates_ending_within_30_days_are_highlighted(pkicity, browser, sessions):
    gaj, sec = browser("gaj"), browser("sec")
    for _ in range(2):
        _ask(gaj, make_csr()[1])
        _approve_first(sec)
    with unit_of_work(sessions) as session:
        soon, later = session.scalars(select(Certificate).order_by(Certificate.issued, Certificate.serial)).all()
        soon.not_after, later.not_after = utcnow() + timedelta(days=5, hours=1), utcnow() + timedelta(days=90)
        serials = soon.serial, later.serial
    page = sec.get("/certificates/admin")
    [row] = _table(page, "expiring-certificates")
    assert serials[0] in row and "即将到期" in row and "临江市公安局" in row and "| 5 |" in row
    assert html.fromstring(page.text).get_element_by_id("expiring-certificates").find(".//tbody/tr").get(
        "class") == "overdue"
    mine = gaj.get("/certificates")
    assert "即将到期" in next(r for r in _table(mine, "certificates") if r.startswith(serials[0]))
    assert "即将到期" not in next(r for r in _table(mine, "certificates") if r.startswith(serials[1]))
    revoked = sec.post("/certificates/revoke", {"serial": serials[0], "reason": "keyCompromise", "back": "admin"})
    assert "已吊销" in _flash(revoked) and "天内没有到期的证书" in _table(revoked, "expiring-certificates")[0]
