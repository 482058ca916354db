"""Times the README's commands as a newcomer types them, on this CPU or as an AVX2-only one.

    python experiments/readme_timings.py --isa avx2 --out experiments/results/readme-timings

Run it in a fresh clone (after `make install`, with ../shared/data beside the clone): each
command runs as written, in order, with the README's placeholders filled in as a shell user
would (`runs/qlearning-FrozenLake-v1-<timestamp>` is the run an earlier command wrote). A
command that takes longer than its cap is stopped there (SIGINT, as Ctrl-C) and its last
progress line gives the rate to set against the README's figure. `--isa avx2` caps oneDNN and
PyTorch's own kernels at AVX2 (ONEDNN_MAX_CPU_ISA, ATEN_CPU_CAPABILITY), so an AVX-512 machine
runs what an AVX2-only CPU runs and `rl` finds no native bfloat16, as on such a CPU.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

# (command exactly as in the README, cap in seconds, what the README says it takes)
COMMANDS: list[tuple[str, int, str]] = [
    ("rl --help", 30, "instant"),
    ("rl train qlearning --env FrozenLake-v1 --seed 0", 120, "35 s"),
    ("rl eval runs/qlearning-FrozenLake-v1-<timestamp> --episodes 2000 --json", 60, "seconds"),
    ("rl train dqn --env CartPole-v1 --steps 100000 --seed 0", 60,
     "662 s for 100k steps (151 steps/s)"),
    ("rl train dqn --env Pong", 60, "1.45M steps in about 6 h 15 min (64 steps/s)"),
    ("rl bench dqn --env Pong --json", 180, "ours 133 vs SB3 95 train-phase steps/s (AVX2 EPYC)"),
    ("rl bench dqn --env Pong --amp --json", 180, "bf16 where native; fp32 with a note here"),
    ("rl train dqn --env Breakout --preset drq_eps", 60,
     "about 50 min a 100k run alone on 2 threads (33 steps/s)"),
    ("rl bench update --json", 60, "47.1 updates/s on 2 threads (Zen 4)"),
    ("rl eval experiments/agents/pong --episodes 30 --json", 300, "not stated"),
    ("rl record experiments/agents/pong --episodes 1", 60, "not stated"),
    ("rl train classifier --backbone deepcnn --dataset mnist-10k --data-dir ../shared/data", 150,
     "89.7 s wall"),
    ("rl bench classifier --data-dir ../shared/data", 150, "1,531 vs 1,449 images/s"),
    ("torchrun --standalone --nproc-per-node 2 --no-python rl train classifier "
     "--data-dir ../shared/data", 150, "about the single-process time"),
    ("rl eval experiments/agents/fashion_mnist --json", 120,
     "fp32 alone where bf16/fp16 are not native (issue 27: killed silent at 120 s)"),
    ("rl train classifier --dataset fashion-mnist", 90, "1,372 s for 40 epochs (34 s an epoch)"),
    ("rl train alphazero --game tic_tac_toe --seed 0", 120, "4 min 29 s of training"),
    ("rl eval runs/alphazero-tic_tac_toe-<timestamp> --opponent minimax --games 100 --json", 120,
     "not stated"),
    ("rl games generate --game connect_four --expert mcts:1000 --games 500 --out c4.txt", 45,
     "not stated"),
    ("rl bench selfplay --game connect_four", 120, "67.2 vs 12.1 positions/s"),
    ("rl eval experiments/agents/connect_four --opponent mcts:1000 --games 100 --simulations 400 "
     "--json", 60, "not stated"),
    ('rl eval experiments/agents/go9 --opponent gtp:"gnugo --mode gtp --level 1" --games 200',
     90, "agent 2 s a move at most"),
    ("rl train qlearning --env Taxi-v3 --seeds 0,1,2,3,4 --run-dir runs/taxi", 200,
     "38 s a seed"),
    ("rl compare runs/taxi/seed* --metric eval_return", 60, "seconds"),
    ("rl export runs/<run> --out my-agent", 60, "seconds"),
]
ISA = {"avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}, "native": {}}
PROGRESS = re.compile(r"\d[\d,]*/[\d,]+|steps/s|it/s|games|positions/s|epoch", re.I)


def argv_for(command: str, cwd: Path) -> list[str]:
    """The README's placeholders and globs, as a shell user fills them in: `<timestamp>` is the
    newest run of that name, `runs/<run>` the newest run of all."""
    runs = sorted(cwd.glob("runs/**/config.yaml"), key=lambda p: p.stat().st_mtime)
    if runs:
        command = command.replace("runs/<run>", str(runs[-1].parent.relative_to(cwd)))
    for pattern in re.findall(r"runs/[\w.-]+-<[^>]+>", command):
        found = sorted(cwd.glob(pattern.split("<")[0] + "*"))
        command = command.replace(pattern, str(found[-1].relative_to(cwd)) if found else pattern)
    argv = []
    for word in shlex.split(command):
        expanded = sorted(cwd.glob(word)) if "*" in word else []
        argv += [str(p.relative_to(cwd)) for p in expanded] or [word]
    return argv


def timed(argv: list[str], cap: int, env: dict[str, str], cwd: Path) -> dict:
    """Run one command to its end or its cap; wall time, first output and last progress line."""
    start = time.perf_counter()
    # Ctrl-C as in a terminal, even when this script runs in the background (which ignores it)
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines: list[tuple[float, str]] = []

    def read() -> None:
        for line in proc.stdout:
            if line.strip():
                lines.append((time.perf_counter() - start, line.rstrip()))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        proc.wait(cap)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C: the run checkpoints and says so
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    reader.join(5)
    wall = time.perf_counter() - start
    text = [s for _, s in lines]
    last = next((s for s in reversed(text) if PROGRESS.search(s)), text[-1] if text else "")
    return {"wall_s": round(wall, 1), "capped": wall >= cap, "exit": proc.returncode,
            "first_output_s": round(lines[0][0], 1) if lines else None,
            "last_progress": last.strip()[:160], "tail": text[-6:]}


def not_in_readme(readme: str) -> list[str]:
    """A command's words before its options must be the README's, so the two cannot drift."""
    return [c for c, _, _ in COMMANDS if c.split(" --")[0] not in readme]


def cpu() -> str:
    """The CPU's name and what it computes natively, for the timings' heading."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    name = re.search(r"model name\s*:\s*(.*)", info)
    flags = set(re.search(r"flags\s*:\s*(.*)", info).group(1).split()) if info else set()
    has = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    model = name.group(1) if name else platform.machine()
    return f"{model}, {os.cpu_count()} cores, {' '.join(has)}"


