"""Matches on many boards at once, the records they leave, and expert games.

A `Match` keeps up to `parallel` games going; each turn, every player is asked for its
moves in all the games where it is to move (one network batch, or all engines thinking at
once). The agent plays first (Black in Go) in the even games. A game ends by the rules
(open_spiel: Tromp-Taylor in Go), by resignation, or is scored by a referee engine, whose
`final_score` decides the result (as gogui-twogtp's referee does); both scores are recorded
and their disagreements counted. Go games are written as SGF the moment they end, so a match
stopped by a failing engine keeps every finished game.
"""
from __future__ import annotations

import select
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.arena.protocol import RESIGN, LatePlayer, Player
from envs import go
from envs.games import Game
from envs.records import GameRecord
from rl.errors import UserError
from rl.progress import TrainingProgress
from rl.stats import summarise_match

SGF_PREFIX = "game-"
SGF_NAME = SGF_PREFIX + "{:05d}.sgf"  # a game's file in save_dir, by its key


@dataclass
class MatchResult:
    """Per game: the agent's seat (0 first) and the first player's result."""

    game: Game
    seats: list[int] = field(default_factory=list)
    results: list[float] = field(default_factory=list)
    records: list[GameRecord] = field(default_factory=list)
    rules_results: list[float | None] = field(default_factory=list)  # open_spiel's, if scored
    agent_seconds: float = 0.0
    agent_moves: int = 0
    agent_slowest_call: float = 0.0

    def add(self, seat: int, result: float, rules: float | None, record: GameRecord) -> None:
        self.seats.append(seat)
        self.results.append(result)
        self.rules_results.append(rules)
        self.records.append(record)

    def extend(self, other: MatchResult) -> None:
        """Add `other`'s games (an earlier leg's); the timings stay this leg's."""
        self.seats += other.seats
        self.results += other.results
        self.rules_results += other.rules_results
        self.records += other.records

    def timed(self, seconds: float, moves: int) -> None:
        """One call of the agent's that chose `moves` moves."""
        self.agent_seconds += seconds
        self.agent_moves += moves
        self.agent_slowest_call = max(self.agent_slowest_call, seconds)

    def summary(self) -> dict[str, Any]:
        """wins/draws/losses from the agent's side, by seat, with 95% intervals."""
        first, second = self.game.player_names
        out: dict[str, Any] = {"wins": 0, "draws": 0, "losses": 0, "games": len(self.results),
                               f"as_{first}": {"wins": 0, "draws": 0, "losses": 0},
                               f"as_{second}": {"wins": 0, "draws": 0, "losses": 0}}
        for seat, result in zip(self.seats, self.results):
            mine = result if seat == 0 else -result
            key = "wins" if mine > 0 else "losses" if mine < 0 else "draws"
            out[key] += 1
            out[f"as_{first}" if seat == 0 else f"as_{second}"][key] += 1
        out.update(summarise_match(out["wins"], out["draws"], out["losses"]))
        scored = [(r, t) for r, t in zip(self.results, self.rules_results) if t is not None]
        out["rules_disagreements"] = sum(r != t for r, t in scored)
        if self.agent_moves:
            out["agent_s_per_move"] = round(self.agent_seconds / self.agent_moves, 4)
            out["agent_slowest_call_s"] = round(self.agent_slowest_call, 3)
        return out


