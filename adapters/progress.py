"""Progress lines for long command-line work: records done, rate and ETA, on stderr.

On a terminal one line is redrawn in place (``\\r``) after every update::

    gaj-household: read 2,500 of 4,000 (62%)  1,234 records/s  ETA 0:00:01  loaded 2,300, quarantined 150

When stderr is not a terminal (a log file, a pipe, cron's mail) the same text is written as
plain lines without control characters: the first update, then at most one every ``every``
seconds, and the last one::

    gaj-household: read 5,000 of 1,000,000 (0%)  9,812 records/s  ETA 0:01:41
    gaj-household: read 100,000 of 1,000,000 (10%)  9,904 records/s  ETA 0:01:30
    gaj-household: read 1,000,000 of 1,000,000 (100%)  9,950 records/s  done in 0:01:40

Without a total (a CSV or XLSX source cannot count its rows without reading them) the line
has no percentage and no ETA.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TextIO

EVERY = 10.0  # seconds between plain lines when not on a terminal


class ProgressLine:
    """One task's progress, drawn on ``stream`` (stderr by default)."""

    def __init__(self, label: str, *, total: int | None = None, stream: TextIO | None = None,
                 tty: bool | None = None, every: float = EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.tty = tty if tty is not None else _isatty(self.stream)
        self.every = every
        self.clock = clock
        self.started = clock()
        self.done = 0
        self.detail = ""
        self._printed_at: float | None = None
        self._printed_text = ""
        self._width = 0  # of the line on screen, to blank what a shorter line leaves behind

    def update(self, done: int, detail: str = "") -> None:
        """``done`` records so far; ``detail`` is shown after the rate (e.g. what became of them)."""
        self.done, self.detail = done, detail
        now = self.clock()
        if self.tty or self._printed_at is None or now - self._printed_at >= self.every:
            self._show(self.text(now))
            self._printed_at = now

    def finish(self) -> None:
        """Show the final state (with the elapsed time) and end the line."""
        text = self.text(self.clock(), finished=True)
        if self.tty:
            self._show(text)
            self.stream.write("\n")
            self.stream.flush()
        elif self._printed_at is not None or self.done:
            self._show(text)

    def text(self, now: float, finished: bool = False) -> str:
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        parts = [f"{self.label}: read {self.done:,}"]
        if self.total is not None:
            share = min(self.done / self.total, 1.0) if self.total else 1.0
            parts[0] += f" of {self.total:,} ({share:.0%})"
        parts.append(f"{rate:,.0f} records/s")
        if finished:
            parts.append(f"done in {_duration(elapsed)}")
        elif self.total is not None and rate > 0:
            parts.append(f"ETA {_duration(max(self.total - self.done, 0) / rate)}")
        if self.detail:
            parts.append(self.detail)
        return "  ".join(parts)

    def _show(self, text: str) -> None:
        if not self.tty:
            if text != self._printed_text:
                self.stream.write(text + "\n")
                self._printed_text = text
            self.stream.flush()
            return
        # a line longer than the terminal wraps, and \r would then redraw only its last part
        text = text[: _columns(self.stream) - 1]
        self.stream.write("\r" + text + " " * max(self._width - len(text), 0))
        self.stream.flush()
        self._width = len(text)


def _duration(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or fake stream
        return False


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, OSError, ValueError):
        return 80
