"""The standard exchange formats (E1): the XSD contracts and the format registry.

- ``*.xsd``: common types, the four base-database record formats, the GML 3.2 subset and the
  batch envelope - the contract, read by people and by both validators;
- ``registry``: record type (root element QName) and version -> ``Format``;
- ``validation``: ``validate_record`` - structure against the XSD, then ``rules``;
- ``batch``: build and read batch envelopes, the records digest;
- ``codes``: GB/T 2260, GB/T 3304 tables and check characters;
- ``samples``: deterministic valid records for tests and benchmarks.

Depends on nothing of the project but ``registry`` (storage), per DESIGN.md.
"""