class Match:
    """Games between `agent` and `opponent` (the same object plays itself), many at once.

    With `referee` (agents.arena.gtp.Referee), its score decides every game not ended by
    resignation; `save_dir` receives each Go game as SGF the moment it ends; `opening(state,
    key)` gives moves played before the players take over (both are told). Keys count from
    `first_key`; the agent moves first in the games whose key is even relative to it."""

    def __init__(self, game: Game, agent: Player, opponent: Player, *, referee: Any = None,
                 save_dir: Path | None = None, first_key: int = 0,
                 opening: Callable[[Any, int], list[int]] | None = None,
                 skip: Collection[int] = ()):
        self.game, self.agent, self.opponent = game, agent, opponent
        self.skip = skip  # keys not to play: games an earlier, killed run has saved
        self.players = [agent] if agent is opponent else [agent, opponent]
        self.late = [p for p in self.players if p.answers_later]
        self.referee, self.save_dir, self.first_key, self.opening = (referee, save_dir,
                                                                     first_key, opening)
        self.result = MatchResult(game)
        self.states: dict[int, Any] = {}
        self.opened: dict[int, int] = {}  # moves played by the opening, per game
        self.waiting: set[int] = set()  # games whose mover (a late player) is thinking

    def play(self, games: int, parallel: int | None = None,
             progress: bool = False) -> MatchResult:
        """`games` games, up to `parallel` of them going at once (default: all)."""
        keys = [k for k in range(self.first_key, self.first_key + games) if k not in self.skip]
        self.todo = iter(keys)
        self.bar = TrainingProgress(len(keys), label=f"{self.agent.name} vs {self.opponent.name}",
                                    enabled=progress, unit="games")
        try:
            for _ in range(parallel or len(keys)):
                self.start()
            while self.states:
                self.turn()
        except UserError as e:  # a failing engine: say what was kept
            kept = (f" (SGF in {self.save_dir})" if self.save_dir is not None
                    and self.result.results else "")
            raise type(e)(f"{e}; {len(self.result.results)} games had finished{kept}") from None
        finally:
            self.bar.close()
            for key in list(self.states):
                for p in self.players:
                    p.end_game(key)
        return self.result

    def turn(self) -> None:
        """Every player moves in all the games where it is to move (one network batch, or all
        engines thinking at once); then the late players' answers that have come are played,
        waiting for one only when no game can go on without it."""
        for p in self.players:
            keys = [k for k in self.states if self.mover(k) is p and k not in self.waiting]
            if not keys:
                continue
            if p.answers_later:
                p.ask(keys)  # type: ignore[attr-defined]  # a LatePlayer
                self.waiting.update(keys)
                continue
            t0 = time.perf_counter()
            actions = p.choose(keys)
            if p is self.agent:
                self.result.timed(time.perf_counter() - t0, len(keys))
            for key, action in zip(keys, actions):
                self.move(p, key, action)
        idle = all(k in self.waiting for k in self.states)
        for p, key, action in answers(self.late, block=idle and bool(self.waiting)):
            self.waiting.discard(key)
            self.move(p, key, action)

    def seat(self, key: int) -> int:
        """The agent's seat in game `key`: 0 (first to move) or 1."""
        return (key - self.first_key) % 2

    def mover(self, key: int) -> Player:
        return self.agent if self.states[key].current_player() == self.seat(key) \
            else self.opponent

    def start(self) -> None:
        key = next(self.todo, None)
        if key is None:
            return
        self.states[key] = self.game.new_state()
        for p in self.players:
            p.new_game(key)
        for action in self.opening(self.states[key], key) if self.opening else []:
            self.move(self.agent, key, action)
        self.opened[key] = len(self.states[key].history())

    def move(self, player: Player, key: int, action: int) -> None:
        """One move of one game, told to every player; the game is finished when it ends."""
        state = self.states[key]
        if action == RESIGN:
            self.finish(key, resigned=state.current_player())
            return
        if action not in state.legal_actions():
            raise UserError(f"{player.name} played an illegal move in game {key}: "
                            f"{self.game.action_name(state, action)}")
        state.apply_action(action)
        for p in self.players:
            p.observe(key, action)
        if state.is_terminal():
            self.finish(key)

    def finish(self, key: int, resigned: int | None = None) -> None:
        """Score the game (rules, resignation or referee), record it, start the next one."""
        state = self.states.pop(key)
        seat = self.seat(key)
        names = (self.agent.name, self.opponent.name) if seat == 0 else \
            (self.opponent.name, self.agent.name)
        moves = list(state.history())
        if resigned is not None:
            value, rules = (1.0 if resigned == 1 else -1.0), None
            score = self.game.result_text(state, resigned)
        else:
            value = rules = float(state.returns()[0])
            score = self.game.result_text(state)
            if self.referee is not None:
                score = self.referee.score(moves)
                value = go.parse_result(score)
                if value is None:
                    raise UserError(f"referee {self.referee.command!r} scored a game {score!r}")
        record = GameRecord(moves, value, names, score, opening=self.opened.pop(key))
        if self.save_dir is not None and self.game.record_format == "sgf":
            from envs.sgf import write_sgf

            write_sgf(self.save_dir / SGF_NAME.format(key), self.game, record)
        for p in self.players:
            p.end_game(key)
        self.result.add(seat, value, rules if self.referee is not None else None, record)
        self.bar.update(len(self.result.results))
        self.start()


