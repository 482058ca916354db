"""The `rl` command: the verbs' table and the small verbs; the larger ones live in rl/commands/
(train, eval and record, bench, games, suite).

Parsing is two-stage where the algorithm decides the flags: `rl train ALGO ...` builds its
parser from that algorithm's Config, `rl eval DIR` and `rl record DIR` from the EvalConfig and
RecordConfig of the run's algorithm, so `rl --help` stays fast and torch is loaded only when
needed. User mistakes end in one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import errno
import json
import sys
from pathlib import Path

from rl import __version__
from rl.commands.bench import add_parser as add_bench
from rl.commands.bench import cmd_bench
from rl.commands.evaluate import add_parsers as add_eval_parsers
from rl.commands.evaluate import cmd_eval, cmd_record
from rl.commands.games import add_parser as add_games
from rl.commands.games import cmd_games
from rl.commands.parsing import Parser, fail
from rl.commands.train import cmd_train
from rl.errors import UserError
from rl.run import Run

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
    add_eval_parsers(sub)
    sub.add_parser("envs", help="list the environment ids that --env accepts",
                   description="List the environments `rl train dqn|qlearning --env` can make "
                   "on this machine: gymnasium's ids, then the Atari games by short name.")
    add_bench(sub)
    add_games(sub)
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
    compare.add_argument("--x", choices=["auto", "hours"], default="auto",
                         help="x axis: auto, the runs' steps, epochs or iterations; hours, "
                         "self-play runs' hours of self-play and training (default auto)")

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
    gtp.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                     help="the search's network precision; auto: the run's where this machine "
                     "computes it natively, else fp32")

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


def cmd_report(args: argparse.Namespace) -> int:
    from rl.report import write_report

    out = args.out or (args.run_dirs[0] / "report.html" if len(args.run_dirs) == 1
                       else Path("report.html"))
    print(write_report(args.run_dirs, out))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from rl.report import compare

    print(json.dumps(compare(args.run_dirs, args.metric, args.out, args.x)))
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
    gtp_server(args.run_dir, args.simulations, args.seed, args.precision).serve(sys.stdin,
                                                                                 sys.stdout)
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
        if argv and argv[0] in ("eval", "record"):
            return (cmd_eval if argv[0] == "eval" else cmd_record)(argv[1:])
        extra: list[str] = []
        if argv and argv[0] == "suite" and "--" in argv:  # training flags for every run
            i = argv.index("--")
            argv, extra = argv[:i], argv[i + 1:]
        args = parser.parse_args(argv)
        if args.command == "suite":
            from rl.commands.suite import cmd_suite

            return cmd_suite(args, extra)
        commands = {"envs": lambda _: cmd_envs(), "bench": cmd_bench,
                    "games": cmd_games, "play": cmd_play,
                    "gtp": cmd_gtp, "export": cmd_export, "predict": cmd_predict,
                    "report": cmd_report, "compare": cmd_compare}
        if args.command in commands:
            return commands[args.command](args)
        parser.print_help()
        return 0
    except UserError as e:
        fail(str(e))
    except KeyboardInterrupt:  # Ctrl-C where no loop stops at a clean point (eval, games)
        print("rl: interrupted", file=sys.stderr)
        return 130
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
