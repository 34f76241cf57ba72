"""审计: search, export and verify the audit log (the actions of ``trust.auditing``).

Entries are shown as people read them: the operation and the department by name (使用申请,
临江市公安局) with their codes beside, the channel, the result in Chinese; dates are China days.
"""

from __future__ import annotations

import io
from datetime import datetime

from flask import Blueprint, Response, render_template, request

from registry.clock import china_text
from registry.errors import ZH, InvalidInput
from trust import auditing

from ..app import china_day, context, portal_config, requires

bp = Blueprint("audit", __name__)
CRITERIA = ("department", "operation", "resource", "result", "since", "until")

#: the operations of the platform as the audit log names them (an action's name, or a transport's)
OPERATIONS = {
    "portal.login": "登录", "portal.logout": "退出", "portal.query": "统一查询",
    "sharing.apply": "使用申请", "sharing.approve": "同意使用申请", "sharing.refuse": "拒绝使用申请",
    "sharing.withdraw": "撤回使用申请", "sharing.grant": "直接授权", "sharing.revoke": "撤销授权",
    "sharing.inbox": "查看待审批申请", "sharing.applications": "查看本部门申请", "sharing.grants": "查看授权",
    "sharing.mask": "设置脱敏", "sharing.view": "查看读取范围", "sharing.application": "查看使用申请",
    "correction.file": "提交纠错", "correction.answer": "答复纠错", "correction.inbox": "查看待答复纠错",
    "correction.list": "查看本部门纠错", "assessment.report": "考核统计",
    "catalogue.create": "新建目录条目", "catalogue.update": "修改目录条目", "catalogue.submit": "提交审核",
    "catalogue.approve": "审核通过", "catalogue.refuse": "审核退回", "catalogue.publish": "发布",
    "catalogue.withdraw": "下架", "catalogue.search": "检索资源目录", "catalogue.show": "查看资源",
    "department.directory": "查看部门目录", "department.profile": "查看部门",
    "notice.list": "查看消息", "notice.open": "打开消息", "notice.read_all": "全部消息标为已读",
    "exchange.QueryRecords": "查询记录 (接口)", "exchange.SubmitBatch": "提交批次 (接口)",
    "exchange.GetBatchStatus": "查询批次状态 (接口)", "exchange.GetChanges": "获取变更 (接口)",
    "exchange.request": "交换接口请求",
    "audit.search": "检索审计日志", "audit.verify": "校验审计日志", "audit.export": "导出审计日志",
    "audit.checkpoint": "签名检查点",
    "pki.init": "建立证书颁发机构", "pki.issue": "签发证书", "pki.revoke": "吊销证书", "pki.crl": "发布证书吊销列表",
    "pki.list": "查看证书",
    "sync.run": "运行同步", "sync.status": "查看同步状态", "sync.history": "查看同步记录", "sync.check": "一致性核查",
    "adapter.check": "检查适配器配置", "monitor.overview": "查看交换监控",
    "quarantine.list": "查看隔离区", "quarantine.show": "查看隔离记录", "quarantine.correct": "更正隔离记录",
    "quarantine.replay": "重放隔离记录", "quarantine.discard": "丢弃隔离记录", "demo.seed": "生成演示数据",
}
#: an operation not in OPERATIONS is named by its area
AREAS = {
    "portal": "门户", "sharing": "共享治理", "correction": "纠错", "assessment": "考核", "catalogue": "资源目录",
    "exchange": "数据交换", "uddi": "目录服务 (UDDI)", "wsdl": "接口描述 (WSDL)", "audit": "审计日志", "pki": "证书",
    "sync": "同步", "adapter": "适配器", "monitor": "交换监控", "quarantine": "隔离区", "demo": "演示数据",
    "core": "基础库", "department": "部门登记", "notice": "站内消息", "system": "应用系统", "user": "用户管理",
}
CHANNELS = {"soap": "接口", "portal": "门户", "cli": "命令行", "node": "前置节点", "federation": "级联平台",
            "job": "定时任务", "harvest": "目录采集"}
RESULTS = {"ok": "成功", "refused": "拒绝", "fault": "失败"}
#: what the verification of the chain found, by kind (trust.audit.Problem)
PROBLEMS = {
    "altered": "记录被篡改", "deleted": "记录被删除", "reordered": "记录顺序被调换", "link": "哈希链断开",
    "forged": "密钥哈希不符 (未持审计密钥写入或改写)", "unkeyed": "无密钥哈希 (未持审计密钥写入)",
    "key": "无法校验密钥哈希 (缺少审计密钥)", "truncated": "日志末尾被删除", "checkpoint": "与签名检查点不符",
    "signature": "检查点签名无效",
}


@bp.app_template_filter("china_time")
def _china_time(at: datetime | None) -> str:
    return china_text(at, "%Y-%m-%d %H:%M:%S") if at else ""


@bp.app_template_filter("operation_name")
def _operation_name(operation: str) -> str:
    return OPERATIONS.get(operation) or AREAS.get(operation.split(".", 1)[0], operation)


@bp.app_template_filter("channel_name")
def _channel_name(channel: str | None) -> str:
    return CHANNELS.get(channel or "", channel or "")


@bp.app_template_filter("result_name")
def _result_name(result: str) -> str:
    """成功, or 拒绝/失败 with what the code means (the code itself is shown beside it)."""
    kind, _, code = result.partition(":")
    name = RESULTS.get(kind, kind)
    meaning = ZH.get(code, "").rstrip("。")
    return f"{name}: {meaning}" if meaning else name


def _asked(args: dict[str, str], errors: dict[str, str]) -> dict:
    """The action's criteria from the form; a date that is not one is a form error."""
    return {"department": args["department"] or None, "operation": args["operation"] or None,
            "resource": args["resource"] or None, "result": args["result"] or None,
            "since": china_day(args["since"], "起始日期", errors, "since"),
            "until": china_day(args["until"], "截止日期", errors, "until", end=True)}


def _form() -> dict[str, str]:
    return {name: request.args.get(name, "").strip() for name in CRITERIA}


@bp.route("/audit")
@requires("audit")
def index():
    args, errors = _form(), {}
    asked = _asked(args, errors)
    if errors:
        return render_template("audit.html", args=args, errors=errors, total=0, rows=[], page=1, pages=1,
                               report=None), 422
    size = portal_config().page_size
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    try:
        found = auditing.search(context(), **asked, offset=(page - 1) * size, limit=size, clamp=True)
    except InvalidInput as exc:
        errors[exc.field or "until"] = exc.user_message
        return render_template("audit.html", args=args, errors=errors, total=0, rows=[], page=1, pages=1,
                               report=None), 422
    return render_template("audit.html", args=args, errors={}, total=found.total, rows=found.entries,
                           page=found.offset // size + 1, pages=max((found.total + size - 1) // size, 1), report=None)


@bp.route("/audit/export")
@requires("audit")
def export():
    """The entries matching the form's criteria, as a CSV file (every hashed column: an auditor re-verifies it)."""
    args, errors = _form(), {}
    asked = _asked(args, errors)
    if errors:
        return render_template("audit.html", args=args, errors=errors, total=0, rows=[], page=1, pages=1,
                               report=None), 422
    out = io.StringIO()
    auditing.export(context(), out=out, format="csv", **asked)
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=audit.csv"})


@bp.route("/audit/verify", methods=["POST"])
@requires("audit")
def verify():
    report = auditing.verify(context())
    return render_template("audit.html", args={}, errors={}, total=0, rows=[], page=1, pages=1, report=report,
                           problem_names=PROBLEMS)
