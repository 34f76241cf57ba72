"""The exchange transport: hostile or malformed requests get a fault, large ones a clear
limit, and the service keeps serving."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import requests
from lxml import etree

from exchange.service import exchange_app
from tests.conftest import LiveServer, free_port
from xsd import samples
from xsd.batch import build_batch

from .conftest import EX, NS, SOAP_ENV, submit_body

STATUS = f'<ex:GetBatchStatus xmlns:ex="{EX}"><ex:batchId>{uuid.uuid4()}</ex:batchId></ex:GetBatchStatus>'


def test_a_batch_over_the_size_limit_is_refused_with_a_clear_fault(population, sessions, settings):
    small = type(settings).from_env(db_url=settings.db_url, max_batch_bytes=20_000)
    server = LiveServer(exchange_app(sessions, small), free_port()).start()
    try:
        batch = build_batch(samples.population_records(100, seed=31), provider_code=population.provider_code,
                            resource_code=population.code, created=datetime(2024, 7, 1, tzinfo=UTC))
        envelope = (f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>'.encode() + submit_body(batch)
                    + b"</soap:Body></soap:Envelope>")
        r = requests.post(server.url, data=envelope, headers={"Content-Type": "text/xml"}, timeout=30)
        reply = etree.fromstring(r.content)
        assert r.status_code == 500
        assert reply.findtext(".//ex:ExchangeFault/ex:code", namespaces=NS) == "RequestTooLarge"
        assert "20000" in reply.findtext(".//faultstring")
    finally:
        server.stop()


def test_entity_declarations_are_refused(exchange):
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
            b'<ex:GetBatchStatus xmlns:ex="http://govshare.local/xsd/exchange/1.0"><ex:batchId>&b;</ex:batchId>'
            b"</ex:GetBatchStatus></soap:Body></soap:Envelope>")
    reply = exchange(bomb, raw=True)
    assert reply.code == "XmlRefused"
    assert exchange(STATUS).code == "UnknownBatch"  # and the service keeps serving


def test_a_soap_12_envelope_is_a_version_mismatch(exchange):
    env = (f'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>{STATUS}</e:Body></e:Envelope>')
    reply = exchange(env.encode(), raw=True)
    assert reply.root.findtext(".//faultcode") == "soap:VersionMismatch"


def test_an_unprocessed_must_understand_header_is_a_fault(exchange):
    env = (f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Header><s:Security xmlns:s="urn:example" '
           f'soap:mustUnderstand="1"/></soap:Header><soap:Body>{STATUS}</soap:Body></soap:Envelope>')
    reply = exchange(env.encode(), raw=True)
    assert reply.root.findtext(".//faultcode") == "soap:MustUnderstand"


def test_an_unknown_operation_names_the_offered_ones(exchange):
    reply = exchange(f'<ex:DeleteEverything xmlns:ex="{EX}"/>')
    assert reply.code == "UnknownOperation"
    assert "SubmitBatch" in reply.fault and "GetChanges" in reply.fault


def test_the_wsdl_is_served_with_this_servers_addresses(live_server):
    wsdl = requests.get(f"{live_server.url}/exchange?wsdl", timeout=10)
    assert wsdl.status_code == 200
    assert f'location="{live_server.url}/exchange"'.encode() in wsdl.content
    assert f'schemaLocation="{live_server.url}/xsd/batch.xsd"'.encode() in wsdl.content
    assert requests.get(f"{live_server.url}/xsd/batch.xsd", timeout=10).status_code == 200
    assert requests.get(f"{live_server.url}/xsd/common.xsd", timeout=10).status_code == 200
    assert b"soap12" not in wsdl.content