def table(meta: dict) -> str:
    rows = [f"# README commands timed ({meta['isa']}; {meta['cpu']}; {meta['date']})", "",
            "| command | the README says | wall s | ended | first output s | last progress line |",
            "| --- | --- | --- | --- | --- | --- |"]
    for r in meta["commands"]:
        ended = f"stopped at the {r['cap_s']} s cap" if r["capped"] else f"exit {r['exit']}"
        line = r["last_progress"].replace("|", "/")
        rows.append(f"| `{r['command']}` | {r['readme']} | {r['wall_s']} | {ended} | "
                    f"{r['first_output_s']} | {line} |")
    return "\n".join(rows) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--isa", choices=sorted(ISA), default="native")
    parser.add_argument("--out", type=Path, required=True, help="folder for timings.json/.md")
    parser.add_argument("--only", default="", help="run commands containing this text")
    args = parser.parse_args()
    missing = not_in_readme(Path("README.md").read_text())
    if missing:
        print(f"not in the README (update COMMANDS): {missing[0]}", file=sys.stderr)
        return 2
    cwd = Path.cwd()
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, **ISA[args.isa], "PATH": f"{bin_dir}:/usr/games:{os.environ['PATH']}",
           "WANDB_MODE": "offline", "PYTHONUNBUFFERED": "1"}
    results = []
    for command, cap, readme_says in COMMANDS:
        if args.only not in command:
            continue
        row = {"command": command, "cap_s": cap, "readme": readme_says,
               **timed(argv_for(command, cwd), cap, env, cwd)}
        print(json.dumps({k: row[k] for k in ("command", "wall_s", "capped", "exit")}),
              flush=True)
        results.append(row)
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"isa": args.isa, "cpu": cpu(), "date": time.strftime("%Y-%m-%d %H:%M"),
            "commands": results}
    (args.out / f"timings-{args.isa}.json").write_text(json.dumps(meta, indent=1) + "\n")
    (args.out / f"timings-{args.isa}.md").write_text(table(meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
