"""Hostile or malformed SOAP input gets a SOAP Fault, and the server keeps serving."""

from __future__ import annotations

import requests

from .conftest import SOAP_ENV, UDDI_NS

FIND = f'<find_tModel xmlns="{UDDI_NS}"><name>govshare:共享类型</name></find_tModel>'


def _alive(post) -> bool:
    return post("inquiry", FIND).status == 200


def test_malformed_xml_is_a_client_fault(post):
    reply = post("inquiry", "", envelope="<soap:Envelope><unclosed>")
    assert reply.status == 500
    assert "not well-formed" in reply.fault_string
    assert _alive(post)


def test_entities_are_never_expanded(post):
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
            f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body><find_tModel xmlns="{UDDI_NS}">'
            "<name>&lol2;</name></find_tModel></soap:Body></soap:Envelope>")
    reply = post("inquiry", "", envelope=bomb)
    assert reply.status == 500
    assert "DTD" in reply.fault_string
    assert _alive(post)


def test_external_entity_is_refused(post):
    xxe = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
           f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body><find_tModel xmlns="{UDDI_NS}">'
           "<name>&xxe;</name></find_tModel></soap:Body></soap:Envelope>")
    reply = post("inquiry", "", envelope=xxe)
    assert reply.status == 500
    assert "root:" not in reply.fault_string


def test_soap_12_envelope_is_a_version_mismatch(post):
    env = (f'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>{FIND}</e:Body></e:Envelope>')
    reply = post("inquiry", "", envelope=env)
    assert reply.root.findtext(".//faultcode") == "soap:VersionMismatch"


def test_unprocessed_must_understand_header_is_a_fault(post):
    env = (f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Header><x:Trace xmlns:x="urn:example" '
           f'soap:mustUnderstand="1"/></soap:Header><soap:Body>{FIND}</soap:Body></soap:Envelope>')
    reply = post("inquiry", "", envelope=env)
    assert reply.root.findtext(".//faultcode") == "soap:MustUnderstand"


def test_optional_headers_are_ignored(post):
    env = (f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Header><x:Trace xmlns:x="urn:example"/></soap:Header>'
           f"<soap:Body>{FIND}</soap:Body></soap:Envelope>")
    assert post("inquiry", "", envelope=env).status == 200


def test_a_body_in_a_foreign_namespace_is_unsupported(post):
    reply = post("inquiry", '<find_tModel xmlns="urn:uddi-org:api_v2"/>')
    assert reply.err_code == "E_unsupported"


def test_an_oversized_request_is_refused_with_e_message_too_large(post, live_server, settings):
    padding = "x" * (settings.max_request_bytes + 1)
    r = requests.post(f"{live_server.url}/uddi/inquiry", data=padding.encode(),
                      headers={"Content-Type": "text/xml"}, timeout=30)
    assert r.status_code == 500
    assert b"E_messageTooLarge" in r.content
    assert _alive(post)


def test_wsdl_and_get_without_wsdl_query(live_server):
    assert requests.get(f"{live_server.url}/uddi/inquiry", timeout=10).status_code == 200
    assert requests.put(f"{live_server.url}/uddi/inquiry", data=b"x", timeout=10).status_code == 405
    assert requests.get(f"{live_server.url}/nowhere", timeout=10).status_code == 404
