"""The XSD files are the contract: each compiles offline with both validators and says what it is."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import xmlschema
from lxml import etree

import xsd

XSD_DIR = Path(xsd.__file__).resolve().parent
SCHEMAS = sorted(p.name for p in XSD_DIR.glob("*.xsd"))
XS = "http://www.w3.org/2001/XMLSchema"


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("schema compilation tried to use the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_the_expected_schema_files_are_shipped() -> None:
    assert SCHEMAS == ["batch.xsd", "common.xsd", "gml32-subset.xsd", "legal_entity.xsd", "macro_economy.xsd",
                       "population.xsd", "spatial.xsd"]


@pytest.mark.parametrize("name", SCHEMAS)
def test_schema_compiles_with_lxml_without_network(name: str) -> None:
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    etree.XMLSchema(etree.parse(str(XSD_DIR / name), parser))


@pytest.mark.parametrize("name", SCHEMAS)
def test_schema_compiles_with_xmlschema_inside_its_folder(name: str) -> None:
    schema = xmlschema.XMLSchema(str(XSD_DIR / name), allow="sandbox")
    assert schema.built


@pytest.mark.parametrize("name", [n for n in SCHEMAS if n != "gml32-subset.xsd"])
def test_schema_namespace_is_versioned_under_govshare(name: str) -> None:
    root = etree.parse(str(XSD_DIR / name)).getroot()
    assert root.get("targetNamespace") == f"http://govshare.local/xsd/{name.removesuffix('.xsd')}/1.0"
    assert root.get("elementFormDefault") == "qualified"


def test_gml_subset_declares_the_real_gml_32_namespace() -> None:
    root = etree.parse(str(XSD_DIR / "gml32-subset.xsd")).getroot()
    assert root.get("targetNamespace") == "http://www.opengis.net/gml/3.2"


@pytest.mark.parametrize("name", SCHEMAS)
def test_schema_opens_with_a_header_comment(name: str) -> None:
    root = etree.parse(str(XSD_DIR / name)).getroot()
    comment = root.getprevious()
    assert isinstance(comment, etree._Comment) and len(comment.text.strip()) > 100


@pytest.mark.parametrize("name", ["population.xsd", "legal_entity.xsd", "macro_economy.xsd", "spatial.xsd"])
def test_every_record_field_is_documented_with_its_chinese_name(name: str) -> None:
    tree = etree.parse(str(XSD_DIR / name))
    for element in tree.iterfind("xs:complexType/xs:sequence/xs:element", {"xs": XS}):
        doc = element.findtext("xs:annotation/xs:documentation", namespaces={"xs": XS})
        assert doc and any("\u4e00" <= ch <= "\u9fff" for ch in doc), element.get("name") or element.get("ref")


def test_ethnicity_code_list_has_the_56_groups_and_97_98() -> None:
    schema = xmlschema.XMLSchema(str(XSD_DIR / "common.xsd"), allow="sandbox")
    values = schema.types["EthnicityCodeList"].enumeration
    assert values == [f"{n:02d}" for n in range(1, 57)] + ["97", "98"]


@pytest.mark.parametrize(("type_name", "good", "bad"), [
    ("IdNumber", "33010219900102123X", "33010219900102123x"),
    ("CreditCode", "91330102MA2B3C4D17", "91330102MA2B3C4DI7"),
    ("DivisionCode", "330102", "33010"),
    ("SexCode", "9", "3"),
    ("IndustryCode", "I6511", "I6"),
    ("IndustryCode", "A", "U01"),
])
def test_common_types_accept_and_refuse_by_their_standard(type_name: str, good: str, bad: str) -> None:
    simple = xmlschema.XMLSchema(str(XSD_DIR / "common.xsd"), allow="sandbox").types[type_name]
    assert simple.text_is_valid(good)
    assert not simple.text_is_valid(bad)
