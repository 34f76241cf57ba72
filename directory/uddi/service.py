"""The four UDDI endpoints and the WSDL each serves at ``?wsdl``.

``/uddi/inquiry?wsdl`` is a small document that imports the unchanged OASIS binding
WSDL (served under ``/wsdl/uddi/``) and adds the one thing OASIS leaves to each node,
a ``wsdl:service`` whose port points at this endpoint::

    <definitions targetNamespace="urn:govshare:uddi_v3_service" ...>
      <import namespace="urn:uddi-org:api_v3_binding"
              location="http://host/wsdl/uddi/uddi_api_v3_binding.wsdl"/>
      <service name="UDDI_Inquiry_Service">
        <port name="UDDI_Inquiry_Port" binding="uddi_binding:UDDI_Inquiry_SoapBinding">
          <soap:address location="http://host/uddi/inquiry"/>
        </port>
      </service>
    </definitions>

``/uddi/subscription?wsdl`` does the same with the OASIS subscription binding
(``uddi_sub_v3_binding.wsdl``, namespace ``urn:uddi-org:sub_v3_binding``).
"""

from __future__ import annotations

from lxml import etree
from sqlalchemy.orm import Session, sessionmaker

from registry.db import reading_engine, session_factory
from registry.settings import Settings
from trust import evidence
from wsdl.oasis import BINDING_NS, SUBSCRIPTION_BINDING_NS, subscription_schema

from ..bootstrap import checked_values
from . import inquiry, publication, security, subscription
from .soap import UddiEndpoint

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
SOAP_BINDING_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
SERVICE_NS = "urn:govshare:uddi_v3_service"

#: endpoint name -> (path, OASIS binding name)
ENDPOINTS = {
    "inquiry": ("/uddi/inquiry", "UDDI_Inquiry_SoapBinding"),
    "publication": ("/uddi/publication", "UDDI_Publication_SoapBinding"),
    "security": ("/uddi/security", "UDDI_Security_SoapBinding"),
    "subscription": ("/uddi/subscription", "UDDI_Subscription_SoapBinding"),
}
#: the APIs whose OASIS binding is not uddi_api_v3_binding.wsdl: (file, its namespace)
_BINDING_FILES = {"subscription": ("uddi_sub_v3_binding.wsdl", SUBSCRIPTION_BINDING_NS)}


def service_wsdl(api: str):
    binding = ENDPOINTS[api][1]
    title = binding.split("_")[1]
    binding_file, binding_ns = _BINDING_FILES.get(api, ("uddi_api_v3_binding.wsdl", BINDING_NS))

    def document(base_url: str, endpoint_url: str) -> bytes:
        w = "{%s}" % WSDL_NS
        root = etree.Element(w + "definitions", nsmap={
            None: WSDL_NS, "soap": SOAP_BINDING_NS, "uddi_binding": binding_ns, "tns": SERVICE_NS,
        }, targetNamespace=SERVICE_NS, name=f"UDDI_{title}")
        etree.SubElement(root, w + "documentation").text = (
            f"UDDI v3 {title} API of this govshare node: the OASIS UDDI v3.0.2 binding, unchanged, "
            "and a service whose port is this endpoint."
        )
        etree.SubElement(root, w + "import", namespace=binding_ns, location=f"{base_url}/wsdl/uddi/{binding_file}")
        service = etree.SubElement(root, w + "service", name=f"UDDI_{title}_Service")
        port = etree.SubElement(service, w + "port", name=f"UDDI_{title}_Port", binding=f"uddi_binding:{binding}")
        etree.SubElement(port, "{%s}address" % SOAP_BINDING_NS, location=endpoint_url)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)

    return document


OPERATIONS = {
    "inquiry": inquiry.OPERATIONS,
    "publication": publication.OPERATIONS,
    "security": {"get_authToken": security.get_auth_token, "discard_authToken": security.discard_auth_token},
    "subscription": subscription.OPERATIONS,
}
#: the APIs whose messages are not of urn:uddi-org:api_v3 / uddi_v3.xsd
_SCHEMAS = {"subscription": dict(namespace=subscription.SUB_NS, schema=subscription_schema,
                                 schema_file="uddi_v3subscription.xsd")}


def endpoints(sessions: sessionmaker[Session], settings: Settings) -> dict[str, UddiEndpoint]:
    """path -> WSGI app for each UDDI API.

    Inquiry only reads: its sessions run in autocommit (each statement sees the committed
    directory as it is then), which spares a BEGIN and a COMMIT round trip per find on
    PostgreSQL, on connections that may reuse generic plans (``registry.db.reading_engine``;
    ``inquiry`` writes the values that steer a plan into the SQL); the other APIs work in
    transactions.
    """
    reading = session_factory(reading_engine(sessions.kw["bind"]))
    return {
        path: UddiEndpoint(name=api, operations=OPERATIONS[api], wsdl=service_wsdl(api),
                           sessions=reading if api == "inquiry" else sessions,
                           settings=settings, checked_values=checked_values, cacheable=api == "inquiry",
                           audited=api in ("publication", "subscription"),
                           keep=evidence.row if api == "publication" and evidence.kept(settings) else None,
                           **_SCHEMAS.get(api, {}))
        for api, (path, _binding) in ENDPOINTS.items()
    }
