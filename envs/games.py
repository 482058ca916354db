"""Two-player, zero-sum, perfect-information board games from open_spiel, for search.

open_spiel supplies the rules (`state.clone()` is what makes tree search possible; PettingZoo's
classic games cannot clone). This adapter adds what a policy-value network needs: the
position as planes from the point of view of the side to move, and the board symmetries that
turn one training position into several.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rl.errors import UserError, did_you_mean

# name -> (open_spiel game, parameters, how actions map to the board)
GAMES: dict[str, tuple[str, dict, str]] = {
    "tic_tac_toe": ("tic_tac_toe", {}, "cells"),
    "connect_four": ("connect_four", {}, "columns"),
    **{f"go{n}": ("go", {"board_size": n, "komi": komi}, "cells+pass")
       for n, komi in {5: 24.5, 6: 4.5, 7: 8.5, 8: 7.5, 9: 7.5}.items()},
}
# Komi: half a point under the margin by which Black wins with perfect play where small boards
# are solved or nearly so (5x5: 25, 6x6: 4, van der Werf; 7x7: 9, Davies), the usual 7.5 above,
# so no side is given a sure win and draws cannot happen.
STONES = {"tic_tac_toe": (2, 1)}  # observation planes of the first and second player's pieces
ALIASES = {"tictactoe": "tic_tac_toe", "ttt": "tic_tac_toe", "connect4": "connect_four",
           "go": "go7"}


@dataclass
class Game:
    """One open_spiel game and the encodings a network needs."""

    name: str
    spiel: object
    action_layout: str  # cells (tic-tac-toe), columns (connect four), cells+pass (go)
    num_actions: int = field(init=False)
    obs_shape: tuple[int, int, int] = field(init=False)
    symmetries: list[Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]] = \
        field(init=False)

    def __post_init__(self) -> None:
        c, h, w = self.spiel.observation_tensor_shape()
        self.board = (h, w)
        self.num_actions = self.spiel.num_distinct_actions()
        self.obs_shape = (c + 1, h, w)  # + a plane saying who is to move
        self.symmetries = _symmetries(self.action_layout, h, w)

    def new_state(self):  # noqa: ANN201 (a pyspiel.State)
        return self.spiel.new_initial_state()

    def board_planes(self, state) -> np.ndarray:  # noqa: ANN001
        """open_spiel's observation as [C, H, W] (the same for both players in these games)."""
        return np.asarray(state.observation_tensor(0), dtype=np.float32).reshape(
            self.obs_shape[0] - 1, *self.board)

    def encode(self, state) -> np.ndarray:  # noqa: ANN001
        """float32 planes [C+1, H, W]: open_spiel's observation plus the side to move."""
        obs = self.board_planes(state)
        to_move = np.full((1, *self.board), float(state.current_player() == 1), dtype=np.float32)
        return np.concatenate([obs, to_move])

    def legal_mask(self, state) -> np.ndarray:  # noqa: ANN001
        return np.asarray(state.legal_actions_mask(), dtype=bool)[: self.num_actions]

    def action_name(self, state, action: int) -> str:  # noqa: ANN001
        return state.action_to_string(state.current_player(), action)

    def board_text(self, state) -> str:  # noqa: ANN001
        """open_spiel's drawing, with the move numbers a person types beside it."""
        board = str(state).rstrip("\n")
        if self.action_layout == "columns":
            return board + "\n" + "".join(str(c % 10) for c in range(self.board[1]))
        if self.action_layout == "cells" and not state.is_terminal():
            legal = set(state.legal_actions())
            h, w = self.board
            ids = ["".join(str(r * w + c) if r * w + c in legal else "." for c in range(w))
                   for r in range(h)]
            return "\n".join(f"{row}    {key}" for row, key in zip(board.splitlines(), ids))
        return board

    def draw(self, state, title: str = "") -> np.ndarray:  # noqa: ANN001
        """The position as an RGB picture (one frame of a recording)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        obs = self.board_planes(state)
        first, second = STONES.get(self.name, (0, 1))
        h, w = self.board
        bottom_up = self.action_layout != "cells"  # connect four and go count rows upwards
        fig, ax = plt.subplots(figsize=(0.55 * w + 0.6, 0.55 * h + 0.9), dpi=80)
        ax.set_facecolor("#d9b36c" if self.name.startswith("go") else "#1f4e9c")
        for r in range(h):
            for c in range(w):
                y = r if bottom_up else h - 1 - r
                color = ("black" if obs[first, r, c] else "white" if obs[second, r, c] else None)
                if self.name.startswith("go"):
                    if color:
                        ax.add_patch(plt.Circle((c, y), 0.42, color=color, ec="black"))
                else:
                    fill = {"black": "#e63946", "white": "#ffd166"}.get(color, "#f1f1f1")
                    ax.add_patch(plt.Circle((c, y), 0.4, color=fill))
        if self.name.startswith("go"):
            for i in range(h):
                ax.plot([0, w - 1], [i, i], color="black", lw=0.6, zorder=0)
            for j in range(w):
                ax.plot([j, j], [0, h - 1], color="black", lw=0.6, zorder=0)
        ax.set_xlim(-0.6, w - 0.4)
        ax.set_ylim(-0.6, h - 0.4)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=8)
        fig.tight_layout()
        fig.canvas.draw()
        image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
        plt.close(fig)
        return image

    def parse_move(self, state, text: str) -> int | None:  # noqa: ANN001
        """A legal move from what a person typed: its number or its name (x(1,1), c3, pass)."""
        text = text.strip().lower().replace(" ", "")
        legal = state.legal_actions()
        if text.isdigit():
            return int(text) if int(text) in legal else None
        for a in legal:
            name = self.action_name(state, a).lower()
            short = name.split()[-1]
            if text in (name.replace(" ", ""), short, short.lstrip("xo")):
                return a
        return None


def resolve_game(name: str) -> str:
    key = ALIASES.get(name, name)
    if key not in GAMES:
        raise UserError(f"unknown game {name!r}{did_you_mean(name, [*GAMES, *ALIASES])}; "
                        f"choose from {', '.join(GAMES)}")
    return key


def load_game(name: str) -> Game:
    import pyspiel

    key = resolve_game(name)
    spiel_name, params, layout = GAMES[key]
    return Game(key, pyspiel.load_game(spiel_name, params), layout)


def _symmetries(layout: str, h: int, w: int) -> list:
    """Maps (planes [C,H,W], policy [A]) to an equivalent pair. The identity comes first.

    Square boards whose actions are cells have the 8 symmetries of the square (tic-tac-toe,
    go: the pass action stays put); connect four, under gravity, only the left-right mirror.
    """
    def grid(k: int, flip: bool) -> Callable[[np.ndarray], np.ndarray]:
        def f(x: np.ndarray) -> np.ndarray:
            x = np.rot90(x, k, axes=(-2, -1))
            return np.ascontiguousarray(np.flip(x, -1) if flip else x)
        return f

    if layout == "columns":
        def mirror(planes: np.ndarray, policy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return np.ascontiguousarray(planes[..., ::-1]), np.ascontiguousarray(policy[..., ::-1])
        return [lambda p, q: (p, q), mirror]

    maps = []
    for k in range(4 if h == w else 1):
        for flip in (False, True):
            t = grid(k, flip)

            def sym(planes: np.ndarray, policy: np.ndarray, t=t) -> tuple[np.ndarray, np.ndarray]:
                cells = policy[..., : h * w].reshape(*policy.shape[:-1], h, w)
                moved = t(cells).reshape(*policy.shape[:-1], h * w)
                return t(planes), np.concatenate([moved, policy[..., h * w:]], axis=-1)
            maps.append(sym)
    return maps


# -- game records -----------------------------------------------------------------------------
RECORDS_HELP = """\
# rl game records: one game per line, the action ids in the order played, then ':' and the
# result for the first player (1 win, 0 draw, -1 loss). Lines starting with '#' are comments;
# '# game: NAME' names the game."""


