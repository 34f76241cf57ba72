"""The open catalogue in DCAT-AP (``directory.catalogue.dcat``), read over real HTTP as a harvester
reads it: both files parse and hold the same graph, the graph passes the DCAT-AP 3.0 shapes
(``dcat_ap_shapes.ttl``), only published entries open to the public are in it, the metadata maps to
the vocabularies DCAT-AP names, and a harvester whose copy is current gets 304."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import requests
from pyshacl import validate
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, FOAF, RDF, SKOS
from sqlalchemy import select

from adapters.demo_services import contract_wsdl
from directory import wsdl_publishing
from directory.accounts import create_user, find_user, register_department
from directory.catalogue import dcat, workflow
from directory.demo import credit_code_for
from directory.taxonomies import UPDATE_CYCLES
from registry.db import unit_of_work
from registry.models import AuditEntry
from tests.conftest import LiveServer, as_user, free_port
from tests.exchange.conftest import catalogued

SHAPES = Path(__file__).with_name("dcat_ap_shapes.ttl")
# open namespaces: pytest's look at a module's names warns on rdflib's closed DCAT and XSD
DCAT = Namespace("http://www.w3.org/ns/dcat#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"
ACCESS_RIGHT = "http://publications.europa.eu/resource/authority/access-right/"
GS = dcat.GS
VCARD = dcat.VCARD


def _metadata(name: str, classification: str = "102002001", **changes) -> dict:
    data = {"classification": classification, "name": name, "provider_unit": "登记注册处",
            "abstract": f"{name}: 市场主体登记的公开信息。", "format_class": "电子表格", "format_type": "xlsx",
            "items": [{"name": "统一社会信用代码", "data_type": "C", "length": 18},
                      {"name": "成立日期", "data_type": "D"}],
            "sharing_type": "无条件共享", "sharing_method": "共享平台", "update_cycle": "每日",
            "open_to_public": True, "open_condition": "无条件开放", "publish_date": "2024-05-01"}
    data.update(changes)
    return data


class Catalogue:
    """What the harvester may see (``open``, ``conditional``, ``logical``) and what it must not."""

    def __init__(self, **codes: str):
        self.__dict__.update(codes)


@pytest.fixture
def catalogue(sessions, settings) -> Catalogue:
    """市场监管局 (scjgj) catalogues: an entry open without conditions, related to one kept within
    government and to one open under conditions; the one kept within government; a draft marked
    open; an open entry since withdrawn; 公安局 (gaj) a 逻辑集中 entry open to the public."""
    with unit_of_work(sessions) as s:
        scj = register_department(s, settings, code="scjgj", name="临江市市场监督管理局",
                                  credit_code=credit_code_for("00250104"))
        gaj = register_department(s, settings, code="gaj", name="临江市公安局", credit_code=credit_code_for("00250102"))
        sjj = register_department(s, settings, code="sjj", name="临江市数据管理局",
                                  credit_code=credit_code_for("00250101"))
        create_user(s, username="scjgj", password="pw", department=scj, roles=("cataloguer",))
        create_user(s, username="gaj", password="pw", department=gaj, roles=("cataloguer",))
        create_user(s, username="reviewer", password="pw", department=sjj, roles=("reviewer",))
    wsdl_publishing.publish(as_user(sessions, settings, "gaj"), path="gaj/household.wsdl",
                            content=contract_wsdl("http://10.20.1.5/household"), map_services=False)
    with unit_of_work(sessions) as s:
        cataloguer, reviewer, police = find_user(s, "scjgj"), find_user(s, "reviewer"), find_user(s, "gaj")
        closed = catalogued(s, settings, cataloguer, reviewer, _metadata(
            "企业注册资本信息", open_to_public=False, open_condition="", sharing_type="有条件共享",
            sharing_condition="仅限税务、金融监管部门依法履职使用", update_cycle="每月"))
        conditional = catalogued(s, settings, cataloguer, reviewer, _metadata(
            "企业年报信息", open_condition="注册用户可下载, 不得用于商业目的", update_cycle="每年"))
        opened = catalogued(s, settings, cataloguer, reviewer, _metadata(
            "企业登记信息", related_codes=[closed, conditional]))
        withdrawn = catalogued(s, settings, cataloguer, reviewer, _metadata("企业吊销信息"))
        logical = catalogued(s, settings, police, reviewer, _metadata(
            "户籍迁入统计信息", "101001002", provider_unit="人口管理支队", format_class="接口",
            format_type="WebService", sharing_method="接口", update_cycle="实时", logical=True,
            wsdl_path="gaj/household.wsdl", access_point="http://10.20.1.5/household"))
    workflow.withdraw(as_user(sessions, settings, "scjgj"), resource_code=withdrawn, reason="登记系统停用")
    draft = workflow.create(as_user(sessions, settings, "scjgj"), metadata=_metadata("企业迁移信息")).resource_code
    return Catalogue(open=opened, conditional=conditional, logical=logical, closed=closed, withdrawn=withdrawn,
                     draft=draft)


def _get(server, path: str, **headers) -> requests.Response:
    return requests.get(server.url + path, headers=headers, timeout=60)


def _graph(server, path: str = "/catalogue/dcat.ttl") -> Graph:
    r = _get(server, path)
    assert r.status_code == 200, r.text
    return Graph().parse(data=r.content, format="json-ld" if path.startswith("/catalogue/dcat.jsonld") else "turtle")


def _dataset(server, code: str) -> URIRef:
    return URIRef(f"{server.url}/catalogue/dataset/{code}")


def _exported(graph: Graph) -> set[str]:
    return {str(graph.value(d, DCTERMS.identifier)) for d in graph.subjects(RDF.type, DCAT.Dataset)}


def _conforms(graph: Graph) -> tuple[bool, str]:
    conforms, _report, text = validate(graph, shacl_graph=str(SHAPES), shacl_graph_format="turtle",
                                       inference="none", allow_warnings=False)
    return conforms, text


# --------------------------------------------------------------------------- the files


def test_the_turtle_and_the_json_ld_files_hold_the_same_graph(live_server, catalogue):
    turtle = _get(live_server, "/catalogue/dcat.ttl")
    jsonld = _get(live_server, "/catalogue/dcat.jsonld")
    assert turtle.headers["Content-Type"] == "text/turtle; charset=utf-8"
    assert jsonld.headers["Content-Type"] == "application/ld+json; charset=utf-8"
    graphs = [Graph().parse(data=turtle.content, format="turtle"), Graph().parse(data=jsonld.content, format="json-ld")]
    views = [g.value(predicate=RDF.type, object=dcat.HYDRA.PartialCollectionView) for g in graphs]
    assert views == [URIRef(f"{live_server.url}/catalogue/{name}?page=1") for name in ("dcat.ttl", "dcat.jsonld")]
    for graph, view in zip(graphs, views, strict=True):  # each file's pages link to its own kind
        graph.remove((view, None, None))
    assert isomorphic(*graphs)


def test_the_json_ld_is_compacted_with_the_catalogues_prefixes(live_server, catalogue):
    document = _get(live_server, "/catalogue/dcat.jsonld").json()
    assert document["@context"]["dcat"] == "http://www.w3.org/ns/dcat#"
    assert document["@context"]["gs"] == str(GS)
    nodes = document["@graph"]
    catalogue_node = next(n for n in nodes if n.get("@type") == "dcat:Catalog")
    assert catalogue_node["dct:title"] == {"@language": "zh", "@value": "政务信息资源开放目录"}


def test_the_export_conforms_to_the_dcat_ap_shapes(live_server, catalogue):
    for path in ("/catalogue/dcat.ttl", "/catalogue/dcat.jsonld"):
        conforms, report = _conforms(_graph(live_server, path))
        assert conforms, report


@pytest.mark.parametrize("breakage", ["dataset without a title", "distribution without an access URL",
                                      "agent without a name", "frequency as text", "issued not a date"])
def test_the_shapes_refuse_a_graph_that_breaks_dcat_ap(live_server, catalogue, breakage):
    graph = _graph(live_server)
    dataset = _dataset(live_server, catalogue.open)
    distribution = graph.value(dataset, DCAT.distribution)
    publisher = graph.value(dataset, DCTERMS.publisher)
    if breakage == "dataset without a title":
        graph.remove((dataset, DCTERMS.title, None))
    elif breakage == "distribution without an access URL":
        graph.remove((distribution, DCAT.accessURL, None))
    elif breakage == "agent without a name":
        graph.remove((publisher, FOAF.name, None))
    elif breakage == "frequency as text":
        graph.set((dataset, DCTERMS.accrualPeriodicity, Literal("每日")))
    else:
        graph.set((dataset, DCTERMS.issued, Literal("2024年5月1日")))
    conforms, report = _conforms(graph)
    assert not conforms, f"the shapes let {breakage} through"
    assert str(dataset) in report or str(distribution) in report or str(publisher) in report


# --------------------------------------------------------------------------- who sees what


def test_only_published_entries_open_to_the_public_are_exported(live_server, catalogue):
    graph = _graph(live_server)
    assert _exported(graph) == {catalogue.open, catalogue.conditional, catalogue.logical}
    text = _get(live_server, "/catalogue/dcat.ttl").text
    for hidden in (catalogue.closed, catalogue.withdrawn, catalogue.draft):
        assert hidden not in text
    for hidden_name in ("企业注册资本信息", "企业吊销信息", "企业迁移信息", "仅限税务"):
        assert hidden_name not in text


def test_a_related_entry_kept_within_government_is_not_named(live_server, catalogue):
    graph = _graph(live_server)
    related = set(graph.objects(_dataset(live_server, catalogue.open), DCTERMS.relation))
    assert related == {_dataset(live_server, catalogue.conditional)}


def test_a_withdrawn_entry_leaves_the_export_and_a_newly_published_one_joins_it(live_server, catalogue, sessions,
                                                                                 settings):
    before = _get(live_server, "/catalogue/dcat.ttl")
    workflow.withdraw(as_user(sessions, settings, "scjgj"), resource_code=catalogue.conditional, reason="年报改版")
    with unit_of_work(sessions) as s:
        added = catalogued(s, settings, find_user(s, "scjgj"), find_user(s, "reviewer"), _metadata("企业名称信息"))
    after = _get(live_server, "/catalogue/dcat.ttl")
    assert _exported(Graph().parse(data=after.content, format="turtle")) == {
        catalogue.open, catalogue.logical, added}
    assert after.headers["ETag"] != before.headers["ETag"]
    # the withdrawn entry is no longer a related resource either
    assert (_dataset(live_server, catalogue.open), DCTERMS.relation,
            _dataset(live_server, catalogue.conditional)) not in Graph().parse(data=after.content, format="turtle")


def test_a_harvesters_read_is_in_the_audit_log(live_server, catalogue, sessions):
    _get(live_server, "/catalogue/dcat.ttl")
    with sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.operation == "catalogue.dcat")).one()
    assert (entry.channel, entry.result, entry.user, entry.record_count) == ("harvest", "ok", None, 3)
    assert entry.detail == "page 1 of 1, from 127.0.0.1"


# --------------------------------------------------------------------------- the mapping


def test_the_catalogue_names_its_title_publisher_language_homepage_and_pages(live_server, catalogue):
    graph = _graph(live_server)
    root = URIRef(f"{live_server.url}/catalogue")
    assert (root, RDF.type, DCAT.Catalog) in graph
    assert graph.value(root, DCTERMS.title) == Literal("政务信息资源开放目录", lang="zh")
    publisher = graph.value(root, DCTERMS.publisher)
    assert graph.value(publisher, FOAF.name) == Literal("政务信息资源共享交换平台", lang="zh")
    assert graph.value(root, DCTERMS.language) == URIRef("http://publications.europa.eu/resource/authority/language/ZHO")
    assert graph.value(root, FOAF.homepage) == URIRef(f"{live_server.url}/portal/open")
    assert graph.value(root, DCTERMS.modified).datatype == XSD.dateTime
    assert set(graph.objects(root, DCAT.dataset)) == {_dataset(live_server, c) for c in
                                                      (catalogue.open, catalogue.conditional, catalogue.logical)}
    assert set(graph.objects(root, DCAT.service)) == {URIRef(f"{live_server.url}/catalogue/service/exchange"),
                                                      URIRef(f"{_dataset(live_server, catalogue.logical)}#service")}


def test_a_dataset_carries_its_core_metadata(live_server, catalogue):
    graph = _graph(live_server)
    d = _dataset(live_server, catalogue.open)
    assert graph.value(d, DCTERMS.identifier) == Literal(catalogue.open)
    assert graph.value(d, DCTERMS.title) == Literal("企业登记信息", lang="zh")
    assert graph.value(d, DCTERMS.description) == Literal("企业登记信息: 市场主体登记的公开信息。", lang="zh")
    assert graph.value(d, DCTERMS.issued) == Literal("2024-05-01", datatype=XSD.date)
    assert str(graph.value(d, URIRef("http://www.w3.org/2002/07/owl#versionInfo"))) == "4"  # create..publish
    publisher = graph.value(d, DCTERMS.publisher)
    assert publisher == URIRef(f"{live_server.url}/catalogue/department/scjgj")
    assert graph.value(publisher, FOAF.name) == Literal("临江市市场监督管理局", lang="zh")
    assert graph.value(publisher, DCTERMS.identifier) == Literal(credit_code_for("00250104"))
    contact = graph.value(d, DCAT.contactPoint)
    assert (contact, RDF.type, VCARD.Organization) in graph
    assert graph.value(contact, VCARD["organization-unit"]) == Literal("登记注册处", lang="zh")
    assert graph.value(d, DCAT.landingPage) == URIRef(f"{live_server.url}/portal/open/resource?code={catalogue.open}")


def test_the_classification_is_the_theme_in_the_platforms_concept_scheme(live_server, catalogue):
    graph = _graph(live_server)
    d = _dataset(live_server, catalogue.open)
    theme = graph.value(d, DCAT.theme)
    scheme = URIRef(f"{live_server.url}/catalogue/classification")
    assert theme == URIRef(f"{live_server.url}/catalogue/classification/102002001")
    assert graph.value(theme, SKOS.prefLabel) == Literal("企业设立登记信息", lang="zh")
    assert graph.value(theme, SKOS.inScheme) == scheme
    assert graph.value(theme, SKOS.broader) == URIRef(f"{live_server.url}/catalogue/classification/102002")
    assert (scheme, RDF.type, SKOS.ConceptScheme) in graph
    assert set(graph.objects(d, DCAT.keyword)) == {Literal(n, lang="zh") for n in
                                                   ("基础信息资源", "法人单位", "企业登记信息", "企业设立登记信息")}


def test_every_update_cycle_maps_to_the_eu_frequency_vocabulary():
    assert {cycle: str(dcat.frequency(cycle)).removeprefix(FREQUENCY) for cycle in UPDATE_CYCLES} == {
        "实时": "CONT", "每日": "DAILY", "每周": "WEEKLY", "每月": "MONTHLY", "每季度": "QUARTERLY",
        "每半年": "ANNUAL_2", "每年": "ANNUAL"}
    assert str(dcat.frequency("不定期")).removeprefix(FREQUENCY) == "IRREG"


@pytest.mark.parametrize(("sharing_type", "open_to_public", "condition", "right"), [
    ("无条件共享", True, "无条件开放", "PUBLIC"),
    ("无条件共享", True, "注册用户可下载", "RESTRICTED"),
    ("有条件共享", True, "无条件开放", "PUBLIC"),
    ("无条件共享", False, "", "RESTRICTED"),
    ("有条件共享", False, "", "RESTRICTED"),
    ("不予共享", False, "", "NON_PUBLIC"),
])
def test_sharing_type_and_open_attribute_map_to_the_eu_access_rights(sharing_type, open_to_public, condition,
                                                                     right):
    assert str(dcat.access_right(sharing_type, open_to_public, condition)) == ACCESS_RIGHT + right


def test_the_exported_frequencies_and_access_rights(live_server, catalogue):
    graph = _graph(live_server)

    def of(code, prop, prefix):
        return str(graph.value(_dataset(live_server, code), prop)).removeprefix(prefix)

    assert [of(c, DCTERMS.accrualPeriodicity, FREQUENCY) for c in
            (catalogue.open, catalogue.conditional, catalogue.logical)] == ["DAILY", "ANNUAL", "CONT"]
    assert [of(c, DCTERMS.accessRights, ACCESS_RIGHT) for c in
            (catalogue.open, catalogue.conditional)] == ["PUBLIC", "RESTRICTED"]


def test_a_centrally_held_entry_is_served_by_the_exchange_service(live_server, catalogue):
    graph = _graph(live_server)
    d = _dataset(live_server, catalogue.open)
    distribution = graph.value(d, DCAT.distribution)
    service = graph.value(distribution, DCAT.accessService)
    assert service == URIRef(f"{live_server.url}/catalogue/service/exchange")
    assert graph.value(distribution, DCAT.accessURL) == URIRef(f"{live_server.url}/exchange")
    assert graph.value(distribution, DCTERMS.format) == URIRef(
        "http://publications.europa.eu/resource/authority/file-type/XML")
    assert graph.value(service, DCAT.endpointURL) == URIRef(f"{live_server.url}/exchange")
    assert graph.value(service, DCAT.endpointDescription) == URIRef(f"{live_server.url}/exchange?wsdl")
    assert set(graph.objects(service, DCAT.servesDataset)) == {d, _dataset(live_server, catalogue.conditional)}
    assert graph.value(service, DCTERMS.conformsTo) == URIRef("http://www.w3.org/TR/2000/NOTE-SOAP-20000508/")


def test_a_logically_held_entry_is_its_providers_own_service(live_server, catalogue):
    graph = _graph(live_server)
    d = _dataset(live_server, catalogue.logical)
    service = graph.value(graph.value(d, DCAT.distribution), DCAT.accessService)
    assert service == URIRef(f"{d}#service")
    assert graph.value(service, DCAT.endpointURL) == URIRef("http://10.20.1.5/household")
    assert graph.value(service, DCAT.endpointDescription) == URIRef(f"{live_server.url}/wsdl/gaj/household.wsdl")
    assert graph.value(service, DCTERMS.title) == Literal("户籍迁入统计信息 服务接口", lang="zh")
    assert graph.value(d, GS.logical) == Literal(True)


def test_the_fields_without_a_dcat_ap_property_are_kept_in_the_govshare_namespace(live_server, catalogue):
    graph = _graph(live_server)
    d = _dataset(live_server, catalogue.conditional)
    assert graph.value(d, GS.sharingType) == Literal("无条件共享", lang="zh")
    assert graph.value(d, GS.sharingMethod) == Literal("共享平台", lang="zh")
    assert graph.value(d, GS.openCondition) == Literal("注册用户可下载, 不得用于商业目的", lang="zh")
    assert (graph.value(d, GS.formatClass), graph.value(d, GS.formatType)) == (
        Literal("电子表格", lang="zh"), Literal("xlsx", lang="zh"))
    items = sorted((int(graph.value(i, GS.position)), str(graph.value(i, GS.itemName)),
                    str(graph.value(i, GS.dataType)), graph.value(i, GS.length))
                   for i in graph.objects(d, GS.informationItem))
    assert items == [(1, "统一社会信用代码", "C", Literal(18)), (2, "成立日期", "D", None)]


# --------------------------------------------------------------------------- addresses, caching, paging


def test_the_uris_are_built_on_the_public_address_when_it_is_set(settings, sessions, catalogue):
    public = replace(settings, public_url="https://data.linjiang.gov.cn/")
    import server

    srv = LiveServer(server.build_app(public, sessions), free_port()).start()
    try:
        graph = _graph(srv)
    finally:
        srv.stop()
    assert (URIRef(f"https://data.linjiang.gov.cn/catalogue/dataset/{catalogue.open}"), RDF.type,
            DCAT.Dataset) in graph
    assert not [s for s in graph.subjects() if str(s).startswith(srv.url)]


def test_a_harvester_whose_copy_is_current_gets_304(live_server, catalogue):
    first = _get(live_server, "/catalogue/dcat.ttl")
    tag = first.headers["ETag"]
    assert first.headers["Last-Modified"].endswith(" GMT")
    again = _get(live_server, "/catalogue/dcat.ttl", **{"If-None-Match": tag})
    assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", tag)
    # the JSON-LD is another representation: the Turtle's tag is not its own
    other = _get(live_server, "/catalogue/dcat.jsonld", **{"If-None-Match": tag})
    assert other.status_code == 200 and other.headers["ETag"] != tag
    assert _get(live_server, "/catalogue/dcat.jsonld",
                **{"If-None-Match": f'"old", {other.headers["ETag"]}'}).status_code == 304


def test_a_change_to_the_catalogue_makes_the_copy_stale(live_server, catalogue, sessions, settings):
    tag = _get(live_server, "/catalogue/dcat.ttl").headers["ETag"]
    workflow.withdraw(as_user(sessions, settings, "gaj"), resource_code=catalogue.logical, reason="接口迁移")
    changed = _get(live_server, "/catalogue/dcat.ttl", **{"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag


def test_the_catalogue_comes_in_pages_a_harvester_follows(live_server, catalogue, monkeypatch):
    monkeypatch.setattr(dcat, "PAGE_SIZE", 2)
    seen, url, pages = set(), f"{live_server.url}/catalogue/dcat.ttl", 0
    hydra = dcat.HYDRA
    while url:
        r = requests.get(url, timeout=60)
        assert r.status_code == 200
        graph = Graph().parse(data=r.content, format="turtle")
        view = graph.value(predicate=RDF.type, object=hydra.PartialCollectionView)
        assert (view, RDF.type, hydra.PagedCollection) in graph and int(graph.value(view, hydra.totalItems)) == 3
        assert view == URIRef(f"{live_server.url}/catalogue/dcat.ttl?page={pages + 1}")
        seen |= _exported(graph)
        pages += 1
        following = graph.value(view, hydra.next)
        assert following == graph.value(view, hydra.nextPage)
        url = str(following) if following else None
        if url is None:
            assert graph.value(view, hydra.last) == view
    assert (pages, seen) == (2, {catalogue.open, catalogue.conditional, catalogue.logical})


@pytest.mark.parametrize(("path", "status"), [("/catalogue/dcat.ttl?page=2", 404), ("/catalogue/dcat.ttl?page=x", 400),
                                              ("/catalogue/dcat.rdf", 404), ("/catalogue/datasets", 404)])
def test_other_catalogue_paths_are_refused_and_say_where_the_files_are(live_server, catalogue, path, status):
    r = _get(live_server, path)
    assert r.status_code == status
    if status == 404 and "page" not in path:
        assert "/catalogue/dcat.ttl" in r.text and "/catalogue/dcat.jsonld" in r.text


def test_a_dataset_uri_leads_to_its_page_in_the_open_catalogue(live_server, catalogue):
    r = requests.get(f"{live_server.url}/catalogue/dataset/{catalogue.open}", allow_redirects=False, timeout=30)
    assert r.status_code == 303
    assert r.headers["Location"] == f"{live_server.url}/portal/open/resource?code={catalogue.open}"
    assert requests.get(r.headers["Location"], timeout=30).status_code == 200
