"""The open catalogue (开放目录) in DCAT-AP 3.0: the graph open-data portals harvest.

One page of the catalogue (``export``), as ``/catalogue/dcat.ttl`` serves it (abridged)::

    <https://data.example.gov.cn/catalogue> a dcat:Catalog ;
        dct:title "政务信息资源开放目录"@zh ;
        dct:publisher <https://data.example.gov.cn/catalogue/publisher> ;
        dcat:dataset <https://data.example.gov.cn/catalogue/dataset/102002001/000001> ;
        dcat:service <https://data.example.gov.cn/catalogue/service/exchange> .

    <https://data.example.gov.cn/catalogue/dataset/102002001/000001> a dcat:Dataset ;
        dct:identifier "102002001/000001" ;
        dct:title "企业登记信息"@zh ;
        dct:publisher <https://data.example.gov.cn/catalogue/department/scjgj> ;
        dct:accrualPeriodicity <http://publications.europa.eu/resource/authority/frequency/DAILY> ;
        dct:accessRights <http://publications.europa.eu/resource/authority/access-right/PUBLIC> ;
        dcat:theme <https://data.example.gov.cn/catalogue/classification/102002001> ;
        dcat:distribution <https://data.example.gov.cn/catalogue/dataset/102002001/000001#distribution> ;
        gs:sharingType "无条件共享"@zh ;
        gs:informationItem [ gs:position 1 ; gs:itemName "统一社会信用代码"@zh ; gs:dataType "C" ; gs:length 18 ] .

    <https://data.example.gov.cn/catalogue/dcat.ttl?page=1> a hydra:PartialCollectionView, hydra:PagedCollection ;
        hydra:totalItems 1200 ; hydra:itemsPerPage 500 ;
        hydra:next <https://data.example.gov.cn/catalogue/dcat.ttl?page=2> ; ...

Which entries: the open catalogue's (``trust.auth.open_catalogue``), whoever asks - published
and open to the public (是否向社会开放); a related code (关联资源代码) outside it is left out.
URIs are built from the platform's public address (``GOVSHARE_PUBLIC_URL``; the front end gives
the request's own address when it is not set), so they stay the same from one harvest to the next.

Paging: ``PAGE_SIZE`` datasets a page by resource code, ``page`` 1 first; every page is a
``dcat:Catalog`` holding its datasets, with a Hydra view giving first / last / next / previous
pages both as DCAT harvesters read them today (``hydra:PartialCollectionView``, ``hydra:next``)
and as ckanext-dcat's older harvesters do (``hydra:PagedCollection``, ``hydra:nextPage``).

The mapping of the core metadata (核心元数据, GB/T 21063.3) to DCAT-AP 3.0:

    =========================  ======================================================================
    GB/T 21063.3 / platform    DCAT-AP 3.0
    =========================  ======================================================================
    资源代码                    dct:identifier; the dataset URI .../catalogue/dataset/<资源代码>
    信息资源名称                dct:title @zh
    信息资源摘要                dct:description @zh
    提供方, 提供方代码           dct:publisher foaf:Agent (foaf:name @zh, dct:identifier = 统一社会信用代码)
    提供方内部部门              dcat:contactPoint vcard:Organization (organization-name, organization-unit)
    信息资源分类 (类/项/目/细目)  dcat:theme skos:Concept (skos:notation, prefLabel @zh, broader) in the
                               platform's skos:ConceptScheme; the path's names as dcat:keyword @zh
    发布日期                    dct:issued xsd:date
    (last change) / version    dct:modified xsd:dateTime; owl:versionInfo and dcat:version
    更新周期                    dct:accrualPeriodicity, EU frequency (``FREQUENCIES``)
    共享类型 + 开放属性          dct:accessRights, EU access-right (``access_right``)
    关联资源代码                dct:relation (open entries only)
    服务地址 / WSDL             dcat:DataService: dcat:endpointURL, dcat:endpointDescription (the WSDL),
                               dct:conformsTo SOAP 1.1; 物理集中 entries share the platform's exchange
                               service, a 逻辑集中 entry has its own (its 服务地址 and WSDL)
    (the interface's output)   dcat:Distribution: dcat:accessURL = the endpoint, dcat:accessService,
                               dct:format XML, dcat:mediaType text/xml (the exchange answers in XML)
    共享类型, 共享条件, 共享方式  gs:sharingType, gs:sharingCondition, gs:sharingMethod  (no DCAT-AP property)
    开放条件                    gs:openCondition
    信息资源格式 (分类/类型)      gs:formatClass, gs:formatType (the resource's own format at its provider)
    逻辑集中                    gs:logical xsd:boolean
    信息项                      gs:informationItem [gs:position, gs:itemName @zh, gs:dataType, gs:length]
    =========================  ======================================================================

``gs:`` is ``http://govshare.local/ns/catalogue/1.0#``.  Not exported: 不予共享依据 (an open entry
is never 不予共享), the status and its reasons, the UDDI serviceKey, the version history.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, RDF, SKOS, XSD, NamespaceManager
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from registry.errors import NotFound
from registry.models import CatalogueEntry, Department
from registry.settings import Settings
from trust.actions import Context, action
from trust.auth import open_catalogue

from . import classification
from .metadata import CONDITIONAL, NOT_SHARED, UNCONDITIONAL
from .public import open_codes

GS = Namespace("http://govshare.local/ns/catalogue/1.0#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
#: DCAT 3's dcat:version (rdflib's DCAT namespace is DCAT 2's)
DCAT_VERSION = URIRef(f"{DCAT}version")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
FREQUENCY = Namespace("http://publications.europa.eu/resource/authority/frequency/")
ACCESS_RIGHT = Namespace("http://publications.europa.eu/resource/authority/access-right/")
FILE_TYPE = Namespace("http://publications.europa.eu/resource/authority/file-type/")
LANGUAGE = Namespace("http://publications.europa.eu/resource/authority/language/")
SOAP_1_1 = URIRef("http://www.w3.org/TR/2000/NOTE-SOAP-20000508/")
XML_MEDIA_TYPE = URIRef("http://www.iana.org/assignments/media-types/text/xml")

#: 更新周期 (directory.taxonomies.UPDATE_CYCLES) -> the EU frequency vocabulary
FREQUENCIES = {"实时": FREQUENCY.CONT, "每日": FREQUENCY.DAILY, "每周": FREQUENCY.WEEKLY, "每月": FREQUENCY.MONTHLY,
               "每季度": FREQUENCY.QUARTERLY, "每半年": FREQUENCY.ANNUAL_2, "每年": FREQUENCY.ANNUAL}
#: the 开放条件 of a resource open to everyone without conditions (directory.catalogue.metadata)
UNCONDITIONALLY_OPEN = "无条件开放"
#: datasets on one page of the export
PAGE_SIZE = 500
#: the namespaces of the files, and the JSON-LD @context that compacts to them
PREFIXES = {"dcat": DCAT, "dct": DCTERMS, "foaf": FOAF, "vcard": VCARD, "skos": SKOS, "owl": OWL, "xsd": XSD,
            "hydra": HYDRA, "gs": GS}
CONTEXT = {prefix: str(namespace) for prefix, namespace in PREFIXES.items()}
#: the files the catalogue is served as -> (media type, rdflib's serialiser)
DOCUMENTS = {"dcat.ttl": ("text/turtle", "turtle"), "dcat.jsonld": ("application/ld+json", "json-ld")}
#: changed whenever the mapping changes, so that a harvester's copy made by the last one is not current
MAPPING_VERSION = "1"


@dataclass(frozen=True)
class Export:
    """One page of the open catalogue as a DCAT-AP graph, and what a cache needs to know of it.

    ``tag`` changes whenever the page would (an entry published, withdrawn or changed, a provider
    renamed, another address or mapping); ``graph`` is None when the caller named it as current.
    ``modified`` is when an entry last entered or left the open catalogue (None: never)."""

    tag: str
    modified: datetime | None
    total: int
    page: int
    pages: int
    graph: Graph | None


@action("catalogue.dcat")
def export(ctx: Context, *, base_url: str, page: int = 1, document: str = "dcat.ttl", current: Collection[str] = (),
           address: str | None = None) -> Export:
    """Page ``page`` of the open catalogue as DCAT-AP, its URIs under ``base_url``, served as ``document``
    (one of ``DOCUMENTS``: its pages link to each other); without a graph when ``current`` holds the
    page's tag or ``*`` (the harvester's copy is current).  ``address``: the harvester's, for the audit log."""
    if document not in DOCUMENTS:
        raise NotFound(f"the open catalogue is served as {' and '.join(DOCUMENTS)}, not {document}",
                       code="DocumentNotFound", field="document", zh=f"开放目录没有 {document} 文件。")
    session = ctx.session
    base = base_url.rstrip("/")
    rows = session.execute(select(CatalogueEntry.resource_code, CatalogueEntry.version, CatalogueEntry.modified,
                                  Department.code, Department.name, Department.credit_code)
                           .join(Department, CatalogueEntry.provider_id == Department.id)
                           .where(*open_catalogue()).order_by(CatalogueEntry.resource_code)).all()
    total = len(rows)
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    if not 1 <= page <= pages:
        raise NotFound(f"the open catalogue has {pages} page(s) of {PAGE_SIZE} datasets: there is no page {page}",
                       code="PageNotFound", field="page", zh=f"开放目录共 {pages} 页, 没有第 {page} 页。")
    tag = _tag(rows, base, document, page, ctx.settings)
    modified = _last_change(session)
    ctx.note(detail=f"page {page} of {pages}, from {address or 'an unknown address'}")
    if tag in current or "*" in current:
        return Export(tag, modified, total, page, pages, None)
    codes = [row.resource_code for row in rows[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]]
    entries = session.scalars(select(CatalogueEntry).where(CatalogueEntry.resource_code.in_(codes))
                              .options(selectinload(CatalogueEntry.provider), selectinload(CatalogueEntry.items))
                              .order_by(CatalogueEntry.resource_code)).all()
    related = {code for entry in entries for code in entry.related_codes or ()}
    graph = catalogue_graph(entries, open_codes(session, related), base=base, settings=ctx.settings,
                            modified=modified, paging=(document, page, pages, total))
    ctx.note(record_count=len(entries))
    return Export(tag, modified, total, page, pages, graph)


