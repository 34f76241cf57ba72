"""目录: search with facets, resource detail, cataloguing (编目) and review (审核, 发布, 下架).

Every change is a ``directory.catalogue.workflow`` action; the form shows each
``MetadataError`` next to the field it names, and the action is recorded in the audit log
as ``portal.catalogue.<action>``.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from markupsafe import Markup

from directory.catalogue import classification, workflow
from directory.catalogue.metadata import DATA_TYPES
from directory.taxonomies import FORMAT_TYPES, SHARING_METHODS, SHARING_TYPES, UPDATE_CYCLES
from governance import sharing
from registry.errors import EntryNotFound, GovshareError, InvalidMetadata

from ..app import audit_event, me, portal_config, reading, record_after, requires, settings, writing
from ..search import FACET_LABELS, FACETS, STATUS_LABELS, search

bp = Blueprint("catalogue", __name__)

#: form labels of the metadata fields (核心元数据)
LABELS = {
    "classification": "资源分类", "name": "资源名称", "provider_unit": "提供方内部部门", "abstract": "资源摘要",
    "format_class": "格式分类", "format_type": "格式类型", "items": "信息项", "sharing_type": "共享类型",
    "sharing_condition": "共享条件", "not_shared_basis": "不予共享依据", "sharing_method": "共享方式",
    "open_to_public": "是否向社会开放", "open_condition": "开放条件", "update_cycle": "更新周期",
    "publish_date": "发布日期", "related_codes": "关联资源代码", "wsdl_path": "WSDL 路径", "access_point": "服务地址",
    "logical": "逻辑集中", "provider": "提供方", "provider_code": "提供方代码",
}
ACTION_LABELS = {"edit": "修改", "submit": "提交审核", "approve": "审核通过", "refuse": "退回", "publish": "发布",
                 "withdraw": "下架", "create": "创建"}
BLANK_ITEM_ROWS = 3


@bp.app_template_filter("status_label")
def _status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


@bp.app_template_filter("class_path")
def _class_path(code: str) -> str:
    try:
        return classification.display_path(code)
    except KeyError:
        return code


@bp.route("/catalogue")
@requires("search")
def index():
    text = request.args.get("q", "").strip()
    chosen = {name: request.args.get(name, "") for name in (*FACETS, "status")}
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    size = portal_config().page_size
    with reading() as db:
        result = search(db, me(db), text=text, chosen=chosen, page=page, page_size=size)
        pages = max((result.total + size - 1) // size, 1)
        return render_template("catalogue.html", result=result, text=text, chosen=chosen, page=page, pages=pages,
                               facets=(*FACETS, "status"), facet_labels=FACET_LABELS)


def _sample_request(entry, requester_code: str) -> str:
    key = "330102199001021235" if entry.class_code.startswith("101") else "91330100MA27XXXXXX"
    return (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"\n'
        '               xmlns:ex="http://govshare.local/xsd/exchange/1.0">\n'
        "  <soap:Body>\n"
        "    <ex:QueryRecords>\n"
        f"      <ex:requester>{requester_code}</ex:requester>\n"
        f"      <ex:resourceCode>{entry.resource_code}</ex:resourceCode>\n"
        f"      <ex:key>{key}</ex:key>\n"
        "      <ex:pageSize>10</ex:pageSize>\n"
        "    </ex:QueryRecords>\n"
        "  </soap:Body>\n"
        "</soap:Envelope>"
    )


def _what_i_see(db, user, entry) -> dict[str, Any]:
    """sharing.authorize's answer for the user's department, as the detail page explains it."""
    if user.department is None:
        return {"allowed": False, "why": "您的账户不属于任何部门, 无法读取资源数据。"}
    try:
        decision = sharing.authorize(db, user.department, entry)
    except GovshareError as exc:
        return {"allowed": False, "code": exc.code, "why": exc.message,
                "can_apply": exc.code == "NotAuthorized"}
    fmt = sharing.record_format(db, entry)
    labels = {f.name: f.label for f in fmt.fields} if fmt else {}
    basis = {"provider": "本部门提供的资源: 可读取全部字段, 不脱敏。",
             "unconditional": "无条件共享: 所有已注册部门均可读取, 敏感字段按规则脱敏。",
             "grant": "有条件共享: 依据有效授权 (" + ", ".join(f"#{i}" for i in decision.grant_ids) + ") 读取。"}
    rows = []
    for name, _method, source in sharing.masking_table(db, entry):
        visible = decision.fields is None or name in decision.fields
        shown = decision.masking.method(name) if decision.masking is not None else "none"
        rows.append({"field": name, "label": labels.get(name, name), "visible": visible, "method": shown,
                     "source": source})
    return {"allowed": True, "basis": decision.basis, "why": basis[decision.basis], "fields": rows}


@bp.route("/resource")
@requires("search")
def detail():
    code = request.args.get("code", "")
    with reading() as db:
        user = me(db)
        try:
            entry = workflow.get_entry(db, user, code)
        except EntryNotFound:
            abort(404, description=f"没有您可见的资源代码为 {code} 的目录条目。")
        try:
            history = workflow.entry_history(db, user, code)
        except GovshareError:
            history = []
        seen = _what_i_see(db, user, entry) if entry.status == "published" else None
        requester = user.department.credit_code if user.department else "统一社会信用代码"
        return render_template("detail.html", entry=entry, history=history, seen=seen,
                               actions=workflow.allowed_actions(user, entry), action_labels=ACTION_LABELS,
                               sample=_sample_request(entry, requester), labels=LABELS, data_types=DATA_TYPES)


# ----------------------------------------------------------------------------- 编目: the entry form


def _form_data(form) -> dict[str, Any]:
    data: dict[str, Any] = {name: form.get(name, "").strip() for name in (
        "classification", "name", "provider_unit", "abstract", "format_class", "format_type", "sharing_type",
        "sharing_condition", "not_shared_basis", "sharing_method", "open_condition", "update_cycle",
        "publish_date", "wsdl_path", "access_point")}
    data["open_to_public"] = form.get("open_to_public", "") or None
    data["logical"] = form.get("logical") == "1"
    data["related_codes"] = [c for c in re.split(r"[\s,，;；]+", form.get("related_codes", "")) if c]
    items = []
    for name, kind, length in zip(form.getlist("item_name"), form.getlist("item_type"), form.getlist("item_length"),
                                  strict=False):
        if not (name.strip() or length.strip()):
            continue  # a blank row of the form
        items.append({"name": name.strip(), "data_type": kind, "length": length.strip() or None})
    data["items"] = items
    if "provider" in form and form.get("provider", "").strip():
        data["provider"] = form.get("provider").strip()
    return data


def _errors(exc: InvalidMetadata) -> dict[str, str]:
    """field -> message in the words of the rule it broke (``items[2].length`` names a row's cell)."""
    out: dict[str, str] = {}
    for error in exc.errors:
        text = "必填" if error.rule == "required" else error.rule
        if error.message:
            text += f" ({error.message})"
        out[error.field] = out[error.field] + "; " + text if error.field in out else text
    return out


def _form(entry_data: dict[str, Any], errors: dict[str, str], *, code: str | None, status: int = 200):
    items = list(entry_data.get("items") or [])
    items += [{"name": "", "data_type": "C", "length": ""}] * BLANK_ITEM_ROWS
    return render_template(
        "entry_form.html", data=entry_data, items=items, errors=errors, code=code, labels=LABELS,
        data_types=DATA_TYPES, format_types=FORMAT_TYPES, sharing_types=SHARING_TYPES,
        sharing_methods=SHARING_METHODS, update_cycles=UPDATE_CYCLES, classes=_leaf_choices(),
        general=[(f, m) for f, m in errors.items() if f not in LABELS and not f.startswith("items[")],
    ), status


def _leaf_choices() -> list[tuple[str, str]]:
    values = classification.classification_values()
    return [(code, f"{code} {classification.display_path(code)}") for code in sorted(values)
            if classification.node(code).level != "类"]


@bp.route("/catalogue/new", methods=["GET", "POST"])
@requires("catalogue")
def create():
    if request.method == "GET":
        return _form({"format_class": "接口", "format_type": "WebService", "sharing_method": "接口",
                      "open_to_public": "否", "update_cycle": "每日"}, {}, code=None)
    data = _form_data(request.form)
    try:
        with writing() as db:
            entry = workflow.create_entry(db, me(db), data)
            code = entry.resource_code
            record_after(db, audit_event("portal.catalogue.create", resource_code=code))
    except InvalidMetadata as exc:
        return _form(data, _errors(exc), code=None, status=422)
    except GovshareError as exc:
        return _form(data, {"metadata": str(exc)}, code=None, status=403)
    flash(f"已创建目录条目 {code} (草稿)。", "success")
    return redirect(url_for("catalogue.detail", code=code))


@bp.route("/resource/edit", methods=["GET", "POST"])
@requires("catalogue")
def edit():
    code = request.values.get("code", "")
    if request.method == "GET":
        with reading() as db:
            try:
                entry = workflow.get_entry(db, me(db), code)
            except EntryNotFound:
                abort(404, description=f"没有您可见的资源代码为 {code} 的目录条目。")
            data = workflow.snapshot(entry)
        data["open_to_public"] = "是" if data["open_to_public"] else "否"
        data["related_codes"] = " ".join(data["related_codes"])
        return _form(data, {}, code=code)
    data = _form_data(request.form)
    try:
        with writing() as db:
            workflow.edit_entry(db, me(db), code, data)
            record_after(db, audit_event("portal.catalogue.edit", resource_code=code))
    except InvalidMetadata as exc:
        return _form(data, _errors(exc), code=code, status=422)
    except GovshareError as exc:
        return _form(data, {"metadata": str(exc)}, code=code, status=403)
    flash(f"已保存 {code} (草稿)。", "success")
    return redirect(url_for("catalogue.detail", code=code))


# ----------------------------------------------------------------------------- 审核 / 发布 / 下架


@bp.route("/resource/action", methods=["POST"])
@requires("search")
def action():
    code = request.form.get("code", "")
    name = request.form.get("action", "")
    reason = request.form.get("reason", "")
    back = request.form.get("back") or url_for("catalogue.detail", code=code)
    calls = {
        "submit": lambda db, user: workflow.submit_entry(db, user, code),
        "approve": lambda db, user: workflow.approve_entry(db, user, code),
        "refuse": lambda db, user: workflow.refuse_entry(db, user, code, reason),
        "publish": lambda db, user: workflow.publish_entry(db, settings(), user, code),
        "withdraw": lambda db, user: workflow.withdraw_entry(db, settings(), user, code, reason),
    }
    if name not in calls:
        abort(400, description=f"未知的操作: {name}")
    try:
        with writing() as db:
            entry = calls[name](db, me(db))
            record_after(db, audit_event(f"portal.catalogue.{name}", resource_code=code, detail=reason))
            status = entry.status
    except GovshareError as exc:
        message = str(exc)
        if message.startswith("reason: required"):
            message = "请填写理由: " + ("退回" if name == "refuse" else "下架") + "必须说明原因。"
        flash(Markup("操作未完成: {}").format(message), "error")
        return redirect(back)
    flash(f"{code}: {ACTION_LABELS[name]}完成, 当前状态: {STATUS_LABELS.get(status, status)}。", "success")
    return redirect(back)


@bp.route("/review")
@requires("review")
def review():
    with reading() as db:
        user = me(db)
        submitted = search(db, user, chosen={"status": "submitted"}, page_size=200).entries
        approved = search(db, user, chosen={"status": "approved"}, page_size=200).entries
        return render_template("review.html", submitted=submitted, approved=approved)


@bp.route("/mine")
@requires("catalogue")
def mine():
    department = g.user.department
    if department is None:
        return redirect(url_for("catalogue.index"))
    return redirect(url_for("catalogue.index", provider=department.code))
