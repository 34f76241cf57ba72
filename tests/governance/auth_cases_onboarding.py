"""Who may run onboarding's actions (see tests/actions.py).

The world holds a 登记申请 awaiting review (``extra["registration"]``, 临江市卫生健康委员会 wjw) and
民政局's application system ``mzj.dibao``; the callers are mzj's users.
"""

from directory.demo import credit_code_for
from tests.actions import case

ADMIN = {"admin"}
READERS = {"admin", "security", "auditor"}  # the three duties read the register of departments
CONNECT = {"admin", "cataloguer", "provider"}  # a department's own people connect its systems

CASES = {
    # the public form: anyone, signed in or not
    "department.apply": case("everyone", lambda w: {
        "code": "rsj", "name": "临江市人力资源和社会保障局", "credit_code": credit_code_for("00250111"),
        "division_code": "330100", "connection_mode": "app_system", "contact_name": "李红",
        "contact_phone": "13800000000"}),
    "department.applications": case(ADMIN),
    "department.approve": case(ADMIN, lambda w: {"application_id": w.extra["registration"]}),
    "department.refuse": case(ADMIN, lambda w: {"application_id": w.extra["registration"], "reason": "材料不全"}),
    "department.list": case(READERS),
    "department.show": case(READERS, lambda w: {"department": "gaj"}),
    "department.suspend": case(ADMIN, lambda w: {"department": "gaj", "reason": "安全检查整改"}),
    "department.reinstate": case(ADMIN, lambda w: {"department": "gaj"}),
    "system.register": case(CONNECT, lambda w: {"code": "jiuzhu", "name": "医疗救助系统"}),
    "system.list": case(CONNECT | {"security"}),
    "system.suspend": case(CONNECT, lambda w: {"system": "mzj.dibao", "reason": "证书泄露排查"}),
    "system.reinstate": case(CONNECT, lambda w: {"system": "mzj.dibao"}),
}