class _Prefixes(NamespaceManager):
    """The ``PREFIXES`` and no others: a URI outside them (a dataset's, a department's, an EU
    vocabulary's) is written whole at once.  rdflib would first look for the longest namespace it has
    seen each such URI in - a search that grows with every dataset, and took 70% of a page's time."""

    def __init__(self, graph: Graph):
        super().__init__(graph, bind_namespaces="none")
        for prefix, namespace in PREFIXES.items():
            self.bind(prefix, namespace)
        self._known = tuple(str(namespace) for namespace in PREFIXES.values()) + (str(RDF),)

    def compute_qname(self, uri: str, generate: bool = True) -> tuple[str, URIRef, str]:
        if not str.startswith(uri, self._known):
            raise ValueError(f"{uri} is written whole")
        return super().compute_qname(uri, generate)


def serialize(graph: Graph, document: str) -> bytes:
    """The graph as the file ``document`` (``DOCUMENTS``): Turtle, or JSON-LD compacted with ``CONTEXT``."""
    if DOCUMENTS[document][1] == "json-ld":
        return graph.serialize(format="json-ld", context=CONTEXT, encoding="utf-8")
    return graph.serialize(format="turtle", encoding="utf-8")


# --------------------------------------------------------------------------- the mapping


def frequency(update_cycle: str) -> URIRef:
    """The EU frequency of a 更新周期; one the table does not know is irregular (IRREG)."""
    return FREQUENCIES.get(update_cycle, FREQUENCY.IRREG)


