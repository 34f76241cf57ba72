"""Who may run trust's actions (see tests/actions.py): the auditor reads the audit log (三员分立: not
the administrators whose actions it records); signing its head is the operator's (admin), the
platform CA the security administrator's."""

import io

from tests.actions import ALL_ROLES, case

ALL = set(ALL_ROLES)
AUDITORS = {"auditor"}  # 三员分立: not the administrators whose actions the log records

CASES = {
    "audit.search": case(AUDITORS, lambda w: {"department": "mzj", "limit": 5}),
    "audit.verify": case(AUDITORS),
    "audit.export": case(AUDITORS, lambda w: {"out": io.StringIO(), "format": "csv"}),
    "audit.checkpoint": case("admin"),
    "audit.archive": case("admin"),  # writes the evidence archive, signed with the platform key
    # the world has its CA already: an allowed role meets that refusal (CertificateAuthorityExists)
    "pki.init": case("security"),
    "pki.issue": case("security", lambda w: {"department": "gaj"}),
    "pki.crl": case("security"),
    # pki.revoke, pki.list and the certificate requests' actions: auth_cases_certificates.py
    # 站内消息: every person their own (one that is not theirs is not found, as if there were none)
    "notice.list": case(ALL),
    "notice.open": case(ALL, lambda w: {"notice_id": 987654}),
    "notice.read_all": case(ALL),
}
