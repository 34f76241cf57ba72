"""统一查询: a person by 公民身份号码 or an enterprise by 统一社会信用代码 across every resource the
user's department may read - the ``exchange.unified_query`` action - each field with its
department and lineage, code values with their names (``portal.unified``).

The action records the query, and each resource it reads is an ``exchange.query_records`` entry
of its own (channel ``portal``); when the log cannot be written nothing is shown.

The answer prints as a 查询结果单: who asked, when (China time), why, every resource's fields opened, and
a note that the sheet holds personal or enterprise data for that purpose only (the print stylesheet
leaves out the portal's menus and forms).
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from exchange.unified import unified_query
from registry.errors import InvalidInput
from xsd.registry import lookup

from ..app import context, requires
from ..unified import shown

bp = Blueprint("query", __name__)

#: why a department may read a resource, as the page says it
BASES = {"provider": "本部门资源", "unconditional": "无条件共享", "grant": "已获授权"}


@bp.route("/query", methods=["GET", "POST"])
@requires("query")
def index():
    key = request.values.get("key", "").strip()
    purpose = request.values.get("purpose", "").strip()
    errors: dict[str, str] = {}
    if request.method == "POST":
        ctx = context()
        try:
            result = unified_query(ctx, key=key, purpose=purpose)
        except InvalidInput as refused:
            errors[refused.field or "key"] = refused.user_message
        else:
            return render_template("query.html", key=key, purpose=purpose, errors=errors, result=result,
                                   fmt=lookup(result.record_type), shown=shown, bases=BASES, at=ctx.now)
    return render_template("query.html", key=key, purpose=purpose, errors=errors, result=None, fmt=None,
                           shown=shown, bases=BASES), 422 if errors else 200
