"""SGF (FF[4]) Go records through sgfmill: the main line of each file, checked against the rules.

Real files carry more than moves. What the reader does with each thing:
- comments, variations (the main line is read), other rules or komi: read, and counted;
- handicap or setup stones, other board sizes, no decisive result: skipped with a reason and
  counted (given one file alone, refused with that reason);
- a move off the board, an illegal move, unreadable SGF: one error naming the file and the
  move, and nothing is read.
"""
from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from envs import go
from envs.game_record import GameRecord, ReadReport
from rl.errors import UserError

RANDOM = "random opening move"  # the comment on moves no player chose (rl games generate)


class Skip(Exception):
    """A well-formed record this game cannot learn from; the message is the reason."""


def write_sgf(path: Path, game, record: GameRecord) -> None:  # noqa: ANN001 (GoGame)
    from sgfmill import sgf

    from rl.files import atomic_write_bytes

    sgf_game = sgf.Sgf_game(size=game.size)
    root = sgf_game.get_root()
    root.set("KM", game.komi)
    root.set("RU", "Chinese")
    root.set("AP", ("rl", "0.1"))
    root.set("DT", time.strftime("%Y-%m-%d"))
    for prop, name in zip(("PB", "PW"), record.players):
        if name:
            root.set(prop, name)
    root.set("RE", record.score or go.format_score(record.result))
    if record.comment:
        root.set("C", record.comment)
    for i, action in enumerate(record.moves):
        node = sgf_game.extend_main_sequence()
        if i < record.opening:
            node.set("C", RANDOM)
        colour = "b" if i % 2 == 0 else "w"
        if action == game.pass_action:
            node.set_raw(colour.upper(), b"")  # FF[4]'s pass (sgfmill would write 'tt')
        else:
            node.set_move(colour, go.to_point(action, game.size))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, sgf_game.serialise())


def read_sgf(path: Path, game) -> ReadReport:  # noqa: ANN001 (GoGame)
    """The games of one SGF file or of every *.sgf below a folder."""
    if path.is_file():
        report = ReadReport([], files=1)
        try:
            report.records.append(read_game(path, game, report.notes))
        except Skip as why:
            raise UserError(f"{path}: {why}, so it cannot be read as {game.name}") from None
        return report
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() == ".sgf" and p.is_file())
    report = ReadReport([], files=len(files))
    for file in files:
        try:
            report.records.append(read_game(file, game, report.notes))
        except Skip as why:
            report.skipped[str(why)] += 1
    if not report.records:
        reasons = f" ({report.describe()})" if files else ""
        raise UserError(f"{path} holds no {game.name} games to learn from{reasons}")
    return report


def read_game(path: Path, game, notes: Counter) -> GameRecord:  # noqa: ANN001 (GoGame)
    from sgfmill import sgf

    try:
        sgf_game = sgf.Sgf_game.from_bytes(path.read_bytes())
    except ValueError as e:
        raise UserError(f"{path}: not readable SGF ({e})") from None
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}") from None
    root = sgf_game.get_root()
    size = sgf_game.get_size()
    if size != game.size:
        raise Skip(f"board size {size}x{size}")
    if _int(root, "HA") > 1 or root.has_setup_stones():
        raise Skip("handicap or setup stones")
    result = go.parse_result(_text(root, "RE"))
    if result is None or result == 0:
        raise Skip("no decisive result")
    komi = sgf_game.get_komi()
    if komi != game.komi:
        notes[f"komi {komi:g}"] += 1
    rules = _text(root, "RU")
    if rules and rules.lower() not in ("chinese", "cn", "aga", "tromp-taylor", "new zealand"):
        notes[f"rules {rules}"] += 1

    state, moves, opening = game.new_state(), [], 0
    for number, node in enumerate(sgf_game.get_main_sequence()[1:], 1):
        if node.has_setup_stones():
            raise Skip("setup stones during the game")
        if node.has_property("C"):
            if _text(node, "C") == RANDOM and opening == len(moves):
                opening += 1  # not an expert's move: no policy target
            else:
                notes["comments"] += 1
        if len(node.parent) > 1:
            notes["variations (main line read)"] += 1
        try:
            colour, point = node.get_move()
        except ValueError:
            raise UserError(f"{path}: move {number} is not a point on a {size}x{size} "
                            "board") from None
        if colour is None:
            continue
        if state.is_terminal():
            notes["moves after the game ended, ignored"] += 1
            break
        if (colour == "b") != (state.current_player() == 0):  # two moves of one colour
            state.apply_action(game.pass_action)
            moves.append(game.pass_action)
            notes["passes inserted between two moves of one colour"] += 1
        action = go.from_point(point, size)
        if action not in state.legal_actions():
            raise UserError(f"{path}: move {number} ({colour.upper()} "
                            f"{go.vertex(action, size)}) is illegal there")
        state.apply_action(action)
        if game.is_superko(state):
            raise UserError(f"{path}: move {number} ({colour.upper()} "
                            f"{go.vertex(action, size)}) repeats an earlier position")
        moves.append(action)
    names = (_text(root, "PB"), _text(root, "PW"))
    return GameRecord(moves, result, names, _text(root, "RE"), _text(root, "C"), opening)


def _text(node, prop: str) -> str:  # noqa: ANN001
    try:
        return str(node.get(prop)).strip() if node.has_property(prop) else ""
    except ValueError:
        return ""


def _int(node, prop: str) -> int:  # noqa: ANN001
    try:
        return int(node.get(prop)) if node.has_property(prop) else 0
    except ValueError:
        return 0
