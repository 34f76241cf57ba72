"""Who may run the certificate actions (see tests/actions.py): a department's connect roles (admin,
cataloguer, provider) request certificates for it and see, download and revoke its own; the security
administrator approves, refuses, watches expiry and sees and revokes every department's."""

from tests.actions import case

from .csrs import make_csr

CONNECT = {"admin", "cataloguer", "provider"}
HOLDERS = CONNECT | {"security"}
_key, CSR = make_csr()  # a key the world has not seen: every role's try starts from a fresh world

CASES = {
    "pki.request": case(CONNECT, lambda w: {"csr": CSR}, department="gaj"),
    "pki.requests": case(HOLDERS, lambda w: {"department": "gaj"}, department="gaj"),
    "pki.list": case(HOLDERS, lambda w: {"department": "gaj"}, department="gaj"),
    "pki.approve": case("security", lambda w: {"request_id": w.extra["certificate_request"]}),
    "pki.refuse": case("security", lambda w: {"request_id": w.extra["certificate_request"], "reason": "用途不明"}),
    "pki.expiring": case("security"),
    "pki.certificate": case(HOLDERS, lambda w: {"serial": w.extra["gaj_certificate"]}, department="gaj"),
    "pki.revoke": case(HOLDERS, lambda w: {"serial": w.extra["gaj_certificate"], "reason": "keyCompromise"},
                       department="gaj"),
}
