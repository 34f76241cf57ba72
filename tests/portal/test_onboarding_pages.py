"""The 登记 pages over real HTTP: the public 申请登记 form (no sign-in, errors beside their fields in
Chinese), 登记审核 and 部门管理 (the administrator's: approve or refuse, suspend or reinstate - a
suspended department's people are signed out and cannot sign in), 应用系统 (a department's own), and the
使用申请 form's choice of application system."""

from __future__ import annotations

import html

import requests
from lxml import etree
from sqlalchemy import select

from directory.demo import credit_code_for
from directory.taxonomies import PROVIDER_CODE
from registry.models import AuditEntry, Department
from tests.uddi.conftest import UDDI_NS

from .conftest import Browser

WJW = credit_code_for("00250110")
FORM = {"name": "临江市卫生健康委员会", "code": "wjw", "credit_code": WJW, "division_code": "330100",
        "connection_mode": "front_node", "contact_name": "王明", "contact_phone": "0571-87000001",
        "contact_email": "", "description": ""}


def _flash(text: str, kind: str = "error") -> str:
    return html.unescape(text.split(f'class="flash {kind}"')[1].split(">", 1)[1].split("</")[0])


def _field_error(text: str, name: str) -> str:
    return html.unescape(text.split(f'id="err-{name}">')[1].split("</p>")[0])


def _filed(live_server) -> int:
    """An anonymous visitor files wjw's application: its number."""
    visitor = Browser(live_server.url)
    visitor.get("/register")
    r = visitor.post("/register", FORM)
    assert r.status_code == 200 and "已提交" in r.text, r.text[:800]
    return int(r.text.split("登记申请 #")[1].split(" ")[0])


def _inquiry(live_server, body: str) -> etree._Element:
    """The answer of the UDDI inquiry API (checked against uddi_v3.xsd by the node before it is sent)."""
    envelope = f'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>{body}</soap:Body>' \
               '</soap:Envelope>'
    r = requests.post(f"{live_server.url}/uddi/inquiry", data=envelope.encode(), timeout=30,
                      headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
    assert r.status_code == 200, r.text
    return etree.fromstring(r.content)


def _find_business(live_server, inner: str) -> list[str]:
    found = _inquiry(live_server, f'<find_business xmlns="{UDDI_NS}">{inner}</find_business>')
    return [i.findtext(f"{{{UDDI_NS}}}name") for i in found.iter(f"{{{UDDI_NS}}}businessInfo")]


def test_the_login_page_links_to_the_public_application_form(browser, city):
    visitor = browser()
    assert 'href="/portal/register"' in visitor.get("/login").text
    r = visitor.get("/register")
    assert r.status_code == 200 and "部门申请登记" in r.text and 'name="connection_mode"' in r.text
    assert "前置交换节点" in r.text and "部门平台节点" in r.text


def test_an_empty_application_shows_each_fields_error_in_chinese(browser, city):
    visitor = browser()
    visitor.get("/register")
    r = visitor.post("/register", {name: "" for name in FORM})
    assert r.status_code == 422
    assert _field_error(r.text, "credit_code") == "请填写统一社会信用代码。"
    assert _field_error(r.text, "connection_mode") == "请填写接入方式。"
    assert 'id="err-contact_email"' not in r.text


def test_a_wrong_credit_code_is_shown_beside_its_field_and_the_form_keeps_its_values(browser, city):
    visitor = browser()
    visitor.get("/register")
    r = visitor.post("/register", {**FORM, "credit_code": "11330100002501108A", "contact_phone": "call"})
    assert r.status_code == 422
    assert _field_error(r.text, "credit_code").startswith("11330100002501108A 不是有效的统一社会信用代码")
    assert _field_error(r.text, "contact_phone").startswith("联系电话须为电话号码")
    assert 'value="临江市卫生健康委员会"' in r.text and '<option value="front_node" selected>' in r.text


def test_the_public_form_needs_its_csrf_token(browser, city):
    visitor = browser()
    visitor.get("/register")
    assert visitor.post("/register", FORM, csrf=False).status_code == 400


def test_an_application_is_filed_without_signing_in_and_recorded(browser, city, sessions, live_server):
    number = _filed(live_server)
    with sessions() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.operation == "department.apply"))
    assert (entry.result, entry.channel, entry.user) == ("ok", "portal", None)
    assert f"登记申请 #{number}" in entry.detail and "from 127.0.0.1" in entry.detail


