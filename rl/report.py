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

from rl.errors import UserError
from rl.run import Run, atomic_write_text, read_metrics

MEDIA = {".png": "image/png", ".gif": "image/gif", ".mp4": "video/mp4"}
MAX_VIDEOS = 3  # the latest recordings of each run: a report stays mailable
X_AXES = ("step", "epoch", "iteration")


def _data_url(path: Path) -> str:
    return f"data:{MEDIA[path.suffix]};base64,{base64.b64encode(path.read_bytes()).decode()}"


def x_axis(rows: list[dict[str, str]]) -> str:
    return next((x for x in X_AXES if rows and x in rows[0]), "step")


def compare(run_dirs: Sequence[Path], metric: str, out: Path) -> Path:
    """One figure: `metric` of each run against its own x axis (steps, epochs or iterations)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rl.plots import column, draw_series, save_figure

    fig, ax = plt.subplots(figsize=(8, 4.2))
    axis = None
    for d in run_dirs:
        rows = read_metrics(Run.open(d).path / "metrics.csv")
        axis = axis or x_axis(rows)
        xs, ys = column(rows, axis, metric)
        if xs.size == 0:
            raise UserError(f"{d} has no {metric!r} values (its metrics: "
                            f"{', '.join(k for k in (rows[0] if rows else {}) if k not in X_AXES)}"
                            ")")
        draw_series(ax, xs, ys, d.name)
    ax.set_xlabel(axis)
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{metric}: {len(run_dirs)} runs")
    fig.tight_layout()
    save_figure(fig, out)
    return out


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


def write_report(run_dirs: Sequence[Path], out: Path) -> Path:
    runs = [Run.open(d) for d in run_dirs]
    body = [f"<h1>rl report: {len(runs)} run{'s' * (len(runs) > 1)}</h1>"]
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
