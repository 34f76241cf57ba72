"""The departments' Python client library: it talks to the platform over its published SOAP contracts
only and imports nothing of the centre's packages."""
