"""GTP (the Go Text Protocol, version 2) both ways: external engines as players and referees,
and our agent as an engine (`rl gtp RUN_DIR`) for Sabaki, GoGui, gogui-twogtp or a match.

An engine that crashes, hangs past the timeout or answers something that is not GTP raises
EngineError: one line naming the engine, its command line and the command it was answering.
"""
from __future__ import annotations

import os
import select
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from agents.arena.protocol import RESIGN
from envs import go
from envs.games import GoGame
from rl.errors import UserError


class EngineError(UserError):
    """An external engine failed: crashed, hung or spoke something other than GTP."""


def engine_argv(command: str) -> list[str]:
    """The command line split as a shell would, the program found on PATH (Debian puts GNU Go
    in /usr/games, which is not always there)."""
    try:
        argv = shlex.split(command)
    except ValueError as e:
        raise UserError(f"cannot parse the engine command {command!r}: {e}") from None
    if not argv:
        raise UserError("empty engine command")
    program = shutil.which(argv[0]) or shutil.which(argv[0], path="/usr/games:/usr/local/games")
    if program is None:
        hint = " (install it: apt-get install gnugo)" if Path(argv[0]).name == "gnugo" else ""
        raise UserError(f"engine program {argv[0]!r} not found{hint}")
    return [program, *argv[1:]]


