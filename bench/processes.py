"""The benchmarks' child processes (servers, nodes, clients), ended the same way; and the production
server as an operator starts it (docs/deploy.md), which the scale-out benchmark and the deployment test
both run::

    GUNICORN_BIND=127.0.0.1:<free port> GUNICORN_WORKERS=N GUNICORN_THREADS=T \\
        gunicorn -c docs/deploy/gunicorn.conf.py server:application
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = Path(sys.executable).parent / "gunicorn"
DEPLOY = ROOT / "docs" / "deploy"


def end(process: subprocess.Popen, grace: float = 30, *, group: bool = False) -> int:
    """SIGTERM (a server finishes its requests, a node its round), then SIGKILL after ``grace``
    seconds; the exit code.  A background shell leaves SIGINT ignored, hence not SIGINT.
    ``group``: the signals go to the process group ``process`` leads (a server and its workers)."""
    def send(signum: int) -> None:
        if group:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)

    if process.poll() is None:
        send(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait(timeout=30)
    return process.returncode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    """The pids of the processes whose parent is ``pid`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


class Gunicorn:
    """``gunicorn -c docs/deploy/gunicorn.conf.py server:application`` with ``workers`` processes of
    ``threads`` threads on a free local port, in its own process group (its workers end with it);
    its output in ``log``."""

    def __init__(self, env: dict[str, str], log: Path, *, workers: int, threads: int):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.workers = workers
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [str(GUNICORN), "-c", str(DEPLOY / "gunicorn.conf.py"), "server:application"], cwd=ROOT,
                env={**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}", "GUNICORN_WORKERS": str(workers),
                     "GUNICORN_THREADS": str(threads)},
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def ready(self) -> bool:
        """``/ready`` answers 200 (database, migrations and CA checked)."""
        import requests

        try:
            return requests.get(f"{self.url}/ready", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Until :meth:`ready` and every worker process is up; RuntimeError with the log's end if not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn ended ({self.process.returncode}): {self.log.read_text()[-2000:]}")
            if self.ready() and len(children(self.process.pid)) >= self.workers:
                return
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn not ready in {timeout:.0f} s: {self.log.read_text()[-2000:]}")

    def pids(self) -> list[int]:
        """The master's and its workers'."""
        return [self.process.pid, *children(self.process.pid)]

    def kill(self) -> None:
        """SIGKILL to the master and its workers at once: the machine dies."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """An orderly stop (in-flight requests answered), SIGKILL after a minute."""
        end(self.process, 60, group=True)