def access_right(sharing_type: str, open_to_public: bool, open_condition: str) -> URIRef:
    """The EU access right of an entry's 共享类型 and 开放属性: open without conditions is PUBLIC; open
    under conditions, or shared within government only (无条件共享, 有条件共享), RESTRICTED; 不予共享
    NON_PUBLIC.  The open catalogue holds PUBLIC and RESTRICTED entries only."""
    if sharing_type == NOT_SHARED:
        return ACCESS_RIGHT.NON_PUBLIC
    if open_to_public and open_condition.strip() == UNCONDITIONALLY_OPEN:
        return ACCESS_RIGHT.PUBLIC
    if open_to_public or sharing_type in (UNCONDITIONAL, CONDITIONAL):
        return ACCESS_RIGHT.RESTRICTED
    return ACCESS_RIGHT.NON_PUBLIC


@dataclass(frozen=True)
class Uris:
    """The export's URIs, all under the platform's public address ``base``."""

    base: str

    @property
    def catalogue(self) -> URIRef:
        return URIRef(f"{self.base}/catalogue")

    @property
    def publisher(self) -> URIRef:
        return URIRef(f"{self.base}/catalogue/publisher")

    @property
    def scheme(self) -> URIRef:
        return URIRef(f"{self.base}/catalogue/classification")

    @property
    def exchange(self) -> URIRef:
        return URIRef(f"{self.base}/catalogue/service/exchange")

    @property
    def homepage(self) -> URIRef:
        return URIRef(f"{self.base}/portal/open")

    def dataset(self, code: str) -> URIRef:
        return URIRef(f"{self.base}/catalogue/dataset/{code}")

    def landing_page(self, code: str) -> URIRef:
        return URIRef(f"{self.base}/portal/open/resource?code={code}")

    def department(self, code: str) -> URIRef:
        return URIRef(f"{self.base}/catalogue/department/{code}")

    def concept(self, code: str) -> URIRef:
        return URIRef(f"{self.base}/catalogue/classification/{code}")

    def page(self, document: str, number: int) -> URIRef:
        return URIRef(f"{self.base}/catalogue/{document}?page={number}")


