"""Players by name, for every command that takes an opponent or an expert: `random`,
`minimax` (exact, memoised), `minimax:D` (alpha-beta to depth D), `mcts:N` (open_spiel's MCTSBot
with N simulations and random rollouts), `gtp:COMMAND` (an engine), or a run directory (our
agent). It sits above what it chooses among, so nothing it makes imports it back."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents.arena.gtp import GtpPlayer
from agents.arena.players import MinimaxPlayer, RandomPlayer, SpielMCTSPlayer
from envs.games import Game
from rl.errors import UserError


def make_player(spec: str, game: Game, seed: int,
                load_agent: Callable[[Path], Any] | None = None, timeout: float = 60.0) -> Any:
    """A player from its name (see the module's docstring)."""
    kind, _, arg = spec.partition(":")
    try:
        if kind == "random" and not arg:
            return RandomPlayer(game, seed)
        if kind == "minimax":
            return MinimaxPlayer(game, seed, int(arg) if arg else None)
        if kind == "mcts" and arg:
            return SpielMCTSPlayer(game, int(arg), seed)
    except ValueError:
        raise UserError(f"bad player {spec!r}: the number after ':' must be an integer") from None
    if kind == "gtp":
        if not arg.strip():
            raise UserError("gtp: needs the engine's command line, e.g. "
                            "gtp:'gnugo --mode gtp --level 1'")
        return GtpPlayer(game, arg, seed=seed, timeout=timeout)
    if load_agent is not None and Path(spec).is_dir():
        return load_agent(Path(spec))
    raise UserError(f"unknown player {spec!r}: use random, minimax, minimax:DEPTH, mcts:N, "
                    "gtp:COMMAND or a run directory")
