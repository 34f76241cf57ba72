"""后台作业: the background jobs for the platform administrator (``jobs.list``) - each job's task,
arguments, status, attempts, when it was queued for, started and ended (China time) and why it last
failed, filtered by status; a failed job is queued again (``jobs.retry``), the failed jobs past so
many days deleted (``jobs.purge``).  In process (SQLite) the page lists the adapter runs and says so."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from markupsafe import Markup

from operations import failed, listing
from registry.errors import GovshareError, InvalidInput
from registry.passes import TASK_NAMES

from ..app import context, requires

bp = Blueprint("jobs", __name__)

#: what a failure's exception type means, in the portal's words; the stored text (``Type: message``) follows
#: it for the operator who looks into the logs
ERROR_KINDS = {
    "ConnectionError": "无法连接对方服务", "ConnectionRefusedError": "对方拒绝连接 (服务未启动或端口不对)",
    "ConnectionResetError": "连接被对方断开", "MaxRetryError": "无法连接对方服务",
    "NewConnectionError": "无法连接对方服务", "ConnectTimeout": "连接超时", "ReadTimeout": "等待应答超时",
    "TimeoutError": "超时", "SSLError": "TLS 握手失败 (证书不被信任、已过期或名称不符)",
    "HTTPError": "对方返回 HTTP 错误", "Fault": "对方返回 SOAP Fault",
    "DatabaseUnavailable": "数据库不可用", "OperationalError": "数据库操作失败", "IntegrityError": "数据库约束冲突",
    "FileNotFoundError": "文件不存在", "PermissionError": "无权访问文件",
    "NotFound": "找不到所需对象", "InvalidInput": "输入有误", "NotPermitted": "无权执行", "Conflict": "状态冲突",
}


@bp.app_template_filter("job_error")
def _job_error(text: str) -> Markup | str:
    """A failure as the page shows it: what its type means in Chinese, then the text kept (unknown types:
    the text alone)."""
    gist = ERROR_KINDS.get((text or "").split(":", 1)[0].strip())
    return Markup("<strong>{}</strong> · {}").format(gist, text) if gist else text


@bp.route("/jobs")
@requires("operate")
def index():
    status = request.args.get("status", "").strip() or None
    error = None
    try:
        found = listing.list_jobs(context(), status=status)
    except InvalidInput as exc:
        found, error = listing.Jobs("", []), exc.user_message
    return render_template("jobs.html", found=found, status=status or "", error=error,
                           statuses=listing.STATUS_NAMES, tasks=TASK_NAMES), 400 if error else 200


@bp.route("/jobs/retry", methods=["POST"])
@requires("operate")
def retry():
    job_id = request.form.get("job_id", type=int)
    try:
        if job_id is None:
            raise InvalidInput("job_id: required", zh="请指定作业编号。", field="job_id")
        task = failed.retry(context(), job_id=job_id)
        flash(f"作业 {job_id} ({TASK_NAMES.get(task, task)}) 已重新排队, 将由 worker 立即执行。", "success")
    except GovshareError as exc:
        flash(f"未能重新执行作业 {job_id}: {exc.user_message}", "error")
    return redirect(url_for("jobs.index", status="failed"))


@bp.route("/jobs/purge", methods=["POST"])
@requires("operate")
def purge():
    days = request.form.get("days", type=int)
    try:
        if days is None:
            raise InvalidInput("days: required", zh="请填写天数 (整数)。", field="days")
        deleted = failed.purge(context(), days=days)
        flash(f"已删除 {deleted} 个最后一次尝试在 {days} 天前结束的失败作业。", "success")
    except GovshareError as exc:
        flash(f"未能清理失败作业: {exc.user_message}", "error")
    return redirect(url_for("jobs.index", status="failed"))
