"""证书管理: a department's people ask for certificates with a CSR (for the department or one of its
application systems), follow their requests, download, renew and revoke their certificates; the
security administrator (安全管理员) approves or refuses requests, watches the certificates that end
within 30 days (即将到期) and revokes any.  Each form calls one action of ``trust.certificates``,
which checks the user's roles and department and records the audit entry; the department's private
key never comes here - only the request made with it."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from registry.errors import GovshareError
from registry.models import AppSystem
from trust import certificates

from ..app import context, reading, requires

bp = Blueprint("certificates", __name__)

REASONS = certificates.REVOCATION_REASONS
STATUS_LABELS = certificates.REQUEST_STATUSES


@bp.app_template_filter("certificate_status")
def _certificate_status(status: str) -> str:
    return {"valid": "有效", "revoked": "已吊销"}.get(status, status)


@bp.app_template_filter("request_status")
def _request_status(status: str) -> str:
    return STATUS_LABELS.get(status, status)


@bp.route("/certificates")
@requires("connect")
def index():
    """The department's page: the request form, its requests, its certificates."""
    return _department_page({}, {"system": "", "renews": request.args.get("renews", "")})


def _department_page(errors: dict[str, str], form: dict[str, str]):
    ctx = context()
    with reading() as db:
        systems = db.scalars(select(AppSystem).where(AppSystem.department_id == g.user.department_id,
                                                     AppSystem.status == "active").order_by(AppSystem.code)).all()
    own = ctx.caller.department_code  # a security administrator who also connects a department sees it alone here
    held = certificates.certificates(ctx, department=own)
    renewable = [c for c in held if c.status == "valid" and c.not_after > ctx.now]
    return render_template("certificates.html", requests=certificates.requests(ctx, department=own), held=held,
                           systems=systems, renewable=renewable,
                           reasons=REASONS, errors=errors, form=form, now=ctx.now, ca_url=_pki_url("ca.pem"),
                           soon=ctx.now + timedelta(days=certificates.EXPIRING_DAYS)), 422 if errors else 200


def _pki_url(name: str) -> str:
    """``/pki/ca.pem``, ``/pki/crl.pem``: served by the platform beside the portal (server.py), not by it."""
    return f"{request.script_root.removesuffix('/portal')}/pki/{name}"


@bp.route("/certificates/request", methods=["POST"])
@requires("connect")
def ask():
    form = {"system": request.form.get("system", ""), "renews": request.form.get("renews", "")}
    upload = request.files.get("csr_file")
    csr = upload.read() if upload and upload.filename else request.form.get("csr_text", "").strip()
    if not csr:
        return _department_page({"csr": "请上传证书请求文件 (CSR), 或粘贴 PEM 格式的证书请求。"}, form)
    try:
        made = certificates.request(context(), csr=csr, system=form["system"] or None,
                                    renews=form["renews"] or None)
    except GovshareError as exc:
        return _department_page({exc.field if exc.field in ("csr", "system", "renews") else "general":
                                 exc.user_message}, form)
    renewal = f", 续期证书 {made.renews}" if made.renews else ""
    flash(f"证书申请 #{made.id} 已提交 ({made.holder}, {made.key}{renewal}), 等待安全管理员审批。", "success")
    return redirect(url_for("certificates.index"))


@bp.route("/certificates/<serial>.pem")
@requires("search")  # every signed-in user reaches it; the action lets through its department and the security admin
def download(serial: str):
    found = certificates.certificate(context(), serial=serial)
    return Response(found.pem, mimetype="application/x-pem-file",
                    headers={"Content-Disposition": f'attachment; filename="{found.filename}"'})


@bp.route("/certificates/revoke", methods=["POST"])
@requires("search")  # a department's connect roles (its own) and the security administrator (any): the action decides
def revoke():
    serial, reason = request.form.get("serial", ""), request.form.get("reason", "")
    if reason not in REASONS:
        flash("请选择吊销原因。", "error")
    else:
        try:
            held = certificates.revoke(context(), serial=serial, reason=reason)
            flash(f"证书 {held.serial} ({held.holder}) 已吊销, 原因: {REASONS[reason]}; 证书吊销列表已更新。",
                  "success")
        except GovshareError as exc:
            flash(f"未能吊销证书 {serial}: {exc.user_message}", "error")
    return redirect(url_for("certificates.admin" if request.form.get("back") == "admin" else "certificates.index"))


@bp.route("/certificates/admin")
@requires("certificates")
def admin():
    """The security administrator's page: requests by status, certificates ending soon, every certificate."""
    ctx = context()
    status = request.args.get("status", "submitted")
    if status and status not in STATUS_LABELS:
        status = "submitted"
    return render_template("certificate_admin.html", requests=certificates.requests(ctx, status=status or None),
                           expiring=certificates.expiring(ctx), held=certificates.certificates(ctx), status=status,
                           labels=STATUS_LABELS, reasons=REASONS, limit=certificates.REASON_LENGTH, now=ctx.now,
                           days=certificates.EXPIRING_DAYS, ca_url=_pki_url("ca.pem"), crl_url=_pki_url("crl.pem"))


@bp.route("/certificates/decide", methods=["POST"])
@requires("certificates")
def decide():
    number = request.form.get("id", type=int)
    decision = request.form.get("decision")
    try:
        if decision == "approve":
            done = certificates.approve(context(), request_id=number)
            cert = done.certificate
            renewed = (f" 原证书 {done.renewed.serial} 仍有效至 {done.renewed.not_after:%Y-%m-%d}, 到期前可继续使用。"
                       if done.renewed else "")
            flash(f"已批准证书申请 #{number}: 证书 {cert.serial} ({cert.holder}) 有效至 "
                  f"{cert.not_after:%Y-%m-%d}。{renewed}", "success")
        elif decision == "refuse":
            certificates.refuse(context(), request_id=number, reason=request.form.get("reason", ""))
            flash(f"已拒绝证书申请 #{number}。", "success")
        else:
            abort(400, description="未知的审批结果: 请在证书申请列表中点击「批准」或「拒绝」。")
    except GovshareError as exc:
        flash(f"未能处理证书申请 #{number}: {exc.user_message}", "error")
    return redirect(url_for("certificates.admin"))
