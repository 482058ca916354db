"""Our Atari 100k aggregate beside a published agent's on the same games, like with like.

    python experiments/atari100k_same_games.py experiments/results/atari100k/drq_eps \
        "DrQ(eps)=iris/results/data/DrQ(eps).json" "SPR=iris/results/data/SPR.json"

Each published file maps a game to the final scores of its runs (IRIS's results/data/*.json,
https://github.com/eloialonso/iris: 100 runs a game for DrQ(eps) and SPR). Where we have not
finished all 26 games, or ran one seed, the published aggregate over 26 games and many runs is
not what ours measures. This puts beside ours, for each agent on the games we have scored:
its IQM and median over all its runs, and the spread of the IQM of one of its runs a game (as
ours is, with one seed): where ours falls among those, as a percentile. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from envs.atari100k import normalized


def runs_matrix(published: dict[str, list[float]], games: list[str]) -> np.ndarray:
    """[runs, games] human-normalised scores of a published agent's runs on `games`."""
    n = min(len(published[g]) for g in games)
    return np.array([[normalized(g, published[g][i]) for g in games] for i in range(n)])


def same_games(ours: np.ndarray, theirs: np.ndarray) -> dict:
    """ours: [seeds, games]; theirs: [runs, games], normalised, the same games in order."""
    from rliable import metrics

    ours_iqm = float(metrics.aggregate_iqm(ours))
    one_run = np.array([metrics.aggregate_iqm(theirs[i:i + 1]) for i in range(len(theirs))])
    return {"runs": len(theirs), "iqm": round(float(metrics.aggregate_iqm(theirs)), 4),
            "median": round(float(metrics.aggregate_median(theirs)), 4),
            "one_run_a_game_iqm_2.5_50_97.5": [round(float(q), 4) for q in
                                                np.percentile(one_run, [2.5, 50, 97.5])],
            "ours_percentile_among_one_run_iqms": round(float((one_run < ours_iqm).mean()
                                                              + (one_run == ours_iqm).mean() / 2)
                                                        * 100, 1)}


def compare(suite: Path, published: dict[str, dict[str, list[float]]]) -> dict:
    """suite: a suite's directory; its scores.json names the games and seeds it aggregates,
    whose unrounded scores are in each run's summary.json."""
    from rliable import metrics

    from rl.commands.suite import finished_runs

    scores = json.loads((suite / "scores.json").read_text())
    games, seeds = scores["games_scored"], scores["seeds_aggregated"]
    runs = finished_runs(suite, games, seeds)  # each run's summary.json, as the suite reads it
    ours = np.array([[normalized(g, runs[g][s]["mean_return"]) for g in games] for s in seeds])
    return {"games": games, "seeds": len(seeds),
            "ours": {"iqm": round(float(metrics.aggregate_iqm(ours)), 4),
                     "median": round(float(metrics.aggregate_median(ours)), 4)},
            **{name: same_games(ours, runs_matrix(runs, games))
               for name, runs in published.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", type=Path, help="a suite's directory (with its scores.json)")
    parser.add_argument("published", nargs="+", help="NAME=FILE: a game -> run scores JSON")
    args = parser.parse_args()
    published = {}
    for item in args.published:
        name, _, path = item.partition("=")
        published[name] = json.loads(Path(path).read_text())
    print(json.dumps(compare(args.suite, published), indent=1))


if __name__ == "__main__":
    main()
