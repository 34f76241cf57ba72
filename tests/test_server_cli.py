"""The ``govshare`` command line: a command imports its own module, not every command's."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import server
from tests.conftest import free_port

ROOT = Path(__file__).parents[1]


def _imported_after(argv: list[str]) -> set[str]:
    probe = ("import sys, server; server.parser(sys.argv[1:]); "
             "print(' '.join(m for m in sys.modules if m in server.COMMANDS.values() or m == 'spyne'))")
    out = subprocess.run([sys.executable, "-c", probe, *argv], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize(("argv", "module"), [
    (["sync", "run", "gaj-household", "--full"], "adapters.sync_cli"),
    (["--db-url", "sqlite:///x.db", "audit", "verify"], "trust.audit_cli"),
    (["--db-url=sqlite:///x.db", "assess"], "governance.cli"),
])
def test_a_command_imports_its_module_alone(argv, module):
    assert _imported_after(argv) == {module}


@pytest.mark.parametrize("argv", [["--help"], ["no-such-command"], ["--db-url"], []])
def test_help_and_a_wrong_command_know_every_command(argv):
    assert _imported_after(argv) == set(server.COMMANDS.values())


@pytest.mark.parametrize("command", sorted(server.COMMANDS))
def test_each_command_is_registered_by_the_module_listed_for_it(command):
    choices = re.search(r"\{([a-z,]+)\}", server.parser([command]).format_usage()).group(1).split(",")
    assert command in choices


def test_a_missing_option_value_is_reported_once_by_the_full_parser(capsys):
    with pytest.raises(SystemExit):
        server.main(["--db-url"])
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and err.startswith("usage: govshare")


# ------------------------------------------------------------ a database the command cannot use


def _govshare(tmp_path: Path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "GOVSHARE_VAR": str(tmp_path), "GOVSHARE_SCHEDULER": "0", **env}
    environ.pop("GOVSHARE_DB_URL", None)
    return subprocess.run([sys.executable, "-m", "server", *argv], cwd=ROOT, env=environ, capture_output=True,
                          text=True, timeout=120)


def _one_line(run: subprocess.CompletedProcess) -> str:
    """The one line a command that cannot use its database prints (and nothing else)."""
    assert run.returncode != 0 and "Traceback" not in run.stderr, run.stderr
    [line] = run.stderr.splitlines()
    assert line.startswith("govshare: ") and "GOVSHARE_DB_URL" in line
    return line


def test_a_database_url_of_no_known_kind_is_one_line_and_a_failing_exit(tmp_path):
    line = _one_line(_govshare(tmp_path, "--db-url", "bogus://x", "db", "upgrade"))
    assert "'bogus'" in line and "postgresql+psycopg://" in line


@pytest.mark.parametrize(("variable", "value", "said"), [
    ("GOVSHARE_PORT", "eighty", "GOVSHARE_PORT='eighty' is not a whole number"),
    ("GOVSHARE_PROVIDER_TIMEOUT", "5s", "GOVSHARE_PROVIDER_TIMEOUT='5s' is not a number"),
    ("GOVSHARE_WSS", "maybe", "set it to one of require, optional, off"),
])
def test_a_setting_that_cannot_be_used_is_one_line_and_a_usage_exit(tmp_path, variable, value, said):
    run = _govshare(tmp_path, "db", "upgrade", **{variable: value})
    assert run.returncode == 2 and run.stderr.splitlines() == [run.stderr.strip()] and said in run.stderr


def test_an_unknown_postgresql_database_is_one_line_that_says_how_to_create_it(tmp_path, pg_database):
    url = pg_database.rsplit("/", 1)[0] + "/nosuchdb"
    line = _one_line(_govshare(tmp_path, "--db-url", url, "catalogue", "list", "--user", "shen.li"))
    assert "has no database 'nosuchdb'" in line and "createdb" in line


def test_serve_against_a_database_that_refuses_is_one_line_and_a_failing_exit(tmp_path):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/govshare"
    line = _one_line(_govshare(tmp_path, "--db-url", url, "serve", "--no-scheduler", "--port", str(free_port())))
    assert "nothing accepts connections" in line


def test_serve_against_a_database_that_never_answers_gives_up_after_the_connect_timeout(tmp_path, silent_database):
    started = time.monotonic()
    run = _govshare(tmp_path, "--db-url", silent_database, "serve", "--no-scheduler", "--port", str(free_port()),
                    GOVSHARE_DB_CONNECT_TIMEOUT="2")
    assert "did not accept a connection within 2 s" in _one_line(run)
    assert time.monotonic() - started < 2 + 15  # and the interpreter's start


def test_a_sqlite_database_whose_folder_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    line = _one_line(_govshare(tmp_path, "--db-url", f"sqlite:///{tmp_path / 'file' / 'govshare.db'}", "db", "upgrade"))
    assert "cannot open the SQLite database" in line
