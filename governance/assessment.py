"""Assessment (考核, S5): per-department statistics of how well each department shares - the action
``assessment.report`` (the admin, reviewer and auditor roles read it).

    department  published  complete  completeness  timely  timeliness  applications  answered
    gaj         12         11        91.7%         9/10    90.0%       8             7 ...

**Catalogue completeness** (目录完整性): the share of the department's published entries
with every core metadata item of 《政务信息资源目录编制指南(试行)》 filled (``CORE_ITEMS``; the
items a rule makes conditional count only where the rule applies), and each information
item with a name, a data type and, for C/N/F, a length.

**Update timeliness** (更新及时性): a published resource the centre holds (物理集中) is on time
when its last batch (input tier; adapter runs load through it too) arrived within its
declared update cycle plus one day of grace: 实时 and 每日 1 day, 每周 7, 每月 31, 每季度 92,
每半年 183, 每年 366.  A resource never loaded is late.  逻辑集中 resources are answered live
by the provider and are not counted.

**Response times** of 使用申请 to the department's resources and of 纠错 reports on them:
answered count, median hours from filing to answer, the share of those due that were
answered by the deadline (due: answered, or open past the deadline, or expired unanswered;
withdrawn applications are not counted), and how many are open past the deadline now.

**Score** (得分, out of 100) and **rank** (排名): the four shares weighted (``WEIGHTS``: 目录完整性 30,
更新及时性 30, 使用申请按期答复率 25, 纠错按期答复率 15).  A share with nothing to count (nothing
published, no resource the centre holds, nothing due) is left out and the weights of the others
carry the score, so a department is scored on what it has; one with nothing counted at all has
no score and no rank.  Departments are ranked by score, equal scores (to the 0.1 shown) sharing a
rank (1, 2, 2, 4).
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from directory import lookups
from directory.catalogue.metadata import LENGTH_RANGES
from registry.models import CatalogueEntry, CorrectionReport, Department, InputBatch, SharingApplication
from trust.actions import Context, action

from . import correction, sharing

#: core metadata items (核心元数据): name -> (label, whether the entry must have it, whether it has it)
CORE_ITEMS = {
    "classification": ("信息资源分类", lambda e: True, lambda e: bool(e.class_code)),
    "name": ("信息资源名称", lambda e: True, lambda e: bool(e.name.strip())),
    "provider_code": ("信息资源提供方代码", lambda e: True, lambda e: bool(e.provider_code)),
    "provider_unit": ("提供方内部部门", lambda e: True, lambda e: bool(e.provider_unit.strip())),
    "abstract": ("信息资源摘要", lambda e: True, lambda e: bool(e.abstract.strip())),
    "format": ("信息资源格式", lambda e: True, lambda e: bool(e.format_class and e.format_type)),
    "items": ("信息项信息", lambda e: True, lambda e: bool(e.items) and all(_item_complete(i) for i in e.items)),
    "sharing_type": ("共享类型", lambda e: True, lambda e: bool(e.sharing_type)),
    "sharing_condition": ("共享条件", lambda e: e.sharing_type == sharing.CONDITIONAL,
                          lambda e: bool(e.sharing_condition.strip())),
    "not_shared_basis": ("不予共享依据", lambda e: e.sharing_type == sharing.NOT_SHARED,
                         lambda e: bool(e.not_shared_basis.strip())),
    "sharing_method": ("共享方式", lambda e: e.sharing_type != sharing.NOT_SHARED,
                       lambda e: bool(e.sharing_method)),
    "open_condition": ("开放条件", lambda e: e.open_to_public, lambda e: bool(e.open_condition.strip())),
    "update_cycle": ("更新周期", lambda e: True, lambda e: bool(e.update_cycle)),
    "publish_date": ("发布日期", lambda e: True, lambda e: e.publish_date is not None),
}
#: days an update cycle (更新周期) allows between two loads, before the grace day
CYCLE_DAYS = {"实时": 0, "每日": 1, "每周": 7, "每月": 31, "每季度": 92, "每半年": 183, "每年": 366}
GRACE = timedelta(days=1)
#: the score's weights (得分权重), out of 100: a share -> its weight
WEIGHTS = {"completeness": 30, "timeliness": 30, "applications_within_deadline": 25, "corrections_within_deadline": 15}
#: the columns of a row, with the names a person reads (the portal's CSV export)
LABELS = {
    "department": "部门代码", "name": "部门", "published": "已发布", "complete": "元数据完整",
    "completeness": "目录完整性 (%)", "timed": "计更新的资源", "on_time": "按期更新", "timeliness": "更新及时性 (%)",
    "applications": "使用申请 收到", "applications_answered": "使用申请 已答复",
    "application_median_hours": "申请答复中位时长 (小时)", "applications_within_deadline": "申请按期答复率 (%)",
    "applications_overdue": "申请逾期", "corrections": "纠错 收到", "corrections_answered": "纠错 已答复",
    "correction_median_hours": "纠错答复中位时长 (小时)", "corrections_within_deadline": "纠错按期答复率 (%)",
    "corrections_overdue": "纠错逾期", "score": "得分", "rank": "排名",
}
COLUMNS = tuple(LABELS)
SHARES = frozenset(WEIGHTS)


@dataclass
class Responses:
    """How one department answered one kind of request (applications or correction reports)."""

    received: int = 0
    answered: int = 0
    hours: list[float] = field(default_factory=list)
    due: int = 0
    within: int = 0
    overdue: int = 0

    @property
    def median_hours(self) -> float | None:
        return round(statistics.median(self.hours), 1) if self.hours else None

    @property
    def within_share(self) -> float | None:
        return self.within / self.due if self.due else None

    def add(self, submitted: datetime, deadline: datetime, answered: datetime | None, open_: bool,
            now: datetime) -> None:
        self.received += 1
        if answered is not None:
            self.answered += 1
            self.hours.append((answered - submitted).total_seconds() / 3600)
            self.due += 1
            self.within += answered <= deadline
        elif open_ and now > deadline:
            self.due += 1
            self.overdue += 1
        elif not open_:  # expired unanswered
            self.due += 1


@dataclass
class DepartmentAssessment:
    """One department's row of the 考核 table."""

    department: str
    name: str
    published: int = 0
    complete: int = 0
    missing: dict[str, int] = field(default_factory=dict)  # core item -> entries missing it
    timed: int = 0  # published resources the centre holds (timeliness counted)
    on_time: int = 0
    late: list[str] = field(default_factory=list)  # resource codes
    applications: Responses = field(default_factory=Responses)
    corrections: Responses = field(default_factory=Responses)
    rank: int | None = None  # among every department's score (``report`` sets it)

    @property
    def completeness(self) -> float | None:
        return self.complete / self.published if self.published else None

    @property
    def timeliness(self) -> float | None:
        return self.on_time / self.timed if self.timed else None

    def shares(self) -> dict[str, float | None]:
        """The four shares the score weighs (``WEIGHTS``), None where nothing was counted."""
        return {"completeness": self.completeness, "timeliness": self.timeliness,
                "applications_within_deadline": self.applications.within_share,
                "corrections_within_deadline": self.corrections.within_share}

    @property
    def score(self) -> float | None:
        """得分 out of 100, to 0.1: the counted shares weighted by ``WEIGHTS``; None if none was counted."""
        counted = {name: share for name, share in self.shares().items() if share is not None}
        if not counted:
            return None
        return round(100 * sum(WEIGHTS[n] * s for n, s in counted.items()) / sum(WEIGHTS[n] for n in counted), 1)

    def row(self) -> dict[str, object]:
        """The values of ``COLUMNS``; shares as fractions, None where nothing was counted."""
        a, c = self.applications, self.corrections
        return {
            "department": self.department, "name": self.name, "published": self.published,
            "complete": self.complete, "completeness": self.completeness, "timed": self.timed,
            "on_time": self.on_time, "timeliness": self.timeliness, "applications": a.received,
            "applications_answered": a.answered, "application_median_hours": a.median_hours,
            "applications_within_deadline": a.within_share, "applications_overdue": a.overdue,
            "corrections": c.received, "corrections_answered": c.answered,
            "correction_median_hours": c.median_hours, "corrections_within_deadline": c.within_share,
            "corrections_overdue": c.overdue, "score": self.score, "rank": self.rank,
        }


