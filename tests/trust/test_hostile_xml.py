"""XML hardening (S2): a corpus of hostile messages, each sent over HTTP to a running server.

Every message gets a SOAP Fault (well-formed, with a faultcode and a message), never an
expansion, a file's content or a hang, and the server answers a good request right after.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import requests
from lxml import etree

import server

from ..conftest import LiveServer, free_port

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
UDDI = "urn:uddi-org:api_v3"
EX = "http://govshare.local/xsd/exchange/1.0"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
FIND = f'<find_tModel xmlns="{UDDI}"><name>govshare:共享类型</name></find_tModel>'
QUERY = f'<ex:QueryRecords xmlns:ex="{EX}"><ex:requester>X</ex:requester><ex:resourceCode>1</ex:resourceCode>' \
        "</ex:QueryRecords>"


def env(body: str, header: str = "") -> bytes:
    head = f"<soap:Header>{header}</soap:Header>" if header else ""
    return f'<soap:Envelope xmlns:soap="{SOAP}">{head}<soap:Body>{body}</soap:Body></soap:Envelope>'.encode()


LOL = '<!DOCTYPE lolz [<!ENTITY lol "lol">' + "".join(
    f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)) + "]>"
QUADRATIC = '<!DOCTYPE q [<!ENTITY a "' + "A" * 50_000 + '">]>'
DEEP = "<a>" * 5000 + "</a>" * 5000
WIDE_ATTRS = "<x " + " ".join(f'a{i}="v"' for i in range(20000)) + "/>"
SECURITY = (f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}" soap:mustUnderstand="1">'
            "{inner}</wsse:Security>")

# (name, endpoint, raw request) - every one must be answered with a SOAP Fault
CORPUS: list[tuple[str, str, bytes]] = [
    ("billion laughs", "/uddi/inquiry",
     f'<?xml version="1.0"?>{LOL}'.encode() + env(f'<find_tModel xmlns="{UDDI}"><name>&lol9;</name></find_tModel>')),
    ("billion laughs at the exchange", "/exchange", f"{LOL}".encode() + env("<x>&lol9;</x>")),
    ("quadratic blow-up", "/uddi/inquiry", QUADRATIC.encode() + env(
        f'<find_tModel xmlns="{UDDI}"><name>' + "&a;" * 2000 + "</name></find_tModel>")),
    ("quadratic blow-up at the exchange", "/exchange", QUADRATIC.encode() + env("<x>" + "&a;" * 2000 + "</x>")),
    ("external entity (file)", "/uddi/inquiry", b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + env(
        f'<find_tModel xmlns="{UDDI}"><name>&e;</name></find_tModel>')),
    ("external entity at the exchange", "/exchange",
     b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + env("<x>&e;</x>")),
    ("external parameter entity", "/uddi/publication",
     b'<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]>' + env(FIND)),
    ("network DTD", "/exchange", b'<!DOCTYPE x SYSTEM "http://127.0.0.1:9/x.dtd">' + env(QUERY)),
    ("deep nesting", "/uddi/inquiry", env(DEEP)),
    ("deep nesting at the exchange", "/exchange", env(DEEP)),
    ("twenty thousand attributes", "/uddi/inquiry", env(WIDE_ATTRS)),
    ("not XML at all", "/uddi/inquiry", b"GET / HTTP/1.1\r\n\r\n"),
    ("not XML at the exchange", "/exchange", b"{\"json\": true}"),
    ("empty body", "/uddi/publication", b""),
    ("empty body at the exchange", "/exchange", b""),
    ("truncated envelope", "/exchange", env(QUERY)[:-40]),
    ("invalid UTF-8", "/uddi/inquiry", env(f'<find_tModel xmlns="{UDDI}"><name>').rstrip(b"/") + b"\xff\xfe"),
    ("invalid UTF-8 at the exchange", "/exchange", env(QUERY).replace(b"<ex:requester>X", b"<ex:requester>\xc3\x28")),
    ("SOAP 1.2 envelope", "/exchange",
     f'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>{QUERY}</e:Body></e:Envelope>'.encode()),
    ("SOAP 1.2 envelope at the directory", "/uddi/inquiry",
     f'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>{FIND}</e:Body></e:Envelope>'.encode()),
    ("no envelope", "/exchange", QUERY.encode()),
    ("no body", "/uddi/inquiry", f'<soap:Envelope xmlns:soap="{SOAP}"/>'.encode()),
    ("two operations in the Body", "/uddi/inquiry", env(FIND + FIND)),
    ("wrong namespace operation", "/uddi/inquiry", env('<find_tModel xmlns="urn:uddi-org:api_v2"/>')),
    ("wrong namespace at the exchange", "/exchange",
     env('<ex:QueryRecords xmlns:ex="urn:attacker"><ex:requester>X</ex:requester></ex:QueryRecords>')),
    ("unknown operation", "/exchange", env(f'<ex:DropAllTables xmlns:ex="{EX}"/>')),
    ("schema-invalid UDDI request", "/uddi/inquiry", env(f'<find_tModel xmlns="{UDDI}" maxRows="lots"/>')),
    ("mustUnderstand header nobody processes", "/exchange",
     env(QUERY, '<t:Trace xmlns:t="urn:x" soap:mustUnderstand="1"/>')),
    ("empty Security header", "/exchange", env(QUERY, SECURITY.format(inner=""))),
    ("Security with a garbage signature", "/uddi/publication", env(FIND, SECURITY.format(
        inner='<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/></ds:Signature>'))),
    ("two Security headers", "/exchange",
     env(QUERY, SECURITY.format(inner="") + SECURITY.format(inner=""))),
    ("XInclude of a local file", "/uddi/inquiry", env(
        f'<find_tModel xmlns="{UDDI}"><name><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
        'href="file:///etc/passwd" parse="text"/></name></find_tModel>')),
    ("huge name", "/uddi/inquiry", env(f'<find_tModel xmlns="{UDDI}"><name>{"名" * 100_000}</name></find_tModel>')),
    ("oversized request", "/uddi/inquiry", env("<x>" + "A" * (5 * 1024 * 1024) + "</x>")),
    ("processing instruction smuggling", "/exchange", env(QUERY).replace(b"<soap:Body>", b"<?php system('id'); ?>"
                                                                          b"<soap:Body>") + b"<?x"),
]


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory, sqlite_template):
    """The platform with WS-Security required, on a database of its own."""
    import shutil

    from registry.db import make_engine, session_factory, unit_of_work
    from registry.settings import Settings

    folder = tmp_path_factory.mktemp("hostile")
    shutil.copy(sqlite_template, folder / "govshare.db")
    settings = replace(Settings.from_env(db_url=f"sqlite:///{folder / 'govshare.db'}", var_dir=folder),
                       wss_policy="require")
    sessions = session_factory(make_engine(settings.db_url))
    from directory.bootstrap import bootstrap_node

    with unit_of_work(sessions) as session:
        bootstrap_node(session, settings)
    srv = LiveServer(server.build_app(settings, sessions), free_port()).start()
    yield srv
    srv.stop()


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 30
    assert len({name for name, _path, _data in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize(("name", "path", "data"), CORPUS, ids=[c[0] for c in CORPUS])
def test_a_hostile_message_gets_a_fault_and_the_server_keeps_serving(strict_server, name, path, data):
    reply = requests.post(strict_server.url + path, data=data, headers={"Content-Type": "text/xml; charset=utf-8"},
                          timeout=30)
    assert reply.status_code == 500, reply.content[:300]
    root = etree.fromstring(reply.content)
    assert root.tag == f"{{{SOAP}}}Envelope"
    code, message = root.findtext(".//faultcode"), root.findtext(".//faultstring")
    assert code and message, reply.content[:300]
    assert b"root:" not in reply.content and b"lollollol" not in reply.content  # nothing expanded or read
    assert len(reply.content) < 20_000  # the fault does not echo a bomb back
    good = requests.post(strict_server.url + "/uddi/inquiry", data=env(FIND), timeout=30)
    assert good.status_code == 200 and b"tModelInfo" in good.content
