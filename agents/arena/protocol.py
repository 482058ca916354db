"""Who sits across the board: a player follows games and chooses moves in them.

A player sits at one side of many games at once (the key of each game is an int). Its
lifecycle is open_spiel's bots' (`restart`, `inform_action`, `step`) for many games, and the
same protocol wraps external GTP engines (agents/arena/gtp.py):

    new_game(key)         a game starts (from the initial position)
    observe(key, action)  a move was played in that game, by either side
    choose(keys)          its moves in these games, where it is to move: all at once, so our
                          network evaluates every game's search leaves in one batch
    end_game(key)         that game is over
    close()               no more games (engines exit)

A move is an action id, or RESIGN.

Most players answer `choose` at once. A player that thinks on its own (an external engine, a
process per game) says so with `answers_later = True` and follows `LatePlayer` instead: it is
asked (`ask`), and its answers are collected as they come, so the match goes on with the other
games meanwhile.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from envs.games import Game

RESIGN = -1


class Player(Protocol):
    name: str
    answers_later: bool

    def new_game(self, key: int) -> None: ...
    def observe(self, key: int, action: int) -> None: ...
    def choose(self, keys: Sequence[int]) -> list[int]: ...
    def end_game(self, key: int) -> None: ...
    def close(self) -> None: ...


class LatePlayer(Player, Protocol):
    """A player whose moves come later: asked now, answering when its thinking is done."""

    def ask(self, keys: Sequence[int]) -> None: ...
    def answers(self) -> list[tuple[int, int]]: ...  # (game, move) for those done, no waiting
    def thinking(self) -> list[int]: ...  # file descriptors to wait on while none is done


class Follower:
    """Keeps its own copy of each game's position, from the moves it is told about."""

    name = "player"
    answers_later = False

    def __init__(self, game: Game):
        self.game = game
        self.states: dict[int, Any] = {}

    def new_game(self, key: int) -> None:
        self.states[key] = self.game.new_state()

    def observe(self, key: int, action: int) -> None:
        self.states[key].apply_action(action)

    def end_game(self, key: int) -> None:
        self.states.pop(key, None)

    def close(self) -> None:
        self.states.clear()

    def choose(self, keys: Sequence[int]) -> list[int]:
        return [self.move(self.states[k]) for k in keys]

    def move(self, state: Any) -> int:
        raise NotImplementedError
