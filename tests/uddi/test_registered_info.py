"""get_registeredInfo: a publisher lists the businessEntities and tModels it controls."""

from __future__ import annotations

import pytest

from directory.accounts import create_user
from registry.db import unit_of_work
from registry.settings import Settings
from wsdl.oasis import uddi_xmlschema

from .conftest import NS, PASSWORD, UDDI_NS

U = f'xmlns="{UDDI_NS}"'


def _save_tmodel(post, tok, key, name):
    reply = post("publication", f'<save_tModel {U}>AUTH<tModel tModelKey="{key}"><name>{name}</name></tModel>'
                 "</save_tModel>", token=tok)
    assert reply.status == 200, reply.fault_string


def _registered(post, tok, selection="all"):
    reply = post("publication", f'<get_registeredInfo {U} infoSelection="{selection}">AUTH</get_registeredInfo>',
                 token=tok)
    assert reply.status == 200, reply.fault_string
    uddi_xmlschema().validate(reply.payload)
    return reply.payload


def _keys(payload, info):
    attr = "businessKey" if info == "businessInfo" else "tModelKey"
    return [el.get(attr) for el in payload.iter(f"{{{UDDI_NS}}}{info}")]


def test_get_registered_info_lists_what_the_publisher_owns_and_nothing_else(post, token, gaj, mzj):
    tok = token(gaj.username)
    _save_tmodel(post, tok, f"{gaj.partition}:spec:hjrk", "户籍人口接口规范")
    _save_tmodel(post, token(mzj.username), f"{mzj.partition}:spec:dibao", "低保接口规范")
    service = post("publication", f"""<save_service {U}>AUTH<businessService businessKey="{gaj.business_key}">
        <name xml:lang="zh-CN">户籍人口信息查询</name></businessService></save_service>""", token=tok)
    payload = _registered(post, tok)
    assert payload.get("truncated") == "false"
    assert _keys(payload, "businessInfo") == [gaj.business_key]
    assert payload.findtext("u:businessInfos/u:businessInfo/u:name", namespaces=NS) == "市公安局"
    assert [s.get("serviceKey") for s in payload.iter(f"{{{UDDI_NS}}}serviceInfo")] == \
        [service.payload[0].get("serviceKey")]
    assert _keys(payload, "tModelInfo") == [f"{gaj.partition}:spec:hjrk"]


def test_get_registered_info_selects_hidden_or_visible_tmodels(post, token, gaj):
    tok = token(gaj.username)
    _save_tmodel(post, tok, f"{gaj.partition}:spec:current", "现行规范")
    _save_tmodel(post, tok, f"{gaj.partition}:spec:retired", "废止规范")
    deleted = post("publication", f"<delete_tModel {U}>AUTH<tModelKey>{gaj.partition}:spec:retired</tModelKey>"
                   "</delete_tModel>", token=tok)
    assert deleted.status == 200, deleted.fault_string
    assert _keys(_registered(post, tok, "hidden"), "tModelInfo") == [f"{gaj.partition}:spec:retired"]
    assert _keys(_registered(post, tok, "visible"), "tModelInfo") == [f"{gaj.partition}:spec:current"]
    assert sorted(_keys(_registered(post, tok, "all"), "tModelInfo")) == \
        [f"{gaj.partition}:spec:current", f"{gaj.partition}:spec:retired"]
    assert _keys(_registered(post, tok, "hidden"), "businessInfo") == [gaj.business_key]  # businesses are never hidden


def test_get_registered_info_of_a_platform_administrator_lists_the_nodes_tmodels(post, token, sessions):
    with unit_of_work(sessions) as session:
        create_user(session, username="platform-admin", password=PASSWORD, department=None, roles=("admin",))
    keys = _keys(_registered(post, token("platform-admin"), "visible"), "tModelInfo")
    assert {"uddi:uddi.org:categorization:types", "uddi:govshare:categorization:sharing-type"} <= set(keys)


class TestOnANodeAnsweringTwoRows:
    @pytest.fixture
    def settings(self, db_url, tmp_path) -> Settings:
        return Settings.from_env(db_url=db_url, var_dir=tmp_path, wss_policy="optional", max_rows=2)

    def test_get_registered_info_is_cut_at_max_rows_and_says_so(self, post, token, gaj):
        tok = token(gaj.username)
        for name in ("甲", "乙", "丙"):
            _save_tmodel(post, tok, f"{gaj.partition}:spec:{ord(name)}", f"规范{name}")
        payload = _registered(post, tok)
        assert payload.get("truncated") == "true"
        assert len(_keys(payload, "tModelInfo")) == 2
        assert _keys(payload, "businessInfo") == [gaj.business_key]


def test_get_registered_info_needs_an_auth_token(post):
    reply = post("publication", f'<get_registeredInfo {U} infoSelection="all"/>')
    assert (reply.errno, reply.err_code) == ("10120", "E_authTokenRequired")


def test_get_registered_info_without_info_selection_is_refused_by_the_schema(post, token, gaj):
    reply = post("publication", f"<get_registeredInfo {U}>AUTH</get_registeredInfo>", token=token(gaj.username))
    assert (reply.errno, reply.err_code) == ("20200", "E_invalidValue")
    assert "infoSelection" in reply.fault_string
