"""我的订阅 over real HTTP: a person follows a resource's catalogue entry from its detail page; when the
provider withdraws it and publishes it again, the changes are listed with the reason until marked read;
following again changes nothing; unfollowing ends it; the news is the person's own."""

from __future__ import annotations

import re
import time

from sqlalchemy import select

from registry.db import unit_of_work
from registry.models import AuditEntry, Department


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
    assert "1 个条目有未读变更" in page, _rows(page)
    listed = _rows(page)
    assert 'class="unseen"' in listed and "下架 → 已下架" in listed and "字段调整, 暂停共享" in listed
    assert "1 个条目有未读变更" not in browser("gaj").get("/watching").text  # gaj follows nothing

    marked = mzj.post("/watching/seen", {"code": city.unconditional})
    assert f"已将 {city.unconditional} 的变更标为已读" in marked.text and 'class="unseen"' not in _rows(marked.text)

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


def _row(page: str, code: str) -> str:
    """The list's row of the followed entry ``code``."""
    return next(row for row in _rows(page).split("<tr")[1:] if code in row)


def test_a_followed_resource_lists_the_batches_its_records_received_where_the_follower_may_read_them(
        browser, city, sessions, settings):
    from tests.portal.conftest import _load
    from xsd import samples
    from xsd.registry import POPULATION_NS, lookup

    mzj = browser("mzj")
    for code in (city.unconditional, city.conditional):  # 无条件共享, and 有条件共享 without a grant
        assert mzj.post("/resource/watch", {"code": code, "action": "watch"}).status_code == 200
    page = mzj.get("/watching").text
    assert "unseen" not in _rows(page)  # the fixture's batches came before following
    assert "本部门无权使用" in _row(page, city.conditional) and "申请使用" in _row(page, city.conditional)
    assert "本部门无权使用" not in _row(page, city.unconditional)

    time.sleep(1)  # the clock has whole seconds: following starts with the next one
    person = lookup("{%s}Person" % POPULATION_NS)
    with sessions() as s:
        gaj = s.scalar(select(Department.credit_code).where(Department.code == "gaj"))
    newcomers = list(samples.population_fields(3, seed=907))
    for code in (city.unconditional, city.conditional):
        with unit_of_work(sessions) as s:
            _load(s, settings, gaj, code, [person.encode(p) for p in newcomers])
    with unit_of_work(sessions) as s:  # the same records again: received, but nothing changed
        _load(s, settings, gaj, city.unconditional, [person.encode(p) for p in newcomers])

    page = mzj.get("/watching").text
    assert "1 个条目有未读变更" in page, _rows(page)
    readable, hidden = _row(page, city.unconditional), _row(page, city.conditional)
    assert 'class="unseen"' in readable and "2 个批次 · 3 条记录变更" in readable
    assert "unseen" not in hidden and "批次" not in hidden  # nothing told of what mzj may not read

    time.sleep(1)
    marked = mzj.post("/watching/seen", {"code": city.unconditional})
    assert "已将 %s 的变更标为已读" % city.unconditional in marked.text
    assert "unseen" not in _rows(marked.text) and "批次" not in _row(marked.text, city.unconditional)
    with sessions() as session:
        assert "exchange.data_news" in set(session.scalars(select(AuditEntry.operation)
                                                           .where(AuditEntry.user == "mzj")))
