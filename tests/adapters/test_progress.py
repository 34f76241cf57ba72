"""Progress of long command-line work: records read, rate and ETA on stderr — one line redrawn
in place on a terminal, plain lines otherwise — and the source row counts the ETA needs."""

from __future__ import annotations

import io
import os
import re
import select
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from adapters.config import load_adapter
from adapters.progress import ProgressLine
from adapters.sources import dialect, open_source
from tests.adapters.test_pipeline import household_resource  # noqa: F401 - a fixture
from tests.adapters.test_scheduler import small_registry, write_adapter  # noqa: F401 - a fixture

ROOT = Path(__file__).parents[2]
SUMMARY = re.compile(r"#\d+ gaj-small (full|incremental) succeeded  read (\d+) = loaded (\d+) \+ unchanged (\d+) "
                     r"\+ quarantined (\d+) \+ filtered (\d+)")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# -- the progress line ----------------------------------------------------------------------------

def test_off_a_terminal_progress_is_plain_lines_at_most_every_few_seconds():
    out, clock = io.StringIO(), Clock()
    line = ProgressLine("gaj", total=10_000, stream=out, tty=False, every=10, clock=clock)
    for done in (1000, 2000, 3000):
        clock.now += 1
        line.update(done, "loaded 900, quarantined 100")
    clock.now += 10
    line.update(9000)
    clock.now += 1
    line.finish()
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()
    assert out.getvalue().splitlines() == [
        "gaj: read 1,000 of 10,000 (10%)  1,000 records/s  ETA 0:00:09  loaded 900, quarantined 100",
        "gaj: read 9,000 of 10,000 (90%)  692 records/s  ETA 0:00:01",
        "gaj: read 9,000 of 10,000 (90%)  643 records/s  done in 0:00:14",
    ]


def test_without_a_total_there_is_no_eta():
    out, clock = io.StringIO(), Clock()
    line = ProgressLine("csv-source", stream=out, tty=False, clock=clock)
    clock.now += 2
    line.update(500)
    assert out.getvalue() == "csv-source: read 500  250 records/s\n"


def test_on_a_terminal_one_line_is_redrawn_in_place():
    out, clock = io.StringIO(), Clock()
    line = ProgressLine("gaj", total=100, stream=out, tty=True, clock=clock)
    clock.now += 1
    line.update(50, "loaded 48, quarantined 2")
    clock.now += 1
    line.update(100)
    line.finish()
    frames = out.getvalue().split("\r")
    assert frames[0] == ""
    assert frames[1] == "gaj: read 50 of 100 (50%)  50 records/s  ETA 0:00:01  loaded 48, quarantined 2"
    # a shorter line blanks what the longer one left on the screen
    assert frames[2].rstrip(" ") == "gaj: read 100 of 100 (100%)  50 records/s  ETA 0:00:00"
    assert len(frames[2]) == len(frames[1])
    assert frames[3] == "gaj: read 100 of 100 (100%)  50 records/s  done in 0:00:02\n"  # and the line ends


# -- counting source rows -------------------------------------------------------------------------

@pytest.fixture
def config(small_registry, tmp_path):  # noqa: F811 - the imported fixture
    return load_adapter(write_adapter(tmp_path, "gaj-small", "1h", small_registry.url))


