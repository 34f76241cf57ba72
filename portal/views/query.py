"""统一查询: a person by 公民身份号码 or an enterprise by 统一社会信用代码 across every resource the
user's department may read (``portal.unified``), each field with its department and lineage.

Each resource read is one audit entry ``portal.query`` (resource, digest of the key, purpose,
records returned, result); when the log cannot be written nothing is shown.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from trust import audit

from ..app import audit_event, me, reading, record, requires, settings
from ..unified import KEY_LABELS, UnknownKey, lookup

bp = Blueprint("query", __name__)


@bp.route("/query", methods=["GET", "POST"])
@requires("query")
def index():
    key = request.values.get("key", "").strip()
    purpose = request.values.get("purpose", "").strip()
    errors: dict[str, str] = {}
    result = None
    if request.method == "POST":
        if not key:
            errors["key"] = "请输入公民身份号码或统一社会信用代码"
        if not purpose:
            errors["purpose"] = "请填写查询事由 (记入审计日志)"
        if not errors:
            with reading() as db:
                user = me(db)
                if user.department is None:
                    abort(403, description="您的账户不属于任何部门, 无法查询资源数据。")
                try:
                    result = lookup(db, settings(), user.department, key, purpose=purpose)
                except UnknownKey as exc:
                    errors["key"] = str(exc)
                else:
                    merged = result.merged()
            if result is not None:
                digest = audit.query_digest({"key": result.key})
                try:
                    for hit in result.hits:
                        record(audit_event("portal.query", resource_code=hit.entry.resource_code, purpose=purpose,
                                           query_digest=digest, record_count=1))
                    for entry in result.empty:
                        record(audit_event("portal.query", resource_code=entry.resource_code, purpose=purpose,
                                           query_digest=digest))
                    for entry, why in result.failed:
                        record(audit_event("portal.query", resource_code=entry.resource_code, purpose=purpose,
                                           query_digest=digest, result="fault:" + why.split(":")[0],
                                           detail=why))
                except Exception:  # noqa: BLE001 - no unrecorded access: show nothing
                    abort(503, description="审计日志暂不可用, 为保证每次访问均有记录, 本次查询结果未显示。请稍后重试。")
                return render_template("query.html", key=key, purpose=purpose, errors=errors, result=result,
                                       merged=merged, key_label=KEY_LABELS[result.base])
    return render_template("query.html", key=key, purpose=purpose, errors=errors, result=None, merged=[],
                           key_label=""), 422 if errors else 200
