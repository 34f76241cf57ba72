"""The sync scheduler (同步调度): runs each adapter when its ``schedule`` says, inside the server.

    govshare serve                              # starts it: one daemon thread
    govshare serve --no-scheduler               # or GOVSHARE_SCHEDULER=0: adapters run only by hand

When an adapter is due is :mod:`adapters.schedule`'s (from the start of its last run; cron in
China time; an overdue adapter catches up once).  A due adapter runs through the action
``sync.run`` as the platform itself (``Caller.platform("job")``): checked and recorded in the
audit log like a run from the command line, with channel ``job``.

Adapters run one at a time on the scheduler's thread, incrementally (delete detection needs
``govshare sync run NAME --full``).  One at a time keeps the load a sync puts on the centre
and on the departments' databases predictable beside the SOAP traffic the server is there
for; a run that meets another run of the same adapter (``AlreadyRunning``, another server
process or a hand-started run) is skipped and counted as an attempt, so the adapter is next
tried at its next due time.  A run that fails is logged and, as always, recorded in
``sync_run``; the others go on.  Adapter files are read again at every tick, so an edited
file takes effect without a restart; a file that does not load is reported once (file and
what is wrong) and skipped.  ``stop()`` ends a run in progress after its next committed
chunk (the run is recorded as failed and the next one resumes from its checkpoint).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from registry.clock import utcnow
from registry.errors import AlreadyRunning, GovshareError, Unavailable
from registry.passes import PLAN, Tracker
from registry.settings import Settings
from trust.actions import Context
from trust.auth import Caller

from . import sync
from .config import AdapterConfig
from .pipeline import Tally
from .schedule import load_folder, plan

log = logging.getLogger(__name__)

POLL = 30.0  # longest sleep between ticks: edited adapter files and runs by other processes are seen this soon


# -- the thread -----------------------------------------------------------------------------------

class ShutdownRequested(Unavailable):
    """Raised between two chunks of a run when the scheduler stops."""

    def __init__(self) -> None:
        super().__init__("the server is shutting down; the next run resumes from the checkpoint", code="ShuttingDown")


class Scheduler:
    """Runs due adapters of ``folder`` on a daemon thread until :meth:`stop`."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, folder: Path | str, *,
                 poll: float = POLL, clock: Callable[[], datetime] = utcnow) -> None:
        self.sessions = sessions
        self.settings = settings
        self.folder = Path(folder)
        self.poll = poll
        self.clock = clock
        # when this process last tried each adapter: a skipped or refused run leaves no sync_run row
        self.attempts: dict[str, datetime] = {}
        self._reported: dict[Path, str] = {}
        self.tracker = Tracker(sessions, PLAN, period=poll)  # the 后台作业 page's row of the scheduler
        self.ran: list[str] = []  # the adapters the last tick ran
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Scheduler:
        self._thread = threading.Thread(target=self._loop, name="govshare-scheduler", daemon=True)
        self._thread.start()
        log.info("sync scheduler started: adapter files in %s", self.folder)
        return self

    def stop(self, timeout: float = 30.0) -> bool:
        """Ask the thread to end (a run in progress stops after its next chunk); True if it has."""
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        stopped = not self._thread.is_alive()
        if not stopped:
            log.warning("sync scheduler: still finishing a chunk after %.0f s; leaving it to the process exit",
                        timeout)
        return stopped

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                with self.tracker.recording() as this:
                    wait = self.tick()
                    this.outcome = (f"运行了适配器 {', '.join(self.ran)}" if self.ran else "没有到期的适配器") + \
                        f"; {wait:.0f} 秒后再查"
            except Exception:  # noqa: BLE001 - the database may be away for a while; the thread must live on
                log.exception("sync scheduler: tick failed; trying again in %.0f s", self.poll)
                wait = self.poll
            self._stop.wait(wait)
        log.info("sync scheduler stopped")

    def tick(self) -> float:
        """Run every adapter that is due now, one after another; seconds until the next is due."""
        configs, now = self.configs(), self.clock()
        self.ran = []
        with self.sessions() as session:
            due = [p for p in plan(session, configs, now, self.attempts) if p.is_due(now)]
        for entry in sorted(due, key=lambda p: p.due):
            if self._stop.is_set():
                return 0.0
            self.run(entry.config)
        now = self.clock()
        with self.sessions() as session:
            upcoming = [p.due for p in plan(session, configs, now, self.attempts) if p.due is not None]
        if not upcoming:
            return self.poll
        return min(max((min(upcoming) - now).total_seconds(), 0.0), self.poll)

    def configs(self) -> list[AdapterConfig]:
        """The adapter files that load now; each problem reported once, until the file changes."""
        configs, errors = load_folder(self.folder)
        problems = {exc.path: str(exc) for exc in errors}
        for path, text in problems.items():
            if self._reported.get(path) != text:
                log.error("sync scheduler: adapter file skipped until it is fixed:\n%s", text)
        self._reported = problems
        return configs

    def run(self, config: AdapterConfig) -> None:
        """Run ``config`` once now, incrementally; log the outcome, never raise (but for stop)."""
        if self._overtaken(config):
            return
        self.attempts[config.name] = self.clock()
        self.ran.append(config.name)  # its outcome is its sync_run's (交换监控), not the tick's
        platform = Context(Caller.platform("job"), self.sessions, self.settings)
        try:
            run = sync.run(platform, adapter=config.name, folder=self.folder, progress=self._between_chunks)
        except AlreadyRunning as exc:
            log.info("sync scheduler: %s skipped: %s", config.name, exc)
        except ShutdownRequested:
            log.info("sync scheduler: %s stopped between chunks for shutdown", config.name)
        except (GovshareError, SQLAlchemyError, OSError) as exc:
            log.error("sync scheduler: %s failed: %s", config.name, exc)
        except Exception:  # noqa: BLE001 - one adapter's bug must not stop the others
            log.exception("sync scheduler: %s failed", config.name)
        else:
            log.info("sync scheduler: %s run #%d %s %s: read %d = loaded %d + unchanged %d + quarantined %d"
                     " + filtered %d", config.name, run.id, run.mode, run.status, run.read, run.loaded,
                     run.unchanged, run.quarantined, run.filtered)

    def _overtaken(self, config: AdapterConfig) -> bool:
        """Whether another process ran ``config`` since this tick planned it (no second run for one slot)."""
        now = self.clock()
        with self.sessions() as session:
            [current] = plan(session, [config], now, self.attempts)
        return not current.is_due(now)

    def _between_chunks(self, tally: Tally) -> None:
        if self._stop.is_set():
            raise ShutdownRequested()


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """``GOVSHARE_SCHEDULER=0`` (or false, no, off) turns the scheduler off."""
    value = (environ if environ is not None else os.environ).get("GOVSHARE_SCHEDULER", "1")
    return value.strip().lower() not in {"0", "false", "no", "off"}
