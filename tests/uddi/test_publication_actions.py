"""The publication API's operations are actions (uddi.save_tModel, uddi.delete_service, ...) whose
caller is the authInfo's account: its roles decide whether it publishes at all, the transport records
each call once in the audit log (channel soap, request and response digests), and inquiry stays open
and unrecorded."""

from __future__ import annotations

from sqlalchemy import select

from registry.models import AuditEntry

from .conftest import UDDI_NS


def _entries(sessions) -> list[AuditEntry]:
    with sessions() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def _save_tmodel(post, token: str, name: str = "户籍查询接口"):
    return post("publication", f'<save_tModel xmlns="{UDDI_NS}">AUTH<tModel><name>{name}</name></tModel></save_tModel>',
                token=token)


def test_a_publishers_save_is_one_soap_entry_with_its_digests(post, token, gaj, sessions):
    reply = _save_tmodel(post, token(gaj.username))
    assert reply.status == 200
    key = reply.payload.find("u:tModel", {"u": UDDI_NS}).get("tModelKey")
    [entry] = _entries(sessions)
    assert (entry.operation, entry.user, entry.department_code, entry.channel, entry.result) == (
        "uddi.save_tModel", gaj.username, "gaj", "soap", "ok")
    assert (entry.record_count, entry.resource_code, entry.detail) == (1, key, f"keys: {key}")
    assert entry.request_digest is not None and entry.response_digest is not None


def test_an_account_whose_roles_do_not_publish_is_refused_with_e_user_mismatch(make_publisher, post, token,
                                                                                sessions):
    consumer = make_publisher("mzj", "市民政局", "11330100MB2345678", roles=("consumer",))
    reply = _save_tmodel(post, token(consumer.username))
    assert (reply.status, reply.err_code) == (500, "E_userMismatch")
    assert "may not catalogue" in reply.fault_string
    [entry] = _entries(sessions)
    assert (entry.operation, entry.user, entry.channel, entry.result) == (
        "uddi.save_tModel", consumer.username, "soap", "refused:NotPermitted")
    with sessions() as session:
        assert session.scalar(select(AuditEntry.response_digest)) is None


def test_a_call_without_a_valid_token_is_recorded_as_refused(post, gaj, sessions):
    reply = _save_tmodel(post, "not-a-token")
    assert reply.err_code == "E_authTokenRequired"
    [entry] = _entries(sessions)
    assert (entry.operation, entry.user, entry.channel, entry.result) == (
        "uddi.save_tModel", None, "soap", "refused:E_authTokenRequired")


def test_get_registered_info_is_an_action_of_the_publisher(post, token, gaj, sessions):
    reply = post("publication", f'<get_registeredInfo xmlns="{UDDI_NS}" infoSelection="all">AUTH</get_registeredInfo>',
                 token=token(gaj.username))
    assert reply.status == 200
    assert reply.payload.find("u:businessInfos/u:businessInfo", {"u": UDDI_NS}).get("businessKey") == gaj.business_key
    [entry] = _entries(sessions)
    assert (entry.operation, entry.user, entry.result, entry.record_count) == (
        "uddi.get_registeredInfo", gaj.username, "ok", 1)


def test_inquiry_is_the_open_directory_and_leaves_no_entry(post, gaj, sessions):
    reply = post("inquiry", f'<find_business xmlns="{UDDI_NS}"><name>市公安局</name></find_business>')
    assert reply.status == 200
    assert reply.payload.find("u:businessInfos/u:businessInfo", {"u": UDDI_NS}).get("businessKey") == gaj.business_key
    assert _entries(sessions) == []
