"""Who sits across the board: fixed opponents, our search agent, matches and expert games.

A player chooses moves for a list of positions at once (`choose(states) -> actions`), so our
network-guided search plays all games of a match in one batch while the fixed opponents loop.
Opponents by name: `random`, `minimax` (exact, memoised; `minimax:D` = alpha-beta to depth D
with unknown positions scored even), `mcts:N` (open_spiel's MCTSBot, N simulations, random
rollouts), or a run directory (another trained agent).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from agents.mcts import Evaluator, Node, SearchConfig, choose, search
from envs.games import Game
from rl.errors import UserError


class Player(Protocol):
    name: str

    def choose(self, states: Sequence[Any]) -> list[int]: ...


class RandomPlayer:
    name = "random"

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def choose(self, states: Sequence[Any]) -> list[int]:
        return [int(self.rng.choice(s.legal_actions())) for s in states]


class MinimaxPlayer:
    """Exact play (depth None, memoised: tic-tac-toe's 5,478 positions) or alpha-beta to a
    depth, choosing at random among equally good moves so that games differ."""

    def __init__(self, seed: int, depth: int | None = None):
        self.rng = np.random.default_rng(seed)
        self.depth = depth
        self.name = "minimax" if depth is None else f"minimax:{depth}"

    def values(self, state: Any) -> dict[int, float]:
        """Each legal move's value for the player to move."""
        p = state.current_player()
        out = {}
        for a in state.legal_actions():
            child = state.child(a)
            if child.is_terminal():
                out[a] = float(child.returns()[p])
            elif self.depth is None:
                out[a] = _exact_value(child, p)
            else:
                out[a] = _alphabeta(child, self.depth - 1, -math.inf, math.inf, p)
        return out

    def choose(self, states: Sequence[Any]) -> list[int]:
        moves = []
        for s in states:
            values = self.values(s)
            best = max(values.values())
            moves.append(int(self.rng.choice([a for a, v in values.items() if v == best])))
        return moves


_SOLVED: dict[tuple[str, int], float] = {}


def _exact_value(state: Any, player: int) -> float:
    """Game-theoretic value of `state` for `player` under perfect play by both sides, memoised
    on the printed board (the whole position in tic-tac-toe, where exact play is meant)."""
    key = (str(state), player)
    if key not in _SOLVED:
        if state.is_terminal():
            value = float(state.returns()[player])
        else:
            mover = state.current_player()
            best = max(_exact_value(state.child(a), mover) for a in state.legal_actions())
            value = best if mover == player else -best
        _SOLVED[key] = value
    return _SOLVED[key]


def _alphabeta(state: Any, depth: int, alpha: float, beta: float, player: int) -> float:
    """Value for `player`; positions beyond the horizon count as even."""
    if state.is_terminal():
        return float(state.returns()[player])
    if depth <= 0:
        return 0.0
    maximising = state.current_player() == player
    best = -math.inf if maximising else math.inf
    for a in state.legal_actions():
        v = _alphabeta(state.child(a), depth - 1, alpha, beta, player)
        if maximising:
            best, alpha = max(best, v), max(alpha, v)
        else:
            best, beta = min(best, v), min(beta, v)
        if alpha >= beta:
            break
    return best


class SpielMCTSPlayer:
    """open_spiel's MCTSBot: UCT with random rollouts, the reference opponent."""

    def __init__(self, game: Game, simulations: int, seed: int):
        from open_spiel.python.algorithms import mcts

        rng = np.random.RandomState(seed)
        self.bot = mcts.MCTSBot(game.spiel, uct_c=2.0, max_simulations=simulations,
                                evaluator=mcts.RandomRolloutEvaluator(1, rng), random_state=rng)
        self.name = f"mcts:{simulations}"

    def choose(self, states: Sequence[Any]) -> list[int]:
        return [int(self.bot.step(s)) for s in states]


class SearchPlayer:
    """Our PUCT search guided by an evaluator (a network), all positions in one batch."""

    def __init__(self, game: Game, evaluator: Evaluator, cfg: SearchConfig, seed: int,
                 name: str = "agent", noise: bool = False):
        self.game, self.evaluator, self.cfg = game, evaluator, cfg
        self.rng = np.random.default_rng(seed)
        self.name = name
        self.noise = noise  # root Dirichlet noise: varied games between two fixed networks

    def choose(self, states: Sequence[Any]) -> list[int]:
        roots = [Node(s.clone()) for s in states]
        search(self.game, roots, self.evaluator, self.cfg, self.rng if self.noise else None)
        return [choose(r, self.game.num_actions, 0.0, self.rng)[0] for r in roots]


def make_opponent(spec: str, game: Game, seed: int,
                  load_agent: Callable[[Path], Player] | None = None) -> Player:
    kind, _, arg = spec.partition(":")
    try:
        if kind == "random" and not arg:
            return RandomPlayer(seed)
        if kind == "minimax":
            return MinimaxPlayer(seed, int(arg) if arg else None)
        if kind == "mcts" and arg:
            return SpielMCTSPlayer(game, int(arg), seed)
    except ValueError:
        raise UserError(f"bad opponent {spec!r}: the number after ':' must be an integer") from None
    if load_agent is not None and Path(spec).is_dir():
        return load_agent(Path(spec))
    raise UserError(f"unknown opponent {spec!r}: use random, minimax, minimax:DEPTH, mcts:N or "
                    "a run directory")


def play_match(game: Game, agent: Player, opponent: Player, games: int) -> dict[str, Any]:
    """`games` games, the agent moving first in the even ones; all positions where the agent
    is to move are searched together. Scores are from the agent's side."""
    states = [game.new_state() for _ in range(games)]
    agent_seat = [i % 2 for i in range(games)]
    while True:
        live = [i for i, s in enumerate(states) if not s.is_terminal()]
        if not live:
            break
        for player in (agent, opponent):
            turn = [i for i in live if (states[i].current_player() == agent_seat[i]) == (player is agent)]
            if turn:
                for i, a in zip(turn, player.choose([states[i] for i in turn])):
                    states[i].apply_action(a)
            live = [i for i in live if not states[i].is_terminal()]
    result = {"wins": 0, "draws": 0, "losses": 0, "games": games,
              "as_first": {"wins": 0, "draws": 0, "losses": 0},
              "as_second": {"wins": 0, "draws": 0, "losses": 0}}
    for s, seat in zip(states, agent_seat):
        r = s.returns()[seat]
        key = "wins" if r > 0 else "losses" if r < 0 else "draws"
        result[key] += 1
        result["as_first" if seat == 0 else "as_second"][key] += 1
    return result


# -- expert games -----------------------------------------------------------------------------

def generate_games(game: Game, expert: Player, games: int) -> list[tuple[list[int], float]]:
    """Self-play of an expert (both sides), played in parallel; (actions, first player's result)."""
    states = [game.new_state() for _ in range(games)]
    while live := [s for s in states if not s.is_terminal()]:
        for s, a in zip(live, expert.choose(live)):
            s.apply_action(a)
    return [(list(s.history()), float(s.returns()[0])) for s in states]


# -- a person at the keyboard -----------------------------------------------------------------

def play_human(game: Game, agent: Player, human_first: bool,
               read: Callable[[str], str] = input, write: Callable[[str], None] = print) -> int:
    """One game in the terminal. Bad input gets a message and a new prompt; end of input or
    'quit' ends the game. Returns the person's result (1, 0, -1), or 0 if they stopped."""
    state = game.new_state()
    human = 0 if human_first else 1
    write(f"{game.name}: you move {'first' if human_first else 'second'}. Type a move's number "
          "or name; 'quit' stops.")
    while not state.is_terminal():
        write(game.board_text(state))
        if state.current_player() != human:
            action = agent.choose([state])[0]
            write(f"agent plays {game.action_name(state, action)}")
            state.apply_action(action)
            continue
        try:
            text = read("your move: ")
        except (EOFError, KeyboardInterrupt):
            write("\ngame abandoned")
            return 0
        if not text.strip():
            continue
        if text.strip().lower() in ("quit", "q", "exit"):
            write("game abandoned")
            return 0
        action = game.parse_move(state, text)
        if action is None:
            names = ", ".join(f"{a}" for a in state.legal_actions())
            write(f"{text.strip()!r} is not a legal move here; legal: {names}")
            continue
        state.apply_action(action)
    write(game.board_text(state))
    result = int(np.sign(state.returns()[human]))
    write({1: "you win", 0: "draw", -1: "the agent wins"}[result])
    return result
