"""Two-player, zero-sum, perfect-information board games from open_spiel, for search.

open_spiel supplies the rules (`state.clone()` is what makes tree search possible; PettingZoo's
classic games cannot clone). This adapter adds what a policy-value network needs: the
position as planes, the moves worth considering, and the board symmetries that turn one
training position into several, and named traits (record_format, gtp, ownership_size) so
that callers never infer what a game is. Go's own knowledge (coordinates, liberties, eyes,
scoring, SGF) lives in `GoGame` and envs/go.py; how a person types a move and how a position
is drawn are the arena's (agents/arena/terminal.py, pictures.py), not the rules'.
"""
from __future__ import annotations

import numpy as np

from envs import go
from rl.errors import UserError, did_you_mean

# name -> (open_spiel game, parameters, how actions map to the board)
GAMES: dict[str, tuple[str, dict, str]] = {
    "tic_tac_toe": ("tic_tac_toe", {}, "cells"),
    "connect_four": ("connect_four", {}, "columns"),
    **{f"go{n}": ("go", {"board_size": n, "komi": komi}, "cells+pass")
       for n, komi in go.KOMI.items()},
}
STONES = {"tic_tac_toe": (2, 1)}  # observation planes of the first and second player's pieces
ALIASES = {"tictactoe": "tic_tac_toe", "ttt": "tic_tac_toe", "connect4": "connect_four",
           "go": "go9"}

class Game:
    """One open_spiel game and the encodings a network needs."""

    # What a game is, named, so that no caller infers it from something else:
    record_format = "text"  # how its games are recorded: "text" (envs/records.py) or "sgf"
    gtp = False             # GTP engines play it (Go): opponents, referees, `rl gtp`
    pass_action: int | None = None
    ownership_size = 0      # points whose final owner the network learns to predict (Go)
    player_names = ("first", "second")

    def __init__(self, name: str, spiel: object, action_layout: str):
        self.name, self.spiel = name, spiel
        self.action_layout = action_layout  # cells (tic-tac-toe), columns (connect four),
        # cells+pass (go)
        c, h, w = spiel.observation_tensor_shape()
        self.board = (h, w)
        self.num_actions = spiel.num_distinct_actions()
        self.obs_shape: tuple[int, int, int] = (c + 1, h, w)  # + a plane saying who is to move
        self.symmetries: list[Symmetry] = _symmetries(action_layout, h, w)

    def new_state(self):  # noqa: ANN201 (a pyspiel.State)
        return self.spiel.new_initial_state()

    def board_planes(self, state) -> np.ndarray:  # noqa: ANN001
        """open_spiel's observation as [C, H, W] (the same for both players in these games)."""
        c, h, w = self.spiel.observation_tensor_shape()
        return np.asarray(state.observation_tensor(0), dtype=np.float32).reshape(c, h, w)

    def inputs(self, state) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
        """The network's planes and the moves a player considers, for one position."""
        obs = self.board_planes(state)
        to_move = np.full((1, *self.board), float(state.current_player() == 1), dtype=np.float32)
        return np.concatenate([obs, to_move]), self.legal_mask(state)

    def inputs_many(self, states: list) -> tuple[np.ndarray, np.ndarray]:
        """`inputs` of many positions, stacked (Go computes them as one batch)."""
        planes, masks = zip(*(self.inputs(s) for s in states))
        return np.stack(planes), np.stack(masks)

    def encode(self, state) -> np.ndarray:  # noqa: ANN001
        return self.inputs(state)[0]

    def legal_mask(self, state) -> np.ndarray:  # noqa: ANN001
        return np.asarray(state.legal_actions_mask(), dtype=bool)[: self.num_actions]

    def result_text(self, state, resigned: int | None = None) -> str:  # noqa: ANN001
        """How a finished game's result is written in its records (SGF's RE): none here."""
        return ""

    def is_superko(self, state) -> bool:  # noqa: ANN001
        """Whether the last move repeated an earlier position (only Go forbids that)."""
        return False

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

    def stones(self, state) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
        """Boolean maps [H, W] of the first and the second player's pieces, row 0 drawn at the
        bottom for games that count rows upwards."""
        obs = self.board_planes(state)
        first, second = STONES.get(self.name, (0, 1))
        flip = self.action_layout == "cells"  # tic-tac-toe's row 0 is the top row
        planes = obs[[first, second]].astype(bool)
        return tuple(p[::-1] if flip else p for p in planes)

