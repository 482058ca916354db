"""Self-play actors on Ray (`rl train alphazero --ray auto|HOST:PORT`), for one learner: the
shape of muzero-general's SelfPlay actors and KataGo's distributed self-play.

Each actor (a Ray actor holding one CPU) plays `games_per_iteration / (2 x workers)` games at
a time with the newest network it has been sent, and streams every game to the learner the
moment it ends (a Ray generator). Networks are published by version through Ray's object
store (a new version whenever an actor starts a batch and the learner has trained since the
last); a game carries the version that played it. The learner trains as games arrive,
`train_steps` per `games_per_iteration` games taken, so training never runs ahead of fresh
games (muzero-general's ratio, fixed at the local schedule's), and discards games that arrive
more than `max_staleness` versions behind. Actors play the newest network (AlphaZero),
so --gate-games does not apply.

Faults: an actor killed mid-batch is restarted by Ray (up to RESTARTS times); the games it
had finished reached the learner already, the unfinished ones are discarded, and it is sent a
new batch (an actor killed between batches comes back without any call failing; its new
process tells the restart). Every game has a key (session, actor, batch, index) that the
learner takes once; DIR/games.jsonl lists them per iteration. An iteration's checkpoint is
the learner's, as without Ray, so `--resume` continues a killed learner the same way.
"""
from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.alphazero.config import Config
from agents.alphazero.learner import Learner
from agents.alphazero.pool import IterationData, play_on_cpu, worker_setup
from agents.alphazero.selfplay import FinishedGame, Positions, summarise
from envs.games import Game
from rl.errors import UserError
from rl.run import LossGuard

RESTARTS = 5  # per actor and run: a crash loop is a bug to report, not to retry for ever
PER_ACTOR = ("games", "positions_per_s", "version_lag")


@dataclass
class Streamed:
    """A finished game as it reaches the learner: who played it, in which batch, with which
    network version."""

    game: FinishedGame
    actor: int
    batch: int
    version: int
    process: str  # host:pid of the actor's process (a restart changes it)
    lag: int = 0  # versions the learner had published since, when it arrived


class SelfPlayActor:
    """One Ray actor: the game, the settings and a network that it replaces when sent a newer
    version."""

    def __init__(self, cfg: dict[str, Any], index: int):
        self.cfg, self.game, self.net = worker_setup(cfg)
        self.index, self.version = index, -1
        self.process = f"{socket.gethostname()}:{os.getpid()}"

    def play(self, batch: int, version: int, weights: dict[str, torch.Tensor] | None,
             games: int, seed: list[int], resign_threshold: float) -> Iterator[Streamed]:
        if weights is not None:
            self.net.load_state_dict(weights)
            self.version = version
        for game in play_on_cpu(self.cfg, self.game, self.net, games, seed, resign_threshold):
            yield Streamed(game, self.index, batch, self.version, self.process)


def actor_columns(workers: int) -> list[str]:
    return ([f"actor{i}_{k}" for i in range(workers) for k in PER_ACTOR]
            + ["actor_restarts", "stale_games"])