def catalogue_graph(entries: Sequence[CatalogueEntry], shown: set[str], *, base: str, settings: Settings,
                                    modified: datetime | None, paging: tuple[str, int, int, int]) -> Graph:
    """The ``dcat:Catalog`` of ``entries`` (rows with their provider and items loaded); ``shown``: the
    codes a dct:relation may name; ``paging``: (the document, page, pages, total datasets)."""
    uris = Uris(base)
    g = Graph(bind_namespaces="none")
    g.namespace_manager = _Prefixes(g)
    catalogue = uris.catalogue
    g.add((catalogue, RDF.type, DCAT.Catalog))
    g.add((catalogue, DCTERMS.title, Literal(settings.catalogue_title, lang="zh")))
    g.add((catalogue, DCTERMS.description, Literal(
        f"{settings.catalogue_publisher}向社会开放的政务信息资源目录 (GB/T 21063.3 核心元数据, DCAT-AP 3.0)。",
        lang="zh")))
    g.add((catalogue, DCTERMS.publisher, uris.publisher))
    _agent(g, uris.publisher, settings.catalogue_publisher)
    g.add((catalogue, DCTERMS.language, LANGUAGE.ZHO))
    g.add((LANGUAGE.ZHO, RDF.type, DCTERMS.LinguisticSystem))
    g.add((catalogue, FOAF.homepage, uris.homepage))
    g.add((uris.homepage, RDF.type, FOAF.Document))
    if modified is not None:
        g.add((catalogue, DCTERMS.modified, _datetime(modified)))
    g.add((catalogue, DCAT.themeTaxonomy, uris.scheme))
    g.add((uris.scheme, RDF.type, SKOS.ConceptScheme))
    g.add((uris.scheme, DCTERMS.title, Literal("政务信息资源分类", lang="zh")))
    g.add((uris.scheme, SKOS.prefLabel, Literal("政务信息资源分类", lang="zh")))
    departments: set[str] = set()
    for entry in entries:
        dataset = uris.dataset(entry.resource_code)
        g.add((catalogue, DCAT.dataset, dataset))
        if entry.provider.code not in departments:
            departments.add(entry.provider.code)
            _agent(g, uris.department(entry.provider.code), entry.provider.name, entry.provider.credit_code)
        _dataset(g, uris, dataset, entry, shown)
        g.add((catalogue, DCAT.service, _service(g, uris, dataset, entry, settings)))
    _paging(g, uris, *paging)
    return g


