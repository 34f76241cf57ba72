"""Who may run governance's actions (see tests/actions.py)."""

from datetime import date

from tests.actions import case

CASES = {
    # 民政局 applies for 公安局's conditional resource (its own application already waits: an allowed role
    # meets that refusal, not NotPermitted)
    "sharing.apply": case({"admin", "consumer"}, lambda w: {
        "resource_code": w.conditional, "purpose": "低保资格核查", "valid_to": date(2099, 12, 31)}),
}
