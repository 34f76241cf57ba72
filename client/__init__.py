"""The departments' Python client library: it talks to the platform over its published SOAP contracts
only and imports nothing of the centre's packages (tests/test_layering.py).

- :mod:`client.directory` - find published resources in the UDDI directory, read their catalogue
  metadata, fetch their WSDL;
- :mod:`client.exchange` - query records (paged), pull changes from a kept watermark, a batch's
  status, signed with the department's or its application system's key;
- :mod:`client.faults` - the platform's refusals as typed exceptions (code, English and Chinese);
- :mod:`client.wss` - WS-Security for zeep: sign requests, verify the platform's signed answers;
- :mod:`client.cli` - ``govshare-client``, the command line over them.
"""
