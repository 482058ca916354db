"""The self-play loop: (pretrain on experts) -> [self-play -> train -> (gate) -> strength]*.

Each iteration: self-play workers play --games-per-iteration games with batched PUCT search
and the best network; the positions join a window of the last --window iterations; the
network trains on random board symmetries of them; with --gate-games the new network must
beat the best one to replace it (AlphaGo Zero), otherwise it replaces it at once
(AlphaZero). A strength curve against fixed opponents is written every --eval-every
iterations. The skeleton (checkpoints, resume, metrics, stop requests) is rl/loop.py's.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.alphazero.actors import RaySelfPlay, actor_columns
from agents.alphazero.config import NAME, Config
from agents.alphazero.learner import (
    Learner,
    LossWeights,
    PolicyAnchor,
    held_out_figures,
    mean_losses,
    split_records,
)
from agents.alphazero.net import build_net, load_network_into, net_player, network_meta
from agents.alphazero.pool import SelfPlayPool
from agents.alphazero.resign import Calibration
from agents.arena.match import Match
from agents.arena.registry import make_player
from envs.games import Game, load_game
from rl.backbones import load_encoder
from rl.files import check_checkpoint_meta, load_checkpoint, save_checkpoint
from rl.loop import Loop
from rl.metrics import read_metrics
from rl.plots import plot_learning_curve
from rl.progress import TrainingProgress
from rl.run import Run, RunOptions

Experts = tuple[Any, Any, Any]  # split_records: training positions, held-out ones, the read report
BASE_COLUMNS = ["iteration", "games", "positions", "window_positions", "policy_loss",
                "value_loss", "ownership_loss", "score_loss", "positions_per_s", "self_play_s",
                "train_s", "iteration_s", "lr", "first_player_wins", "draws", "game_length",
                "gate_score", "resign_threshold", "resigned", "played_out", "false_resign_rate",
                "move_accuracy", "held_out_value_loss", "opponent_games", "opponent_win_rate"]


def column(spec: str) -> str:
    """vs_random, vs_mcts200, vs_gnugo_level_1: a metrics column for an opponent."""
    if spec.startswith("gtp:"):
        words = spec[4:].split()
        level = next((words[i + 1] for i, w in enumerate(words[:-1]) if w == "--level"), None)
        name = Path(words[0]).name if words else "engine"
        return f"vs_{name}" + (f"_level_{level}" if level else "")
    return "vs_" + spec.replace(":", "")


def strength(cfg: Config, game: Game, net: nn.Module, device: torch.device,
             iteration: int) -> dict[str, float]:
    """Win and loss rates against each fixed opponent, the agent first in half the games."""
    agent = net_player(cfg, game, net, cfg.seed + iteration, device=device)
    out = {}
    for spec in cfg.opponents():
        opponent = make_player(spec, game, seed=cfg.seed + 7919 * iteration)
        try:
            r = Match(game, agent, opponent).play(cfg.eval_games).summary()
        finally:
            opponent.close()
        out[f"{column(spec)}_win"] = r["wins"] / r["games"]
        out[f"{column(spec)}_loss"] = r["losses"] / r["games"]
    return out


def gate(cfg: Config, game: Game, new: nn.Module, best: nn.Module, device: torch.device,
         iteration: int) -> float:
    """The new network's score (wins + draws / 2) against the best, with root noise so that
    the games differ."""
    base = cfg.seed + 100_000 + 2 * iteration
    players = [net_player(cfg, game, net, seed, simulations=cfg.simulations, device=device,
                          noise=True) for net, seed in ((new, base), (best, base + 1))]
    return Match(game, *players).play(cfg.gate_games).summary()["score"]


def pretrain(cfg: Config, learner: Learner, run: Run, opts: RunOptions, experts: Experts
             ) -> dict[str, Any]:
    """AlphaGo's supervised stage: the experts' moves and the games' results."""
    t0 = time.perf_counter()
    expert, held_out, report = experts
    steps = cfg.pretrain_epochs * math.ceil(len(expert) / cfg.batch_size)
    bar = TrainingProgress(steps, label=f"pretraining on {len(expert)} positions",
                           enabled=opts.progress, unit="batches")
    losses = []
    for done in range(0, steps, 100):
        if run.stop:
            break
        # cosine from 2 x lr down to lr, where self-play starts
        learner.set_lr(cfg.lr * (1.5 + 0.5 * math.cos(math.pi * done / steps)))
        n = min(100, steps - done)
        losses += learner.fit(expert, n, run.guard)
        bar.update(done + n, loss=sum(mean_losses(losses[-100:]).values()))
    bar.close()
    held = held_out_figures(learner.net, held_out, learner.device)
    figures = {"pretrain_games": len(report.records), "pretrain_read": report.describe(),
               "pretrain_positions": len(expert), "pretrain_steps": steps,
               "pretrain_move_accuracy": held["move_accuracy"],
               "pretrain_held_out_value_loss": held["held_out_value_loss"],
               # no steps, no losses (not NaN, which strict JSON readers refuse)
               **{f"pretrain_{k}": v for k, v in mean_losses(losses[-200:]).items()
                  if losses},
               "pretrain_s": round(time.perf_counter() - t0, 1)}
    return figures


