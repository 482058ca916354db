"""Go on n x n boards: the one place that knows Go beyond open_spiel's rules.

open_spiel plays the rules (captures, ko, suicide, two passes end the game, Tromp-Taylor
scoring). This module adds what players and records need:

- **Coordinates.** An open_spiel action is `row * n + col` with row 0 at the bottom (a1 = 0)
  and `n * n` = pass. sgfmill's points are the same (row, col) pairs, so one pair of functions
  serves GTP vertices (letters skip I, rows count from the bottom: "A1", "J9", "pass") and SGF
  points (letters do not skip I, rows count from the top: "ai" is A1 on 9x9, a pass is "" or
  "tt"), each through sgfmill's own reading and writing.
- **Input planes** from the side to move's view: stones with 1, 2 and 3+ liberties, the last
  two moves, empty points the side to move may not play (ko, suicide), who is to move (komi).
- **What a player must not do**: fill its own true eyes (a group needs two to live).
- **Scoring**: Tromp-Taylor area and each point's final owner (the ownership target).
"""
from __future__ import annotations

import functools

import numpy as np
from scipy import ndimage
from sgfmill import common

PLANES = ("own stones", "opponent stones", "empty", "own 1 liberty", "own 2 liberties",
          "own 3+ liberties", "opponent 1 liberty", "opponent 2 liberties",
          "opponent 3+ liberties", "last move", "move before", "illegal empty", "on board",
          "white to move")
# Komi for each size: half a point under the margin by which Black wins with perfect play where
# small boards are solved or nearly so (5x5: 25, 6x6: 4, van der Werf; 7x7: 9, Davies), the
# usual 7.5 above, so no side is given a sure win and draws cannot happen.
KOMI = {5: 24.5, 6: 4.5, 7: 8.5, 8: 7.5, 9: 7.5}


def max_game_length(size: int) -> int:
    """open_spiel ends a game after 2 n^2 moves and scores it as it stands; a game that
    captures dead stones before passing (as GNU Go's --capture-all-dead does) can need more."""
    return 4 * size * size


# -- coordinates --------------------------------------------------------------------------------

def to_point(action: int, size: int) -> tuple[int, int] | None:
    """(row from the bottom, column), sgfmill's convention; None for a pass."""
    return None if action == size * size else divmod(action, size)


def from_point(point: tuple[int, int] | None, size: int) -> int:
    return size * size if point is None else point[0] * size + point[1]


def vertex(action: int, size: int) -> str:
    """GTP vertex: 'A1' ... 'J9' (no I), or 'pass'."""
    return common.format_vertex(to_point(action, size))


def parse_vertex(text: str, size: int) -> int:
    """An action from a GTP vertex; ValueError for anything else (off the board, 'I5', junk)."""
    return from_point(common.move_from_vertex(text.strip(), size), size)


# -- the board ---------------------------------------------------------------------------------

def board(state, size: int) -> np.ndarray:  # noqa: ANN001 (a pyspiel.State)
    """int8 [size, size]: +1 black, -1 white, 0 empty; row 0 at the bottom."""
    return boards([state], size)[0]


def boards(states: list, size: int) -> np.ndarray:
    """`board` of many positions, int8 [B, size, size]."""
    obs = np.array([s.observation_tensor(0) for s in states], dtype=np.float32)
    obs = obs.reshape(len(states), 4, size, size)
    return (obs[:, 0] - obs[:, 1]).astype(np.int8)


def board_text(grid: np.ndarray) -> str:
    """The board as GTP engines show it: X black, O white, rows numbered from the bottom."""
    size = len(grid)
    letters = " ".join(common.column_letters[:size])
    rows = [f"{r + 1:2d} " + " ".join(".XO"[v] for v in grid[r]) for r in reversed(range(size))]
    return "\n".join([f"   {letters}", *rows, f"   {letters}"])


