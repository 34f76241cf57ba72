"""Every response validates against uddi_v3.xsd (xmlschema), and each error carries the
spec's errno and errCode in a dispositionReport."""

from __future__ import annotations

import pytest

from directory.taxonomies import CLASSIFICATION, SHARING_TYPE
from wsdl.oasis import uddi_xmlschema

from .conftest import UDDI_NS

U = f'xmlns="{UDDI_NS}"'


def _assert_valid(reply):
    assert reply.status == 200, reply.fault_string
    uddi_xmlschema().validate(reply.payload)


def _save_service(post, tok, business_key, name, *, key="", cls="101", sharing="无条件共享"):
    key_attr = f' serviceKey="{key}"' if key else ""
    return post("publication", f"""<save_service {U}>AUTH
      <businessService businessKey="{business_key}"{key_attr}>
        <name xml:lang="zh-CN">{name}</name>
        <categoryBag>
          <keyedReference tModelKey="{CLASSIFICATION}" keyName="资源分类" keyValue="{cls}"/>
          <keyedReference tModelKey="{SHARING_TYPE}" keyName="共享类型" keyValue="{sharing}"/>
        </categoryBag>
      </businessService></save_service>""", token=tok)


def test_every_inquiry_response_validates_against_the_schema(post, token, gaj):
    tok = token(gaj.username)
    saved = _save_service(post, tok, gaj.business_key, "户籍人口信息查询")
    _assert_valid(saved)
    service_key = saved.payload[0].get("serviceKey")
    binding = post("publication", f"""<save_binding {U}>AUTH
      <bindingTemplate serviceKey="{service_key}">
        <accessPoint useType="endPoint">http://10.1.2.3/services/population</accessPoint>
        <tModelInstanceDetails><tModelInstanceInfo tModelKey="uddi:uddi.org:protocol:soap"/></tModelInstanceDetails>
      </bindingTemplate></save_binding>""", token=tok)
    _assert_valid(binding)
    binding_key = binding.payload[0].get("bindingKey")
    for api, body in [
        ("inquiry", f'<find_business {U}><name>市公安局</name></find_business>'),
        ("inquiry", f'<find_service {U} maxRows="5"><name>户籍人口信息查询</name></find_service>'),
        ("inquiry", f'<find_binding {U} serviceKey="{service_key}"/>'),
        ("inquiry", f'<find_tModel {U}><name>govshare:共享类型</name></find_tModel>'),
        ("inquiry", f'<get_businessDetail {U}><businessKey>{gaj.business_key}</businessKey></get_businessDetail>'),
        ("inquiry", f'<get_serviceDetail {U}><serviceKey>{service_key}</serviceKey></get_serviceDetail>'),
        ("inquiry", f'<get_bindingDetail {U}><bindingKey>{binding_key}</bindingKey></get_bindingDetail>'),
        ("inquiry", f'<get_tModelDetail {U}><tModelKey>{SHARING_TYPE}</tModelKey></get_tModelDetail>'),
        ("inquiry", f'<get_operationalInfo {U}><entityKey>{service_key}</entityKey></get_operationalInfo>'),
    ]:
        _assert_valid(post(api, body))


def test_business_detail_nests_its_services_and_bindings(post, token, gaj):
    tok = token(gaj.username)
    _save_service(post, tok, gaj.business_key, "户籍人口信息查询")
    detail = post("inquiry", f"<get_businessDetail {U}><businessKey>{gaj.business_key}</businessKey>"
                  "</get_businessDetail>")
    services = detail.payload.findall(f".//{{{UDDI_NS}}}businessService")
    assert [s.findtext(f"{{{UDDI_NS}}}name") for s in services] == ["户籍人口信息查询"]


