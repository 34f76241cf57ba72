"""UDDI inquiry API (spec 5.1): find_* and get_* operations.

    <find_service xmlns="urn:uddi-org:api_v3" maxRows="20">
      <findQualifiers><findQualifier>approximateMatch</findQualifier></findQualifiers>
      <name>人口%</name>
      <categoryBag>
        <keyedReference tModelKey="uddi:govshare:categorization:classification" keyValue="101"/>
        <keyedReference tModelKey="uddi:govshare:categorization:sharing-type" keyValue="无条件共享"/>
      </categoryBag>
    </find_service>
    ->
    <serviceList xmlns="urn:uddi-org:api_v3" truncated="false">
      <listDescription><includeCount>20</includeCount><actualCount>57</actualCount>
        <listHead>1</listHead></listDescription>
      <serviceInfos>
        <serviceInfo serviceKey="..." businessKey="..."><name xml:lang="zh-CN">...</name></serviceInfo>
      </serviceInfos>
    </serviceList>

Searches run as SQL over the index tables of ``registry.models`` (names, keyed
references, tModel instances); only the page that is returned is read back.

Subscriptions (:mod:`.subscription`) run the same find_* and get_*Detail among the entities
changed in a period (:class:`Changed`), and a find_* among the entities about to be deleted
(:mod:`.deletions`): a find's ``only`` condition narrows what it may find.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lxml import etree
from sqlalchemy import Select, String, and_, bindparam, false, func, literal_column, or_, select, true
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from registry.db import escape_like, inline
from registry.errors import UddiError
from registry.models import UddiEntity, UddiKeyedReference, UddiName, UddiTModelInstance

from . import keys, qualifiers, store
from .context import Call
from .store import GENERAL_KEYWORDS, XML_LANG, fresh, q, sub


@dataclass
class Page:
    head: int  # 1-based
    max_rows: int
    explicit: bool


@dataclass(frozen=True)
class Changed:
    """Entities changed from ``start`` to ``end``, both included (the platform's times are whole seconds):
    saved, or with a contained entity saved or deleted (``modifiedIncludingChildren``)."""

    start: datetime
    end: datetime

    def condition(self) -> ColumnElement:
        return UddiEntity.modified_including_children.between(self.start, self.end)

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment <= self.end


def _page(call: Call, request: etree._Element) -> Page:
    try:
        max_rows = int(request.get("maxRows", "0") or 0)
        head = int(request.get("listHead", "1") or 1)
    except ValueError:
        raise UddiError("E_invalidValue", "maxRows and listHead must be integers") from None
    if max_rows < 0 or head < 1:
        raise UddiError("E_invalidValue", "maxRows must be positive and listHead at least 1")
    explicit = "maxRows" in request.attrib or "listHead" in request.attrib
    cap = call.settings.max_rows
    return Page(head=head, max_rows=min(max_rows or cap, cap), explicit=explicit)


# ------------------------------------------------------------------------- conditions
#
# Every criterion of a find is a set of entity keys taken from one index table.  The
# most selective set drives the query (``key IN (...)``) and the others are probed per
# candidate (``EXISTS``), so the database never walks every entity of a kind.


@dataclass
class KeySet:
    """Entity keys matching one criterion: rows of an index table ``model`` for which
    ``build(alias)`` holds, their ``key`` column naming the entity.

    ``single`` marks a criterion that one index row per entity answers (one name, one
    keyedReference): such a set can drive a search in name order straight from the index.
    """

    model: Any
    build: Callable[[Any], ColumnElement] | None
    selectivity: int  # higher drives first
    key: str = "entity_key"
    single: bool = False
    grouped: Select | None = None  # a ready select of keys (tModelBag with andAllKeys, nested finds)
    #: a criterion of a known shape: ``template(alias, value, probe)`` builds it, ``value(i)`` standing
    #: for the i-th of ``values``, so that a statement built once per ``shape`` serves any values;
    #: ``probe``: the condition of a probe (``probing``), for one candidate entity
    shape: tuple | None = None
    template: Callable[[Any, Callable[[int], Any], bool], ColumnElement] | None = None
    values: tuple[str, ...] = ()
    literal: bool = True  # the values are written into the SQL (they steer the plan), not bound

    def condition(self, t, value: Callable[[int], Any] | None = None, *, probe: bool = False) -> ColumnElement:
        """The criterion over the index table's columns ``t``: with its own values, or with
        ``value(i)`` for the i-th (the parameters of a statement built once per shape)."""
        if self.template is None:
            return self.build(t)
        if value is None:
            value = (lambda i: inline(self.values[i])) if self.literal else self.values.__getitem__
        return self.template(t, value, probe)

    def parameter(self, name: str) -> Callable[[int], BindParameter]:
        """``value`` for ``condition``: the i-th value as parameter ``name``i of a statement built once."""
        return lambda i: bindparam(f"{name}{i}", type_=String(), literal_execute=self.literal)

    def columns(self):
        """The columns of a fresh alias of the index table (Core: cheap to build per request)."""
        return self.model.__table__.alias().c

    def keys(self) -> Select:
        if self.grouped is not None:
            return select(self.grouped.subquery().c[0])
        c = self.columns()
        return select(c[self.key]).where(self.condition(c))

    def driving(self, key: ColumnElement = UddiEntity.key) -> ColumnElement:
        return key.in_(self.keys())

    def probing(self, key: ColumnElement = UddiEntity.key, value: Callable[[int], Any] | None = None) -> ColumnElement:
        if self.grouped is not None:
            return self.driving(key)
        c = self.columns()
        # SELECT 1, not SELECT *: SQLite then answers the probe from a covering index alone.
        return select(literal_column("1")).where(c[self.key] == key, self.condition(c, value, probe=True)).exists()


def _ordered(sets: list[KeySet]) -> list[KeySet]:
    return sorted(sets, key=lambda s: -s.selectivity)


def _narrow(stmt: Select, kind: str, sets: list[KeySet]) -> Select:
    if not sets:
        return stmt.where(UddiEntity.kind == inline(kind))
    ordered = _ordered(sets)
    # The subqueries filter by kind already; an outer kind filter would tempt the planner
    # to walk every entity of the kind instead.
    return stmt.where(ordered[0].driving(), *(s.probing() for s in ordered[1:]))


def _first_page_by_name(call: Call, sets: list[KeySet], qual, page: Page):
    """One page of services read in name order from the driving index alone, with each one's
    parent and names, in one statement: ``(rows, total, names)``, or None.

    Used when the most selective criterion is ``single`` and the order is by name: the
    candidates need neither a lookup of their entity row nor a sort.  None otherwise, and for
    an empty page (the general query then counts the total).
    """
    if not sets or "sortByDateAsc" in qual.names or "sortByDateDesc" in qual.names:
        return None
    ordered = _ordered(sets)
    if not ordered[0].single:
        return None
    desc = "sortByNameDesc" in qual.names
    window = {"page_offset": page.head - 1, "page_limit": page.max_rows}
    if all(s.shape is not None for s in ordered):  # criteria of known shapes: a statement built once
        shape = (tuple(s.shape for s in ordered), desc)
        stmt = _PAGE_STATEMENTS.get(shape)
        if stmt is None:
            stmt = _page_statement(ordered, [s.parameter(f"v{n}_") for n, s in enumerate(ordered)], desc)
            if len(_PAGE_STATEMENTS) < _PAGE_STATEMENTS_KEPT:
                _PAGE_STATEMENTS[shape] = stmt
        values = {f"v{n}_{i}": value for n, s in enumerate(ordered) for i, value in enumerate(s.values)}
        # Core columns only: run on the session's connection, without the ORM's execution
        result = call.session.connection().execute(stmt, {**values, **window}).all()
    else:
        result = call.session.execute(_page_statement(ordered, [None] * len(ordered), desc), window).all()
    if not result:
        return None
    rows: dict[str, _KeyRow] = {}
    names: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for entity_key, _total, parent, lang, value in result:
        rows.setdefault(entity_key, _KeyRow(entity_key, parent))
        if value is not None:
            names[entity_key].append((lang, value))
    return list(rows.values()), result[0].total, names


#: first-page statements by (the criteria's shapes, descending), built once per process; a
#: request names the tModelKeys of its shape, so only so many are kept
_PAGE_STATEMENTS: dict[tuple, Select] = {}
_PAGE_STATEMENTS_KEPT = 512


def _page_statement(sets: list[KeySet], values: list, desc: bool) -> Select:
    """The page (``page_offset``, ``page_limit``) of entities ``sets`` select, read from the
    first one's index in name order, with each one's parent and names; ``values[n]`` is the
    ``value`` of the n-th criterion's condition (None: its own values)."""
    driver, others = sets[0], sets[1:]
    c = driver.columns()
    key, name = c[driver.key], c.sort_name
    chosen = (
        select(key.label("key"), name.label("sort_name"), func.count().over().label("total"))
        .where(driver.condition(c, values[0]), *(s.probing(key, v) for s, v in zip(others, values[1:], strict=True)))
        .order_by(name.desc() if desc else name.asc(), key.desc() if desc else key.asc())
        .offset(bindparam("page_offset")).limit(bindparam("page_limit"))
    )
    if driver.model is UddiName:  # two names of one entity may both match: one row per entity
        chosen = chosen.group_by(key, name)
    chosen = chosen.subquery("page")
    order = (chosen.c.sort_name.desc(), chosen.c.key.desc()) if desc else (chosen.c.sort_name, chosen.c.key)
    return (
        select(chosen.c.key, chosen.c.total, UddiEntity.parent_key, UddiName.lang, UddiName.value)
        .join_from(chosen, UddiEntity, UddiEntity.key == chosen.c.key)
        .outerjoin(UddiName, UddiName.entity_key == UddiEntity.key)
        .order_by(*order, UddiName.id)
    )


def _name_set(kind: str, names: list[etree._Element], qual: qualifiers.Qualifiers) -> KeySet:
    specs = [((n.text or "").strip(), (n.get(XML_LANG) or "").lower()) for n in names]
    values: list[str] = []
    langs = []
    for text, lang in specs:
        values.append(text.casefold() if qual.case_insensitive else text)
        if lang:  # the language or one of its subtags (en matches en-US)
            values += [lang, escape_like(lang + "-") + "%"]
        langs.append(bool(lang))

    def template(t, value, _probe) -> ColumnElement:
        alternatives, i = [], 0
        column = t.folded if qual.case_insensitive else t.value
        for has_lang in langs:
            match = column.like(value(i), escape="\\") if qual.approximate else column == value(i)
            cond = and_(t.kind == inline(kind), match)
            if has_lang:
                cond = and_(cond, or_(t.lang == value(i + 1), t.lang.like(value(i + 2), escape="\\")))
            alternatives.append(cond)
            i += 3 if has_lang else 1
        return or_(*alternatives)

    # One plain name, the common find, is bound: any plan for it reads the name index.
    plain = len(specs) == 1 and not specs[0][1] and not qual.approximate
    return KeySet(UddiName, None, 1000 if not qual.approximate else 500, single=len(specs) == 1,
                  shape=("name", kind, qual.case_insensitive, qual.approximate, tuple(langs)), template=template,
                  values=tuple(values), literal=not plain)


def _ref_terms(kind: str, bag: str, terms: list[tuple[str, etree._Element, str]], qual, selectivity: int) -> KeySet:
    """The keyedReferences ``terms`` (tModelKey, keyedReference, its group's tModelKey or ""),
    any of which an entity's ``bag`` must hold, as a criterion of a known shape.  Their values are
    written into the SQL where they steer the plan (registry.db.inline), and bound for one plain
    keyedReference: its page is read from the lookup index in name order whatever its value, and its
    probes read each candidate's own rows (below), so the statement is planned once, not at every find."""
    shape, values = [], []
    for _key, kr, group_key in terms:
        tkey, value = keys.normalize(kr.get("tModelKey", "")), kr.get("keyValue", "")
        values += [tkey, value.lower() if qual.case_insensitive else value]
        general = tkey == GENERAL_KEYWORDS  # keyName is significant only for general keywords (spec 5.1.7)
        if general:
            values.append(kr.get("keyName", ""))
        if group_key:
            values.append(group_key)
        shape.append((general, bool(group_key)))

    def template(t, value, probe) -> ColumnElement:
        column = func.lower(t.key_value) if qual.case_insensitive else t.key_value
        if probe and not qual.case_insensitive:
            # A probe reads the candidate's own rows (ix_uddi_kr_entity).  Compared through an
            # expression, key_value cannot be matched in the lookup index instead: a plan made for
            # any value (its value bound) guesses one row for it there and would scan a whole
            # sharing type (共享类型) for every candidate.
            column = column.concat("")
        alternatives, i = [], 0
        for general, grouped in shape:
            match = column.like(value(i + 1), escape="\\") if qual.approximate else column == value(i + 1)
            conds = [t.kind == inline(kind), t.bag == inline(bag), t.tmodel_key == value(i), match]
            i += 2
            if general:
                conds.append(t.key_name == value(i))
                i += 1
            if grouped:
                conds.append(t.group_tmodel_key == value(i))
                i += 1
            alternatives.append(and_(*conds))
        return or_(*alternatives)

    single = len(terms) == 1 and not qual.approximate
    return KeySet(UddiKeyedReference, None, selectivity, single=single,
                  shape=("ref", kind, bag, qual.case_insensitive, qual.approximate, tuple(shape)),
                  template=template, values=tuple(values), literal=not single or qual.case_insensitive)


def _bag_sets(call: Call, kind: str, bag_name: str, bag: etree._Element, qual, default: str) -> list[KeySet]:
    """One KeySet per AND-ed term of a categoryBag or identifierBag."""
    bag_key = "category" if bag_name == "categoryBag" else "identifier"
    terms: list[tuple[str, etree._Element, str]] = []
    for kr in bag.findall(q("keyedReference")):
        keys.check_syntax(kr.get("tModelKey", ""))
        terms.append((keys.normalize(kr.get("tModelKey", "")), kr, ""))
    for group in bag.findall(q("keyedReferenceGroup")):
        gkey = keys.check_syntax(group.get("tModelKey", ""))
        for kr in group.findall(q("keyedReference")):
            keys.check_syntax(kr.get("tModelKey", ""))
            terms.append((gkey, kr, gkey))
    if not terms:
        return []
    logic = qual.key_logic(default)
    if logic == "and":
        groups = [[term] for term in terms]
    elif logic == "or":
        groups = [terms]
    else:
        by_tmodel: dict[str, list] = defaultdict(list)
        for term in terms:
            by_tmodel[term[0]].append(term)
        groups = list(by_tmodel.values())

    return [_ref_terms(kind, bag_key, group, qual,
                       _selectivity(call, [tkey for tkey, _kr, _g in group]) - (len(group) - 1))
            for group in groups]


def _selectivity(call: Call, tmodel_keys: list[str]) -> int:
    """Taxonomies with few values (共享类型: 3) narrow less than open ones (资源代码)."""
    sizes = [len(call.checked_values[t]) if t in call.checked_values else 900 for t in tmodel_keys]
    return min(min(sizes), 900)


def _tmodel_keys(call: Call, request: etree._Element) -> list[str] | None:
    """Keys of the tModelBag plus those found by a nested find_tModel; None if neither."""
    found: list[str] | None = None
    bag = request.find(q("tModelBag"))
    if bag is not None:
        found = [keys.check_syntax(k.text or "") for k in bag.findall(q("tModelKey"))]
    nested = request.find(q("find_tModel"))
    if nested is not None:
        stmt = _tmodel_query(call, nested, qualifiers.parse(nested)).with_only_columns(UddiEntity.key)
        found = (found or []) + list(call.session.scalars(stmt))
    return found


def _tmodel_set(tkeys: list[str], logic: str, column: str) -> KeySet:
    """Services (column 'service_key') or bindings ('binding_key') whose bindingTemplate
    references all (andAllKeys) or any of ``tkeys``."""
    tmi = UddiTModelInstance
    if not tkeys:  # an empty bag after find_tModel matches nothing
        return KeySet(tmi, lambda t: false(), 2000, key=column)
    wanted = set(tkeys)
    if logic == "and" and len(wanted) > 1:
        grouped = (select(getattr(tmi, column)).where(tmi.tmodel_key.in_([inline(k) for k in sorted(wanted)]))
                   .group_by(tmi.binding_key, tmi.service_key)
                   .having(func.count(func.distinct(tmi.tmodel_key)) == len(wanted)))
        return KeySet(tmi, lambda t: true(), 100, key=column, grouped=grouped)
    return KeySet(tmi, lambda t: t.tmodel_key.in_([inline(k) for k in sorted(wanted)]), 100, key=column)


def _order(stmt: Select, qual: qualifiers.Qualifiers, by_name_default: bool = True) -> Select:
    clauses = []
    for field_, desc in qual.sort(by_name_default):
        column = UddiEntity.sort_name if field_ == "name" else UddiEntity.modified
        clauses.append(column.desc() if desc else column.asc())
    clauses.append(UddiEntity.key.asc())  # a stable order for paging
    return stmt.order_by(*clauses)


def _run(call: Call, stmt: Select, page: Page) -> tuple[list, int]:
    """One page and the total number of matches, in one query when the page is not empty.

    A statement selecting the UddiEntity entity yields entities; one selecting columns
    yields rows of those columns.
    """
    entities = stmt.column_descriptions[0]["type"] is UddiEntity
    rows = list(call.session.execute(
        stmt.add_columns(func.count().over().label("total")).offset(page.head - 1).limit(page.max_rows)
    ))
    if rows:
        return [row[0] if entities else row for row in rows], rows[0].total
    total = call.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return [], total


def _list_element(name: str, rows: list, total: int, page: Page) -> etree._Element:
    truncated = page.head - 1 + len(rows) < total
    out = fresh(name, {"truncated": "true" if truncated else "false"})
    if page.explicit or truncated:
        desc = sub(out, "listDescription")
        sub(desc, "includeCount", text=str(len(rows)))
        sub(desc, "actualCount", text=str(total))
        sub(desc, "listHead", text=str(page.head))
    return out


def _names_of(call: Call, entity_keys: list[str]) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    if entity_keys:
        for key, lang, value in call.session.execute(
            select(UddiName.entity_key, UddiName.lang, UddiName.value)
            .where(UddiName.entity_key.in_(entity_keys)).order_by(UddiName.id)
        ):
            out[key].append((lang, value))
    return out


def _add_names(parent: etree._Element, names: list[tuple[str, str]]) -> None:
    for lang, value in names:
        sub(parent, "name", {XML_LANG: lang} if lang else None, value)


def _copy_children(parent: etree._Element, source: etree._Element, local: str) -> None:
    for el in source.findall(q(local)):
        parent.append(el)


# ------------------------------------------------------------------------- find_*


def _bags(call: Call, kind: str, request: etree._Element, qual, bags: tuple[tuple[str, str], ...]) -> list[KeySet]:
    sets = []
    for bag_name, default in bags:
        bag = request.find(q(bag_name))
        if bag is not None:
            sets.extend(_bag_sets(call, kind, bag_name, bag, qual, default))
    return sets


def _tmodel_query(call: Call, request: etree._Element, qual) -> Select:
    sets = []
    names = request.findall(q("name"))
    if names:
        sets.append(_name_set("tmodel", names, qual))
    sets += _bags(call, "tmodel", request, qual, (("identifierBag", "or"), ("categoryBag", "and")))
    stmt = select(UddiEntity).where(UddiEntity.deleted.is_(False))
    return _narrow(stmt, "tmodel", sets)


def find_tmodel(call: Call, request: etree._Element, only: ColumnElement | None = None,
               page: Page | None = None) -> etree._Element:
    qual = qualifiers.parse(request)
    page = page or _page(call, request)
    stmt = _tmodel_query(call, request, qual)
    if only is not None:
        stmt = stmt.where(only)
    rows, total = _run(call, _order(stmt, qual), page)
    out = _list_element("tModelList", rows, total, page)
    if rows:
        add_tmodel_infos(out, rows)
    return out


def add_tmodel_infos(parent: etree._Element, rows: list[UddiEntity]) -> None:
    """``<tModelInfos>`` of tModels in ``parent``: each one's key, names and descriptions."""
    infos = sub(parent, "tModelInfos")
    for row in rows:
        el = etree.fromstring(row.xml)
        info = sub(infos, "tModelInfo", {"tModelKey": row.key})
        _copy_children(info, el, "name")
        _copy_children(info, el, "description")


def _service_sets(call: Call, request: etree._Element, qual) -> list[KeySet]:
    sets = []
    names = request.findall(q("name"))
    if names:
        sets.append(_name_set("service", names, qual))
    sets += _bags(call, "service", request, qual, (("categoryBag", "and"),))
    tkeys = _tmodel_keys(call, request)
    if tkeys is not None:
        sets.append(_tmodel_set(tkeys, qual.key_logic("and"), "service_key"))
    return sets


def _service_query(call: Call, request: etree._Element, qual, columns, sets: list[KeySet] | None = None) -> Select:
    stmt = select(*columns)
    business_key = request.get("businessKey")
    if business_key:
        stmt = stmt.where(UddiEntity.parent_key == keys.check_syntax(business_key),
                          UddiEntity.kind == inline("service"))
    return _narrow(stmt, "service", _service_sets(call, request, qual) if sets is None else sets)


@dataclass
class _KeyRow:
    key: str
    parent_key: str


def find_service(call: Call, request: etree._Element, only: ColumnElement | None = None,
                 page: Page | None = None) -> etree._Element:
    qual = qualifiers.parse(request)
    page = page or _page(call, request)
    sets = _service_sets(call, request, qual)
    fast = None if request.get("businessKey") or only is not None else _first_page_by_name(call, sets, qual, page)
    names: dict[str, list[tuple[str, str]]] | None = None
    if fast is not None:
        rows, total, names = fast
    else:
        stmt = _service_query(call, request, qual, (UddiEntity.key, UddiEntity.parent_key), sets)
        if only is not None:
            stmt = stmt.where(only)
        rows, total = _run(call, _order(stmt, qual), page)
    out = _list_element("serviceList", rows, total, page)
    if rows:
        if names is None:
            names = _names_of(call, [r.key for r in rows])
        infos = sub(out, "serviceInfos")
        for row in rows:
            info = sub(infos, "serviceInfo", {"serviceKey": row.key, "businessKey": row.parent_key})
            _add_names(info, names.get(row.key, []))
    return out


def _discovery_set(urls: list[etree._Element]) -> KeySet:
    """Businesses listing any of the discoveryURLs (spec 5.1.9: OR), with the same useType where
    one is given.  A URL matches exactly: find qualifiers apply to names and keyValues only."""
    specs = [(store.discovery_value(u.text or ""), u.get("useType", "")) for u in urls]

    def build(t) -> ColumnElement:
        alternatives = []
        for value, use_type in specs:
            cond = and_(t.kind == inline("business"), t.bag == inline(store.DISCOVERY), t.tmodel_key == inline(""),
                        t.key_value == inline(value))
            alternatives.append(and_(cond, t.key_name == inline(use_type)) if use_type else cond)
        return or_(*alternatives)

    return KeySet(UddiKeyedReference, build, 900)


def find_business(call: Call, request: etree._Element, only: ColumnElement | None = None,
                  page: Page | None = None) -> etree._Element:
    qual = qualifiers.parse(request)
    page = page or _page(call, request)
    if request.find(q("find_relatedBusinesses")) is not None:
        raise UddiError("E_unsupported", "find_business by find_relatedBusinesses is not supported by this node")
    sets = []
    names = request.findall(q("name"))
    if names:
        sets.append(_name_set("business", names, qual))
    urls = request.findall(f"{q('discoveryURLs')}/{q('discoveryURL')}")
    if urls:
        sets.append(_discovery_set(urls))
    sets += _bags(call, "business", request, qual, (("identifierBag", "or"), ("categoryBag", "and")))
    tkeys = _tmodel_keys(call, request)
    if tkeys is not None:
        services = _tmodel_set(tkeys, qual.key_logic("and"), "service_key").keys().subquery()
        service = aliased(UddiEntity)
        parents = select(service.parent_key).where(service.key.in_(select(services.c[0])))
        sets.append(KeySet(None, lambda t: true(), 100, grouped=parents))
    nested_el = request.find(q("find_service"))
    if nested_el is not None:
        nested = _service_query(call, nested_el, qualifiers.parse(nested_el), (UddiEntity.parent_key,))
        sets.append(KeySet(None, lambda t: true(), 100, grouped=nested))
    stmt = select(UddiEntity) if only is None else select(UddiEntity).where(only)
    rows, total = _run(call, _order(_narrow(stmt, "business", sets), qual), page)
    out = _list_element("businessList", rows, total, page)
    if rows:
        add_business_infos(call, out, rows)
    return out


def add_business_infos(call: Call, parent: etree._Element, rows: list[UddiEntity]) -> None:
    """``<businessInfos>`` of businessEntities in ``parent``: each one's key, names, descriptions and services."""
    services = store.children(call.session, [r.key for r in rows], "service")
    service_names = _names_of(call, [s.key for group in services.values() for s in group])
    infos = sub(parent, "businessInfos")
    for row in rows:
        el = etree.fromstring(row.xml)
        info = sub(infos, "businessInfo", {"businessKey": row.key})
        _copy_children(info, el, "name")
        _copy_children(info, el, "description")
        if services[row.key]:
            sinfos = sub(info, "serviceInfos")
            for s in services[row.key]:
                sinfo = sub(sinfos, "serviceInfo", {"serviceKey": s.key, "businessKey": row.key})
                _add_names(sinfo, service_names.get(s.key, []))


def find_binding(call: Call, request: etree._Element, only: ColumnElement | None = None,
                 page: Page | None = None) -> etree._Element:
    qual = qualifiers.parse(request)
    page = page or _page(call, request)
    stmt = select(UddiEntity) if only is None else select(UddiEntity).where(only)
    service_key = request.get("serviceKey")
    if service_key:
        stmt = stmt.where(UddiEntity.parent_key == keys.check_syntax(service_key), UddiEntity.kind == inline("binding"))
    sets = _bags(call, "binding", request, qual, (("categoryBag", "and"),))
    tkeys = _tmodel_keys(call, request)
    if tkeys is not None:
        sets.append(_tmodel_set(tkeys, qual.key_logic("and"), "binding_key"))
    rows, total = _run(call, _order(_narrow(stmt, "binding", sets), qual, by_name_default=False), page)
    out = _list_element("bindingDetail", rows, total, page)
    for el in store.compose(call.session, rows):
        out.append(el)
    return out


# ------------------------------------------------------------------------- get_*


DETAIL = {"business": "businessDetail", "service": "serviceDetail", "binding": "bindingDetail",
          "tmodel": "tModelDetail"}


def details(call: Call, kind: str, request: etree._Element,
            changed: Changed | None = None) -> tuple[etree._Element, list[str]]:
    """The detail element (businessDetail, ...) of the entities a get_*Detail request names, changed
    within ``changed`` if given, and the keys it names that no entity of ``kind`` has."""
    rows, missing = [], []
    for key_el in request.findall(q(store.KEY_ATTR[kind])):
        key = keys.check_syntax(key_el.text or "")
        row = store.get(call.session, key, kind)
        if row is None:
            missing.append(key)
        elif changed is None or row.modified_including_children in changed:
            rows.append(row)
    out = fresh(DETAIL[kind])
    for row, el in zip(rows, store.compose(call.session, rows), strict=True):
        if row.deleted:
            el.set("deleted", "true")
        out.append(el)
    return out, missing


def _getter(kind: str, detail: str):
    def operation(call: Call, request: etree._Element) -> etree._Element:
        out, missing = details(call, kind, request)
        if missing:
            raise UddiError("E_invalidKeyPassed", f"no {store.NOUN[kind]} has the key {missing[0]}")
        return out

    operation.__name__ = f"get_{detail}"
    return operation


def get_operational_info(call: Call, request: etree._Element) -> etree._Element:
    out = fresh("operationalInfos")
    for key_el in request.findall(q("entityKey")):
        key = keys.check_syntax(key_el.text or "")
        row = store.get(call.session, key)
        if row is None:
            raise UddiError("E_invalidKeyPassed", f"no entity has the key {key_el.text}")
        info = sub(out, "operationalInfo", {"entityKey": row.key})
        sub(info, "created", text=row.created.isoformat() + "Z")
        sub(info, "modified", text=row.modified.isoformat() + "Z")
        sub(info, "modifiedIncludingChildren", text=row.modified_including_children.isoformat() + "Z")
        sub(info, "nodeID", text=call.settings.node_id)
        sub(info, "authorizedName", text=row.authorized_name or "uddi-node")
    return out


OPERATIONS = {
    "find_business": find_business,
    "find_service": find_service,
    "find_binding": find_binding,
    "find_tModel": find_tmodel,
    "get_businessDetail": _getter("business", "businessDetail"),
    "get_serviceDetail": _getter("service", "serviceDetail"),
    "get_bindingDetail": _getter("binding", "bindingDetail"),
    "get_tModelDetail": _getter("tmodel", "tModelDetail"),
    "get_operationalInfo": get_operational_info,
}