def test_the_administrator_approves_and_the_department_is_in_the_directory(browser, city, sessions, live_server):
    number = _filed(live_server)
    admin = browser("admin")
    r = admin.get("/registrations")
    assert f'id="registration-{number}"' in r.text and "临江市卫生健康委员会" in r.text and "前置交换节点" in r.text
    r = admin.post("/registrations/decide", {"id": str(number), "decision": "approve"})
    assert _flash(r.text, "success") == (f"已批准登记申请 #{number}: 临江市卫生健康委员会 (wjw) 已登记, "
                                         "并已发布到资源目录。")
    with sessions() as s:
        assert s.scalar(select(Department).where(Department.code == "wjw")).contact_name == "王明"
    assert _find_business(live_server, '<name xml:lang="zh-CN">临江市卫生健康委员会</name>') == ["临江市卫生健康委员会"]
    by_code = f'<identifierBag><keyedReference tModelKey="{PROVIDER_CODE}" keyValue="{WJW}"/></identifierBag>'
    assert _find_business(live_server, by_code) == ["临江市卫生健康委员会"]
    detail = _inquiry(live_server, f'<get_businessDetail xmlns="{UDDI_NS}"><businessKey>'
                                   'uddi:wjw.govshare.local:business</businessKey></get_businessDetail>')
    assert [e.text for e in detail.iter(f"{{{UDDI_NS}}}personName", f"{{{UDDI_NS}}}phone")] == ["王明",
                                                                                                "0571-87000001"]


def test_a_refusal_needs_its_reason(browser, city, live_server):
    number = _filed(live_server)
    admin = browser("admin")
    admin.get("/registrations")
    r = admin.post("/registrations/decide", {"id": str(number), "decision": "refuse", "reason": ""})
    assert _flash(r.text) == f"未能审核登记申请 #{number}: 请填写拒绝理由。"
    r = admin.post("/registrations/decide", {"id": str(number), "decision": "refuse", "reason": "材料不全"})
    assert _flash(r.text, "success") == f"已拒绝登记申请 #{number}。"
    assert "材料不全" in admin.get("/registrations?status=refused").text


def test_only_the_administrator_reviews_and_manages_departments(browser, city):
    for user in ("mzj", "auditor"):
        page = browser(user)
        assert page.get("/registrations").status_code == 403
        assert page.get("/departments").status_code == 403
        assert page.post("/departments/status", {"department": "gaj", "change": "suspend",
                                                 "reason": "x"}).status_code == 403
    anonymous = browser()
    r = anonymous.get("/registrations", allow_redirects=False)
    assert r.status_code == 302 and "/portal/login" in r.headers["Location"]


def test_the_navigation_shows_the_pages_each_role_may_use(browser, city):
    admin, mzj, auditor = browser("admin").get("/").text, browser("mzj").get("/").text, browser("auditor").get("/").text
    assert "登记审核" in admin and "部门管理" in admin and "应用系统" in admin
    assert "登记审核" not in mzj and "应用系统" in mzj
    assert "登记审核" not in auditor and "应用系统" not in auditor


def test_a_suspended_departments_people_are_signed_out_until_it_is_reinstated(browser, city):
    mzj = browser("mzj")
    admin = browser("admin")
    admin.get("/departments")
    r = admin.post("/departments/status", {"department": "mzj", "change": "suspend", "reason": ""})
    assert _flash(r.text) == "未能办理: 请填写暂停原因。"
    r = admin.post("/departments/status", {"department": "mzj", "change": "suspend", "reason": "安全检查整改"})
    assert _flash(r.text, "success") == "临江市民政局 已暂停接入: 其用户已被登出, 恢复前不能使用平台。"
    assert "安全检查整改" in r.text and "恢复接入" in r.text
    r = mzj.get("/applications")
    assert "用户登录" in r.text and "退出" not in r.text  # signed out at the next request
    again = Browser(mzj.base.removesuffix("/portal"))
    r = again.login("mzj")
    assert "退出" not in r.text and "临江市民政局 已被暂停接入" in r.text
    r = admin.post("/departments/status", {"department": "mzj", "change": "reinstate"})
    assert _flash(r.text, "success") == "临江市民政局 已恢复接入。"
    assert "退出" in Browser(mzj.base.removesuffix("/portal")).login("mzj").text


