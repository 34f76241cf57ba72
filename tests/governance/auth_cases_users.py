"""Who may run the accounts' actions (governance.users; see tests/actions.py).

The world's accounts are ``<department>-<role>`` with the password ``pw``; the security
administrator (mzj-security) acts on 公安局's consumer (gaj-consumer), never on its own account.
"""

from tests.actions import case

SECURITY = {"security"}
READERS = {"security", "auditor"}

CASES = {
    "user.create": case(SECURITY, lambda w: {"username": "mzj.new", "display_name": "新同事", "department": "mzj",
                                             "roles": ["consumer"]}),
    "user.list": case(READERS),
    "user.show": case(READERS, lambda w: {"username": "gaj-consumer"}),
    "user.disable": case(SECURITY, lambda w: {"username": "gaj-consumer", "reason": "调离"}),
    # the world's accounts are all enabled: an allowed role meets NotDisabled, a Conflict
    "user.enable": case(SECURITY, lambda w: {"username": "gaj-consumer"}),
    "user.set_roles": case(SECURITY, lambda w: {"username": "gaj-consumer", "roles": ["consumer", "provider"]}),
    "user.reset_password": case(SECURITY, lambda w: {"username": "gaj-consumer"}),
    "user.unlock": case(SECURITY, lambda w: {"username": "gaj-consumer"}),
    "user.change_password": case("everyone", lambda w: {"current_password": "pw",
                                                        "new_password": "Neues-Kennwort-2026"}),
}