@functools.cache
def _tables(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat indices of each point's 4 neighbours and 4 diagonals ([4, n*n]; n*n stands for
    off the board), and the points on the edge. Looked up once per size: on a 9x9 board a
    handful of whole-board index operations beat np.pad and friends by 10x."""
    rows, cols = np.divmod(np.arange(size * size), size)

    def at(dr: int, dc: int) -> np.ndarray:
        r, c = rows + dr, cols + dc
        inside = (r >= 0) & (r < size) & (c >= 0) & (c < size)
        return np.where(inside, r * size + c, size * size)

    sides = np.stack([at(1, 0), at(-1, 0), at(0, -1), at(0, 1)])
    corners = np.stack([at(1, 1), at(1, -1), at(-1, 1), at(-1, -1)])
    return sides, corners, (sides == size * size).any(0)


def _around(x: np.ndarray, tables: np.ndarray, off_board: int | bool) -> np.ndarray:
    """[..., 4, n*n]: the values of boards `x` ([..., n, n]) at the points `tables` names."""
    flat = x.reshape(*x.shape[:-2], -1)
    edge = np.full((*flat.shape[:-1], 1), off_board, dtype=flat.dtype)
    return np.concatenate([flat, edge], -1)[..., tables]


CROSS = ndimage.generate_binary_structure(2, 1)  # groups connect along lines, not diagonals
BOARDS = np.stack([np.zeros_like(CROSS), CROSS, np.zeros_like(CROSS)])  # and never across boards


def liberties(stones: np.ndarray, empty: np.ndarray) -> np.ndarray:
    """For each stone, the number of liberties of its group (0 elsewhere), on one board
    [n, n] or many [..., n, n] at once (one labelling for them all)."""
    size = stones.shape[-1]
    boards = stones.reshape(-1, size, size)
    labels, n = ndimage.label(boards, BOARDS)  # numbered across the boards: no group is shared
    if n == 0:
        return np.zeros(stones.shape, dtype=np.int64)
    around = _around(labels, _tables(size)[0], 0)  # [B, 4, n*n]: the groups next to each point
    next_to = (around > 0) & empty.reshape(-1, 1, size * size)
    points = np.broadcast_to(np.arange(size * size), around.shape)
    touches = np.zeros((n + 1, size * size), dtype=bool)  # group x empty point of its board
    touches[around[next_to], points[next_to]] = True
    return np.where(boards, touches.sum(1)[labels], 0).reshape(stones.shape)


def true_eyes(own: np.ndarray, opponent: np.ndarray) -> np.ndarray:
    """Empty points whose four neighbours are `own` stones (or the edge) and whose diagonals
    hold at most one opponent stone in the middle of the board, none on the edge: the eye
    rule of Go programs' playouts. Filling one is (all but) never right. Boards [..., n, n]."""
    sides, corners, edge = _tables(own.shape[-1])
    empty = ~(own | opponent).reshape(*own.shape[:-2], -1)
    surrounded = _around(own, sides, True).all(-2)
    diagonal = _around(opponent, corners, False).sum(-2)
    return (empty & surrounded & (diagonal <= np.where(edge, 0, 1))).reshape(own.shape)


def area(grid: np.ndarray) -> np.ndarray:
    """Tromp-Taylor ownership: +1 black, -1 white, 0 neutral. A point is a colour's if it
    holds its stone or is empty and reaches stones of that colour only."""
    owner = grid.astype(np.int8).copy()
    regions, n = ndimage.label(grid == 0, CROSS)
    if n:
        around = _around(grid, _tables(len(grid))[0], 0)  # the colours next to each point

        def reaches(colour: int) -> np.ndarray:
            hit = np.zeros(n + 1, dtype=bool)
            hit[regions.reshape(-1)[(around == colour).any(0)]] = True
            return hit

        black, white = reaches(1), reaches(-1)
        value = np.where(black & ~white, 1, np.where(white & ~black, -1, 0)).astype(np.int8)
        empty = regions > 0
        owner[empty] = value[regions[empty]]
    return owner


def tromp_taylor(grid: np.ndarray, komi: float) -> float:
    """Black's area minus White's area minus komi (> 0: Black wins)."""
    return float(area(grid).sum()) - komi


def format_score(black_margin: float) -> str:
    """As GTP's final_score and SGF's RE: 'B+3.5', 'W+0.5', '0'."""
    if black_margin == 0:
        return "0"
    return f"{'B' if black_margin > 0 else 'W'}+{abs(black_margin):g}"


def parse_result(text: str) -> float | None:
    """The first player's (Black's) result from an SGF RE or a final_score answer: 1, -1, 0
    for a draw, None when there is none ('Void', '?', empty or unreadable)."""
    text = text.strip().upper()
    if text in ("0", "DRAW", "JIGO"):
        return 0.0
    if len(text) >= 2 and text[0] in "BW" and text[1] == "+":
        return 1.0 if text[0] == "B" else -1.0
    return None


# -- input planes ------------------------------------------------------------------------------

def inputs(state, size: int) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """What the network sees and may choose: float32 planes [len(PLANES), size, size] from the
    side to move's point of view, and the candidate moves (legal, but not filling the mover's
    own true eyes; passing is always one)."""
    planes, moves = inputs_many([state], size)
    return planes[0], moves[0]


def inputs_many(states: list, size: int) -> tuple[np.ndarray, np.ndarray]:
    """`inputs` of many positions at once, [B, ...] each: whole-batch array operations instead
    of a few dozen small ones a position (a search asks for its leaves in batches, and this
    was a third of self-play's time one position at a time)."""
    n, points = len(states), size * size
    grid = boards(states, size)
    legal = np.array([s.legal_actions_mask() for s in states], dtype=bool)[:, : points + 1]
    to_move = np.array([s.current_player() for s in states])  # 0 black, 1 white, < 0 over
    mine = np.where(to_move == 1, -1, 1)[:, None, None]
    own, opp, empty = grid == mine, grid == -mine, grid == 0
    planes = np.zeros((n, len(PLANES), size, size), dtype=np.float32)
    planes[:, 0], planes[:, 1], planes[:, 2] = own, opp, empty
    libs = liberties(np.concatenate([own, opp]), np.concatenate([empty, empty]))
    for base, side in ((3, libs[:n]), (6, libs[n:])):
        planes[:, base], planes[:, base + 1], planes[:, base + 2] = side == 1, side == 2, side >= 3
    for i, state in enumerate(states):
        history = state.history()
        for plane, back in ((9, 1), (10, 2)):
            if len(history) >= back and history[-back] != points:
                planes[i, plane].flat[history[-back]] = 1.0
    planes[:, 11] = empty & ~legal[:, :-1].reshape(n, size, size)
    planes[:, 12] = 1.0
    planes[:, 13] = (to_move == 1)[:, None, None]
    moves = legal.copy()
    moves[:, :-1] &= ~true_eyes(own, opp).reshape(n, points)
    return planes, moves