def make_learner(cfg: Config, game: Game, run: Run, device: torch.device) -> Learner:
    """The network (from --init-encoder's backbone, frozen or not), AdamW and the window."""
    net = build_net(cfg, game).to(device)
    if cfg.init_model:
        load_network_into(net, Path(cfg.init_model), game, cfg.backbone)
    if cfg.init_encoder:
        load_encoder(net.backbone, Path(cfg.init_encoder))
    if cfg.freeze_encoder:
        net.backbone.freeze()
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=cfg.lr,
                            weight_decay=cfg.weight_decay)
    return Learner(net, opt, game, cfg.window, cfg.batch_size,
                   LossWeights(cfg.ownership_weight, cfg.score_weight), device,
                   np.random.default_rng([cfg.seed, 0]), run.path / "window", run.writes)


def supervised_start(cfg: Config, learner: Learner, loop: Loop, opts: RunOptions,
                     resume: bool, experts: Experts) -> dict[str, Any]:
    """AlphaGo's first stage, or the network it left (checkpoints/pretrained.pt) when a run
    killed after it is resumed. Returns its figures."""
    run, kept = loop.run, loop.run.checkpoint_path("pretrained")
    if resume and kept.exists():
        state = load_checkpoint(kept)
        check_checkpoint_meta(kept, state["meta"], loop.meta)
        learner.net.load_state_dict(state["best_model"])
        return state["pretrain"]
    pretrained = pretrain(cfg, learner, run, opts, experts)
    # AlphaGo's first stage alone, for the ladder of both stages; a stage cut short by a stop
    # is not kept, or a resume would take it for the whole
    if run.writes and not run.stop:
        save_checkpoint(kept, {"meta": loop.meta, "best_model": learner.net.state_dict(),
                               "iteration": 0, "pretrain": pretrained})
    return pretrained


def start_network(cfg: Config, game: Game, loop: Loop, net: nn.Module, device: torch.device
                  ) -> nn.Module:
    """A frozen copy of the network self-play began from: `net` itself before the first
    iteration, checkpoints/pretrained.pt once resumed."""
    start = build_net(cfg, game).to(device)
    kept = loop.run.checkpoint_path("pretrained")
    start.load_state_dict(load_checkpoint(kept)["best_model"] if loop.resumed
                          else net.state_dict())
    return start.requires_grad_(False)


def save_games(folder: Path, game: Game, iteration: int, records: list) -> None:
    """--save-games: an iteration's self-play games as SGF files."""
    from envs.sgf import write_sgf

    for i, record in enumerate(records):
        write_sgf(folder / f"iter{iteration:04d}-{i:03d}.sgf", game, record)


def make_players(cfg: Config, game: Game, run: Run, opts: RunOptions, done: int
                 ) -> SelfPlayPool | RaySelfPlay:
    """Where the games come from: Ray actors with --ray, else this process or a pool."""
    if opts.ray:
        return RaySelfPlay(cfg, game, opts.ray, run.path / "games.jsonl", done)
    return SelfPlayPool(cfg, game)


def train(cfg: Config, run: Run, opts: RunOptions, resume: bool) -> dict[str, Any]:
    if opts.ray:  # a cluster that does not answer: one line, before anything is written
        from rl.cluster import connect

        connect(opts.ray)
    device = torch.device(opts.device)
    game = load_game(cfg.game)
    loop = Loop(run, opts, seed=cfg.seed, threads=cfg.threads, meta=network_meta(cfg, game))
    learner = make_learner(cfg, game, run, device)
    net = learner.net
    best_net = build_net(cfg, game).to(device)
    iteration, pretrained = 0, {}
    # the experts' games, split (seeded) into training positions and held-out ones
    experts = split_records(Path(cfg.pretrain), game, cfg.seed) if cfg.pretrain else None
    held_out = experts[1] if experts else None
    if experts and cfg.expert_share:
        learner.anchor, learner.anchor_share = experts[0], cfg.expert_share
        learner.selfplay_value_weight = cfg.selfplay_value_weight
    if state := loop.restore(resume):
        learner.load_state_dict(state)
        best_net.load_state_dict(state["best_model"])
        iteration, pretrained = state["iteration"], state["pretrain"]
        torch.set_rng_state(state["torch_rng"])
    columns = (BASE_COLUMNS + [f"{column(s)}_{k}" for s in cfg.opponents() for k in ("win", "loss")]
               + (actor_columns(cfg.workers) if opts.ray else []))
    loop.begin(columns, total=cfg.iterations, done=iteration, label=f"{NAME} {game.name}",
               plot=plot, unit="iterations")

    def snapshot() -> dict[str, Any]:
        return {"meta": loop.meta, **learner.state_dict(), "best_model": best_net.state_dict(),
                "iteration": iteration, "torch_rng": torch.get_rng_state(),
                "pretrain": pretrained}

    if not loop.resumed:
        if experts:
            pretrained = supervised_start(cfg, learner, loop, opts, resume, experts)
        if loop.stopped:  # in pretraining: no checkpoint, so a resume pretrains again
            loop.close(None)
            return {}
        best_net.load_state_dict(net.state_dict())
        row = {"iteration": 0, "games": 0, "positions": 0,
               "move_accuracy": pretrained.get("pretrain_move_accuracy"),
               "held_out_value_loss": pretrained.get("pretrain_held_out_value_loss")}
        if cfg.eval_every and not loop.stopped:
            row.update(strength(cfg, game, net, device, 0))
        loop.log(0, row)
        loop.save(snapshot(), best=True)

    if cfg.policy_kl:
        learner.policy_anchor = PolicyAnchor(start_network(cfg, game, loop, net, device),
                                             cfg.policy_kl)
    players = make_players(cfg, game, run, opts, iteration)
    resign = Calibration.restored(cfg.resign_rate, state)
    try:
        while loop.running(iteration):
            row, accepted = iterate(cfg, game, learner, best_net, players, run, iteration,
                                    resign, held_out)
            iteration += 1
            loop.log(iteration, row)
            loop.save({**snapshot(), **resign.state_dict()}, best=accepted)
            loop.progress(iteration, force=True,
                          loss=row["policy_loss"] + row["value_loss"],
                          pos_s=round(row["positions_per_s"]),
                          **{k: v for k, v in row.items() if k.endswith("_win")})
    finally:
        players.close()
        loop.close(None)
    if loop.stopped:
        return {}
    return {"algo": NAME, "game": game.name, "iterations": iteration,
            "games": iteration * cfg.games_per_iteration, "checkpoint": "best", **pretrained,
            **(held_out_figures(best_net, held_out, device) if held_out else {}),
            "parameters": sum(p.numel() for p in net.parameters())}


