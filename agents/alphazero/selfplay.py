"""Self-play: the current network's search plays itself, and every position becomes a
training example (planes, the search's visit counts, the game's result, the final owners).

KataGo's playout-cap randomisation, when `fast_simulations` is set: a share of moves gets the
full search, with root noise, and trains the policy; the others get a short search without
noise, are played to move the game along, and train the value (and ownership) alone.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import torch

from agents import gumbel
from agents.alphazero.config import Config
from agents.alphazero.resign import NEVER, GameWatch, played_out_figures
from agents.mcts import (
    Evaluator,
    Node,
    SearchConfig,
    advance,
    choose,
    no_first_pass,
    pruned_policy,
    search,
)
from envs.games import Game
from envs.records import GameRecord


@dataclass
class Positions:
    """Training examples. planes: uint8 0/1 [N, C, H, W]; policies: the search's visit counts
    [N, A], learned where policy_weight is 1; values: the result for the side to move [N];
    ownership: each point's final owner from the side to move's view, int8 [N, H*W] (Go; all
    zeros where unknown, [N, 0] for other games); scores: the final area score for the side
    to move, komi included [N] (Go; NaN where unknown: resignations, other games)."""

    planes: np.ndarray
    policies: np.ndarray
    values: np.ndarray
    policy_weight: np.ndarray
    ownership: np.ndarray
    scores: np.ndarray

    @staticmethod
    def concat(parts: list[Positions]) -> Positions:
        return Positions(*(np.concatenate([getattr(p, f.name) for p in parts])
                           for f in fields(Positions)))

    def __len__(self) -> int:
        return len(self.values)

    def take(self, idx: np.ndarray) -> Positions:
        return Positions(*(getattr(self, f.name)[idx] for f in fields(Positions)))

    def to_state(self) -> dict[str, torch.Tensor]:
        return {f.name: torch.from_numpy(np.ascontiguousarray(getattr(self, f.name)))
                for f in fields(Positions)}

    @staticmethod
    def from_state(state: dict[str, torch.Tensor]) -> Positions:
        unknown = torch.full(state["values"].shape, math.nan)  # saved before scores were kept
        return Positions(**{f.name: state.get(f.name, unknown).numpy()
                            for f in fields(Positions)})


@dataclass
class Joined:
    """Several Positions read as one without copying them: the window an iteration trains on
    while its games are still arriving on Ray (a copy of go9's window per arrival is ~90 MB).
    Sampled exactly as their concatenation would be."""

    parts: list[Positions]

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def take(self, idx: np.ndarray) -> Positions:
        lengths = np.array([len(p) for p in self.parts])
        ends = np.cumsum(lengths)
        starts = ends - lengths
        part = np.searchsorted(ends, idx, side="right")
        order = np.argsort(part, kind="stable")  # idx grouped by part, in order within each
        grouped = Positions.concat([self.parts[k].take(idx[part == k] - starts[k])
                                    for k in np.unique(part)])
        return grouped.take(np.argsort(order))  # back to idx's order


@dataclass
class PlaySettings:
    search: SearchConfig
    temperature_moves: int
    value_target_q: float = 0.0  # share of the search's root value in the value target
    fast_simulations: int = 0  # playout-cap randomisation: 0 = every move a full search
    full_search_share: float = 1.0
    resign_threshold: float = NEVER  # agents/alphazero/resign.py
    resign_off_share: float = 1.0  # games played out with resignation off
    pass_first: Literal["both", "one"] = "both"  # "one": a player drawn per game never
    # passes first (Config.pass_first)
    target_pruning: bool = False  # PUCT targets pruned (Config.target_pruning)

    @staticmethod
    def of(cfg: Config, resign_threshold: float = NEVER) -> PlaySettings:
        return PlaySettings(cfg.search_config(), cfg.temperature_moves, cfg.value_target_q,
                            cfg.fast_simulations, cfg.full_search_share, resign_threshold,
                            cfg.resign_off_share, cfg.pass_first, cfg.target_pruning)


def positions_of(game: Game, steps: list[tuple[np.ndarray, np.ndarray, int, float, bool]],
                 final: Any, result: np.ndarray, value_target_q: float = 0.0) -> Positions:
    """One game's examples from its (planes, policy, player, search value, full search)
    steps, its final state and its result for each player."""
    planes, policies, players, qs, full = zip(*steps)
    players = np.asarray(players)
    values = (1 - value_target_q) * result[players] + value_target_q * np.asarray(qs)
    cells = game.ownership_size
    ownership = np.zeros((len(steps), cells), dtype=np.int8)
    scores = np.full(len(steps), np.nan, dtype=np.float32)
    if cells and final.is_terminal():
        black = game.ownership(final)  # +1 Black's; the side to move's view below
        ownership[:] = np.where(players[:, None] == 0, black, -black)
        scores[:] = np.where(players == 0, 1, -1) * game.score(final)
    return Positions(np.stack(planes).astype(np.uint8), np.stack(policies),
                     values.astype(np.float32), np.asarray(full, dtype=np.float32), ownership,
                     scores)


@dataclass
class FinishedGame:
    """One self-play game as it ends: its examples, its record and what its resignation watch
    saw. `index` is its place among the games played together."""

    index: int
    positions: Positions
    record: GameRecord
    moves: int
    resigned: bool
    watch: GameWatch


def play_games(game: Game, evaluator: Evaluator, play: PlaySettings, games: int,
               rng: np.random.Generator) -> Iterator[FinishedGame]:
    """Play `games` games at once, searching every live game's position in one batch, and
    yield each as it ends (by the rules or, where its watch allows, by resignation: resign.py),
    so that a game finished is a game delivered even if the player dies before the others end."""
    roots = [Node(game.new_state()) for _ in range(games)]
    steps: list[list[tuple]] = [[] for _ in range(games)]
    moves = np.zeros(games, dtype=int)
    # (no draw while nobody may resign: the games' randomness stays as it was without it)
    watches = [GameWatch(play.resign_threshold > NEVER and rng.random() >= play.resign_off_share)
               for _ in range(games)]
    resigned: dict[int, int] = {}  # game -> the player who resigned it
    # the player of each game who never passes first (-1: none); drawn only when the rule is
    # on, so that games without it stay as they were
    strict = (rng.integers(2, size=games) if play.pass_first == "one"
              and game.pass_action is not None else np.full(games, -1))
    while live := [i for i, r in enumerate(roots) if not r.terminal and i not in resigned]:
        full = [play.fast_simulations == 0 or rng.random() < play.full_search_share
                for _ in live]
        budgets = [play.search.simulations if f else play.fast_simulations for f in full]
        chosen = searched([roots[i] for i in live], game, evaluator, play, rng, budgets, full,
                          [moves[i] for i in live],
                          [roots[i].player == strict[i] for i in live])
        for i, is_full, (action, policy) in zip(live, full, chosen):
            root = roots[i]
            value = gumbel.root_value(root, play.search)
            if watches[i].resigns(root.player, value, play.resign_threshold):
                resigned[i] = root.player
            else:
                steps[i].append((game.encode(root.state), policy, root.player, value,
                                 is_full))
                roots[i] = advance(root, action)
                moves[i] += 1
            if roots[i].terminal or i in resigned:
                yield finished(game, i, roots[i], steps[i], resigned.get(i), watches[i],
                               int(moves[i]), play.value_target_q)


def finished(game: Game, index: int, root: Node, steps: list[tuple], loser: int | None,
             watch: GameWatch, moves: int, value_target_q: float) -> FinishedGame:
    result = root.returns if loser is None else np.array([1.0, -1.0]) * (1 - 2 * loser)
    record = GameRecord(list(root.state.history()), float(result[0]), ("self-play", "self-play"),
                        game.result_text(root.state, loser))
    return FinishedGame(index, positions_of(game, steps, root.state, result, value_target_q),
                        record, moves, loser is not None, watch)


def summarise(games: list[FinishedGame], resign_threshold: float
              ) -> tuple[Positions, dict[str, Any], list[GameRecord]]:
    """The games' examples (in the order given), their self-play statistics and records."""
    results = [g.record.result for g in games]
    played_out = [g for g in games if not g.watch.allowed]
    stats = {"first_player_wins": sum(r > 0 for r in results),
             "draws": sum(r == 0 for r in results),
             "mean_length": float(np.mean([g.moves for g in games])),
             "resigned": sum(g.resigned for g in games), "played_out": len(played_out),
             **played_out_figures([g.watch for g in played_out],
                                  [g.record.result for g in played_out], resign_threshold)}
    return (Positions.concat([g.positions for g in games]), stats,
            [g.record for g in games])


def self_play(game: Game, evaluator: Evaluator, play: PlaySettings, games: int,
              rng: np.random.Generator) -> tuple[Positions, dict[str, Any], list[GameRecord]]:
    """Play `games` games at once; their examples in game order, statistics and records."""
    done = sorted(play_games(game, evaluator, play, games, rng), key=lambda g: g.index)
    return summarise(done, play.resign_threshold)


def searched(roots: list[Node], game: Game, evaluator: Evaluator, play: PlaySettings,
             rng: np.random.Generator, budgets: list[int], full: list[bool],
             moves: list[int], strict: list[bool]) -> list[tuple[int, np.ndarray]]:
    """Search every root at once; each one's move and policy target. PUCT: Dirichlet noise on
    full searches, moves sampled from the visits for the first `temperature_moves`, visit
    counts as targets (pruned to what the values justify with target_pruning). Gumbel: Gumbel
    noise on full searches (the sampling itself), the best survivor of sequential halving,
    the completed-Q policy as target. Where strict[i], root i may not pass first (its target
    then gives the pass nothing)."""
    cfg = play.search
    no_first_pass(game, [r for r, s in zip(roots, strict) if s], evaluator)
    if cfg.kind == "gumbel":
        noise = gumbel.search(game, roots, evaluator, cfg, rng, budgets, full)
        return [(gumbel.chosen(r, noise[id(r)], cfg), gumbel.policy_target(r, cfg,
                                                                           game.num_actions))
                for r in roots]
    search(game, roots, evaluator, cfg, rng, budgets, full)
    chosen = [choose(r, game.num_actions, 1.0 if n < play.temperature_moves else 0.0, rng)
              for r, n in zip(roots, moves)]
    if not play.target_pruning:
        return chosen
    return [(a, pruned_policy(r, game.num_actions, cfg.c_puct) if f else p)
            for (a, p), r, f in zip(chosen, roots, full)]