def _dataset(g: Graph, uris: Uris, dataset: URIRef, entry: CatalogueEntry, shown: set[str]) -> None:
    add = g.add
    add((dataset, RDF.type, DCAT.Dataset))
    add((dataset, DCTERMS.identifier, Literal(entry.resource_code)))
    add((dataset, DCTERMS.title, Literal(entry.name, lang="zh")))
    add((dataset, DCTERMS.description, Literal(entry.abstract, lang="zh")))
    add((dataset, DCTERMS.publisher, uris.department(entry.provider.code)))
    if entry.publish_date is not None:
        add((dataset, DCTERMS.issued, Literal(entry.publish_date, datatype=XSD.date)))
    add((dataset, DCTERMS.modified, _datetime(entry.modified)))
    add((dataset, OWL.versionInfo, Literal(str(entry.version))))
    add((dataset, DCAT_VERSION, Literal(str(entry.version))))
    add((dataset, DCTERMS.language, LANGUAGE.ZHO))
    add((dataset, DCAT.landingPage, uris.landing_page(entry.resource_code)))
    add((uris.landing_page(entry.resource_code), RDF.type, FOAF.Document))
    period = frequency(entry.update_cycle)
    add((dataset, DCTERMS.accrualPeriodicity, period))
    add((period, RDF.type, DCTERMS.Frequency))
    rights = access_right(entry.sharing_type, entry.open_to_public, entry.open_condition)
    add((dataset, DCTERMS.accessRights, rights))
    add((rights, RDF.type, DCTERMS.RightsStatement))
    _theme(g, uris, dataset, entry.class_code)
    contact = BNode()
    add((dataset, DCAT.contactPoint, contact))
    add((contact, RDF.type, VCARD.Kind))
    add((contact, RDF.type, VCARD.Organization))
    add((contact, VCARD.fn, Literal(" ".join(filter(None, (entry.provider.name, entry.provider_unit))), lang="zh")))
    add((contact, VCARD["organization-name"], Literal(entry.provider.name, lang="zh")))
    if entry.provider_unit:
        add((contact, VCARD["organization-unit"], Literal(entry.provider_unit, lang="zh")))
    for code in entry.related_codes or ():
        if code in shown:
            add((dataset, DCTERMS.relation, uris.dataset(code)))
    for name, value in (("sharingType", entry.sharing_type), ("sharingCondition", entry.sharing_condition),
                        ("sharingMethod", entry.sharing_method), ("openCondition", entry.open_condition),
                        ("formatClass", entry.format_class), ("formatType", entry.format_type)):
        if value:
            add((dataset, GS[name], Literal(value, lang="zh")))
    add((dataset, GS.logical, Literal(bool(entry.logical))))
    for item in entry.items:
        node = BNode()
        add((dataset, GS.informationItem, node))
        add((node, RDF.type, GS.InformationItem))
        add((node, GS.position, Literal(item.position)))
        add((node, GS.itemName, Literal(item.name, lang="zh")))
        add((node, GS.dataType, Literal(item.data_type)))
        if item.length is not None:
            add((node, GS.length, Literal(item.length)))


def _theme(g: Graph, uris: Uris, dataset: URIRef, class_code: str) -> None:
    """The classification as the dataset's theme, with the concepts above it; their names as keywords."""
    try:
        path = classification.path(class_code)
    except classification.UnknownClassification:  # a code since dropped from the tree: the code alone
        path = []
        g.add((dataset, DCAT.theme, uris.concept(class_code)))
    broader = None
    for node in path:
        concept = uris.concept(node.code)
        g.add((concept, RDF.type, SKOS.Concept))
        g.add((concept, SKOS.notation, Literal(node.code)))
        g.add((concept, SKOS.prefLabel, Literal(node.name, lang="zh")))
        g.add((concept, SKOS.inScheme, uris.scheme))
        if broader is None:
            g.add((uris.scheme, SKOS.hasTopConcept, concept))
        else:
            g.add((concept, SKOS.broader, broader))
        g.add((dataset, DCAT.keyword, Literal(node.name, lang="zh")))
        broader = concept
    if broader is not None:
        g.add((dataset, DCAT.theme, broader))