def ranked(rows: Iterable[DepartmentAssessment]) -> list[DepartmentAssessment]:
    """``rows`` best score first (equal scores by department code), the unscored last by code."""
    return sorted(rows, key=lambda r: (r.score is None, -(r.score or 0), r.department))


def write_csv(rows: Iterable[DepartmentAssessment], out: IO[str], *, labels: bool = False) -> int:
    """Write ``rows`` to ``out`` as CSV, a line each, the rows written.  For a script (the default) the
    header is ``COLUMNS`` and the shares are fractions; for a person (``labels``) the header is
    ``LABELS``' Chinese and the shares are percentages to 0.1.  Nothing counted is an empty cell."""
    writer = csv.writer(out, lineterminator="\r\n" if labels else "\n")
    writer.writerow(LABELS.values() if labels else COLUMNS)
    written = 0
    for row in rows:
        values = row.row()
        writer.writerow(_cell(name, values[name], labels) for name in COLUMNS)
        written += 1
    return written


def _cell(name: str, value: object, labels: bool) -> object:
    if value is None:
        return ""
    return f"{value * 100:.1f}" if labels and name in SHARES else value


def missing_items(entry: CatalogueEntry) -> list[str]:
    """The core metadata items an entry should have and lacks."""
    return [name for name, (_label, applies, present) in CORE_ITEMS.items() if applies(entry) and not present(entry)]


