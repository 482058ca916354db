"""Uncertainty for every figure we print: 95% intervals for means, rates and Elo differences.

- means of returns: a percentile bootstrap (10,000 resamples, seeded so a figure repeats);
- means over a few seeds: Student's t (a bootstrap of three values cannot reach past them);
- rates (wins, accuracy): Wilson's score interval, which stays inside [0, 1] and is honest
  for small counts and rates near 0 or 1, where the normal approximation is not;
- matches: the Elo difference implied by the score (wins + draws / 2), with the interval of
  the Wilson bounds mapped through the same curve.
Across seeds, `rl compare` uses rliable (interquartile mean, stratified bootstrap).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Z95 = 1.959963984540054


def mean_ci(values: Sequence[float], reps: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the mean (a point for fewer than 2 values)."""
    x = np.asarray(values, dtype=np.float64)
    if len(x) < 2 or np.all(x == x[0]):
        m = float(x.mean()) if len(x) else math.nan
        return m, m
    rng = np.random.default_rng(seed)
    means = x[rng.integers(len(x), size=(reps, len(x)))].mean(1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def t_ci(values: Sequence[float]) -> tuple[float, float]:
    """95% Student-t interval of the mean: for a handful of seeds, where a bootstrap of three
    values cannot reach beyond them (a point for fewer than 2 values)."""
    from scipy.stats import t

    x = np.asarray(values, dtype=np.float64)
    m = float(x.mean()) if len(x) else math.nan
    if len(x) < 2:
        return m, m
    half = float(t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return m - half, m + half


def wilson(successes: float, n: int) -> tuple[float, float]:
    """95% Wilson score interval of a rate (draws may count as half a success)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    centre = p + Z95 ** 2 / (2 * n)
    spread = Z95 * math.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n * n))
    denom = 1 + Z95 ** 2 / n
    return max(0.0, (centre - spread) / denom), min(1.0, (centre + spread) / denom)


def elo(score: float) -> float:
    """The Elo difference at which the expected score is `score` (inf at 1, -inf at 0)."""
    if score <= 0:
        return -math.inf
    if score >= 1:
        return math.inf
    return -400.0 * math.log10(1.0 / score - 1.0)


def summarise_returns(values: Sequence[float]) -> dict[str, float | list[float]]:
    """mean, std and the 95% interval of the mean, as every evaluation reports them."""
    x = np.asarray(values, dtype=np.float64)
    lo, hi = mean_ci(x)
    return {"mean_return": float(x.mean()), "std_return": float(x.std()),
            "mean_return_ci95": [round(lo, 4), round(hi, 4)]}


def summarise_match(wins: int, draws: int, losses: int) -> dict[str, float | list[float]]:
    """Score rate and Elo difference with 95% intervals, from the agent's side."""
    n = wins + draws + losses
    score = (wins + draws / 2) / n if n else 0.0
    lo, hi = wilson(wins + draws / 2, n)
    return {"win_rate": round(wins / n, 4) if n else 0.0,
            "score": round(score, 4), "score_ci95": [round(lo, 4), round(hi, 4)],
            "elo": _finite(elo(score)), "elo_ci95": [_finite(elo(lo)), _finite(elo(hi))]}


def _finite(x: float) -> float | None:
    """JSON has no infinity: an unbounded Elo bound is null."""
    return round(x, 1) + 0.0 if math.isfinite(x) else None  # + 0.0: no "-0.0"
