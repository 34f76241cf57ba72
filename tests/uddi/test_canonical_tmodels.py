"""The tModels of the UDDI v3 specification are registered at start-up, owned by the node, so
that clients' entities may reference them."""

from __future__ import annotations

from directory.taxonomies import standard_tmodels
from wsdl.oasis import uddi_xmlschema

from .conftest import NS, UDDI_NS

U = f'xmlns="{UDDI_NS}"'

#: spec chapter 11: value sets, key generator, APIs, transports and protocols, find qualifiers, sort orders
CANONICAL = {
    "uddi:uddi.org:categorization:types": "uddi-org:types",
    "uddi:uddi.org:categorization:general_keywords": "uddi-org:general_keywords",
    "uddi:uddi.org:categorization:nodes": "uddi-org:nodes",
    "uddi:uddi.org:relationships": "uddi-org:relationships",
    "uddi:uddi.org:categorization:owningbusiness": "uddi-org:owningBusiness_v3",
    "uddi:uddi.org:identifier:isreplacedby": "uddi-org:isReplacedBy",
    "uddi:uddi.org:categorization:validatedby": "uddi-org:validatedBy",
    "uddi:uddi.org:categorization:derivedfrom": "uddi-org:derivedFrom",
    "uddi:uddi.org:categorization:entitykeyvalues": "uddi-org:entityKeyValues",
    "uddi:uddi.org:keygenerator": "uddi-org:keyGenerator",
    "uddi:uddi.org:v3_subscription": "uddi-org:subscription_v3",
    "uddi:uddi.org:v3_subscriptionlistener": "uddi-org:subscriptionListener_v3",
    "uddi:uddi.org:v3_valuesetvalidation": "uddi-org:valueSetValidation_v3",
    "uddi:uddi.org:protocol:serverauthenticatedssl3": "uddi-org:serverAuthenticatedSSL3",
    "uddi:uddi.org:protocol:mutualauthenticatedssl3": "uddi-org:mutualAuthenticatedSSL3",
    "uddi:uddi.org:transport:http": "uddi-org:http",
    "uddi:uddi.org:transport:smtp": "uddi-org:smtp",
    "uddi:uddi.org:transport:ftp": "uddi-org:ftp",
    "uddi:uddi.org:transport:fax": "uddi-org:fax",
    "uddi:uddi.org:transport:telephone": "uddi-org:telephone",
    "uddi:uddi.org:specification:hostingredirector": "uddi-org:hostingRedirector",
    "uddi:uddi.org:findqualifier:approximatematch": "uddi-org:approximateMatch:SQL99",
    "uddi:uddi.org:findqualifier:orlikekeys": "uddi-org:orLikeKeys",
    "uddi:uddi.org:sortorder:binarysort": "uddi-org:binarySort",
}


def test_the_canonical_tmodels_of_the_specification_are_registered(post):
    keys = "".join(f"<tModelKey>{key}</tModelKey>" for key in CANONICAL)
    reply = post("inquiry", f"<get_tModelDetail {U}>{keys}</get_tModelDetail>")
    assert reply.status == 200, reply.fault_string
    names = {tm.get("tModelKey"): tm.findtext("u:name", namespaces=NS) for tm in reply.payload}
    assert names == CANONICAL


def test_the_canonical_tmodels_belong_to_the_node(post):
    keys = "".join(f"<entityKey>{key}</entityKey>" for key in CANONICAL)
    reply = post("inquiry", f"<get_operationalInfo {U}>{keys}</get_operationalInfo>")
    assert reply.status == 200, reply.fault_string
    assert {info.findtext("u:authorizedName", namespaces=NS) for info in reply.payload} == {"uddi-node"}


def test_a_service_may_name_a_canonical_transport(post, token, gaj):
    reply = post("publication", f"""<save_service {U}>AUTH<businessService businessKey="{gaj.business_key}">
        <name xml:lang="zh-CN">户籍业务咨询热线</name><bindingTemplates><bindingTemplate>
          <accessPoint useType="endPoint">tel:+86-571-12345</accessPoint>
          <tModelInstanceDetails><tModelInstanceInfo tModelKey="uddi:uddi.org:transport:telephone"/>
          </tModelInstanceDetails></bindingTemplate></bindingTemplates></businessService></save_service>""",
                 token=token(gaj.username))
    assert reply.status == 200, reply.fault_string


def test_the_standard_tmodel_data_validates_against_the_schema():
    schema = uddi_xmlschema()
    tmodels = standard_tmodels()
    for tmodel in tmodels:
        schema.validate(tmodel)
    assert set(CANONICAL) <= {tm.get("tModelKey") for tm in tmodels}