def test_a_database_source_counts_the_rows_it_would_read(config, small_registry):  # noqa: F811
    source = open_source(config)
    try:
        assert source.count() == len(list(source.rows())) == small_registry.rows
        stamps = sorted(str(row["GXSJ"]) for row in source.rows())  # SQLite hands back text for SELECT *
        since = datetime.fromisoformat(stamps[len(stamps) // 2])
        assert source.count(since) == len(list(source.rows(since=since)))
        assert 0 < source.count(since) < small_registry.rows
    finally:
        source.close()


@pytest.mark.parametrize("name", ["oracle", "mysql", "postgresql", "mssql", "sqlite"])
def test_the_count_uses_the_same_where_as_the_query(config, name):
    source = open_source(config)
    counted = str(source.count_query(datetime(2000, 1, 1)).compile(dialect=dialect(name)))
    assert counted.startswith("SELECT count(*)")
    assert "ORDER BY" not in counted and "GXSJ" in counted and ">=" in counted


def test_a_file_source_does_not_count(tmp_path):
    path = tmp_path / "rkxx.toml"
    (tmp_path / "rkxx.csv").write_text("GMSFHM,XM\n1,张三\n", encoding="utf-8")
    text = (ROOT / "adapters" / "departments" / "gaj-household.toml").read_text(encoding="utf-8")
    text = re.sub(r'^url = .*\ntable = .*$', 'csv = "rkxx.csv"', text, count=1, flags=re.M)
    path.write_text(text, encoding="utf-8")
    assert open_source(load_adapter(path)).count() is None


# -- govshare sync run ----------------------------------------------------------------------------

RUN = textwrap.dedent("""
    import sys
    from adapters import pipeline
    pipeline.CHUNK = int(sys.argv[1])  # several chunks, so several updates, from a small source
    from server import main
    sys.exit(main(sys.argv[2:]))
""")


@pytest.fixture
def cli_env(settings, small_registry, tmp_path) -> dict[str, str]:  # noqa: F811
    folder = tmp_path / "adapters"
    folder.mkdir()
    write_adapter(folder, "gaj-small", "1h", small_registry.url)
    return {**os.environ, "GOVSHARE_DB_URL": settings.db_url, "GOVSHARE_VAR": str(settings.var_dir),
            "GOVSHARE_ADAPTERS": str(folder)}


def _sync(env: dict[str, str], *args: str, chunk: int = 5000) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", RUN, str(chunk), "sync", "run", "gaj-small", *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


@pytest.mark.usefixtures("household_resource")
def test_off_a_terminal_a_run_prints_plain_progress_lines_and_its_summary(cli_env):
    run = _sync(cli_env, "--full", chunk=50)
    assert run.returncode == 0, run.stderr
    assert "\r" not in run.stderr and "\x1b" not in run.stderr
    progress = [line for line in run.stderr.splitlines() if line.startswith("gaj-small: read ")]
    assert progress, run.stderr
    assert re.fullmatch(r"gaj-small: read \d+ of 300 \(\d+%\)  [\d,]+ records/s  ETA \d+:\d\d:\d\d  "
                        r"loaded \d+, quarantined \d+", progress[0])
    [summary] = run.stdout.splitlines()
    read = int(SUMMARY.fullmatch(summary)[2])
    assert re.fullmatch(rf"gaj-small: read {read} of 300 \(100%\)  [\d,]+ records/s  done in \d+:\d\d:\d\d  "
                        r"loaded \d+, quarantined \d+", progress[-1])


@pytest.mark.usefixtures("household_resource")
def test_an_incremental_run_counts_only_the_rows_it_reads(cli_env):
    assert _sync(cli_env).returncode == 0
    again = _sync(cli_env)
    assert again.returncode == 0, again.stderr
    read = int(SUMMARY.fullmatch(again.stdout.strip())[2])
    assert 0 < read < 300  # the overlap window before the watermark
    assert f"gaj-small: read {read} of {read} (100%)" in again.stderr


@pytest.mark.usefixtures("household_resource")
def test_no_progress_leaves_stderr_quiet(cli_env):
    run = _sync(cli_env, "--no-progress")
    assert run.returncode == 0 and SUMMARY.fullmatch(run.stdout.strip())
    assert "gaj-small: read" not in run.stderr


@pytest.mark.usefixtures("household_resource")
def test_on_a_terminal_a_run_redraws_one_line_with_rate_and_eta(cli_env):
    master, slave = os.openpty()
    try:
        process = subprocess.Popen([sys.executable, "-c", RUN, "40", "sync", "run", "gaj-small", "--full"],
                                   stdout=subprocess.PIPE, stderr=slave, env=cli_env, cwd=ROOT)
    finally:
        os.close(slave)
    screen = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            assert ready, "no output for 60 s"
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            screen += data
        stdout, _ = process.communicate(timeout=60)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, screen.decode(errors="replace")
    text = screen.decode()
    frames = [f.strip() for f in text.replace("\r\n", "\n").split("\r") if f.strip()]
    drawn = [f for f in frames if f.startswith("gaj-small: read ")]
    assert len(drawn) >= 3, text
    assert all("\n" not in f for f in drawn[:-1])  # redrawn in place, not new lines
    assert all(re.search(r"[\d,]+ records/s", f) for f in drawn)
    assert any(re.search(r"of 300 \(\d+%\)  [\d,]+ records/s  ETA \d+:\d\d:\d\d", f) for f in drawn)
    assert "done in" in drawn[-1]
    assert SUMMARY.fullmatch(stdout.decode().strip())
