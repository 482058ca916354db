"""Positions as pictures, one frame per move of a recorded game (`rl record` of a self-play
agent): stones on the intersections of a grid for Go, discs in cells for the other games."""
from __future__ import annotations

import numpy as np

from envs.games import Game

CELLS = {"background": "#1f4e9c", "first": "#e63946", "second": "#ffd166", "empty": "#f1f1f1"}
GO = {"background": "#d9b36c", "first": "black", "second": "white"}


def draw(game: Game, state, title: str = "") -> np.ndarray:  # noqa: ANN001 (a pyspiel.State)
    """The position as an RGB picture."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h, w = game.board
    colours = GO if game.gtp else CELLS
    fig, ax = plt.subplots(figsize=(0.55 * w + 0.6, 0.55 * h + 0.9), dpi=80)
    ax.set_facecolor(colours["background"])
    first, second = game.stones(state)
    (_draw_go if game.gtp else _draw_cells)(ax, plt, first, second, colours)
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


def _draw_cells(ax, plt, first: np.ndarray, second: np.ndarray,  # noqa: ANN001
                colours: dict[str, str]) -> None:
    h, w = first.shape
    for r in range(h):
        for c in range(w):
            key = "first" if first[r, c] else "second" if second[r, c] else "empty"
            ax.add_patch(plt.Circle((c, r), 0.4, color=colours[key]))


def _draw_go(ax, plt, first: np.ndarray, second: np.ndarray,  # noqa: ANN001
             colours: dict[str, str]) -> None:
    n = len(first)
    for i in range(n):
        ax.plot([0, n - 1], [i, i], color="black", lw=0.6, zorder=0)
        ax.plot([i, i], [0, n - 1], color="black", lw=0.6, zorder=0)
    for r in range(n):
        for c in range(n):
            if first[r, c] or second[r, c]:
                colour = colours["first" if first[r, c] else "second"]
                ax.add_patch(plt.Circle((c, r), 0.42, color=colour, ec="black"))
