"""Who may run governance's actions (see tests/actions.py).

Besides mzj's application for the conditional resource, the world holds 公安局's grant of it to
民政局 (a policy grant, ``extra["grant"]``) and 民政局's 纠错 report on it (``extra["report"]``).
The actions on 公安局's resources are tried by gaj's users, the consumer's by mzj's.
"""

from datetime import date

from tests.actions import case

PROVIDER_STAFF = {"admin", "provider", "cataloguer"}
CONSUMER = {"admin", "consumer"}

CASES = {
    # 民政局 applies for 公安局's conditional resource (its own application already waits: an allowed role
    # meets that refusal, not NotPermitted)
    "sharing.apply": case(CONSUMER, lambda w: {
        "resource_code": w.conditional, "purpose": "低保资格核查", "valid_to": date(2099, 12, 31)}),
    "sharing.withdraw": case(CONSUMER, lambda w: {"application_id": w.application}),
    "sharing.applications": case(CONSUMER),
    "sharing.approve": case(PROVIDER_STAFF, lambda w: {"application_id": w.application}, department="gaj"),
    "sharing.refuse": case(PROVIDER_STAFF, lambda w: {"application_id": w.application, "reason": "用途不符"},
                           department="gaj"),
    "sharing.inbox": case(PROVIDER_STAFF, department="gaj"),
    # one application: tried by gaj's users, its provider's staff read it (mzj's consumers too: test_sharing)
    "sharing.application": case(PROVIDER_STAFF, lambda w: {"application_id": w.application}, department="gaj"),
    "sharing.grant": case(PROVIDER_STAFF, lambda w: {"resource_code": w.conditional, "consumer_code": "mzj"},
                          department="gaj"),
    "sharing.revoke": case(PROVIDER_STAFF, lambda w: {"grant_id": w.extra["grant"], "reason": "业务已办结"},
                           department="gaj"),
    # the consumer that holds grants and the provider staff that give them
    "sharing.grants": case({"admin", "consumer", "provider", "cataloguer"}),
    "sharing.mask": case(PROVIDER_STAFF, lambda w: {"resource_code": w.unconditional, "field": "name",
                                                    "method": "name"}, department="gaj"),
    "sharing.masking": case("everyone", lambda w: {"resource_code": w.unconditional}),
    "sharing.view": case("everyone", lambda w: {"resource_code": w.unconditional}),
    "governance.todo": case("everyone"),
    # 部门目录: every signed-in person (which departments share with whom: test_departments)
    "department.directory": case("everyone"),
    "department.profile": case("everyone", lambda w: {"department": "gaj"}),
    # a node's heartbeat is signed: no signed-in person reports one, whatever the role
    "nodes.report": case(set(), lambda w: {"node_id": "0e3c1b8a-57d2-4f7e-9a43-6b1f0d2c8e15"}),
    "nodes.list": case({"admin", "auditor"}),
    "correction.file": case(CONSUMER, lambda w: {"resource_code": w.conditional, "record_key": w.person,
                                                 "field": "户籍地址", "problem": "已迁出"}),
    "correction.list": case(CONSUMER),
    "correction.answer": case(PROVIDER_STAFF, lambda w: {"report_id": w.extra["report"], "accept": True,
                                                         "text": "下一批次更正"}, department="gaj"),
    "correction.inbox": case(PROVIDER_STAFF, department="gaj"),
    "assessment.report": case({"admin", "reviewer", "auditor"}),
    "monitoring.report": case({"admin", "auditor"}),  # 运行监测: the monitoring roles (交换监控's)
    "monitoring.requests": case({"admin", "auditor"}),
    "monitoring.alerts": case({"admin", "auditor"}),
}
