"""站内消息 (notices): what a person should know of without going to look - a step for them to take (a
使用申请 or 纠错 to answer, a catalogue entry to review or publish, a 登记申请 or a certificate request to
decide, a new department's accounts to open), the answer to their own, and a change to what their
department depends on (a resource it holds a grant of withdrawn or published again, a 使用申请 that
expired unanswered, a certificate near its end, the department or one of its systems suspended).

    notify(ctx, department_id=provider.id, capability="inbox", subject="application", ref="12",
           text="临江市民政局申请使用「户籍人口基础信息」(#12), 请于 2026-12-14 前答复。")
    notices(ctx, unread=True)    -> Page(items=(Notice(...), ...), unread=1, total=1, page=1, pages=1)
    open_notice(ctx, notice_id=3) -> Notice(..., read_at=...)   (marked read)
    read_all(ctx)                 -> 4   (how many were unread)

A notice is written by the action that did what it tells of, in that action's unit of work: it exists
exactly when its cause was committed, and a refused or failed action leaves none.  It goes to every active
person of the department named whose roles give the capability named (of any department when none is
named), and never to the person who did it.  A notice that called for a step (a 使用申请 or 纠错 to answer,
an entry to review or to publish) is marked read once the step is taken, by whoever takes it: what stays
unread is what is still to do, or an answer not yet seen.  Each person reads, opens and clears only their own.

A read notice is deleted ``GOVSHARE_NOTICE_DAYS`` days after it was written by the nightly retention
(``purge``); an unread one is kept until it is read.

The number of a person's unread notices (``unread``) is read for every portal page, beside their account;
like the account, it is their own state, not an action's result, and is not audited.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from registry.clock import utcnow
from registry.db import unit_of_work
from registry.errors import InvalidInput, NotFound
from registry.models import Notice as NoticeRow
from registry.models import User
from registry.settings import Settings

from .actions import Context, action
from .auth import CAPABILITIES

#: what a notice may be about, as the portal heads it
SUBJECTS = {"application": "使用申请", "correction": "数据纠错", "correction_answer": "数据纠错", "entry": "资源目录",
            "grant": "授权", "resource": "资源变更", "deadline": "到期提醒", "alert": "告警",
            "registration": "部门登记", "account": "账号", "certificate": "证书", "access": "接入状态"}
#: the longest text a notice keeps (a reason quoted in it is cut to fit)
TEXT_LENGTH = 500
PAGE_SIZE = 30


@dataclass(frozen=True)
class Notice:
    id: int
    subject: str
    ref: str
    text: str
    actor: str
    created: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, row: NoticeRow) -> Notice:
        return cls(row.id, row.subject, row.ref, row.text, row.actor, row.created, row.read_at)

    @property
    def subject_label(self) -> str:
        return SUBJECTS.get(self.subject, self.subject)


@dataclass(frozen=True)
class Kind:
    """One 类别 of a person's notices: the subjects the portal names alike (数据纠错: a report and its answer)."""

    key: str  # its first subject, as the page's ``kind`` names it
    label: str
    total: int
    unread: int


@dataclass(frozen=True)
class Page:
    items: tuple[Notice, ...]
    unread: int  # of all the person's notices
    total: int  # of those listed (all, or the unread; of the 类别 chosen)
    page: int
    pages: int
    kinds: tuple[Kind, ...] = ()  # of all the person's notices, in SUBJECTS' order
    kind: str | None = None  # the 类别 listed, None: every one


