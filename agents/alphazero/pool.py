"""Where an iteration's games come from, and how the learner takes them: here, self-play in
this process or a pool of worker processes, then training on the window. (actors.py: Ray
actors that stream games while the learner trains.)"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.alphazero.config import Config
from agents.alphazero.learner import Learner, Losses
from agents.alphazero.net import NetEvaluator, build_net
from agents.alphazero.resign import NEVER
from agents.alphazero.selfplay import (
    FinishedGame,
    PlaySettings,
    Positions,
    play_games,
    self_play,
    summarise,
)
from agents.arena.gtp import GtpPlayer
from agents.arena.protocol import Player
from envs.games import Game, load_game
from envs.records import GameRecord
from rl.precision import flush_denormals
from rl.run import LossGuard


@dataclass
class IterationData:
    """An iteration's self-play and training: the fresh positions, self-play statistics and
    records, the window's size, the losses and the time spent (self-play and training may
    overlap), plus the source's own figures (actors.py: per actor)."""

    fresh: Positions
    stats: dict[str, Any]
    records: list[GameRecord]
    window_positions: int
    losses: list[Losses]
    self_play_s: float
    train_s: float
    extra: dict[str, Any] = field(default_factory=dict)


def worker_setup(cfg_dict: dict[str, Any]) -> tuple[Config, Game, nn.Module]:
    """A self-play worker's config, game and network, rebuilt from plain data in its own
    process (a pool worker or a Ray actor), one thread each."""
    flush_denormals()
    torch.set_num_threads(1)
    cfg = Config(**cfg_dict)
    game = load_game(cfg.game)
    return cfg, game, build_net(cfg, game)


def opponent_for(cfg: Config, game: Game, seed: list[int]) -> Player | None:
    """The engine at one side of a share of a worker's games (--opponent-engine), or None.
    GNU Go plays the same game for the same seed: each worker and iteration draws its own."""
    if not cfg.opponent_share:
        return None
    engine_seed = int(np.random.default_rng([*seed, 1]).integers(1 << 30))
    return GtpPlayer(game, cfg.opponent_engine, seed=engine_seed)


@contextmanager
def one_thread_beside(engine: bool) -> Iterator[None]:
    """One torch thread while an engine thinks beside this process: torch's idle OpenMP
    threads spin on the cores the engine needs (go5 self-play against GNU Go: 23.6 s an
    iteration with 2 threads, 1.05 s with 1, on 2 cores)."""
    threads = torch.get_num_threads()
    if engine:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def play_on_cpu(cfg: Config, game: Game, net: nn.Module, games: int, seed: list[int],
                resign_threshold: float) -> Iterator[FinishedGame]:
    """A worker's games, each yielded as it ends."""
    evaluator = NetEvaluator(net, torch.device("cpu"), cfg.search_bf16)
    return play_games(game, evaluator, PlaySettings.of(cfg, resign_threshold), games,
                      np.random.default_rng(seed), opponent_for(cfg, game, seed))


def _worker_play(args: tuple) -> list[FinishedGame]:
    """Self-play in a worker process (torch.multiprocessing, spawn)."""
    cfg_dict, state_dict, games, seed, resign_threshold = args
    cfg, game, net = worker_setup(cfg_dict)
    net.load_state_dict(state_dict)
    return sorted(play_on_cpu(cfg, game, net, games, seed, resign_threshold),
                  key=lambda g: g.index)


class SelfPlayPool:
    """Plays an iteration's games with the best network, in this process or split over a
    pool of workers, then trains on the window: one after the other."""

    def __init__(self, cfg: Config, game: Game):
        self.cfg, self.game = cfg, game
        self.pool = None
        if cfg.workers > 1:
            import torch.multiprocessing as mp

            self.pool = mp.get_context("spawn").Pool(cfg.workers)

    def play(self, net: nn.Module, device: torch.device, iteration: int,
             resign_threshold: float = NEVER
             ) -> tuple[Positions, dict[str, Any], list[GameRecord]]:
        cfg = self.cfg
        if self.pool is None:
            seed = [cfg.seed, iteration, 0]
            with one_thread_beside(cfg.opponent_share > 0):
                return self_play(self.game, NetEvaluator(net, device, cfg.search_bf16),
                                 PlaySettings.of(cfg, resign_threshold),
                                 cfg.games_per_iteration, np.random.default_rng(seed),
                                 opponent_for(cfg, self.game, seed))
        from rl.config import to_dict

        state = {k: v.cpu() for k, v in net.state_dict().items()}
        shares = np.array_split(np.arange(cfg.games_per_iteration), cfg.workers)
        jobs = [(to_dict(cfg), state, len(s), [cfg.seed, iteration, w], resign_threshold)
                for w, s in enumerate(shares) if len(s)]
        return summarise([g for games in self.pool.map(_worker_play, jobs) for g in games],
                         resign_threshold)

    def iteration(self, learner: Learner, best_net: nn.Module, iteration: int,
                  resign_threshold: float, steps: int, guard: LossGuard) -> IterationData:
        t0 = time.perf_counter()
        fresh, stats, records = self.play(best_net, learner.device, iteration, resign_threshold)
        t1 = time.perf_counter()
        data = learner.add(iteration + 1, fresh)
        losses = learner.fit(data, steps, guard)
        return IterationData(fresh, stats, records, len(data), losses, t1 - t0,
                             time.perf_counter() - t1)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
