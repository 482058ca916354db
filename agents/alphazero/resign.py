"""Resignation in self-play, calibrated as in AlphaGo Zero and minigo.

A player resigns when its search's value of the position stays below a threshold for two of
its moves in a row. A share of the games is played out with resignation off: in them we see
what the threshold would have done, and a resignation by the player who went on to win (or
draw) is a false one. After each iteration the threshold is set so that at most `rate` of
the last WINDOW such games' winners would have resigned (AlphaGo Zero: 5% of the games played
out), and never above CEILING, so only games the search thinks clearly lost end early.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

import numpy as np

NEVER = -1.0  # a threshold no value falls below: nobody resigns (before the first calibration)
CEILING = -0.5
# One iteration plays out a dozen games (go9: 20% of 64), and the 5% quantile of a dozen is
# their lowest value, which the next game's winner undercuts about 1 time in 13 (8%): the
# threshold is read from the winners of the last WINDOW played-out games (about ten go9
# iterations), recent enough to follow the value head as it learns.
WINDOW = 128


class GameWatch:
    """One game's resignation rule: its lowest two-move value per player, and whether this
    game may end by resignation at all (the played-out share may not)."""

    def __init__(self, allowed: bool):
        self.allowed = allowed
        self.last: list[float | None] = [None, None]
        self.low = [1.0, 1.0]  # per player: the lowest max(value, previous value) seen

    def resigns(self, player: int, value: float, threshold: float) -> bool:
        """Told the search's value for `player` to move: whether that player resigns now."""
        previous, self.last[player] = self.last[player], value
        if previous is None:
            return False
        two_moves = max(previous, value)
        self.low[player] = min(self.low[player], two_moves)
        return self.allowed and two_moves < threshold


def calibrate(winner_lows: list[float], rate: float) -> float:
    """The threshold at which a share `rate` of the played-out games' winners would have
    resigned; NEVER until there are 2 / rate of them (before that the quantile is the single
    lowest value, and more than `rate` of new winners would fall below it)."""
    if rate <= 0 or len(winner_lows) < 2 / rate:
        return NEVER
    return min(float(np.quantile(winner_lows, rate)), CEILING)


class Calibration:
    """The resignation threshold and the played-out winners' lowest values it is read from,
    kept in the checkpoint so a resumed run goes on with the same threshold."""

    def __init__(self, rate: float, threshold: float = NEVER, lows: Iterable[float] = ()):
        self.rate, self.threshold = rate, threshold
        self.lows: deque[float] = deque(lows, maxlen=WINDOW)

    def update(self, winner_lows: list[float]) -> float:
        """An iteration's played-out winners join the window: the next threshold."""
        self.lows.extend(winner_lows)
        self.threshold = calibrate(list(self.lows), self.rate)
        return self.threshold

    def state_dict(self) -> dict[str, Any]:
        return {"resign_threshold": self.threshold, "resign_lows": list(self.lows)}

    @classmethod
    def restored(cls, rate: float, state: dict[str, Any] | None) -> Calibration:
        """From a checkpoint; one from before the window starts over (its threshold was read
        from one iteration's games)."""
        if not state or "resign_lows" not in state:
            return cls(rate)
        return cls(rate, state["resign_threshold"], state["resign_lows"])


def played_out_figures(watches: list[GameWatch], results: list[float], threshold: float
                       ) -> dict[str, object]:
    """From the games played to the end with resignation off: the winners' lowest values (for
    the next calibration), how many players the threshold would have resigned, and how many of
    those did not lose (false resignations)."""
    winner_lows, would, false = [], 0, 0
    for watch, first in zip(watches, results):
        for player, result in ((0, first), (1, -first)):
            if result > 0:
                winner_lows.append(watch.low[player])
            if watch.low[player] < threshold:
                would += 1
                false += result >= 0
    return {"winner_lows": winner_lows, "would_resign": would, "false_resign": false}