class GtpEngine:
    """One engine process. `send` is a command and its answer; `write` then `poll` or `read`
    split the two, so that many engines think at once and each answer is taken as it comes."""

    def __init__(self, command: str, timeout: float = 60.0, extra_args: Sequence[str] = ()):
        self.command = command
        self.timeout = timeout
        self._stderr: IO[bytes] = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen([*engine_argv(command), *extra_args],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self._stderr, bufsize=0)
        except OSError as e:
            raise EngineError(f"cannot start engine {command!r}: {e.strerror}") from None
        self.fd = self.proc.stdout.fileno()
        self._buffer = b""
        self._asked = ""  # the command whose answer is awaited
        self._deadline = 0.0

    def send(self, command: str) -> str:
        self.write(command)
        return self.read()

    def write(self, command: str) -> None:
        self._asked, self._deadline = command, time.monotonic() + self.timeout
        try:
            self.proc.stdin.write(command.encode() + b"\n")
        except OSError:
            raise self._failure("exited") from None

    def read(self) -> str:
        """The answer to the command written last: its text after '= '."""
        while (answer := self.poll()) is None:
            select.select([self.fd], [], [], max(self._deadline - time.monotonic(), 0.0))
        return answer

    def poll(self) -> str | None:
        """The answer if it has come, else None (without waiting); '? reason', garbage, an
        exit or the timeout raise EngineError."""
        if b"\n\n" not in self._buffer and select.select([self.fd], [], [], 0)[0]:
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise self._failure("exited")
            self._buffer += chunk.replace(b"\r", b"")
        if b"\n\n" not in self._buffer:
            if time.monotonic() > self._deadline:
                self.kill()
                raise EngineError(f"engine {self.command!r} did not answer {self._asked!r} "
                                  f"within {self.timeout:g} s (it was stopped)")
            return None
        raw, self._buffer = self._buffer.split(b"\n\n", 1)
        lines = [line for line in raw.decode(errors="replace").splitlines()
                 if line.strip() and not line.startswith("#")]
        text = "\n".join(lines).strip()
        if text[:1] == "=":
            return text[1:].strip()
        if text[:1] == "?":
            raise EngineError(f"engine {self.command!r} refused {self._asked!r}: "
                              f"{text[1:].strip()}")
        raise EngineError(f"engine {self.command!r} answered {self._asked!r} with something "
                          f"that is not GTP: {text[:80]!r}")

    def _failure(self, what: str) -> EngineError:
        try:
            status = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            status = None
        self._stderr.seek(0)
        tail = self._stderr.read().decode(errors="replace").strip().splitlines()[-1:]
        said = f": {tail[0][:120]}" if tail else ""
        return EngineError(f"engine {self.command!r} {what} (status {status}) while answering "
                           f"{self._asked!r}{said}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        """'quit', then a kill if it does not leave within a few seconds."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"quit\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()
        self._stderr.close()

    def setup(self, game: GoGame, moves: Sequence[int] = ()) -> None:
        """A fresh board of the game's size and komi, with `moves` played."""
        self.send(f"boardsize {game.size}")
        self.send("clear_board")
        self.send(f"komi {game.komi:g}")
        for i, action in enumerate(moves):
            self.send(f"play {'bw'[i % 2]} {go.vertex(action, game.size)}")


def is_gnugo(command: str) -> bool:
    return Path(shlex.split(command)[0]).name.startswith("gnugo") if command.strip() else False


class GtpPlayer:
    """An external engine at one side of many games: one process per game being played, so
    that all of them think at once. GNU Go plays the same game for the same position, so each
    game's process gets its own `--seed` (unless the command sets one). A LatePlayer: each
    engine thinks while the match goes on with the other games."""

    answers_later = True

    def __init__(self, game: GoGame, command: str, seed: int = 0, timeout: float = 60.0):
        if not game.gtp:
            raise UserError(f"GTP engines play Go, not {game.name}")
        engine_argv(command)  # a missing program is one error now, not one per game
        self.game, self.command, self.seed, self.timeout = game, command, seed, timeout
        self.name = f"gtp:{command}"
        self.engines: dict[int, GtpEngine] = {}
        self.generated: dict[int, int | None] = {}  # its own last move, which it has played
        self.colour: dict[int, int] = {}
        self.waiting: set[int] = set()  # games whose engine is thinking

    def new_game(self, key: int) -> None:
        extra = ["--seed", str(self.seed + key)] if (
            is_gnugo(self.command) and "--seed" not in self.command) else []
        engine = GtpEngine(self.command, self.timeout, extra)
        self.engines[key] = engine
        engine.setup(self.game)
        self.colour[key] = 0
        self.generated[key] = None

    def observe(self, key: int, action: int) -> None:
        colour = self.colour[key]
        self.colour[key] = 1 - colour
        if self.generated[key] is not None:  # genmove has played it on the engine's board
            self.generated[key] = None
            return
        self.engines[key].send(f"play {'bw'[colour]} {go.vertex(action, self.game.size)}")

    def ask(self, keys: Sequence[int]) -> None:
        """Start the engines thinking about these games' moves."""
        for k in keys:
            self.engines[k].write(f"genmove {'bw'[self.colour[k]]}")
            self.waiting.add(k)

    def answers(self) -> list[tuple[int, int]]:
        """(game, move) for every engine that has answered by now (no waiting)."""
        done = [(k, text) for k in list(self.waiting)
                if (text := self.engines[k].poll()) is not None]
        for k, _ in done:
            self.waiting.discard(k)
        return [(k, self._move(k, text)) for k, text in done]

    def thinking(self) -> list[int]:
        """The output pipes of the engines still thinking (to wait on with select)."""
        return [self.engines[k].fd for k in self.waiting]

    def choose(self, keys: Sequence[int]) -> list[int]:
        self.ask(keys)
        moves: dict[int, int] = {}
        while len(moves) < len(keys):
            moves.update(self.answers())
            if len(moves) < len(keys):
                select.select(self.thinking(), [], [], 1.0)
        return [moves[k] for k in keys]

    def _move(self, key: int, answer: str) -> int:
        answer = answer.lower()
        if answer == "resign":
            self.generated[key] = RESIGN
            return RESIGN
        try:
            action = go.parse_vertex(answer, self.game.size)
        except ValueError:
            raise EngineError(f"engine {self.command!r} answered genmove with {answer!r}, "
                              "not a vertex") from None
        self.generated[key] = action
        return action

    def end_game(self, key: int) -> None:
        self.waiting.discard(key)
        engine = self.engines.pop(key, None)
        if engine is not None:
            engine.close()

    def close(self) -> None:
        for key in list(self.engines):
            self.end_game(key)


class Referee:
    """Scores finished games with an engine's `final_score` (GNU Go's judges dead stones), as
    gogui-twogtp's referee does."""

    def __init__(self, game: GoGame, command: str, timeout: float = 60.0):
        self.game, self.command = game, command
        self.engine = GtpEngine(command, timeout)

    def score(self, moves: Sequence[int]) -> str:
        self.engine.setup(self.game, moves)
        return self.engine.send("final_score")

    def close(self) -> None:
        self.engine.close()


# -- our agent as an engine ---------------------------------------------------------------------

COMMANDS = ("protocol_version", "name", "version", "known_command", "list_commands", "quit",
            "boardsize", "clear_board", "komi", "play", "genmove", "final_score", "undo",
            "showboard", "time_settings", "time_left")


class GtpServer:
    """Answers GTP for one game at a time with a player that follows the lifecycle (our
    search agent). `make_player(game)` builds it for the game's komi."""

    def __init__(self, make_game: Callable[[float | None], GoGame],
                 make_player: Callable[[GoGame], Any], name: str = "rl", version: str = "0.1"):
        self.make_game, self.make_player = make_game, make_player
        self.name, self.version = name, version
        self.game = make_game(None)
        self.player = make_player(self.game)
        self.moves: list[int] = []
        self.restart()

    def restart(self, moves: Sequence[int] = ()) -> None:
        """The board after `moves`; the player follows them from the start."""
        self.player.end_game(0)
        self.player.new_game(0)
        self.state = self.game.new_state()
        self.moves = []
        for action in moves:
            self._apply(action)

    def _apply(self, action: int) -> None:
        self.state.apply_action(action)
        self.moves.append(action)
        self.player.observe(0, action)

    def _colour(self, text: str) -> int:
        colour = text.strip().lower()
        if colour in ("b", "black"):
            return 0
        if colour in ("w", "white"):
            return 1
        raise ValueError(f"invalid color {text!r}")

    def _to_move(self, colour: int) -> None:
        """Sabaki sends two moves of one colour when it sets up a position: the other side
        passed in between, which open_spiel needs played."""
        if self.state.current_player() != colour:
            self._apply(self.game.pass_action)

    def handle(self, line: str) -> tuple[str, bool]:
        """One command line -> (its full answer, whether to quit)."""
        line = line.split("#", 1)[0].strip()
        words = line.split()
        ident = ""
        if words and words[0].isdigit():
            ident, words = words[0], words[1:]
        if not words:
            return "", False
        command, args = words[0].lower(), words[1:]
        try:
            ok, text = True, self._run(command, args)
        except (ValueError, IndexError) as e:
            ok, text = False, str(e) or "syntax error"
        except Exception as e:  # noqa: BLE001 - a controller waits for an answer, whatever happens
            traceback.print_exc(file=sys.stderr)
            ok, text = False, f"internal error: {type(e).__name__}: {e}"
        return f"{'=' if ok else '?'}{ident} {text}".rstrip() + "\n\n", ok and command == "quit"

    def _run(self, command: str, args: list[str]) -> str:
        n = self.game.size
        if command == "protocol_version":
            return "2"
        if command == "name":
            return self.name
        if command == "version":
            return self.version
        if command == "known_command":
            return "true" if args and args[0].lower() in COMMANDS else "false"
        if command == "list_commands":
            return "\n".join(COMMANDS)
        if command in ("quit", "time_settings", "time_left"):
            return ""
        if command == "boardsize":
            if int(args[0]) != n:
                raise ValueError("unacceptable size")
            self.restart()
            return ""
        if command == "clear_board":
            self.restart()
            return ""
        if command == "komi":
            komi = float(args[0])
            if komi != self.game.komi:
                self.game = self.make_game(komi)
                self.player = self.make_player(self.game)
                self.restart(self.moves)
            return ""
        if command == "play":
            colour = self._colour(args[0])
            try:
                action = go.parse_vertex(args[1], n)
            except ValueError:
                raise ValueError("illegal move") from None
            if self.state.is_terminal():
                raise ValueError("illegal move (the game is over)")
            before = self.state if self.state.current_player() == colour else \
                self.state.child(self.game.pass_action)
            if before.is_terminal() or action not in before.legal_actions() or \
                    self.game.is_superko(before.child(action)):
                raise ValueError("illegal move")
            self._to_move(colour)
            self._apply(action)
            return ""
        if command == "genmove":
            colour = self._colour(args[0])
            if self.state.is_terminal():
                return "pass"
            self._to_move(colour)
            action = self.player.choose([0])[0]
            if action == RESIGN:
                return "resign"
            self._apply(action)
            return go.vertex(action, n)
        if command == "final_score":
            return go.format_score(self.game.score(self.state))
        if command == "undo":
            if not self.moves:
                raise ValueError("cannot undo")
            self.restart(self.moves[:-1])
            return ""
        if command == "showboard":  # no empty line: it would end the answer
            return "\n" + go.board_text(go.board(self.state, n))
        raise ValueError("unknown command")

    def serve(self, read: IO[str], write: IO[str]) -> None:
        for line in read:
            answer, done = self.handle(line)
            if answer:
                write.write(answer)
                write.flush()
            if done:
                break
        self.player.close()
