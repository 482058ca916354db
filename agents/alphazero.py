"""Self-play on board games: the AlphaGo recipe (supervised start from expert games, optional)
and AlphaZero's loop (search -> self-play games -> train the network that guides the search).

Each iteration: self-play workers play --games-per-iteration games with batched PUCT search
(agents/mcts.py) and the current network; the positions join a window of the last --window
iterations; the network trains on random board symmetries of them (policy: cross-entropy to
the search's visit counts; value: squared error to the game's result for the side to move);
with --gate-games the new network must beat the best one so far to replace it (AlphaGo
Zero), otherwise it replaces it at once (AlphaZero). A strength curve against fixed opponents
is written every --eval-every iterations.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agents.mcts import Node, SearchConfig, advance, choose, search
from agents.players import Player, SearchPlayer, make_opponent, play_match
from envs.games import Game, load_game, read_records, resolve_game
from rl.backbones import check_backbone, load_encoder, make_backbone
from rl.config import opt, saved_config
from rl.errors import UserError
from rl.heads import PolicyValueHead
from rl.plots import plot_learning_curve
from rl.progress import TrainingProgress
from rl.run import LossGuard, Run, RunOptions, check_checkpoint_meta
from rl.tracking import Trackers

NAME = "alphazero"
BASE_COLUMNS = ["iteration", "games", "positions", "window_positions", "policy_loss",
                "value_loss", "positions_per_s", "self_play_s", "train_s", "lr",
                "first_player_wins", "draws", "game_length", "gate_score", "move_accuracy"]


@dataclass
class Config:
    game: str = opt("tic_tac_toe", "tic_tac_toe, connect_four, go5 ... go9")
    seed: int = opt(0, "seed for networks, self-play and evaluation games", min=0)
    iterations: int = opt(30, "self-play -> train iterations", min=1, resumable=True)
    games_per_iteration: int = opt(64, "self-play games per iteration (played in parallel)", min=1)
    simulations: int = opt(50, "MCTS simulations per move", min=1)
    leaves_per_tree: int = opt(1, "leaves per tree per network call (virtual loss)", min=1)
    c_puct: float = opt(1.5, "exploration constant of PUCT", min=0.0)
    dirichlet_alpha: float = opt(10.0, "root noise concentration x legal moves (0.3 in chess "
                                 "~ 10/35)", min=0.0, min_exclusive=True)
    noise_eps: float = opt(0.25, "weight of the root noise", min=0.0, max=1.0)
    temperature_moves: int = opt(4, "moves sampled from visit counts before playing greedily", min=0)
    workers: int = opt(1, "self-play processes (1 = in this process)", min=1)
    window: int = opt(10, "iterations of games kept for training", min=1)
    backbone: str = opt("resnet-small", "trunk of the policy-value network (any shared backbone)")
    batch_size: int = opt(128, "positions per gradient step", min=1)
    train_steps: int = opt(100, "gradient steps per iteration", min=1)
    lr: float = opt(1e-3, "Adam learning rate", min=0.0, min_exclusive=True)
    lr_end: float = opt(1.0, "learning rate at the last iteration as a share of --lr (cosine "
                        "decay; 1 = constant)", min=0.0, max=1.0)
    value_target_q: float = opt(0.0, "share of the search's root value in the value target "
                                "(0: the game's result alone, as AlphaZero)", min=0.0, max=1.0)
    weight_decay: float = opt(1e-4, "L2 weight decay (AdamW)", min=0.0)
    gate_games: int = opt(0, "games new vs best to accept a network (0: always accept, AlphaZero)",
                          min=0)
    gate_threshold: float = opt(0.55, "score the new network needs in the gate", min=0.0, max=1.0)
    eval_every: int = opt(1, "iterations between strength evaluations (0 = never)", min=0)
    eval_games: int = opt(20, "games per fixed opponent in each evaluation", min=2)
    eval_opponents: str = opt("random,minimax", "comma-separated: random, minimax[:DEPTH], mcts:N")
    eval_simulations: int = opt(0, "agent simulations in evaluations (0: --simulations)", min=0)
    pretrain: str | None = opt(None, "expert game records to learn from before self-play (AlphaGo)")
    pretrain_epochs: int = opt(10, "passes over the expert positions", min=1)
    init_encoder: str | None = opt(None, "checkpoint whose backbone weights start the trunk")
    freeze_encoder: bool = opt(False, "train the heads only")
    threads: int = opt(0, "CPU threads for torch (0 = all cores)", min=0)

    def check(self) -> None:
        self.game = resolve_game(self.game)
        check_backbone(self.backbone)
        for spec in self.eval_opponents.split(","):
            if spec.strip() and spec.split(":")[0] not in ("random", "minimax", "mcts"):
                raise UserError(f"--eval-opponents: unknown opponent {spec!r} (random, minimax, "
                                "minimax:DEPTH, mcts:N)")
        if self.pretrain and not Path(self.pretrain).is_file():
            raise UserError(f"--pretrain: {self.pretrain} not found (make one with `rl games "
                            f"generate --game {self.game} --out FILE`)")
        if self.freeze_encoder and not self.init_encoder:
            raise UserError("--freeze-encoder needs --init-encoder CKPT")

    def run_name(self) -> str:
        return f"{NAME}-{self.game}"

    def lr_at(self, iteration: int) -> float:
        """Cosine from lr at iteration 0 to lr * lr_end at the last iteration."""
        progress = min(iteration / self.iterations, 1.0)
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        return self.lr * (self.lr_end + (1 - self.lr_end) * cosine)

    def search(self, simulations: int | None = None) -> SearchConfig:
        return SearchConfig(simulations or self.simulations, self.c_puct, self.dirichlet_alpha,
                            self.noise_eps, self.leaves_per_tree)


BOARD = {"backbone": "resnet-board", "leaves_per_tree": 4}
PRESETS = {  # per game: what fits the board and a 2-core CPU (a layer under YAML and flags)
    # measured on 2 cores: resnet-board + 4 leaves per call + 2 workers ~ 110 positions/s
    # 180 iterations took 85 minutes and won 89 of 100 games against MCTSBot-1000; a constant
    # rate and results-only value targets had flattened at 66 (experiments/results/alphazero.md)
    "connect_four": {**BOARD, "simulations": 100, "workers": 2, "temperature_moves": 10,
                     "games_per_iteration": 64, "train_steps": 100, "window": 10,
                     "iterations": 180, "lr_end": 0.1, "value_target_q": 0.5,
                     "eval_every": 10, "eval_games": 20,
                     "eval_simulations": 200, "eval_opponents": "random,minimax:4,mcts:200"},
    **{f"go{n}": {**BOARD, "temperature_moves": 8, "eval_every": 5,
                  "eval_opponents": "random,mcts:200"} for n in range(5, 10)},
}


def defaults_for(layers: dict[str, Any]) -> dict[str, Any]:
    return dict(PRESETS.get(resolve_game(layers.get("game", Config.game)), {}))


class PolicyValueNet(nn.Module):
    """A shared backbone with policy and value heads; illegal moves are masked by the caller."""

    def __init__(self, backbone: nn.Module, num_actions: int):
        super().__init__()
        self.backbone = backbone
        self.head = PolicyValueHead(backbone.out_features, num_actions)
        self.frozen_trunk = False

    def freeze_trunk(self) -> None:
        self.backbone.requires_grad_(False)
        self.frozen_trunk = True

    def train(self, mode: bool = True) -> PolicyValueNet:
        super().train(mode)
        if self.frozen_trunk:  # frozen means frozen: batch-norm statistics too
            self.backbone.eval()
        return self

    def forward(self, planes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.backbone(planes))


def build_net(cfg: Config, game: Game) -> PolicyValueNet:
    return PolicyValueNet(make_backbone(cfg.backbone, game.obs_shape), game.num_actions)


class NetEvaluator:
    """The network as an MCTS evaluator: one forward pass for a batch of positions."""

    def __init__(self, net: nn.Module, device: torch.device):
        self.net, self.device = net.eval(), device  # train_step() switches back to train mode

    @torch.inference_mode()
    def __call__(self, planes: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits, values = self.net(torch.from_numpy(planes).to(self.device))
        logits = logits.float().masked_fill(~torch.from_numpy(masks).to(self.device), -math.inf)
        return torch.softmax(logits, 1).cpu().numpy(), values.float().cpu().numpy()


# -- self-play --------------------------------------------------------------------------------

@dataclass
class Positions:
    """Training examples: planes (uint8 0/1), visit-count policies, results for the side to move."""

    planes: np.ndarray
    policies: np.ndarray
    values: np.ndarray

    @staticmethod
    def concat(parts: list[Positions]) -> Positions:
        return Positions(*(np.concatenate([getattr(p, k) for p in parts])
                           for k in ("planes", "policies", "values")))

    def __len__(self) -> int:
        return len(self.values)


def self_play(game: Game, evaluator: Any, search_cfg: SearchConfig, games: int,
              temperature_moves: int, rng: np.random.Generator,
              value_target_q: float = 0.0) -> tuple[Positions, dict[str, float]]:
    """Play `games` games at once, searching every live game's position in one batch. Each
    position's value target is the game's result for the side to move, mixed with the
    search's root value at weight `value_target_q`."""
    roots = [Node(game.new_state()) for _ in range(games)]
    records: list[list[tuple[np.ndarray, np.ndarray, int, float]]] = [[] for _ in range(games)]
    moves = np.zeros(games, dtype=int)
    while live := [i for i, r in enumerate(roots) if not r.terminal]:
        search(game, [roots[i] for i in live], evaluator, search_cfg, rng)
        for i in live:
            temperature = 1.0 if moves[i] < temperature_moves else 0.0
            action, policy = choose(roots[i], game.num_actions, temperature, rng)
            records[i].append((game.encode(roots[i].state), policy, roots[i].player,
                               roots[i].mean_value()))
            roots[i] = advance(roots[i], action)
            moves[i] += 1
    planes, policies, values = [], [], []
    outcome = {"first_player_wins": 0, "draws": 0}
    for root, record in zip(roots, records):
        returns = root.returns
        outcome["first_player_wins"] += returns[0] > 0
        outcome["draws"] += returns[0] == 0
        for p, pi, player, q in record:
            planes.append(p.astype(np.uint8))
            policies.append(pi)
            # the result for the side that was to move; the search's value at that position is
            # a less noisy estimate early in the game, where one result says little
            values.append((1 - value_target_q) * returns[player] + value_target_q * q)
    return (Positions(np.stack(planes), np.stack(policies), np.asarray(values, dtype=np.float32)),
            {**outcome, "mean_length": float(moves.mean())})


