"""`rl report` and `rl compare`: what a person opens to look at runs.

The report is one self-contained HTML file (images and videos inlined as data: URLs, no
scripts, nothing fetched), so it opens offline, can be mailed, and shows the same thing
anywhere: each run's config, summary, plots and recordings, and for several runs their
curves overlaid.
"""
from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rl.errors import UserError
from rl.files import atomic_write_text
from rl.metrics import read_metrics
from rl.run import Run

MEDIA = {".png": "image/png", ".gif": "image/gif", ".mp4": "video/mp4"}
MAX_VIDEOS = 3  # the latest recordings of each run: a report stays mailable
X_AXES = ("step", "epoch", "iteration")


def _data_url(path: Path) -> str:
    return f"data:{MEDIA[path.suffix]};base64,{base64.b64encode(path.read_bytes()).decode()}"


def x_axis(rows: list[dict[str, str]]) -> str:
    return next((x for x in X_AXES if rows and x in rows[0]), "step")


def task(config: dict) -> str:
    """What a run learns: its algorithm and env, game or data set."""
    what = config.get("env") or config.get("game") or config.get("dataset")
    return f"{config.get('algo')} {what}"


def seed_groups(runs: Sequence[Run], most: int = 3) -> dict[str, list[Run]]:
    """Runs of one setting (the same config but for the seed) form a group, named briefly by
    what sets it apart: the algorithm and task when those differ, else at most `most` of the
    options that differ, values shortened."""
    def setting(run: Run) -> dict:
        return {k: v for k, v in run.config.items() if k not in ("seed", "run")}

    keys = {k for r in runs for k in setting(r)}
    differs = sorted(k for k in keys if len({repr(setting(r).get(k)) for r in runs}) > 1)
    tasks = {task(r.config) for r in runs}
    groups: dict[str, list[Run]] = {}
    for r in runs:
        cfg = setting(r)
        label = task(cfg)
        if differs and len(tasks) == 1:
            shown = [f"{k}={str(cfg.get(k))[:20]}" for k in differs[:most]]
            more = f" +{len(differs) - most} more" if len(differs) > most else ""
            label = ", ".join(shown) + more
        elif len(tasks) > 1 and len({repr(setting(o)) for o in runs
                                     if task(o.config) == task(cfg)}) > 1:
            label = f"{label} ({r.path.name})"  # several settings of one task
        groups.setdefault(label, []).append(r)
    return groups


def iqm_ci(scores: np.ndarray, reps: int = 2000) -> tuple[float, float, float]:
    """Interquartile mean over runs with rliable's stratified-bootstrap 95% interval
    (Agarwal et al., NeurIPS 2021). scores: [runs]."""
    from rliable import library, metrics

    point, interval = library.get_interval_estimates(
        {"x": np.asarray(scores, dtype=float)[:, None]},
        lambda s: np.array([metrics.aggregate_iqm(s)]), reps=reps)
    return float(point["x"][0]), float(interval["x"][0, 0]), float(interval["x"][1, 0])


def with_hours(rows: list[dict[str, str]], path: Path) -> list[dict[str, str]]:
    """Each metrics row with `hours`: the learning time up to it, the running sum of the run's
    `iteration_s` (self-play and updates; evaluations and gates excluded), so that runs whose
    iterations cost different times compare per hour of the machine. Runs from before
    iteration_s was logged add up self_play_s and train_s (their loop did one, then the other)."""
    names = rows[0] if rows else {}
    parts = ["iteration_s"] if "iteration_s" in names else ["self_play_s", "train_s"]
    if not all(p in names for p in parts):
        raise UserError(f"{path} logs no iteration_s, so it has no hours axis (--x hours "
                        "is for self-play runs)")
    total, out = 0.0, []
    for row in rows:
        total += sum(float(row[p] or 0.0) for p in parts)
        out.append({**row, "hours": str(total / 3600)})
    return out


def run_series(path: Path, metric: str, x: str) -> tuple[str, np.ndarray, np.ndarray]:
    """A run's x axis (its own, or "hours") and its logged values of `metric`; one clear line
    when it has none."""
    from rl.plots import column

    rows = read_metrics(path / "metrics.csv")
    axis = "hours" if x == "hours" else x_axis(rows)
    if x == "hours":
        rows = with_hours(rows, path)
    xs, ys = column(rows, axis, metric)
    if xs.size == 0:
        names = [k for k in (rows[0] if rows else {}) if k not in X_AXES]
        if metric in names:  # the column is there, every row leaves it empty
            raise UserError(f"{path} logged no {metric!r} value in its {len(rows)} rows: it "
                            "comes from evaluations, and this run had none (compare another "
                            "metric, or give it a smaller --eval-every)")
        raise UserError(f"{path} has no {metric!r} column (its metrics: {', '.join(names)})")
    return axis, xs, ys