@pytest.mark.parametrize("errno,err_code,api,body", [
    ("10120", "E_authTokenRequired", "publication", f'<delete_service {U}><authInfo>forged</authInfo>'
                                                    "<serviceKey>uddi:x.y:z</serviceKey></delete_service>"),
    ("10210", "E_invalidKeyPassed", "inquiry", f'<get_serviceDetail {U}><serviceKey>uddi:no.such:key</serviceKey>'
                                               "</get_serviceDetail>"),
    ("10210", "E_invalidKeyPassed", "inquiry", f'<get_businessDetail {U}><businessKey>not a key</businessKey>'
                                               "</get_businessDetail>"),
    ("10050", "E_unsupported", "inquiry", f'<find_service {U}><findQualifiers><findQualifier>fuzzyMatch'
                                          "</findQualifier></findQualifiers><name>x</name></find_service>"),
    ("10050", "E_unsupported", "inquiry", f'<find_service {U}><findQualifiers><findQualifier>'
                                          "uddi:uddi.org:findqualifier:signaturepresent</findQualifier>"
                                          "</findQualifiers></find_service>"),
    ("40500", "E_invalidCombination", "inquiry", f'<find_service {U}><findQualifiers>'
                                                 "<findQualifier>exactMatch</findQualifier>"
                                                 "<findQualifier>approximateMatch</findQualifier>"
                                                 "</findQualifiers><name>x</name></find_service>"),
    ("40500", "E_invalidCombination", "inquiry", f'<find_tModel {U}><findQualifiers>'
                                                 "<findQualifier>sortByNameAsc</findQualifier>"
                                                 "<findQualifier>uddi:uddi.org:findqualifier:sortbynamedesc"
                                                 "</findQualifier></findQualifiers></find_tModel>"),
    ("10020", "E_nameTooLong", "inquiry", f'<find_business {U}><name>{"长" * 256}</name></find_business>'),
    ("10150", "E_unknownUser", "security", f'<get_authToken {U} userID="nobody" cred="wrong"/>'),
    ("10050", "E_unsupported", "inquiry", f'<save_service {U}><authInfo>x</authInfo></save_service>'),
    ("20200", "E_invalidValue", "inquiry", f'<find_service {U}><bogus/></find_service>'),
])
def test_errors_carry_the_spec_errno_and_errcode(post, errno, err_code, api, body):
    reply = post(api, body)
    assert reply.status == 500
    assert (reply.errno, reply.err_code) == (errno, err_code), reply.fault_string
    assert err_code in reply.fault_string
    uddi_xmlschema().validate(reply.root.find(".//{%s}dispositionReport" % UDDI_NS))


def test_expired_token_gives_e_auth_token_expired(post, token, gaj, sessions):
    from datetime import timedelta

    from sqlalchemy import update

    from registry.clock import utcnow
    from registry.db import unit_of_work
    from registry.models import AuthToken

    tok = token(gaj.username)
    with unit_of_work(sessions) as session:
        session.execute(update(AuthToken).values(expires=utcnow() - timedelta(seconds=1)))
    reply = _save_service(post, tok, gaj.business_key, "过期令牌")
    assert (reply.errno, reply.err_code) == ("10110", "E_authTokenExpired")


def test_discarded_token_is_refused(post, token, gaj):
    tok = token(gaj.username)
    assert post("security", f"<discard_authToken {U}>AUTH</discard_authToken>", token=tok).status == 200
    reply = _save_service(post, tok, gaj.business_key, "已注销令牌")
    assert reply.err_code == "E_authTokenRequired"


def test_a_publisher_cannot_change_another_departments_entities(post, token, gaj, mzj):
    saved = _save_service(post, token(gaj.username), gaj.business_key, "户籍人口信息查询")
    key = saved.payload[0].get("serviceKey")
    intruder = token(mzj.username)
    deleted = post("publication", f"<delete_service {U}>AUTH<serviceKey>{key}</serviceKey></delete_service>",
                   token=intruder)
    assert (deleted.errno, deleted.err_code) == ("10140", "E_userMismatch")
    hijack = _save_service(post, intruder, gaj.business_key, "冒名服务")
    assert hijack.err_code == "E_userMismatch"
    still = post("inquiry", f"<get_serviceDetail {U}><serviceKey>{key}</serviceKey></get_serviceDetail>")
    assert still.status == 200


def test_publisher_assigned_keys_are_accepted_inside_the_partition_only(post, token, gaj):
    tok = token(gaj.username)
    own_key = f"{gaj.partition}:resource:hjrk"
    mine = _save_service(post, tok, gaj.business_key, "户籍人口", key=own_key.upper())
    assert mine.status == 200
    assert mine.payload[0].get("serviceKey") == own_key  # keys are case-insensitive, stored lower case
    foreign = _save_service(post, tok, gaj.business_key, "越界", key="uddi:mzj.govshare.local:resource:x")
    assert (foreign.errno, foreign.err_code) == ("40100", "E_keyUnavailable")


def test_keys_are_case_insensitive_on_lookup(post, token, gaj):
    tok = token(gaj.username)
    saved = _save_service(post, tok, gaj.business_key, "大小写", key=f"{gaj.partition}:resource:case")
    key = saved.payload[0].get("serviceKey")
    reply = post("inquiry", f"<get_serviceDetail {U}><serviceKey>{key.upper()}</serviceKey></get_serviceDetail>")
    assert reply.payload[0].get("serviceKey") == key


def test_a_value_outside_a_checked_taxonomy_is_refused(post, token, gaj):
    reply = _save_service(post, token(gaj.username), gaj.business_key, "错误共享类型", sharing="随便共享")
    assert (reply.errno, reply.err_code) == ("20200", "E_invalidValue")
    assert "随便共享" in reply.fault_string


def test_a_reference_to_an_unknown_tmodel_is_refused(post, token, gaj):
    reply = post("publication", f"""<save_service {U}>AUTH<businessService businessKey="{gaj.business_key}">
        <name>x</name><categoryBag><keyedReference tModelKey="uddi:nowhere.example:tax" keyValue="1"/></categoryBag>
        </businessService></save_service>""", token=token(gaj.username))
    assert reply.err_code == "E_invalidKeyPassed"
    assert "uddi:nowhere.example:tax" in reply.fault_string


