"""目录: search with facets, resource detail, cataloguing (编目) and review (审核, 发布, 下架), and the
目录编制 spreadsheet: the template, the export of what the search shows, and 目录导入.

Every page calls a catalogue action (``directory.catalogue.workflow``, ``.search``, ``.review``) as the
signed-in user (channel ``portal``): the action decides what the user may see and do, and
records itself in the audit log.  The entry form shows each broken metadata rule in Chinese
next to the field it names; a refusal is a Chinese message saying what to do in the portal.
"""

from __future__ import annotations

import io
import re
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, send_file, url_for
from lxml import etree
from markupsafe import Markup, escape

from directory import lookups
from directory.catalogue import classification, spreadsheet, template, workflow
from directory.catalogue.metadata import DATA_TYPES, FIELD_LABELS, ITEM_NAME_MAX, MAX_LENGTHS, field_label
from directory.catalogue.review import changes, last_published, review_queue
from directory.catalogue.search import FACET_LABELS, FACETS, SORTS, search
from directory.catalogue.workflow import STATUS_LABELS, VERB_LABELS
from directory.taxonomies import FORMAT_TYPES, SHARING_METHODS, SHARING_TYPES, UPDATE_CYCLES
from exchange import output
from governance import sharing
from registry.clock import utcnow
from registry.errors import GovshareError, InvalidInput, InvalidMetadata, InvalidWorkbook
from registry.models import CatalogueEntry, Department
from xsd import samples
from xsd.prepared import EXCHANGE_NS
from xsd.registry import Format

from ..app import context, portal_config, reading, requires, settings

bp = Blueprint("catalogue", __name__)

ACTION_LABELS = {**VERB_LABELS, "create": "创建"}
BLANK_ITEM_ROWS = 3
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
#: the keys of the sample QueryRecords request: a 公民身份号码 and a 统一社会信用代码 of nobody, each valid
#: (GB 11643; GB 32100 with its GB 11714 organisation code)
SAMPLE_PERSON = "330102199001021205"
SAMPLE_ORGANISATION = "91330100MA27U8K341"
#: the fields the entry form shows an error beside (the others are listed above the form)
INLINE = {"classification", "name", "provider_unit", "abstract", "format_class", "format_type", "items",
          "sharing_type", "sharing_method", "sharing_condition", "not_shared_basis", "open_to_public",
          "open_condition", "update_cycle", "publish_date", "related_codes", "wsdl_path", "access_point", "logical"}
_ITEM_CELL = re.compile(r"^items\[\d+\]\.(name|data_type|length)$")


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
    return search_page("catalogue.html", search, context(), FACETS)


def search_page(template: str, find, ctx, facets, **extra):
    """A catalogue's search page: the request's text, facets, order and page through ``find`` (a search action)."""
    text = request.args.get("q", "").strip()
    chosen = {name: request.args.get(name, "") for name in facets}
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    sort = request.args.get("sort", "").strip() or ("relevance" if text else "code")  # words: the best first
    try:
        result = find(ctx, text=text, chosen=chosen, page=page, page_size=portal_config().page_size, sort=sort)
    except InvalidInput as exc:
        abort(400, description=exc.user_message)
    # the search as query arguments, for the links that take it along (导出 Excel)
    export_args = {**({"q": text} if text else {}), **{name: value for name, value in chosen.items() if value}}
    return render_template(template, result=result, text=text, chosen=chosen, page=result.page,
                           pages=result.pages, facets=facets, facet_labels=FACET_LABELS, export_args=export_args,
                           sort=sort, sorts={key: label for key, (label, _order) in SORTS.items()
                                             if text or key != "relevance"}, **extra)


