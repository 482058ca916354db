"""One game's record and what reading a set of them kept: the data both record formats share
(envs/records.py, the text format and the dispatch; envs/sgf.py, Go's SGF)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class GameRecord:
    """One game: its moves (action ids) and the result for the first player (Black in Go)."""

    moves: list[int]
    result: float  # 1 win, 0 draw, -1 loss for the first player
    players: tuple[str, str] = ("", "")  # first, second
    score: str = ""  # how it was decided, as SGF's RE: 'B+3.5', 'W+R', '0'
    comment: str = ""
    opening: int = 0  # leading moves made at random, not by the players (no policy targets)


@dataclass
class ReadReport:
    """What reading a set of records kept and skipped, with reasons and counts."""

    records: list[GameRecord]
    files: int = 0
    skipped: Counter = field(default_factory=Counter)
    notes: Counter = field(default_factory=Counter)  # kept, but worth knowing (comments, komi)

    def describe(self) -> str:
        def listing(c: Counter) -> str:
            return ", ".join(f"{n} {why}" for why, n in c.most_common())
        text = f"{len(self.records)} games from {self.files} files"
        if self.skipped:
            text += f"; skipped {sum(self.skipped.values())} ({listing(self.skipped)})"
        if self.notes:
            text += f"; read with notes: {listing(self.notes)}"
        return text