def aligned(series: list[tuple[np.ndarray, np.ndarray]], hours: bool
            ) -> tuple[np.ndarray, np.ndarray]:
    """Seeds' values at common x: the steps they all logged, or for hours (which differ run
    to run) 50 points up to the shortest run's end, each run interpolated."""
    if hours:
        grid = np.linspace(max(xs[0] for xs, _ in series), min(xs[-1] for xs, _ in series), 50)
        return grid, np.array([np.interp(grid, xs, ys) for xs, ys in series])
    common = sorted(set.intersection(*(set(xs.tolist()) for xs, _ in series)))
    return np.array(common), np.array([[ys[list(xs).index(c)] for c in common]
                                       for xs, ys in series])


def compare(run_dirs: Sequence[Path], metric: str, out: Path, x: str = "auto") -> dict:
    """One figure: `metric` against each run's x axis (steps, epochs or iterations; with x
    "hours", the hours of learning). Runs of one setting over several seeds are drawn as their
    interquartile mean with a 95% band, and their last values summarised the same way."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rl.plots import draw_series, save_figure

    runs = [Run.open(d) for d in run_dirs]
    tasks = list(dict.fromkeys(task(r.config) for r in runs))  # one panel per task
    fig, axes = plt.subplots(1, len(tasks), figsize=(8 if len(tasks) == 1 else 5 * len(tasks),
                                                     4.2), squeeze=False)
    panel = dict(zip(tasks, axes[0]))
    axis, summary = "", {}
    for label, group in seed_groups(runs).items():
        ax = panel[task(group[0].config)]
        series = []
        for r in group:
            axis, xs, ys = run_series(r.path, metric, x)
            series.append((xs, ys))
        if len(group) == 1:
            draw_series(ax, *series[0], group[0].path.name if len(runs) > 1 else label)
            summary[label] = {"runs": 1, "last": float(series[0][1][-1])}
            continue
        common, table = aligned(series, hours=axis == "hours")
        bands = np.array([iqm_ci(table[:, i], reps=500) for i in range(len(common))])
        line, = ax.plot(common, bands[:, 0], lw=1.8, label=f"{label} (IQM of {len(group)} seeds)")
        ax.fill_between(common, bands[:, 1], bands[:, 2], color=line.get_color(), alpha=0.2)
        iqm, lo, hi = iqm_ci(np.array([ys[-1] for _, ys in series]))
        summary[label] = {"runs": len(group), "seeds": [r.config.get("seed") for r in group],
                          "last_iqm": round(iqm, 4), "last_iqm_ci95": [round(lo, 4), round(hi, 4)]}
    for name, ax in panel.items():
        ax.set_xlabel("hours of self-play and training" if axis == "hours" else axis)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(f"{metric}: {name}" if len(panel) > 1 else f"{metric}: {len(runs)} runs")
    fig.tight_layout()
    save_figure(fig, out)
    return {"metric": metric, "out": str(out), "groups": summary}


def _table(d: dict) -> str:
    cells = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
                    for k, v in d.items())
    return f"<table>{cells}</table>"


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return json.dumps(v)
    return str(v)


def _run_section(run: Run) -> str:
    parts = [f"<section><h2>{html.escape(run.path.name)}</h2>",
             f"<p class=path>{html.escape(str(run.path))}</p>"]
    summary = run.read_summary()
    if summary:
        parts += ["<h3>Summary</h3>", _table(summary)]
    videos = sorted(run.path.glob("videos/*.mp4"))[-MAX_VIDEOS:]
    gifs = sorted(run.path.glob("videos/*.gif"))[-MAX_VIDEOS:]
    if videos or gifs:
        parts.append("<h3>Recordings</h3>")
    for v in videos:
        parts.append(f'<figure><video controls muted preload="metadata" width="320">'
                     f'<source type="video/mp4" src="{_data_url(v)}"></video>'
                     f"<figcaption>{html.escape(v.name)}</figcaption></figure>")
    for g in gifs:
        parts.append(f'<figure><img alt="{g.stem}" src="{_data_url(g)}">'
                     f"<figcaption>{html.escape(g.name)}</figcaption></figure>")
    pngs = sorted(run.path.glob("*.png"))
    if pngs:
        parts.append("<h3>Plots</h3>")
    for png in pngs:
        parts.append(f'<figure><img alt="{png.stem}" src="{_data_url(png)}">'
                     f"<figcaption>{html.escape(png.name)}</figcaption></figure>")
    config = {k: v for k, v in run.config.items() if k != "run"}
    parts += ["<details><summary>config</summary>", _table(config), "</details></section>"]
    return "\n".join(parts)


STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1050px;
padding:0 1.5em;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.2em .6em;text-align:left}th{background:#f4f4f4}
figure{display:inline-block;margin:.5em;vertical-align:top}img{max-width:100%}
figcaption{font-size:.8em;color:#666}.path{color:#888;font-size:.85em}
figure.half{width:47%;margin:.5%}"""