def is_timely(entry: CatalogueEntry, last_load: datetime | None, now: datetime) -> bool:
    """Whether a resource's last load is within its update cycle (plus the grace day) of ``now``."""
    if last_load is None:
        return False
    return now - last_load <= timedelta(days=CYCLE_DAYS.get(entry.update_cycle, 0)) + GRACE


@action("assessment.report")
def report(ctx: Context, *, department: str | None = None, since: datetime | None = None) -> list[DepartmentAssessment]:
    """The 考核 table at ``ctx.now``, one row per department (or only ``department``), ordered by department code,
    each ranked among every department.

    ``since`` limits the response statistics to applications and reports filed from then on.
    """
    session, now = ctx.session, ctx.now
    only = lookups.department_by_code(session, department).id if department else None
    rows = {d.id: DepartmentAssessment(d.code, d.name)
            for d in session.scalars(select(Department).order_by(Department.code))}
    entries = session.scalars(select(CatalogueEntry).where(CatalogueEntry.status == "published")
                              .options(selectinload(CatalogueEntry.items)))
    last_loads = dict(session.execute(
        select(InputBatch.resource_code, func.max(InputBatch.received_at))
        .where(InputBatch.status == "processed").group_by(InputBatch.resource_code)).all())
    for entry in entries:
        row = rows[entry.provider_id]
        row.published += 1
        missing = missing_items(entry)
        row.complete += not missing
        for name in missing:
            row.missing[name] = row.missing.get(name, 0) + 1
        if not entry.logical:
            row.timed += 1
            if is_timely(entry, last_loads.get(entry.resource_code), now):
                row.on_time += 1
            else:
                row.late.append(entry.resource_code)
    _responses(session, rows, now, since)
    _rank(rows.values())
    found = [rows[only]] if only is not None else list(rows.values())
    ctx.note(record_count=len(found))
    return found


def _rank(rows: Iterable[DepartmentAssessment]) -> None:
    """Give each scored row its rank: one more than the rows with a higher score."""
    scores = [r.score for r in rows if r.score is not None]
    for row in rows:
        row.rank = None if row.score is None else 1 + sum(other > row.score for other in scores)


def _responses(session: Session, rows: dict[int, DepartmentAssessment], now: datetime,
               since: datetime | None) -> None:
    sharing.expire_applications(session, now)
    applications = (select(SharingApplication, CatalogueEntry.provider_id)
                    .join(CatalogueEntry, SharingApplication.entry_id == CatalogueEntry.id)
                    .where(SharingApplication.status != sharing.WITHDRAWN))
    if since is not None:
        applications = applications.where(SharingApplication.submitted_at >= since)
    for application, provider_id in session.execute(applications):
        answered = application.decided_at if application.status in (sharing.APPROVED, sharing.REFUSED) \
            else None
        rows[provider_id].applications.add(application.submitted_at, application.deadline, answered,
                                           application.status == sharing.SUBMITTED, now)
    reports = (select(CorrectionReport, CatalogueEntry.provider_id)
               .join(CatalogueEntry, CorrectionReport.entry_id == CatalogueEntry.id))
    if since is not None:
        reports = reports.where(CorrectionReport.filed_at >= since)
    for report, provider_id in session.execute(reports):
        rows[provider_id].corrections.add(report.filed_at, report.deadline, report.answered_at,
                                          report.status == correction.OPEN, now)


def _item_complete(item) -> bool:
    return bool(item.name.strip() and item.data_type) and (item.data_type not in LENGTH_RANGES or bool(item.length))

