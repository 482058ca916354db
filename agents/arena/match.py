"""Matches on many boards at once, the records they leave, and expert games.

`play_match` keeps up to `parallel` games going; each turn, every player is asked for its
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.arena.protocol import RESIGN, Player
from envs import go
from envs.games import Game
from envs.records import GameRecord
from rl.errors import UserError
from rl.progress import TrainingProgress
from rl.stats import summarise_match


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


def play_match(game: Game, agent: Player, opponent: Player, games: int, *,
               referee: Any = None, save_dir: Path | None = None, parallel: int | None = None,
               progress: bool = False, first_key: int = 0,
               opening: Callable[[Any, int], list[int]] | None = None) -> MatchResult:
    """`games` games between agent and opponent (the same object plays itself). With
    `referee` (agents.arena.gtp.Referee), its score decides every game not ended by resignation.
    `opening(state, key)` gives moves played before the players take over (both are told)."""
    players = [agent] if agent is opponent else [agent, opponent]
    result = MatchResult(game)
    states: dict[int, Any] = {}
    opened: dict[int, int] = {}  # moves played by the opening, per game
    todo = iter(range(first_key, first_key + games))
    bar = TrainingProgress(games, label=f"{agent.name} vs {opponent.name}", enabled=progress,
                           unit="games")

    def start() -> None:
        key = next(todo, None)
        if key is not None:
            states[key] = game.new_state()
            for p in players:
                p.new_game(key)
            for action in opening(states[key], key) if opening else []:
                play(game, agent, players, states[key], key, action, finish)
            opened[key] = len(states[key].history())

    def finish(key: int, resigned: int | None = None) -> None:
        state = states.pop(key)
        seat = (key - first_key) % 2
        names = (agent.name, opponent.name) if seat == 0 else (opponent.name, agent.name)
        moves = list(state.history())
        if resigned is not None:
            value, rules = (1.0 if resigned == 1 else -1.0), None
            score = game.result_text(state, resigned)
        else:
            value = rules = float(state.returns()[0])
            score = game.result_text(state)
            if referee is not None:
                score = referee.score(moves)
                value = go.parse_result(score)
                if value is None:
                    raise UserError(f"referee {referee.command!r} scored a game {score!r}")
        record = GameRecord(moves, value, names, score, opening=opened.pop(key))
        if save_dir is not None and game.record_format == "sgf":
            from envs.sgf import write_sgf

            write_sgf(save_dir / f"game-{key:05d}.sgf", game, record)
        for p in players:
            p.end_game(key)
        result.seats.append(seat)
        result.results.append(value)
        result.rules_results.append(rules if referee is not None else None)
        result.records.append(record)
        bar.update(len(result.results))
        start()

    def mover(key: int) -> Player:
        seat = (key - first_key) % 2
        return agent if states[key].current_player() == seat else opponent

    engines = [p for p in players if hasattr(p, "ask")]  # they think on their own
    waiting: set[int] = set()
    try:
        for _ in range(parallel or games):
            start()
        while states:
            for p in players:
                keys = [k for k in states if mover(k) is p and k not in waiting]
                if not keys:
                    continue
                if p in engines:
                    p.ask(keys)
                    waiting.update(keys)
                    continue
                t0 = time.perf_counter()
                actions = p.choose(keys)
                if p is agent:
                    spent = time.perf_counter() - t0
                    result.agent_seconds += spent
                    result.agent_moves += len(keys)
                    result.agent_slowest_call = max(result.agent_slowest_call, spent)
                for key, action in zip(keys, actions):
                    play(game, p, players, states[key], key, action, finish)
            # take each engine's move as it comes; wait only when nobody else can move
            idle = all(k in waiting for k in states)
            for p, key, action in answers(engines, block=idle and bool(waiting)):
                waiting.discard(key)
                play(game, p, players, states[key], key, action, finish)
    except UserError as e:  # a failing engine: say what was kept
        kept = f" (SGF in {save_dir})" if save_dir is not None and result.results else ""
        raise type(e)(f"{e}; {len(result.results)} games had finished{kept}") from None
    finally:
        bar.close()
        for key in list(states):
            for p in players:
                p.end_game(key)
    return result


def play(game: Game, player: Player, players: Sequence[Player], state: Any, key: int,
         action: int, finish: Any) -> None:
    """One move of one game, told to every player; the game is finished when it ends."""
    if action == RESIGN:
        finish(key, resigned=state.current_player())
        return
    if action not in state.legal_actions():
        raise UserError(f"{player.name} played an illegal move in game {key}: "
                        f"{game.action_name(state, action)}")
    state.apply_action(action)
    for p in players:
        p.observe(key, action)
    if state.is_terminal():
        finish(key)


def answers(engines: Sequence[Any], block: bool) -> list[tuple[Any, int, int]]:
    """(engine player, game, move) for each answer that has come; with `block`, at least one."""
    while True:
        got = [(p, key, action) for p in engines for key, action in p.answers()]
        if got or not block:
            return got
        select.select([fd for p in engines for fd in p.thinking()], [], [], 1.0)


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


def generate_games(game: Game, experts: Sequence[Player], games: int,
                   save_dir: Path | None = None, parallel: int | None = None,
                   progress: bool = False, random_moves: int = 0,
                   seed: int = 0) -> list[GameRecord]:
    """Expert games: each expert against itself, the games shared out among the experts,
    each game opened by up to `random_moves` random moves (recorded as such)."""
    records: list[GameRecord] = []
    share, extra = divmod(games, len(experts))
    opening = random_opening(game, random_moves, seed) if random_moves else None
    first = 0
    for i, expert in enumerate(experts):
        n = share + (i < extra)
        if n:
            r = play_match(game, expert, expert, n, save_dir=save_dir, parallel=parallel,
                           progress=progress, first_key=first, opening=opening)
            records += r.records
            first += n
    return records
