"""The `rl` command: `rl train ALGO`, `rl eval DIR`, `rl envs`.

Parsing is two-stage: `rl train ALGO ...` imports only that algorithm, whose Config dataclass
supplies its flags, so `rl --help` stays fast and torch is loaded only when needed.
User mistakes end in one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import errno
import json
import re
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn

from rl import __version__
from rl.config import add_config_args, build_config, load_yaml, resumable_fields, to_dict
from rl.errors import UserError, did_you_mean
from rl.run import Run, RunOptions

EXAMPLES = """examples:
  rl train qlearning --env FrozenLake-v1 --seed 0     tabular Q-learning, then value iteration
  rl train qlearning --env Taxi-v3 --config experiments/qlearning-taxi.yaml
  rl eval runs/qlearning-FrozenLake-v1-20261123-101500 --episodes 1000 --json
  rl train qlearning --resume runs/qlearning-FrozenLake-v1-20261123-101500
  rl train dqn --env CartPole-v1 --steps 100000       DQN on a vector env (RL Zoo preset)
  rl train dqn --env Pong                             DQN on Atari, Nature CNN, 10M steps

every run writes one directory: config.yaml, metrics.csv, summary.json, checkpoints/, plots.
"""


class Parser(argparse.ArgumentParser):
    """argparse that reports mistakes in one line, with a suggestion when one is close."""

    def error(self, message: str) -> NoReturn:
        m = re.search(r"unrecognized arguments: (\S+)", message)
        if m:
            known = [s for a in self._actions for s in a.option_strings]
            message = f"unknown option {m.group(1)}{did_you_mean(m.group(1), known)}"
        m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if m:
            choices = re.findall(r"'?([\w.-]+)'?", m.group(2))
            message = (f"{message.split(':')[0]}: unknown value {m.group(1)!r}"
                       f"{did_you_mean(m.group(1), choices)}; choose from {', '.join(choices)}")
        fail(f"{message} (see '{self.prog} --help')")


def fail(message: str) -> NoReturn:
    print(f"rl: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def main_parser() -> Parser:
    from agents import ALGORITHMS

    parser = Parser(prog="rl", description="Deep reinforcement learning: tabular Q-learning, "
                    "DQN on Atari, CNN classifiers and self-play, one command.",
                    epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"rl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    algos = "\n".join(f"  {n:<12} {d}" for n, (_, d) in ALGORITHMS.items())
    train = sub.add_parser("train", help="train an agent; `rl train ALGO --help` lists its options",
                           description=f"Train an agent.\n\nalgorithms:\n{algos}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("algo", nargs="?", help="algorithm name")
    train.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    ev = sub.add_parser("eval", help="evaluate a trained run", description="Evaluate the agent "
                        "saved in a run directory and print its figures.")
    ev.add_argument("run_dir", type=Path, help="run directory written by `rl train`")
    ev.add_argument("--episodes", type=int, default=100, help="episodes to play (default 100)")
    ev.add_argument("--checkpoint", default="best",
                    help="best, latest, or a path to a checkpoint file (default best)")
    ev.add_argument("--seed", type=int, default=None, help="seed of the evaluation episodes")
    ev.add_argument("--precision", choices=["fp32", "bf16", "fp16", "all"], default="all",
                    help="classifiers: numeric precision(s) to report accuracy at (default all)")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    sub.add_parser("envs", help="list the environment ids that --env accepts")
    bench = sub.add_parser("bench", help="measure us against the reference implementation",
                           description="Benchmarks run ours and the reference in the same "
                           "process sequence and report the ratio.")
    bench.add_argument("what", choices=["dqn", "classifier"],
                       help="dqn: our DQN vs stable-baselines3's; classifier: our training "
                       "loop vs a plain PyTorch loop")
    bench.add_argument("--env", default="Pong", help="env to train on (default Pong)")
    bench.add_argument("--steps", type=int, default=2000,
                       help="training-phase steps timed for each (default 2000)")
    bench.add_argument("--learning-starts", type=int, default=1000,
                       help="random steps before learning, not timed (default 1000)")
    bench.add_argument("--buffer-size", type=int, default=100_000, help="replay capacity")
    bench.add_argument("--backbone", default="deepcnn", help="classifier: backbone (default deepcnn)")
    bench.add_argument("--dataset", default="mnist-10k", help="classifier: data set (default mnist-10k)")
    bench.add_argument("--data-dir", type=Path, help="classifier: folder holding <dataset>/")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def train_parser(algo: str, module: Any) -> Parser:
    p = Parser(prog=f"rl train {algo}", description=(module.__doc__ or "").strip(),
               formatter_class=argparse.RawDescriptionHelpFormatter)
    run = p.add_argument_group("run options")
    run.add_argument("--config", type=Path, help="YAML file of options (flags win over it)")
    run.add_argument("--run-dir", type=Path, help="where to write the run "
                     "(default runs/<algo>-<env>-<timestamp>)")
    run.add_argument("--resume", type=Path, metavar="DIR",
                     help="continue the run in DIR from its latest checkpoint")
    run.add_argument("--overwrite", action="store_true", help="replace an existing --run-dir")
    run.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                     help="where networks run (default auto: cuda when present)")
    run.add_argument("--tensorboard", action="store_true", help="also log to TensorBoard")
    run.add_argument("--wandb", action="store_true",
                     help="also log to wandb (offline unless you are logged in)")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_config_args(p, module.Config)
    return p


def resolve_device(name: str) -> str:
    if name == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UserError("--device cuda was asked for but no CUDA device is available "
                            "(use --device auto or cpu)")
    return name


def default_run_dir(run_name: str) -> Path:
    base = Path("runs") / f"{run_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def cmd_train(algo: str | None, rest: list[str]) -> int:
    from agents import ALGORITHMS, load_algorithm

    if algo is None:
        fail(f"name an algorithm: rl train ALGO (one of {', '.join(ALGORITHMS)})")
    module = load_algorithm(algo)
    args = train_parser(algo, module).parse_args(rest)
    flags = {k: v for k, v in vars(args).items() if k in module.Config.__dataclass_fields__}
    opts = RunOptions(device=resolve_device(args.device), progress=not args.no_progress,
                      tensorboard=args.tensorboard, wandb=args.wandb)

    if args.resume:
        if args.config or args.run_dir:
            raise UserError("--resume uses the run's own config.yaml and directory: drop "
                            "--config/--run-dir")
        run = Run.open(args.resume)
        saved = {k: v for k, v in run.config.items() if k not in ("algo", "run")}
        if run.config["algo"] != algo:
            raise UserError(f"{args.resume} is a {run.config['algo']} run, not {algo}: use "
                            f"`rl train {run.config['algo']} --resume {args.resume}`")
        changed = [k for k, v in flags.items()
                   if k not in resumable_fields(module.Config) and saved.get(k) != v]
        if changed:
            raise UserError(f"cannot change --{changed[0].replace('_', '-')} when resuming "
                            "(start a new run instead)")
        cfg = build_config(module.Config, saved, flags)
        run.update_config({"algo": algo, **to_dict(cfg), "run": asdict(opts)})
        return execute(module, cfg, run, opts, resume=True, fresh=False)

    from_yaml = load_yaml(args.config) if args.config else {}
    presets = getattr(module, "defaults_for", lambda _: {})({**from_yaml, **flags})
    cfg = build_config(module.Config, presets, from_yaml, flags)
    path = args.run_dir or default_run_dir(cfg.run_name())
    run = Run.create(path, {"algo": algo, **to_dict(cfg), "run": asdict(opts)},
                     overwrite=args.overwrite)
    return execute(module, cfg, run, opts, resume=False, fresh=True)


def execute(module: Any, cfg: Any, run: Run, opts: RunOptions, *, resume: bool,
            fresh: bool) -> int:
    """Train; a fresh run that fails on user input leaves no directory behind."""
    try:
        summary = module.train(cfg, run, opts, resume)
    except UserError:
        if fresh and not run.has_checkpoint():
            run.discard()
        raise
    except FloatingPointError as e:  # diverged: keep the last good checkpoint, say so
        kept = (f"the last good checkpoint is {run.checkpoint_path()}" if run.has_checkpoint()
                else "no checkpoint had been written yet")
        print(f"rl: error: training diverged ({e}); {kept} (try a lower --lr or "
              "--max-grad-norm)", file=sys.stderr)
        return 3
    finally:
        run.close()
    if run.stop:
        print(f"stopped at a clean point; checkpoint saved. Resume with:\n"
              f"  rl train {run.config['algo']} --resume {run.path}", file=sys.stderr)
        return run.stop.exit_code
    summary = {**summary, "run_dir": str(run.path)}
    run.write_summary(summary)
    print(json.dumps(summary, indent=2))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from agents import load_algorithm

    if args.episodes < 1:
        raise UserError(f"--episodes must be >= 1, got {args.episodes}")
    run = Run.open(args.run_dir)
    module = load_algorithm(run.config["algo"])
    if args.checkpoint == "best" and not run.has_checkpoint("best"):
        args.checkpoint = "latest"
    result = module.evaluate(run, args)
    if args.json:
        print(json.dumps(result))
    else:
        width = max(map(len, result))
        for k, v in result.items():
            print(f"{k:<{width}}  {v:.4g}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    return 0


def cmd_envs() -> int:
    import gymnasium as gym

    from envs.atari import atari_games

    games = atari_games()  # registers ALE's ids too
    for env_id in sorted(gym.registry):
        print(env_id)
    print(f"\nAtari games by short name (DQN preprocessing): {' '.join(games)}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from agents.bench import bench_classifier, bench_dqn

    for name in ("steps", "learning_starts", "buffer_size"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be >= 1")
    if args.what == "classifier":
        result = bench_classifier(args.backbone, args.dataset, args.data_dir)
        rows = [("train images/s", "ours_images_per_s", "plain_images_per_s", "ratio")]
        header = ("ours", "plain torch")
    else:
        result = bench_dqn(args.env, args.steps, args.learning_starts, args.buffer_size)
        rows = [("train-phase steps/s", "ours_sps", "sb3_sps", "sps_ratio"),
                ("replay bytes/transition", "ours_bytes_per_transition",
                 "sb3_bytes_per_transition", None)]
        header = ("ours", "sb3")
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{'':28}{header[0]:>12}{header[1]:>12}{'ratio':>8}")
    for label, ours, ref, ratio in rows:
        print(f"{label:28}{result[ours]:>12}{result[ref]:>12}"
              f"{result[ratio] if ratio else '':>8}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = main_parser()
    try:
        if argv and argv[0] == "train":
            rest = argv[1:]
            algo = rest[0] if rest else None
            if algo in ("-h", "--help"):
                parser.parse_args(["train", "--help"])
            return cmd_train(algo, rest[1:])
        args = parser.parse_args(argv)
        if args.command == "eval":
            return cmd_eval(args)
        if args.command == "envs":
            return cmd_envs()
        if args.command == "bench":
            return cmd_bench(args)
        parser.print_help()
        return 0
    except UserError as e:
        fail(str(e))
    except OSError as e:
        # a full disk or a read-only directory is the user's to fix, not a bug to trace
        if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM):
            where = f" ({e.filename})" if e.filename else ""
            fail(f"{e.strerror}{where}: free space or choose another --run-dir; "
                 "completed checkpoints are intact")
        raise


if __name__ == "__main__":
    sys.exit(main())