def notify(ctx: Context, *, capability: str | None, subject: str, ref: str | int, text: str,
           department_id: int | None = None, usernames: Iterable[str] = (), clears: Iterable[str] = ()) -> int:
    """Tell every active person of ``department_id`` (any department when None) whose roles give
    ``capability`` (nobody by role when None), and the people ``usernames`` names, of what ``ctx``'s action
    did - in its unit of work.
    Not the person who did it.  The unread notices of the subjects ``clears`` about the same ``ref`` are
    marked read first, and the 到期提醒 of each (``deadline``, ``<subject>:<ref>``): they called for the step
    now taken (a 使用申请 to answer, once it is answered).  How many were told."""
    audience = [(department_id, capability)] if capability is not None else []
    return tell(ctx.session, ctx.now, audience, subject=subject, ref=ref, text=text,
                usernames=usernames, clears=clears, actor=ctx.caller.who, actor_user=ctx.caller.user)


def tell(session: Session, now: datetime, audience: Iterable[tuple[int | None, str]], *, subject: str,
         ref: str | int, text: str, usernames: Iterable[str] = (), clears: Iterable[str] = (),
         actor: str = "platform", actor_user: str | None = None) -> int:
    """``notify`` in ``session``, at ``now``, from ``actor``, to each (department id or None for any,
    capability) of ``audience`` and to ``usernames`` - each person once - never to the account
    ``actor_user``: for the platform's own reminders too (``governance.reminders``), which no action writes."""
    if subject not in SUBJECTS or not set(clears) <= set(SUBJECTS):
        raise ValueError(f"unknown notice subject in {subject!r}, {clears!r}")
    if clears:
        clear(session, now, ref, clears)
    told: set[int] = set()
    for department_id, capability in audience:
        people = select(User.id, User.username, User.roles).where(User.active.is_(True))
        if department_id is not None:
            people = people.where(User.department_id == department_id)
        told |= {uid for uid, username, roles in session.execute(people)
                 if set(filter(None, roles.split(","))) & CAPABILITIES[capability] and username != actor_user}
    named = set(usernames)
    if named:
        told |= {uid for uid, username in session.execute(
            select(User.id, User.username).where(User.username.in_(named), User.active.is_(True)))
            if username != actor_user}
    text = text if len(text) <= TEXT_LENGTH else text[:TEXT_LENGTH - 1] + "…"
    session.add_all(NoticeRow(user_id=uid, subject=subject, ref=str(ref), text=text, actor=actor, created=now)
                    for uid in sorted(told))
    return len(told)


def clear(session: Session, now: datetime, ref: str | int, subjects: Iterable[str]) -> None:
    """Mark read everyone's unread notices of ``subjects`` about ``ref``, and their 到期提醒 (``deadline``,
    ``<subject>:<ref>``): the step they called for is taken."""
    subjects = list(subjects)
    session.execute(update(NoticeRow).where(
        or_(and_(NoticeRow.subject.in_(subjects), NoticeRow.ref == str(ref)),
            and_(NoticeRow.subject == "deadline", NoticeRow.ref.in_([f"{s}:{ref}" for s in subjects]))),
        NoticeRow.read_at.is_(None)).values(read_at=now))


def told_of(session: Session, subject: str, ref: str) -> bool:
    """Whether anyone was ever told of ``subject`` ``ref`` (a reminder is sent once)."""
    return session.scalar(select(NoticeRow.id).where(NoticeRow.subject == subject, NoticeRow.ref == ref)
                          .limit(1)) is not None


#: how many of a person's notices are unread, beside their account: every portal page reads it with the
#: signed-in account, in the same statement (``portal.app``)
UNREAD = (select(func.count()).select_from(NoticeRow).where(NoticeRow.user_id == User.id, NoticeRow.read_at.is_(None))
          .correlate(User).scalar_subquery())
_UNREAD = select(func.count()).select_from(NoticeRow).where(NoticeRow.user_id == bindparam("user_id"),
                                                            NoticeRow.read_at.is_(None))  # built once


def unread(session: Session, user_id: int) -> int:
    """How many of the person's notices are unread."""
    return session.scalar(_UNREAD, {"user_id": user_id}) or 0


