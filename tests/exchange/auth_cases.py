"""Who may run the exchange's actions (see tests/actions.py)."""

import uuid
from datetime import UTC, datetime

from tests.actions import World, case
from xsd import samples
from xsd.batch import build_batch


def _batch(world: World) -> bytes:
    """A new batch of 公安局's 无条件共享 resource."""
    return build_batch(samples.population_records(1, seed=71), provider_code=world.gaj_credit_code,
                       resource_code=world.unconditional, created=datetime(2026, 2, 1, tzinfo=UTC),
                       batch_id=uuid.uuid4())


CASES = {
    # 公安局's staff send their department's batches and ask what became of them
    "exchange.submit_batch": case({"admin", "provider"}, lambda w: {"batch": _batch(w)}, department="gaj"),
    "exchange.batch_status": case({"admin", "provider"}, lambda w: {"batch_id": w.extra["batch"]}, department="gaj"),
    # 民政局 reads 公安局's resources
    "exchange.query_records": case({"admin", "consumer"}, lambda w: {
        "resource_code": w.unconditional, "keys": [w.person], "purpose": "低保资格核查"}),
    "exchange.get_changes": case({"admin", "consumer"}, lambda w: {"resource_code": w.unconditional}),
    "exchange.unified_query": case({"admin", "consumer"}, lambda w: {"key": w.person, "purpose": "低保资格核查"}),
    # the core's priorities and every department's values are the platform operator's
    "core.priorities": case("admin", lambda w: {"base": "population"}),
    "core.priority": case("admin", lambda w: {"base": "population", "department": "mzj", "priority": 10}),
    "core.conflicts": case("admin", lambda w: {"base": "population"}),
    "core.history": case("admin", lambda w: {"base": "population", "key": w.person}),
}
