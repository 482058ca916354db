"""A person at the keyboard against a player (`rl play`)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from agents.arena.protocol import RESIGN, Player
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
                action = game.parse_move(state, text)
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
