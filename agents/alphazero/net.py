"""The policy-value network (a shared backbone + heads) and its use as the search's evaluator."""
from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.alphazero.config import NAME, Config
from agents.arena.players import SearchPlayer
from envs.games import Game, load_game
from rl.backbones import make_backbone
from rl.config import saved_config
from rl.errors import UserError
from rl.files import check_checkpoint_meta, load_checkpoint
from rl.heads import PolicyValueHead
from rl.precision import bf16_pays, emulation_note
from rl.run import Run

CPU = torch.device("cpu")


class PolicyValueNet(nn.Module):
    """A shared backbone with policy, value (and for Go ownership) heads; illegal moves are
    masked by the caller. forward -> (logits, value), then for Go the ownership map and, with
    a score head, the score."""

    def __init__(self, backbone: nn.Module, num_actions: int, ownership: int = 0,
                 score: bool = False):
        super().__init__()
        self.backbone = backbone
        self.head = PolicyValueHead(backbone.out_features, num_actions, ownership=ownership,
                                    score=score)

    def forward(self, planes: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.head(self.backbone(planes))


def build_net(cfg: Config, game: Game) -> PolicyValueNet:
    return PolicyValueNet(make_backbone(cfg.backbone, game.obs_shape), game.num_actions,
                          game.ownership_size, score=cfg.score_weight > 0)


def network_meta(cfg: Config, game: Game) -> dict[str, Any]:
    return {"algo": NAME, "game": game.name, "backbone": cfg.backbone,
            "obs_shape": list(game.obs_shape), "num_actions": game.num_actions}


class NetEvaluator:
    """The network as an MCTS evaluator: one forward pass for a batch of positions (in
    bfloat16 with `bf16`: the search needs move preferences, not the last digits). A
    `prior_temperature` above 1 flattens the priors, below 1 sharpens them (lc0's
    PolicyTemperature): softmax(logits / T)."""

    def __init__(self, net: nn.Module, device: torch.device, bf16: bool = False,
                 prior_temperature: float = 1.0):
        self.net, self.device, self.bf16 = net, device, bf16
        self.prior_temperature = prior_temperature

    @torch.inference_mode()
    def __call__(self, planes: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.net.training:  # a learner switched it to training in between
            self.net.eval()  # (a walk over every module: not on each of a search's calls)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            logits, values = self.net(torch.from_numpy(planes).to(self.device))[:2]
        logits = logits.float() / self.prior_temperature
        logits = logits.masked_fill(~torch.from_numpy(masks).to(self.device), -math.inf)
        return torch.softmax(logits, 1).cpu().numpy(), values.float().cpu().numpy()


def load_network_into(net: PolicyValueNet, source: Path, game: Game, backbone: str) -> None:
    """--init-model: the whole network of a run directory (its best), a shipped agent or a
    checkpoint file, checked for the game and trunk; only a score head may be new here."""
    path = Run.open(source).checkpoint_path("best") if source.is_dir() else source
    state = load_checkpoint(path)
    check_checkpoint_meta(path, state.get("meta", {}), {"algo": NAME, "game": game.name,
                                                         "backbone": backbone})
    weights = state.get("best_model") or state.get("model")
    if weights is None:
        raise UserError(f"{path} holds no network")
    missing, unexpected = net.load_state_dict(weights, strict=False)
    wrong = unexpected + [k for k in missing if not k.startswith("head.score.")]
    if wrong:
        raise UserError(f"{path}: its network does not fit this one ({wrong[0]})")


def load_net(run: Run, which: str = "best") -> tuple[Config, Game, PolicyValueNet, dict]:
    """A saved agent, to play here: its bf16 search only where bf16 pays on this machine (an
    agent trained on an AMX CPU searches in fp32 on an AVX2 one, or on a Xeon without AMX)."""
    cfg = saved_config(Config, run.config)
    if cfg.search_bf16 and not bf16_pays(torch.device("cpu")):
        cfg = dataclasses.replace(cfg, search_bf16=False)
    game = load_game(cfg.game)
    net = build_net(cfg, game)
    state = run.load(which)
    check_checkpoint_meta(run.checkpoint_path(which), state["meta"],
                          {"algo": NAME, "game": game.name, "backbone": cfg.backbone})
    # best.pt and latest.pt both hold the accepted network as best_model
    net.load_state_dict(state["best_model"])
    net.eval()
    return cfg, game, net, state


def net_player(cfg: Config, game: Game, net: nn.Module, seed: int, *,
               simulations: int | None = None, device: torch.device = CPU,
               name: str = "agent", noise: bool = False, prior_temperature: float = 1.0
               ) -> SearchPlayer:
    """Our search guided by `net`, at `simulations` (default: the run's evaluation setting)."""
    evaluator = NetEvaluator(net, device, cfg.search_bf16, prior_temperature)
    return SearchPlayer(game, evaluator,
                        cfg.search_config(simulations or cfg.eval_simulations or None), seed, name,
                        noise)


def with_precision(cfg: Config, precision: str) -> Config:
    """The search in `precision` (auto: as loaded); an emulated one is run, with a note."""
    if precision == "auto":
        return cfg
    if note := emulation_note(precision, CPU):
        print(note, file=sys.stderr)
    return dataclasses.replace(cfg, search_bf16=precision == "bf16")


def agent_player(run_dir: Path, simulations: int | None, seed: int, name: str = "agent",
                 game: Game | None = None, precision: str = "auto") -> SearchPlayer:
    """The agent saved in a run directory (best.pt, else latest.pt) as a player; `game`
    replaces the run's own (another komi)."""
    run = Run.open(run_dir)
    if run.config.get("algo") != NAME:
        raise UserError(f"{run_dir} is a {run.config.get('algo')} run, not a self-play agent")
    which = "best" if run.has_checkpoint("best") else "latest"
    cfg, own_game, net, _ = load_net(run, which)
    cfg = with_precision(cfg, precision)
    if game is not None and game.name != own_game.name:
        raise UserError(f"{run_dir} plays {own_game.name}, not {game.name}")
    return net_player(cfg, game or own_game, net, seed, simulations=simulations, name=name)
