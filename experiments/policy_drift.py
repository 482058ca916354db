"""How far self-play moved a Go network's policy from the network it started from, on GNU Go's
held-out positions: KL(start || network) and each policy's entropy (nats), beside the
held-out move accuracy and value loss.

    python experiments/policy_drift.py experiments/agents/go9-supervised data/go9-run3 \
        runs/go9-sp-value-experts runs/go9-sp-lr1e-4 [--positions 2000] [--threads 2] \
        [--prior-temperature T]

Prints one JSON object. The held-out games are a run's (one in ten, seed 0), as `rl train
alphazero --pretrain` splits them; the first `--positions` of them are used. With
`--prior-temperature T` the networks' policies (not the start's, the KL's anchor) are
softmax(logits / T), as `rl eval --prior-temperature T` searches with them.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from agents.alphazero.learner import PolicyAnchor, held_out_figures, split_records
from agents.alphazero.net import load_net
from rl.precision import flush_denormals
from rl.run import Run

CPU = torch.device("cpu")


def policy_figures(start: torch.nn.Module, net: torch.nn.Module, planes: torch.Tensor,
                   temperature: float = 1.0) -> dict[str, float]:
    with torch.inference_mode():
        logits = net.eval()(planes)[0].float() / temperature
        log_p = F.log_softmax(logits, 1)
        return {"kl_from_start": round(float(PolicyAnchor(start, 1.0).loss(planes, logits)), 4),
                "policy_entropy": round(float(-(log_p.exp() * log_p).sum(1).mean()), 4)}


def drift(start_dir: Path, games: Path, runs: list[Path], positions: int,
          temperature: float = 1.0) -> dict:
    _, game, start, _ = load_net(Run.open(start_dir))
    held_out = split_records(games, game, 0)[1]
    planes = torch.from_numpy(held_out[0].planes[:positions].astype(np.float32))
    rows = []
    for path in [start_dir, *runs]:
        net = load_net(Run.open(path))[2]
        rows.append({"network": str(path), **policy_figures(start, net, planes, temperature),
                     **{k: round(v, 4) for k, v in held_out_figures(net, held_out, CPU).items()}})
    return {"start": str(start_dir), "games": str(games), "positions": len(planes),
            "prior_temperature": temperature, "networks": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("start", type=Path, help="the network the runs started from")
    parser.add_argument("games", type=Path, help="GNU Go's games (SGF file or folder)")
    parser.add_argument("runs", type=Path, nargs="*", help="self-play run directories")
    parser.add_argument("--positions", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prior-temperature", type=float, default=1.0)
    args = parser.parse_args()
    flush_denormals()
    torch.set_num_threads(args.threads)
    print(json.dumps(drift(args.start, args.games, args.runs, args.positions,
                           args.prior_temperature)))


if __name__ == "__main__":
    main()