def _worker_play(args: tuple) -> tuple[Positions, dict[str, float]]:
    """Self-play in a worker process (torch.multiprocessing, spawn): rebuilt from plain data."""
    cfg_dict, state_dict, games, seed = args
    torch.set_num_threads(1)
    cfg = Config(**cfg_dict)
    game = load_game(cfg.game)
    net = build_net(cfg, game)
    net.load_state_dict(state_dict)
    return self_play(game, NetEvaluator(net, torch.device("cpu")), cfg.search(), games,
                     cfg.temperature_moves, np.random.default_rng(seed), cfg.value_target_q)


class SelfPlay:
    """Plays an iteration's games in this process or split over a pool of workers."""

    def __init__(self, cfg: Config, game: Game):
        self.cfg, self.game = cfg, game
        self.pool = None
        if cfg.workers > 1:
            import torch.multiprocessing as mp

            self.pool = mp.get_context("spawn").Pool(cfg.workers)

    def play(self, net: nn.Module, device: torch.device, iteration: int) -> tuple[Positions, dict]:
        cfg = self.cfg
        if self.pool is None:
            return self_play(self.game, NetEvaluator(net, device), cfg.search(),
                             cfg.games_per_iteration, cfg.temperature_moves,
                             np.random.default_rng([cfg.seed, iteration, 0]), cfg.value_target_q)
        from rl.config import to_dict

        state = {k: v.cpu() for k, v in net.state_dict().items()}
        shares = np.array_split(np.arange(cfg.games_per_iteration), cfg.workers)
        jobs = [(to_dict(cfg), state, len(s), [cfg.seed, iteration, w])
                for w, s in enumerate(shares) if len(s)]
        results = self.pool.map(_worker_play, jobs)
        stats = {k: sum(r[1][k] for r in results) for k in ("first_player_wins", "draws")}
        stats["mean_length"] = float(np.mean([r[1]["mean_length"] for r in results]))
        return Positions.concat([r[0] for r in results]), stats

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()


