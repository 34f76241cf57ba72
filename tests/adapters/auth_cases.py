"""Who may run the adapters' actions (see tests/actions.py): running adapters, checking them
and handling the quarantine are the operator's (admin); monitoring - runs, history, the
quarantine's lists - is the admin's and the auditor's.  The world has no adapter runs: an
allowed role meets NotFound (no such adapter or item), never NotPermitted."""

from tests.actions import case

MONITORS = {"admin", "auditor"}

CASES = {
    "sync.run": case("admin", lambda w: {"adapter": "nosuch"}),
    "sync.check": case("admin", lambda w: {"adapter": "nosuch"}),
    "adapter.check": case("admin", lambda w: {"file": "/nonexistent/adapter.toml"}),
    "sync.status": case(MONITORS),
    "sync.history": case(MONITORS, lambda w: {"adapter": "nosuch"}),
    "monitor.overview": case(MONITORS),
    "quarantine.list": case(MONITORS),
    "quarantine.show": case(MONITORS, lambda w: {"item_id": 1}),
    "quarantine.correct": case("admin", lambda w: {"item_id": 1, "values": {"XB": "男"}}),
    "quarantine.replay": case("admin", lambda w: {"ids": [1]}),
    "quarantine.discard": case("admin", lambda w: {"item_id": 1, "reason": "测试数据"}),
    "demo.seed": case("admin", lambda w: {"scale": 0}),  # an allowed role meets the refusal of the scale
}
