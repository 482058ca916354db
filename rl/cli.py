"""The `rl` command: `rl train ALGO`, `rl eval DIR`, `rl envs`.

Parsing is two-stage: `rl train ALGO ...` imports only that algorithm, whose Config dataclass
supplies its flags, so `rl --help` stays fast and torch is loaded only when needed.
User mistakes end in one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rl import __version__
from rl.commands.parsing import Parser, fail, train_parser
from rl.config import (
    build_config,
    load_yaml,
    resumable_fields,
    saved_config,
    to_dict,
)
from rl.distributed import Group
from rl.errors import UserError
from rl.present import as_text, rounded
from rl.run import Run, RunOptions

EXAMPLES = """examples:
  rl train qlearning --env FrozenLake-v1 --seed 0     tabular Q-learning, then value iteration
  rl train qlearning --env Taxi-v3 --config experiments/qlearning-taxi.yaml
  rl eval runs/qlearning-FrozenLake-v1-20261123-101500 --episodes 1000 --json
  rl train qlearning --resume runs/qlearning-FrozenLake-v1-20261123-101500
  rl train dqn --env CartPole-v1 --steps 100000       DQN on a vector env (RL Zoo preset)
  rl train dqn --env Pong                             DQN on Atari, Nature CNN, 10M steps
  rl train alphazero --game tic_tac_toe               self-play with MCTS (AlphaZero)
  rl eval runs/alphazero-tic_tac_toe-... --opponent minimax --games 100
  rl play runs/alphazero-connect_four-...             play the agent in the terminal

