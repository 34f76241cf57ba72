"""Memory of the server process (Linux /proc), and what one DOM of a batch would take.

The kernel keeps each process's peak resident set size (``VmHWM`` in /proc/PID/status);
writing ``5`` to /proc/PID/clear_refs resets it to the current size, so the peak of one
request can be read without restarting the server.

    python -m bench.exchange.memory BATCH.xml   ->  prints the peak RSS (KiB) of a process
                                                   that parses BATCH.xml into one lxml tree
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def status_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak) of a process, in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


def reset_peak(pid: int) -> bool:
    """Reset the process's peak RSS to its current RSS; False where the kernel does not allow it."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def dom_peak_kib(document: Path) -> tuple[int, int]:
    """Peak RSS of a fresh Python process with lxml loaded, before and after it parses
    ``document`` whole (``etree.parse``), in KiB."""
    run = subprocess.run([sys.executable, "-m", "bench.exchange.memory", str(document)], cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=300)
    before, after = run.stdout.split()
    return int(before), int(after)


def main(argv: list[str]) -> int:
    from lxml import etree

    before = status_kib(os.getpid())["VmHWM"]
    tree = etree.parse(argv[0])
    after = status_kib(os.getpid())["VmHWM"]
    assert tree.getroot() is not None
    print(before, after)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
