"""In process, each background loop's last pass (``registry.passes``): a failure written at once and
counted in the database, a success that clears the count, successes written once a minute, and a
pass whose row cannot be written keeping its own outcome."""

from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy import select

from registry import passes
from registry.db import make_engine, session_factory
from registry.models import BackgroundPass
from registry.passes import FEDERATE, RETAIN, Tracker


def _row(sessions, task: str = FEDERATE) -> BackgroundPass:
    with sessions() as session:
        row = session.scalar(select(BackgroundPass).where(BackgroundPass.task == task))
        session.expunge_all()
        return row


def _fail(tracker: Tracker, error: Exception) -> None:
    with pytest.raises(type(error)), tracker.recording():
        raise error


def test_failures_are_written_at_once_and_counted_and_a_success_clears_them(sessions, monkeypatch):
    tracker = Tracker(sessions, FEDERATE, period=1)
    assert tracker.period == passes.QUIET  # a loop passing every second still writes a row a minute
    _fail(tracker, ConnectionRefusedError(111, "连接被拒绝"))
    first = _row(sessions)
    assert (first.status, first.failures, first.failing_since) == ("failed", 1, first.started)
    assert first.error == "ConnectionRefusedError: [Errno 111] 连接被拒绝" and first.succeeded is None
    time.sleep(1.1)  # (the rows' times are whole seconds)
    _fail(Tracker(sessions, FEDERATE, period=1), TimeoutError("上级平台 30 秒内未应答"))  # another process goes on
    second = _row(sessions)
    assert (second.status, second.failures) == ("failed", 2)
    assert second.failing_since == first.started and second.started > first.started  # since the first of them
    assert second.error == "TimeoutError: 上级平台 30 秒内未应答"

    with tracker.recording() as this:
        this.outcome = "对账: 比对 3 条, 发送 1 条"
    ok = _row(sessions)
    assert (ok.status, ok.failures, ok.failing_since) == ("succeeded", 0, None)
    assert ok.outcome == "对账: 比对 3 条, 发送 1 条"
    assert ok.succeeded == ok.ended and ok.error == second.error  # the last failure's error is kept for reading

    with tracker.recording() as this:  # a success right after a success written: not written
        this.outcome = "推送: 没有变化"
    assert _row(sessions).outcome == "对账: 比对 3 条, 发送 1 条"
    later = time.monotonic() + passes.QUIET
    monkeypatch.setattr(passes.time, "monotonic", lambda: later)  # a minute on
    with tracker.recording() as this:
        this.outcome = "推送: 没有变化"
    latest = _row(sessions)
    assert latest.outcome == "推送: 没有变化"

    _fail(tracker, ConnectionRefusedError(111, "连接被拒绝"))  # a new streak starts at one; the last success is kept
    again = _row(sessions)
    assert (again.failures, again.failing_since, again.succeeded) == (1, again.started, latest.succeeded)


def test_a_pass_whose_row_cannot_be_written_keeps_its_own_outcome(tmp_path, caplog):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables: every write of a row fails
    tracker = Tracker(session_factory(engine), RETAIN, period=86_400)
    with caplog.at_level(logging.WARNING, logger="registry.passes"):
        with tracker.recording() as this:
            this.outcome = "删除了 0 条超过 90 天的运行监测记录"
        with pytest.raises(ValueError, match="the pass's own"):  # the work's error, not the bookkeeping's
            with tracker.recording():
                raise ValueError("the pass's own")
    warned = [r.getMessage() for r in caplog.records if r.name == "registry.passes"]
    assert warned == ["background work govshare.retention: its pass could not be recorded (OperationalError); "
                      "the work goes on"]  # once, not at every pass
    engine.dispose()
