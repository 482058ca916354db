"""Why DQN runs flush denormal floats (rl/precision.py): Adam's step on a run's largest layer,
with its optimiser state from a checkpoint, with and without flushing, in fresh processes.

    python experiments/adam_denormal.py RUN/checkpoints/latest.pt [--threads 2]

Prints one JSON object: the share of the layer's first moment that is denormal and the ms an
Adam step takes each way. Zero gradients (the layer's dead inputs) keep the moments decaying.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import torch


def step_ms(path: str, threads: int, flush: bool) -> tuple[float, float]:
    if flush:  # before torch's threads start: they copy the setting (rl/precision.py)
        torch.set_flush_denormal(True)
    torch.set_num_threads(threads)
    state = torch.load(path, weights_only=True, map_location="cpu")
    moments = state["optimizer"]["state"]
    layer = max(moments, key=lambda k: moments[k]["exp_avg"].numel())
    avg = moments[layer]["exp_avg"]
    denormal = ((avg != 0) & (avg.abs() < torch.finfo(torch.float32).tiny)).float().mean()
    weight = torch.zeros_like(avg, requires_grad=True)
    opt = torch.optim.Adam([weight], lr=1e-4, eps=1.5e-4, fused=True)
    opt.state[weight] = {k: v.clone() for k, v in moments[layer].items()}
    weight.grad = torch.zeros_like(weight)
    for _ in range(3):
        opt.step()
    start, n = time.perf_counter(), 50
    for _ in range(n):
        opt.step()
    return float(denormal), (time.perf_counter() - start) / n * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--flush", choices=["yes", "no"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flush:
        print(json.dumps(step_ms(args.checkpoint, args.threads, args.flush == "yes")))
        return
    runs = {}
    for flush in ("no", "yes"):  # each in its own process: the setting cannot be undone
        out = subprocess.run([sys.executable, __file__, args.checkpoint, "--threads",
                              str(args.threads), "--flush", flush],
                             capture_output=True, text=True, check=True).stdout
        runs[flush] = json.loads(out)
    print(json.dumps({"checkpoint": args.checkpoint, "threads": args.threads,
                      "denormal_share_of_exp_avg": round(runs["no"][0], 4),
                      "adam_step_ms": round(runs["no"][1], 2),
                      "adam_step_ms_flushed": round(runs["yes"][1], 2)}))


if __name__ == "__main__":
    main()
