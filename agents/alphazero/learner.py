"""Learning from positions: self-play's and the experts' (AlphaGo's supervised stage).

Loss = policy cross-entropy to the targets (where policy_weight is 1) + value squared error to
the result + for Go `ownership` x the squared error of each point's predicted owner + `score`
x the Huber loss of the predicted final score (over the board's points) [+ `--policy-kl` x
the KL divergence from the supervised start's policy]. Every batch is drawn under random board
symmetries.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agents.alphazero.selfplay import Joined, Positions, positions_of
from envs.games import Game
from envs.records import GameRecord, ReadReport, read_records
from rl.files import load_checkpoint, save_checkpoint
from rl.run import LossGuard

Losses = tuple[float, float, float, float]  # policy, value, ownership, score
LOSSES = ("policy_loss", "value_loss", "ownership_loss", "score_loss")


@dataclass
class LossWeights:
    """The auxiliary targets' weights (policy and value weigh 1)."""

    ownership: float = 1.0
    score: float = 0.0


@dataclass
class PolicyAnchor:
    """A frozen network toward whose policy the learner is pulled on every position it trains
    on: `weight` x KL(anchor || learner). With the supervised start as anchor, self-play may
    move its policy only as far as the games pay for (the human-policy KL of AlphaStar;
    issue 24's "keep the start from being forgotten" on the positions self-play visits, where
    --expert-share keeps it on GNU Go's)."""

    net: nn.Module
    weight: float

    def loss(self, planes: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            self.net.eval()
            target = F.log_softmax(self.net(planes)[0].float(), 1)
        return self.weight * F.kl_div(F.log_softmax(logits.float(), 1), target,
                                      log_target=True, reduction="batchmean")


def augmented_batch(game: Game, data: Positions | Joined, idx: np.ndarray,
                    rng: np.random.Generator) -> Positions:
    """The positions at idx, each under a random symmetry of the board."""
    batch = data.take(idx)
    planes = batch.planes.astype(np.float32)
    policies, ownership = batch.policies.copy(), batch.ownership.copy()
    h, w = game.board
    which = rng.integers(len(game.symmetries), size=len(idx))
    for k in np.unique(which):
        sel, sym = which == k, game.symmetries[k]
        planes[sel], policies[sel] = sym(planes[sel], policies[sel])
        if ownership.shape[1]:
            ownership[sel] = sym.board(ownership[sel].reshape(-1, h, w)).reshape(-1, h * w)
    return Positions(planes, policies, batch.values, batch.policy_weight, ownership,
                     batch.scores, batch.value_weight)


def train_step(net: nn.Module, opt: torch.optim.Optimizer, guard: LossGuard, batch: Positions,
               device: torch.device, weights: LossWeights | None = None,
               policy_anchor: PolicyAnchor | None = None) -> Losses | None:
    """One update; None if the guard skips a non-finite loss. `policy_anchor`: the KL term's
    network."""
    weights = weights or LossWeights()
    planes, policies, values, weight, owners, scores, value_weight = (
        torch.from_numpy(np.ascontiguousarray(a)).to(device)
        for a in (batch.planes, batch.policies, batch.values, batch.policy_weight,
                  batch.ownership, batch.scores, batch.value_weight))
    net.train()
    out = net(planes)
    logits, v = out[0], out[1]
    per_position = -(policies * F.log_softmax(logits, 1)).sum(1)
    policy_loss = (per_position * weight).sum() / weight.sum().clamp(min=1.0)
    value_loss = (value_weight * (v - values).pow(2)).sum() / value_weight.sum().clamp(min=1.0)
    ownership_loss = torch.zeros((), device=device)
    if len(out) > 2 and owners.shape[1]:
        known = (owners != 0).any(1).float()  # all zeros: the game's end is not known
        per_point = (out[2] - owners.float()).pow(2).mean(1)
        ownership_loss = (per_point * known).sum() / known.sum().clamp(min=1.0)
    score_loss = torch.zeros((), device=device)
    if len(out) > 3:
        known = torch.isfinite(scores)  # NaN: the game's end is not known
        target = torch.where(known, scores, 0.0) / owners.shape[1]
        per_position = F.huber_loss(out[3].float(), target, reduction="none")
        score_loss = (per_position * known).sum() / known.sum().clamp(min=1)
    loss = (policy_loss + value_loss + weights.ownership * ownership_loss
            + weights.score * score_loss)
    if policy_anchor is not None:
        loss = loss + policy_anchor.loss(planes, logits)
    if not guard.ok(loss):
        return None
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return policy_loss.item(), value_loss.item(), ownership_loss.item(), score_loss.item()


def fit(net: nn.Module, opt: torch.optim.Optimizer, guard: LossGuard, game: Game,
        data: Positions | Joined, steps: int, batch_size: int, device: torch.device,
        rng: np.random.Generator, weights: LossWeights | None = None,
        policy_anchor: PolicyAnchor | None = None) -> list[Losses]:
    """`steps` updates on random positions of `data` under random board symmetries."""
    losses = []
    for _ in range(steps):
        batch = augmented_batch(game, data, rng.integers(len(data), size=batch_size), rng)
        result = train_step(net, opt, guard, batch, device, weights,
                            policy_anchor=policy_anchor)
        if result is not None:
            losses.append(result)
    return losses


def mean_losses(losses: list[Losses]) -> dict[str, float]:
    means = np.mean(losses, axis=0) if losses else [math.nan] * len(LOSSES)
    return {name: float(m) for name, m in zip(LOSSES, means)}


# -- the experts' games -------------------------------------------------------------------------

def expert_positions(game: Game, records: list[GameRecord]) -> tuple[Positions, np.ndarray]:
    """Each position of each game with the expert's move as a one-hot policy, the game's
    result for the side to move, the final owners (games played to the end), and the moves
    a player would consider there (for move accuracy)."""
    parts, candidates = [], []
    for record in records:
        state, states = game.new_state(), []
        for action in record.moves:
            states.append(state.clone())
            state.apply_action(action)
        if not states:
            continue
        planes, moves = game.inputs_many(states)  # a game's positions as one batch
        pi = np.zeros((len(states), game.num_actions), dtype=np.float32)
        pi[np.arange(len(states)), record.moves] = 1.0
        # random opening moves teach the value alone
        steps = [(planes[i], pi[i], s.current_player(), 0.0, i >= record.opening)
                 for i, s in enumerate(states)]
        candidates.append(moves | pi.astype(bool))  # the expert may fill an eye
        parts.append(positions_of(game, steps, state, np.array([record.result, -record.result])))
    return Positions.concat(parts), np.concatenate(candidates)


def split_records(path: Path, game: Game, seed: int
                  ) -> tuple[Positions, tuple[Positions, np.ndarray], ReadReport]:
    """Expert positions for training, and held-out ones (one game in ten, seeded)."""
    report = read_records(path, game)
    records = report.records
    order = np.random.default_rng([seed, 1]).permutation(len(records))
    held = max(len(records) // 10, 1)
    test = expert_positions(game, [records[i] for i in order[:held]])
    train = expert_positions(game, [records[i] for i in order[held:]])[0] \
        if len(records) > 1 else test[0]
    return train, test, report


def held_out_figures(net: nn.Module, held_out: tuple[Positions, np.ndarray],
                     device: torch.device, batch: int = 2048) -> dict[str, float]:
    """On the held-out experts' positions: how often the network's best candidate move is
    the expert's (AlphaGo: 57% on professional moves), and the value's squared error to the
    games' results (against a memorised training set, it stays high)."""
    data, candidates = held_out
    hits, squared = 0, 0.0
    with torch.inference_mode():
        net.eval()
        for i in range(0, len(data), batch):
            planes = torch.from_numpy(data.planes[i:i + batch].astype(np.float32)).to(device)
            out = net(planes)
            mask = torch.from_numpy(candidates[i:i + batch]).to(device)
            best = out[0].float().masked_fill(~mask, -math.inf).argmax(1).cpu().numpy()
            expert = data.policy_weight[i:i + batch] > 0  # random opening moves are not
            hits += int(((best == data.policies[i:i + batch].argmax(1)) & expert).sum())
            squared += float(((out[1].float().cpu().numpy() - data.values[i:i + batch]) ** 2)
                             .sum())
    return {"move_accuracy": hits / max(int((data.policy_weight > 0).sum()), 1),
            "held_out_value_loss": squared / max(len(data), 1)}


class Learner:
    """The self-play learner, as DQN's: the network being trained, its optimiser, the window of
    the last --window iterations' positions and the generator of its batches. Each
    iteration's positions are saved once, beside the checkpoints (DIR/window/iterNNNN.pt),
    and a checkpoint names the iterations its window holds instead of carrying them."""

    def __init__(self, net: nn.Module, opt: torch.optim.Optimizer, game: Game, window: int,
                 batch_size: int, weights: LossWeights, device: torch.device,
                 rng: np.random.Generator, folder: Path, writes: bool = True):
        self.net, self.opt, self.game, self.device, self.rng = net, opt, game, device, rng
        self.size, self.batch_size, self.weights = window, batch_size, weights
        self.folder, self.writes = folder, writes  # writes False: a run that only reads
        self.window: dict[int, Positions] = {}  # iteration -> its self-play positions
        self.anchor: Positions | None = None  # expert positions mixed into every batch
        self.anchor_share = 0.0
        self.selfplay_value_weight = 1.0  # of window files saved before positions had theirs
        self.policy_anchor: PolicyAnchor | None = None  # --policy-kl

    def set_lr(self, lr: float) -> None:
        for group in self.opt.param_groups:
            group["lr"] = lr

    def fit(self, data: Positions | Joined, steps: int, guard: LossGuard) -> list[Losses]:
        """`steps` updates on `data`, each batch with its `anchor_share` of expert positions
        when an anchor is set."""
        if self.anchor is None or not self.anchor_share:
            return fit(self.net, self.opt, guard, self.game, data, steps, self.batch_size,
                       self.device, self.rng, self.weights, self.policy_anchor)
        k = round(self.anchor_share * self.batch_size)
        losses = []
        for _ in range(steps):
            mixed = Positions.concat([
                data.take(self.rng.integers(len(data), size=self.batch_size - k)),
                self.anchor.take(self.rng.integers(len(self.anchor), size=k))])
            batch = augmented_batch(self.game, mixed, np.arange(len(mixed)), self.rng)
            result = train_step(self.net, self.opt, guard, batch, self.device, self.weights,
                                self.policy_anchor)
            if result is not None:
                losses.append(result)
        return losses

    def add(self, iteration: int, fresh: Positions) -> Positions:
        """An iteration's positions join the window (saved once); the oldest leave it."""
        if self.writes:
            save_checkpoint(self.folder / f"iter{iteration:04d}.pt",
                            {"meta": {"window_iteration": iteration}, **fresh.to_state()})
        self.window[iteration] = fresh
        for old in sorted(self.window)[:-self.size]:
            del self.window[old]
            # the file one older still belongs to the last checkpoint's window, until this
            # iteration's checkpoint replaces it: a kill in between must find it
            if self.writes:
                (self.folder / f"iter{old - 1:04d}.pt").unlink(missing_ok=True)
        return Positions.concat([self.window[i] for i in sorted(self.window)])

    def data_with(self, fresh: Positions) -> Joined:
        """The window as it will be once `fresh` joins it, nothing saved or copied: what an
        iteration whose games are still arriving trains on."""
        keep = sorted(self.window)[-(self.size - 1):] if self.size > 1 else []
        return Joined([*(self.window[i] for i in keep), fresh])

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.net.state_dict(), "optimizer": self.opt.state_dict(),
                "window_iterations": sorted(self.window), "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        if "window" in state:  # a checkpoint from before the window had files of its own
            last = state["iteration"]
            self.window = {last - len(state["window"]) + 1 + i: Positions.from_state(w)
                           for i, w in enumerate(state["window"])}
            return
        self.window = {i: Positions.from_state(load_checkpoint(self.folder / f"iter{i:04d}.pt"),
                                               self.selfplay_value_weight)
                       for i in state["window_iterations"]}
