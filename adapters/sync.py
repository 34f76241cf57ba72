"""Adapter runs (同步) as actions: run one now, each adapter's schedule and last run, one
adapter's runs, a consistency check (一致性核查).

    sync.run      run(ctx, adapter="gaj-household", full=False)     -> Run(id=3, status="succeeded", read=4000, ...)
    sync.status   status(ctx)                                       -> Status(adapters=[Scheduled], problems)
    sync.history  history(ctx, adapter="gaj-household", limit=20)  -> [Run, ...] (newest first)
    sync.check    check(ctx, adapter="gaj-household")               -> pipeline.Report (same, differing, ...)

An adapter is named by its file's ``name``; its file is read from ``folder`` (default
``$GOVSHARE_ADAPTERS``, else ``adapters/departments``) at every call, so an edited file takes
effect at once.  An unknown adapter is ``NotFound`` (``UnknownAdapter``) naming the ones there
are.  The command line (``govshare sync``) calls these as the platform's operator or an
account, the scheduler (:mod:`adapters.scheduler`) as the platform itself (channel ``job``),
``govshare demo seed`` as the operator; each call leaves one audit entry, a run's with the
records it read and its outcome.  The run itself is :mod:`adapters.pipeline`'s.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from registry.clock import utcnow
from registry.errors import NotFound, SourceError, SyncError
from registry.models import Department, SyncRun
from trust.actions import Context, action
from trust.auth import refuse_suspended

from .config import AdapterConfig
from .pipeline import Progress, Report, _resolve, consistency, run_adapter
from .reading import ReadingFailed
from .schedule import Plan, load_folder, plan

DEFAULT_FOLDER = Path(__file__).resolve().parent / "departments"


def adapters_folder() -> Path:
    """Where the adapter files are: ``$GOVSHARE_ADAPTERS``, else ``adapters/departments``."""
    return Path(os.environ.get("GOVSHARE_ADAPTERS", str(DEFAULT_FOLDER)))


@dataclass(frozen=True)
class Run:
    """One run of an adapter (同步任务) and its reconciliation (对账), as ``sync_run`` keeps it."""

    id: int
    adapter: str
    mode: str  # full | incremental | rowhash
    status: str  # running | succeeded | failed
    started: datetime
    finished: datetime | None
    read: int
    loaded: int
    unchanged: int
    quarantined: int
    filtered: int
    deleted: int
    message: str

    @property
    def balanced(self) -> bool:
        """read = loaded + unchanged + quarantined + filtered."""
        return self.read == self.loaded + self.unchanged + self.quarantined + self.filtered

    @classmethod
    def of(cls, row: SyncRun) -> Run:
        return cls(row.id, row.adapter, row.mode, row.status, row.started, row.finished, row.read, row.loaded,
                   row.unchanged, row.quarantined, row.filtered, row.deleted, row.message or "")

    def summary(self) -> str:
        """The run on one line, as ``govshare sync`` prints it."""
        return (f"#{self.id} {self.adapter} {self.mode} {self.status}  read {self.read} = loaded {self.loaded} + "
                f"unchanged {self.unchanged} + quarantined {self.quarantined} + filtered {self.filtered}"
                + (f", deleted {self.deleted}" if self.deleted else "")
                + (f"  ({self.message})" if self.message else ""))


@dataclass(frozen=True)
class Scheduled:
    """One adapter file: its place in the schedule and its latest run (None: never run)."""

    plan: Plan
    last: Run | None


@dataclass(frozen=True)
class Status:
    """Every adapter file that loads, by name, and the problems of those that do not."""

    adapters: list[Scheduled]
    problems: list[str]


def adapter_config(name: str, folder: Path | str | None = None) -> AdapterConfig:
    """The adapter called ``name`` in ``folder`` (another file that does not load is no matter);
    the problems of ``<name>.toml`` when it does not load; else NotFound naming the ones there are."""
    folder = Path(folder) if folder is not None else adapters_folder()
    configs, errors = load_folder(folder)
    found = {c.name: c for c in configs}
    if name in found:
        return found[name]
    broken = [error for error in errors if error.path.stem == name]
    if broken:
        raise broken[0]
    raise unknown_adapter(name, folder, found)


def unknown_adapter(name: str, folder: Path, names) -> NotFound:
    there = ", ".join(sorted(names)) or "none"
    return NotFound(f"no adapter {name!r} in {folder}; there are: {there}", code="UnknownAdapter",
                    zh=f"没有名为 {name} 的适配器。现有适配器: {there}。", field="adapter")


@action("sync.run")
def run(ctx: Context, *, adapter: str, full: bool = False, folder: Path | str | None = None,
        progress: Progress | None = None) -> Run:
    """Run ``adapter`` once now (incrementally unless ``full``); ``progress`` is told the committed
    tally after every chunk.  A run that cannot complete is recorded as failed and raised
    (``SyncError``, ``SourceError``; ``AlreadyRunning`` while another run holds the adapter); a suspended
    department's adapter does not run (``DepartmentSuspended``), not even on schedule."""
    config = adapter_config(adapter, folder)
    refuse_suspended(ctx.session.scalar(select(Department).where(Department.credit_code == config.department)))
    try:
        row = run_adapter(ctx.sessions, ctx.settings, config, full=full, progress=progress)
    except (SyncError, SourceError) as exc:
        raise type(exc)(f"{config.name}: {exc.message}") from exc
    except (ReadingFailed, OSError) as exc:
        raise SyncError(f"{config.name}: {exc}") from exc
    done = Run.of(row)
    _, entry = _resolve(ctx.session, config)
    ctx.note(resource_code=entry.resource_code, record_count=done.read, detail=done.summary())
    return done


