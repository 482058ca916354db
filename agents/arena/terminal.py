"""A person at the keyboard against a player (`rl play`)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from agents.arena.protocol import RESIGN, Player
from envs import go
from envs.games import Game


def play_human(game: Game, agent: Player, human_first: bool,
               read: Callable[[str], str] = input, write: Callable[[str], None] = print) -> int:
    """One game in the terminal. Bad input gets a message and a new prompt; end of input or
    'quit' ends the game. Returns the person's result (1, 0, -1), or 0 if they stopped."""
    state = game.new_state()
    human = 0 if human_first else 1
    agent.new_game(0)
    write(f"{game.name}: you move {'first' if human_first else 'second'}. Type a move's "
          f"{'vertex (C3, pass)' if game.gtp else 'number or name'}; 'quit' stops.")
    try:
        while not state.is_terminal():
            write(game.board_text(state))
            if state.current_player() != human:
                action = agent.choose([0])[0]
                if action == RESIGN:
                    write("the agent resigns: you win")
                    return 1
                write(f"agent plays {game.action_name(state, action)}")
            else:
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
                action = parse_move(game, state, text)
                if action is None:
                    names = ", ".join(game.action_name(state, a) for a in state.legal_actions())
                    write(f"{text.strip()!r} is not a legal move here; legal: {names}")
                    continue
            state.apply_action(action)
            agent.observe(0, action)
    finally:
        agent.end_game(0)
    write(game.board_text(state))
    result = int(np.sign(state.returns()[human]))
    write({1: "you win", 0: "draw", -1: "the agent wins"}[result])
    return result


def parse_move(game: Game, state, text: str) -> int | None:  # noqa: ANN001 (a pyspiel.State)
    """A legal move from what a person typed: a GTP vertex (C3, pass) in Go, else the move's
    number or its name (x(1,1), c3); a number works in every game. None if not legal here."""
    text = text.strip().lower().replace(" ", "")
    legal = state.legal_actions()
    if text.isdigit():
        return int(text) if int(text) in legal else None
    if game.gtp:
        try:
            action = go.parse_vertex(text, game.board[0])
        except ValueError:
            return None
        return action if action in legal else None
    for a in legal:
        name = state.action_to_string(state.current_player(), a).lower()
        short = name.split()[-1]
        if text in (name.replace(" ", ""), short, short.lstrip("xo")):
            return a
    return None
