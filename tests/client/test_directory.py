"""The client library's directory (client.directory) against the seeded demo served over HTTP: find
published resources by keyword, classification, provider and 共享类型 (paged for the program),
read one by its 资源代码, fetch its WSDL - through UDDI inquiry only, as any department may."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from client import directory as directory_module
from client.directory import Directory
from client.faults import NotFound
from directory.demo import DEPARTMENTS, RESOURCES, credit_code_for
from registry.models import CatalogueEntry, Department
from tests.test_demo import worlds  # noqa: F401 - the fixture


@pytest.fixture
def demo(worlds):  # noqa: F811
    return worlds("sqlite")


def _published(demo, **where) -> dict[str, str]:
    """资源代码 -> name of the published entries matching ``where`` (column: value or predicate)."""
    with demo.sessions() as session:
        rows = session.scalars(select(CatalogueEntry).where(CatalogueEntry.status == "published")).all()
        return {e.resource_code: e.name for e in rows
                if all(test(getattr(e, column)) if callable(test) else getattr(e, column) == test
                       for column, test in where.items())}


def test_every_published_resource_is_found_page_after_page(demo, monkeypatch):
    monkeypatch.setattr(directory_module, "PAGE", 7)
    found = [r.code for r in Directory(demo.server.url).find()]
    assert sorted(found) == sorted(_published(demo)) and len(found) == demo.counts["published resources"]


def test_by_keyword_classification_provider_and_sharing_type(demo):
    directory = Directory(demo.server.url)
    by_word = {r.code: r.name for r in directory.find(keyword="户籍")}
    assert by_word == _published(demo, name=lambda n: "户籍" in n) and by_word
    people = list(directory.find(classification="101", sharing_type="有条件共享"))
    assert {r.code for r in people} == set(_published(demo, class_code=lambda c: c.startswith("101"),
                                                      sharing_type="有条件共享"))
    assert all("101" in r.classification and r.sharing_type == "有条件共享" for r in people) and people
    gaj = credit_code_for(next(d.org8 for d in DEPARTMENTS if d.code == "gaj"))
    with demo.sessions() as session:
        gaj_id = session.scalar(select(Department.id).where(Department.code == "gaj"))
    theirs = {r.code for r in directory.find(provider=gaj)}
    assert theirs == set(_published(demo, provider_id=gaj_id))
    assert len(theirs) == sum(row[0] == "gaj" for row in RESOURCES)


def test_one_resource_its_metadata_and_its_wsdl(demo):
    directory = Directory(demo.server.url)
    code, name = next((c, n) for c, n in _published(demo).items() if n == "结婚登记信息")
    resource = directory.resource(code)
    assert (resource.code, resource.name, resource.sharing_type, resource.update_cycle) == (
        code, name, "有条件共享", "每日")
    assert resource.classification[:2] == ("1", "101") and resource.format == "接口/WebService"
    assert resource.access_points and not resource.open_to_public
    wsdl = directory.wsdl(resource)
    assert "<wsdl:definitions" in wsdl or "<definitions" in wsdl
    assert resource.access_points[0] in wsdl
    with pytest.raises(NotFound) as unknown:
        directory.resource("999999/999999")
    assert unknown.value.code == "UnknownResource" and "999999/999999" in unknown.value.user_message


def test_the_clients_taxonomy_keys_are_the_platforms():
    """The client cannot import the platform: it carries the published tModel keys itself."""
    from directory import taxonomies

    for name in ("CLASSIFICATION", "SHARING_TYPE", "SHARING_METHOD", "UPDATE_CYCLE", "FORMAT", "OPEN_ATTRIBUTE",
                 "RESOURCE_CODE", "PROVIDER_CODE"):
        assert getattr(directory_module, name) == getattr(taxonomies, name), name
