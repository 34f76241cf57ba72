"""The ``govshare`` command line: a command imports its own module, not every command's."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import server

ROOT = Path(__file__).parents[1]


def _imported_after(argv: list[str]) -> set[str]:
    probe = ("import sys, server; server.parser(sys.argv[1:]); "
             "print(' '.join(m for m in sys.modules if m in server.COMMANDS.values() or m == 'spyne'))")
    out = subprocess.run([sys.executable, "-c", probe, *argv], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize(("argv", "module"), [
    (["sync", "run", "gaj-household", "--full"], "adapters.sync_cli"),
    (["--db-url", "sqlite:///x.db", "audit", "verify"], "security.audit_cli"),
    (["--db-url=sqlite:///x.db", "assess"], "security.sharing_cli"),
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
