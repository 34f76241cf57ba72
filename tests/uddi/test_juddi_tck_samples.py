"""The jUDDI TCK's sample messages (``../shared/specs/uddi-v3-tck-samples/``, see its README) are
accepted as they are, each entity in the save_* call a client makes with the authInfo it got;
the two that uddi_v3.xsd rejects get E_invalidValue naming the schema and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import NS, UDDI_NS

SAMPLES = Path(__file__).parents[3] / "shared" / "specs" / "uddi-v3-tck-samples"
U = f'xmlns="{UDDI_NS}"'
TYPES = "uddi:uddi.org:categorization:types"


def _sample(name: str) -> str:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"{path} is not beside the checkout")
    return path.read_text(encoding="utf-8").split("?>", 1)[-1]  # the XML declaration cannot be nested


def _save(post, tok, operation: str, entity: str):
    return post("publication", f"<{operation} {U}>AUTH{entity}</{operation}>", token=tok)


@pytest.fixture
def joe(make_publisher):
    """Joe Publisher of the TCK, as one department's publisher."""
    return make_publisher("joe", "Joe Publisher", "11330100MB4567890")


def test_the_schema_valid_juddi_tck_samples_are_accepted_as_they_are(post, token, joe):
    tok = token(joe.username)
    keygen = _save(post, tok, "save_tModel", _sample("joepublisher_tModelKeyGen.xml"))
    assert keygen.status == 200, keygen.fault_string
    # What the TCK saves first and has no schema-valid sample of: Joe's businessEntity, and the
    # category tModel its bindingTemplate sample refers to (jUDDI does not check references).
    business = _save(post, tok, "save_business", '<businessEntity businessKey="uddi:uddi.joepublisher.com:businessone">'
                     '<name xml:lang="en">John Doe Enterprises</name></businessEntity>')
    assert business.status == 200, business.fault_string
    for key, kind in (("uddi:tmodelkey:keygenerator", "keyGenerator"),
                      ("uddi:tmodelkey:categories:bindings", "categorization")):
        tmodel = _save(post, tok, "save_tModel", f'<tModel tModelKey="{key}"><name>{key}</name><categoryBag>'
                       f'<keyedReference tModelKey="{TYPES}" keyValue="{kind}"/></categoryBag></tModel>')
        assert tmodel.status == 200, tmodel.fault_string
    service = _save(post, tok, "save_service", _sample("joepublisher_businessService.xml"))
    assert service.status == 200, service.fault_string
    assert service.payload.find("u:businessService/u:bindingTemplates/u:bindingTemplate", NS).get("bindingKey") \
        == "uddi:uddi.joepublisher.com:bindingone"
    binding = _save(post, tok, "save_binding", _sample("joepublisher_bindingTemplate.xml"))
    assert binding.status == 200, binding.fault_string
    found = post("inquiry", _sample("find_findService1.xml"))
    assert found.status == 200, found.fault_string
    assert [i.get("serviceKey") for i in found.payload.iter(f"{{{UDDI_NS}}}serviceInfo")] == \
        ["uddi:uddi.joepublisher.com:serviceone"]


@pytest.mark.parametrize(("sample", "api", "operation", "reason"), [
    ("joepublisher_businessEntity.xml", "publication", "save_business", "identifierBag"),
    ("find_findBusiness1.xml", "inquiry", None, "find_tModel"),
])
def test_a_juddi_tck_sample_that_the_schema_rejects_gets_invalid_value(post, token, joe, sample, api, operation,
                                                                        reason):
    body = _sample(sample)
    reply = _save(post, token(joe.username), operation, body) if operation else post(api, body)
    assert (reply.errno, reply.err_code) == ("20200", "E_invalidValue")
    assert "does not conform to uddi_v3.xsd: line" in reply.fault_string
    assert reason in reply.fault_string
