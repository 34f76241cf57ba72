"""The platform's key domains and keys are its own: no department claims them (E_keyUnavailable),
over real HTTP, while each department keeps its own partition and the ones it claims."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from directory.accounts import create_user, register_department
from directory.uddi import store
from directory.uddi.publication import publish_entity
from registry.db import unit_of_work
from registry.models import KeyPartition

from .conftest import NS, PASSWORD, UDDI_NS, credit_code

U = f'xmlns="{UDDI_NS}"'
TYPES = "uddi:uddi.org:categorization:types"


def _save_keygenerator(post, tok, key):
    return post("publication", f"""<save_tModel {U}>AUTH<tModel tModelKey="{key}">
        <name>{key}</name><categoryBag><keyedReference tModelKey="{TYPES}" keyValue="keyGenerator"/></categoryBag>
        </tModel></save_tModel>""", token=tok)


def _save_service(post, tok, business_key, key):
    return post("publication", f"""<save_service {U}>AUTH<businessService businessKey="{business_key}"
        serviceKey="{key}"><name xml:lang="zh-CN">户籍人口信息查询</name></businessService></save_service>""",
                token=tok)


def test_a_department_cannot_claim_the_node_key_domain_nor_then_assign_keys_in_it(post, token, gaj, sessions):
    tok = token(gaj.username)
    claim = _save_keygenerator(post, tok, "uddi:govshare.local:keygenerator")
    assert (claim.errno, claim.err_code) == ("40100", "E_keyUnavailable")
    assert "uddi:govshare.local:keygenerator" in claim.fault_string
    assert f"use a key under {gaj.partition}" in claim.fault_string
    squat = _save_service(post, tok, gaj.business_key, "uddi:govshare.local:platform:uddi-subscription")
    assert (squat.errno, squat.err_code) == ("40100", "E_keyUnavailable")
    assert "the node's own key domain" in squat.fault_string
    with sessions() as session:
        assert session.scalar(select(KeyPartition).where(KeyPartition.prefix == "uddi:govshare.local")) is None
        owner = store.get(session, "uddi:govshare.local:keygenerator")
        assert owner is not None and owner.owner_id is None  # still the node's key generator tModel


@pytest.mark.parametrize("key", [
    "uddi:govshare.local:platform:keygenerator",  # a narrower partition of the node's domain
    "uddi:govshare:keygenerator",  # the platform taxonomies
    "uddi:govshare:categorization:keygenerator",
    "uddi:uddi.org:keygenerator",  # the specification's canonical tModels
    "uddi:uddi.org:transport:keygenerator",
])
def test_a_department_cannot_claim_a_key_domain_of_the_platform(post, token, gaj, sessions, key):
    reply = _save_keygenerator(post, token(gaj.username), key)
    assert (reply.errno, reply.err_code) == ("40100", "E_keyUnavailable")
    assert "no department may claim" in reply.fault_string or "the platform registered" in reply.fault_string
    with sessions() as session:
        assert session.scalar(select(KeyPartition).where(KeyPartition.prefix == key.removesuffix(":keygenerator"))) \
            is None


def test_a_node_domain_partition_claimed_before_it_was_reserved_gives_no_keys(post, token, gaj, sessions):
    with unit_of_work(sessions) as session:  # as a database where the claim went through used to hold it
        dept_id = store.get(session, gaj.business_key).owner_id
        session.add(KeyPartition(prefix="uddi:govshare.local", department_id=dept_id))
    reply = _save_service(post, token(gaj.username), gaj.business_key, "uddi:govshare.local:exchange-mirror")
    assert (reply.errno, reply.err_code) == ("40100", "E_keyUnavailable")


def test_a_department_cannot_take_over_a_tmodel_the_platform_registered(post, token, gaj):
    reply = post("publication", f"""<save_tModel {U}>AUTH<tModel tModelKey="{TYPES}"><name>被改写的分类</name>
        </tModel></save_tModel>""", token=token(gaj.username))
    assert (reply.errno, reply.err_code) == ("40100", "E_keyUnavailable")
    assert "the platform registered for itself" in reply.fault_string
    still = post("inquiry", f"<get_tModelDetail {U}><tModelKey>{TYPES}</tModelKey></get_tModelDetail>")
    assert still.payload.findtext("u:tModel/u:name", namespaces=NS) == "uddi-org:types"


def test_a_department_cannot_claim_another_departments_partition(post, token, gaj, mzj):
    claim = _save_keygenerator(post, token(gaj.username), f"{mzj.partition}:keygenerator")
    assert (claim.errno, claim.err_code) == ("40100", "E_keyUnavailable")
    assert "code 'mzj'" in claim.fault_string
    own = _save_service(post, token(mzj.username), mzj.business_key, f"{mzj.partition}:resource:dibao")
    assert own.status == 200, own.fault_string


def test_a_department_cannot_claim_the_partition_of_a_department_not_yet_registered(post, token, gaj, sessions,
                                                                                     settings):
    claim = _save_keygenerator(post, token(gaj.username), "uddi:swj.govshare.local:keygenerator")
    assert (claim.errno, claim.err_code) == ("40100", "E_keyUnavailable")
    assert "code 'swj'" in claim.fault_string
    with unit_of_work(sessions) as session:  # the department the partition is kept for registers later
        swj = register_department(session, settings, code="swj", name="市商务局", credit_code=credit_code(
            "11330100MB3456789"))
        create_user(session, username="swj-publisher", password=PASSWORD, department=swj)
        business_key = swj.business_key
    own = _save_service(post, token("swj-publisher"), business_key, "uddi:swj.govshare.local:resource:trade")
    assert own.status == 200, own.fault_string


def test_a_department_cannot_claim_a_partition_holding_keys_of_the_platform(post, token, gaj, sessions, settings):
    tmodel = store.fresh("tModel", {"tModelKey": "uddi:shared.example.cn:interface"})
    store.sub(tmodel, "name", text="平台登记的接口规范")
    with unit_of_work(sessions) as session:
        publish_entity(session, settings, "tmodel", tmodel, department=None, authorized_name="admin")
    claim = _save_keygenerator(post, token(gaj.username), "uddi:shared.example.cn:keygenerator")
    assert (claim.errno, claim.err_code) == ("40100", "E_keyUnavailable")
    assert "uddi:shared.example.cn:interface" in claim.fault_string


def test_a_department_still_updates_an_entity_whose_key_the_node_generated(post, token, gaj):
    tok = token(gaj.username)
    saved = post("publication", f"""<save_service {U}>AUTH<businessService businessKey="{gaj.business_key}">
        <name>户籍人口</name></businessService></save_service>""", token=tok)
    key = saved.payload[0].get("serviceKey")
    assert key.startswith("uddi:govshare.local:")
    again = _save_service(post, tok, gaj.business_key, key)
    assert again.status == 200, again.fault_string
