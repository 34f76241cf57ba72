"""UDDI v3 error conditions (spec section 12.1) and their dispositionReport.

A fault on the wire::

    <soap:Fault>
      <faultcode>soap:Client</faultcode>
      <faultstring>E_invalidKeyPassed: no businessService has the key ...</faultstring>
      <detail>
        <dispositionReport xmlns="urn:uddi-org:api_v3">
          <result errno="10210">
            <errInfo errCode="E_invalidKeyPassed">no businessService has the key ...</errInfo>
          </result>
        </dispositionReport>
      </detail>
    </soap:Fault>
"""

from __future__ import annotations

ERRNO = {
    "E_success": 0,
    "E_nameTooLong": 10020,
    "E_tooManyOptions": 10030,
    "E_unrecognizedVersion": 10040,
    "E_unsupported": 10050,
    "E_languageError": 10060,
    "E_authTokenExpired": 10110,
    "E_authTokenRequired": 10120,
    "E_userMismatch": 10140,
    "E_unknownUser": 10150,
    "E_accountLimitExceeded": 10160,
    "E_invalidKeyPassed": 10210,
    "E_busy": 10400,
    "E_fatalError": 10500,
    "E_invalidValue": 20200,
    "E_valueNotAllowed": 20210,
    "E_unvalidatable": 20220,
    "E_invalidProjection": 20230,
    "E_requestTimeout": 20240,
    "E_assertionNotFound": 30000,
    "E_invalidCompletionStatus": 30100,
    "E_messageTooLarge": 30110,
    "E_keyUnavailable": 40100,
    "E_resultSetTooLarge": 40300,
    "E_invalidCombination": 40500,
    "E_transferNotAllowed": 40600,
    "E_requestDenied": 50070,
}

# Errors caused by the node itself; everything else is the caller's to fix.
_SERVER_SIDE = {"E_fatalError", "E_busy", "E_requestTimeout"}


class UddiError(Exception):
    """An error that becomes a SOAP Fault carrying a dispositionReport."""

    def __init__(self, err_code: str, message: str):
        if err_code not in ERRNO:
            raise ValueError(f"unknown UDDI error code {err_code}")
        super().__init__(f"{err_code}: {message}")
        self.err_code = err_code
        self.errno = ERRNO[err_code]
        self.message = message

    @property
    def fault_code(self) -> str:
        return "Server" if self.err_code in _SERVER_SIDE else "Client"
