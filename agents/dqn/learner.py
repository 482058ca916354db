"""DQN's learner: the online and target networks, the optimiser and one gradient step, for
expected-value heads (DQN, Double DQN) and categorical ones (C51), with or without DrQ's
augmentation and noisy nets."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.dqn.config import Config
from agents.dqn.network import (
    build_network,
    categorical_loss,
    intensity_scale,
    project_distribution,
    q_targets,
    random_shift,
    td_loss,
)
from rl.backbones import load_encoder
from rl.precision import use_amp
from rl.replay import Batch
from rl.run import LossGuard


class Learner:
    """The networks, optimiser and one gradient step: everything the loop does not."""

    def __init__(self, cfg: Config, obs_shape: tuple[int, ...], n_actions: int, device: str):
        self.cfg, self.device = cfg, torch.device(device)
        self.q = build_network(cfg, obs_shape, n_actions)
        if cfg.init_encoder:
            load_encoder(self.q.backbone, Path(cfg.init_encoder))
        if cfg.freeze_encoder:
            self.q.backbone.freeze()
        self.q = self.q.to(self.device)
        self.channels_last = len(obs_shape) == 3
        if self.channels_last:  # oneDNN and cuDNN convolutions are faster in NHWC
            self.q = self.q.to(memory_format=torch.channels_last)
        # A target updated every step is the online network itself (DrQ(eps)): sharing it
        # saves a copy per step and, with Double DQN, one of the two next-state forwards.
        self.shared_target = cfg.target_update == 1 and cfg.tau >= 1.0
        # batch norm and dropout: statistics and masks only in the gradient step's forward pass;
        # acting, targets and evaluation see the network in eval mode (the target net always)
        self.target = self.q if self.shared_target else \
            copy.deepcopy(self.q).requires_grad_(False).eval()
        # fused Adam: one kernel for all parameters instead of a loop of small ops (~10% faster)
        trainable = [p for p in self.q.parameters() if p.requires_grad]
        self.opt = torch.optim.Adam(trainable, lr=cfg.lr, eps=cfg.adam_eps, fused=True)
        self.logits = torch.compile(self.q.logits) if cfg.compile else self.q.logits
        self.amp = use_amp(cfg.amp, self.device)
        self.pin = self.device.type == "cuda"
        self.aug_rng = np.random.default_rng([cfg.seed, 7])

    def to_device(self, array: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(array)
        if self.pin:
            t = t.pin_memory()
        t = t.to(self.device, non_blocking=True)
        if self.channels_last and t.dim() == 4:
            t = t.contiguous(memory_format=torch.channels_last)
        return t

    def eval_mode(self, noise: bool = False) -> None:
        """Acting and targets: batch norm and dropout off; noisy layers on only if asked."""
        self.q.eval()
        for layer in self.q.noisy:
            layer.train(noise)

    @torch.no_grad()
    def act(self, obs: np.ndarray, epsilon: float, rng: np.random.Generator,
            n_actions: int, noise: bool = False) -> np.ndarray:
        """Epsilon-greedy actions. `noise`: a training step of a noisy net, fresh noise."""
        explore = rng.random(len(obs)) < epsilon
        actions = rng.integers(n_actions, size=len(obs))
        # the network only sees the envs that act greedily: early on, most steps need no forward
        if not explore.all():
            self.eval_mode(noise and bool(self.q.noisy))
            if noise:
                self.q.reset_noise()
            greedy = ~explore
            q = self.q.q_values(self.logits(self.to_device(obs[greedy])))
            actions[greedy] = q.argmax(dim=1).cpu().numpy()
        return actions

    def augmented(self, frames: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A sampled batch on the device, shifted and scaled as --augment says."""
        if self.cfg.augment == "none" or frames.ndim != 4:
            return self.to_device(frames), None
        frames = random_shift(frames, self.aug_rng)
        scale = None
        if self.cfg.augment == "shift_intensity":
            scale = self.to_device(intensity_scale(len(frames), self.aug_rng))
        return self.to_device(frames), scale

    def update(self, batch: Batch, guard: LossGuard) -> tuple[float, float, np.ndarray] | None:
        """One gradient step; None if the guard skips a non-finite loss. Returns the loss, the
        mean Q of the batch and each sample's priority signal (|TD| or cross entropy)."""
        (obs, scale), (next_obs, next_scale) = self.augmented(batch.obs), \
            self.augmented(batch.next_obs)
        actions = torch.from_numpy(batch.actions).to(self.device)
        returns = torch.from_numpy(batch.returns).to(self.device)
        discounts = torch.from_numpy(batch.discounts).to(self.device)
        weights = torch.from_numpy(batch.weights).to(self.device)
        if self.q.noisy:
            self.q.reset_noise()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            with torch.no_grad():
                self.eval_mode()
                next_target = self.target.logits(next_obs, next_scale).float()
                next_online = None
                if self.cfg.double:
                    next_online = next_target if self.shared_target else \
                        self.logits(next_obs, next_scale).float()
                target = self.bootstrap(next_target, next_online, returns, discounts)
            self.q.train()
            logits = self.logits(obs, scale).float()
            if self.q.atoms == 1:
                loss, signal = td_loss(logits, actions, target, weights, self.cfg.loss)
                signal = signal.abs()
            else:
                chosen = logits[torch.arange(len(actions)), actions]
                loss, signal = categorical_loss(chosen, target, weights)
        if not guard.ok(loss):
            return None
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.max_grad_norm > 0:
            nn.utils.clip_grad_norm_(self.opt.param_groups[0]["params"], self.cfg.max_grad_norm)
        self.opt.step()
        q_mean = self.q.q_values(logits.detach()).mean().item()
        return loss.item(), q_mean, signal.cpu().numpy()

    def bootstrap(self, next_target: torch.Tensor, next_online: torch.Tensor | None,
                  returns: torch.Tensor, discounts: torch.Tensor) -> torch.Tensor:
        """The n-step target: a value per sample, or C51's projected distribution. The next
        action is the online net's choice (Double DQN) or the target net's."""
        q = self.q.q_values
        if self.q.atoms == 1:
            return q_targets(next_target, next_online, returns, discounts)
        chooser = q(next_online if next_online is not None else next_target)
        best = chooser.argmax(dim=1)
        probs = next_target[torch.arange(len(best)), best].softmax(-1)
        return project_distribution(probs, returns, discounts, self.q.support)

    def set_lr(self, lr: float) -> None:
        for group in self.opt.param_groups:
            group["lr"] = lr

    def sync_target(self) -> None:
        """Target <- online (Polyak at tau < 1); batch-norm statistics are copied as they are."""
        if self.shared_target:
            return
        with torch.no_grad():
            for t, s in zip(self.target.parameters(), self.q.parameters()):
                t.lerp_(s, self.cfg.tau)
            for t, s in zip(self.target.buffers(), self.q.buffers()):
                t.copy_(s)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.q.state_dict(), "target": self.target.state_dict(),
                "optimizer": self.opt.state_dict(), "aug_rng": self.aug_rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.q.load_state_dict(state["model"])
        if not self.shared_target:
            self.target.load_state_dict(state["target"])
        self.opt.load_state_dict(state["optimizer"])
        if "aug_rng" in state:
            self.aug_rng.bit_generator.state = state["aug_rng"]
