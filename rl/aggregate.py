"""Aggregate performance over many tasks and seeds, as the field reports it (Agarwal et al.,
"Deep RL at the Edge of the Statistical Precipice", NeurIPS 2021), computed by their rliable:
IQM, median, mean and optimality gap of normalised scores with stratified-bootstrap 95%
intervals, the interval plot and the performance profile.

With one run a task the stratified bootstrap (runs resampled within each task) has nothing to
resample and its interval has no width; there the tasks themselves are resampled (rliable's
task bootstrap). That interval says how much the aggregate rests on which games were played,
not how it would move with another seed, and is labelled as such wherever it is shown."""
from __future__ import annotations

from pathlib import Path

import numpy as np

METRICS = ("iqm", "median", "mean", "optimality_gap")


def resampled(scores: np.ndarray) -> str:
    """What the bootstrap of `scores` [runs, tasks] resamples: "runs" within each task, or
    "games" where each task has one run."""
    return "games" if np.asarray(scores).shape[0] == 1 else "runs"


def aggregates(scores: np.ndarray, reps: int = 2000, seed: int = 0) -> dict[str, dict]:
    """scores: [runs, tasks] normalised scores. Each metric's point estimate and 95% interval
    (over runs, or over games where there is one run a game: see `resampled`)."""
    from rliable import library, metrics

    fn = lambda s: np.array([metrics.aggregate_iqm(s), metrics.aggregate_median(s),  # noqa: E731
                             metrics.aggregate_mean(s), metrics.aggregate_optimality_gap(s)])
    np.random.seed(seed)  # rliable's bootstrap draws from numpy's global generator
    point, interval = library.get_interval_estimates({"ours": np.asarray(scores, float)}, fn,
                                                     reps=reps,
                                                     task_bootstrap=resampled(scores) == "games")
    return {name: {"value": round(float(point["ours"][i]), 4),
                   "ci95": [round(float(interval["ours"][0, i]), 4),
                            round(float(interval["ours"][1, i]), 4)]}
            for i, name in enumerate(METRICS)}


def plot_aggregates(result: dict[str, dict], out: Path, label: str,
                    published: dict[str, dict] | None = None, over: str = "runs") -> Path:
    """The four aggregates with their intervals, beside published point values (diamonds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(METRICS), figsize=(3.2 * len(METRICS), 2.2))
    for ax, name in zip(axes, METRICS):
        lo, hi = result[name]["ci95"]
        ax.barh([0], [hi - lo], left=[lo], height=0.5, color="tab:blue", alpha=0.6)
        ax.plot([result[name]["value"]], [0], "k|", markersize=18)
        ys, labels, xs = [0], [label], [lo, hi]
        for i, (algo, values) in enumerate((published or {}).items(), start=1):
            if values.get(name) is not None:
                ax.plot([values[name]], [i], "D", color="tab:gray")
                ys.append(i)
                labels.append(algo)
                xs.append(values[name])
        pad = 0.1 * (max(xs) - min(xs)) or 0.05  # ours stays in view beside the published
        ax.set_xlim(min(xs) - pad, max(xs) + pad)
        ax.set_ylim(-0.6, len(published or {}) + 0.6)  # rows line up across the panels
        ax.set_yticks(ys, labels if name == METRICS[0] else [""] * len(ys))
        ax.set_title(name.replace("_", " ").upper() if name == "iqm" else
                     name.replace("_", " ").capitalize())
        ax.grid(axis="x", alpha=0.3)
    fig.supxlabel("human-normalised score (bars: ours, 95% bootstrap interval, "
                  + ("runs resampled within games)" if over == "runs" else "games resampled)"))
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_profile(scores: np.ndarray, out: Path, label: str, reps: int = 2000) -> Path:
    """rliable's performance profile: the fraction of runs above each normalised score, its
    band over runs or, with one run a game, over games."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rliable import library, plot_utils

    taus = np.linspace(0.0, max(2.0, float(np.max(scores))), 81)
    np.random.seed(0)  # its band, like the aggregates' intervals, repeats
    profiles, cis = library.create_performance_profile(
        {label: np.asarray(scores, float)}, taus, reps=reps,
        task_bootstrap=resampled(scores) == "games")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    plot_utils.plot_performance_profiles(profiles, taus, performance_profile_cis=cis, ax=ax,
                                         colors={label: "tab:blue"},
                                         xlabel="human-normalised score (tau)",
                                         ylabel="fraction of runs > tau", labelsize="medium",
                                         ticklabelsize="medium")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