def _service(g: Graph, uris: Uris, dataset: URIRef, entry: CatalogueEntry, settings: Settings) -> URIRef:
    """The entry's distribution and the data service behind it; returns the service.

    The centre answers for a 物理集中 resource through its exchange service (QueryRecords), one
    service for all of them; a 逻辑集中 resource is its provider's own service, at its 服务地址."""
    address, wsdl = interface(uris.base, logical=entry.logical, access_point=entry.access_point,
                              wsdl_path=entry.wsdl_path)
    endpoint, description = URIRef(address), URIRef(wsdl) if wsdl else None
    if entry.logical:
        service = URIRef(f"{dataset}#service")
        title, publisher = f"{entry.name} 服务接口", uris.department(entry.provider.code)
    else:
        service = uris.exchange
        title, publisher = f"{settings.catalogue_publisher} 数据交换服务 (QueryRecords)", uris.publisher
    if (service, RDF.type, DCAT.DataService) not in g:
        g.add((service, RDF.type, DCAT.DataService))
        g.add((service, DCTERMS.title, Literal(title, lang="zh")))
        g.add((service, DCAT.endpointURL, endpoint))
        if description is not None:
            g.add((service, DCAT.endpointDescription, description))
        g.add((service, DCTERMS.conformsTo, SOAP_1_1))
        g.add((SOAP_1_1, RDF.type, DCTERMS.Standard))
        g.add((service, DCTERMS.publisher, publisher))
    g.add((service, DCAT.servesDataset, dataset))
    distribution = URIRef(f"{dataset}#distribution")
    g.add((dataset, DCAT.distribution, distribution))
    g.add((distribution, RDF.type, DCAT.Distribution))
    g.add((distribution, DCTERMS.title, Literal(f"{entry.name} (共享接口)", lang="zh")))
    g.add((distribution, DCAT.accessURL, endpoint))
    g.add((distribution, DCAT.accessService, service))
    g.add((distribution, DCTERMS.format, FILE_TYPE.XML))
    g.add((FILE_TYPE.XML, RDF.type, DCTERMS.MediaTypeOrExtent))
    g.add((distribution, DCAT.mediaType, XML_MEDIA_TYPE))
    g.add((XML_MEDIA_TYPE, RDF.type, DCTERMS.MediaType))
    return service


def interface(base: str, *, logical: bool, access_point: str, wsdl_path: str) -> tuple[str, str | None]:
    """The address an entry's data is reached at and its WSDL, if any: a 物理集中 resource's is the
    centre's exchange service; a 逻辑集中 one's is its provider's service (its 服务地址 - the
    exchange relays to it when it has none of its own - and its WSDL in the platform's repository)."""
    if not logical:
        return f"{base}/exchange", f"{base}/exchange?wsdl"
    return access_point or f"{base}/exchange", f"{base}/wsdl/{wsdl_path}" if wsdl_path else None


def _agent(g: Graph, agent: URIRef, name: str, credit_code: str | None = None) -> None:
    g.add((agent, RDF.type, FOAF.Agent))
    g.add((agent, FOAF.name, Literal(name, lang="zh")))
    if credit_code:
        g.add((agent, DCTERMS.identifier, Literal(credit_code)))


def _paging(g: Graph, uris: Uris, document: str, page: int, pages: int, total: int) -> None:
    view = uris.page(document, page)
    g.bind("hydra", HYDRA)
    g.add((view, RDF.type, HYDRA.PartialCollectionView))
    g.add((view, RDF.type, HYDRA.PagedCollection))
    g.add((view, HYDRA.totalItems, Literal(total)))
    g.add((view, HYDRA.itemsPerPage, Literal(PAGE_SIZE)))
    links = {"first": 1, "last": pages, "next": page + 1 if page < pages else None,
             "previous": page - 1 if page > 1 else None}
    for name, number in links.items():
        if number is not None:
            g.add((view, HYDRA[name], uris.page(document, number)))
            g.add((view, HYDRA[f"{name}Page"], uris.page(document, number)))


def _datetime(value: datetime) -> Literal:
    """A stored naive-UTC time as an xsd:dateTime in UTC."""
    return Literal(value.replace(tzinfo=UTC).isoformat(), datatype=XSD.dateTime)


# --------------------------------------------------------------------------- caching


def _tag(rows: Iterable, base: str, document: str, page: int, settings: Settings) -> str:
    """A digest of everything a page shows: every open entry's code, version and time of change
    and its provider (a related code is shown when it is open, so the whole open set counts),
    the address, the file and its page, the catalogue's own names and the mapping."""
    digest = hashlib.sha256(f"{MAPPING_VERSION}|{base}|{document}|{page}|{PAGE_SIZE}|{settings.catalogue_title}|"
                            f"{settings.catalogue_publisher}".encode())
    for code, version, modified, department, name, credit_code in rows:
        digest.update(f"\n{code}|{version}|{modified.isoformat()}|{department}|{name}|{credit_code}".encode())
    return digest.hexdigest()[:32]


def _last_change(session: Session) -> datetime | None:
    """When an entry last entered or left the open catalogue: it was published open, or withdrawn
    from it (a withdrawn entry keeps its 开放属性 until it is edited, when it has left already)."""
    return session.scalar(select(func.max(CatalogueEntry.modified))
                          .where(CatalogueEntry.open_to_public.is_(True),
                                 CatalogueEntry.status.in_(("published", "withdrawn"))))

