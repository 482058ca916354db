"""How far a self-play run's first iteration of updates moves a pretrained Go network by
themselves: `--steps` updates on GNU Go's positions alone (no self-play), with a fresh AdamW at
each learning rate, then the held-out figures (move accuracy, value loss) beside the start's.

    python experiments/finetune_drift.py experiments/agents/go9-supervised data/go9-run3 \
        --lrs 5e-4,5e-5 [--steps 100] [--threads 2]

Prints one JSON object. The go9 preset's batch, loss weights and weight decay; the held-out
games are the run's (one in ten, seed 0), as `rl train alphazero --pretrain` splits them.
"""
from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import numpy as np
import torch

from agents.alphazero.config import Config, defaults_for
from agents.alphazero.learner import LossWeights, fit, held_out_figures, split_records
from agents.alphazero.net import build_net, load_network_into
from envs.games import load_game
from rl.config import build_config
from rl.precision import flush_denormals
from rl.run import LossGuard

CPU = torch.device("cpu")


def drift(agent: Path, games: Path, lrs: list[float], steps: int) -> dict:
    layers = {"game": "go9", "pretrain": str(games)}
    cfg = build_config(Config, defaults_for(layers), layers)
    game = load_game(cfg.game)
    train, held_out, _ = split_records(games, game, 0)
    start = build_net(cfg, game)
    load_network_into(start, agent, game, cfg.backbone)
    rows = []
    for lr in lrs:
        net = copy.deepcopy(start)
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=cfg.weight_decay)
        losses = fit(net, opt, LossGuard(), game, train, steps, cfg.batch_size, CPU,
                     np.random.default_rng(0), LossWeights(cfg.ownership_weight, cfg.score_weight))
        rows.append({"lr": lr, "train_policy_value_loss": np.mean(losses, 0)[:2].round(4).tolist(),
                     **held_out_figures(net, held_out, CPU)})
    return {"agent": str(agent), "games": str(games), "steps": steps,
            "batch_size": cfg.batch_size, "start": held_out_figures(start, held_out, CPU),
            "after": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("agent", type=Path)
    parser.add_argument("games", type=Path, help="GNU Go's games (SGF file or folder)")
    parser.add_argument("--lrs", default="5e-4,5e-5", help="comma-separated learning rates")
    parser.add_argument("--steps", type=int, default=100, help="updates at each (default 100)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    flush_denormals()
    torch.set_num_threads(args.threads)
    print(json.dumps(drift(args.agent, args.games, [float(x) for x in args.lrs.split(",")],
                           args.steps)))


if __name__ == "__main__":
    main()
