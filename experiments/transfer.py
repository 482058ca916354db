"""Transfer learning, measured: a backbone pretrained on Fashion-MNIST, fine-tuned on a few
labelled MNIST digits, against the same network from scratch and against the frozen backbone
with a new head (the book's claim: copying learned weights helps most when data is small).

    python experiments/transfer.py --pretrained runs/fashion/resnet20-s0 \\
        --data-dir ../shared/data --out runs/transfer

Each (labels, seed, arm) is one `rl train classifier` run on mnist-10k (test: its 2,000 held-out
digits). Run again, it skips finished runs and resumes killed ones; then it writes
OUT/transfer.json, OUT/transfer.md and OUT/transfer.png. Accuracy is the last epoch's (no
checkpoint is picked on the test set); intervals are Student-t over seeds, and the gain of
fine-tuning over scratch is paired by seed.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rl.stats import t_ci  # noqa: E402

# a linear probe takes 10x the step: at the others' Adam 2e-3 it underfits its few steps (38%
# training accuracy on 100 digits after 250 steps; experiments/results/fashion.md)
ARMS = {"scratch": [], "finetune": ["--init-encoder", "{ckpt}"],
        "frozen": ["--init-encoder", "{ckpt}", "--freeze-encoder", "--lr", "0.02"]}
# the same optimiser steps for every arm: few labels take more epochs of smaller batches
SCHEDULE = {100: (50, 20), 1000: (25, 100), 8000: (12, 100)}  # labels: (epochs, batch size)


def command(rl: list[str], run_dir: Path, labels: int, seed: int, arm: str, ckpt: Path,
            backbone: str, data_dir: str | None, epochs: int | None) -> list[str]:
    if run_dir.exists():
        return [*rl, "train", "classifier", "--resume", str(run_dir)]
    e, batch = SCHEDULE.get(labels, (12, 100))
    extra = [a.format(ckpt=ckpt) for a in ARMS[arm]]
    data = ["--data-dir", data_dir] if data_dir else []
    return [*rl, "train", "classifier", "--dataset", "mnist-10k", *data, "--backbone", backbone,
            "--labels", str(labels), "--seed", str(seed), "--epochs", str(epochs or e),
            "--batch-size", str(min(batch, labels)), "--amp", "--channels-last", *extra,
            "--validation", "0",  # the last epoch, as measured: no choice to report on
            "--no-progress", "--run-dir", str(run_dir)]


def last_accuracy(run_dir: Path) -> float:
    """The last epoch's test accuracy (the runs choose nothing: --validation 0)."""
    return float(json.loads((run_dir / "summary.json").read_text())["test_accuracy"])


def summarise(out: Path, labels: list[int], seeds: list[int]) -> dict[str, Any]:
    """Mean and interval per (labels, arm), and the paired gains over scratch."""
    rows = []
    for n in labels:
        acc = {arm: [last_accuracy(out / f"{n}-{arm}-s{s}") for s in seeds] for arm in ARMS}
        row: dict[str, Any] = {"labels": n, "seeds": seeds}
        for arm, values in acc.items():
            row[arm] = {"values": values, "mean": sum(values) / len(values),
                        "ci95": list(t_ci(values))}
        for arm in ("finetune", "frozen"):
            gain = [a - b for a, b in zip(acc[arm], acc["scratch"])]
            lo, hi = t_ci(gain)
            row[f"{arm}_gain"] = {"mean": sum(gain) / len(gain), "ci95": [lo, hi],
                                  "holds": lo > 0}
        rows.append(row)
    return {"rows": rows}


def cell(figure: dict[str, Any]) -> str:
    lo, hi = figure["ci95"]
    return f"{100 * figure['mean']:.2f}% [{100 * lo:.2f}, {100 * hi:.2f}]"


def gain(figure: dict[str, Any]) -> str:
    lo, hi = figure["ci95"]
    held = " holds" if figure["holds"] else ""
    return f"{100 * figure['mean']:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}]{held}"


def write(out: Path, result: dict[str, Any], pretrained: Path) -> None:
    (out / "transfer.json").write_text(json.dumps(result, indent=1))
    lines = [f"Pretrained backbone: {pretrained}. Test: mnist-10k's 2,000 held-out digits; "
             "mean of the seeds' last-epoch accuracy [95% t interval]; gains in points, paired "
             "by seed.", "",
             "| labels | scratch | fine-tuned | frozen + new head | fine-tune gain | "
             "frozen gain |", "| --- | --- | --- | --- | --- | --- |"]
    for r in result["rows"]:
        lines.append(f"| {r['labels']:,} | {cell(r['scratch'])} | {cell(r['finetune'])} | "
                     f"{cell(r['frozen'])} | {gain(r['finetune_gain'])} | "
                     f"{gain(r['frozen_gain'])} |")
    (out / "transfer.md").write_text("\n".join(lines) + "\n")
    plot(out / "transfer.png", result)


def plot(path: Path, result: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rl.plots import save_figure

    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [r["labels"] for r in result["rows"]]
    names = {"scratch": "from scratch", "finetune": "fine-tuned from Fashion-MNIST",
             "frozen": "frozen Fashion-MNIST backbone + new head"}
    for arm, label in names.items():
        means = [100 * r[arm]["mean"] for r in result["rows"]]
        err = [[100 * (r[arm]["mean"] - r[arm]["ci95"][0]) for r in result["rows"]],
               [100 * (r[arm]["ci95"][1] - r[arm]["mean"]) for r in result["rows"]]]
        ax.errorbar(xs, means, yerr=err, marker="o", capsize=3, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("labelled MNIST training digits")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("transfer: Fashion-MNIST -> MNIST (95% t intervals over seeds)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pretrained", type=Path, required=True,
                   help="classifier run on Fashion-MNIST whose best backbone is copied")
    p.add_argument("--out", type=Path, default=Path("runs/transfer"))
    p.add_argument("--data-dir", help="where mnist-10k's files are (default: rl's search)")
    p.add_argument("--labels", default="100,1000,8000")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--epochs", type=int, help="epochs for every run (default: SCHEDULE)")
    args = p.parse_args(argv)
    labels = [int(x) for x in args.labels.split(",")]
    seeds = [int(x) for x in args.seeds.split(",")]
    ckpt = args.pretrained / "checkpoints" / "best.pt"
    if not ckpt.exists():
        print(f"error: {ckpt} not found: --pretrained takes a finished classifier run",
              file=sys.stderr)
        return 2
    backbone = json.loads((args.pretrained / "summary.json").read_text())["backbone"]
    args.out.mkdir(parents=True, exist_ok=True)
    rl = [sys.executable, "-m", "rl.cli"]
    for n in labels:
        for seed in seeds:
            for arm in ARMS:
                run_dir = args.out / f"{n}-{arm}-s{seed}"
                if (run_dir / "summary.json").exists():
                    continue
                cmd = command(rl, run_dir, n, seed, arm, ckpt, backbone, args.data_dir,
                              args.epochs)
                print(" ".join(cmd[3:]), flush=True)
                subprocess.run(cmd, check=True, cwd=ROOT)
    result = summarise(args.out, labels, seeds)
    write(args.out, result, args.pretrained)
    print((args.out / "transfer.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
