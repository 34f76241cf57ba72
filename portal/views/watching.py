"""我的订阅 (订阅目录变更): the entries a person follows and what changed since they last looked - the
entry's versions (``directory.catalogue.watch``) and the batches of its records, where the person's
department may read them (``exchange.queries.data_news``); the 资源详情 page's 订阅变更 / 取消订阅 button."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from directory.catalogue import watch
from directory.catalogue.workflow import STATUS_LABELS
from exchange.queries import data_news
from registry.models import CatalogueEntry, CatalogueWatch

from ..app import context, reading, requires

bp = Blueprint("watching", __name__)


@bp.app_template_global("is_watched")
def is_watched(code: str) -> bool:
    """Whether the signed-in person follows the entry ``code`` (for the detail page's button)."""
    if getattr(g, "user", None) is None:
        return False
    with reading() as db:
        return db.scalar(select(CatalogueWatch.id).join(CatalogueEntry).where(
            CatalogueWatch.user_id == g.user.id, CatalogueEntry.resource_code == code)) is not None


@bp.route("/watching")
@requires("search")
def index():
    found = watch.watching(context())
    data = data_news(context())
    fresh = {code for code, news in data.items() if news.batches}
    found.sort(key=lambda w: 0 if w.unseen or w.resource_code in fresh else 1)  # stable: news first, as before
    return render_template("watching.html", watched=found, data=data, fresh=fresh,
                           unseen=sum(1 for w in found if w.unseen or w.resource_code in fresh),
                           labels=watch.CHANGE_LABELS, statuses=STATUS_LABELS, limit=watch.MAX_WATCHES)


@bp.route("/resource/watch", methods=["POST"])
@requires("search")
def toggle():
    code = request.form.get("code", "").strip()
    if request.form.get("action") == "unwatch":
        watch.unwatch(context(), resource_code=code)
        flash(f"已取消订阅 {code} 的目录变更。", "success")
        if request.form.get("back") == "watching":
            return redirect(url_for("watching.index"))
    else:
        watch.watch(context(), resource_code=code)
        flash(f"已订阅 {code} 的目录变更: 条目修改、下架或重新发布时, 在“我的订阅”中提示。", "success")
    return redirect(url_for("catalogue.detail", code=code))


@bp.route("/watching/seen", methods=["POST"])
@requires("search")
def mark_seen():
    code = request.form.get("code", "").strip() or None
    watch.seen(context(), resource_code=code)
    flash(f"已将 {code} 的变更标为已读。" if code else "已将全部变更标为已读。", "success")
    return redirect(url_for("watching.index"))
