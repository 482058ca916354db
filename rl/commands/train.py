"""`rl train ALGO`: the algorithm's Config gives the flags; a new run or `--resume DIR`, one run
per seed with `--seeds`, data-parallel under torchrun."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rl.commands.parsing import fail, train_parser
from rl.config import build_config, load_yaml, resumable_fields, saved_config, to_dict
from rl.distributed import Group
from rl.errors import UserError
from rl.present import rounded
from rl.run import Run, RunOptions


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


def cmd_train(algo: str | None, rest: list[str], compact: bool = False) -> int:
    from agents import ALGORITHMS, load_algorithm
    from rl.precision import flush_denormals

    flush_denormals()  # before anything starts torch's threads (data loading, torchrun's group)

    if algo is None:
        fail(f"name an algorithm: rl train ALGO (one of {', '.join(ALGORITHMS)})")
    module = load_algorithm(algo)
    args = train_parser(algo, module).parse_args(rest)
    if args.seeds:
        return train_seeds(algo, rest, args)
    if args.ray and not getattr(module, "RAY_ACTORS", False):
        raise UserError(f"--ray runs the seeds of --seeds at once: name them (--seeds 0,1,2); "
                        f"{algo} has no Ray actors of its own")
    flags = {k: v for k, v in vars(args).items() if k in module.Config.__dataclass_fields__}
    opts = RunOptions(device=resolve_device(args.device), progress=not args.no_progress,
                      tensorboard=args.tensorboard, wandb=args.wandb, on_nan=args.on_nan,
                      ray=args.ray)

    group = join_torchrun(algo, module, opts)
    if not group.main:  # other processes follow rank 0's run directory and resolved config
        path = group.share(None)
        if path is None:
            return 2  # rank 0 has reported what went wrong
        run = Run.replica(Path(path))
        cfg = saved_config(module.Config, run.config)
        return execute(module, cfg, run, opts, resume=args.resume is not None, fresh=False)
    try:
        run, cfg, resume = open_run(algo, module, args, flags, opts)
    except BaseException:
        group.share(None)
        raise
    group.share(str(run.path))
    return execute(module, cfg, run, opts, resume=resume, fresh=not resume, compact=compact)


def train_seeds(algo: str, rest: list[str], args: argparse.Namespace) -> int:
    """`--seeds 0,1,2`: the same command once per seed, each in its own run directory."""
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise UserError(f"--seeds expects integers separated by commas, got {args.seeds!r}") \
            from None
    if args.resume or "--seed" in rest or not seeds:
        raise UserError("--seeds takes the seeds itself: drop --seed/--resume, name one or more")
    base = args.run_dir or default_run_dir(f"{algo}-seeds")
    own = without(rest, "--seeds", "--run-dir", "--ray")
    if args.ray:
        return seeds_on_cluster(algo, own, seeds, base.resolve(), args.ray)
    for seed in seeds:
        code = cmd_train(algo, [*own, "--seed", str(seed), "--run-dir", str(base / f"seed{seed}")],
                         compact=True)
        if code:
            return code
    return 0


def without(argv: list[str], *flags: str) -> list[str]:
    """argv less each of these flags and its value."""
    out, skip = [], False
    for word in argv:
        if skip:
            skip = False
        elif word in flags:
            skip = True
        else:
            out.append(word)
    return out


def seeds_on_cluster(algo: str, own: list[str], seeds: list[int], base: Path,
                     address: str) -> int:
    """`--seeds ... --ray`: every seed a Ray task at once (a suite: finished seeds are skipped
    and interrupted ones resumed when the command runs again); JSON Lines of the summaries."""
    from rl.cluster import connect, disconnect, ray_launcher
    from rl.suite import Job, Suite

    threads = int(own[own.index("--threads") + 1]) if "--threads" in own else 1
    jobs = [Job(f"seed{s}", algo, [*own, "--seed", str(s)], base / f"seed{s}") for s in seeds]
    connect(address)
    try:
        suite = Suite(jobs, len(jobs), base / "logs", ray_launcher(max(threads, 1)))
        suite.run()
    finally:
        disconnect()
    for job in jobs:
        if job.status == "done":
            print(json.dumps(json.loads((job.run_dir / "summary.json").read_text())))
    return suite.exit_code()


def join_torchrun(algo: str, module: Any, opts: RunOptions) -> Group:
    """Under torchrun, join the process group; rank 0 alone shows progress and logs."""
    from rl import distributed

    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not getattr(module, "DATA_PARALLEL", False):
        raise UserError(f"{algo} does not train data-parallel: run it without torchrun")
    group = distributed.init_from_env(opts.device)
    opts.device = distributed.local_device(opts.device)
    opts.world_size = group.world
    if not group.main:
        opts.progress = opts.tensorboard = opts.wandb = False
    return group


def open_run(algo: str, module: Any, args: argparse.Namespace, flags: dict[str, Any],
             opts: RunOptions) -> tuple[Run, Any, bool]:
    """The run directory and config: a new run, or the saved one of --resume DIR."""
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
        run.update_config({"algo": algo, **to_dict(cfg), "run": run_options(opts)})
        run.remove_partial_writes()
        return run, cfg, True

    from_yaml = load_yaml(args.config) if args.config else {}
    presets = getattr(module, "defaults_for", lambda _: {})({**from_yaml, **flags})
    cfg = build_config(module.Config, presets, from_yaml, flags)
    path = args.run_dir or default_run_dir(cfg.run_name())
    run = Run.create(path, {"algo": algo, **to_dict(cfg), "run": run_options(opts)},
                     overwrite=args.overwrite)
    return run, cfg, False


def run_options(opts: RunOptions) -> dict[str, Any]:
    """The run options config.yaml records (a benchmark's hook is no option)."""
    return {k: v for k, v in asdict(opts).items() if k != "step_hook"}


def execute(module: Any, cfg: Any, run: Run, opts: RunOptions, *, resume: bool,
            fresh: bool, compact: bool = False) -> int:
    """Train; a fresh run that fails on user input leaves no directory behind."""
    from rl import distributed

    run.guard.policy = opts.on_nan
    try:
        summary = module.train(cfg, run, opts, resume)
    except UserError:
        if fresh and not run.has_checkpoint():
            run.discard()
        elif resume:
            run.revert_config()
        raise
    except FloatingPointError as e:  # diverged: keep the last good checkpoint, say so
        kept = (f"the last good checkpoint is {run.checkpoint_path()}" if run.has_checkpoint()
                else "no checkpoint had been written yet")
        print(f"rl: error: training diverged ({e}); {kept} (try a lower --lr or "
              "--max-grad-norm)", file=sys.stderr)
        return 3
    finally:
        run.close()
        distributed.close()
    if not run.writes:
        return run.stop.exit_code
    if run.stop:
        kept = ("checkpoint saved" if run.has_checkpoint()
                else "no checkpoint yet, so a resume starts over")
        print(f"stopped at a clean point; {kept}. Resume with:\n"
              f"  rl train {run.config['algo']} --resume {run.path}", file=sys.stderr)
        return run.stop.exit_code
    if run.guard.skipped:
        summary["skipped_updates"] = run.guard.skipped
    summary = rounded({**summary, "run_dir": str(run.path)})
    run.write_summary(summary)
    print(json.dumps(summary) if compact else json.dumps(summary, indent=2))
    return 0