def test_a_failed_save_changes_nothing(post, token, gaj):
    tok = token(gaj.username)
    reply = post("publication", f"""<save_service {U}>AUTH
        <businessService businessKey="{gaj.business_key}"><name>第一个</name></businessService>
        <businessService businessKey="{gaj.business_key}"><name>第二个</name><categoryBag>
          <keyedReference tModelKey="{SHARING_TYPE}" keyValue="不存在的类型"/></categoryBag></businessService>
        </save_service>""", token=tok)
    assert reply.err_code == "E_invalidValue"
    found = post("inquiry", f"<find_service {U}><name>第一个</name></find_service>")
    assert found.payload.find(f"{{{UDDI_NS}}}serviceInfos") is None


def test_key_generator_tmodel_grants_a_new_partition(post, token, gaj, mzj):
    tok = token(gaj.username)
    gen = post("publication", f"""<save_tModel {U}>AUTH<tModel tModelKey="uddi:police.example.cn:keygenerator">
        <name>police.example.cn key generator</name><categoryBag>
        <keyedReference tModelKey="uddi:uddi.org:categorization:types" keyValue="keyGenerator"/>
        </categoryBag></tModel></save_tModel>""", token=tok)
    assert gen.status == 200, gen.fault_string
    ok = _save_service(post, tok, gaj.business_key, "新分区", key="uddi:police.example.cn:svc1")
    assert ok.status == 200
    other = post("publication", f"""<save_tModel {U}>AUTH<tModel tModelKey="uddi:police.example.cn:keygenerator">
        <name>taken</name><categoryBag>
        <keyedReference tModelKey="uddi:uddi.org:categorization:types" keyValue="keyGenerator"/>
        </categoryBag></tModel></save_tModel>""", token=token(mzj.username))
    assert other.err_code == "E_userMismatch"


def test_delete_business_removes_its_services_and_bindings(post, token, gaj, sessions):
    tok = token(gaj.username)
    saved = post("publication", f"""<save_business {U}>AUTH
      <businessEntity businessKey="{gaj.partition}:branch"><name>市公安局出入境管理支队</name>
        <businessServices><businessService><name>出入境证件信息</name>
          <bindingTemplates><bindingTemplate>
            <accessPoint useType="endPoint">http://10.1.2.3/exit-entry</accessPoint>
          </bindingTemplate></bindingTemplates>
        </businessService></businessServices>
      </businessEntity></save_business>""", token=tok)
    assert saved.status == 200, saved.fault_string
    service = saved.payload.find(f".//{{{UDDI_NS}}}businessService")
    binding = saved.payload.find(f".//{{{UDDI_NS}}}bindingTemplate")
    assert service.get("businessKey") == f"{gaj.partition}:branch"
    assert binding.get("serviceKey") == service.get("serviceKey")
    gone = post("publication", f"<delete_business {U}>AUTH<businessKey>{gaj.partition}:branch</businessKey>"
                "</delete_business>", token=tok)
    assert gone.status == 200
    service_key, binding_key = service.get("serviceKey"), binding.get("bindingKey")
    for api_body in (f"<get_serviceDetail {U}><serviceKey>{service_key}</serviceKey></get_serviceDetail>",
                     f"<get_bindingDetail {U}><bindingKey>{binding_key}</bindingKey></get_bindingDetail>"):
        assert post("inquiry", api_body).err_code == "E_invalidKeyPassed"


def test_deleted_tmodel_is_hidden_from_find_but_still_gettable(post, token, gaj):
    tok = token(gaj.username)
    key = f"{gaj.partition}:taxonomy:local"
    post("publication", f'<save_tModel {U}>AUTH<tModel tModelKey="{key}"><name>本地分类</name></tModel></save_tModel>',
         token=tok)
    post("publication", f"<delete_tModel {U}>AUTH<tModelKey>{key}</tModelKey></delete_tModel>", token=tok)
    found = post("inquiry", f"<find_tModel {U}><name>本地分类</name></find_tModel>")
    assert found.payload.find(f"{{{UDDI_NS}}}tModelInfos") is None
    detail = post("inquiry", f"<get_tModelDetail {U}><tModelKey>{key}</tModelKey></get_tModelDetail>")
    assert detail.payload[0].get("deleted") == "true"


def test_operational_info_reports_the_publisher_and_node(post, token, gaj, settings):
    saved = _save_service(post, token(gaj.username), gaj.business_key, "运行信息")
    key = saved.payload[0].get("serviceKey")
    info = post("inquiry", f"<get_operationalInfo {U}><entityKey>{key}</entityKey></get_operationalInfo>").payload[0]
    assert info.findtext(f"{{{UDDI_NS}}}authorizedName") == gaj.username
    assert info.findtext(f"{{{UDDI_NS}}}nodeID") == settings.node_id