@bp.app_template_filter("highlight")
def _highlight(value: str, text: str) -> Markup:
    """``value``, escaped, with each word of the search ``text`` marked (<mark>) where the search found it: as a
    substring, Latin letters in either case."""
    value = value or ""
    words = sorted(set((text or "").split()), key=len, reverse=True)
    if not words:
        return escape(value)
    marked, at = Markup(), 0
    for found in re.finditer("|".join(re.escape(w) for w in words), value, re.IGNORECASE):
        marked += escape(value[at:found.start()]) + Markup("<mark>{}</mark>").format(found.group(0))
        at = found.end()
    return marked + escape(value[at:])


def _sample_key(entry: workflow.Entry) -> str:
    return SAMPLE_PERSON if entry.classification.startswith("101") else SAMPLE_ORGANISATION


#: the WS-Security header of a signed request (``DESIGN.md``, Security), what a toolkit fills in
SIGNED_HEADER = (
    "  <soap:Header>\n"
    '    <wsse:Security soap:mustUnderstand="1"\n'
    '        xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"\n'
    '        xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">\n'
    '      <wsse:BinarySecurityToken wsu:Id="X509-1"\n'
    '          ValueType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"\n'
    '          EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0'
    '#Base64Binary">本部门或应用系统证书 (Base64)</wsse:BinarySecurityToken>\n'
    '      <wsu:Timestamp wsu:Id="TS-1"><wsu:Created>2026-12-08T02:00:00Z</wsu:Created>'
    "<wsu:Expires>2026-12-08T02:05:00Z</wsu:Expires></wsu:Timestamp>\n"
    '      <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">\n'
    "        <!-- SignedInfo: exc-c14n, rsa-sha256; a Reference (sha256) to #TS-1 and one to #Body-1;\n"
    "             KeyInfo: a wsse:SecurityTokenReference to #X509-1 -->\n"
    "      </ds:Signature>\n"
    "    </wsse:Security>\n"
    "  </soap:Header>\n"
)


def _sample_request(entry: workflow.Entry, requester_code: str, *, signed: bool = False) -> str:
    body = '  <soap:Body wsu:Id="Body-1"\n      xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/' \
        'oasis-200401-wss-wssecurity-utility-1.0.xsd">\n' if signed else "  <soap:Body>\n"
    return (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"\n'
        '               xmlns:ex="http://govshare.local/xsd/exchange/1.0">\n'
        + (SIGNED_HEADER if signed else "") + body +
        "    <ex:QueryRecords>\n"
        f"      <ex:requester>{requester_code}</ex:requester>\n"
        f"      <ex:resourceCode>{entry.resource_code}</ex:resourceCode>\n"
        f"      <ex:key>{_sample_key(entry)}</ex:key>\n"
        "      <ex:pageSize>10</ex:pageSize>\n"
        "    </ex:QueryRecords>\n"
        "  </soap:Body>\n"
        "</soap:Envelope>"
    )


