"""What a person does with a trained self-play agent: measure it (`rl eval`), record its
games (`rl record`), play it (`rl play`) or let another program play it (`rl gtp`)."""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from agents.alphazero.config import EvalConfig, RecordConfig
from agents.alphazero.net import agent_player, load_net, net_player, with_precision
from agents.arena.gtp import GtpServer, Referee, is_gnugo
from agents.arena.match import Match, kept_games, random_opening, saved_games
from agents.arena.pictures import draw
from agents.arena.protocol import RESIGN
from agents.arena.registry import make_player
from envs.games import Game, load_game
from envs.records import GameRecord
from rl.errors import UserError
from rl.files import atomic_write_text
from rl.run import Run

# GNU Go judges dead stones under area rules: the referee of matches against it
REFEREE = "gnugo --mode gtp --chinese-rules --capture-all-dead"
ENGINE_GAMES = 32  # games at once against a GTP engine, by default
MATCH_FILE = "match.json"  # in --save-games: the settings a resumed match must share


def referee_command(game: Any, opponent: str, choice: str | None) -> str | None:
    """--referee: an engine command, 'none' (Tromp-Taylor, open_spiel's: None), or by default
    GNU Go when the opponent is GNU Go."""
    if not game.gtp or choice == "none":
        return None
    return choice or (REFEREE if opponent.startswith("gtp:") and is_gnugo(opponent[4:])
                      else None)


