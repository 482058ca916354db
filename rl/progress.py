"""A rich progress bar for training loops: steps, steps/s and a few live figures."""
from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class TrainingProgress:
    """`update(step, return=..., eps=...)`; cheap enough to call every step (redraws are
    throttled)."""

    def __init__(self, total: int, start: int = 0, *, label: str = "train", enabled: bool = True,
                 unit: str = "steps"):
        self.enabled = enabled
        self.unit = unit
        self._last_draw = 0.0
        self._t0 = time.perf_counter()
        self._start = start
        if not enabled:
            return
        self._progress = Progress(
            TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(), console=Console(file=sys.stderr), transient=False)
        self._task = self._progress.add_task(label, total=total, completed=start, rate="",
                                             info="")
        self._progress.start()

    def update(self, step: int, **fields: Any) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last_draw < 0.25 and fields.get("force") is None:
            return
        self._last_draw = now
        fields.pop("force", None)
        rate = (step - self._start) / max(now - self._t0, 1e-9)
        info = "  ".join(f"{k} {_short(v)}" for k, v in fields.items() if v is not None)
        self._progress.update(self._task, completed=step, rate=f"{rate:,.0f} {self.unit}/s",
                              info=info)

    def close(self) -> None:
        if self.enabled:
            self._progress.stop()


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)
