"""`rl bench`: ours against the reference implementation in one process sequence, as a ratio."""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rl.commands.train import resolve_device

KINDS = {
    "dqn": "our DQN against stable-baselines3's: train-phase steps/s and replay bytes",
    "update": "a DQN preset's gradient updates/s against a plain PyTorch update and the "
              "machine's limit, and where a training step's time goes",
    "classifier": "our training loop against a plain PyTorch loop",
    "selfplay": "batched search against one position at a time and open_spiel's MCTSBot",
}


def positive(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def add_parser(sub: Any) -> None:
    bench = sub.add_parser("bench", help="measure us against the reference implementation",
                           description="Benchmarks run ours and the reference in the same "
                           "process sequence and report the ratio. `rl bench KIND --help` "
                           "lists a benchmark's options.")
    kinds = bench.add_subparsers(dest="what", metavar="KIND", required=True,
                                 parser_class=type(bench))
    dqn, update, classifier, selfplay = (
        kinds.add_parser(name, help=text, description=f"{text[0].upper()}{text[1:]}.")
        for name, text in KINDS.items())
    for parser in (dqn, update):
        parser.add_argument("--env", default="Pong", help="env to train on (default Pong)")
    dqn.add_argument("--steps", type=positive(int), default=2000,
                     help="training-phase steps timed for each (default 2000)")
    dqn.add_argument("--learning-starts", type=positive(int), default=1000,
                     help="random steps before learning, not timed (default 1000)")
    dqn.add_argument("--buffer-size", type=positive(int), default=100_000,
                     help="replay capacity (default 100000)")
    dqn.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu",
                     help="where both learn (default cpu; auto: cuda when present)")
    dqn.add_argument("--amp", action="store_true",
                     help="ours under bf16 autocast (CUDA, CPUs with AMX or AVX512-BF16); "
                     "SB3 has no such option and stays in fp32")
    update.add_argument("--preset", default="drq_eps", choices=["der", "drq_eps"],
                        help="the DQN preset timed (default drq_eps)")
    update.add_argument("--amp", action="store_true",
                        help="the preset's update under bf16 autocast, its limit a bf16 GEMM "
                        "(the plain update stays fp32)")
    classifier.add_argument("--backbone", default="deepcnn", help="backbone (default deepcnn)")
    classifier.add_argument("--dataset", default="mnist-10k",
                            help="data set (default mnist-10k)")
    classifier.add_argument("--data-dir", type=Path, help="folder holding <dataset>/")
    classifier.add_argument("--epochs", type=positive(int), default=2,
                            help="epochs each loop is timed (default 2)")
    selfplay.add_argument("--game", default="connect_four", help="game (default connect_four)")
    selfplay.add_argument("--simulations", type=positive(int), default=100,
                          help="simulations per move (default 100)")
    selfplay.add_argument("--search", choices=["puct", "gumbel"], default="puct",
                          help="the tree search timed (default puct)")
    selfplay.add_argument("--games", type=positive(int), default=32,
                          help="games searched together (default 32)")
    selfplay.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                          help="the search's network precision; auto: the game's preset where "
                          "bf16 pays on this machine (CUDA, AMX; an emulated one asked for is "
                          "run, with a note) (default auto)")
    for parser in (update, selfplay):
        parser.add_argument("--seconds", type=positive(float), default=10.0,
                            help="seconds each side is timed (default 10)")
    for parser in (dqn, update, classifier, selfplay):
        parser.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_bench(args: argparse.Namespace) -> int:
    from rl.precision import flush_denormals

    flush_denormals()  # as `rl train` does
    from agents.bench import bench_classifier, bench_dqn

    if args.what == "update":
        from agents.bench import bench_update

        result = bench_update(args.preset, args.env, args.seconds, amp=args.amp)
        print(json.dumps(result) if args.json else json.dumps(result, indent=1))
        return 0
    if args.what == "selfplay":
        from agents.bench import bench_selfplay

        result = bench_selfplay(args.game, args.simulations, args.games, seconds=args.seconds,
                                search=args.search, precision=args.precision)
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