def write_records(path: Path, game: str, games: Iterable[tuple[list[int], float]]) -> int:
    from rl.run import atomic_write_text

    lines = [RECORDS_HELP, f"# game: {game}"]
    lines += [f"{' '.join(map(str, actions))} : {result:g}" for actions, result in games]
    atomic_write_text(path, "\n".join(lines) + "\n")
    return len(lines) - 2


def read_records(path: Path, game: Game) -> list[tuple[list[int], float]]:
    """Parse and check a records file: every move must be legal where it was played and the
    stated result must be the game's."""
    records = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if line.startswith("# game:") and line.split(":", 1)[1].strip() != game.name:
            raise UserError(f"{path} holds {line.split(':', 1)[1].strip()} games, not {game.name}")
        if not line or line.startswith("#"):
            continue
        moves, sep, result = line.partition(":")
        try:
            actions, value = [int(a) for a in moves.split()], float(result)
        except ValueError:
            raise UserError(f"{path}:{n}: expected 'ACTION ACTION ... : RESULT'") from None
        state = game.new_state()
        for a in actions:
            if state.is_terminal() or a not in state.legal_actions():
                raise UserError(f"{path}:{n}: move {a} is illegal there")
            state.apply_action(a)
        if not sep or not state.is_terminal() or state.returns()[0] != value:
            raise UserError(f"{path}:{n}: the game does not end with result {result.strip()}")
        records.append((actions, value))
    if not records:
        raise UserError(f"{path} holds no games")
    return records
