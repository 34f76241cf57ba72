"""订阅目录变更: a person follows the catalogue entries of the resources they use and is told what changed
- a new version of the metadata, a withdrawal (下架), a publication again, an entry from a lower platform
changed at its node - in the portal's 我的订阅 until they have seen it.

    watch(ctx, resource_code="101001002/000001")       # follow an entry the caller may see
    unwatch(ctx, resource_code="101001002/000001")
    watching(ctx) -> [Watched(resource_code, name, status, unseen=(Change(...), ...), ...), ...]
    seen(ctx, resource_code=None)                       # all (or one) read, the data changes too

A change is a catalogue version (``CatalogueVersion``) after the one the person last saw; following an
entry starts at its current version, so only what happens next is news.  The batches of records a
followed resource received since are news too, for those who may read them
(``exchange.queries.data_news``); a department's programs follow the records themselves with
GetChanges (``govshare-client changes --follow``), and any UDDI client the directory's changes with
the subscription API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from registry.errors import EntryNotFound, NotPermitted
from registry.models import CatalogueEntry, CatalogueVersion, CatalogueWatch
from trust.actions import Context, action
from trust.auth import catalogue_visibility

from .workflow import VERB_LABELS

#: the most entries one person follows
MAX_WATCHES = 200
#: the most changes of one entry listed
MAX_CHANGES = 20
#: the changes a follower learns of an entry they may no longer see
PUBLIC_CHANGES = ("withdraw", "publish", "federate")
#: a change's action as 我的订阅 names it
CHANGE_LABELS = {**VERB_LABELS, "create": "创建", "federate": "来源节点更新"}


@dataclass(frozen=True)
class Change:
    version: int
    action: str
    status: str
    reason: str
    changed_by: str
    changed_at: datetime


@dataclass(frozen=True)
class Watched:
    resource_code: str
    name: str
    status: str
    provider_name: str
    since: datetime
    unseen: tuple[Change, ...]


def _person(ctx: Context) -> int:
    if ctx.caller.user_id is None:
        raise NotPermitted(f"{ctx.caller.who} is not a person: following catalogue entries is a person's",
                           zh="只有登录用户可以订阅目录变更。")
    return ctx.caller.user_id


def _visible_entry(ctx: Context, code: str) -> CatalogueEntry:
    row = ctx.session.scalar(select(CatalogueEntry).where(CatalogueEntry.resource_code == (code or "").strip(),
                                                          *catalogue_visibility(ctx.caller)))
    if row is None:
        raise EntryNotFound((code or "").strip())
    return row


@action("catalogue.watch")
def watch(ctx: Context, *, resource_code: str) -> Watched:
    """Follow an entry the caller may see, from its current version on (again: nothing changes)."""
    user_id = _person(ctx)
    row = _visible_entry(ctx, resource_code)
    found = ctx.session.scalar(select(CatalogueWatch).where(CatalogueWatch.user_id == user_id,
                                                            CatalogueWatch.entry_id == row.id))
    if found is None:
        count = ctx.session.scalar(select(func.count()).select_from(CatalogueWatch)
                                   .where(CatalogueWatch.user_id == user_id))
        if count >= MAX_WATCHES:
            raise NotPermitted(f"{ctx.caller.who} follows {count} entries already, the most one may",
                               code="TooManyWatches", zh=f"最多订阅 {MAX_WATCHES} 个目录条目, 请先取消一些订阅。")
        found = CatalogueWatch(user_id=user_id, entry_id=row.id, created=ctx.now, seen_version=row.version)
        ctx.session.add(found)
    ctx.note(resource_code=row.resource_code)
    return Watched(row.resource_code, row.name, row.status, row.provider.name, found.created, ())


@action("catalogue.unwatch")
def unwatch(ctx: Context, *, resource_code: str) -> None:
    user_id = _person(ctx)
    code = (resource_code or "").strip()
    row = ctx.session.scalar(select(CatalogueEntry).where(CatalogueEntry.resource_code == code))
    if row is not None:
        found = ctx.session.scalar(select(CatalogueWatch).where(CatalogueWatch.user_id == user_id,
                                                                CatalogueWatch.entry_id == row.id))
        if found is not None:
            ctx.session.delete(found)
    ctx.note(resource_code=(resource_code or "").strip())


@action("catalogue.watching")
def watching(ctx: Context) -> list[Watched]:
    """The entries the caller follows, those with unseen changes first, each with its unseen changes
    (newest first).  One the caller may no longer see (withdrawn, say) stays listed with the changes
    every reader of the published entry was entitled to learn: its withdrawals and publications."""
    user_id = _person(ctx)
    visible = set(ctx.session.scalars(select(CatalogueEntry.id).join(CatalogueWatch).where(
        CatalogueWatch.user_id == user_id, *catalogue_visibility(ctx.caller))))
    watches = list(ctx.session.scalars(
        select(CatalogueWatch).where(CatalogueWatch.user_id == user_id)
        .options(selectinload(CatalogueWatch.entry).selectinload(CatalogueEntry.provider))))
    out = []
    for w in watches:
        query = (select(CatalogueVersion).where(CatalogueVersion.entry_id == w.entry_id,
                                                CatalogueVersion.version > w.seen_version)
                 .order_by(CatalogueVersion.version.desc()).limit(MAX_CHANGES))
        if w.entry_id not in visible:
            query = query.where(CatalogueVersion.action.in_(PUBLIC_CHANGES))
        unseen = tuple(Change(v.version, v.action, v.status, v.reason, v.changed_by, v.changed_at)
                       for v in ctx.session.scalars(query))
        out.append(Watched(w.entry.resource_code, w.entry.name, w.entry.status, w.entry.provider.name, w.created,
                           unseen))
    return sorted(out, key=lambda w: (0 if w.unseen else 1, -(w.unseen[0].changed_at.timestamp() if w.unseen else 0)))


@action("catalogue.seen")
def seen(ctx: Context, *, resource_code: str | None = None) -> int:
    """Mark the changes of one followed entry (or of all) seen; how many entries had unseen changes."""
    user_id = _person(ctx)
    query = select(CatalogueWatch).where(CatalogueWatch.user_id == user_id).options(selectinload(CatalogueWatch.entry))
    marked = 0
    for w in ctx.session.scalars(query):
        if resource_code and w.entry.resource_code != resource_code.strip():
            continue
        if w.entry.version > w.seen_version:
            w.seen_version = w.entry.version
            marked += 1
        w.data_seen_at = ctx.now
    return marked

