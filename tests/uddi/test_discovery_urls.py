"""find_business by discoveryURLs (spec 5.1.9): any of the URLs, with the same useType where
one is given, each matched exactly."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from directory.bootstrap import bootstrap_node
from registry.db import unit_of_work
from registry.models import UddiKeyedReference

from .conftest import UDDI_NS

U = f'xmlns="{UDDI_NS}"'
HOME = "http://www.gaj.gov.cn"
SERVICES = "http://www.gaj.gov.cn/services"
LONG = "http://data.gaj.gov.cn/catalogue/" + "/".join(f"segment-{i:03d}" for i in range(40))


@pytest.fixture
def branch(post, token, gaj):
    """A businessEntity of 市公安局 with three discoveryURLs."""
    reply = post("publication", f"""<save_business {U}>AUTH<businessEntity businessKey="{gaj.partition}:branch">
        <discoveryURLs>
          <discoveryURL useType="home">{HOME}</discoveryURL>
          <discoveryURL useType="serviceList">{SERVICES}</discoveryURL>
          <discoveryURL>{LONG}</discoveryURL>
        </discoveryURLs>
        <name xml:lang="zh-CN">市公安局出入境管理支队</name></businessEntity></save_business>""",
                 token=token(gaj.username))
    assert reply.status == 200, reply.fault_string
    return f"{gaj.partition}:branch"


def _found(post, urls: str, qualifiers: str = "") -> list[str]:
    qualifiers = f"<findQualifiers>{qualifiers}</findQualifiers>" if qualifiers else ""
    reply = post("inquiry", f"<find_business {U}>{qualifiers}<discoveryURLs>{urls}</discoveryURLs></find_business>")
    assert reply.status == 200, reply.fault_string
    return [info.get("businessKey") for info in reply.payload.iter(f"{{{UDDI_NS}}}businessInfo")]


def test_find_business_by_a_discovery_url_finds_the_business_that_lists_it(post, branch):
    assert _found(post, f"<discoveryURL>{HOME}</discoveryURL>") == [branch]
    assert _found(post, "<discoveryURL>http://www.gaj.gov.cn/other</discoveryURL>") == []


def test_find_business_by_discovery_urls_matches_any_of_them(post, branch):
    urls = f"<discoveryURL>http://nowhere.example.cn</discoveryURL><discoveryURL>{SERVICES}</discoveryURL>"
    assert _found(post, urls) == [branch]


def test_a_discovery_url_with_a_use_type_matches_only_that_use_type(post, branch):
    assert _found(post, f'<discoveryURL useType="serviceList">{SERVICES}</discoveryURL>') == [branch]
    assert _found(post, f'<discoveryURL useType="home">{SERVICES}</discoveryURL>') == []


def test_a_discovery_url_matches_exactly_whatever_the_find_qualifiers(post, branch):
    qualifiers = "<findQualifier>approximateMatch</findQualifier><findQualifier>caseInsensitiveMatch</findQualifier>"
    assert _found(post, f"<discoveryURL>{HOME}</discoveryURL>", qualifiers) == [branch]
    assert _found(post, "<discoveryURL>HTTP://WWW.GAJ.GOV.CN</discoveryURL>", qualifiers) == []
    assert _found(post, "<discoveryURL>http://www.gaj.gov.cn/%25</discoveryURL>", qualifiers) == []


def test_a_discovery_url_longer_than_the_index_column_is_found_exactly(post, branch):
    assert len(LONG) > 255
    assert _found(post, f"<discoveryURL>{LONG}</discoveryURL>") == [branch]
    assert _found(post, f"<discoveryURL>{LONG[:-1]}x</discoveryURL>") == []  # the same first 255 characters


def test_a_business_saved_with_discovery_urls_is_found_at_once_through_the_answer_cache(post, token, gaj):
    url = "<discoveryURL>http://www.mzj.gov.cn</discoveryURL>"
    assert _found(post, url) == []
    saved = post("publication", f"""<save_business {U}>AUTH<businessEntity businessKey="{gaj.partition}:unit2">
        <discoveryURLs>{url}</discoveryURLs><name>新单位</name></businessEntity></save_business>""",
                 token=token(gaj.username))
    assert saved.status == 200, saved.fault_string
    assert _found(post, url) == [f"{gaj.partition}:unit2"]


def test_discovery_urls_saved_before_they_were_indexed_are_found_after_start_up(post, branch, sessions, settings):
    with unit_of_work(sessions) as session:  # a business as a node before this index kept it
        session.execute(delete(UddiKeyedReference).where(UddiKeyedReference.bag == "discovery"))
    with unit_of_work(sessions) as session:
        bootstrap_node(session, settings)
    assert _found(post, f"<discoveryURL>{HOME}</discoveryURL>") == [branch]
    assert _found(post, f"<discoveryURL>{LONG}</discoveryURL>") == [branch]