class GoGame(Game):
    """Go on an n x n board: Go's input planes, candidate moves without eye-filling, GTP
    vertices for moves, SGF for records, Tromp-Taylor results (envs/go.py)."""

    record_format = "sgf"
    gtp = True
    player_names = ("black", "white")

    def __init__(self, size: int, komi: float | None = None):
        import pyspiel

        self.size = size
        self.komi = go.KOMI.get(size, 7.5) if komi is None else float(komi)
        spiel = pyspiel.load_game("go", {"board_size": size, "komi": self.komi,
                                         "max_game_length": go.max_game_length(size)})
        super().__init__(f"go{size}", spiel, "cells+pass")
        self.obs_shape = (len(go.PLANES), size, size)
        self.pass_action = size * size
        self.ownership_size = size * size

    def inputs(self, state) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
        return go.inputs(state, self.size)

    def inputs_many(self, states: list) -> tuple[np.ndarray, np.ndarray]:
        return go.inputs_many(states, self.size)

    def action_name(self, state, action: int) -> str:  # noqa: ANN001
        return go.vertex(action, self.size)

    def result_text(self, state, resigned: int | None = None) -> str:  # noqa: ANN001
        """SGF's RE: 'B+R' when White (player 1) resigned, else the Tromp-Taylor 'B+3.5'."""
        if resigned is not None:
            return f"{'BW'[1 - resigned]}+R"
        return go.format_score(self.score(state))

    def score(self, state) -> float:  # noqa: ANN001
        """Tromp-Taylor: Black's area - White's - komi (what open_spiel's result is based on)."""
        return go.tromp_taylor(go.board(state, self.size), self.komi)

    def ownership(self, state) -> np.ndarray:  # noqa: ANN001
        """int8 [n*n]: each point's Tromp-Taylor owner, +1 Black, -1 White, 0 neither."""
        return go.area(go.board(state, self.size)).reshape(-1)

    def is_superko(self, state) -> bool:  # noqa: ANN001
        """open_spiel ends a game that repeats a position as a draw; under positional superko
        (GNU Go's, and ours against it) that last move was illegal."""
        history = state.history()
        return (state.is_terminal() and state.returns()[0] == 0 and len(history) > 0
                and history[-1] != self.pass_action
                and len(history) < self.spiel.max_game_length())

    def stones(self, state) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
        grid = go.board(state, self.size)
        return grid == 1, grid == -1

def resolve_game(name: str) -> str:
    key = ALIASES.get(name, name)
    if key not in GAMES:
        raise UserError(f"unknown game {name!r}{did_you_mean(name, [*GAMES, *ALIASES])}; "
                        f"choose from {', '.join(GAMES)}")
    return key


def load_game(name: str, komi: float | None = None) -> Game:
    import pyspiel

    key = resolve_game(name)
    spiel_name, params, layout = GAMES[key]
    if spiel_name == "go":
        return GoGame(params["board_size"], komi)
    return Game(key, pyspiel.load_game(spiel_name, params), layout)


class Symmetry:
    """A symmetry of the board: a rotation by k quarter turns, then an optional mirror. It moves
    planes [..., H, W] and, for actions that are cells, the cell part of a policy [..., A]
    (go's pass stays put); connect four's actions are columns and mirror with the board."""

    def __init__(self, k: int, flip: bool, h: int, w: int, columns: bool = False):
        self.k, self.flip, self.h, self.w, self.columns = k, flip, h, w, columns

    def board(self, x: np.ndarray) -> np.ndarray:
        x = np.rot90(x, self.k, axes=(-2, -1))
        return np.ascontiguousarray(np.flip(x, -1) if self.flip else x)

    def actions(self, policy: np.ndarray) -> np.ndarray:
        if self.columns:
            return np.ascontiguousarray(np.flip(policy, -1) if self.flip else policy)
        n = self.h * self.w
        cells = self.board(policy[..., :n].reshape(*policy.shape[:-1], self.h, self.w))
        return np.concatenate([cells.reshape(*policy.shape[:-1], n), policy[..., n:]], axis=-1)

    def __call__(self, planes: np.ndarray, policy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.board(planes), self.actions(policy)


def _symmetries(layout: str, h: int, w: int) -> list[Symmetry]:
    """The identity first. Square boards whose actions are cells have the 8 symmetries of the
    square (tic-tac-toe, go); connect four, under gravity, only the left-right mirror."""
    if layout == "columns":
        return [Symmetry(0, False, h, w, columns=True), Symmetry(0, True, h, w, columns=True)]
    return [Symmetry(k, flip, h, w) for k in range(4 if h == w else 1) for flip in (False, True)]
