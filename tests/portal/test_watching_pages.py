"""我的订阅 over real HTTP: a person follows a resource's catalogue entry from its detail page; when the
provider withdraws it and publishes it again, the changes are listed with the reason until marked read;
following again changes nothing; unfollowing ends it; the news is the person's own."""

from __future__ import annotations

import re

from sqlalchemy import select

from registry.models import AuditEntry


def _rows(page: str) -> str:
    """The list's body: one ``<tr`` a followed entry."""
    return page.split('id="watching"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]


def test_a_followed_entry_lists_its_withdrawal_and_publication_until_read(browser, city, sessions):
    mzj = browser("mzj")
    page = mzj.get(f"/resource?code={city.unconditional}").text
    assert "订阅变更" in page and "取消订阅" not in page
    r = mzj.post("/resource/watch", {"code": city.unconditional, "action": "watch"})
    assert r.status_code == 200 and "已订阅" in r.text and "取消订阅" in r.text
    assert mzj.post("/resource/watch", {"code": city.unconditional, "action": "watch"}).status_code == 200  # again
    listed = _rows(mzj.get("/watching").text)
    assert "人口基本信息(公开项)" in listed and listed.count("<tr") == 1 and "unseen" not in listed  # no news yet

    gaj = browser("gaj")
    r = gaj.post("/resource/action", {"code": city.unconditional, "action": "withdraw", "reason": "字段调整, 暂停共享"})
    assert r.status_code == 200, r.text[:300]
    page = mzj.get("/watching").text
    assert "1 个条目有未读变更" in page
    listed = _rows(page)
    assert 'class="unseen"' in listed and "下架 → 已下架" in listed and "字段调整, 暂停共享" in listed
    assert "1 个条目有未读变更" not in browser("gaj").get("/watching").text  # gaj follows nothing

    marked = mzj.post("/watching/seen", {"code": city.unconditional})
    assert "已将 1 个条目的变更标为已读" in marked.text and 'class="unseen"' not in _rows(marked.text)

    # published again: the follower, who may see it again, learns each step
    assert gaj.post("/resource/action", {"code": city.unconditional, "action": "submit"}).status_code == 200
    reviewer = browser("reviewer")
    for verb in ("approve", "publish"):
        assert reviewer.post("/resource/action", {"code": city.unconditional, "action": verb}).status_code == 200
    listed = _rows(mzj.get("/watching").text)
    assert "发布 → 已发布" in listed and "提交审核 → 待审核" in listed and "下架 →" not in listed

    r = mzj.post("/resource/watch", {"code": city.unconditional, "action": "unwatch", "back": "watching"})
    assert "已取消订阅" in r.text and "尚未订阅任何目录条目" in r.text
    with sessions() as session:
        recorded = [a.operation for a in session.scalars(select(AuditEntry).where(AuditEntry.user == "mzj"))]
    assert {"catalogue.watch", "catalogue.watching", "catalogue.seen", "catalogue.unwatch"} <= set(recorded)


def test_an_entry_one_may_not_see_cannot_be_followed(browser, city):
    mzj = browser("mzj")
    r = mzj.post("/resource/watch", {"code": "101001002/999999", "action": "watch"})
    assert r.status_code == 404 and re.search(r"目录条目|不存在|找不到", r.text)
