"""`rl games generate`: expert games for self-play's supervised stage."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from rl.commands.parsing import Parser
from rl.errors import UserError


def add_parser(sub: Any) -> None:
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
                     "its game ends; the games found there are kept, so a killed run goes on), "
                     "a records file for the other games")
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



def cmd_games(args: argparse.Namespace) -> int:
    from agents.arena.match import generate_games, saved_games
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
    # a killed run goes on where it stopped: the games whose SGF is there are not played again
    kept = {k for k in saved_games(args.out) if k < args.games} if sgf else set()
    if kept:
        print(f"{args.out}: {len(kept)} of the {args.games} games are there already (kept); "
              f"playing the other {args.games - len(kept)}", file=sys.stderr)
    t0 = time.perf_counter()
    try:
        records = generate_games(game, experts, args.games, save_dir=args.out if sgf else None,
                                 parallel=args.parallel, progress=True,
                                 random_moves=args.random_moves, seed=args.seed, skip=kept)
    finally:
        for expert in experts:
            expert.close()
    if not sgf:
        write_records(args.out, game, records)
    results, lengths = [r.result for r in records], [len(r.moves) for r in records]
    print(json.dumps({"game": game.name, "experts": specs, "games": len(records),
                      "kept": len(kept),
                      "first_player_wins": sum(r > 0 for r in results),
                      "draws": sum(r == 0 for r in results),
                      "second_player_wins": sum(r < 0 for r in results),
                      "distinct": len({tuple(r.moves) for r in records}),
                      "mean_length": round(sum(lengths) / max(len(lengths), 1), 1),
                      "seconds": round(time.perf_counter() - t0, 1), "out": str(args.out)}))
    return 0


