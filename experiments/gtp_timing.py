"""Seconds a move takes in `rl gtp`, in fp32 and in bf16, natively and with PyTorch's kernels
capped at AVX2 (an AVX2-only CPU, where bf16 is emulated). Run on a quiet machine:

    python experiments/gtp_timing.py experiments/agents/go9 --out timings.json

Each setting is a fresh `rl gtp` process asked for 12 moves (alternating colours, one game);
the first two are warm-up, the median of the other ten is reported.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

AVX2 = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}


def ask(proc: subprocess.Popen, command: str) -> str:
    """One GTP exchange: the answer ends with an empty line."""
    proc.stdin.write(command + "\n")
    proc.stdin.flush()
    lines = []
    while (line := proc.stdout.readline()) != "\n":
        if not line:
            raise SystemExit(f"rl gtp ended: {proc.stderr.read()}")
        lines.append(line)
    return "".join(lines)


def seconds_a_move(agent: str, precision: str, env: dict[str, str], moves: int = 12) -> dict:
    proc = subprocess.Popen([sys.executable, "-m", "rl.cli", "gtp", agent, "--precision",
                             precision], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    ask(proc, "name")  # the network is loaded
    times = []
    for i in range(moves):
        t0 = time.perf_counter()
        ask(proc, "genmove " + "bw"[i % 2])
        times.append(time.perf_counter() - t0)
    proc.stdin.write("quit\n")
    proc.stdin.flush()
    note = proc.communicate(timeout=60)[1].strip().splitlines()[-1:]
    timed = sorted(times[2:])
    return {"median_s": round(timed[len(timed) // 2], 3), "moves": len(timed), "note": note}


def machine() -> dict:
    """The CPU the figures are of: its name and the instruction sets that decide bf16's cost."""
    import torch

    from rl.precision import bf16_native

    first = Path("/proc/cpuinfo").read_text().split("\n\n")[0]  # the first core's facts
    facts = dict(map(str.strip, line.split(":", 1)) for line in first.splitlines() if ":" in line)
    return {"model": facts.get("model name", "unknown"), "cores": os.cpu_count(),
            "avx512": any(f.startswith("avx512") for f in facts.get("flags", "").split()),
            "bf16_native": bf16_native(torch.device("cpu"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("agent", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    out = {"cpu": machine()}
    for cap, extra in (("native", {}), ("avx2", AVX2)):
        for precision in ("fp32", "bf16"):
            key = f"{cap} {precision}"
            out[key] = seconds_a_move(str(args.agent), precision, {**os.environ, **extra})
            print(key, out[key], flush=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
