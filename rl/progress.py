"""Progress of a training loop: steps, steps/s and a few live figures.

On a terminal it is a rich progress bar. Elsewhere (a log file, CI, a pipe) a bar cannot be
redrawn, so it prints a plain line at every tenth of the way and at least once a minute (the
first after ten seconds, so that a long run is not silent at its start), and always the final
state at the end.
"""
from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

PLAIN_EVERY_S = 60.0
PLAIN_FIRST_S = 10.0


class TrainingProgress:
    """`update(step, return=..., eps=...)`; cheap enough to call every step (redraws are
    throttled)."""

    def __init__(self, total: int, start: int = 0, *, label: str = "train", enabled: bool = True,
                 unit: str = "steps", stream: Any = None):
        self.enabled, self.unit, self.label, self.total = enabled, unit, label, total
        self.stream = stream or sys.stderr
        self._last_draw = 0.0
        self._t0 = time.perf_counter()
        self._start = self._step = start
        self._fields: dict[str, Any] = {}
        if not enabled:
            return
        self.plain = not Console(file=self.stream).is_terminal
        self._next_tenth = (start * 10 // max(total, 1) + 1) * total / 10
        self._last_line, self._shown_step = self._t0 - PLAIN_EVERY_S + PLAIN_FIRST_S, None
        if self.plain:
            return
        self._progress = Progress(
            TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(), console=Console(file=self.stream), transient=False)
        self._task = self._progress.add_task(label, total=total, completed=start, rate="",
                                             info="")
        self._progress.start()

    def _rate(self, now: float) -> float:
        return (self._step - self._start) / max(now - self._t0, 1e-9)

    def _info(self) -> str:
        return "  ".join(f"{k} {_short(v)}" for k, v in self._fields.items() if v is not None)

    def update(self, step: int, **fields: Any) -> None:
        if not self.enabled:
            return
        force = fields.pop("force", None) is not None
        self._step, self._fields = step, fields
        now = time.perf_counter()
        if self.plain:
            if step >= self._next_tenth or now - self._last_line >= PLAIN_EVERY_S:
                self._line(now)
            return
        if now - self._last_draw < 0.25 and not force:
            return
        self._last_draw = now
        self._progress.update(self._task, completed=step,
                              rate=f"{self._rate(now):,.0f} {self.unit}/s", info=self._info())

    def _line(self, now: float) -> None:
        elapsed = time.strftime("%H:%M:%S", time.gmtime(now - self._t0))
        print(f"{self.label}  {self._step:,}/{self.total:,} {self.unit}  "
              f"{self._rate(now):,.0f} {self.unit}/s  {self._info()}  {elapsed}".rstrip(),
              file=self.stream, flush=True)
        self._last_line, self._shown_step = now, self._step
        while self._next_tenth <= self._step:
            self._next_tenth += max(self.total / 10, 1)  # a bar of 0 (all kept) would spin

    def close(self) -> None:
        """Shows the final state: the last step reached, not the last one drawn."""
        if not self.enabled:
            return
        if self.plain:
            if self._step != self._shown_step:
                self._line(time.perf_counter())
            return
        self._progress.update(self._task, completed=self._step, info=self._info(),
                              rate=f"{self._rate(time.perf_counter()):,.0f} {self.unit}/s")
        self._progress.stop()


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)
