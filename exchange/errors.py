"""Errors of the exchange service; each becomes a SOAP Fault with an ExchangeFault detail.

| code              | when                                                          |
|-------------------|---------------------------------------------------------------|
| MalformedXml      | the request is not well-formed XML                            |
| XmlRefused        | a DTD or entity declaration                                    |
| MalformedSoap     | no Envelope/Body/operation                                     |
| VersionMismatch   | a SOAP 1.2 envelope                                            |
| MustUnderstand    | a mustUnderstand header the service does not process          |
| UnknownOperation  | the Body element is not an operation of the service           |
| RequestTooLarge   | the request exceeds the configured size                        |
| InvalidRequest    | the operation element does not match the contract             |
| InvalidBatch      | the batch header is wrong (count, digest, fields)             |
| UnknownFormat     | the record type is not a registered format                    |
| UnknownResource   | no published resource has the code                            |
| NotProvider       | the batch's provider does not provide the resource            |
| UnknownDepartment | no registered department has the credit code                  |
| BatchIdConflict   | the batch id was used before for different content            |
| UnknownBatch      | GetBatchStatus for a batch id never received                  |
| NotShared         | the resource is 不予共享 (served to its provider only)           |
| NotAuthorized     | a 有条件共享 resource and no unexpired, unrevoked grant: the    |
|                   | message says why (none, expired, revoked, application pending) |
|                   | and how to apply (govshare sharing apply ...)                  |
| ProviderUnavailable | a logical resource's provider did not answer in time       |
| DatabaseUnavailable | the centre's database cannot serve now (it refuses or does not |
|                   | accept connections, or a statement or lock wait ran out of time): |
|                   | send the request again later                                   |
| InternalError     | a fault of the centre, logged                                  |
"""

from __future__ import annotations


class ExchangeError(Exception):
    def __init__(self, code: str, message: str, fault_code: str = "Client"):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fault_code = fault_code
