"""Schedules for exploration rates and learning rates, as functions of the step."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Linear:
    """From `start` to `end` over the first `duration` steps, then flat at `end`."""

    start: float
    end: float
    duration: int

    def __call__(self, step: int) -> float:
        if self.duration <= 0:
            return self.end
        frac = min(step / self.duration, 1.0)
        return self.start + frac * (self.end - self.start)


@dataclass(frozen=True)
class Exponential:
    """`start * decay**step`, never below `end`."""

    start: float
    end: float
    decay: float

    def __call__(self, step: int) -> float:
        return max(self.end, self.start * self.decay ** step)


def make_schedule(kind: str, start: float, end: float, total_steps: int,
                  fraction: float) -> Linear | Exponential:
    """`fraction` of `total_steps` is when the schedule reaches `end`."""
    duration = max(int(total_steps * fraction), 1)
    if kind == "constant":
        return Linear(start, start, 0)
    if kind == "linear":
        return Linear(start, end, duration)
    if kind == "exponential":
        ratio = max(end, 1e-12) / start if start > 0 else 1.0
        return Exponential(start, end, ratio ** (1.0 / duration))
    raise ValueError(f"unknown schedule {kind!r}")
