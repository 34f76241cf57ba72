"""The client as a child process: its peak RSS and, for a follower, how far it has read.

Peak RSS is the kernel's high-water mark (``VmHWM`` in /proc/PID/status), read every 50 ms
while the process runs; it also holds a peak between two readings.  Not ``getrusage``: a
child's ``ru_maxrss`` starts from its parent's size at the fork before ``exec``, and this
benchmark process holds the prebuilt baseline batches.

``Follower`` reads the lines ``govshare-client changes --follow`` prints, one JSON object per
change that starts ``{"sequence": N, ...``, in a thread, and keeps only what the lag needs: how
many new changes it has printed (a sequence above every one before; a page seen again after a
restart would be a repeat) and the time of each count, without decoding the JSON.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

PREFIX = b'{"sequence": '


def high_water_kib(pid: int) -> int:
    """The peak RSS of a process so far, in KiB; 0 once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


class PeakRss(threading.Thread):
    """Polls a process's high-water mark until it exits."""

    def __init__(self, process: subprocess.Popen, every: float = 0.05):
        super().__init__(daemon=True)
        self.process, self.every, self.peak_kib = process, every, 0

    def run(self) -> None:
        while self.process.poll() is None:
            self.peak_kib = max(self.peak_kib, high_water_kib(self.process.pid))
            time.sleep(self.every)


class Follower(threading.Thread):
    """Counts the new changes a follower prints on its stdout."""

    def __init__(self, process: subprocess.Popen):
        super().__init__(daemon=True)
        self.process = process
        self.seen = 0  # changes printed with a sequence above every earlier one
        self.repeats = 0
        self.last_sequence = 0
        self.other_lines = 0

    def run(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if not line.startswith(PREFIX):
                self.other_lines += 1
                continue
            sequence = int(line[len(PREFIX):line.index(b",", len(PREFIX))])
            if sequence > self.last_sequence:
                self.last_sequence = sequence
                self.seen += 1
            else:
                self.repeats += 1