@action("sync.status")
def status(ctx: Context, *, folder: Path | str | None = None) -> Status:
    """Every adapter file: its schedule and next due time (as the server's scheduler sees it), its last run."""
    configs, errors = load_folder(Path(folder) if folder is not None else adapters_folder())
    now = utcnow()
    adapters = []
    for entry in sorted(plan(ctx.session, configs, now), key=lambda p: p.config.name):
        last = ctx.session.scalar(select(SyncRun).where(SyncRun.adapter == entry.config.name)
                                  .order_by(SyncRun.id.desc()).limit(1))
        adapters.append(Scheduled(entry, Run.of(last) if last is not None else None))
    ctx.note(record_count=len(adapters))
    return Status(adapters, [str(error) for error in errors])


@action("sync.history")
def history(ctx: Context, *, adapter: str, limit: int = 20, folder: Path | str | None = None) -> list[Run]:
    """The runs of ``adapter``, newest first: of a file there is, or of one removed that has runs."""
    runs = [Run.of(row) for row in ctx.session.scalars(select(SyncRun).where(SyncRun.adapter == adapter)
                                                        .order_by(SyncRun.id.desc()).limit(max(limit, 1)))]
    if not runs:
        _known(ctx.session, adapter, folder)
    ctx.note(record_count=len(runs))
    return runs


def _known(session: Session, adapter: str, folder: Path | str | None) -> None:
    """Refuse an adapter name that neither an adapter file nor the database knows."""
    folder = Path(folder) if folder is not None else adapters_folder()
    configs, _errors = load_folder(folder)
    names = {c.name for c in configs}
    if adapter not in names and not session.scalar(select(exists().where(SyncRun.adapter == adapter))):
        raise unknown_adapter(adapter, folder, names)


@action("sync.check")
def check(ctx: Context, *, adapter: str, folder: Path | str | None = None) -> Report:
    """Compare the adapter's source, mapped and validated as a run would, with the core now (see
    :func:`adapters.pipeline.consistency`)."""
    config = adapter_config(adapter, folder)
    try:
        report = consistency(ctx.sessions, ctx.settings, config)
    except (SyncError, SourceError) as exc:
        raise type(exc)(f"{config.name}: {exc.message}") from exc
    except OSError as exc:
        raise SyncError(f"{config.name}: {exc}") from exc
    ctx.note(record_count=report.same + report.differing + report.source_only,
             detail=f"{'consistent' if report.consistent else 'inconsistent'}: same {report.same}, differing "
                    f"{report.differing}, source only {report.source_only}, core only {report.core_only}")
    return report
