"""The benchmarks' child processes (servers, nodes, clients), ended the same way."""

from __future__ import annotations

import subprocess


def end(process: subprocess.Popen, grace: float = 30) -> int:
    """SIGTERM (a server finishes its requests, a node its round), then SIGKILL after ``grace``
    seconds; the exit code.  A background shell leaves SIGINT ignored, hence not SIGINT."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)
    return process.returncode
