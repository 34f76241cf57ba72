"""The departments' Python client library: it talks to the platform over its published SOAP contracts
only and imports nothing of the centre's packages (tests/test_layering.py).

- :mod:`client.directory` - find published resources in the UDDI directory, read their catalogue
  metadata, fetch their WSDL;
- :mod:`client.exchange` - query records (paged), pull changes from a kept watermark, submit
  records and export files as batches, a batch's status, governance (使用申请, grants, 纠错) and
  certificate requests, signed with the department's or its application system's key;
- :mod:`client.files` - export files read a record at a time: XML, and CSV or XLSX whose header
  names a standard format's fields;
- :mod:`client.faults` - the platform's refusals as typed exceptions (code, English and Chinese);
- :mod:`client.wss` - WS-Security for zeep: sign requests, verify the platform's signed answers;
- :mod:`client.cli` - ``govshare-client``, the command line over them.
"""
