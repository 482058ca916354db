"""`rl bench`: ours against the reference implementation in one process sequence, as a ratio."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rl.commands.train import resolve_device
from rl.errors import UserError


def add_parser(sub: Any) -> None:
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
    bench.add_argument("--search", choices=["puct", "gumbel"], default="puct",
                       help="selfplay: the tree search timed (default puct)")
    bench.add_argument("--games", type=int, default=32,
                       help="selfplay: games searched together (default 32)")
    bench.add_argument("--seconds", type=float, default=10.0,
                       help="update, selfplay: seconds each side is timed (default 10)")
    bench.add_argument("--epochs", type=int, default=2,
                       help="classifier: epochs each loop is timed (default 2)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")



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
        result = bench_selfplay(args.game, args.simulations, args.games, seconds=args.seconds,
                                search=args.search)
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