# -- training ---------------------------------------------------------------------------------

def augmented_batch(game: Game, data: Positions, idx: np.ndarray,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The positions at idx, each under a random symmetry of the board."""
    planes = data.planes[idx].astype(np.float32)
    policies = data.policies[idx].copy()
    which = rng.integers(len(game.symmetries), size=len(idx))
    for k in np.unique(which):
        sel = which == k
        planes[sel], policies[sel] = game.symmetries[k](planes[sel], policies[sel])
    return planes, policies, data.values[idx]


def train_step(net: nn.Module, opt_: torch.optim.Optimizer, guard: LossGuard,
               batch: tuple[np.ndarray, np.ndarray, np.ndarray],
               device: torch.device) -> tuple[float, float] | None:
    """Policy cross-entropy to the search's visit counts + value squared error to the result;
    None if the guard skips a non-finite loss."""
    planes, policies, values = (torch.from_numpy(a).to(device) for a in batch)
    net.train()
    logits, v = net(planes)
    policy_loss = -(policies * F.log_softmax(logits, 1)).sum(1).mean()
    value_loss = F.mse_loss(v, values)
    loss = policy_loss + value_loss
    if not guard.ok(loss):
        return None
    opt_.zero_grad(set_to_none=True)
    loss.backward()
    opt_.step()
    return policy_loss.item(), value_loss.item()


def move_accuracy(net: nn.Module, held_out: tuple[Positions, np.ndarray],
                  device: torch.device) -> float:
    """How often the network's best legal move is the expert's move (held-out positions)."""
    data, legal = held_out
    with torch.inference_mode():
        net.eval()
        logits, _ = net(torch.from_numpy(data.planes.astype(np.float32)).to(device))
    logits = logits.float().masked_fill(~torch.from_numpy(legal).to(device), -math.inf)
    return float((logits.argmax(1).cpu().numpy() == data.policies.argmax(1)).mean())


def expert_positions(game: Game, records: list[tuple[list[int], float]]) -> tuple[Positions, np.ndarray]:
    """Each position of each game, the expert's move as a one-hot policy, the result for the
    side to move, and the legal moves there."""
    planes, policies, values, legal = [], [], [], []
    for actions, first_result in records:
        state = game.new_state()
        for a in actions:
            planes.append(game.encode(state).astype(np.uint8))
            legal.append(game.legal_mask(state))
            pi = np.zeros(game.num_actions, dtype=np.float32)
            pi[a] = 1.0
            policies.append(pi)
            values.append(first_result if state.current_player() == 0 else -first_result)
            state.apply_action(a)
    return (Positions(np.stack(planes), np.stack(policies), np.asarray(values, dtype=np.float32)),
            np.stack(legal))


def split_records(cfg: Config, game: Game) -> tuple[Positions, tuple[Positions, np.ndarray], int]:
    """Expert positions for training, and held-out ones (every tenth game, seeded)."""
    records = read_records(Path(cfg.pretrain), game)
    order = np.random.default_rng([cfg.seed, 1]).permutation(len(records))
    held = max(len(records) // 10, 1)
    test = expert_positions(game, [records[i] for i in order[:held]])
    train, _ = expert_positions(game, [records[i] for i in order[held:]])
    return train, test, len(records)


def fit(net: nn.Module, opt_: torch.optim.Optimizer, guard: LossGuard, game: Game,
        data: Positions, steps: int, batch_size: int, device: torch.device,
        rng: np.random.Generator) -> list[tuple[float, float]]:
    """`steps` updates on random positions of `data` under random board symmetries."""
    losses = []
    for _ in range(steps):
        batch = augmented_batch(game, data, rng.integers(len(data), size=batch_size), rng)
        result = train_step(net, opt_, guard, batch, device)
        if result is not None:
            losses.append(result)
    return losses


def net_player(cfg: Config, game: Game, net: nn.Module, seed: int, *,
               simulations: int | None = None, device: torch.device = torch.device("cpu"),
               name: str = "agent", noise: bool = False) -> SearchPlayer:
    """Our search guided by `net`, at `simulations` (default: the run's evaluation setting)."""
    return SearchPlayer(game, NetEvaluator(net, device),
                        cfg.search(simulations or cfg.eval_simulations or None), seed, name, noise)


def opponents(cfg: Config) -> list[str]:
    return [s.strip() for s in cfg.eval_opponents.split(",") if s.strip()]


def column(spec: str) -> str:
    return "vs_" + spec.replace(":", "")


def strength(cfg: Config, game: Game, net: nn.Module, device: torch.device,
             iteration: int) -> dict[str, float]:
    """Win and loss rates against each fixed opponent, the agent first in half the games."""
    agent = net_player(cfg, game, net, cfg.seed + iteration, device=device)
    out = {}
    for spec in opponents(cfg):
        r = play_match(game, agent, make_opponent(spec, game, seed=cfg.seed + 7919 * iteration),
                       cfg.eval_games)
        out[f"{column(spec)}_win"] = r["wins"] / r["games"]
        out[f"{column(spec)}_loss"] = r["losses"] / r["games"]
    return out


def gate(cfg: Config, game: Game, new: nn.Module, best: nn.Module, device: torch.device,
         iteration: int) -> float:
    """The new network's score (wins + draws / 2) against the best, with root noise so that
    the games differ."""
    def player(net: nn.Module, seed: int) -> Player:
        return net_player(cfg, game, net, seed, simulations=cfg.simulations, device=device,
                          noise=True)

    base = cfg.seed + 100_000 + 2 * iteration
    r = play_match(game, player(new, base), player(best, base + 1), cfg.gate_games)
    return (r["wins"] + 0.5 * r["draws"]) / r["games"]


def train(cfg: Config, run: Run, opts: RunOptions, resume: bool) -> dict[str, Any]:
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device(opts.device)
    game = load_game(cfg.game)
    net = build_net(cfg, game).to(device)
    if cfg.init_encoder:
        load_encoder(net.backbone, Path(cfg.init_encoder))
    if cfg.freeze_encoder:
        net.freeze_trunk()
    params = [p for p in net.parameters() if p.requires_grad]
    opt_ = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    best_net = build_net(cfg, game).to(device)
    rng = np.random.default_rng([cfg.seed, 0])
    meta = {"algo": NAME, "game": game.name, "backbone": cfg.backbone,
            "obs_shape": list(game.obs_shape), "num_actions": game.num_actions}
    expert, held_out, n_records = (split_records(cfg, game) if cfg.pretrain else (None, None, 0))
    iteration, window, keep_rows, summary_extra = 0, [], None, {}
    resumed = resume and run.has_checkpoint()
    if resumed:
        state = run.load()
        check_checkpoint_meta(run.checkpoint_path(), state["meta"], meta)
        net.load_state_dict(state["model"])
        best_net.load_state_dict(state["best_model"])
        opt_.load_state_dict(state["optimizer"])
        iteration = state["iteration"]
        window = [Positions(w["planes"].numpy(), w["policies"].numpy(), w["values"].numpy())
                  for w in state["window"]]
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        summary_extra = state["pretrain"]
        keep_rows = state["meta"]["metrics_rows"]
    columns = BASE_COLUMNS + [f"{column(s)}_{k}" for s in opponents(cfg) for k in ("win", "loss")]
    metrics = run.open_metrics(columns, keep_rows=keep_rows)
    trackers = Trackers(run.path, run.config, tensorboard=opts.tensorboard, wandb=opts.wandb,
                        resume_step=iteration if resumed else None)
    bar = TrainingProgress(cfg.iterations, iteration, label=f"{NAME} {game.name}",
                           enabled=opts.progress, unit="iterations")
    run.stop.install()

    def checkpoint(best: bool) -> None:
        run.save({"meta": meta, "model": net.state_dict(), "best_model": best_net.state_dict(),
                  "optimizer": opt_.state_dict(), "iteration": iteration,
                  "window": [{"planes": torch.from_numpy(w.planes),
                              "policies": torch.from_numpy(w.policies),
                              "values": torch.from_numpy(w.values)} for w in window],
                  "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                  "pretrain": summary_extra}, best=best)

    def log(row: dict[str, Any]) -> None:
        metrics.write(row)
        trackers.log(iteration, row)
        plot(run)

    if not resumed:
        if cfg.pretrain:  # AlphaGo's supervised stage, then its strength as iteration 0
            t0 = time.perf_counter()
            # AlphaGo's first stage: the expert's moves and the games' results
            fit(net, opt_, run.guard, game, expert,
                cfg.pretrain_epochs * math.ceil(len(expert) / cfg.batch_size), cfg.batch_size,
                device, rng)
            summary_extra = {"pretrain_games": n_records, "pretrain_positions": len(expert),
                             "pretrain_move_accuracy": move_accuracy(net, held_out, device),
                             "pretrain_s": round(time.perf_counter() - t0, 1)}
        best_net.load_state_dict(net.state_dict())
        row = {"iteration": 0, "games": 0, "positions": 0}
        if held_out is not None:
            row["move_accuracy"] = summary_extra["pretrain_move_accuracy"]
        if cfg.eval_every:
            row.update(strength(cfg, game, net, device, 0))
        log(row)
        checkpoint(best=True)

    players = SelfPlay(cfg, game)
    games_played = iteration * cfg.games_per_iteration
    try:
        while iteration < cfg.iterations and not run.stop:
            t0 = time.perf_counter()
            fresh, stats = players.play(best_net, device, iteration)
            self_play_s = time.perf_counter() - t0
            window = (window + [fresh])[-cfg.window:]
            data = Positions.concat(window)
            t1 = time.perf_counter()
            lr = cfg.lr_at(iteration)
            for group in opt_.param_groups:
                group["lr"] = lr
            losses = fit(net, opt_, run.guard, game, data, cfg.train_steps, cfg.batch_size,
                         device, rng) or [(math.nan, math.nan)]
            train_s = time.perf_counter() - t1
            iteration += 1
            games_played += cfg.games_per_iteration
            row = {"iteration": iteration, "games": games_played, "positions": len(fresh),
                   "window_positions": len(data),
                   "policy_loss": float(np.mean([l[0] for l in losses])),
                   "value_loss": float(np.mean([l[1] for l in losses])),
                   "positions_per_s": len(fresh) / self_play_s, "self_play_s": self_play_s,
                   "train_s": train_s, "lr": lr,
                   # self-play's own results: draws rise as play improves
                   "first_player_wins": stats["first_player_wins"] / cfg.games_per_iteration,
                   "draws": stats["draws"] / cfg.games_per_iteration,
                   "game_length": stats["mean_length"]}
            accepted = True
            if cfg.gate_games:
                row["gate_score"] = gate(cfg, game, net, best_net, device, iteration)
                accepted = row["gate_score"] >= cfg.gate_threshold
            if accepted:
                best_net.load_state_dict(net.state_dict())
            if held_out is not None:
                row["move_accuracy"] = move_accuracy(best_net, held_out, device)
            if cfg.eval_every and iteration % cfg.eval_every == 0:
                row.update(strength(cfg, game, best_net, device, iteration))
            log(row)
            checkpoint(best=accepted)
            bar.update(iteration, force=True, loss=row["policy_loss"] + row["value_loss"],
                       pos_s=round(row["positions_per_s"]),
                       **{k: v for k, v in row.items() if k.endswith("_win")})
    finally:
        players.close()
        bar.close()
        trackers.close()
    if run.stop:
        return {}
    return {"algo": NAME, "game": game.name, "iterations": iteration, "games": games_played,
            **summary_extra,
            **({"move_accuracy": move_accuracy(best_net, held_out, device)} if held_out else {}),
            "parameters": sum(p.numel() for p in net.parameters())}


def plot(run: Run) -> None:
    """strength.png: the strength curve (win and loss rates per iteration) and the losses."""
    from rl.run import read_metrics

    rows = read_metrics(run.path / "metrics.csv")
    vs = sorted({k.rsplit("_", 1)[0] for k in (rows[0] if rows else {}) if k.startswith("vs_")})
    panels = [tuple(f"{v}_win" for v in vs), tuple(f"{v}_loss" for v in vs),
              ("policy_loss", "value_loss"), ("first_player_wins", "draws"), ("move_accuracy",),
              ("positions_per_s",)]
    plot_learning_curve(run.path / "metrics.csv", run.path / "strength.png", panels,
                        title=f"{NAME} on {run.config.get('game')}: strength per iteration",
                        x="iteration")


def load_net(run: Run, which: str = "best") -> tuple[Config, Game, PolicyValueNet, dict]:
    cfg = saved_config(Config, run.config)
    game = load_game(cfg.game)
    net = build_net(cfg, game)
    state = run.load(which)
    check_checkpoint_meta(run.checkpoint_path(which), state["meta"],
                          {"algo": NAME, "game": game.name, "backbone": cfg.backbone})
    # best.pt and latest.pt both hold the accepted network as best_model
    net.load_state_dict(state["best_model"])
    net.eval()
    return cfg, game, net, state


def agent_player(run_dir: Path, simulations: int | None, seed: int, name: str = "agent") -> SearchPlayer:
    run = Run.open(run_dir)
    if run.config.get("algo") != NAME:
        raise UserError(f"{run_dir} is a {run.config.get('algo')} run, not a self-play agent")
    which = "best" if run.has_checkpoint("best") else "latest"
    cfg, game, net, _ = load_net(run, which)
    return net_player(cfg, game, net, seed, simulations=simulations, name=name)


def evaluate(run: Run, args: Any) -> dict[str, Any]:
    """`rl eval DIR --opponent random|minimax[:D]|mcts:N|DIR2 --games N`: wins, draws and
    losses from the agent's side, alternating who moves first."""
    cfg, game, net, state = load_net(run, args.checkpoint)
    seed = cfg.seed + 50_000 if args.seed is None else args.seed
    agent = net_player(cfg, game, net, seed, simulations=args.simulations)
    spec = args.opponent or "random"
    opponent = make_opponent(spec, game, seed + 1,
                             load_agent=lambda d: _same_game(agent_player(d, None, seed + 2,
                                                                          str(d)), game))
    games = args.games or args.episodes
    result = play_match(game, agent, opponent, games)
    return {"algo": NAME, "game": game.name, "checkpoint": args.checkpoint,
            "iteration": state["iteration"], "opponent": spec,
            "simulations": agent.cfg.simulations, **result}


def _same_game(player: SearchPlayer, game: Game) -> SearchPlayer:
    if player.game.name != game.name:
        raise UserError(f"the opponent plays {player.game.name}, this agent {game.name}")
    return player


def record(run: Run, args: Any) -> dict[str, Any]:
    """`rl record DIR`: games of the saved agent (against itself, or --opponent) drawn one
    frame per move to GIF, named with the checkpoint, the seed and the result."""
    import imageio.v3 as imageio

    cfg, game, net, _ = load_net(run, args.checkpoint)
    seed = cfg.seed + 60_000 if args.seed is None else args.seed
    agent = net_player(cfg, game, net, seed)
    opponent = make_opponent(args.opponent, game, seed + 1) if args.opponent else agent
    files, results = [], []
    for i in range(args.episodes):
        players = (agent, opponent) if i % 2 == 0 else (opponent, agent)
        state = game.new_state()
        frames = [game.draw(state, f"{players[0].name} (red) vs {players[1].name}")]
        while not state.is_terminal():
            action = players[state.current_player()].choose([state])[0]
            title = f"move {len(frames)}: {game.action_name(state, action)}"
            state.apply_action(action)
            frames.append(game.draw(state, title))
        first = state.returns()[0]
        result = "first-wins" if first > 0 else "second-wins" if first < 0 else "draw"
        path = run.path / "videos" / (f"record-{Path(args.checkpoint).stem}-seed{seed}-"
                                      f"game{i}-{result}.gif")
        path.parent.mkdir(exist_ok=True)
        height = max(f.shape[0] for f in frames)
        width = max(f.shape[1] for f in frames)
        frames = [np.pad(f, ((0, height - f.shape[0]), (0, width - f.shape[1]), (0, 0)),
                         constant_values=255) for f in frames]
        # 0.7 s a move, 3 s on the final position; loop forever
        imageio.imwrite(path, np.stack(frames), duration=[700] * (len(frames) - 1) + [3000],
                        loop=0)
        files.append(str(path))
        results.append(result)
    return {"algo": NAME, "game": game.name, "checkpoint": args.checkpoint, "seed": seed,
            "opponent": args.opponent or "itself", "results": results, "files": files}
