"""The format registry: record type QName (and version) -> Format, and its field dict codec."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from lxml import etree

from tests.xsd.format_samples import fields, fmt, record, spatial_kind
from xsd import registry

PERSON = "{http://govshare.local/xsd/population/1.0}Person"


def test_the_four_base_databases_are_registered() -> None:
    assert {(f.name, etree.QName(f.qname).localname, f.version) for f in registry.formats()} == {
        ("population", "Person", "1.0"),
        ("legal_entity", "LegalEntity", "1.0"),
        ("macro_economy", "Indicator", "1.0"),
        ("spatial", "Feature", "1.0"),
    }


def test_lookup_by_qname_gives_the_newest_version() -> None:
    assert registry.lookup(PERSON).name == "population"
    assert registry.lookup(etree.QName(PERSON), "1.0").version == "1.0"


def test_unknown_record_type_raises_and_lists_the_registered_types() -> None:
    with pytest.raises(registry.UnknownFormat) as raised:
        registry.lookup("{urn:example}Car")
    message = str(raised.value)
    assert "{urn:example}Car" in message
    assert all(f.qname in message for f in registry.formats())


def test_unknown_version_of_a_known_type_is_unknown() -> None:
    with pytest.raises(registry.UnknownFormat, match="version 9.9"):
        registry.lookup(PERSON, "9.9")


def test_schemas_are_compiled_once() -> None:
    population = registry.lookup(PERSON)
    assert population.schema is population.schema
    assert population.xmlschema is population.xmlschema


@pytest.mark.parametrize(("name", "key_fields"), [
    ("population", ("idNumber",)),
    ("legal_entity", ("creditCode",)),
    ("macro_economy", ("indicatorCode", "regionCode", "period")),
    ("spatial", ("featureId",)),
])
def test_natural_key_of_each_format(name: str, key_fields: tuple[str, ...]) -> None:
    sample = fields(name)
    assert fmt(name).key_fields == key_fields
    assert fmt(name).key(sample) == tuple(str(sample[k]) for k in key_fields)


def test_fields_follow_the_schema_with_chinese_labels() -> None:
    population = fmt("population")
    assert [f.name for f in population.fields][:3] == ["idNumber", "name", "formerName"]
    assert population.label("birthDate") == "出生日期"
    assert population.label("domicileDivision") == "户籍地行政区划代码"


def test_decode_then_encode_gives_the_same_element(format_name: str) -> None:
    element = record(format_name, seed=5)
    again = fmt(format_name).encode(fmt(format_name).decode(element))
    assert etree.tostring(again, method="c14n") == etree.tostring(element, method="c14n")


def test_encode_then_decode_gives_the_same_fields(format_name: str) -> None:
    sample = {k: v for k, v in fields(format_name, seed=6).items() if v is not None}
    assert fmt(format_name).decode(fmt(format_name).encode(sample)) == sample


def test_decoded_values_have_python_types() -> None:
    decoded = fmt("legal_entity").decode(record("legal_entity", seed=1))
    assert isinstance(decoded["foundingDate"], date)
    assert isinstance(decoded["creditCode"], str)


def test_money_decodes_to_amount_and_currency() -> None:
    element = fmt("legal_entity").encode(fields("legal_entity", registeredCapital=Decimal("1E+6"),
                                                registeredCapitalCurrency="USD"))
    capital = element.find("{http://govshare.local/xsd/legal_entity/1.0}registeredCapital")
    assert (capital.text, capital.get("currency")) == ("1000000", "USD")
    assert fmt("legal_entity").decode(element)["registeredCapitalCurrency"] == "USD"


def test_money_without_currency_attribute_is_cny() -> None:
    element = record("legal_entity", registeredCapital=Decimal("100.50"))
    capital = element.find("{http://govshare.local/xsd/legal_entity/1.0}registeredCapital")
    del capital.attrib["currency"]
    assert fmt("legal_entity").decode(element)["registeredCapitalCurrency"] == "CNY"


def test_point_is_latitude_first_in_gml_and_longitude_first_decoded() -> None:
    sample = spatial_kind("地址点") | {"geometry": {"type": "Point", "coordinates": [120.1693, 30.2517]}}
    element = fmt("spatial").encode(sample)
    assert element.findtext(".//{http://www.opengis.net/gml/3.2}pos") == "30.2517 120.1693"
    assert fmt("spatial").decode(element)["geometry"] == {"type": "Point", "coordinates": [120.1693, 30.2517]}


def test_geometry_is_in_epsg_4490_with_an_id_derived_from_the_feature() -> None:
    sample = spatial_kind("地块")
    polygon = fmt("spatial").encode(sample).find(".//{http://www.opengis.net/gml/3.2}Polygon")
    assert polygon.get("srsName") == "urn:ogc:def:crs:EPSG::4490"
    assert polygon.get("{http://www.opengis.net/gml/3.2}id") == f"geom-{sample['featureId']}"


def test_polygon_with_a_hole_round_trips() -> None:
    outer = [[120.0, 30.0], [120.1, 30.0], [120.1, 30.1], [120.0, 30.1], [120.0, 30.0]]
    hole = [[120.02, 30.02], [120.03, 30.02], [120.03, 30.03], [120.02, 30.02]]
    sample = spatial_kind("地块") | {"geometry": {"type": "Polygon", "coordinates": [outer, hole]}}
    assert fmt("spatial").decode(fmt("spatial").encode(sample))["geometry"]["coordinates"] == [outer, hole]


def test_encode_refuses_an_unknown_field() -> None:
    with pytest.raises(ValueError, match="idnumber"):
        fmt("population").encode({"idnumber": "33010219900102123X"})


def test_encode_leaves_out_none_values() -> None:
    element = fmt("population").encode(fields("population", formerName=None))
    assert element.find("{http://govshare.local/xsd/population/1.0}formerName") is None


def test_key_can_be_read_from_an_invalid_element() -> None:
    element = record("macro_economy")
    etree.SubElement(element, "{urn:example}junk")
    assert fmt("macro_economy").key_from_element(element) == fmt("macro_economy").key(fields("macro_economy"))


def test_fields_say_which_are_required() -> None:
    required = {f.name for f in fmt("legal_entity").fields if f.required}
    assert "creditCode" in required and "registeredCapital" not in required
