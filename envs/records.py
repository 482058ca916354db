"""Game records: what expert games, self-play and matches leave behind, and what pretraining reads.

Go's records are SGF files (envs/sgf.py), one game per file, read from a file or a folder of
them; the other games use a line-per-game text format (below). `read_records` and
`write_records` pick the format from the game and the path.
"""
from __future__ import annotations

from pathlib import Path

from envs.game_record import GameRecord, ReadReport
from rl.errors import UserError

__all__ = ["GameRecord", "ReadReport", "read_records", "write_records"]

TEXT_HELP = """\
# rl game records: one game per line, the action ids in the order played, then ':' and the
# result for the first player (1 win, 0 draw, -1 loss). Lines starting with '#' are comments;
# '# game: NAME' names the game."""


def read_records(path: Path, game) -> ReadReport:  # noqa: ANN001 (envs.games.Game)
    """Every game in `path` (a text records file, an SGF file or a folder of SGF files),
    checked move by move against the rules."""
    if not path.exists():
        raise UserError(f"game records {path} not found")
    if path.is_dir() or path.suffix.lower() == ".sgf":
        if game.record_format != "sgf":
            raise UserError(f"{path}: SGF records are Go games; {game.name} uses text records "
                            f"(`rl games generate --game {game.name} --out FILE`)")
        from envs.sgf import read_sgf

        return read_sgf(path, game)
    report = ReadReport(read_text(path, game), files=1)
    return report


def write_records(path: Path, game, records: list[GameRecord]) -> int:  # noqa: ANN001
    """Go: one SGF file per game in the folder `path`; other games: one text file."""
    if game.record_format == "sgf":
        from envs.sgf import write_sgf

        for i, record in enumerate(records):
            write_sgf(path / f"game-{i:05d}.sgf", game, record)
        return len(records)
    write_text(path, game.name, records)
    return len(records)


def write_text(path: Path, game_name: str, records: list[GameRecord]) -> None:
    from rl.files import atomic_write_text

    lines = [TEXT_HELP, f"# game: {game_name}"]
    lines += [f"{' '.join(map(str, r.moves))} : {r.result:g}" for r in records]
    atomic_write_text(path, "\n".join(lines) + "\n")


def read_text(path: Path, game) -> list[GameRecord]:  # noqa: ANN001
    """Parse and check a records file: every move must be legal where it was played and the
    stated result must be the game's."""
    records = []
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read game records {path}: {e}") from None
    for n, line in enumerate(text.splitlines(), 1):
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
        records.append(GameRecord(actions, value))
    if not records:
        raise UserError(f"{path} holds no games")
    return records
