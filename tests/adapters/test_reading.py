"""Runs that read in a process of their own (adapters.reading.ReadingProcess): when they do,
and what becomes of a run when either process dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters import pipeline
from adapters.config import load_adapter
from adapters.pipeline import consistency, run_adapter
from adapters.reading import ReadingFailed, ReadingProcess
from registry.models import SyncCheckpoint, SyncRun
from tests.adapters.conftest import wait_for_lock_release
from tests.adapters.test_pipeline import ADAPTER, household_resource  # noqa: F401 - a fixture

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.usefixtures("household_resource", "gaj_env")


class _Recorded(ReadingProcess):
    started: list[ReadingProcess] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _Recorded.started.append(self)


@pytest.fixture
def recorded(monkeypatch) -> list[ReadingProcess]:
    _Recorded.started = []
    monkeypatch.setattr(pipeline, "ReadingProcess", _Recorded)
    return _Recorded.started


@pytest.mark.parametrize(("threshold", "apart"), [(1000, True), (10**9, False), (None, False)])
def test_a_source_with_enough_rows_is_read_in_a_process_of_its_own(sessions, settings, gaj_env, monkeypatch,
                                                                    recorded, threshold, apart):
    monkeypatch.setattr(pipeline, "READ_APART_FROM", threshold)  # the demo source has 4,000 rows
    run = run_adapter(sessions, settings, load_adapter(ADAPTER), full=True)
    assert run.status == "succeeded", run.message
    assert bool(recorded) is apart
    assert run.read == gaj_env.rows == run.loaded + run.unchanged + run.quarantined + run.filtered


def test_a_reading_process_that_dies_fails_the_run_clearly_and_the_next_run_resumes(sessions, settings,
                                                                                   monkeypatch):
    class Dying(ReadingProcess):
        def chunks(self):
            for number, chunk in enumerate(super().chunks()):
                if number == 1:
                    os.kill(self._process.pid, signal.SIGKILL)
                yield chunk

    monkeypatch.setattr(pipeline, "CHUNK", 500)
    monkeypatch.setattr(pipeline, "READ_APART_FROM", 0)
    monkeypatch.setattr(pipeline, "ReadingProcess", Dying)
    config = load_adapter(ADAPTER)
    with pytest.raises(ReadingFailed, match=r"the reading process ended unexpectedly \(exit code -9\)"):
        run_adapter(sessions, settings, config)
    with sessions() as session:
        failed = session.scalar(select(SyncRun))
        checkpoint = session.get(SyncCheckpoint, config.name)
    assert failed.status == "failed" and "ReadingFailed" in failed.message
    assert checkpoint is not None and failed.read >= 2 * 500  # the chunks read before it died were stored

    monkeypatch.setattr(pipeline, "ReadingProcess", ReadingProcess)
    resumed = run_adapter(sessions, settings, config)
    assert resumed.status == "succeeded", resumed.message
    assert resumed.message.startswith(f"resumed from run #{failed.id}")
    assert consistency(sessions, settings, config).consistent


def _plan(chunk: int = 1000):
    from adapters.reading import Plan

    return Plan(load_adapter(ADAPTER), "full", None, 1, "91330100MA2ABCDE1X", "GAJ-HJ", chunk, 64 << 20, 1, 0.0)


def _outcome(chunks) -> list[tuple]:
    """What a run stores of each chunk (not the batch's ``created``, a clock reading)."""
    return [(c.number, c.read, c.filtered, c.quarantined, len(c.problems), c.position,
             c.batch.header.record_count, c.batch.header.digest, c.batch.accepted, c.batch.quarantined)
            for c in chunks]


def test_a_chunk_handed_on_unsealed_seals_into_the_batch_the_reader_would_have_made():
    from adapters.reading import Reader, seal

    plan = _plan()
    sealed = list(Reader(plan).chunks())
    unsealed = list(Reader(plan, unsealed=lambda: True).chunks())
    assert len(sealed) == 4 and all(c.batch is None and len(c.records) > 900 for c in unsealed)
    assert _outcome([seal(plan, c) for c in unsealed]) == _outcome(sealed)
    assert all(c.records is None for c in unsealed)  # let go of once sealed


def test_a_run_that_waits_for_its_reading_process_seals_chunks_itself_to_the_same_outcome():
    from adapters.reading import Reader

    plan = _plan(500)
    apart = ReadingProcess(plan)
    try:
        received = list(apart.chunks())  # storing nothing, the run waits for every chunk
        assert apart.gone(["not-in-the-source", received[0].batch.accepted[0][0]]) == ["not-in-the-source"]
    finally:
        apart.close()
    assert 1 <= apart.sealed_here <= len(received) == 8
    assert _outcome(received) == _outcome(Reader(plan).chunks())


def test_a_reading_process_whose_run_is_slow_seals_every_chunk_itself():
    plan = _plan(1000)
    apart = ReadingProcess(plan)
    try:
        assert apart._in.poll(60)  # a chunk is ready before the run asks for one
        received = []
        for chunk in apart.chunks():
            received.append(chunk)
            time.sleep(0.8)  # storing: the reader, a chunk in a tenth of that, is always ahead
    finally:
        apart.close()
    assert len(received) == 4 and apart.sealed_here == 0


KILLABLE_RUN = textwrap.dedent("""
    import sys, time
    from adapters import pipeline
    pipeline.CHUNK, pipeline.READ_APART_FROM = 200, 0
    store = pipeline._store
    def slow(*args, **kwargs):  # time to be killed between chunks
        time.sleep(0.05)
        return store(*args, **kwargs)
    pipeline._store = slow
    from server import main
    sys.exit(main(["sync", "run", "gaj-household", "--no-progress"]))
""")


def _descendants(pid: int) -> set[int]:
    found, pending = set(), [pid]
    while pending:
        for task in Path(f"/proc/{pending.pop()}/task").glob("*"):
            try:
                children = {int(c) for c in (task / "children").read_text().split()}
            except OSError:
                continue
            found |= children
            pending.extend(children)
    return found


def test_killing_a_run_leaves_no_reading_process_behind_and_the_next_run_resumes(sessions, settings, gaj_env):
    env = {"GOVSHARE_DB_URL": settings.db_url, "GOVSHARE_VAR": str(settings.var_dir),
           "GOVSHARE_GAJ_URL": gaj_env.url, "PATH": "/usr/bin:/bin"}
    victim = subprocess.Popen([sys.executable, "-c", KILLABLE_RUN], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with sessions() as session:
            checkpoint = session.get(SyncCheckpoint, "gaj-household")
            if checkpoint is not None and checkpoint.chunk >= 2:
                break
        time.sleep(0.02)
    readers = _descendants(victim.pid)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert readers, "the run had no reading process"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in readers):
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in readers), "a reading process outlived its run"
    wait_for_lock_release(sessions, settings, "gaj-household")

    config = load_adapter(ADAPTER)
    resumed = run_adapter(sessions, settings, config)
    assert resumed.status == "succeeded", resumed.message
    assert resumed.message.startswith("resumed from run #1")
    assert consistency(sessions, settings, config).consistent