def paired_opening(game: Game, most: int, seed: int) -> Callable[[Any, int], list[int]] | None:
    """Games 2k and 2k+1 (the agent first, then second) open with the same random moves, so
    an opening that favours one colour favours each player once."""
    if not most:
        return None
    opening = random_opening(game, most, seed)
    return lambda state, key: opening(state, key // 2)


def evaluate(run: Run, checkpoint: str, ev: EvalConfig, progress: bool = False
             ) -> dict[str, Any]:
    """`rl eval DIR --opponent SPEC --games N`: wins, draws and losses from the agent's side,
    alternating who moves first, with 95% intervals."""
    cfg, game, net, state = load_net(run, checkpoint)
    cfg = with_precision(cfg, ev.precision)  # the search's (default: the run's)
    seed = cfg.seed + 50_000 if ev.seed is None else ev.seed
    agent = net_player(cfg, game, net, seed, simulations=ev.simulations,
                       prior_temperature=ev.prior_temperature)
    judge = referee_command(game, ev.opponent, ev.referee)
    save = Path(ev.save_games) if ev.save_games else None
    if ev.resume and save is None:
        raise UserError("--resume continues the match saved in --save-games DIR: give it")
    settings = {"agent": str(run.path.resolve()), "checkpoint": checkpoint,
                "iteration": state["iteration"], "opponent": ev.opponent, "referee": judge,
                "simulations": agent.cfg.simulations, "seed": seed,
                "random_moves": ev.random_moves, "search_precision": cfg.search_precision,
                "prior_temperature": ev.prior_temperature}
    keys = games_to_keep(save, settings, ev.resume, ev.games) if save else set()
    kept = kept_games(save, game, keys, scored=judge is not None) if save and keys else None
    # all games at once batch our network best, but GTP engines (one per game) share the
    # cores: each answer may wait for the others', so the limit grows with games per core
    engine = ev.opponent.startswith("gtp:")
    parallel = ev.parallel or (min(ev.games, ENGINE_GAMES) if engine else None)
    timeout = ev.timeout * max(1.0, (parallel or 1) / (os.cpu_count() or 1))
    opponent = make_player(ev.opponent, game, seed + 1, timeout=timeout,
                           load_agent=lambda d: agent_player(d, None, seed + 2, str(d), game))
    referee = Referee(game, judge) if judge else None
    t0 = time.perf_counter()
    try:
        result = Match(game, agent, opponent, referee=referee, save_dir=save,
                       opening=paired_opening(game, ev.random_moves, seed), skip=keys).play(
            ev.games, parallel, progress)
    finally:
        opponent.close()
        if referee is not None:
            referee.close()
    if kept is not None:
        result.extend(kept)
    return {"algo": "alphazero", "game": game.name, "checkpoint": checkpoint,
            "iteration": state["iteration"], "opponent": ev.opponent,
            "referee": referee.command if referee else "rules (open_spiel)",
            "simulations": agent.cfg.simulations, "random_moves": ev.random_moves,
            "search_precision": cfg.search_precision,
            "prior_temperature": ev.prior_temperature, **result.summary(),
            "kept_games": len(keys), "seconds": round(time.perf_counter() - t0, 1)}


def games_to_keep(save: Path, settings: dict[str, Any], resume: bool, games: int) -> set[int]:
    """The keys of the games a killed match saved in `save` that this one keeps (--resume,
    the same settings; --games may grow); otherwise `save` must hold no match. The settings
    are written there first, so any match that saved a game can be resumed."""
    keys = {k for k in saved_games(save) if k < games} if save.is_dir() else set()
    file = save / MATCH_FILE
    if not resume:
        if keys or file.exists():
            raise UserError(f"{save} holds an earlier match ({len(keys)} games): --resume "
                            "continues it with the same settings, or give --save-games "
                            "another folder")
    elif file.exists():
        try:
            earlier = json.loads(file.read_text())
        except (OSError, ValueError) as e:
            raise UserError(f"--resume: cannot read {file} ({e})") from None
        for key, value in settings.items():
            if earlier.get(key) != value:
                raise UserError(f"--resume: the match in {save} was played with {key} "
                                f"{earlier.get(key)!r}, not {value!r}; give --save-games "
                                "another folder for a new match")
        return keys
    elif keys:
        raise UserError(f"--resume: {save} has no {MATCH_FILE} saying how its games were "
                        "played, so they cannot be counted in this match")
    save.mkdir(parents=True, exist_ok=True)
    atomic_write_text(file, json.dumps(settings, indent=1) + "\n")
    return set()


def record(run: Run, checkpoint: str, rec: RecordConfig) -> dict[str, Any]:
    """`rl record DIR`: games of the saved agent (against itself, or --opponent) drawn one
    frame per move to GIF (and SGF for Go), named with the checkpoint, the seed and the result."""
    import imageio.v3 as imageio

    cfg, game, net, _ = load_net(run, checkpoint)
    seed = cfg.seed + 60_000 if rec.seed is None else rec.seed
    agent = net_player(cfg, game, net, seed)
    opponent = make_player(rec.opponent, game, seed + 1) if rec.opponent else None
    files, results = [], []
    try:
        for i in range(rec.episodes):
            seats = (agent, opponent or agent) if i % 2 == 0 else (opponent or agent, agent)
            frames, state = _play_drawn(game, seats, i)
            first = state.returns()[0] if state.is_terminal() else (
                1.0 if state.current_player() == 1 else -1.0)  # a resignation
            result = "first-wins" if first > 0 else "second-wins" if first < 0 else "draw"
            stem = f"record-{Path(checkpoint).stem}-seed{seed}-game{i}-{result}"
            path = run.path / "videos" / f"{stem}.gif"
            path.parent.mkdir(exist_ok=True)
            height, width = max(f.shape[0] for f in frames), max(f.shape[1] for f in frames)
            frames = [np.pad(f, ((0, height - f.shape[0]), (0, width - f.shape[1]), (0, 0)),
                             constant_values=255) for f in frames]
            # 0.7 s a move, 3 s on the final position; loop forever
            imageio.imwrite(path, np.stack(frames), loop=0,
                            duration=[700] * (len(frames) - 1) + [3000])
            files.append(str(path))
            if game.record_format == "sgf":
                from envs.sgf import write_sgf

                names = tuple(p.name for p in seats)
                write_sgf(path.with_suffix(".sgf"), game,
                          GameRecord(list(state.history()), first, names))
                files.append(str(path.with_suffix(".sgf")))
            results.append(result)
    finally:
        if opponent is not None:
            opponent.close()
    return {"algo": "alphazero", "game": game.name, "checkpoint": checkpoint, "seed": seed,
            "opponent": rec.opponent or "itself", "results": results, "files": files}


def _play_drawn(game: Any, seats: tuple[Any, Any], key: int) -> tuple[list[np.ndarray], Any]:
    """One game between two players (possibly one object), a picture after every move."""
    players = list(dict.fromkeys(seats))
    for p in players:
        p.new_game(key)
    state = game.new_state()
    frames = [draw(game, state, f"{seats[0].name} (first) vs {seats[1].name}")]
    try:
        while not state.is_terminal():
            action = seats[state.current_player()].choose([key])[0]
            if action == RESIGN:
                frames.append(draw(game, state, f"move {len(frames)}: resigns"))
                break
            title = f"move {len(frames)}: {game.action_name(state, action)}"
            state.apply_action(action)
            for p in players:
                p.observe(key, action)
            frames.append(draw(game, state, title))
    finally:
        for p in players:
            p.end_game(key)
    return frames, state


def gtp_server(run_dir: Path, simulations: int | None, seed: int, precision: str = "auto"
               ) -> GtpServer:
    """`rl gtp RUN_DIR`: the agent as a GTP engine; `komi` rebuilds the game with that komi."""
    run = Run.open(run_dir)
    if run.config.get("algo") != "alphazero":
        raise UserError(f"{run_dir} is a {run.config.get('algo')} run, not a self-play agent")
    game_name = str(run.config.get("game", ""))
    if not load_game(game_name).gtp:
        raise UserError(f"{run_dir} plays {game_name}; GTP is for Go agents")
    return GtpServer(lambda komi: load_game(game_name, komi),
                     lambda game: agent_player(run_dir, simulations, seed, "rl", game,
                                               precision),
                     name="rl", version=f"alphazero {game_name}")
