"""Department adapters (部门适配器): what sits on the departments' side of the exchange —
source connectors, mappings from legacy schemas and code tables to the standard formats,
and the demo department's own legacy-style SOAP service (``demo_services``)."""
