"""Security (S1-S5): the platform CA and certificates, WS-Security on SOAP messages,
sharing governance (grants), audit and correction."""
