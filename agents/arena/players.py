"""The players of our own: random, exact minimax and alpha-beta, open_spiel's MCTSBot, and the
search player that plays with a network (agents/mcts.py). They follow the protocol of
agents/arena/protocol.py; agents/arena/registry.py makes them by name."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from agents import gumbel
from agents.arena.protocol import RESIGN, Follower
from agents.mcts import (
    Evaluator,
    Node,
    SearchConfig,
    advance,
    no_first_pass,
    search,
    unrepeated,
)
from envs.games import Game


class RandomPlayer(Follower):
    """Uniform over the moves worth considering; in Go it passes only when nothing else is
    left and never fills its own eyes (else random Go never ends)."""

    name = "random"

    def __init__(self, game: Game, seed: int):
        super().__init__(game)
        self.rng = np.random.default_rng(seed)

    def move(self, state: Any) -> int:
        moves = np.flatnonzero(self.game.inputs(state)[1])
        if self.game.pass_action is not None and len(moves) > 1:
            moves = moves[moves != self.game.pass_action]
        return int(self.rng.choice(moves))


class MinimaxPlayer(Follower):
    """Exact play (depth None, memoised: tic-tac-toe's 5,478 positions) or alpha-beta to a
    depth, choosing at random among equally good moves so that games differ."""

    def __init__(self, game: Game, seed: int, depth: int | None = None):
        super().__init__(game)
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

    def move(self, state: Any) -> int:
        values = self.values(state)
        best = max(values.values())
        return int(self.rng.choice([a for a, v in values.items() if v == best]))


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


class SpielMCTSPlayer(Follower):
    """open_spiel's MCTSBot: UCT with random rollouts, the reference opponent."""

    def __init__(self, game: Game, simulations: int, seed: int):
        from open_spiel.python.algorithms import mcts

        super().__init__(game)
        rng = np.random.RandomState(seed)
        self.bot = mcts.MCTSBot(game.spiel, uct_c=2.0, max_simulations=simulations,
                                evaluator=mcts.RandomRolloutEvaluator(1, rng), random_state=rng)
        self.name = f"mcts:{simulations}"

    def move(self, state: Any) -> int:
        return int(self.bot.step(state))


class SearchPlayer:
    """Our PUCT search guided by an evaluator (a network). Each game keeps its tree: the
    subtree under the moves played is reused by the next search. All games where it is to
    move are searched together, so the network sees one batch per simulation.

    Go: it never repeats a position (positional superko), never passes first while it has
    another move worth considering (a pass lets an opponent invade its area unanswered, and
    GNU Go does), passes at once when the opponent has passed and passing wins, and resigns
    when the search's value stays below `resign_below` for two of its moves (None: never)."""

    answers_later = False

    def __init__(self, game: Game, evaluator: Evaluator, cfg: SearchConfig, seed: int,
                 name: str = "agent", noise: bool = False, resign_below: float | None = None):
        self.game, self.evaluator, self.cfg = game, evaluator, cfg
        self.rng = np.random.default_rng(seed)
        self.name = name
        self.noise = noise  # root Dirichlet noise: varied games between two fixed networks
        self.resign_below = resign_below
        self.roots: dict[int, Node] = {}
        self.hopeless: dict[int, int] = {}  # moves in a row below the resignation threshold

    def new_game(self, key: int) -> None:
        self.roots[key] = Node(self.game.new_state())
        self.hopeless[key] = 0

    def observe(self, key: int, action: int) -> None:
        self.roots[key] = advance(self.roots[key], action)

    def end_game(self, key: int) -> None:
        self.roots.pop(key, None)
        self.hopeless.pop(key, None)

    def close(self) -> None:
        self.roots.clear()

    def choose(self, keys: Sequence[int]) -> list[int]:
        roots = [self.roots[k] for k in keys]
        rng = self.rng if self.noise else None
        if self.game.pass_action is not None:
            no_first_pass(self.game, roots, self.evaluator)
        if self.cfg.kind == "gumbel":
            noise = gumbel.search(self.game, roots, self.evaluator, self.cfg, rng)
            best = [gumbel.chosen(r, noise[id(r)], self.cfg) for r in roots]
        else:
            search(self.game, roots, self.evaluator, self.cfg, rng)
            best = [int(r.actions[self.rng.choice(np.flatnonzero(r.N == r.N.max()))])
                    for r in roots]
        return [self.pick(k, r, b) for k, r, b in zip(keys, roots, best)]

    def pick(self, key: int, root: Node, first: int) -> int:
        """The search's move `first`, unless resigning, passing to win or superko says
        otherwise (then the next most visited)."""
        if self.resign_below is not None:
            value = gumbel.root_value(root, self.cfg)
            self.hopeless[key] = self.hopeless[key] + 1 if value < self.resign_below else 0
            if self.hopeless[key] >= 2:
                return RESIGN
        passing = self.game.pass_action
        if passing is not None and root.state.history()[-1:] == [passing]:
            child = root.state.child(passing)  # the game ends: take a sure win
            if child.returns()[root.player] > 0:
                return passing
        return unrepeated(self.game, root, first)
