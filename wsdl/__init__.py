"""WSDL documents: the platform's published contracts, and the repository of stored WSDLs."""