def answers(players: Sequence[LatePlayer], block: bool) -> list[tuple[LatePlayer, int, int]]:
    """(player, game, move) for each answer that has come; with `block`, at least one."""
    while True:
        got = [(p, key, action) for p in players for key, action in p.answers()]
        if got or not block:
            return got
        select.select([fd for p in players for fd in p.thinking()], [], [], 1.0)


def random_opening(game: Game, most: int, seed: int) -> Callable[[Any, int], list[int]]:
    """Up to `most` uniformly random moves (never a pass, never into one's own eye) before the
    experts play: deterministic engines such as GNU Go repeat whole games otherwise."""
    def opening(state: Any, key: int) -> list[int]:
        rng = np.random.default_rng([seed, key])
        state, moves = state.clone(), []
        for _ in range(int(rng.integers(most + 1))):
            choices = np.flatnonzero(game.inputs(state)[1])
            choices = choices[choices != game.pass_action]
            if not len(choices):
                break
            moves.append(int(rng.choice(choices)))
            state.apply_action(moves[-1])
        return moves
    return opening


def saved_games(save_dir: Path) -> set[int]:
    """The keys of the games saved in `save_dir` (each file is whole: written atomically)."""
    keys = (p.stem.removeprefix(SGF_PREFIX) for p in save_dir.glob(SGF_PREFIX + "*.sgf"))
    return {int(k) for k in keys if k.isdigit()}


def kept_games(save_dir: Path, game: Game, keys: Collection[int], scored: bool) -> MatchResult:
    """The games numbered `keys` that an earlier, killed match saved in `save_dir`, as the
    result a resumed match goes on from. A game's seat follows its key as in a `Match` from
    key 0; its result is its SGF's (the referee's score or the resignation); where `scored`
    (a referee decided), open_spiel's own score is computed again from the moves of games
    that ended on the board, so disagreements are counted over the whole match."""
    from collections import Counter

    from envs.sgf import Skip, read_game

    kept = MatchResult(game)
    for key in sorted(keys):
        path = save_dir / SGF_NAME.format(key)
        try:
            record = read_game(path, game, Counter())
        except Skip as why:
            raise UserError(f"{path}: {why}, so the match cannot go on from it") from None
        state = game.new_state()
        for action in record.moves:
            state.apply_action(action)
        rules = float(state.returns()[0]) if scored and state.is_terminal() else None
        kept.add(key % 2, record.result, rules, record)
    return kept


def generate_games(game: Game, experts: Sequence[Player], games: int,
                   save_dir: Path | None = None, parallel: int | None = None,
                   progress: bool = False, random_moves: int = 0,
                   seed: int = 0, skip: Collection[int] = ()) -> list[GameRecord]:
    """Expert games: each expert against itself, the games shared out among the experts,
    each game opened by up to `random_moves` random moves (recorded as such). The games
    numbered in `skip` are not played (their SGF is there already); the others are the same
    games they would have been, since a game's seeds and opening follow its number."""
    records: list[GameRecord] = []
    share, extra = divmod(games, len(experts))
    opening = random_opening(game, random_moves, seed) if random_moves else None
    first = 0
    for i, expert in enumerate(experts):
        n = share + (i < extra)
        if n:
            match = Match(game, expert, expert, save_dir=save_dir, first_key=first,
                          opening=opening, skip=skip)
            records += match.play(n, parallel, progress).records
            first += n
    return records