def _what_i_see(code: str) -> dict[str, Any]:
    """sharing.authorize's answer for the user's department, as the detail page explains it."""
    if g.user.department_id is None:
        return {"allowed": False, "why": "您的账号不属于任何部门, 无法读取资源数据。"}
    with reading() as db:
        department = db.get(Department, g.user.department_id)
        entry = lookups.published_resource(db, code)
        try:
            decision = sharing.authorize(db, department, entry)
        except GovshareError as exc:
            return {"allowed": False, "code": exc.code, "why": exc.user_message,
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
        return {"allowed": True, "basis": decision.basis, "why": basis[decision.basis], "fields": rows,
                "answer": _sample_answer(entry, fmt, decision) if fmt is not None else None}


def _sample_answer(entry: CatalogueEntry, fmt: Format, decision: sharing.Decision) -> str:
    """A QueryRecords answer as the user's department would get it for the sample request: one synthetic
    record of the resource's base database (not anyone's), with only the fields it may read, masked as the
    exchange would mask them (``exchange.output.View``)."""
    fields = samples.sample_fields(fmt.name)
    if fmt.name in ("population", "legal_entity"):  # the record of the sample request's key
        fields[fmt.key_fields[0]] = SAMPLE_PERSON if fmt.name == "population" else SAMPLE_ORGANISATION
    fields = output.View(entry, decision.requester, decision.fields, decision.masking).shape(fields)
    answer = etree.Element(f"{{{EXCHANGE_NS}}}QueryRecordsResponse", nsmap={"ex": EXCHANGE_NS})
    for name, value in (("total", "1"), ("pageOffset", "0"), ("more", "false"),
                        ("source", "provider" if entry.logical else "central")):
        etree.SubElement(answer, f"{{{EXCHANGE_NS}}}{name}").text = value
    etree.SubElement(answer, f"{{{EXCHANGE_NS}}}records").append(fmt.encode(fields))
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body").append(answer)
    etree.indent(envelope, space="  ")
    return etree.tostring(envelope, encoding="unicode")


@bp.route("/resource")
@requires("search")
def detail():
    view = workflow.show(context(), resource_code=request.args.get("code", ""))
    entry = view.entry
    seen = _what_i_see(entry.resource_code) if entry.status == workflow.PUBLISHED else None
    requester = g.user.department.credit_code if g.user.department else "统一社会信用代码"
    pending = None  # for who reads its history: what an entry waiting for review changes against its published one
    if view.history and entry.status in (workflow.SUBMITTED, workflow.APPROVED):
        published = last_published(view.history)
        pending = (published, changes(published.snapshot, entry.as_dict()) if published else ())
    return render_template("detail.html", entry=entry, history=view.history or (), seen=seen, actions=view.actions,
                           action_labels=ACTION_LABELS, sample=_sample_request(entry, requester),
                           signed_sample=_sample_request(entry, requester, signed=True)
                           if settings().wss_policy != "off" else None, signing=settings().wss_policy,
                           labels=FIELD_LABELS, data_types=DATA_TYPES, pending=pending)


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
    return data


def _errors(exc: InvalidMetadata) -> dict[str, str]:
    """field -> the rule it broke, in Chinese words (``items[2].length`` names a row's cell; the codes of
    关联资源代码 are shown beside the one field that holds them)."""
    out: dict[str, str] = {}
    for error in exc.errors:
        field = "related_codes" if error.field.startswith("related_codes[") else error.field
        out[field] = out[field] + "; " + error.zh if field in out else error.zh
    return out


def _form(data: dict[str, Any], errors: dict[str, str], *, code: str | None, status: int = 200):
    shown = dict(data)  # as the form's fields hold it: 关联资源代码 as the text typed, 是/否
    shown["related_codes"] = " ".join(data.get("related_codes") or ())
    if isinstance(data.get("open_to_public"), bool):
        shown["open_to_public"] = "是" if data["open_to_public"] else "否"
    items = list(data.get("items") or [])
    items += [{"name": "", "data_type": "C", "length": ""}] * BLANK_ITEM_ROWS
    return render_template(
        "entry_form.html", data=shown, items=items, errors=errors, code=code, labels=FIELD_LABELS,
        limits=MAX_LENGTHS, item_name_max=ITEM_NAME_MAX, data_types=DATA_TYPES, format_types=FORMAT_TYPES,
        sharing_types=SHARING_TYPES, sharing_methods=SHARING_METHODS, update_cycles=UPDATE_CYCLES,
        classes=_leaf_choices(),
        general=[(field_label(f), m) for f, m in errors.items() if f not in INLINE and not _ITEM_CELL.match(f)],
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
    provider = request.form.get("provider", "").strip() or None
    try:
        entry = workflow.create(context(), metadata=data, provider=provider)
    except InvalidMetadata as exc:
        return _form({**data, "provider": provider or ""}, _errors(exc), code=None, status=422)
    flash(f"已创建目录条目 {entry.resource_code} (草稿)。", "success")
    return redirect(url_for("catalogue.detail", code=entry.resource_code))


@bp.route("/resource/edit", methods=["GET", "POST"])
@requires("catalogue")
def edit():
    code = request.values.get("code", "")
    if request.method == "GET":
        view = workflow.show(context(), resource_code=code)
        if "edit" in view.refusals:
            abort(403, description=view.refusals["edit"])
        refusal = workflow.status_refusal(view.entry.resource_code, view.entry.status, "edit")
        if refusal is not None:
            raise refusal
        return _form(view.entry.as_dict(), {}, code=view.entry.resource_code)
    data = _form_data(request.form)
    try:
        workflow.edit(context(), resource_code=code, changes=data)
    except InvalidMetadata as exc:
        return _form(data, _errors(exc), code=code, status=422)
    flash(f"已保存 {code} (草稿)。", "success")
    return redirect(url_for("catalogue.detail", code=code))


# ----------------------------------------------------------------------------- 审核 / 发布 / 下架


@bp.route("/resource/action", methods=["POST"])
@requires("search")
def action():
    code = request.form.get("code", "")
    name = request.form.get("action", "")
    back = request.form.get("back") or url_for("catalogue.detail", code=code)
    verbs = {"submit": workflow.submit, "approve": workflow.approve, "refuse": workflow.refuse,
             "publish": workflow.publish, "withdraw": workflow.withdraw}
    if name not in verbs:
        abort(400, description=f"未知的操作: {name}")
    inputs = {"reason": request.form.get("reason", "")} if name in ("refuse", "withdraw") else {}
    try:
        entry = verbs[name](context(), resource_code=code, **inputs)
    except GovshareError as exc:
        flash(Markup("操作未完成: {}").format(exc.user_message), "error")
        return redirect(back)
    flash(f"{code}: {ACTION_LABELS[name]}完成, 当前状态: {STATUS_LABELS.get(entry.status, entry.status)}。", "success")
    return redirect(back)


@bp.route("/review")
@requires("review")
def review():
    queue = review_queue(context())
    return render_template("review.html", submitted=queue[workflow.SUBMITTED], approved=queue[workflow.APPROVED])


@bp.route("/mine")
@requires("catalogue")
def mine():
    department = g.user.department
    if department is None:
        return redirect(url_for("catalogue.index"))
    return redirect(url_for("catalogue.index", provider=department.code))


# ----------------------------------------------------------------------------- 目录编制: template, export, 目录导入

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx(content: bytes, name: str):
    return send_file(io.BytesIO(content), mimetype=XLSX, as_attachment=True, download_name=name, max_age=0)


@bp.route("/catalogue/template.xlsx")
@requires("search")
def template_download():
    return _xlsx(spreadsheet.template_workbook(context()), "目录编制模板.xlsx")


@bp.route("/catalogue/export.xlsx")
@requires("search")
def export():
    """What the catalogue page shows for the same search and facets, every page of it."""
    chosen = {name: request.args.get(name, "") for name in FACETS}
    exported = spreadsheet.export(context(), text=request.args.get("q", "").strip(), chosen=chosen)
    return _xlsx(exported.content, f"资源目录-{utcnow():%Y%m%d}.xlsx")


@bp.route("/catalogue/import", methods=["GET", "POST"])
@requires("catalogue")
def import_page():
    if request.method == "GET":
        return _import_page()
    upload = request.files.get("workbook")
    check = request.form.get("mode") != "import"
    if upload is None or not upload.filename:
        return _import_page(missing="请选择要导入的工作簿 (.xlsx 文件)。", status=422)
    try:
        result = spreadsheet.import_workbook(context(), content=upload.read(), check=check)
    except InvalidWorkbook as exc:
        return _import_page(filename=upload.filename, check=check, problems=exc.errors, status=422)
    return _import_page(filename=upload.filename, check=check, result=result)


import_page.max_upload = template.MAX_BYTES  # type: ignore[attr-defined]


def _import_page(*, status: int = 200, **shown: Any):
    department = g.user.department
    return render_template("catalogue_import.html", outcomes=spreadsheet.OUTCOME_LABELS, max_rows=template.MAX_ROWS,
                           max_mb=template.MAX_BYTES // 1024 // 1024, department=department, **shown), status
