"""Self-play: the current network's search plays itself, and every position becomes a
training example (planes, the search's visit counts, the game's result, the final owners).

KataGo's playout-cap randomisation, when `fast_simulations` is set: a share of moves gets the
full search, with root noise, and trains the policy; the others get a short search without
noise, are played to move the game along, and train the value (and ownership) alone.

With an opponent (an external engine, Config.opponent_engine), a share of the games seats it
at one side, as AlphaGo played its learner against a pool of other players: the network's
moves in them are searched and learnt as in self-play, the engine's are learnt as one-hot
policy targets (its answers in the positions our play reaches), and their results, which no
self-delusion produced, always teach the value.
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
from agents.arena.protocol import RESIGN, Player
from agents.mcts import (
    Evaluator,
    Node,
    SearchConfig,
    advance,
    choose,
    no_first_pass,
    pruned_policy,
    search,
    unrepeated,
)
from envs.games import Game
from envs.records import GameRecord


@dataclass
class Positions:
    """Training examples. planes: uint8 0/1 [N, C, H, W]; policies: the search's visit counts
    [N, A], learned where policy_weight is 1; values: the result for the side to move [N];
    ownership: each point's final owner from the side to move's view, int8 [N, H*W] (Go; all
    zeros where unknown, [N, 0] for other games); scores: the final area score for the side
    to move, komi included [N] (Go; NaN where unknown: resignations, other games);
    value_weight: each position's weight in the value loss [N]."""

    planes: np.ndarray
    policies: np.ndarray
    values: np.ndarray
    policy_weight: np.ndarray
    ownership: np.ndarray
    scores: np.ndarray
    value_weight: np.ndarray

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
    def from_state(state: dict[str, torch.Tensor], value_weight: float = 1.0) -> Positions:
        """`value_weight`: the weight of positions saved before each had its own."""
        shape = state["values"].shape
        missing = {"scores": torch.full(shape, math.nan),  # saved before scores were kept
                   "value_weight": torch.full(shape, value_weight)}
        return Positions(**{f.name: state.get(f.name, missing.get(f.name)).numpy()
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
    selfplay_value_weight: float = 1.0  # the value loss's weight on self-play's positions
    opponent_share: float = 0.0  # share of games against the opponent given to play_games

    @staticmethod
    def of(cfg: Config, resign_threshold: float = NEVER) -> PlaySettings:
        return PlaySettings(cfg.search_config(), cfg.temperature_moves, cfg.value_target_q,
                            cfg.fast_simulations, cfg.full_search_share, resign_threshold,
                            cfg.resign_off_share, cfg.pass_first, cfg.target_pruning,
                            cfg.selfplay_value_weight, cfg.opponent_share)


def positions_of(game: Game, steps: list[tuple[np.ndarray, np.ndarray, int, float, bool]],
                 final: Any, result: np.ndarray, value_target_q: float = 0.0,
                 value_weight: float = 1.0) -> Positions:
    """One game's examples from its (planes, policy, player, search value, full search)
    steps, its final state and its result for each player. A search value of NaN (a move
    nobody searched: an engine's) leaves that position's value target to the result."""
    planes, policies, players, qs, full = zip(*steps)
    players = np.asarray(players)
    qs = np.where(np.isnan(qs), result[players], qs)
    values = (1 - value_target_q) * result[players] + value_target_q * qs
    cells = game.ownership_size
    ownership = np.zeros((len(steps), cells), dtype=np.int8)
    scores = np.full(len(steps), np.nan, dtype=np.float32)
    if cells and final.is_terminal():
        black = game.ownership(final)  # +1 Black's; the side to move's view below
        ownership[:] = np.where(players[:, None] == 0, black, -black)
        scores[:] = np.where(players == 0, 1, -1) * game.score(final)
    return Positions(np.stack(planes).astype(np.uint8), np.stack(policies),
                     values.astype(np.float32), np.asarray(full, dtype=np.float32), ownership,
                     scores, np.full(len(steps), value_weight, dtype=np.float32))


@dataclass
class FinishedGame:
    """One self-play game as it ends: its examples, its record and what its resignation watch
    saw. `index` is its place among the games played together; `opponent_seat` the side the
    opponent played (-1: a game against itself)."""

    index: int
    positions: Positions
    record: GameRecord
    moves: int
    resigned: bool
    watch: GameWatch
    opponent_seat: int = -1


def play_games(game: Game, evaluator: Evaluator, play: PlaySettings, games: int,
               rng: np.random.Generator, opponent: Player | None = None
               ) -> Iterator[FinishedGame]:
    """Play `games` games at once, searching every live game's position in one batch, and
    yield each as it ends (by the rules or, where its watch allows, by resignation: resign.py),
    so that a game finished is a game delivered even if the player dies before the others end.
    A share `play.opponent_share` of them seats `opponent` at a side drawn per game; it is
    closed when the games end."""
    try:
        yield from _play(game, evaluator, play, games, rng, opponent)
    finally:
        if opponent is not None:
            opponent.close()


def _play(game: Game, evaluator: Evaluator, play: PlaySettings, games: int,
          rng: np.random.Generator, opponent: Player | None) -> Iterator[FinishedGame]:
    roots = [Node(game.new_state()) for _ in range(games)]
    steps: list[list[tuple]] = [[] for _ in range(games)]
    moves = np.zeros(games, dtype=int)
    # the opponent's side in each game (-1: none); drawn only with an opponent, so that games
    # without one stay as they were
    seats = (np.where(rng.random(games) < play.opponent_share, rng.integers(2, size=games), -1)
             if opponent is not None else np.full(games, -1))
    # (no draw while nobody may resign: the games' randomness stays as it was without it);
    # against the opponent the network never resigns, so that every result there is played
    watches = [GameWatch(bool(seats[i] < 0) and play.resign_threshold > NEVER
                         and rng.random() >= play.resign_off_share) for i in range(games)]
    resigned: dict[int, int] = {}  # game -> the player who resigned it
    # the player of each game who never passes first (-1: none); drawn only when the rule is
    # on, so that games without it stay as they were. Against the opponent it is the network,
    # as it plays in rl eval and rl gtp
    strict = (rng.integers(2, size=games) if play.pass_first == "one"
              and game.pass_action is not None else np.full(games, -1))
    if game.pass_action is not None:
        strict = np.where(seats >= 0, 1 - seats, strict)
    names = [("self-play", "self-play") if s < 0 else
             tuple(opponent.name if p == s else "self-play" for p in (0, 1)) for s in seats]
    for i in np.flatnonzero(seats >= 0):
        opponent.new_game(int(i))

    def move(i: int, action: int, step: tuple | None) -> FinishedGame | None:
        """Game i's move, learnt as `step` (None: its player resigned); the game if it ended."""
        if step is None:
            resigned[i] = roots[i].player
        else:
            steps[i].append(step)
            roots[i] = advance(roots[i], action)
            moves[i] += 1
            if seats[i] >= 0:
                opponent.observe(i, action)
        if not (roots[i].terminal or i in resigned):
            return None
        if seats[i] >= 0:
            opponent.end_game(i)
        weight = 1.0 if seats[i] >= 0 else play.selfplay_value_weight
        return finished(game, i, roots[i], steps[i], resigned.get(i), watches[i],
                        int(moves[i]), play.value_target_q, weight, names[i], int(seats[i]))

    while live := [i for i, r in enumerate(roots) if not r.terminal and i not in resigned]:
        if theirs := [i for i in live if roots[i].player == seats[i]]:
            # the opponent's moves first (no search value: NaN); then every game waits on
            # the network's search
            for i, action in zip(theirs, opponent.choose(theirs)):
                step = None if action == RESIGN else (
                    game.encode(roots[i].state), one_hot(action, game.num_actions),
                    roots[i].player, math.nan, True)
                if (done := move(i, action, step)) is not None:
                    yield done
            continue
        full = [play.fast_simulations == 0 or rng.random() < play.full_search_share
                for _ in live]
        budgets = [play.search.simulations if f else play.fast_simulations for f in full]
        chosen = searched([roots[i] for i in live], game, evaluator, play, rng, budgets, full,
                          [moves[i] for i in live],
                          [roots[i].player == strict[i] for i in live])
        for i, is_full, (action, policy) in zip(live, full, chosen):
            root = roots[i]
            if seats[i] >= 0:  # GNU Go refuses a move that repeats a position
                action = unrepeated(game, root, action)
            value = gumbel.root_value(root, play.search)
            step = None if watches[i].resigns(root.player, value, play.resign_threshold) else (
                game.encode(root.state), policy, root.player, value, is_full)
            if (done := move(i, action, step)) is not None:
                yield done


def one_hot(action: int, size: int) -> np.ndarray:
    target = np.zeros(size, dtype=np.float32)
    target[action] = 1.0
    return target


def finished(game: Game, index: int, root: Node, steps: list[tuple], loser: int | None,
             watch: GameWatch, moves: int, value_target_q: float, value_weight: float = 1.0,
             names: tuple[str, str] = ("self-play", "self-play"), opponent_seat: int = -1
             ) -> FinishedGame:
    # a resignation is a loss for the player who resigned (player 1 resigning: Black's win)
    result = root.returns if loser is None else np.array([-1.0, 1.0]) * (1 - 2 * loser)
    record = GameRecord(list(root.state.history()), float(result[0]), names,
                        game.result_text(root.state, loser))
    return FinishedGame(index, positions_of(game, steps, root.state, result, value_target_q,
                                            value_weight),
                        record, moves, loser is not None, watch, opponent_seat)


def summarise(games: list[FinishedGame], resign_threshold: float
              ) -> tuple[Positions, dict[str, Any], list[GameRecord]]:
    """The games' examples (in the order given), their self-play statistics and records.
    Games against an opponent count among the games, not among those that calibrate
    resignation (the network may not resign there), and give the network's wins in them."""
    results = [g.record.result for g in games]
    played_out = [g for g in games if not g.watch.allowed and g.opponent_seat < 0]
    against = [g for g in games if g.opponent_seat >= 0]
    stats = {"first_player_wins": sum(r > 0 for r in results),
             "draws": sum(r == 0 for r in results),
             "mean_length": float(np.mean([g.moves for g in games])),
             "resigned": sum(g.resigned for g in games), "played_out": len(played_out),
             "opponent_games": len(against),
             # the network sits at the side the opponent does not: Black's result, signed
             "opponent_lost": sum((2 * g.opponent_seat - 1) * g.record.result > 0
                                  for g in against),
             **played_out_figures([g.watch for g in played_out],
                                  [g.record.result for g in played_out], resign_threshold)}
    return (Positions.concat([g.positions for g in games]), stats,
            [g.record for g in games])


def self_play(game: Game, evaluator: Evaluator, play: PlaySettings, games: int,
              rng: np.random.Generator, opponent: Player | None = None
              ) -> tuple[Positions, dict[str, Any], list[GameRecord]]:
    """Play `games` games at once; their examples in game order, statistics and records."""
    done = sorted(play_games(game, evaluator, play, games, rng, opponent),
                  key=lambda g: g.index)
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
