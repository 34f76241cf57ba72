"""Who may see the background jobs (see tests/actions.py): the platform administrator (运维); the 大屏: the
monitoring roles."""

from tests.actions import case

CASES = {
    "jobs.list": case("admin"),
    "jobs.retry": case("admin", lambda world: {"job_id": 1}),
    "jobs.purge": case("admin", lambda world: {"days": 30}),
    "operations.overview": case({"admin", "auditor"}),
}