every run writes one directory: config.yaml, metrics.csv, summary.json, checkpoints/, plots.
"""


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
    ev.add_argument("run_dir", type=Path, nargs="+", help="run directory written by `rl train`; "
                    "several classifier runs: their ensemble (probabilities averaged)")
    ev.add_argument("--episodes", type=int, default=100, help="episodes to play (default 100)")
    ev.add_argument("--checkpoint", default="best",
                    help="best, latest, another name in DIR/checkpoints (pretrained) or a "
                    "path to a checkpoint file (default best)")
    ev.add_argument("--seed", type=int, default=None, help="seed of the evaluation episodes")
    ev.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16", "all"],
                    default="auto", help="classifiers: numeric precision(s) to report accuracy "
                    "at (default auto: fp32, and bf16/fp16 where this machine computes them "
                    "natively); self-play agents: the search's, fp32 or bf16 (default: the "
                    "run's, where native). An emulated precision asked for is run, with a note")
    ev.add_argument("--opponent", help="self-play agents: random, minimax, minimax:DEPTH, mcts:N "
                    "(open_spiel's MCTSBot), gtp:COMMAND (a GTP engine such as GNU Go) or "
                    "another run directory (default random)")
    ev.add_argument("--games", type=int, help="self-play agents: games, alternating who moves "
                    "first (default: --episodes)")
    ev.add_argument("--simulations", type=int, help="self-play agents: MCTS simulations per move "
                    "(default: the run's)")
    ev.add_argument("--referee", help="Go: engine whose final_score decides each game, or "
                    "'none' for open_spiel's Tromp-Taylor (default: GNU Go against GNU Go)")
    ev.add_argument("--save-games", type=Path, metavar="DIR",
                    help="Go: write each game as SGF to DIR as it ends")
    ev.add_argument("--parallel", type=int, help="self-play agents: games played at once "
                    "(default: all; 32 against a GTP engine)")
    ev.add_argument("--timeout", type=float, default=60.0,
                    help="seconds a GTP engine may take to answer with a core to "
                    "itself (default 60; times the games sharing each core)")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    sub.add_parser("envs", help="list the environment ids that --env accepts",
                   description="List the environments `rl train dqn|qlearning --env` can make "
                   "on this machine: gymnasium's ids, then the Atari games by short name.")
    bench = sub.add_parser("bench", help="measure us against the reference implementation",
                           description="Benchmarks run ours and the reference in the same "
                           "process sequence and report the ratio.")
    bench.add_argument("what", choices=["dqn", "update", "classifier", "selfplay"],
                       help="dqn: our DQN vs stable-baselines3's; update: a DQN preset's "
                       "gradient updates/s vs a plain PyTorch update and the machine's limit, "
                       "and where a training step's time goes; classifier: our training "
                       "loop vs a plain PyTorch loop; selfplay: batched vs one-at-a-time "
                       "search vs open_spiel's MCTSBot")
    bench.add_argument("--env", default="Pong", help="env to train on (default Pong)")
    bench.add_argument("--preset", default="drq_eps", choices=["der", "drq_eps"],
                       help="update: the DQN preset timed (default drq_eps)")
    bench.add_argument("--steps", type=int, default=2000,
                       help="training-phase steps timed for each (default 2000)")
    bench.add_argument("--learning-starts", type=int, default=1000,
                       help="random steps before learning, not timed (default 1000)")
    bench.add_argument("--buffer-size", type=int, default=100_000, help="replay capacity")
    bench.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu",
                       help="dqn: where both learn (default cpu; auto: cuda when present)")
    bench.add_argument("--amp", action="store_true",
                       help="dqn: ours under bf16 autocast (CUDA, CPUs with AMX or AVX512-BF16); "
                       "SB3 has no such option and stays in fp32")
    bench.add_argument("--backbone", default="deepcnn",
                       help="classifier: backbone (default deepcnn)")
    bench.add_argument("--dataset", default="mnist-10k",
                       help="classifier: data set (default mnist-10k)")
    bench.add_argument("--data-dir", type=Path, help="classifier: folder holding <dataset>/")
    bench.add_argument("--game", default="connect_four",
                       help="selfplay: game (default connect_four)")
    bench.add_argument("--simulations", type=int, default=100,
                       help="selfplay: simulations per move (default 100)")
    bench.add_argument("--games", type=int, default=32,
                       help="selfplay: games searched together (default 32)")
    bench.add_argument("--seconds", type=float, default=10.0,
                       help="update, selfplay: seconds each side is timed (default 10)")
    bench.add_argument("--epochs", type=int, default=2,
                       help="classifier: epochs each loop is timed (default 2)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")

    games = sub.add_parser("games", help="game records for self-play's supervised stage")
    gsub = games.add_subparsers(dest="games_command", metavar="ACTION", parser_class=Parser,
                                required=True)
    gen = gsub.add_parser("generate", help="expert games played by a strong search against "
                          "itself, one per line")
    gen.add_argument("--game", required=True, help="tic_tac_toe, connect_four, go5 ... go9")
    gen.add_argument("--expert", action="append",
                     help="minimax (exact), minimax:DEPTH, mcts:N or gtp:COMMAND (an engine, e.g. "
                     "gtp:'gnugo --mode gtp --level 10'); repeat it to share the games among "
                     "several experts (default mcts:1000)")
    gen.add_argument("--games", type=int, default=1000, help="games to play (default 1000)")
    gen.add_argument("--out", type=Path, required=True,
                     help="where to write them: a folder of SGF files for Go (each written as "
                     "its game ends), a records file for the other games")
    gen.add_argument("--seed", type=int, default=0, help="seed of the expert's choices (GNU Go "
                     "gets --seed SEED+game)")
    gen.add_argument("--parallel", type=int, default=8,
                     help="games played at once: engines think in parallel (default 8)")
    gen.add_argument("--random-moves", type=int, default=0,
                     help="open each game with up to this many random moves, recorded as such "
                     "and never learnt as expert moves: deterministic engines repeat whole "
                     "games otherwise (default 0)")
    gen.add_argument("--timeout", type=float, default=60.0,
                     help="seconds an engine may take to answer (default 60)")

    rec = sub.add_parser("record", help="play and record episodes of a trained agent",
                         description="Atari and classic control: MP4 of the full game frames "
                         "(gymnasium's RecordVideo). Board games: a GIF, one frame per move. "
                         "Files go to DIR/videos/, named with checkpoint, seed and score.")
    rec.add_argument("run_dir", type=Path, help="run directory of `rl train dqn|alphazero`")
    rec.add_argument("--episodes", type=int, default=1, help="episodes or games (default 1)")
    rec.add_argument("--checkpoint", default="best", help="best, latest or a path (default best)")
    rec.add_argument("--epsilon", type=float, help="DQN: exploration while recording "
                     "(default: the run's eval epsilon)")
    rec.add_argument("--opponent", help="board games: random, minimax, mcts:N (default: itself)")
    rec.add_argument("--seed", type=int, help="seed of the recorded episodes")

    report = sub.add_parser("report", help="one self-contained HTML page of one or more runs")
    report.add_argument("run_dirs", type=Path, nargs="+",
                        help="run directories, or suite directories (`rl suite`)")
    report.add_argument("--out", type=Path, help="where to write it (default DIR/report.html, "
                        "or report.html here for several runs)")

    compare = sub.add_parser("compare", help="one metric of several runs, overlaid; seeds of "
                             "one setting as an interquartile mean with a 95%% band (rliable)")
    compare.add_argument("run_dirs", type=Path, nargs="+", help="run directories")
    compare.add_argument("--metric", required=True, help="a metrics.csv column, e.g. eval_return")
    compare.add_argument("--out", type=Path, default=Path("compare.png"),
                         help="PNG to write (default compare.png)")

    pred = sub.add_parser("predict", help="classify images with a trained classifier")
    pred.add_argument("run_dir", type=Path, help="run directory of `rl train classifier`")
    pred.add_argument("images", type=Path, nargs="+", help="image files (PNG, JPEG, ...)")
    pred.add_argument("--checkpoint", default="best", help="best, latest or a path (default best)")
    pred.add_argument("--top", type=int, default=3, help="classes to show (default 3)")
    pred.add_argument("--invert", choices=["auto", "yes", "no"], default="auto",
                      help="swap dark and light: auto does it (and says so) when an image is "
                      "dark on light and the training images were light on dark, as MNIST's "
                      "are (default auto)")
    pred.add_argument("--json", action="store_true", help="one JSON object per image")

    gtp = sub.add_parser("gtp", help="a trained Go agent as a GTP engine (Sabaki, GoGui, twogtp)",
                         description="Speaks GTP version 2 on standard input and output.")
    gtp.add_argument("run_dir", type=Path, help="run directory of `rl train alphazero --game goN`")
    gtp.add_argument("--simulations", type=int, help="MCTS simulations per move (default: the "
                     "run's evaluation setting)")
    gtp.add_argument("--seed", type=int, default=0, help="seed of the agent's tie-breaks")

    export = sub.add_parser("export", help="copy a run's network and config to a small folder "
                            "that rl eval, record, play and gtp read (a shipped agent)")
    export.add_argument("run_dir", type=Path, help="run directory")
    export.add_argument("--out", type=Path, required=True, help="folder to write")
    export.add_argument("--checkpoint", default="best",
                        help="best, latest or a path (default best)")
    export.add_argument("--overwrite", action="store_true",
                        help="replace an agent folder already at --out")

    from rl.commands.suite import add_parser as add_suite

    add_suite(sub)
    play = sub.add_parser("play", help="play a trained self-play agent in the terminal")
    play.add_argument("run_dir", type=Path, help="run directory of `rl train alphazero`")
    play.add_argument("--game", help="the game you expect (checked against the run's)")
    play.add_argument("--second", action="store_true", help="let the agent move first")
    play.add_argument("--simulations", type=int,
                      help="agent simulations per move (default: the run's)")
    play.add_argument("--seed", type=int, default=0, help="seed of the agent's tie-breaks")
    return parser


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

    if algo is None:
        fail(f"name an algorithm: rl train ALGO (one of {', '.join(ALGORITHMS)})")
    module = load_algorithm(algo)
    args = train_parser(algo, module).parse_args(rest)
    if args.seeds:
        return train_seeds(algo, rest, args)
    flags = {k: v for k, v in vars(args).items() if k in module.Config.__dataclass_fields__}
    opts = RunOptions(device=resolve_device(args.device), progress=not args.no_progress,
                      tensorboard=args.tensorboard, wandb=args.wandb, on_nan=args.on_nan)

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
    i = rest.index("--seeds")
    own = rest[:i] + rest[i + 2:]
    if "--run-dir" in own:
        j = own.index("--run-dir")
        own = own[:j] + own[j + 2:]
    for seed in seeds:
        code = cmd_train(algo, [*own, "--seed", str(seed), "--run-dir", str(base / f"seed{seed}")],
                         compact=True)
        if code:
            return code
    return 0


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
        print(f"stopped at a clean point; checkpoint saved. Resume with:\n"
              f"  rl train {run.config['algo']} --resume {run.path}", file=sys.stderr)
        return run.stop.exit_code
    if run.guard.skipped:
        summary["skipped_updates"] = run.guard.skipped
    summary = rounded({**summary, "run_dir": str(run.path)})
    run.write_summary(summary)
    print(json.dumps(summary) if compact else json.dumps(summary, indent=2))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from agents import load_algorithm

    for name in ("episodes", "games", "simulations", "parallel"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UserError(f"--{name} must be >= 1, got {value}")
    runs = [Run.open(path) for path in args.run_dir]
    run = runs[0]
    module = load_algorithm(run.config["algo"])
    if len(runs) > 1 and (not hasattr(module, "evaluate_ensemble")
                          or any(r.config["algo"] != run.config["algo"] for r in runs)):
        raise UserError("several run directories make an ensemble, which is for classifier "
                        "runs only")
    if run.config["algo"] != "alphazero" and (args.opponent or args.games or args.simulations
                                              or args.referee or args.save_games):
        raise UserError("--opponent, --games, --simulations, --referee and --save-games are for "
                        f"self-play agents; {run.path} is a {run.config['algo']} run")
    args.progress = not args.json and sys.stderr.isatty()
    if args.checkpoint == "best" and not run.has_checkpoint("best"):
        args.checkpoint = "latest"
    result = module.evaluate(run, args) if len(runs) == 1 else \
        module.evaluate_ensemble(runs, args)
    print(json.dumps(rounded(result)) if args.json else as_text(result))
    return 0


def cmd_envs() -> int:
    """The ids `--env` accepts here: gymnasium's whose dependencies are installed, then the
    Atari games by short name (ALE/<Game>-v5 works too); the rest are counted, not listed."""
    import importlib

    import gymnasium as gym

    from envs.atari import atari_games

    games = atari_games()  # registers ALE's ids too
    usable, missing = [], 0
    for env_id, spec in sorted(gym.registry.items()):
        if env_id.startswith("ALE/") or not isinstance(spec.entry_point, str):
            continue
        try:  # mujoco and box2d envs fail here when their packages are absent
            importlib.import_module(spec.entry_point.split(":")[0])
            usable.append(env_id)
        except Exception:  # noqa: BLE001 - any failure means the env cannot be made here
            missing += 1
    print("\n".join(usable))
    print(f"\nAtari games by short name (DQN preprocessing; ALE/<Game>-v5 also works), "
          f"{len(games)}:\n{' '.join(games)}")
    if missing:
        print(f"\n{missing} more gymnasium ids need packages that are not installed (MuJoCo, "
              "Box2D, jax): `pip install 'gymnasium[mujoco,box2d]'` adds most")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from agents.bench import bench_classifier, bench_dqn

    for name in ("steps", "learning_starts", "buffer_size", "seconds", "epochs"):
        if getattr(args, name) <= 0:
            raise UserError(f"--{name.replace('_', '-')} must be > 0")
    if args.what == "update":
        from agents.bench import bench_update

        result = bench_update(args.preset, args.env, args.seconds)
        print(json.dumps(result) if args.json else json.dumps(result, indent=1))
        return 0
    if args.what == "selfplay":
        from agents.bench import bench_selfplay

        for name in ("simulations", "games"):
            if getattr(args, name) < 1:
                raise UserError(f"--{name} must be >= 1")
        result = bench_selfplay(args.game, args.simulations, args.games, seconds=args.seconds)
        rows = [("positions/s, batched", "batched_positions_per_s", "one_at_a_time_positions_per_s",
                 "batched_vs_one_at_a_time"),
                ("positions/s vs open_spiel", "batched_positions_per_s",
                 "openspiel_mcts_positions_per_s", "batched_vs_openspiel")]
        header = ("ours", "reference")
    elif args.what == "classifier":
        result = bench_classifier(args.backbone, args.dataset, args.data_dir,
                                  epochs=args.epochs)
        rows = [("train images/s", "ours_images_per_s", "plain_images_per_s", "ratio")]
        header = ("ours", "plain torch")
    else:
        result = bench_dqn(args.env, args.steps, args.learning_starts, args.buffer_size,
                           device=resolve_device(args.device), amp=args.amp)
        rows = [("train-phase steps/s", "ours_sps", "sb3_sps", "sps_ratio"),
                ("replay bytes/transition", "ours_bytes_per_transition",
                 "sb3_bytes_per_transition", None)]
        header = (f"ours {result['ours_precision']}", f"sb3 {result['sb3_precision']}")
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{'':28}{header[0]:>12}{header[1]:>12}{'ratio':>8}")
    for label, ours, ref, ratio in rows:
        print(f"{label:28}{result[ours]:>12}{result[ref]:>12}"
              f"{result[ratio] if ratio else '':>8}")
    return 0


def cmd_games(args: argparse.Namespace) -> int:
    from agents.arena.match import generate_games
    from agents.arena.registry import make_player
    from envs.games import load_game
    from envs.records import write_records

    for name in ("games", "parallel"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.random_moves < 0:
        raise UserError(f"--random-moves must be >= 0, got {args.random_moves}")
    game = load_game(args.game)
    specs = args.expert or ["mcts:1000"]
    for spec in specs:
        if spec.split(":")[0] not in ("minimax", "mcts", "gtp"):
            raise UserError(f"--expert {spec!r}: use minimax, minimax:DEPTH, mcts:N or gtp:COMMAND")
    experts = [make_player(spec, game, args.seed + 100_000 * i, timeout=args.timeout)
               for i, spec in enumerate(specs)]
    sgf = game.record_format == "sgf"
    t0 = time.perf_counter()
    try:
        records = generate_games(game, experts, args.games, save_dir=args.out if sgf else None,
                                 parallel=args.parallel, progress=sys.stderr.isatty(),
                                 random_moves=args.random_moves, seed=args.seed)
    finally:
        for expert in experts:
            expert.close()
    if not sgf:
        write_records(args.out, game, records)
    results = [r.result for r in records]
    print(json.dumps({"game": game.name, "experts": specs, "games": len(records),
                      "first_player_wins": sum(r > 0 for r in results),
                      "draws": sum(r == 0 for r in results),
                      "second_player_wins": sum(r < 0 for r in results),
                      "distinct": len({tuple(r.moves) for r in records}),
                      "mean_length": round(sum(len(r.moves) for r in records) / len(records), 1),
                      "seconds": round(time.perf_counter() - t0, 1), "out": str(args.out)}))
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from agents import load_algorithm

    if args.episodes < 1:
        raise UserError(f"--episodes must be >= 1, got {args.episodes}")
    if args.epsilon is not None and not 0 <= args.epsilon <= 1:
        raise UserError(f"--epsilon must be in [0, 1], got {args.epsilon}")
    run = Run.open(args.run_dir)
    module = load_algorithm(run.config["algo"])
    if not hasattr(module, "record"):
        raise UserError(f"{args.run_dir} is a {run.config['algo']} run: only dqn and alphazero "
                        "agents can be recorded")
    if args.checkpoint == "best" and not run.has_checkpoint("best"):
        args.checkpoint = "latest"
    print(json.dumps(module.record(run, args)))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from rl.report import write_report

    out = args.out or (args.run_dirs[0] / "report.html" if len(args.run_dirs) == 1
                       else Path("report.html"))
    print(write_report(args.run_dirs, out))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from rl.report import compare

    print(json.dumps(compare(args.run_dirs, args.metric, args.out)))
    return 0


def cmd_play(args: argparse.Namespace) -> int:
    from agents.alphazero.net import agent_player
    from agents.arena.terminal import play_human
    from envs.games import resolve_game

    if args.simulations is not None and args.simulations < 1:
        raise UserError(f"--simulations must be >= 1, got {args.simulations}")
    agent = agent_player(args.run_dir, args.simulations, args.seed)
    if args.game and resolve_game(args.game) != agent.game.name:
        raise UserError(f"{args.run_dir} plays {agent.game.name}, not {resolve_game(args.game)}")
    play_human(agent.game, agent, human_first=not args.second)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from agents.classifier import predict_images

    if args.top < 1:
        raise UserError(f"--top must be >= 1, got {args.top}")
    for result in predict_images(Run.open(args.run_dir), args.images, args.checkpoint, args.top,
                                 args.invert):
        if args.json:
            print(json.dumps(result))
        else:
            ranked = ", ".join(f"{t['class']} {t['probability']:.1%}" for t in result["top"])
            note = f"  ({result['note']})" if "note" in result else ""
            print(f"{result['image']}: {ranked}{note}")
    return 0


def cmd_gtp(args: argparse.Namespace) -> int:
    from agents.alphazero.watch import gtp_server

    if args.simulations is not None and args.simulations < 1:
        raise UserError(f"--simulations must be >= 1, got {args.simulations}")
    gtp_server(args.run_dir, args.simulations, args.seed).serve(sys.stdin, sys.stdout)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from agents import load_algorithm
    from rl.run import export_run

    run = Run.open(args.run_dir)
    module = load_algorithm(run.config["algo"])
    print(json.dumps(export_run(run, args.out, args.checkpoint, module.EXPORT_KEYS,
                                       args.overwrite)))
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
        extra: list[str] = []
        if argv and argv[0] == "suite" and "--" in argv:  # training flags for every run
            i = argv.index("--")
            argv, extra = argv[:i], argv[i + 1:]
        args = parser.parse_args(argv)
        if args.command == "suite":
            from rl.commands.suite import cmd_suite

            return cmd_suite(args, extra)
        commands = {"eval": cmd_eval, "envs": lambda _: cmd_envs(), "bench": cmd_bench,
                    "games": cmd_games, "play": cmd_play, "record": cmd_record,
                    "gtp": cmd_gtp, "export": cmd_export, "predict": cmd_predict,
                    "report": cmd_report, "compare": cmd_compare}
        if args.command in commands:
            return commands[args.command](args)
        parser.print_help()
        return 0
    except UserError as e:
        fail(str(e))
    except OSError as e:
        # a full disk or a read-only directory is the user's to fix, not a bug to trace
        if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES,
                       errno.EPERM):
            where = f" ({e.filename})" if e.filename else ""
            fail(f"{e.strerror}{where}: free space or choose another --run-dir; "
                 "completed checkpoints are intact")
        raise


if __name__ == "__main__":
    sys.exit(main())
