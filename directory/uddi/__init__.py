"""UDDI v3 (OASIS 3.0.2) inquiry, publication, security and subscription APIs over SOAP 1.1."""

UDDI_NS = "urn:uddi-org:api_v3"
SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