# -- the run's key set -------------------------------------------------------------------------------

def test_fingerprints_hold_flags_per_key_and_forget_a_key_with_none_left():
    from adapters.reading import Fingerprints, fingerprint

    marks = Fingerprints()
    keys = [fingerprint(f"33010219900102{n:04d}") for n in range(5000)]
    for mark in keys:
        assert marks.set(mark, 1) == 1
    assert marks.set(keys[0], 3) == 2 and marks.set(keys[0], 3) == 0  # only the flag it lacked is new
    assert marks.flags(keys[0]) == 3 and marks.flags(keys[1]) == 1 and len(marks) == 5000
    assert marks.flags(fingerprint("not read")) == 0
    marks.clear(keys[0], 1)
    assert marks.flags(keys[0]) == 2
    marks.clear(keys[0], 2)
    assert marks.flags(keys[0]) == 0 and len(marks) == 4999
    assert all(marks.flags(mark) == 1 for mark in keys[1:])


def test_fingerprints_never_match_across_two_entries():
    from adapters.reading import Fingerprints

    marks = Fingerprints()
    marks.set(b"\0\x01ABCDEFGHIJ", 1)
    marks.set(b"\0\x02KLMNOPQRST", 1)
    # one bucket holds 01 ABCDEFGHIJ 01 02 KLMNOPQRST 01: this one is in its bytes, but at no entry
    crossing = b"\0\x01\x02KLMNOPQRS"
    assert marks.flags(crossing) == 0
    assert marks.set(crossing, 2) == 2 and len(marks) == 3
    assert marks.flags(b"\0\x02KLMNOPQRST") == 1 and marks.flags(crossing) == 2


def test_keys_roll_back_what_was_added_since_the_last_chunk():
    from adapters.reading import CORE, SOURCE, Keys, fingerprint

    keys = Keys()
    first, second = fingerprint("a"), fingerprint("b")
    keys.add(first, SOURCE)
    keys.commit()
    keys.add(first, CORE)
    keys.add(second, SOURCE | CORE)
    keys.roll_back()
    assert keys.seen(first) and not keys.present(first)
    assert not keys.seen(second) and not keys.present(second)