def _suite_section(path: Path) -> str:
    """A suite (`rl suite`) at a glance: its aggregates beside the published ones, the
    performance profile, and per game its score and a recording of its final evaluation."""
    scores_path = path / "scores.json"
    scores = json.loads(scores_path.read_text()) if scores_path.exists() else {}
    parts = [f"<section><h2>Suite {html.escape(path.name)}</h2>",
             f"<p class=path>{html.escape(str(path))}: {scores.get('runs_finished', 0)} of "
             f"{scores.get('runs', '?')} runs finished</p>"]
    for png in ("aggregates.png", "performance_profile.png"):
        if (path / png).exists():
            parts.append(f'<figure><img alt="{png}" src="{_data_url(path / png)}"></figure>')
    rows = []
    for row in scores.get("per_game", []):
        videos = sorted(path.glob(f"{row['game']}/seed*/videos/*.mp4"))
        video = (f'<video controls muted preload="metadata" width="200"><source '
                 f'type="video/mp4" src="{_data_url(videos[-1])}"></video>') if videos else ""
        rows.append(f"<tr><td>{html.escape(row['game'])}</td><td>{row['score']:g}</td>"
                    f"<td>{_fmt(row['normalized'])}</td><td>{len(row['seeds'])}</td>"
                    f"<td>{video}</td></tr>")
    if rows:
        parts.append("<table><tr><th>game</th><th>score (mean over seeds)</th><th>human-"
                     "normalised</th><th>seeds</th><th>final evaluation</th></tr>"
                     + "".join(rows) + "</table>")
    return "\n".join(parts) + "</section>"


def write_report(run_dirs: Sequence[Path], out: Path) -> Path:
    suites = [d for d in run_dirs if (Path(d) / "suite.yaml").exists()]
    runs = [Run.open(d) for d in run_dirs if d not in suites]
    body = [f"<h1>rl report: {len(runs)} run{'s' * (len(runs) != 1)}"
            + (f", {len(suites)} suite{'s' * (len(suites) > 1)}" if suites else "") + "</h1>"]
    body += [_suite_section(Path(d)) for d in suites]
    if len(runs) > 1:
        body.append("<section><h2>Compared</h2>")
        shared = _shared_metrics(runs)
        if not shared:
            body.append("<p>These runs have no metric in common.</p>")
        for metric in shared:
            png = out.parent / f".compare-{metric}.png"
            compare([r.path for r in runs], metric, png)
            body.append(f'<figure class=half><img alt="{metric}" src="{_data_url(png)}"></figure>')
            png.unlink()
        body.append("</section>")
    body += [_run_section(r) for r in runs]
    page = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>rl report</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n")
    atomic_write_text(out, page)
    return out


def _shared_metrics(runs: list[Run]) -> list[str]:
    """Metrics every run logged with numbers, the timing columns left out."""
    names = None
    for r in runs:
        rows = read_metrics(r.path / "metrics.csv")
        have = {k for row in rows for k, v in row.items() if v not in ("", None)}
        names = have if names is None else names & have
    skip = set(X_AXES) | {"steps_per_s", "images_per_s", "positions_per_s", "self_play_s",
                          "train_s", "lr", "epsilon", "replay_size", "episodes", "games",
                          "positions", "window_positions"}
    return sorted((names or set()) - skip)