@action("notice.list")
def notices(ctx: Context, *, unread_only: bool = False, page: int = 1, kind: str | None = None) -> Page:
    """The caller's notices, newest first (only the unread with ``unread_only``; only those of the 类别
    ``kind``, a subject), ``PAGE_SIZE`` a page, and how many each 类别 holds."""
    if kind and kind not in SUBJECTS:
        raise InvalidInput(f"kind: {kind!r} is not one of {', '.join(SUBJECTS)}", field="kind",
                           code="UnknownKind", zh="没有这一类消息。")
    mine = [NoticeRow.user_id == _person(ctx)]
    kinds = _kinds(ctx.session, _person(ctx))
    if kind:
        mine.append(NoticeRow.subject.in_(_alike(kind)))
    if unread_only:
        mine.append(NoticeRow.read_at.is_(None))
    total = ctx.session.scalar(select(func.count()).select_from(NoticeRow).where(*mine)) or 0
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(max(page, 1), pages)
    rows = ctx.session.scalars(select(NoticeRow).where(*mine).order_by(NoticeRow.id.desc())
                               .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
    items = tuple(Notice.of(row) for row in rows)
    ctx.note(record_count=len(items))
    return Page(items, sum(k.unread for k in kinds), total, page, pages, kinds,
                next((k.key for k in kinds if kind in _alike(k.key)), kind) if kind else None)


def _alike(subject: str) -> list[str]:
    """The subjects the portal names as ``subject`` is named."""
    return [other for other, label in SUBJECTS.items() if label == SUBJECTS[subject]]


def _kinds(session: Session, user_id: int) -> tuple[Kind, ...]:
    counted: dict[str, tuple[int, int]] = {}
    for subject, total, unread_ in session.execute(
            select(NoticeRow.subject, func.count(), func.count(NoticeRow.id).filter(NoticeRow.read_at.is_(None)))
            .where(NoticeRow.user_id == user_id).group_by(NoticeRow.subject)):
        key = _alike(subject)[0] if subject in SUBJECTS else subject
        before = counted.get(key, (0, 0))
        counted[key] = (before[0] + total, before[1] + unread_)
    order = [*SUBJECTS, *sorted(set(counted) - set(SUBJECTS))]
    return tuple(Kind(key, SUBJECTS.get(key, key), *counted[key]) for key in order if key in counted)


@action("notice.open")
def open_notice(ctx: Context, *, notice_id: int) -> Notice:
    """One of the caller's notices, marked read (another person's is not found, as if there were none)."""
    row = ctx.session.get(NoticeRow, notice_id)
    if row is None or row.user_id != _person(ctx):
        raise NotFound(f"you have no notice #{notice_id}", code="NoticeNotFound", field="notice",
                       zh=f"没有编号为 {notice_id} 的消息。")
    ctx.note(detail=f"notice #{row.id}: {row.subject} {row.ref}")
    if row.read_at is None:
        row.read_at = ctx.now
    return Notice.of(row)


@action("notice.read_all")
def read_all(ctx: Context) -> int:
    """Mark every unread notice of the caller read; how many there were."""
    done = ctx.session.execute(update(NoticeRow).where(NoticeRow.user_id == _person(ctx), NoticeRow.read_at.is_(None))
                               .values(read_at=ctx.now)).rowcount
    ctx.note(record_count=done)
    return done


def purge(sessions: sessionmaker[Session], settings: Settings, *, now: datetime | None = None) -> int:
    """Delete the read notices written more than ``GOVSHARE_NOTICE_DAYS`` days ago (none when it is 0); how
    many.  A plain function for the nightly retention."""
    if settings.notice_days <= 0:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=settings.notice_days)
    with unit_of_work(sessions) as session:
        return session.execute(delete(NoticeRow).where(NoticeRow.read_at.is_not(None),
                                                       NoticeRow.created < cutoff)).rowcount or 0


def _person(ctx: Context) -> int:
    # the actions' check refuses a caller that is not a person (trust.auth: notice.*)
    return ctx.caller.user_id