class RaySelfPlay:
    """The learner's side: keeps every actor playing, takes the games as they come, trains in
    step with them and publishes the network it trained."""

    def __init__(self, cfg: Config, game: Game, address: str, log: Path, done: int):
        import ray

        from rl.cluster import connect
        from rl.config import to_dict

        if cfg.gate_games:
            raise UserError("--ray: actors play the newest network (AlphaZero); --gate-games "
                            "plays whole iterations with the best one: drop one of them")
        connect(address)
        actor = ray.remote(num_cpus=1, max_restarts=RESTARTS, max_task_retries=0)(SelfPlayActor)
        self.cfg, self.game, self.log, self.session = cfg, game, log, done
        self.actors = [actor.remote(to_dict(cfg), i) for i in range(cfg.workers)]
        self.batch_games = max(1, -(-cfg.games_per_iteration // (2 * cfg.workers)))
        self.streams: dict[Any, int] = {}  # Ray generator -> its actor
        self.held = [-1] * cfg.workers  # the network version each actor holds
        self.version, self.trained, self.weights = -1, True, None
        self.batches = 0
        self.failures = [0] * cfg.workers
        # each actor's processes seen: Ray restarts an actor killed between two batches
        # without any call failing, so a new process is how that restart shows
        self.processes: list[set[str]] = [set() for _ in range(cfg.workers)]
        self.down: dict[int, float] = {}  # actor -> when to try it again (Ray restarts it)
        self.early: list[Streamed] = []  # arrived after their iteration was full
        keep_log_until(log, done)

    def publish(self, net: nn.Module) -> None:
        """The learner's network into the object store as a new version, if it has trained
        since the last."""
        import ray

        if self.trained:
            self.weights = ray.put({k: v.detach().cpu() for k, v in net.state_dict().items()})
            self.version, self.trained = self.version + 1, False

    def submit(self, actor: int, net: nn.Module, iteration: int, resign: float) -> None:
        self.publish(net)
        weights = None if self.held[actor] == self.version else self.weights
        self.held[actor] = self.version
        self.batches += 1
        seed = [self.cfg.seed, self.session, iteration, actor, self.batches]
        stream = self.actors[actor].play.remote(self.batches, self.version, weights,
                                                self.batch_games, seed, resign)
        self.streams[stream] = actor

    def arrivals(self, net: nn.Module, iteration: int, resign: float) -> list[Streamed]:
        """The games that have ended since the last call (waiting for at least one); an actor
        whose batch ended or who died is sent a new batch."""
        import ray

        now = time.monotonic()
        for actor in set(range(len(self.actors))) - set(self.streams.values()):
            if self.down.get(actor, 0.0) <= now:
                self.submit(actor, net, iteration, resign)
        ready = ray.wait(list(self.streams), num_returns=1, timeout=1.0)[0] if self.streams \
            else []
        out = []
        for stream in ready:
            actor = self.streams[stream]
            try:
                out.append(ray.get(next(stream)))
                self.processes[actor].add(out[-1].process)
                self.down.pop(actor, None)
                continue
            except StopIteration:
                pass
            except ray.exceptions.RayError as error:
                self.failed(actor, error)
            del self.streams[stream]
        return out

    def failed(self, actor: int, error: Exception) -> None:
        """An actor's batch failed: it died (a restart to count) or, while Ray restarts it, is
        not there yet (try again in a second)."""
        import ray

        restarting = isinstance(error, ray.exceptions.ActorUnavailableError)
        if actor not in self.down or not restarting:
            self.failures[actor] += 1
        self.down[actor] = time.monotonic() + 1.0
        self.held[actor] = -1  # a restarted actor has no network yet
        if self.failures[actor] > RESTARTS:
            raise UserError(f"self-play actor {actor} died {self.failures[actor]} times (last: "
                            f"{type(error).__name__}); the last checkpoint is kept: "
                            "rl train alphazero --resume DIR") from None

    def iteration(self, learner: Learner, best_net: nn.Module, iteration: int,
                  resign_threshold: float, steps: int, guard: LossGuard) -> IterationData:
        """`games_per_iteration` games taken as they stream in, `steps` updates spread over
        them; the network trained is the one the actors are sent next."""
        n = self.cfg.games_per_iteration
        t0, train_s, done_steps = time.perf_counter(), 0.0, 0
        taken, losses, stale = [], [], 0
        waiting, self.early = self.early, []
        while len(taken) < n:
            for item in waiting or self.arrivals(learner.net, iteration, resign_threshold):
                item.lag = self.version - item.version
                if item.lag > self.cfg.max_staleness:
                    stale += 1
                elif len(taken) < n:
                    taken.append(item)
                else:
                    self.early.append(item)
            waiting = []
            due = steps * len(taken) // n - done_steps
            if due:
                t = time.perf_counter()
                fresh = Positions.concat([s.game.positions for s in taken])
                losses += learner.fit(learner.data_with(fresh), due, guard)
                done_steps, self.trained = done_steps + due, True
                train_s += time.perf_counter() - t
        wall = time.perf_counter() - t0
        fresh, stats, records = summarise([s.game for s in taken], resign_threshold)
        data = learner.add(iteration + 1, fresh)
        self.write_log(iteration + 1, taken)
        return IterationData(fresh, stats, records, len(data), losses, wall, train_s,
                             self.figures(taken, wall, stale))

    def figures(self, taken: list[Streamed], wall: float, stale: int) -> dict[str, float]:
        restarts = sum(max(failed, len(seen) - 1)
                       for failed, seen in zip(self.failures, self.processes))
        out: dict[str, float] = {"actor_restarts": restarts, "stale_games": stale}
        for actor in range(len(self.actors)):
            mine = [s for s in taken if s.actor == actor]
            out[f"actor{actor}_games"] = len(mine)
            out[f"actor{actor}_positions_per_s"] = sum(len(s.game.positions) for s in mine) / wall
            out[f"actor{actor}_version_lag"] = (float(np.mean([s.lag for s in mine]))
                                                if mine else None)
        return out

    def write_log(self, iteration: int, taken: list[Streamed]) -> None:
        with open(self.log, "a") as out:
            for s in taken:
                out.write(json.dumps({
                    "iteration": iteration, "key": f"{self.session}-{s.actor}-{s.batch}-"
                    f"{s.game.index}", "actor": s.actor, "version": s.version,
                    "moves": s.game.moves, "result": s.game.record.result}) + "\n")

    def close(self) -> None:
        import ray

        from rl.cluster import disconnect

        for stream in self.streams:
            ray.cancel(stream)  # the unfinished games are discarded
        disconnect()


def keep_log_until(log: Path, iteration: int) -> None:
    """games.jsonl as of the checkpoint a run resumes from: an iteration logged but never
    checkpointed (the learner was killed in between) is played again, so its lines go."""
    if log.exists():
        lines = [line for line in log.read_text().splitlines()
                 if line and json.loads(line)["iteration"] <= iteration]
        log.write_text("".join(line + "\n" for line in lines))