def iterate(cfg: Config, game: Game, learner: Learner, best_net: nn.Module,
            players: SelfPlayPool | RaySelfPlay,
            run: Run, iteration: int, resign: Calibration, held_out: Any
            ) -> tuple[dict[str, Any], bool]:
    """One iteration: the best network's self-play games join the window, the learner trains
    on it, the gate (if any) decides, the strength is measured, the resignation threshold is
    calibrated for the next one. Returns the metrics row and whether the new network was
    accepted."""
    device = learner.device
    lr = cfg.lr_at(iteration)
    learner.set_lr(lr)
    t0 = time.perf_counter()  # self-play and training, one after the other or overlapping
    threshold = resign.threshold
    done = players.iteration(learner, best_net, iteration, threshold, cfg.train_steps,
                             run.guard)
    iteration_s = time.perf_counter() - t0
    stats = done.stats
    if cfg.save_games and game.record_format == "sgf":
        save_games(run.path / "games", game, iteration + 1, done.records)
    n = cfg.games_per_iteration
    row = {"iteration": iteration + 1, "games": (iteration + 1) * n, "positions": len(done.fresh),
           "window_positions": done.window_positions, **mean_losses(done.losses),
           "positions_per_s": len(done.fresh) / done.self_play_s,
           "self_play_s": done.self_play_s, "train_s": done.train_s,
           "iteration_s": iteration_s, "lr": lr,
           # self-play's own results: draws rise as play improves
           "first_player_wins": stats["first_player_wins"] / n, "draws": stats["draws"] / n,
           "game_length": stats["mean_length"], "resign_threshold": threshold,
           "resigned": stats["resigned"] / n, "played_out": stats["played_out"],
           # AlphaGo Zero's false positives: played-out games whose winner would have resigned
           "false_resign_rate": stats["false_resign"] / stats["played_out"]
           if stats["played_out"] else None,
           # the network's results against --opponent-engine, in its training games
           "opponent_games": stats["opponent_games"],
           "opponent_win_rate": stats["opponent_lost"] / stats["opponent_games"]
           if stats["opponent_games"] else None, **done.extra}
    accepted = True
    if cfg.gate_games:
        row["gate_score"] = gate(cfg, game, learner.net, best_net, device, iteration + 1)
        accepted = row["gate_score"] >= cfg.gate_threshold
    if accepted:
        best_net.load_state_dict(learner.net.state_dict())
    if held_out is not None:
        row.update(held_out_figures(best_net, held_out, device))
    if cfg.eval_every and (iteration + 1) % cfg.eval_every == 0:
        row.update(strength(cfg, game, best_net, device, iteration + 1))
    resign.update(stats["winner_lows"])
    return row, accepted


def plot(run: Run) -> None:
    """strength.png: the strength curve (win and loss rates per iteration) and the losses."""
    rows = read_metrics(run.path / "metrics.csv")
    vs = sorted({k.rsplit("_", 1)[0] for k in (rows[0] if rows else {}) if k.startswith("vs_")})
    panels = [tuple(f"{v}_win" for v in vs), tuple(f"{v}_loss" for v in vs),
              ("policy_loss", "value_loss", "ownership_loss", "score_loss"),
              ("first_player_wins", "draws"),
              ("move_accuracy",), ("held_out_value_loss",), ("positions_per_s",)]
    plot_learning_curve(run.path / "metrics.csv", run.path / "strength.png", panels,
                        title=f"{NAME} on {run.config.get('game')}: strength per iteration",
                        x="iteration")
