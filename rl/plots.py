"""Plots written into run directories: pictures a person would rather look at than a CSV."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rl.files import atomic_write_bytes
from rl.metrics import read_metrics

if TYPE_CHECKING:
    import matplotlib.axes
    import matplotlib.figure

# schedules, running averages and evaluations (vs_* win rates) are plotted as they are
UNSMOOTHED = {"epsilon", "lr", "q_mean", "replay_size", "eval_return", "eval_success"}


def column(rows: list[dict[str, str]], x: str, y: str) -> tuple[np.ndarray, np.ndarray]:
    """The (x, y) pairs of metrics rows where y was logged."""
    pairs = [(float(r[x]), float(r[y])) for r in rows if r.get(y) not in (None, "", "nan")]
    if not pairs:
        return np.empty(0), np.empty(0)
    xs, ys = zip(*pairs)
    return np.asarray(xs), np.asarray(ys)


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average that keeps the length (short windows at the start)."""
    if len(values) == 0 or window <= 1:
        return values
    csum = np.cumsum(np.insert(values, 0, 0.0))
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(idx - window, 0)
    return (csum[idx] - csum[lo]) / (idx - lo)


def draw_series(ax: matplotlib.axes.Axes, xs: np.ndarray, ys: np.ndarray, label: str,
                smoothed: bool = True) -> None:
    """Long noisy series: faint raw values under a moving average. Short ones: points."""
    if xs.size > 20 and smoothed:
        ax.plot(xs, ys, alpha=0.25, lw=0.8)
        ax.plot(xs, smooth(ys, max(xs.size // 20, 2)), lw=1.8, label=label,
                color=ax.lines[-1].get_color())
    else:
        ax.plot(xs, ys, marker="o", lw=1.8, label=label)


def plot_learning_curve(metrics_csv: Path, out_png: Path, panels: Sequence[tuple[str, ...]],
                        title: str, x: str = "step",
                        reference: dict[str, float] | None = None) -> None:
    """One panel per tuple of metric names; a dashed line where `reference` gives a target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(metrics_csv)
    panels = [p for p in panels if any(column(rows, x, y)[0].size for y in p)]
    if not panels:
        return
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.6 * len(panels)), sharex=True,
                             squeeze=False)
    for ax, names in zip(axes[:, 0], panels):
        for name in names:
            xs, ys = column(rows, x, name)
            if xs.size == 0:
                continue
            smoothed = name not in UNSMOOTHED and not name.startswith("vs_")  # rates per check
            draw_series(ax, xs, ys, name, smoothed)
            if reference and name in reference:
                ax.axhline(reference[name], ls="--", color="gray", lw=1,
                           label=f"{name} reference {reference[name]:.3g}")
        ax.set_ylabel(", ".join(names) if len(names) < 3 else names[0])
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    axes[-1, 0].set_xlabel(x)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, out_png)


def save_figure(fig: matplotlib.figure.Figure, path: Path) -> None:
    """PNG written atomically (a viewer never sees half a file), then the figure is freed."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
