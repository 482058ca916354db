"""The Q-network (shared backbone + Q head) and the pieces of Rainbow it can switch on:
dueling streams, a categorical return distribution (C51), noisy layers; plus the targets and
losses of both kinds of head, and DrQ's augmentation of sampled frames."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agents.dqn.config import NAME, Config, dueling_head, encoder_name
from rl.backbones import make_backbone, xavier_init
from rl.heads import NoisyLinear, QHead


class QNetwork(nn.Module):
    """backbone + Q head; uint8 frames are scaled to [0, 1] on the device.

    `forward` gives action values [B, A]. With atoms > 1 the head predicts a categorical
    distribution of returns over `support` (C51): `logits` returns its [B, A, atoms] logits
    and `forward` their expectation, so acting and evaluation need not know which it is."""

    def __init__(self, backbone: nn.Module, n_actions: int, dueling: bool, atoms: int = 1,
                 v_max: float = 10.0, noisy: bool = False, sigma0: float = 0.5):
        super().__init__()
        self.backbone, self.atoms = backbone, atoms
        self.head = QHead(backbone.out_features, n_actions, dueling=dueling, atoms=atoms,
                          noisy=noisy, sigma0=sigma0)
        self.noisy = [m for m in self.head.modules() if isinstance(m, NoisyLinear)]
        self.register_buffer("support", torch.linspace(-v_max, v_max, atoms), persistent=False)

    def reset_noise(self) -> None:
        for layer in self.noisy:
            layer.reset_noise()

    def logits(self, obs: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        """The head's output: [B, A] values, or [B, A, atoms] logits. `scale` multiplies each
        sample's pixels (intensity augmentation)."""
        x = obs.float() / 255.0 if obs.dtype == torch.uint8 else obs.float()
        if scale is not None:
            x = x * scale
        return self.head(self.backbone(x))

    def q_values(self, logits: torch.Tensor) -> torch.Tensor:
        if self.atoms == 1:
            return logits
        return (logits.float().softmax(-1) * self.support).sum(-1)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.q_values(self.logits(obs))


def build_network(cfg: Config, obs_shape: tuple[int, ...], n_actions: int) -> QNetwork:
    q = QNetwork(make_backbone(encoder_name(cfg, obs_shape), obs_shape), n_actions,
                 dueling_head(cfg), atoms=cfg.atoms, v_max=cfg.v_max, noisy=cfg.noisy,
                 sigma0=cfg.noisy_sigma)
    if cfg.init == "xavier":
        xavier_init(q)
    return q


def network_meta(cfg: Config, obs_shape: tuple[int, ...], n_actions: int) -> dict:
    meta = {"algo": NAME, "env": cfg.env, "obs_shape": list(obs_shape), "n_actions": n_actions,
            "encoder": encoder_name(cfg, obs_shape), "dueling": dueling_head(cfg)}
    if cfg.atoms > 1 or cfg.noisy:  # older checkpoints, which have neither, keep loading
        meta.update(atoms=cfg.atoms, noisy=cfg.noisy)
    return meta


# -- targets and losses ----------------------------------------------------------------------
def q_targets(q_next_target: torch.Tensor, q_next_online: torch.Tensor | None,
              returns: torch.Tensor, discounts: torch.Tensor) -> torch.Tensor:
    """y = R + discount * Q_target(s', a*), a* = argmax of the online net (Double DQN) or
    of the target net (classic DQN, when q_next_online is None)."""
    chooser = q_next_online if q_next_online is not None else q_next_target
    best = chooser.argmax(dim=1, keepdim=True)
    return returns + discounts * q_next_target.gather(1, best).squeeze(1)


def td_loss(q: torch.Tensor, actions: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor,
            kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    q_sa = q.gather(1, actions[:, None]).squeeze(1)
    td = targets - q_sa
    per_sample = F.smooth_l1_loss(q_sa, targets, reduction="none") if kind == "huber" \
        else F.mse_loss(q_sa, targets, reduction="none")
    return (weights * per_sample).mean(), td.detach()


def project_distribution(probs: torch.Tensor, returns: torch.Tensor, discounts: torch.Tensor,
                         support: torch.Tensor) -> torch.Tensor:
    """C51's categorical projection (Bellemare et al. 2017, Algorithm 1): the distribution of
    R + discount * Z, Z ~ `probs` on `support`, moved back onto `support` by splitting each
    atom's mass between its two nearest neighbours. probs [B, K] -> [B, K]."""
    v_min, v_max, k = support[0], support[-1], support.numel()
    delta = (v_max - v_min) / (k - 1)
    tz = (returns[:, None] + discounts[:, None] * support[None, :]).clamp(v_min, v_max)
    b = (tz - v_min) / delta
    lower, upper = b.floor().long(), b.ceil().long()
    # an atom that lands exactly on a support point gives it all its mass
    lower_w = torch.where(upper == lower, torch.ones_like(b), upper.float() - b)
    upper_w = b - lower.float()
    out = torch.zeros_like(probs)
    out.scatter_add_(1, lower, probs * lower_w)
    out.scatter_add_(1, upper, probs * upper_w)
    return out


def categorical_loss(logits_sa: torch.Tensor, target: torch.Tensor,
                     weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy to the projected target; the per-sample loss is also the priority."""
    per_sample = -(target * logits_sa.float().log_softmax(-1)).sum(-1)
    return (weights * per_sample).mean(), per_sample.detach()


# -- augmentation ----------------------------------------------------------------------------
PAD = 4


def random_shift(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """DrQ's random shift on uint8 stacks [B, C, H, W]: replicate-pad 4 pixels, then crop a
    random HxW window per sample (the same shift for all frames of one stack). On uint8 in
    numpy it costs about a quarter of a millisecond for 32 Atari stacks."""
    b, _, h, w = frames.shape
    padded = np.pad(frames, ((0, 0), (0, 0), (PAD, PAD), (PAD, PAD)), mode="edge")
    dy, dx = rng.integers(0, 2 * PAD + 1, size=(2, b))
    out = np.empty_like(frames)
    for i in range(b):
        out[i] = padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
    return out


def intensity_scale(batch: int, rng: np.random.Generator) -> np.ndarray:
    """Dopamine's intensity augmentation (after Schwarzer et al. 2020): each sample's pixels
    are multiplied by 1 + 0.05 * clip(N(0, 1), -2, 2). Shape [B, 1, 1, 1]."""
    noise = np.clip(rng.standard_normal(batch), -2.0, 2.0)
    return (1.0 + 0.05 * noise).astype(np.float32).reshape(batch, 1, 1, 1)
