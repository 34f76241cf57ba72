"""Who may run the portal's own actions (see tests/actions.py): anyone may try to sign in (the
password decides) and sign out."""

from tests.actions import case

CASES = {
    "portal.login": case("everyone", lambda w: {"username": "mzj-consumer", "password": "wrong",
                                                "address": "192.0.2.7"}),
    "portal.logout": case("everyone", lambda w: {"address": "192.0.2.7"}),
}
