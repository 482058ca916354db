"""Small output modules that sit on a backbone's features: agent or classifier = backbone + head."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class NoisyLinear(nn.Module):
    """Fortunato et al. 2018, factorised Gaussian noise: w = mu_w + sigma_w * (f(e_out) f(e_in)^T)
    with f(x) = sign(x) sqrt(|x|). Training mode uses the noise drawn by the last
    `reset_noise()`; eval mode uses the means alone, so evaluation is noise-free."""

    def __init__(self, in_features: int, out_features: int, sigma0: float = 0.5):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features)
        self.weight_mu = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound,
                                                                                      bound))
        self.bias_mu = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        self.weight_sigma = nn.Parameter(torch.full((out_features, in_features), sigma0 * bound))
        self.bias_sigma = nn.Parameter(torch.full((out_features,), sigma0 * bound))
        self.register_buffer("eps_in", torch.zeros(in_features), persistent=False)
        self.register_buffer("eps_out", torch.zeros(out_features), persistent=False)

    @staticmethod
    def _f(x: torch.Tensor) -> torch.Tensor:
        return x.sign() * x.abs().sqrt()

    def reset_noise(self) -> None:
        self.eps_in.copy_(self._f(torch.randn(self.in_features)))
        self.eps_out.copy_(self._f(torch.randn(self.out_features)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return F.linear(x, self.weight_mu, self.bias_mu)
        weight = self.weight_mu + self.weight_sigma * torch.outer(self.eps_out, self.eps_in)
        return F.linear(x, weight, self.bias_mu + self.bias_sigma * self.eps_out)


class QHead(nn.Module):
    """Action values; dueling (Wang et al. 2016) splits them into V(s) + A(s, a) - mean A.

    With atoms > 1 it gives each action a categorical return distribution instead (C51):
    [B, A, atoms] logits, dueling per atom as in Rainbow. `noisy` makes its layers
    NoisyLinear (noisy nets)."""

    def __init__(self, in_features: int, n_actions: int, dueling: bool = False, hidden: int = 0,
                 atoms: int = 1, noisy: bool = False, sigma0: float = 0.5):
        super().__init__()
        self.dueling, self.n_actions, self.atoms = dueling, n_actions, atoms
        linear = (lambda i, o: NoisyLinear(i, o, sigma0)) if noisy else nn.Linear

        def branch(out: int) -> nn.Module:
            if hidden:
                return nn.Sequential(linear(in_features, hidden), nn.ReLU(), linear(hidden, out))
            return linear(in_features, out)

        self.advantage = branch(n_actions * atoms)
        self.value = branch(atoms) if dueling else None

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        adv = self.advantage(features)
        if self.atoms > 1:
            adv = adv.view(-1, self.n_actions, self.atoms)
        if self.value is None:
            return adv
        value = self.value(features)
        value = value.view(-1, 1, self.atoms) if self.atoms > 1 else value
        return value + adv - adv.mean(dim=1, keepdim=True)


class ClassifierHead(nn.Module):
    def __init__(self, in_features: int, n_classes: int, dropout: float = 0.0):
        super().__init__()
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_features, n_classes))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)


class PolicyValueHead(nn.Module):
    """Move logits and a value in [-1, 1] from the side to move's point of view; for Go also
    each point's final owner in [-1, 1] (KataGo's ownership head: +1 the side to move's) and,
    with `score`, the final score for the side to move (KataGo's score mean, in board points
    over the number of points)."""

    def __init__(self, in_features: int, n_actions: int, hidden: int = 128, ownership: int = 0,
                 score: bool = False):
        super().__init__()
        self.policy = nn.Linear(in_features, n_actions)
        self.value = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(),
                                   nn.Linear(hidden, 1), nn.Tanh())
        self.ownership = nn.Sequential(nn.Linear(in_features, ownership), nn.Tanh()) \
            if ownership else None
        self.score = nn.Linear(in_features, 1) if ownership and score else None

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(logits, value), then the ownership map and the score where the head has them."""
        out = (self.policy(features), self.value(features).squeeze(-1))
        if self.ownership is not None:
            out = (*out, self.ownership(features))
        if self.score is not None:
            out = (*out, self.score(features).squeeze(-1))
        return out