def test_a_department_registers_and_suspends_its_systems(browser, city):
    mzj = browser("mzj")
    mzj.get("/systems")
    r = mzj.post("/systems", {"code": "Di Bao", "name": ""})
    assert r.status_code == 422
    assert _field_error(r.text, "code") == "系统代码须为 2 至 31 位小写字母、数字或连字符, 以字母开头。"
    assert _field_error(r.text, "name") == "请填写系统名称。"
    r = mzj.post("/systems", {"code": "dibao", "name": "低保核对系统", "description": "城乡低保资格核对"})
    assert _flash(r.text, "success") == "应用系统 mzj.dibao (低保核对系统) 已登记。"
    assert 'id="system-mzj.dibao"' in r.text
    r = mzj.post("/systems/status", {"system": "mzj.dibao", "change": "suspend", "reason": ""})
    assert _flash(r.text) == "未能办理: 请填写暂停原因。"
    gaj = browser("gaj")
    gaj.get("/systems")
    assert "mzj.dibao" not in gaj.get("/systems").text
    r = gaj.post("/systems/status", {"system": "mzj.dibao", "change": "suspend", "reason": "x"})
    assert _flash(r.text) == "未能办理: 应用系统 mzj.dibao 属于其他部门, 您不能操作。"
    r = mzj.post("/systems/status", {"system": "mzj.dibao", "change": "suspend", "reason": "证书泄露排查"})
    assert _flash(r.text, "success") == "应用系统 mzj.dibao 已暂停。"


def test_the_application_form_offers_the_departments_active_systems(browser, city):
    mzj = browser("mzj")
    assert 'name="system"' not in mzj.get(f"/apply?code={city.conditional}").text  # no systems yet
    mzj.get("/systems")
    mzj.post("/systems", {"code": "dibao", "name": "低保核对系统"})
    r = mzj.get(f"/apply?code={city.conditional}")
    assert '<option value="mzj.dibao">低保核对系统 (mzj.dibao)</option>' in r.text
    r = mzj.post("/apply", {"code": city.conditional, "purpose": "低保资格核查", "until": "2099-12-31",
                            "system": "mzj.dibao"})
    assert "已提交" in r.text and "应用系统 mzj.dibao" in r.text
    gaj = browser("gaj")
    assert "应用系统 <span class=\"code\">mzj.dibao</span>" in gaj.get("/inbox").text


def test_one_address_files_a_few_applications_an_hour_on_the_public_form(browser, city, sessions):
    from governance.onboarding import APPLICATIONS_PER_HOUR
    from registry.models import DepartmentApplication

    visitor = browser()
    visitor.get("/register")

    def form(n: int) -> dict:
        return {**FORM, "code": f"flood{n}", "name": f"临江市测试局{n}",
                "credit_code": credit_code_for(f"002503{n:02d}")}

    for n in range(APPLICATIONS_PER_HOUR):
        r = visitor.post("/register", form(n))
        assert r.status_code == 200 and "已提交" in r.text, r.text[:800]
    r = visitor.post("/register", form(APPLICATIONS_PER_HOUR))
    assert r.status_code == 422
    assert _flash(r.text) == (f"同一网络地址一小时内最多提交 {APPLICATIONS_PER_HOUR} 份登记申请, 请稍后再试, "
                              "或请平台管理员代为录入。")
    with sessions() as session:
        kept = session.scalars(select(DepartmentApplication.submitted_from)).all()
    assert kept == ["127.0.0.1"] * APPLICATIONS_PER_HOUR
