"""Which root value of Gumbel's search predicts a self-play game's outcome better: the mean over
the root's simulations (PUCT's value) or the improved policy's expected completed Q (what
agents/gumbel.py's `root_value` gives)? Plays self-play games with a run's best network at its
own settings with Gumbel's search, and prints each value's mean and squared error against the
outcome for the side to move.

    python experiments/gumbel_value_check.py RUN_DIR [--simulations 16] [--games 128]

Results: experiments/results/alphazero.md ("The root's value under Gumbel")."""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import torch

from agents import gumbel
from agents.alphazero.net import NetEvaluator, load_net
from agents.alphazero.selfplay import PlaySettings, searched
from agents.mcts import Node, advance
from rl.run import Run


def values_and_outcomes(run_dir: Path, simulations: int, games: int, seed: int) -> np.ndarray:
    """Rows of (mean over simulations, improved policy's value, network's value, outcome)."""
    cfg, game, net, _ = load_net(Run.open(run_dir), "best")
    search = dataclasses.replace(cfg.search_config(simulations), kind="gumbel")
    play, evaluator = PlaySettings(search, 0), NetEvaluator(net, torch.device("cpu"))
    rng = np.random.default_rng(seed)
    roots = [Node(game.new_state()) for _ in range(games)]
    seen: list[list[tuple[int, float, float, float]]] = [[] for _ in roots]
    while live := [i for i, r in enumerate(roots) if not r.terminal]:
        moves = searched([roots[i] for i in live], game, evaluator, play, rng,
                         [simulations] * len(live), [True] * len(live), [0] * len(live),
                         [False] * len(live))
        for i, (action, _) in zip(live, moves):
            root = roots[i]
            seen[i].append((root.player, root.mean_value(), gumbel.root_value(root, search),
                            root.value))
            roots[i] = advance(root, action)
    return np.array([(m, v, n, root.returns[p])
                     for root, rows in zip(roots, seen) for p, m, v, n in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--simulations", type=int, default=16)
    parser.add_argument("--games", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = values_and_outcomes(args.run_dir, args.simulations, args.games, args.seed)
    outcome = rows[:, 3]
    for name, col in (("mean over simulations", 0), ("improved policy's value", 1),
                      ("network's value", 2)):
        print(f"{name:24s} mean {rows[:, col].mean():+.3f}  "
              f"squared error to the outcome {((rows[:, col] - outcome) ** 2).mean():.3f}")
    print(f"outcome for the side to move: mean {outcome.mean():+.3f}, {len(rows)} positions")


if __name__ == "__main__":
    main()
