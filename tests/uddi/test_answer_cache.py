"""Inquiry answers are kept while the directory stays the same, and never outlive a change.

Every change to the UDDI tables - through the publication API, through another server
process, or by hand in SQL - must make the next inquiry compute its answer afresh.
"""

from __future__ import annotations

import pytest
import requests
from lxml import etree
from sqlalchemy import text

import server
from directory.taxonomies import CLASSIFICATION, SHARING_TYPE
from directory.uddi.answers import AnswerCache
from registry.db import make_engine, session_factory

from ..conftest import LiveServer, free_port
from .conftest import NS, SOAP_ENV, UDDI_NS

U = f'xmlns="{UDDI_NS}"'
FIND = (f'<find_service {U}><categoryBag><keyedReference tModelKey="{CLASSIFICATION}" keyValue="101"/>'
        "</categoryBag></find_service>")


def _ask(base_url: str, inner: str = FIND) -> tuple[str, list[str], bytes]:
    """(X-Govshare-Cache header, service names found, raw response) of one inquiry."""
    envelope = f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>{inner}</soap:Body></soap:Envelope>'
    r = requests.post(f"{base_url}/uddi/inquiry", data=envelope.encode(),
                      headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}, timeout=30)
    root = etree.fromstring(r.content)
    names = [n.text for n in root.iterfind(".//u:serviceInfo/u:name", NS)]
    return r.headers.get("X-Govshare-Cache", ""), names, r.content


def _save(post, tok, business_key: str, name: str, key: str = "") -> str:
    key_attr = f' serviceKey="{key}"' if key else ""
    reply = post("publication", f"""<save_service {U}>AUTH
      <businessService businessKey="{business_key}"{key_attr}><name xml:lang="zh-CN">{name}</name>
        <categoryBag>
          <keyedReference tModelKey="{CLASSIFICATION}" keyName="资源分类" keyValue="101"/>
          <keyedReference tModelKey="{SHARING_TYPE}" keyName="共享类型" keyValue="无条件共享"/>
        </categoryBag></businessService></save_service>""", token=tok)
    assert reply.status == 200, reply.fault_string
    return reply.payload.find("u:businessService", NS).get("serviceKey")


def test_a_repeated_inquiry_is_answered_from_the_cache_byte_for_byte(live_server, post, token, gaj):
    _save(post, token(gaj.username), gaj.business_key, "户籍人口信息查询")
    first = _ask(live_server.url)
    second = _ask(live_server.url)
    assert first[0] == "miss" and second[0] == "hit"
    assert first[1] == ["户籍人口信息查询"]
    assert second[2] == first[2]


def test_publishing_makes_the_next_answer_fresh(live_server, post, token, gaj):
    tok = token(gaj.username)
    key = _save(post, tok, gaj.business_key, "户籍人口信息查询")
    assert _ask(live_server.url)[1] == ["户籍人口信息查询"]
    _save(post, tok, gaj.business_key, "常住人口信息查询")
    state, names, _ = _ask(live_server.url)
    assert (state, names) == ("miss", ["常住人口信息查询", "户籍人口信息查询"])
    _save(post, tok, gaj.business_key, "户籍人口信息核查", key=key)  # a rename
    assert _ask(live_server.url)[1] == ["常住人口信息查询", "户籍人口信息核查"]
    post("publication", f'<delete_service {U}>AUTH<serviceKey>{key}</serviceKey></delete_service>', token=tok)
    assert _ask(live_server.url)[:2] == ("miss", ["常住人口信息查询"])


def test_a_change_made_by_hand_in_sql_is_seen(live_server, post, token, gaj, settings):
    _save(post, token(gaj.username), gaj.business_key, "户籍人口信息查询")
    assert _ask(live_server.url)[1] == ["户籍人口信息查询"]
    assert _ask(live_server.url)[0] == "hit"
    engine = make_engine(settings.db_url)
    with engine.begin() as conn:  # no API, no ORM: only the database's triggers can tell
        conn.execute(text("UPDATE uddi_name SET value = '户籍人口信息（手工更正）' WHERE value = '户籍人口信息查询'"))
    engine.dispose()
    assert _ask(live_server.url)[:2] == ("miss", ["户籍人口信息（手工更正）"])


def test_a_change_through_another_server_process_is_seen(live_server, post, token, gaj, settings):
    """Two nodes on one database (here two apps with engines of their own) never disagree."""
    other_sessions = session_factory(make_engine(settings.db_url))
    other = LiveServer(server.build_app(settings, other_sessions), free_port()).start()
    try:
        _save(post, token(gaj.username), gaj.business_key, "户籍人口信息查询")
        assert _ask(other.url)[1] == _ask(other.url)[1] == ["户籍人口信息查询"]
        assert _ask(other.url)[0] == "hit"
        _save(post, token(gaj.username), gaj.business_key, "常住人口信息查询")  # through the first server
        assert _ask(other.url)[:2] == ("miss", ["常住人口信息查询", "户籍人口信息查询"])
    finally:
        other.stop()
        other_sessions.kw["bind"].dispose()


def test_faults_are_not_cached(live_server):
    bad = f'<get_serviceDetail {U}><serviceKey>uddi:govshare.local:nothing-here</serviceKey></get_serviceDetail>'
    assert _ask(live_server.url, bad)[0] == ""
    assert b"E_invalidKeyPassed" in _ask(live_server.url, bad)[2]


def test_publication_and_security_answers_are_never_cached(live_server, post, token, gaj):
    tok = token(gaj.username)
    body = (f'<save_service {U}><authInfo>{tok}</authInfo><businessService businessKey="{gaj.business_key}">'
            "<name>户籍人口信息查询</name></businessService></save_service>")
    envelope = f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>{body}</soap:Body></soap:Envelope>'
    for _ in range(2):
        r = requests.post(f"{live_server.url}/uddi/publication", data=envelope.encode(),
                          headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=30)
        assert r.status_code == 200 and "X-Govshare-Cache" not in r.headers
    assert len(_ask(live_server.url, f"<find_service {U}><name>户籍人口信息查询</name></find_service>")[1]) == 2


@pytest.fixture
def uncached_settings(settings):
    from dataclasses import replace

    return replace(settings, inquiry_cache_mb=0)


def test_the_cache_can_be_turned_off(uncached_settings, sessions, post, token, gaj):
    _save(post, token(gaj.username), gaj.business_key, "户籍人口信息查询")
    srv = LiveServer(server.build_app(uncached_settings, sessions), free_port()).start()
    try:
        assert _ask(srv.url)[0] == _ask(srv.url)[0] == ""
        assert _ask(srv.url)[1] == ["户籍人口信息查询"]
    finally:
        srv.stop()


def test_the_cache_keeps_the_most_recently_used_answers_within_its_bytes():
    cache = AnswerCache(limit_bytes=8 * 300)
    for n in range(20):
        cache.put(1, b"q%02d" % n, b"a" * 97)  # 100 bytes each
    assert len(cache) == 20
    cache.get(1, b"q00")  # used: moves to the back
    for n in range(20, 30):
        cache.put(1, b"q%02d" % n, b"a" * 97)
    assert cache.get(1, b"q00") is not None
    assert cache.get(1, b"q01") is None  # the least recently used went first
    assert sum(len(k) + len(v) for k, v in cache._answers.items()) <= 8 * 300
    assert cache.get(2, b"q00") is None  # another generation: nothing from before is an answer
    cache.put(2, b"q99", b"new")
    assert len(cache) == 1
    cache.put(1, b"q98", b"x" * 400)  # larger than an eighth of the cache: not kept
    assert cache.get(1, b"q98") is None
