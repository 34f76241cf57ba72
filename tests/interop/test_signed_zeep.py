"""The signed interop suite (C2), zeep: a client generated at run time from the published WSDLs,
signing with zeep's own ``BinarySignature`` (RSA-SHA256 over the Body and a Timestamp) as a
department that writes its client with zeep and no govshare code would, against the platform
requiring WS-Security; and the same calls unsigned against a platform in ``optional`` mode."""

from __future__ import annotations

import pytest
import xmlsec
import zeep
from zeep.wsse.signature import BinarySignature

from client.wss import add_timestamp
from tests.interop.stacks import RESOURCE_NAME, Stacks

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # SOAP on the wire: one database will do


class _Signed(BinarySignature):
    """zeep's signature plug-in, with the Timestamp zeep leaves to its user."""

    def apply(self, envelope, headers):
        add_timestamp(envelope)
        return super().apply(envelope, headers)

    def verify(self, envelope):  # zeep checks answers against the client's own certificate: see client/wss.py
        return envelope


def _calls(stacks: Stacks, url: str, wsse=None) -> None:
    inquiry = zeep.Client(f"{url}/uddi/inquiry?wsdl")
    found = inquiry.service.find_service(name=[{"_value_1": RESOURCE_NAME}])
    assert [s.serviceKey for s in found.serviceInfos.serviceInfo] == [stacks.service_key]

    exchange = zeep.Client(f"{url}/exchange?wsdl", wsse=wsse)
    answer = exchange.service.QueryRecords(requester=stacks.consumer, resourceCode=stacks.resource, key=stacks.keys)
    assert (answer.total, answer.more) == (3, False)
    assert stacks.decoded(answer.records._value_1) == stacks.expected

    changes = exchange.service.GetChanges(requester=stacks.consumer, resourceCode=stacks.resource, watermark=0)
    assert [c.operation for c in changes.change] == ["upsert"] * 3
    assert stacks.decoded(c.record._value_1[0] for c in changes.change) == stacks.expected


def test_zeep_signs_with_binary_signature_where_the_platform_requires_it(stacks):
    signature = _Signed(str(stacks.consumer_key), str(stacks.consumer_cert),
                        signature_method=xmlsec.Transform.RSA_SHA256, digest_method=xmlsec.Transform.SHA256)
    _calls(stacks, stacks.strict_url, signature)


def test_zeep_unsigned_is_refused_where_signatures_are_required_and_answered_where_optional(stacks):
    exchange = zeep.Client(f"{stacks.strict_url}/exchange?wsdl")
    try:
        exchange.service.QueryRecords(requester=stacks.consumer, resourceCode=stacks.resource, key=stacks.keys)
    except zeep.exceptions.Fault as refused:
        assert refused.code == "wsse:InvalidSecurity", refused.code
    else:
        raise AssertionError("an unsigned query was answered by a platform that requires WS-Security")
    _calls(stacks, stacks.optional_url)
